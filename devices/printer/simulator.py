"""A thermal ESC/POS printer simulator: it prints what it is sent into pages (PNG + text) and has faults on demand.

Put it behind `devices.simio.PtyServer` (a serial printer) or `TcpServer` (a network printer on 9100),
or call `feed` directly. Faults, settable at any time from any thread:

- `paper_out`, `cover_open`: the printer has stopped; print data is dropped (counted in `dropped_bytes`)
  and status answers say so (DLE EOT 1 offline bit, DLE EOT 2 cover/paper bits, DLE EOT 4 paper end).
- `paper_near_end`: still prints; DLE EOT 4 and GS r 1 report it.
- `busy`: the printer answers nothing; bytes are held and printed when `busy` clears. Status requests
  that arrive while busy are never answered, not even late (a late answer would be taken for the answer
  to a later question).
- `garbage`: every status request is answered by a burst of 3-16 random bytes whose first byte has the
  high bit set, so it can never be read as a status byte.

Unplugging belongs to the link: `PtyServer.silent`, `TcpServer.refuse` / `drop_connections()`.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable
from pathlib import Path

from devices.errors import DeviceAddressError, DeviceUnavailable
from devices.printer.escpos_decode import EscposDecoder, PrintedPage, check_width, decode_escpos
from devices.simio import PtyServer, TcpServer
from devices.urls import parse_device_url

__all__ = [
    "PrintedPage", "PrinterPtyServer", "PrinterSimulator", "PrinterTcpServer", "decode_escpos", "serve_printer",
    "status_byte",
]  # fmt: skip

STATUS_FIXED = 0x12  # bits 1 and 4 are always set in a DLE EOT answer


def status_byte(n: int, *, paper_out: bool, paper_near_end: bool, cover_open: bool) -> int | None:
    """Return the answer to DLE EOT n for this printer state, or None when n asks for something we lack."""
    if n == 1:
        return STATUS_FIXED | (0x08 if paper_out or cover_open else 0)
    if n == 2:
        return STATUS_FIXED | (0x04 if cover_open else 0) | (0x20 if paper_out else 0)
    if n == 3:
        return STATUS_FIXED
    if n == 4:
        return STATUS_FIXED | (0x0C if paper_near_end else 0) | (0x60 if paper_out else 0)
    return None


class PrinterSimulator:
    """An ESC/POS printer: `feed(bytes)` prints and returns status answers; pages land in `.pages`."""

    def __init__(self, out_dir: Path | None = None, width_dots: int = 576) -> None:
        self.width_dots = check_width(width_dots)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self.pages: list[PrintedPage] = []
        self.received_bytes = 0
        self.paper_out = False
        self.paper_near_end = False
        self.cover_open = False
        self.garbage = False
        self._busy = False
        self._held = bytearray()
        self._decoder = EscposDecoder(self.width_dots)
        self._lock = threading.RLock()
        self._random = random.Random()
        self._next_number = 1

    @property
    def busy(self) -> bool:
        """Whether the printer is busy (answers nothing, holds what it gets)."""
        return self._busy

    @busy.setter
    def busy(self, value: bool) -> None:
        with self._lock:
            self._busy = bool(value)
            if not self._busy and self._held:
                held = bytes(self._held)
                self._held.clear()
                self._process(held)  # the answers to requests made while busy are never sent

    @property
    def current(self) -> PrintedPage:
        """The page being printed (not cut yet)."""
        with self._lock:
            return self._decoder.current_page()

    @property
    def dropped_bytes(self) -> int:
        """Bytes thrown away because the printer had stopped (paper out or cover open)."""
        return self._decoder.dropped_bytes

    def received(self, data: bytes, reply: Callable[[bytes], None]) -> None:
        """Handle bytes from the link (devices.simio); send the status answers back through `reply`."""
        answer = self.feed(data)
        if answer:
            reply(answer)

    def feed(self, data: bytes) -> bytes:
        """Print `data`; return the bytes the printer answers (status bytes), possibly none."""
        with self._lock:
            self.received_bytes += len(data)
            if self._busy:
                self._held += data
                return b""
            return self._process(bytes(data))

    def _process(self, data: bytes) -> bytes:
        self._decoder.offline = self.paper_out or self.cover_open
        asks = self._decoder.feed(data)
        new_pages = self._decoder.pages
        if new_pages:
            self._decoder.pages = []
            for page in new_pages:
                self._save(page)
            self.pages.extend(new_pages)
        return b"".join(self._answer(ask) for ask in asks)

    def _answer(self, ask: bytes) -> bytes:
        if ask[:2] == b"\x1dr":  # GS r: 1/49 paper sensors, 2/50 drawer
            if ask[2] in (1, 49):
                value = (0x03 if self.paper_near_end else 0) | (0x0C if self.paper_out else 0)
            elif ask[2] in (2, 50):
                value = 0
            else:
                return b""
        else:
            found = status_byte(
                ask[2], paper_out=self.paper_out, paper_near_end=self.paper_near_end, cover_open=self.cover_open
            )
            if found is None or len(ask) != 3:
                return b""
            value = found
        if self.garbage:
            burst = bytearray(self._random.randbytes(self._random.randint(3, 16)))
            burst[0] |= 0x80
            return bytes(burst)
        return bytes((value,))

    def _save(self, page: PrintedPage) -> None:
        """Write the page as NNNN.png and NNNN.txt in out_dir, at the first number whose files do not exist.

        The number is claimed with a hidden reservation file; the PNG and then the text are written under
        temporary names and renamed into place, so a page's .txt appears last and only when both are whole.
        """
        if self.out_dir is None:
            return
        while True:
            stem = f"{self._next_number:04d}"
            self._next_number += 1
            png, txt = self.out_dir / f"{stem}.png", self.out_dir / f"{stem}.txt"
            reserve = self.out_dir / f".{stem}.reserved"
            if png.exists() or txt.exists():
                continue
            try:
                reserve.open("x").close()
            except FileExistsError:
                continue
            if png.exists() or txt.exists():  # made by another writer before our reservation
                continue
            page.to_png(self.out_dir / f".{stem}.png.part")
            os.replace(self.out_dir / f".{stem}.png.part", png)
            part = self.out_dir / f".{stem}.txt.part"
            part.write_text(page.to_text(), encoding="utf-8")
            os.replace(part, txt)
            reserve.unlink()
            page.png_path, page.txt_path = png, txt
            return


class PrinterPtyServer(PtyServer):
    """A printer simulator behind a pseudo-terminal (`.path`)."""

    sim: PrinterSimulator


class PrinterTcpServer(TcpServer):
    """A printer simulator behind a TCP port (`.url`)."""

    sim: PrinterSimulator


def serve_printer(
    listen: str, out_dir: Path | None = None, width_dots: int = 576
) -> PrinterPtyServer | PrinterTcpServer:
    """Start a printer simulator on "pty" or "tcp://HOST:PORT" (port 0: any); the server's `.sim` is the printer."""
    sim = PrinterSimulator(out_dir, width_dots)
    server: PrinterPtyServer | PrinterTcpServer
    if listen == "pty":
        server = PrinterPtyServer(sim)
    else:
        url = parse_device_url(listen)
        if url.scheme != "tcp":
            raise DeviceAddressError(
                f"Không thể mở máy in mô phỏng tại {listen!r}: chỉ dùng được “pty” hoặc tcp://MÁY:CỔNG.",
                f"Cannot serve the printer simulator on {listen!r}: use “pty” or tcp://HOST:PORT.",
            )
        try:
            server = PrinterTcpServer(sim, url.host, url.port)
        except OSError as err:
            raise DeviceUnavailable(
                f"Không mở được cổng {url.host}:{url.port} cho máy in mô phỏng: {err.strerror or err}.",
                f"Cannot listen on {url.host}:{url.port} for the printer simulator: {err.strerror or err}.",
            ) from err
    server.start()
    return server
