"""Vietnamese rendering: the 134 letters, determinism, wrapping, sizes, alignment; layouts."""

from __future__ import annotations

import unicodedata

import pytest

from bench.print import DOCS
from devices.errors import DeviceError
from devices.printer.layout import (
    QR,
    Cut,
    FeeLine,
    FeeReceipt,
    TestPage,
    TextRow,
    Ticket,
    format_vnd,
    layout_document,
)
from devices.printer.render import (
    VIETNAMESE_LETTERS,
    TextStyle,
    base_letter,
    is_blank,
    render_line,
    render_text,
    wrap,
)

TICKET, RECEIPT = DOCS["ticket"], DOCS["receipt"]  # the documents bench/print.py measures


def test_letter_list_is_the_134_vietnamese_letters() -> None:
    assert len(VIETNAMESE_LETTERS) == 134
    assert len(set(VIETNAMESE_LETTERS)) == 134
    assert all(len(ch) == 1 and unicodedata.is_normalized("NFC", ch) for ch in VIETNAMESE_LETTERS)
    lower = [ch for ch in VIETNAMESE_LETTERS if ch.islower()]
    assert len(lower) == 67
    assert sorted(ch.upper() for ch in lower) == sorted(ch for ch in VIETNAMESE_LETTERS if ch.isupper())
    for ch in "ăâêôơưđĐ" + "ệỹỵỮẶ":
        assert ch in VIETNAMESE_LETTERS
    assert {base_letter(ch).lower() for ch in VIETNAMESE_LETTERS} == set("aeiouyd")


@pytest.mark.parametrize("bold", [False, True])
def test_every_letter_is_drawn_with_its_marks(bold: bool) -> None:
    style = TextStyle(bold=bold)
    images = {ch: render_line(ch, 64, style).tobytes() for ch in VIETNAMESE_LETTERS}
    for ch, pixels in images.items():
        assert not is_blank(render_line(ch, 64, style)), ch
        assert pixels != render_line(base_letter(ch), 64, style).tobytes(), ch
    # every letter looks different from every other one (no mark lost or merged)
    assert len(set(images.values())) == 134


def test_nfd_input_renders_like_nfc() -> None:
    text = "Nguyễn Thị Ánh Tuyết — Đăng ký khai sinh"
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != text
    assert render_line(nfd, 576).tobytes() == render_line(text, 576).tobytes()


def test_rendering_is_deterministic_and_one_bit() -> None:
    first = render_line("Ngày hẹn trả kết quả: 20/03/2026", 576, TextStyle(bold=True))
    again = render_line("Ngày hẹn trả kết quả: 20/03/2026", 576, TextStyle(bold=True))
    assert first.mode == "1" and first.width == 576
    assert first.tobytes() == again.tobytes()


def test_sizes_bold_and_alignment_change_the_image() -> None:
    normal = render_line("A012", 384)
    big = render_line("A012", 384, TextStyle(size="big"))
    bold = render_line("A012", 384, TextStyle(bold=True))
    assert big.height > 2 * normal.height
    assert bold.tobytes() != normal.tobytes()
    left = render_line("A012", 384).getbbox()
    center = render_line("A012", 384, TextStyle(align="center")).getbbox()
    right = render_line("A012", 384, TextStyle(align="right")).getbbox()
    inverted = [render_line("A012", 384, TextStyle(align=a)).point(lambda v: 255 - v) for a in ("left", "right")]
    assert left == center == right  # bbox of a mode "1" white page covers it all: use the ink instead
    left_ink, right_ink = (im.getbbox() for im in inverted)
    assert left_ink is not None and right_ink is not None
    assert left_ink[0] <= 2 and right_ink[2] >= 380


def test_wrap_fits_the_paper_and_keeps_words() -> None:
    text = "Đăng ký khai sinh cho trẻ em có yếu tố nước ngoài tại Ủy ban nhân dân xã Tân Phú"
    lines = wrap(text, 384)
    assert len(lines) > 1
    assert " ".join(lines) == text
    assert all(render_line(line, 384) for line in lines)
    long_word = "X" * 80
    assert "".join(wrap(long_word, 384)) == long_word
    assert len(render_text(text, 576)) < len(lines) + 1


def test_bad_width_and_overlong_line() -> None:
    with pytest.raises(DeviceError, match="multiple of 8"):
        render_line("a", 100)
    with pytest.raises(DeviceError) as err:
        render_line("Đ" * 100, 384)
    assert "khổ giấy" in err.value.vi


def test_amounts_in_vietnamese_style() -> None:
    assert format_vnd(50000) == "50.000 đ"
    assert format_vnd(1250000) == "1.250.000 đ"
    assert format_vnd(0) == "0 đ"
    with pytest.raises(DeviceError):
        format_vnd(1.5)  # type: ignore[arg-type]


def test_ticket_layout() -> None:
    blocks = layout_document(TICKET, 576)
    texts = [b.text for b in blocks if isinstance(b, TextRow)]
    assert "A012" in texts and "SỐ THỨ TỰ" in texts
    assert "Số người đang chờ trước: 3" in texts
    big = next(b for b in blocks if isinstance(b, TextRow) and b.text == "A012")
    assert big.style.size == "big"
    assert isinstance(blocks[-1], Cut)
    with pytest.raises(DeviceError):
        layout_document(Ticket("x", "A1", "y", "z", -1), 576)


@pytest.mark.parametrize("width", [384, 576])
def test_dossier_receipt_layout_wraps_and_has_qr(width: int) -> None:
    blocks = layout_document(RECEIPT, width)
    texts = " ".join(b.text for b in blocks if isinstance(b, TextRow))
    assert "Mã hồ sơ: H01.02-260315-0001" in texts
    assert "Ngày hẹn trả kết quả: 20/03/2026 16:30" in texts
    assert "Người nộp hồ sơ: Nguyễn Thị Ánh Tuyết" in texts
    assert [b.payload for b in blocks if isinstance(b, QR)] == ["H01.02-260315-0001"]
    for block in blocks:
        if isinstance(block, TextRow):
            render_line(block.text, width, block.style, block.right)  # fits the paper


def test_fee_receipt_layout_with_vietqr_only_for_transfer() -> None:
    lines = (FeeLine("Lệ phí đăng ký khai sinh", 5000), FeeLine("Phí cấp bản sao trích lục", 16000))
    args = ("UBND xã Tân Phú", "01BLP0-001", "AA/26P", "0000123", "H01.02-260315-0001", lines, 21000)
    transfer = FeeReceipt(*args, "transfer", "15/03/2026 08:20", "Trần Văn Bình", "000201PAYLOAD")
    cash = FeeReceipt(*args, "cash", "15/03/2026 08:20", "Trần Văn Bình", "000201PAYLOAD")
    blocks = layout_document(transfer, 384)
    assert [b.payload for b in blocks if isinstance(b, QR)] == ["000201PAYLOAD"]
    assert not [b for b in layout_document(cash, 384) if isinstance(b, QR)]
    rows = [b for b in blocks if isinstance(b, TextRow)]
    assert any(r.right == "5.000 đ" for r in rows) and any(r.right == "21.000 đ" for r in rows)
    assert "Hình thức thanh toán: Chuyển khoản (VietQR)" in " ".join(r.text for r in rows)
    with pytest.raises(DeviceError, match="total"):
        layout_document(FeeReceipt(*args[:-1], 20000, "cash", "x", "y"), 384)
    with pytest.raises(DeviceError, match="method"):
        layout_document(FeeReceipt(*args, "cheque", "x", "y"), 384)  # type: ignore[arg-type]


def test_test_page_has_every_letter_and_a_qr() -> None:
    blocks = layout_document(TestPage("UBND xã Tân Phú", "sim://printer"), 384)
    printed = "".join(b.text for b in blocks if isinstance(b, TextRow))
    assert all(ch in printed for ch in VIETNAMESE_LETTERS)
    assert any(isinstance(b, QR) for b in blocks)


def test_unknown_document() -> None:
    with pytest.raises(DeviceError, match="Cannot print"):
        layout_document("hello", 384)  # type: ignore[arg-type]
