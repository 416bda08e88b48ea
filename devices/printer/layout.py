"""Paper documents (ticket, dossier receipt, fee receipt, test page) laid out as blocks for one width.

A layout is a list of blocks, top to bottom: `TextRow` (one line of text, already wrapped to the
paper), `Rule` (a horizontal line), `QR` (a QR code), `Feed` (blank paper) and `Cut`. Dates and
times arrive already formatted by the caller (dd/mm/yyyy HH:MM); amounts are whole VND, printed
Vietnamese style as "50.000 đ".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from devices.errors import DeviceError
from devices.printer.render import VIETNAMESE_LETTERS, TextStyle, font, wrap

PLAIN = TextStyle()


@dataclass(frozen=True)
class TextRow:
    """One printed line: text in a style, and optionally a second text flush right (an amount)."""

    text: str
    style: TextStyle = PLAIN
    right: str = ""


@dataclass(frozen=True)
class Rule:
    """A horizontal line across the paper."""

    thickness: int = 2


@dataclass(frozen=True)
class QR:
    """A QR code of payload, centred; module is the size of one QR square in dots."""

    payload: str
    module: int = 6


@dataclass(frozen=True)
class Feed:
    """Blank paper, in dots."""

    dots: int


@dataclass(frozen=True)
class Cut:
    """Feed to the cutter and cut (partially); feed is the extra paper in dots before the cut."""

    feed: int = 0


Block = TextRow | Rule | QR | Feed | Cut


@dataclass(frozen=True)
class Ticket:
    """A queue ticket from the kiosk."""

    office: str
    number: str
    service: str
    issued_at: str
    ahead: int


@dataclass(frozen=True)
class DossierReceipt:
    """The slip given when a dossier is received, with a QR code of its code."""

    office: str
    code: str
    procedure: str
    applicant: str
    received_at: str
    due_at: str


@dataclass(frozen=True)
class FeeLine:
    """One fee or charge on a fee receipt."""

    name: str
    amount: int


Method = Literal["cash", "card", "transfer"]
METHOD_LABELS: dict[str, str] = {"cash": "Tiền mặt", "card": "Thẻ", "transfer": "Chuyển khoản (VietQR)"}


@dataclass(frozen=True)
class FeeReceipt:
    """A receipt for fees and charges; a VietQR code is printed when paying by transfer."""

    office: str
    form_number: str
    series: str
    receipt_number: str
    dossier_code: str
    lines: tuple[FeeLine, ...] | list[FeeLine]
    total: int
    method: Method
    paid_at: str
    cashier: str
    vietqr: str | None = None


@dataclass(frozen=True)
class TestPage:
    """The technician's test page: every Vietnamese letter, a sample line and a QR code."""

    __test__ = False  # not a pytest test class

    office: str
    target: str


Document = Ticket | DossierReceipt | FeeReceipt | TestPage

SAMPLE_LINE = "Mời số A012 đến quầy số 2. Giấy tiếp nhận hồ sơ và hẹn trả kết quả."
NORMAL = PLAIN
BOLD = TextStyle(bold=True)
CENTER = TextStyle(align="center")
TITLE = TextStyle(bold=True, align="center")
HEADING = TextStyle("large", True, "center")


def format_vnd(amount: int) -> str:
    """Format whole VND the Vietnamese way: 1250000 → "1.250.000 đ"."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise DeviceError(f"Số tiền {amount!r} phải là số nguyên.", f"Amount {amount!r} must be an integer.")
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount):,} đ".replace(",", ".")


def _text(text: str, width: int, style: TextStyle = NORMAL) -> list[Block]:
    return [TextRow(line, style) for line in wrap(text, width, style)]


def _heading(text: str, width: int) -> list[Block]:
    """A title in the large size when it fits on one line, else in bold."""
    lines = wrap(text, width, HEADING)
    return [TextRow(lines[0], HEADING)] if len(lines) == 1 else _text(text, width, TITLE)


def _pair(label: str, value: str, width: int, style: TextStyle = NORMAL) -> list[Block]:
    """A name on the left and a value flush right; the name wraps in the room the value leaves."""
    face = font(style.size, style.bold)
    room = int(width - face.getlength(value + "  "))
    if room < width // 3:
        return [*_text(label, width, style), TextRow(value, TextStyle(style.size, style.bold, "right"))]
    lines = wrap(label, room, style)
    return [*(TextRow(line, style) for line in lines[:-1]), TextRow(lines[-1], style, right=value)]


def _ticket(doc: Ticket, width: int) -> list[Block]:
    if isinstance(doc.ahead, bool) or not isinstance(doc.ahead, int) or doc.ahead < 0:
        raise DeviceError(
            f"Số người chờ trước {doc.ahead!r} phải là số nguyên không âm.",
            f"People ahead {doc.ahead!r} must be a non-negative integer.",
        )
    return [
        *_text(doc.office, width, TITLE),
        Feed(12),
        TextRow("SỐ THỨ TỰ", TITLE),
        *_text(doc.number, width, TextStyle("big", True, "center")),
        *_text(doc.service, width, CENTER),
        Feed(12),
        *_text(f"Số người đang chờ trước: {doc.ahead}", width, CENTER),
        *_text(f"Thời gian lấy số: {doc.issued_at}", width, CENTER),
        Cut(48),
    ]


def _dossier_receipt(doc: DossierReceipt, width: int) -> list[Block]:
    module = 6 if width >= 512 else 5
    return [
        *_text(doc.office, width, TITLE),
        *_heading("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", width),
        Feed(8),
        Rule(),
        Feed(8),
        *_text(f"Mã hồ sơ: {doc.code}", width, BOLD),
        *_text(f"Thủ tục: {doc.procedure}", width),
        *_text(f"Người nộp hồ sơ: {doc.applicant}", width),
        *_text(f"Ngày tiếp nhận: {doc.received_at}", width),
        *_text(f"Ngày hẹn trả kết quả: {doc.due_at}", width, BOLD),
        Feed(16),
        QR(doc.code, module),
        Feed(8),
        *_text("Quét mã để tra cứu hồ sơ", width, CENTER),
        Cut(48),
    ]


def _fee_receipt(doc: FeeReceipt, width: int) -> list[Block]:
    if doc.method not in METHOD_LABELS:
        raise DeviceError(
            f"Hình thức thanh toán “{doc.method}” không có; dùng cash, card hoặc transfer.",
            f"Unknown payment method “{doc.method}”; use cash, card or transfer.",
        )
    if not doc.lines or sum(line.amount for line in doc.lines) != doc.total:
        raise DeviceError(
            f"Tổng tiền {format_vnd(doc.total)} không khớp với các khoản thu.",
            f"The total {format_vnd(doc.total)} does not match the fee lines.",
        )
    blocks: list[Block] = [
        *_text(doc.office, width, TITLE),
        *_heading("BIÊN LAI THU PHÍ, LỆ PHÍ", width),
        *_text(f"Mẫu số: {doc.form_number}   Ký hiệu: {doc.series}", width, CENTER),
        *_text(f"Số: {doc.receipt_number}", width, CENTER),
        Feed(8),
        *_text(f"Mã hồ sơ: {doc.dossier_code}", width),
        Feed(4),
        Rule(),
        Feed(4),
    ]
    for line in doc.lines:
        blocks += _pair(line.name, format_vnd(line.amount), width)
    blocks += [Feed(4), Rule(), Feed(4), *_pair("Tổng cộng", format_vnd(doc.total), width, BOLD)]
    blocks += _text(f"Hình thức thanh toán: {METHOD_LABELS[doc.method]}", width)
    blocks += _text(f"Ngày thu: {doc.paid_at}", width)
    blocks += _text(f"Người thu: {doc.cashier}", width)
    if doc.method == "transfer" and doc.vietqr:
        blocks += [Feed(16), QR(doc.vietqr, 4 if width < 512 else 5), Feed(8)]
        blocks += _text("Quét mã VietQR để chuyển khoản", width, CENTER)
    return [*blocks, Cut(48)]


def _test_page(doc: TestPage, width: int) -> list[Block]:
    return [
        *_heading("TRANG IN THỬ", width),
        *_text(doc.office, width, CENTER),
        *_text(f"Máy in: {doc.target}", width, CENTER),
        Feed(8),
        Rule(),
        Feed(8),
        *_text(f"Chữ cái tiếng Việt ({len(VIETNAMESE_LETTERS)}):", width, BOLD),
        *_text(" ".join(VIETNAMESE_LETTERS), width),
        Feed(8),
        *_text(SAMPLE_LINE, width),
        *_text(SAMPLE_LINE, width, BOLD),
        Feed(16),
        QR(f"MOTCUA-TEST {doc.target}", 5),
        Cut(48),
    ]


def layout_document(doc: Document, width: int) -> list[Block]:
    """Lay a document out for a paper width in dots; return its blocks, ending with a cut."""
    if isinstance(doc, Ticket):
        return _ticket(doc, width)
    if isinstance(doc, DossierReceipt):
        return _dossier_receipt(doc, width)
    if isinstance(doc, FeeReceipt):
        return _fee_receipt(doc, width)
    if isinstance(doc, TestPage):
        return _test_page(doc, width)
    raise DeviceError(
        f"Không biết cách in “{type(doc).__name__}”.", f"Cannot print a “{type(doc).__name__}”.", code="bad_document"
    )
