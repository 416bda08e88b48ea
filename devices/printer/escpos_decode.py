"""Decode an ESC/POS byte stream into printed pages: a picture of the paper, text lines, QR payloads, cuts.

The decoder is incremental (`EscposDecoder.feed` takes bytes as they arrive and keeps an unfinished
command until the rest comes), so a stream cut anywhere decodes the same as in one piece. Every command
is consumed with its real length; an unknown or broken one is written down in the page's `errors` and
the decoder carries on after it, as a printer would.

What is drawn: text in text mode (rendered with DejaVu Sans, font A cells 24 dots high, font B 17, sizes
from GS ! / ESC !, bold, underline, reverse), GS v 0 raster images, GS ( L / GS 8 L graphics, ESC * column
images, native QR codes (GS ( k, drawn with `qrcode` at the module size, no quiet zone, printed at once
after any pending line, as barcodes are), barcodes as an outlined box of the barcode's height. Lines,
rasters, QR codes and barcodes are placed by the alignment (ESC a) in force when they are printed. Lines
wider than the paper are clipped, not wrapped. Code pages (ESC t n) follow Epson's numbering: 0 is PC437
(the default), 16 WPC1252, 30/31 TCVN-3 (Vietnamese), 52 Windows-1258 (Vietnamese).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import qrcode
import qrcode.constants
import qrcode.exceptions
from PIL import Image, ImageDraw, ImageFont, ImageOps

from devices.printer.escpos_commands import (
    CODE_PAGES,
    CR,
    DLE,
    ESC,
    FS,
    GS,
    HT,
    LF,
    MAX_COMMAND_BYTES,
    NUL,
    QR_LEVELS,
    TCVN_PAGES,
    WHITE,
    BadCommand,
    NeedMore,
    barcode_name,
    check_width,
    column_image,
    command_length,
    decode_text,
    qr_image,
    raster_image,
)

__all__ = [
    "CODE_PAGES", "MAX_COMMAND_BYTES", "TCVN_PAGES", "BadCommand", "EscposDecoder", "NeedMore", "PrintedPage",
    "barcode_name", "check_width", "column_image", "command_length", "decode_escpos", "decode_text", "qr_image",
    "raster_image", "render_text",
]  # fmt: skip

DEFAULT_LINE_DOTS = 30
_FONT_FILES = (
    Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf",
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
)


@dataclass
class PrintedPage:
    """One page of paper: what was drawn (`image`, black = printed dot), text lines, QR payloads, cut."""

    image: Image.Image
    text: list[str] = field(default_factory=list)
    qr: list[str] = field(default_factory=list)
    cut: bool = False
    errors: list[str] = field(default_factory=list)
    png_path: Path | None = None
    txt_path: Path | None = None

    def to_png(self, path: Path) -> Path:
        """Save the page's picture as a PNG (an empty page is saved as one white row)."""
        image = self.image if self.image.height else Image.new("1", (self.image.width, 1), WHITE)
        image.save(path, format="PNG")
        return path

    def to_text(self) -> str:
        """Return the page as text: its text lines, then one "[QR] payload" line per QR code."""
        lines = [*self.text, *(f"[QR] {payload}" for payload in self.qr)]
        return "".join(line + "\n" for line in lines)


@dataclass(frozen=True)
class _Style:
    font_b: bool = False
    bold: bool = False
    underline: int = 0
    width: int = 1
    height: int = 1
    reverse: bool = False


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONT_FILES:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def render_text(text: str, style: _Style) -> Image.Image:
    """Draw a run of text in one style; return a mode "1" image (cell height times the height factor)."""
    cell = 17 if style.font_b else 24
    font = _font(round(cell * 0.8))
    stroke = 1 if style.bold else 0
    width = max(1, round(font.getlength(text)) + 2 * stroke)
    canvas = Image.new("L", (width, cell), WHITE)
    draw = ImageDraw.Draw(canvas)
    draw.text((stroke, round(cell * 0.78)), text, font=font, fill=0, anchor="ls", stroke_width=stroke, stroke_fill=0)
    if style.underline:
        draw.rectangle((0, cell - style.underline, width - 1, cell - 1), fill=0)
    if style.reverse:
        canvas = ImageOps.invert(canvas)
    if style.width > 1 or style.height > 1:
        canvas = canvas.resize((width * style.width, cell * style.height), Image.Resampling.NEAREST)
    return canvas.point(lambda v: WHITE if v >= 128 else 0, mode="1")


Segment = tuple[str, _Style] | Image.Image


class EscposDecoder:
    """Turn ESC/POS bytes into pages, incrementally.

    `feed` returns the commands that want an answer (DLE EOT n, GS r n) for the caller to answer.
    While `offline` is true every other byte is dropped (counted in `dropped_bytes`), as on a printer
    that has stopped for lack of paper or an open cover.
    """

    def __init__(self, width_dots: int = 576) -> None:
        self.width = check_width(width_dots)
        self.pages: list[PrintedPage] = []
        self.offline = False
        self.dropped_bytes = 0
        self._buf = bytearray()
        self._offset = 0  # stream position of _buf[0]
        self._reset_modes()
        self._new_page()

    def _reset_modes(self) -> None:
        self._style = _Style()
        self._align = 0
        self._spacing = DEFAULT_LINE_DOTS
        self._code_page = 0
        self._qr_module = 3
        self._qr_level = qrcode.constants.ERROR_CORRECT_L
        self._qr_data: bytes | None = None
        self._graphics: Image.Image | None = None
        self._bar_height = 162
        self._bar_module = 3
        self._line: list[Segment] = []

    def _new_page(self) -> None:
        self._bands: list[Image.Image] = []
        self._height = 0
        self._text: list[str] = []
        self._qr: list[str] = []
        self._errors: list[str] = []

    # -- the byte loop ------------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[bytes]:
        """Decode the next bytes of the stream; return the commands that ask for an answer, in order."""
        asks: list[bytes] = []
        buf = self._buf
        buf += data
        i = 0
        while i < len(buf):
            byte = buf[i]
            if byte in (ESC, GS, FS, DLE):
                try:
                    length = command_length(buf, i)
                except NeedMore:
                    break
                except BadCommand as err:
                    self._error(self._offset + i, str(err))
                    i += err.skip
                    continue
                if i + length > len(buf):
                    break
                self._command(bytes(buf[i : i + length]), self._offset + i, asks)
                i += length
            elif byte >= 0x20:
                end = i
                while end < len(buf) and buf[end] >= 0x20:
                    end += 1
                self._printable(bytes(buf[i:end]))
                i = end
            else:
                self._control(byte, self._offset + i)
                i += 1
        del buf[:i]
        self._offset += i
        return asks

    def finish(self) -> list[PrintedPage]:
        """End of the stream: note what was left unfinished; return all pages, the uncut last one included."""
        if self._buf:
            self._error(self._offset, f"the stream ends inside a command ({len(self._buf)} bytes never completed)")
            self._offset += len(self._buf)
            self._buf.clear()
        if self._line:
            self._error(self._offset, "the last line was never printed (no LF after it)")
        current = self.current_page()
        return [*self.pages, current] if self._has_content() else list(self.pages)

    def current_page(self) -> PrintedPage:
        """Return the page being printed, as printed so far (not cut)."""
        return PrintedPage(self._compose(), list(self._text), list(self._qr), False, list(self._errors))

    def _has_content(self) -> bool:
        return bool(self._height or self._text or self._qr or self._errors)

    def _error(self, offset: int, message: str) -> None:
        self._errors.append(f"byte {offset}: {message}")

    # -- commands -----------------------------------------------------------------------------------

    def _command(self, cmd: bytes, offset: int, asks: list[bytes]) -> None:
        key = cmd[:2]
        if key in (b"\x10\x04", b"\x1dr"):
            asks.append(cmd)
            return
        if cmd[0] == DLE:
            return  # other real-time requests (DLE ENQ, DLE DC4) change nothing on paper
        if self.offline:
            self.dropped_bytes += len(cmd)
            return
        handler = _HANDLERS.get(key)
        if handler is not None:
            handler(self, cmd, offset)

    def _printable(self, data: bytes) -> None:
        if self.offline:
            self.dropped_bytes += len(data)
            return
        self._add_text(decode_text(data, self._code_page))

    def _control(self, byte: int, offset: int) -> None:
        if byte in (NUL, CR, 0x07, 0x0C, 0x18):
            return  # padding, carriage return, bell, form feed and cancel leave standard-mode paper alone
        if self.offline:
            self.dropped_bytes += 1
        elif byte == LF:
            self._print_line(self._spacing, blank_is_text=True)
        elif byte == HT:
            column = sum(len(seg[0]) for seg in self._line if isinstance(seg, tuple))
            self._add_text(" " * (8 - column % 8))
        else:
            self._error(offset, f"control byte 0x{byte:02X} is not a command")

    def _add_text(self, text: str) -> None:
        last = self._line[-1] if self._line else None
        if isinstance(last, tuple) and last[1] == self._style:
            self._line[-1] = (last[0] + text, last[1])
        else:
            self._line.append((text, self._style))

    # -- paper --------------------------------------------------------------------------------------

    def _print_line(self, min_height: int, blank_is_text: bool = False) -> None:
        """Print the line buffer (bottoms aligned) in a band at least `min_height` dots high."""
        visible = self.width // 4  # no glyph is narrower than 4 dots: the rest would be clipped anyway
        images = [render_text(seg[0][:visible], seg[1]) if isinstance(seg, tuple) else seg for seg in self._line]
        texts = [seg[0] for seg in self._line if isinstance(seg, tuple)]
        if texts or (blank_is_text and not self._line):
            self._text.append(unicodedata.normalize("NFC", "".join(texts)))
        self._line = []
        height = max((image.height for image in images), default=0)
        band = Image.new("1", (self.width, max(height, min_height)), WHITE)
        x = self._x_for(sum(image.width for image in images))
        for image in images:
            band.paste(image, (x, height - image.height))
            x += image.width
        self._add_band(band)

    def _x_for(self, width: int) -> int:
        free = self.width - width
        if free <= 0 or self._align == 0:
            return 0
        return free // 2 if self._align == 1 else free

    def _place(self, image: Image.Image, offset: int) -> None:
        """Print an image on its own (raster, graphics, barcode) at the current alignment."""
        if self._line:
            self._print_line(0)
        if image.width > self.width:
            self._error(offset, f"image {image.width} dots wide on {self.width}-dot paper: clipped")
        band = Image.new("1", (self.width, image.height), WHITE)
        band.paste(image, (self._x_for(image.width), 0))
        self._add_band(band)

    def _add_band(self, band: Image.Image) -> None:
        if band.height:
            self._bands.append(band)
            self._height += band.height

    def _feed(self, dots: int) -> None:
        self._add_band(Image.new("1", (self.width, dots), WHITE))

    def _compose(self) -> Image.Image:
        page = Image.new("1", (self.width, self._height), WHITE)
        y = 0
        for band in self._bands:
            page.paste(band, (0, y))
            y += band.height
        return page

    def _cut(self, feed: int) -> None:
        if self._line:
            self._print_line(self._spacing)
        self._feed(feed)
        self.pages.append(PrintedPage(self._compose(), self._text, self._qr, True, self._errors))
        self._new_page()


# -- what each command does (commands not listed are consumed and change nothing we draw) ------------

Handler = Callable[[EscposDecoder, bytes, int], None]


def _init(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    dec._reset_modes()  # ESC @ also throws away the line not printed yet


def _print_mode(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    n = cmd[2]
    dec._style = replace(
        dec._style, font_b=bool(n & 1), bold=bool(n & 8), height=2 if n & 16 else 1, width=2 if n & 32 else 1,
        underline=1 if n & 128 else 0,
    )  # fmt: skip


def _bold(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    dec._style = replace(dec._style, bold=bool(cmd[2] & 1))


def _underline(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    dec._style = replace(dec._style, underline=cmd[2] & 3 if cmd[2] in (0, 1, 2, 48, 49, 50) else 0)


def _font_select(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    dec._style = replace(dec._style, font_b=cmd[2] in (1, 49))


def _size(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    width, height = (cmd[2] >> 4) + 1, (cmd[2] & 15) + 1
    if width > 8 or height > 8:
        dec._error(offset, f"GS ! with size 0x{cmd[2]:02X}: each factor must be 1 to 8")
        return
    dec._style = replace(dec._style, width=width, height=height)


def _reverse(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    dec._style = replace(dec._style, reverse=bool(cmd[2] & 1))


def _align(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    if cmd[2] not in (0, 1, 2, 48, 49, 50):
        dec._error(offset, f"ESC a with alignment {cmd[2]}")
        return
    dec._align = cmd[2] & 3


def _code_page(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    if cmd[2] not in CODE_PAGES and cmd[2] not in TCVN_PAGES:
        dec._error(offset, f"ESC t {cmd[2]}: code page not known, text decoded as PC437")
        dec._code_page = 0
        return
    dec._code_page = cmd[2]


def _spacing(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    if cmd[1] == ord("2"):
        dec._spacing = DEFAULT_LINE_DOTS
    elif cmd[1] == ord("3"):
        dec._spacing = cmd[2]
    elif cmd[1] == ord("A"):  # 1/60 inch on printers that have it
        dec._spacing = cmd[2] * 203 // 60
    else:  # ESC + : 1/360 inch
        dec._spacing = cmd[2] * 203 // 360


def _feed_dots(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    if dec._line:
        dec._print_line(0)
    dec._feed(cmd[2])


def _feed_lines(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    lines = cmd[2]
    if dec._line and lines:
        dec._print_line(dec._spacing)
        lines -= 1
    elif dec._line:
        dec._print_line(0)
    dec._feed(lines * dec._spacing)


def _cut(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    dec._cut(cmd[3] if len(cmd) == 4 else 0)


def _raster(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    mode = cmd[3]
    if mode not in (0, 1, 2, 3, 48, 49, 50, 51):
        dec._error(offset, f"GS v 0 with mode {mode}")
        return
    width_bytes, rows = cmd[4] | cmd[5] << 8, cmd[6] | cmd[7] << 8
    if width_bytes and rows:
        dec._place(raster_image(width_bytes, rows, cmd[8:], 1 + (mode & 1), 1 + (mode >> 1 & 1)), offset)


def _column_image(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    columns = cmd[3] | cmd[4] << 8
    if columns:
        dec._line.append(column_image(cmd[2], columns, cmd[5:]))


def _graphics(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    body = cmd[5:] if cmd[1] == ord("(") else cmd[7:]  # GS ( L pL pH m fn … or GS 8 L p1 p2 p3 p4 m fn …
    if len(body) < 2:
        dec._error(offset, "graphics command too short")
        return
    fn, params = body[1], body[2:]
    if fn == 112:
        if len(params) < 8:
            dec._error(offset, "graphics data without its header")
            return
        scale_x, scale_y = params[1], params[2]
        width, rows, data = params[4] | params[5] << 8, params[6] | params[7] << 8, params[8:]
        if scale_x not in (1, 2) or scale_y not in (1, 2) or len(data) != (width + 7) // 8 * rows or not rows:
            dec._error(offset, f"graphics of {width}x{rows} dots with {len(data)} data bytes or a bad scale")
            return
        image = raster_image((width + 7) // 8, rows, data, scale_x, scale_y)
        dec._graphics = image.crop((0, 0, width * scale_x, image.height))
    elif fn in (2, 50):
        if dec._graphics is None:
            dec._error(offset, "print graphics with no graphics stored")
            return
        dec._place(dec._graphics, offset)


def _symbol(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    if len(cmd) < 8 or cmd[5] != 49:  # cn 49 is QR; other 2D symbols are consumed, not drawn
        return
    fn, arg = cmd[6], cmd[7]
    if fn == 67:
        if not 1 <= arg <= 16:
            dec._error(offset, f"QR module size {arg}: must be 1 to 16")
            return
        dec._qr_module = arg
    elif fn == 69:
        if arg not in QR_LEVELS:
            dec._error(offset, f"QR error level {arg}: must be 48 to 51")
            return
        dec._qr_level = QR_LEVELS[arg]
    elif fn == 80:
        dec._qr_data = cmd[8:]
    elif fn == 81:
        _print_qr(dec, offset)


def _print_qr(dec: EscposDecoder, offset: int) -> None:
    if not dec._qr_data:
        dec._error(offset, "print QR with no QR data stored")
        return
    try:
        image = qr_image(dec._qr_data, dec._qr_module, dec._qr_level)
    except qrcode.exceptions.DataOverflowError:
        dec._error(offset, f"QR data of {len(dec._qr_data)} bytes does not fit a QR code")
        return
    dec._place(image, offset)  # a symbol prints at once, after any pending line, as barcodes do
    dec._qr.append(dec._qr_data.decode("utf-8", errors="replace"))


def _barcode_param(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    if cmd[1] == ord("h"):
        dec._bar_height = max(cmd[2], 1)
    else:
        dec._bar_module = cmd[2] if 1 <= cmd[2] <= 6 else dec._bar_module


def _barcode(dec: EscposDecoder, cmd: bytes, offset: int) -> None:
    kind = cmd[2]
    data = cmd[3:-1] if kind <= 6 else cmd[4:]
    text = data.decode("ascii", errors="replace")
    if dec._line:
        dec._print_line(0)
    width = min(dec.width, dec._bar_module * 11 * (len(data) + 2))
    box = Image.new("1", (width, dec._bar_height), WHITE)
    ImageDraw.Draw(box).rectangle((0, 0, width - 1, dec._bar_height - 1), outline=0, width=2)
    dec._place(box, offset)
    dec._text.append(f"[barcode {barcode_name(kind)} {text}]")


_HANDLERS: dict[bytes, Handler] = {
    b"\x1b@": _init, b"\x1b!": _print_mode, b"\x1bE": _bold, b"\x1bG": _bold, b"\x1b-": _underline,
    b"\x1bM": _font_select, b"\x1d!": _size, b"\x1dB": _reverse, b"\x1ba": _align, b"\x1bt": _code_page,
    b"\x1b2": _spacing, b"\x1b3": _spacing, b"\x1bA": _spacing, b"\x1b+": _spacing, b"\x1bJ": _feed_dots,
    b"\x1bd": _feed_lines, b"\x1dV": _cut, b"\x1bi": _cut, b"\x1bm": _cut, b"\x1dv": _raster,
    b"\x1b*": _column_image, b"\x1d(": lambda d, c, o: _graphics(d, c, o) if c[2] == ord("L") else _symbol(d, c, o),
    b"\x1d8": _graphics, b"\x1dh": _barcode_param, b"\x1dw": _barcode_param, b"\x1dk": _barcode,
}  # fmt: skip


def decode_escpos(data: bytes, width_dots: int = 576) -> list[PrintedPage]:
    """Return the pages a printer `width_dots` wide prints from `data` (the last one even if not cut)."""
    decoder = EscposDecoder(width_dots)
    decoder.feed(bytes(data))
    return decoder.finish()
