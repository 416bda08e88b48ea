"""Printers reached by URL: serial, TCP 9100, USB, a file, or the in-process simulator.

python-escpos is the transport layer (its `Serial`, `Network`, `Usb` and `File` classes open the
port and carry the bytes through `_raw`); reading the one-byte DLE EOT status answers goes to the
underlying pyserial port or socket, which python-escpos exposes as `.device`.

Serial ports open at 115200 baud unless the URL says `?baudrate=`, 8N1, no flow control
(rtscts and dsrdtr off: nothing here depends on modem lines). USB printers are written to but
their status is not read (`status()` is None), as for files.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import serial  # type: ignore[import-untyped]  # pyserial ships no type hints

from devices.errors import DeviceError, DeviceProtocolError, DeviceTimeout, DeviceUnavailable
from devices.printer.encode import encode_document, encode_status_query
from devices.printer.layout import Document
from devices.printer.profiles import PrinterProfile, get_profile
from devices.urls import DeviceURL, parse_device_url

if TYPE_CHECKING:
    from devices.printer.simulator import PrinterSimulator

DEFAULT_BAUDRATE = 115200
STATUS_MASK, STATUS_FIXED = 0x93, 0x12  # bits 1 and 4 set, bits 0 and 7 clear in every status byte


class PaperOutError(DeviceError):
    """The printer has no paper."""

    code = "printer_paper_out"


class CoverOpenError(DeviceError):
    """The printer's cover is open."""

    code = "printer_cover_open"


class PrinterOfflineError(DeviceError):
    """The printer says it is offline (an error it has not recovered from)."""

    code = "printer_offline"


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself."""

    online: bool
    paper_near_end: bool
    paper_out: bool
    cover_open: bool


def parse_status(printer: int, offline_cause: int, paper: int) -> PrinterStatus:
    """Build a status from the answers to DLE EOT 1, 2 and 4."""
    return PrinterStatus(
        online=not printer & 0x08,
        paper_near_end=bool(paper & 0x0C),
        paper_out=bool(paper & 0x60 or offline_cause & 0x20),
        cover_open=bool(offline_cause & 0x04),
    )


class Printer:
    """An open printer: `print_document`, `status`, `write`, `close`; a context manager."""

    def __init__(
        self,
        url: DeviceURL,
        profile: PrinterProfile,
        timeout: float,
        escpos_device: Any = None,
        simulator: PrinterSimulator | None = None,
    ) -> None:
        self.url = url
        self.profile = profile
        self.timeout = timeout
        self.simulator = simulator
        self._escpos = escpos_device
        self._replies = bytearray()  # answers of the in-process simulator
        self._closed = False
        self._stalled = False

    # -- raw bytes -----------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send bytes to the printer; DeviceTimeout when it stalls, DeviceUnavailable when it is gone."""
        if self._closed:
            raise self._unavailable("đã đóng kết nối", "the connection is closed")
        if self.simulator is not None:
            self._replies += self.simulator.feed(bytes(data))
            return
        try:
            self._escpos._raw(bytes(data))
        except (serial.SerialTimeoutException, TimeoutError) as err:
            self._stalled = True
            raise DeviceTimeout(
                f"Máy in {self.url} không nhận dữ liệu trong {self.timeout:g} giây (kẹt hoặc bận).",
                f"Printer {self.url} did not take data within {self.timeout:g} s (stalled or busy).",
            ) from err
        except (serial.SerialException, OSError) as err:
            raise self._unavailable(str(err), str(err)) from err

    def _read_byte(self, timeout: float) -> int | None:
        """Return one byte the printer sent, or None when nothing came within timeout."""
        if self.simulator is not None:
            if not self._replies:
                return None
            value = self._replies[0]
            del self._replies[0]
            return value
        device = self._escpos.device
        try:
            if isinstance(device, serial.Serial):
                device.timeout = timeout
                data = device.read(1)
            else:
                device.settimeout(timeout)
                try:
                    data = device.recv(1)
                finally:
                    device.settimeout(self.timeout)
                if not data:
                    raise self._unavailable("máy in đã đóng kết nối", "the printer closed the connection")
        except TimeoutError:
            return None
        except (serial.SerialException, OSError) as err:
            raise self._unavailable(str(err), str(err)) from err
        return data[0] if data else None

    def _drain(self) -> None:
        """Throw away whatever the printer sent unasked (late or garbage answers)."""
        if self.simulator is not None:
            self._replies.clear()
            return
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and self._read_byte(0.05) is not None:
            pass

    # -- status --------------------------------------------------------------------------------

    @property
    def can_read_status(self) -> bool:
        """Whether this printer's status can be asked (profile and transport allow it)."""
        return self.profile.status_query and self.url.scheme in ("serial", "tcp", "sim")

    def status(self) -> PrinterStatus | None:
        """Ask the printer's status (DLE EOT 1, 2, 4); None where the transport cannot read it."""
        if not self.can_read_status:
            return None
        self._drain()
        answers = []
        for n in (1, 2, 4):
            self.write(encode_status_query(n))
            value = self._read_byte(self.timeout)
            if value is None:
                raise DeviceTimeout(
                    f"Máy in {self.url} không trả lời câu hỏi trạng thái (mất kết nối, tắt hoặc đang bận).",
                    f"Printer {self.url} did not answer the status request (unplugged, off or busy).",
                )
            if value & STATUS_MASK != STATUS_FIXED:
                self._drain()
                raise DeviceProtocolError(
                    f"Máy in {self.url} trả lời trạng thái bằng dữ liệu hỏng (0x{value:02X}); "
                    "kiểm tra cáp và tốc độ cổng.",
                    f"Printer {self.url} answered the status request with garbage (0x{value:02X}); "
                    "check the cable and the baud rate.",
                )
            answers.append(value)
        return parse_status(*answers)

    def check_ready(self) -> PrinterStatus | None:
        """Ask the status and raise PaperOutError, CoverOpenError or PrinterOfflineError when it cannot print."""
        state = self.status()
        if state is None:
            return None
        if state.paper_out:
            raise PaperOutError(
                "Máy in hết giấy. Thay giấy rồi bấm In lại.", "The printer is out of paper. Load paper and print again."
            )
        if state.cover_open:
            raise CoverOpenError(
                "Nắp máy in đang mở. Đóng nắp rồi bấm In lại.", "The printer cover is open. Close it and print again."
            )
        if not state.online:
            raise PrinterOfflineError(
                "Máy in đang báo lỗi (ngoại tuyến). Kiểm tra máy in rồi bấm In lại.",
                "The printer is offline. Check it and print again.",
            )
        return state

    # -- documents -----------------------------------------------------------------------------

    def print_document(self, doc: Document) -> int:
        """Check the status where possible, then print the document; return the bytes sent."""
        data = encode_document(doc, self.profile)
        self.check_ready()
        self.write(data)
        return len(data)

    def close(self) -> None:
        """Close the connection (after a stalled write, the bytes still queued are dropped, not waited for)."""
        if self._closed:
            return
        self._closed = True
        if self._escpos is None:
            return
        device = getattr(self._escpos, "_device", None)
        if self._stalled and isinstance(device, serial.Serial):
            with contextlib.suppress(serial.SerialException, OSError):
                device.reset_output_buffer()  # else close() would wait for the stalled bytes forever
        with contextlib.suppress(Exception):  # closing a broken link must not hide the first error
            self._escpos.close()

    def _unavailable(self, vi: str, en: str) -> DeviceUnavailable:
        return DeviceUnavailable(
            f"Không kết nối được máy in {self.url}: {vi}.", f"Cannot reach printer {self.url}: {en}."
        )

    def __enter__(self) -> Printer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_escpos(url: DeviceURL, timeout: float) -> Any:
    """Open the python-escpos object for a URL; raise DeviceUnavailable when the device is not there."""
    # imported here: python-escpos is slow to import; it ships no type hints
    from escpos import printer as escpos_printer  # type: ignore[import-untyped]

    if url.scheme == "serial":
        baudrate = url.param_int("baudrate", DEFAULT_BAUDRATE)
        dev = escpos_printer.Serial(url.path, baudrate=baudrate, timeout=timeout, dsrdtr=False)
        if not os.path.exists(url.path):
            raise _missing(url, "không có cổng này", "no such port")
    elif url.scheme == "tcp":
        dev = escpos_printer.Network(url.host, port=url.port, timeout=timeout)
    elif url.scheme == "file":
        dev = escpos_printer.File(url.path)
    else:
        if not escpos_printer.Usb.is_usable():
            raise DeviceUnavailable(
                "Không in qua USB được: thiếu thư viện pyusb (cài gói pyusb và libusb).",
                "Cannot print over USB: the pyusb library is missing (install pyusb and libusb).",
            )
        dev = escpos_printer.Usb(url.vendor_id, url.product_id, timeout=int(timeout * 1000))
    try:
        if url.scheme == "tcp":
            # connected here: python-escpos's Network.open leaks the socket when the connect fails
            dev.device = socket.create_connection((url.host, url.port), timeout=timeout)
        else:
            dev.open()
    except Exception as err:  # python-escpos wraps every open failure in its own exception types
        raise _missing(url, str(err).splitlines()[-1].strip(), str(err).splitlines()[-1].strip()) from err
    if url.scheme == "serial":
        dev.device.write_timeout = timeout
    return dev


def _missing(url: DeviceURL, vi: str, en: str) -> DeviceUnavailable:
    return DeviceUnavailable(f"Không mở được máy in {url}: {vi}.", f"Cannot open printer {url}: {en}.")


def open_printer(url: str, profile: str = "generic-80", timeout: float = 5.0) -> Printer:
    """Open the printer at a device URL with a profile; raise DeviceError with a clear message when it cannot."""
    parsed = parse_device_url(url)
    chosen = get_profile(profile)
    if not timeout > 0:
        raise DeviceError(f"Thời gian chờ {timeout} phải lớn hơn 0.", f"Timeout {timeout} must be positive.")
    if parsed.scheme == "sim":
        if parsed.path != "printer":
            raise _missing(parsed, "đây không phải trình mô phỏng máy in", "this is not the printer simulator")
        from devices.printer.simulator import PrinterSimulator

        out = parsed.params.get("out")
        sim = PrinterSimulator(Path(out) if out else None, width_dots=chosen.width_dots)
        return Printer(parsed, chosen, timeout, simulator=sim)
    return Printer(parsed, chosen, timeout, escpos_device=_open_escpos(parsed, timeout))


__all__ = [
    "DEFAULT_BAUDRATE",
    "CoverOpenError",
    "PaperOutError",
    "Printer",
    "PrinterOfflineError",
    "PrinterStatus",
    "open_printer",
    "parse_status",
]
