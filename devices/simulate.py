"""Run a device simulator where a driver can reach it: the engine of `motcua devices simulate`.

`start_simulator("printer" | "terminal" | "keypad", listen)` starts the kind's simulator behind a
pseudo-terminal (`listen="pty"`, the default) or, for the printer only, a TCP port
(`listen="tcp://HOST:PORT"`, like a network printer on 9100), and returns a `Running` whose `.url`
is the device URL a driver opens: `serial:///dev/pts/N?baudrate=…` or `tcp://127.0.0.1:PORT`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from devices.errors import DeviceAddressError, DeviceError, DeviceUnavailable
from devices.simio import PtyServer, Simulated, TcpServer
from devices.urls import parse_device_url

KINDS = ("printer", "terminal", "keypad")
# The baud rate written into a pty URL: what the real device of that kind usually runs at.
BAUDRATES = {"printer": 115200, "terminal": 9600, "keypad": 9600}
_NAMES = {
    "printer": ("máy in", "Printer"),
    "terminal": ("máy POS thẻ", "Card terminal"),
    "keypad": ("bàn phím đánh giá", "Rating keypad"),
}


@dataclass
class Running:
    """A simulator being served: `url` for the driver, `sim` to drive faults, `server` for the link."""

    kind: str
    url: str
    sim: Simulated
    server: PtyServer | TcpServer
    out_dir: Path | None = None  # where the printer simulator writes its pages
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop serving and free the port (the pty disappears, the TCP port can be bound again)."""
        if not self._stopped:
            self._stopped = True
            self.server.stop()

    def describe(self, lang: str = "vi") -> str:
        """Say in one line where the simulator listens (and, for the printer, where its pages go)."""
        vi, en = _NAMES[self.kind]
        if lang == "en":
            text = f"{en} simulator listening at {self.url}"
            return text + (f"; pages saved in {self.out_dir}" if self.out_dir else "")
        text = f"Trình mô phỏng {vi} đang nghe tại {self.url}"
        return text + (f"; trang in lưu tại {self.out_dir}" if self.out_dir else "")

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_listen(kind: str, listen: str) -> str:
    """Return "pty" or a tcp:// URL the kind can listen on; raise DeviceAddressError otherwise."""
    if listen == "pty":
        return listen
    if not isinstance(listen, str) or not listen.startswith("tcp://"):
        raise DeviceAddressError(
            f"Nơi nghe “{listen}” không dùng được: chỉ nhận “pty” hoặc tcp://MÁY:CỔNG.",
            f"Cannot listen at “{listen}”: only “pty” or tcp://HOST:PORT.",
        )
    parse_device_url(listen)
    if kind != "printer":
        vi, en = _NAMES[kind]
        raise DeviceAddressError(
            f"Trình mô phỏng {vi} chỉ chạy trên cổng nối tiếp giả (pty), không tại “{listen}”.",
            f"The {en.lower()} simulator only runs on a pseudo-terminal (pty), not at “{listen}”.",
        )
    return listen


def _url(kind: str, server: PtyServer | TcpServer) -> str:
    if isinstance(server, TcpServer):
        return server.url
    return f"serial://{server.path}?baudrate={BAUDRATES[kind]}"


def start_simulator(
    kind: str, listen: str | None = None, *, out_dir: Path | None = None, width_dots: int = 576
) -> Running:
    """Start the simulator of a device kind on a pty (default) or, for the printer, a TCP port."""
    if kind not in KINDS:
        raise DeviceError(
            f"Không có trình mô phỏng “{kind}”: chọn printer, terminal hoặc keypad.",
            f"There is no “{kind}” simulator: choose printer, terminal or keypad.",
            code="bad_parameter",
        )
    where = _check_listen(kind, "pty" if listen is None else listen)
    server: PtyServer | TcpServer
    try:
        if kind == "printer":
            from devices.printer.simulator import serve_printer

            out_dir = out_dir if out_dir is not None else Path(tempfile.mkdtemp(prefix="motcua-printer-"))
            server = serve_printer(where, out_dir, width_dots)
        elif kind == "terminal":
            from devices.terminal.simulator import serve_terminal

            server = serve_terminal(where)
        else:
            from devices.keypad.simulator import serve_keypad

            server = serve_keypad(where)
    except OSError as err:  # the TCP port is taken or not ours to bind, or no pty is left
        raise DeviceUnavailable(
            f"Không mở được nơi nghe “{where}” cho trình mô phỏng: {err}",
            f"Cannot listen at “{where}” for the simulator: {err}",
        ) from err
    return Running(kind, _url(kind, server), server.sim, server, out_dir if kind == "printer" else None)
