"""Device addresses as URLs, the one form technicians type and settings store.

- `serial:///dev/ttyUSB0?baudrate=115200` (also `bytesize`, `parity`, `stopbits`, `timeout`)
- `tcp://HOST:9100`
- `usb://VID:PID` (hexadecimal, e.g. `usb://04b8:0202`)
- `file:///path/out.bin`
- `sim://printer`, `sim://terminal`, `sim://keypad` (the built-in simulators)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from devices.errors import DeviceAddressError

SCHEMES = ("serial", "tcp", "usb", "file", "sim")
_SERIAL_PARAMS = {"baudrate", "bytesize", "parity", "stopbits", "timeout"}


@dataclass(frozen=True)
class DeviceURL:
    """A parsed device address."""

    scheme: str
    path: str = ""  # serial device or file path; for sim:// the simulator's kind
    host: str = ""
    port: int = 0
    vendor_id: int = 0
    product_id: int = 0
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def __str__(self) -> str:
        return self.text

    def param_int(self, name: str, default: int) -> int:
        """Return an integer query parameter, or default; raise DeviceAddressError if it is not a number."""
        raw = self.params.get(name)
        if raw is None:
            return default
        if not raw.isdigit():
            raise _bad(self.text, f"tham số {name} phải là số", f"parameter {name} must be a number")
        return int(raw)


def _bad(text: str, vi: str, en: str) -> DeviceAddressError:
    return DeviceAddressError(
        f"Địa chỉ thiết bị “{text}” không dùng được: {vi}.", f"Device address “{text}” cannot be used: {en}."
    )


def parse_device_url(text: str) -> DeviceURL:
    """Parse a device URL; raise DeviceAddressError with a clear message when it is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise _bad(str(text), "địa chỉ trống", "the address is empty")
    text = text.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise _bad(
            text, f"kiểu phải là một trong {', '.join(SCHEMES)}", f"the scheme must be one of {', '.join(SCHEMES)}"
        )
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if scheme == "serial":
        if not parts.path or parts.netloc:
            raise _bad(
                text,
                "cần đường dẫn cổng, ví dụ serial:///dev/ttyUSB0",
                "a port path is needed, e.g. serial:///dev/ttyUSB0",
            )
        unknown = sorted(set(params) - _SERIAL_PARAMS)
        if unknown:
            raise _bad(text, f"tham số lạ {', '.join(unknown)}", f"unknown parameter {', '.join(unknown)}")
        url = DeviceURL(scheme, path=parts.path, params=params, text=text)
        for name in ("baudrate", "bytesize", "stopbits"):
            url.param_int(name, 0)
        return url
    if scheme == "tcp":
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise _bad(
                text,
                "cần máy và cổng, ví dụ tcp://192.168.1.50:9100",
                "host and port are needed, e.g. tcp://192.168.1.50:9100",
            )
        return DeviceURL(scheme, host=parts.hostname, port=port, params=params, text=text)
    if scheme == "usb":
        ids = parts.netloc.split(":")
        try:
            vendor, product = (int(i, 16) for i in ids)
        except ValueError:
            vendor = product = -1
        if len(ids) != 2 or not (0 < vendor <= 0xFFFF and 0 < product <= 0xFFFF):
            raise _bad(
                text,
                "cần mã hãng và mã sản phẩm dạng hex, ví dụ usb://04b8:0202",
                "VID:PID in hex is needed, e.g. usb://04b8:0202",
            )
        return DeviceURL(scheme, vendor_id=vendor, product_id=product, params=params, text=text)
    if scheme == "file":
        if not parts.path:
            raise _bad(
                text, "cần đường dẫn tệp, ví dụ file:///tmp/out.bin", "a file path is needed, e.g. file:///tmp/out.bin"
            )
        return DeviceURL(scheme, path=parts.path, params=params, text=text)
    kind = parts.netloc or parts.path.strip("/")
    if kind not in ("printer", "terminal", "keypad"):
        raise _bad(
            text,
            "trình mô phỏng phải là printer, terminal hoặc keypad",
            "the simulator must be printer, terminal or keypad",
        )
    return DeviceURL(scheme, path=kind, params=params, text=text)
