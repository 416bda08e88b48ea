"""ESC/POS encoding: exact command bytes, efficient vs naive documents, raster contents."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from bench.print import DOCS
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
    justifies_raster,
    page_image,
    raster_rows,
)
from devices.printer.escpos_decode import command_length
from devices.printer.layout import QR, Block, Cut, DossierReceipt, Feed, TextRow, Ticket, layout_document
from devices.printer.profiles import PROFILES, PrinterProfile, get_profile
from devices.printer.render import TextStyle
from devices.printer.simulator import decode_escpos

TICKET, RECEIPT = DOCS["ticket"], DOCS["receipt"]  # the documents bench/print.py measures


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


def walk(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """Walk an encoded stream command by command: (ESC a in force, width in bytes, rows) of every GS v 0,
    and the ESC a in force at the end."""
    found, align, i = [], 0, 0
    while i < len(data):
        if data[i] not in (0x1B, 0x1D, 0x10):
            i += 1
            continue
        length = command_length(data, i)
        if data[i : i + 2] == b"\x1ba":
            align = data[i + 2]
        elif data[i : i + 3] == b"\x1dv0":
            width, rows = int.from_bytes(data[i + 4 : i + 6], "little"), int.from_bytes(data[i + 6 : i + 8], "little")
            found.append((align, width, rows))
        i += length
    return found, align


def rasters(data: bytes) -> list[tuple[int, int, int]]:
    """(ESC a in force, width in bytes, rows) of every GS v 0 in an encoded stream."""
    return walk(data)[0]


def assert_prints_the_page(blocks: list[Block], profile: PrinterProfile) -> bytes:
    """Encode, print in the simulator, compare with the page image pixel by pixel; return the bytes."""
    data = encode_blocks(blocks, profile)
    (page,) = decode_escpos(data, profile.width_dots)
    expected = page_image(blocks, profile.width_dots)
    cut = next(block for block in blocks if isinstance(block, Cut))
    assert page.errors == [] and page.cut
    assert page.image.size == (expected.width, expected.height + cut.feed)  # the cut feeds blank paper
    printed = page.image.crop((0, 0, expected.width, expected.height))
    assert ImageChops.difference(printed.convert("L"), expected.convert("L")).getbbox() is None
    if cut.feed:
        assert page.image.crop((0, expected.height, expected.width, page.image.height)).getextrema() == (255, 255)
    return data


def test_centred_and_right_aligned_rows_are_sent_without_their_blank_left() -> None:
    profile = get_profile("generic-80")
    centred = TextRow("A012", TextStyle(size="big", align="center"))
    right = TextRow("15/03/2026", TextStyle(align="right"))
    data = assert_prints_the_page([centred, Feed(10), right, Cut()], profile)
    (first, second) = rasters(data)
    image = block_image(centred, 576)
    assert image is not None
    rows = [r for r in raster_rows(image) if any(r)]
    lead = min(len(r) - len(r.lstrip(b"\x00")) for r in rows)
    trail = min(len(r) - len(r.rstrip(b"\x00")) for r in rows)
    assert first == (1, 72 - 2 * min(lead, trail), len(rows))  # centred, symmetric about the middle
    assert second[0] == 2 and second[1] < 72 // 2  # right-aligned: only the bytes from the first inked one
    assert data.endswith(b"\x1ba\x00" + b"\x1dVB\x00")  # back to left before the cut
    left = encode_blocks([TextRow("Ab"), Cut()], profile)
    assert b"\x1ba" not in left  # a left-aligned row needs no ESC a


def test_justification_only_where_documented() -> None:
    centred: list[Block] = [TextRow("Hộ tịch, chứng thực", TextStyle(align="center")), Cut()]
    assert justifies_raster(get_profile("generic-58")) and justifies_raster(get_profile("epson-tm-t82"))
    assert not justifies_raster(get_profile("xprinter-xp58"))
    xprinter = get_profile("xprinter-xp58")
    data = assert_prints_the_page(centred, xprinter)
    assert b"\x1ba" not in data and all(align == 0 for align, _, _ in rasters(data))
    clone = assert_prints_the_page(centred, get_profile("generic-58"))
    assert [align for align, _, _ in rasters(clone)] == [1] and len(clone) < len(data)


def drawn_as_raster(block: Block, profile: PrinterProfile) -> bool:
    """Whether the encoder sends this block as a raster (not a native QR, not a text-mode row)."""
    if isinstance(block, QR):
        return not profile.native_qr
    if isinstance(block, TextRow) and profile.text_codepage is not None:
        return b"\x1dv0" in encode_blocks([block], profile)
    return True


@pytest.mark.parametrize("name", sorted(PROFILES))
@pytest.mark.parametrize("doc", [TICKET, RECEIPT], ids=["ticket", "receipt"])
def test_every_profile_prints_the_page_image(name: str, doc: Ticket | DossierReceipt) -> None:
    profile = get_profile(name)
    blocks = [b for b in layout_document(doc, profile.width_dots) if drawn_as_raster(b, profile)]
    data = assert_prints_the_page(blocks, profile)
    found, final = walk(data)
    assert final == 0 and all(align in (0, 1, 2) for align, _, _ in found)


ROWS = st.lists(
    st.tuples(
        st.text(alphabet="AĐơễ ỹ0a", min_size=1, max_size=14),
        st.sampled_from(["left", "center", "right"]),
        st.sampled_from(["normal", "large"]),
        st.integers(0, 40),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS, st.sampled_from(["generic-80", "generic-58"]))
def test_any_mix_of_alignments_prints_pixel_exact(rows: list[tuple[str, str, str, int]], name: str) -> None:
    blocks: list[Block] = []
    for text, align, size, gap in rows:
        blocks += [TextRow(text, TextStyle(size=size, align=align)), Feed(gap)]  # type: ignore[arg-type]
    data = assert_prints_the_page([*blocks, Cut()], get_profile(name))
    assert walk(data)[1] == 0  # left alignment is back in force at the cut
