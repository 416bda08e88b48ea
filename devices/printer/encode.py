"""ESC/POS bytes for a laid-out document: the efficient encoding and the naive full-page raster.

Only the commands the printer simulator shares with us are emitted: ESC @, ESC a, ESC E, ESC t,
ESC 3, LF, ESC J, GS v 0, GS ( k (QR model 2), GS V 66 and DLE EOT.

The efficient encoding feeds blank paper with ESC J instead of sending white raster rows, sends
each run of inked rows as one GS v 0 holding only the byte columns it needs, prints QR codes with
the printer's own command where the profile has one, and sends rows as text where the profile's
code page carries them exactly. The naive encoding sends the whole page as one full-width raster.

Where a raster lands across the paper (what the documentation says). Epson's TM-T88III
Specification (STANDARD) rev. B, sheet 144, GS v 0 [Details], manualsdump.com/en/manuals/
epson-t88iii/156066/154: "The ESC a (Select justification) setting is also effective on raster bit
images"; "The position at which subsequent characters are to be printed for raster bit image is
specified by HT, ESC $, ESC \\ and GS L"; "In standard mode, this command is effective only when
there is no data in the print buffer"; "Data outside the printing area is read in and discarded".
The same notes are in Citizen's CT-E651 manual p. 113 (given as "the specification which is common
to the model"), Cino's VersaJet reference p. 170, HPRT's TP80K manual p. 53 ("ESC a (select
justification) is effective to raster bit image") and the 58/80 mm clone manual of the BETTER
BT-532C (XX58/XX80 firmware) p. 27. ESC $ and GS L count in the horizontal motion unit of GS P,
whose default is model-dependent: 1/180 inch on the TM-T88III and TM-T90 (Epson ESC/POS APG
ver. 10.01 p. 470), 1/203 inch on the TM-L90, Cino, Wincor TH230 and NCR 7168; GS L also persists
until ESC @. ESC a needs no unit: the printer centres (or right-aligns) the image in the print
area, which after ESC @ is the whole printable width. ESC a itself only takes effect at the start
of a line, which is where every GS v 0 and ESC J leaves the printer.

So blank bytes at the left of a band are trimmed with ESC a, never with GS L or ESC $: a band is
sent left-aligned (bytes 0..last inked), centred (a byte range symmetric about the middle, widened
on its emptier side) or right-aligned (first inked byte..end), whichever sends fewer bytes counting
the 3-byte ESC a switch, and alignment is set back to left at the end of every group of bands.
Centring lands exactly on the page's own columns only when the paper width is a whole number of
bytes (576 and 384 dots are). It is done only for the profiles in `JUSTIFIED_RASTER_PROFILES`
(profiles.py has no flag for it): the two Epson models and the generic Epson-compatible 80 mm and
clone 58 mm firmware the manuals above describe. The Xprinter XP-58 is left out: no Xprinter
manual saying so was found, so its bands stay left-aligned and cut at their last inked byte.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import qrcode
from PIL import Image

from devices.errors import DeviceError
from devices.printer.layout import QR, Block, Cut, Document, Feed, Rule, TextRow, layout_document
from devices.printer.profiles import CODEPAGE_CODECS, PrinterProfile
from devices.printer.render import line_box, render_line

ESC, GS, DLE, LF = b"\x1b", b"\x1d", b"\x10", b"\n"
QR_ERROR_M = 49  # error correction level M (48 L, 49 M, 50 Q, 51 H)
_INVERT = bytes(255 - i for i in range(256))  # Pillow's mode "1" has 1 = white; printers 1 = black
_SPLIT_COST = 11  # bytes of an ESC J plus a GS v 0 header
_ALIGN = {"left": 0, "center": 1, "right": 2}
_ALIGN_COST = 3  # bytes of an ESC a switch
# Profiles whose firmware is documented to apply ESC a to GS v 0 images (see the module docstring).
JUSTIFIED_RASTER_PROFILES = frozenset({"generic-58", "generic-80", "epson-tm-t20ii", "epson-tm-t82"})


def _byte(value: int, what: str) -> bytes:
    if not 0 <= value <= 255:
        raise DeviceError(f"Tham số lệnh in {what}={value} phải từ 0 đến 255.", f"{what}={value} must be 0..255.")
    return bytes([value])


def cmd_init() -> bytes:
    """ESC @: reset the printer."""
    return ESC + b"@"


def cmd_align(align: str) -> bytes:
    """ESC a n: left, center or right."""
    return ESC + b"a" + bytes([_ALIGN[align]])


def cmd_bold(on: bool) -> bytes:
    """ESC E n: emphasised text on or off."""
    return ESC + b"E" + bytes([1 if on else 0])


def cmd_feed(dots: int) -> bytes:
    """ESC J n, repeated: feed the paper by dots."""
    if dots < 0:
        raise DeviceError(f"Không thể kéo giấy lùi {dots} chấm.", f"Cannot feed {dots} dots backwards.")
    out = bytearray()
    while dots > 0:
        step = min(dots, 255)
        out += ESC + b"J" + bytes([step])
        dots -= step
    return bytes(out)


def cmd_cut(feed: int = 0) -> bytes:
    """GS V 66 n: feed n dots to the cutter and cut partially."""
    return GS + b"VB" + _byte(feed, "cut feed")


def cmd_raster(rows: list[bytes]) -> bytes:
    """GS v 0: print rows of equal length (1 bit a dot, MSB left, 1 = black)."""
    if not rows:
        return b""
    width = len(rows[0])
    if any(len(row) != width for row in rows) or not 0 < width <= 0xFFFF or len(rows) > 0xFFFF:
        raise DeviceError("Ảnh in không hợp lệ.", "Raster rows are empty, too big or of unequal length.")
    header = GS + b"v0\x00" + width.to_bytes(2, "little") + len(rows).to_bytes(2, "little")
    return header + b"".join(rows)


def _qr_function(fn: int, data: bytes) -> bytes:
    size = len(data) + 2
    return GS + b"(k" + size.to_bytes(2, "little") + b"\x31" + bytes([fn]) + data


def cmd_qr(payload: str, module: int = 6, error: int = QR_ERROR_M) -> bytes:
    """GS ( k: select model 2, set module size and error level, store payload, print it."""
    data = payload.encode("utf-8")
    if not data or len(data) > 7089:
        raise DeviceError(
            "Nội dung mã QR trống hoặc quá dài.", "QR payload is empty or too long.", code="bad_qr_payload"
        )
    if not 1 <= module <= 16 or not 48 <= error <= 51:
        raise DeviceError("Cỡ mã QR không hợp lệ.", "QR module size must be 1..16 and error level 48..51.")
    return b"".join(
        (
            _qr_function(65, b"\x32\x00"),
            _qr_function(67, bytes([module])),
            _qr_function(69, bytes([error])),
            _qr_function(80, b"\x30" + data),
            _qr_function(81, b"\x30"),
        )
    )


def encode_status_query(n: int) -> bytes:
    """DLE EOT n: ask the printer's real-time status (1 printer, 2 offline cause, 4 paper)."""
    if n not in (1, 2, 4):
        raise DeviceError(f"Không có truy vấn trạng thái số {n}.", f"No status query {n}; use 1, 2 or 4.")
    return DLE + b"\x04" + bytes([n])


def qr_image(payload: str, module: int, width: int) -> Image.Image:
    """Draw a QR code (model 2, level M, no quiet zone) centred across width dots."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=module, border=0)
    code.add_data(payload.encode("utf-8"))
    code.make(fit=True)
    symbol = code.make_image().get_image().convert("1")
    if symbol.width > width:
        raise DeviceError(
            "Mã QR rộng hơn khổ giấy; rút ngắn nội dung.", "The QR code is wider than the paper; shorten the payload."
        )
    page = Image.new("1", (width, symbol.height), 1)
    page.paste(symbol, ((width - symbol.width) // 2, 0))
    return page


def block_image(block: Block, width: int) -> Image.Image | None:
    """Draw a block as it appears on paper (a QR as an image); None for a cut."""
    if isinstance(block, TextRow):
        return render_line(block.text, width, block.style, block.right)
    if isinstance(block, Rule):
        image = Image.new("1", (width, block.thickness), 0)
        return image
    if isinstance(block, QR):
        return qr_image(block.payload, block.module, width)
    if isinstance(block, Feed):
        return Image.new("1", (width, block.dots), 1) if block.dots > 0 else None
    return None


def page_image(blocks: Iterable[Block], width: int) -> Image.Image:
    """Stack the blocks up to the first cut into one page image (mode "1", black = printed)."""
    parts: list[Image.Image] = []
    for block in blocks:
        if isinstance(block, Cut):
            break
        image = block_image(block, width)
        if image is not None:
            parts.append(image)
    page = Image.new("1", (width, sum(p.height for p in parts)), 1)
    y = 0
    for part in parts:
        page.paste(part, (0, y))
        y += part.height
    return page


def raster_rows(image: Image.Image) -> list[bytes]:
    """Return an image's rows as printer bytes (1 = black, MSB left)."""
    data = image.convert("1").tobytes().translate(_INVERT)
    stride = (image.width + 7) // 8
    return [data[i : i + stride] for i in range(0, len(data), stride)]


def justifies_raster(profile: PrinterProfile) -> bool:
    """Whether bands may be placed with ESC a on this profile (documented firmware, whole-byte paper width)."""
    return profile.name in JUSTIFIED_RASTER_PROFILES and profile.width_dots % 8 == 0


class _Pending:
    """Rows waiting to be sent: blank runs become ESC J, inked runs one GS v 0 each, placed as cheaply as allowed."""

    def __init__(self, justify: bool = False) -> None:
        self.rows: list[bytes] = []
        self.justify = justify
        self.align = "left"  # the printer's justification while bands are being sent

    def add(self, image: Image.Image) -> None:
        self.rows += raster_rows(image)

    def flush(self) -> bytes:
        out = bytearray()
        blank = 0
        run: list[bytes] = []
        for row in self.rows:
            if row.count(0) == len(row):
                blank += 1
                continue
            # A short gap inside a run (between a tone mark and its letter) is cheaper sent as
            # white rows than as a feed plus a new raster header.
            if run and blank * len(row) <= _SPLIT_COST:
                run += [bytes(len(row))] * blank
            else:
                out += self._raster(run) + cmd_feed(blank)
                run = []
            blank = 0
            run.append(row)
        out += self._raster(run) + cmd_feed(blank)
        if self.align != "left":
            out += cmd_align("left")
            self.align = "left"
        self.rows = []
        return bytes(out)

    def _raster(self, rows: list[bytes]) -> bytes:
        """One GS v 0 for a run of rows (the first and last inked), preceded by ESC a when it changes."""
        if not rows:
            return b""
        width = len(rows[0])
        last = max(len(row.rstrip(b"\x00")) for row in rows)
        if not self.justify:
            return cmd_raster([row[:last] for row in rows])
        first = min(len(row) - len(row.lstrip(b"\x00")) for row in rows)
        margin = min(first, width - last)
        spans = {"left": (0, last), "center": (margin, width - margin), "right": (first, width)}

        def cost(align: str) -> int:
            start, end = spans[align]
            return (end - start) * len(rows) + (0 if align == self.align else _ALIGN_COST)

        align = min(spans, key=cost)  # ties go to the earlier entry: left, then center
        start, end = spans[align]
        switch = b"" if align == self.align else cmd_align(align)
        self.align = align
        return switch + cmd_raster([row[start:end] for row in rows])


def _text_mode_bytes(row: TextRow, profile: PrinterProfile) -> bytes | None:
    """Return the row as text-mode bytes when the profile's code page carries it exactly, else None."""
    if profile.text_codepage is None or row.right or row.style.size != "normal":
        return None
    text = unicodedata.normalize("NFC", row.text)
    if len(text) > profile.text_columns:
        return None
    try:
        encoded = text.encode(CODEPAGE_CODECS[profile.text_codepage])
    except (UnicodeEncodeError, KeyError):
        return None
    spacing = line_box(row.style.size, row.style.bold)[1]
    return b"".join(
        (
            ESC + b"t" + bytes([profile.text_codepage]),
            ESC + b"3" + _byte(spacing, "line spacing"),
            cmd_align(row.style.align),
            cmd_bold(row.style.bold),
            encoded,
            LF,
            cmd_bold(False),
            cmd_align("left"),
        )
    )


def encode_blocks(blocks: list[Block], profile: PrinterProfile) -> bytes:
    """Encode laid-out blocks efficiently for a profile."""
    out = bytearray(cmd_init())
    pending = _Pending(justifies_raster(profile))
    for block in blocks:
        text = _text_mode_bytes(block, profile) if isinstance(block, TextRow) else None
        if text is not None:
            out += pending.flush() + text
        elif isinstance(block, QR) and profile.native_qr:
            out += pending.flush() + cmd_align("center") + cmd_qr(block.payload, block.module) + cmd_align("left")
        elif isinstance(block, Cut):
            out += pending.flush() + cmd_cut(block.feed)
        else:
            image = block_image(block, profile.width_dots)
            if image is not None:
                pending.add(image)
    if pending.rows or not blocks or not isinstance(blocks[-1], Cut):
        out += pending.flush() + cmd_cut(0)
    return bytes(out)


def encode_document(doc: Document, profile: PrinterProfile) -> bytes:
    """Encode a document efficiently: fed blank paper, trimmed and justified rasters, native QR; ends with a cut."""
    return encode_blocks(layout_document(doc, profile.width_dots), profile)


def encode_naive(doc: Document, profile: PrinterProfile) -> bytes:
    """Encode a document as one full-width raster of the whole page and a cut (the benchmark's baseline)."""
    blocks = layout_document(doc, profile.width_dots)
    cut = next((b for b in blocks if isinstance(b, Cut)), Cut())
    return cmd_init() + cmd_raster(raster_rows(page_image(blocks, profile.width_dots))) + cmd_cut(cut.feed)
