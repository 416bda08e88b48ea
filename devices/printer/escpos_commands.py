"""The ESC/POS command set as the printer simulator reads it: command lengths and payload parsers.

- `command_length(buf, i)`: the full length of the command at buf[i] (ESC, GS, FS or DLE), from a
  table of fixed lengths and the length fields of the variable ones; raises `NeedMore` when the
  command is not complete yet and `BadCommand` (with how many bytes to skip) when it is not one.
- `decode_text`: text bytes in a code page by Epson's ESC t number (`CODE_PAGES`, `TCVN_PAGES`).
- `raster_image`, `column_image`, `qr_image`: the pictures GS v 0 / GS ( L, ESC * and GS ( k print.
- `barcode_name`, `check_width`.

The decoder itself (what each command does to the page) is `devices.printer.escpos_decode`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import qrcode
import qrcode.constants
from PIL import Image

from devices.errors import DeviceError

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
LF, CR, HT, NUL = 0x0A, 0x0D, 0x09, 0x00
WHITE = 255
MAX_COMMAND_BYTES = 8 * 1024 * 1024  # a bigger length field is garbage, not an image
QR_LEVELS = {
    48: qrcode.constants.ERROR_CORRECT_L,
    49: qrcode.constants.ERROR_CORRECT_M,
    50: qrcode.constants.ERROR_CORRECT_Q,
    51: qrcode.constants.ERROR_CORRECT_H,
}
# Epson's ESC t numbers for the code pages Python can decode (TCVN-3 comes from python-escpos's table).
CODE_PAGES = {
    0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 13: "cp857", 14: "cp737", 15: "iso8859_7",
    16: "cp1252", 17: "cp866", 18: "cp852", 19: "cp858", 21: "cp874", 32: "cp720", 33: "cp775", 34: "cp855",
    35: "cp861", 36: "cp862", 37: "cp864", 38: "cp869", 39: "iso8859_2", 40: "iso8859_15", 44: "cp1125",
    45: "cp1250", 46: "cp1251", 47: "cp1253", 48: "cp1254", 49: "cp1255", 50: "cp1256", 51: "cp1257",
    52: "cp1258", 53: "kz1048",
}  # fmt: skip
TCVN_PAGES = {30: "TCVN-3-1", 31: "TCVN-3-2"}
_BARCODES = ["UPC-A", "UPC-E", "EAN13", "EAN8", "CODE39", "ITF", "CODABAR", "CODE93", "CODE128", "GS1-128"]

# Commands whose length is fixed: the bytes that name them -> total length.
_FIXED = {
    b"\x1b@": 2, b"\x1b!": 3, b"\x1b ": 3, b"\x1b$": 4, b"\x1b%": 3, b"\x1b-": 3, b"\x1b2": 2, b"\x1b3": 3,
    b"\x1bA": 3, b"\x1b+": 3, b"\x1b=": 3, b"\x1b?": 3, b"\x1bE": 3, b"\x1bG": 3, b"\x1bJ": 3, b"\x1bK": 3,
    b"\x1bL": 2, b"\x1bM": 3, b"\x1bR": 3, b"\x1bS": 2, b"\x1bT": 3, b"\x1bU": 3, b"\x1bV": 3, b"\x1bW": 10,
    b"\x1b\\": 4, b"\x1ba": 3, b"\x1bc": 4, b"\x1bd": 3, b"\x1be": 3, b"\x1bi": 2, b"\x1bm": 2, b"\x1bp": 5,
    b"\x1br": 3, b"\x1bt": 3, b"\x1bu": 3, b"\x1bv": 2, b"\x1b{": 3, b"\x1bB": 4, b"\x1b\x0c": 2,
    b"\x1d!": 3, b"\x1d$": 4, b"\x1d/": 3, b"\x1d:": 2, b"\x1dB": 3, b"\x1dH": 3, b"\x1dI": 3, b"\x1dL": 4,
    b"\x1dP": 4, b"\x1dT": 3, b"\x1dW": 4, b"\x1d\\": 4, b"\x1d^": 5, b"\x1da": 3, b"\x1db": 3, b"\x1df": 3,
    b"\x1dg": 6, b"\x1dh": 3, b"\x1dr": 3, b"\x1dw": 3, b"\x1d|": 3, b"\x1dz": 5,
    b"\x1c!": 3, b"\x1c&": 2, b"\x1c-": 3, b"\x1c.": 2, b"\x1cC": 3, b"\x1cS": 4, b"\x1cW": 3, b"\x1cp": 4,
    b"\x10\x05": 3,
}  # fmt: skip

_HEADERS = {b"\x1b(": 5, b"\x1d(": 5, b"\x1c(": 5, b"\x1b*": 5, b"\x1dv": 8, b"\x1d8": 7, b"\x1d*": 4, b"\x1cq": 3}


class NeedMore(Exception):
    """The command is not complete yet: wait for more bytes."""


class BadCommand(Exception):
    """The bytes at this position are not a command we know; `skip` bytes are dropped to resynchronise."""

    def __init__(self, reason: str, skip: int = 2) -> None:
        super().__init__(reason)
        self.skip = skip


def _at(buf: bytes | bytearray, i: int) -> int:
    if i >= len(buf):
        raise NeedMore
    return buf[i]


def _word(buf: bytes | bytearray, i: int, size: int = 2) -> int:
    return sum(_at(buf, i + k) << (8 * k) for k in range(size))


def command_length(buf: bytes | bytearray, i: int) -> int:
    """Return the length of the command starting at buf[i] (ESC, GS, FS or DLE); raise NeedMore or BadCommand."""
    key = bytes((buf[i], _at(buf, i + 1)))
    if key in _FIXED:
        return _FIXED[key]
    length = _variable_length(buf, i, key)
    if length > MAX_COMMAND_BYTES:  # skip the header only: what follows is read as new commands
        raise BadCommand(f"{length} bytes announced by {_name(key)}: too many", _HEADERS.get(key, 2))
    return length


def _variable_length(buf: bytes | bytearray, i: int, key: bytes) -> int:
    if key in (b"\x1b(", b"\x1d(", b"\x1c("):
        return 5 + _word(buf, i + 3)
    if key == b"\x1b*":
        mode = _at(buf, i + 2)
        if mode not in (0, 1, 32, 33):
            raise BadCommand(f"ESC * with mode {mode}", 3)
        return 5 + _word(buf, i + 3) * (3 if mode & 32 else 1)
    if key == b"\x1bD":  # tab positions up to 32, ended by NUL
        for k in range(32):
            if _at(buf, i + 2 + k) == NUL:
                return 3 + k
        return 34
    if key == b"\x1b&":
        return _user_chars_length(buf, i)
    if key == b"\x1dV":
        mode = _at(buf, i + 2)
        if mode in (0, 1, 48, 49):
            return 3
        if mode in (65, 66, 97, 98, 103, 104):
            return 4
        raise BadCommand(f"GS V with mode {mode}", 3)
    if key == b"\x1dk":
        return _barcode_length(buf, i)
    if key == b"\x1dv":
        if _at(buf, i + 2) != 0x30:
            raise BadCommand("GS v not followed by 0")
        return 8 + _word(buf, i + 4) * _word(buf, i + 6)
    if key == b"\x1d8":
        if _at(buf, i + 2) != ord("L"):
            raise BadCommand("GS 8 not followed by L")
        return 7 + _word(buf, i + 3, 4)
    if key == b"\x1d*":
        return 4 + _at(buf, i + 2) * _at(buf, i + 3) * 8
    if key == b"\x1cq":
        return _nv_images_length(buf, i)
    if key == b"\x10\x04":
        return 4 if _at(buf, i + 2) in (7, 8) else 3
    if key == b"\x10\x14":
        return {7: 4, 8: 10}.get(_at(buf, i + 2), 5)
    raise BadCommand(f"unknown command {_name(key)}")


def _user_chars_length(buf: bytes | bytearray, i: int) -> int:
    rows, first, last = _at(buf, i + 2), _at(buf, i + 3), _at(buf, i + 4)
    if last < first:
        raise BadCommand(f"ESC & with character range {first}..{last}", 5)
    pos = i + 5
    for _ in range(last - first + 1):
        pos += 1 + _at(buf, pos) * rows
    return pos - i


def _barcode_length(buf: bytes | bytearray, i: int) -> int:
    kind = _at(buf, i + 2)
    if kind <= 6:  # data ended by NUL
        for k in range(256):
            if _at(buf, i + 3 + k) == NUL:
                return 4 + k
        raise BadCommand("GS k barcode data without its NUL", 3)
    if 65 <= kind <= 79:
        return 4 + _at(buf, i + 3)
    raise BadCommand(f"GS k with barcode type {kind}", 3)


def _nv_images_length(buf: bytes | bytearray, i: int) -> int:
    pos = i + 3
    for _ in range(_at(buf, i + 2)):
        pos += 4 + _word(buf, pos) * _word(buf, pos + 2) * 8
    return pos - i


def _name(key: bytes) -> str:
    prefix = {ESC: "ESC", GS: "GS", FS: "FS", DLE: "DLE"}[key[0]]
    second = chr(key[1]) if 0x21 <= key[1] < 0x7F else f"0x{key[1]:02X}"
    return f"{prefix} {second}"


@lru_cache(maxsize=2)
def _tcvn_table(name: str) -> dict[int, str]:
    """Return the upper half (0x80-0xFF) of a TCVN-3 code page, from python-escpos's printer database."""
    data = json.loads(resources.files("escpos").joinpath("capabilities.json").read_text("utf-8"))
    rows: list[str] = data["encodings"][name]["data"]
    table = {0x80 + k: ch for k, ch in enumerate("".join(rows)) if ch != " "}
    return {code: "Đ" if ch == "Ð" else ch for code, ch in table.items()}  # the database has ETH for D-stroke


def decode_text(data: bytes, page: int) -> str:
    """Decode text bytes printed with code page `page` (Epson's ESC t number)."""
    if page in TCVN_PAGES:
        table = _tcvn_table(TCVN_PAGES[page])
        return "".join(chr(b) if b < 0x80 else table.get(b, "\ufffd") for b in data)
    return data.decode(CODE_PAGES.get(page, "cp437"), errors="replace")


def raster_image(width_bytes: int, rows: int, data: bytes, scale_x: int = 1, scale_y: int = 1) -> Image.Image:
    """Return the image of raster data (rows of `width_bytes` bytes, MSB = leftmost dot, 1 = black)."""
    image = Image.frombytes("1", (width_bytes * 8, rows), data, "raw", "1;I")
    if scale_x > 1 or scale_y > 1:
        image = image.resize((image.width * scale_x, image.height * scale_y), Image.Resampling.NEAREST)
    return image


def column_image(mode: int, columns: int, data: bytes) -> Image.Image:
    """Return the image of ESC * column data (each column 8 or 24 dots, MSB on top)."""
    per_col = 3 if mode & 32 else 1
    dots = per_col * 8
    pixels = [
        0 if data[c * per_col + r // 8] >> (7 - r % 8) & 1 else WHITE for r in range(dots) for c in range(columns)
    ]
    image = Image.new("1", (columns, dots), WHITE)
    image.putdata(pixels)
    scale_x = 2 if mode in (0, 32) else 1  # single density: dots twice as wide
    scale_y = 3 if mode in (0, 1) else 1  # 8-dot modes: dots three times as tall
    if scale_x > 1 or scale_y > 1:
        image = image.resize((columns * scale_x, dots * scale_y), Image.Resampling.NEAREST)
    return image


def qr_image(payload: bytes, module: int, level: int) -> Image.Image:
    """Return the QR symbol of `payload` as the printer draws it: `module` dots a module, no quiet zone."""
    code = qrcode.QRCode(error_correction=level, box_size=module, border=0)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    image = Image.new("1", (size, size), WHITE)
    image.putdata([0 if cell else WHITE for row in matrix for cell in row])
    return image.resize((size * module, size * module), Image.Resampling.NEAREST)


def barcode_name(kind: int) -> str:
    """Return the name of a GS k barcode type (function A 0-6 or function B 65-78)."""
    index = kind - 65 if kind >= 65 else kind
    return _BARCODES[index] if index < len(_BARCODES) else f"type {kind}"


def check_width(width_dots: int) -> int:
    """Return the paper width in dots if it is one a printer can have, else raise DeviceError."""
    if isinstance(width_dots, bool) or not isinstance(width_dots, int) or not 64 <= width_dots <= 4096:
        raise DeviceError(
            f"Độ rộng giấy không hợp lệ: {width_dots!r} điểm (phải là số nguyên từ 64 đến 4096).",
            f"Bad paper width: {width_dots!r} dots (must be a whole number from 64 to 4096).",
            code="bad_parameter",
        )
    return width_dots
