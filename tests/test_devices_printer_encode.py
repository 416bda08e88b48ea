"""ESC/POS encoding: exact command bytes, efficient vs naive documents, raster contents."""

from __future__ import annotations

import pytest
from PIL import Image

from devices.errors import DeviceError
from devices.printer.encode import (
    block_image,
    cmd_align,
    cmd_bold,
    cmd_cut,
    cmd_feed,
    cmd_init,
    cmd_qr,
    cmd_raster,
    encode_blocks,
    encode_document,
    encode_naive,
    encode_status_query,
    page_image,
    raster_rows,
)
from devices.printer.layout import QR, Block, Cut, DossierReceipt, Feed, TextRow, Ticket, layout_document
from devices.printer.profiles import PROFILES, get_profile
from devices.printer.render import TextStyle

TICKET = Ticket("UBND xã Tân Phú — Bộ phận một cửa", "A012", "Hộ tịch, chứng thực", "15/03/2026 08:05", 3)
RECEIPT = DossierReceipt(
    "UBND xã Tân Phú — Bộ phận một cửa",
    "H01.02-260315-0001",
    "Đăng ký khai sinh cho trẻ em có yếu tố nước ngoài",
    "Nguyễn Thị Ánh Tuyết",
    "15/03/2026 08:15",
    "20/03/2026 16:30",
)


def test_command_bytes() -> None:
    assert cmd_init() == b"\x1b\x40"
    assert cmd_align("left") == b"\x1ba\x00"
    assert cmd_align("center") == b"\x1b\x61\x01"
    assert cmd_align("right") == b"\x1b\x61\x02"
    assert cmd_bold(True) == b"\x1b\x45\x01" and cmd_bold(False) == b"\x1b\x45\x00"
    assert cmd_feed(0) == b""
    assert cmd_feed(30) == b"\x1b\x4a\x1e"
    assert cmd_feed(300) == b"\x1bJ\xff\x1bJ\x2d"
    assert cmd_cut(48) == b"\x1d\x56\x42\x30"
    assert encode_status_query(1) == b"\x10\x04\x01"
    assert encode_status_query(2) == b"\x10\x04\x02"
    assert encode_status_query(4) == b"\x10\x04\x04"


def test_bad_command_parameters() -> None:
    with pytest.raises(DeviceError):
        cmd_feed(-1)
    with pytest.raises(DeviceError):
        cmd_cut(256)
    with pytest.raises(DeviceError):
        encode_status_query(3)
    with pytest.raises(DeviceError):
        cmd_qr("")
    with pytest.raises(DeviceError):
        cmd_qr("x", module=17)
    with pytest.raises(DeviceError):
        cmd_raster([b"\x00\x00", b"\x00"])


def test_qr_store_and_print_sequence() -> None:
    assert cmd_qr("H01", module=6) == (
        b"\x1d(k\x04\x00\x31\x41\x32\x00"  # fn 65: model 2
        b"\x1d(k\x03\x00\x31\x43\x06"  # fn 67: module size 6
        b"\x1d(k\x03\x00\x31\x45\x31"  # fn 69: error level M
        b"\x1d(k\x06\x00\x31\x50\x30H01"  # fn 80: store 3 bytes
        b"\x1d(k\x03\x00\x31\x51\x30"  # fn 81: print
    )
    long = "Đ" * 200  # 400 UTF-8 bytes: pL/pH little endian
    assert cmd_qr(long)[25:30] == b"\x1d(k" + (403).to_bytes(2, "little")


def test_raster_header_and_bits() -> None:
    assert cmd_raster([b"\x80\x01", b"\xff\x00"]) == b"\x1d\x76\x30\x00\x02\x00\x02\x00\x80\x01\xff\x00"
    image = Image.new("1", (16, 2), 1)
    image.putpixel((0, 0), 0)  # black dot top left -> MSB of the first byte
    image.putpixel((15, 1), 0)
    assert raster_rows(image) == [b"\x80\x00", b"\x00\x01"]
    assert cmd_raster([]) == b""


def test_blank_rows_become_feeds_and_rows_are_trimmed() -> None:
    profile = get_profile("generic-58")
    row = TextRow("Ab", TextStyle())
    data = encode_blocks([Feed(40), row, Feed(300), Cut(10)], profile)
    assert data.startswith(b"\x1b@")
    assert data.endswith(b"\x1dVB\x0a")
    image = block_image(row, 384)
    assert image is not None
    rows = raster_rows(image)
    inked = [i for i, r in enumerate(rows) if any(r)]
    top, bottom = inked[0], inked[-1]
    used = max(len(r.rstrip(b"\x00")) for r in rows)
    assert used < 8  # "Ab" sits at the left: only a few bytes of each row are sent
    header = b"\x1dv0\x00" + used.to_bytes(2, "little") + (bottom - top + 1).to_bytes(2, "little")
    assert data[2:].startswith(cmd_feed(40 + top) + header)
    tail = cmd_feed(len(rows) - 1 - bottom + 300) + cmd_cut(10)
    assert data.endswith(tail)


def test_native_qr_only_where_the_profile_has_it() -> None:
    blocks: list[Block] = [QR("H01.02-260315-0001", 6), Cut()]
    native = encode_blocks(blocks, get_profile("generic-80"))
    raster = encode_blocks(blocks, get_profile("generic-58"))
    assert b"\x1d(k" in native and b"\x1b\x61\x01" + cmd_qr("H01.02-260315-0001", 6) + b"\x1b\x61\x00" in native
    assert b"\x1d(k" not in raster and b"\x1dv0\x00" in raster


@pytest.mark.parametrize("name", ["generic-80", "generic-58"])
@pytest.mark.parametrize("doc", [TICKET, RECEIPT], ids=["ticket", "receipt"])
def test_efficient_is_at_least_twice_smaller_than_naive(name: str, doc: Ticket | DossierReceipt) -> None:
    profile = get_profile(name)
    efficient = encode_document(doc, profile)
    naive = encode_naive(doc, profile)
    assert efficient == encode_document(doc, profile)  # deterministic
    assert len(naive) >= 2 * len(efficient)
    page = page_image(layout_document(doc, profile.width_dots), profile.width_dots)
    width = profile.width_bytes
    assert naive == (
        b"\x1b@"
        + b"\x1dv0\x00"
        + width.to_bytes(2, "little")
        + page.height.to_bytes(2, "little")
        + b"".join(raster_rows(page))
        + b"\x1dVB\x30"
    )
    assert len(naive) == 2 + 8 + width * page.height + 4


def test_text_mode_only_for_rows_the_code_page_carries() -> None:
    profile = get_profile("epson-tm-t20ii")
    assert profile.text_codepage == 52
    ascii_row = TextRow("H01.02-260315-0001", TextStyle(bold=True))
    data = encode_blocks([ascii_row, Cut()], profile)
    assert b"\x1bt\x34" in data and b"\x1b\x45\x01H01.02-260315-0001\n\x1b\x45\x00" in data
    assert b"\x1dv0" not in data
    vietnamese = encode_blocks([TextRow("Ngày hẹn trả kết quả"), Cut()], profile)
    assert b"\x1dv0" in vietnamese and b"\x1bt" not in vietnamese  # ệ/ả/ế are not in CP1258 as one byte
    generic = encode_blocks([ascii_row, Cut()], get_profile("generic-80"))
    assert b"\x1bt" not in generic and b"\x1dv0" in generic


def test_profiles() -> None:
    assert get_profile("generic-58").width_dots == 384
    assert get_profile("generic-80").width_dots == 576
    assert {p.width_dots for p in PROFILES.values()} == {384, 576}
    assert len(PROFILES) >= 4
    with pytest.raises(DeviceError) as err:
        get_profile("tm-xyz")
    assert "generic-80" in err.value.en and "Không có cấu hình máy in" in err.value.vi
