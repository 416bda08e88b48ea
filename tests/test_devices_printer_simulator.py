"""The ESC/POS printer simulator: decoding, faults, files, and the same pages through a real pty and a real socket."""

from __future__ import annotations

import random
import socket
import time
import unicodedata
from pathlib import Path

import pytest
import qrcode
import qrcode.constants
import serial  # type: ignore[import-untyped]  # pyserial ships no type hints
from escpos.printer import Dummy  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw

from devices.errors import DeviceAddressError, DeviceError
from devices.printer.escpos_decode import EscposDecoder, PrintedPage
from devices.printer.simulator import PrinterSimulator, decode_escpos, serve_printer
from devices.simio import PtyServer, TcpServer

ESC, GS, DLE = b"\x1b", b"\x1d", b"\x10"
WIDTH = 576


def raster(image: Image.Image, mode: int = 0) -> bytes:
    """Encode a mode "1" image as GS v 0 by hand (1 = black, MSB = leftmost dot)."""
    width_bytes = (image.width + 7) // 8
    rows = bytearray()
    for y in range(image.height):
        row = bytearray(width_bytes)
        for x in range(image.width):
            if image.getpixel((x, y)) == 0:
                row[x // 8] |= 0x80 >> (x % 8)
        rows += row
    header = GS + b"v0" + bytes((mode, width_bytes & 0xFF, width_bytes >> 8, image.height & 0xFF, image.height >> 8))
    return header + bytes(rows)


def cp1258(text: str) -> bytes:
    """Encode Vietnamese in Windows-1258 (a base letter it has plus combining tone marks)."""
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        decomposed = unicodedata.normalize("NFD", char)
        base, marks = decomposed[0], list(decomposed[1:])
        for mark in list(marks):
            combined = unicodedata.normalize("NFC", base + mark)
            if len(combined) == 1 and combined.encode("cp1258", errors="ignore"):
                base = combined
                marks.remove(mark)
        out += (base + "".join(marks)).encode("cp1258")
    return bytes(out)


def qr_commands(payload: bytes, module: int = 4, level: int = 49) -> bytes:
    """The native QR sequence: model 2, module size, error level, store, print."""

    def fn(code: int, params: bytes) -> bytes:
        size = len(params) + 2
        return GS + b"(k" + bytes((size & 0xFF, size >> 8, 49, code)) + params

    return fn(65, b"2\x00") + fn(67, bytes((module,))) + fn(69, bytes((level,))) + fn(80, b"0" + payload) + fn(81, b"0")


def make_image(width: int, height: int, seed: int) -> Image.Image:
    """A picture with shapes and noise, mode "1"."""
    rnd = random.Random(seed)
    image = Image.new("1", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rnd.randrange(width), rnd.randrange(height)
        draw.rectangle((x0, y0, x0 + rnd.randrange(40), y0 + rnd.randrange(30)), fill=0)
    for _ in range(300):
        image.putpixel((rnd.randrange(width), rnd.randrange(height)), 0)
    return image


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


def blank(image: Image.Image) -> bool:
    return image.convert("L").getextrema() == (255, 255)


def page_key(page: PrintedPage) -> tuple[object, ...]:
    return (page.image.size, page.image.tobytes(), page.text, page.qr, page.cut, page.errors)


def qr_reference(payload: bytes, module: int, level: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=level, box_size=1, border=0)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    image = Image.new("1", (len(matrix), len(matrix)), 255)
    image.putdata([0 if cell else 255 for row in matrix for cell in row])
    return image.resize((image.width * module, image.height * module), Image.Resampling.NEAREST)


# -- decoding -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "mode", "scale"), [(200, 0, (1, 1)), (131, 0, (1, 1)), (96, 3, (2, 2)), (64, 1, (2, 1))]
)
def test_raster_round_trip_is_pixel_exact(width: int, mode: int, scale: tuple[int, int]) -> None:
    image = make_image(width, 90, seed=width)
    pages = decode_escpos(ESC + b"@" + raster(image, mode) + GS + b"V\x00")
    assert len(pages) == 1 and pages[0].cut and pages[0].errors == []
    printed = pages[0].image
    expected = image.resize((width * scale[0], 90 * scale[1]), Image.Resampling.NEAREST)
    assert printed.size == (WIDTH, expected.height)
    assert same_pixels(printed.crop((0, 0, expected.width, expected.height)), expected)
    assert blank(printed.crop((expected.width + 8 * scale[0], 0, WIDTH, expected.height)))


def test_raster_follows_alignment_and_feeds_add_height() -> None:
    image = make_image(160, 40, seed=3)
    pages = decode_escpos(ESC + b"a\x01" + raster(image) + ESC + b"J\x14" + ESC + b"a\x02" + raster(image))
    page = pages[0]
    assert page.image.height == 40 + 20 + 40 and not page.cut
    left = (WIDTH - 160) // 2
    assert same_pixels(page.image.crop((left, 0, left + 160, 40)), image)
    assert blank(page.image.crop((0, 40, WIDTH, 60)))
    assert same_pixels(page.image.crop((WIDTH - 160, 60, WIDTH, 100)), image)


def test_text_lines_code_pages_and_styles() -> None:
    stream = (
        ESC + b"@" + ESC + b"a\x01" + ESC + b"E\x01" + b"UBND XA AN BINH\n" + ESC + b"E\x00" + ESC + b"a\x00"
        + ESC + b"t\x34" + cp1258("Việt Nam đồng") + b"\n" + b"\n"
        + GS + b"!\x11" + b"A 012\n" + ESC + b"t\x10" + "Café".encode("cp1252") + b"\tx\r\n"
    )  # fmt: skip
    (page,) = decode_escpos(stream)
    assert page.text == ["UBND XA AN BINH", "Việt Nam đồng", "", "A 012", "Café    x"]
    assert page.errors == []
    # each LF line is 30 dots (default spacing), the double-size lines 48
    assert page.image.height == 30 * 3 + 48 * 2
    first = page.image.crop((0, 0, WIDTH, 30)).convert("L")
    box = ImageChops.invert(first).getbbox()
    assert box is not None and abs((box[0] + box[2]) / 2 - WIDTH / 2) < 4  # centred
    big = ImageChops.invert(page.image.crop((0, 90, WIDTH, 138)).convert("L")).getbbox()
    small = ImageChops.invert(page.image.crop((0, 30, WIDTH, 60)).convert("L")).getbbox()
    assert big is not None and small is not None and big[3] - big[1] > 1.6 * (small[3] - small[1] - 6)


def test_python_escpos_vietnamese_text_decodes() -> None:
    printer = Dummy()
    line = "Giấy hẹn trả kết quả: Đơn số 12, ỨNG DỤNG ĐỒNG BỘ"
    printer.text(line + "\n")
    assert b"\x1bt\x1e" in printer.output  # python-escpos chose TCVN-3 (ESC t 30)
    (page,) = decode_escpos(printer.output)
    assert page.text == [line] and page.errors == []


@pytest.mark.parametrize(("module", "level", "align"), [(3, 48, 0), (4, 49, 1), (6, 51, 2)])
def test_native_qr_is_drawn_as_qrcode_draws_it(module: int, level: int, align: int) -> None:
    payload = b"HS-2024-000123|UBND xa An Binh"
    pages = decode_escpos(ESC + b"a" + bytes((align,)) + qr_commands(payload, module, level) + GS + b"VA\x00")
    page = pages[0]
    levels = {48: qrcode.constants.ERROR_CORRECT_L, 49: qrcode.constants.ERROR_CORRECT_M}
    levels |= {50: qrcode.constants.ERROR_CORRECT_Q, 51: qrcode.constants.ERROR_CORRECT_H}
    expected = qr_reference(payload, module, levels[level])
    x = [0, (WIDTH - expected.width) // 2, WIDTH - expected.width][align]
    assert page.qr == [payload.decode()] and page.errors == [] and page.cut
    assert page.image.height == expected.height
    assert same_pixels(page.image.crop((x, 0, x + expected.width, expected.height)), expected)
    assert page.text == []


def test_python_escpos_output_decodes_to_sensible_pages() -> None:
    picture = make_image(120, 48, seed=7)
    printer = Dummy()
    printer.set(align="center", bold=True)
    printer.text("PHIEU HEN\n")
    printer.set(align="left", bold=False)
    printer.text("Ma ho so: HS-0001\n")
    printer.qr("HS-0001", native=True, size=5)
    printer.cut()
    for impl in ("bitImageRaster", "graphics", "bitImageColumn"):
        printer.image(picture, impl=impl)
    printer.qr("HS-0002", native=False)
    printer.cut(mode="PART")
    first, second = decode_escpos(printer.output)
    assert first.text == ["PHIEU HEN", "Ma ho so: HS-0001"] and first.qr == ["HS-0001"] and first.cut
    assert first.errors == [] and second.errors == [] and second.cut
    qr = qr_reference(b"HS-0001", 5, qrcode.constants.ERROR_CORRECT_L)
    assert same_pixels(first.image.crop((0, 60, qr.width, 60 + qr.height)), qr)
    # the three image commands print the same picture, one under the other
    y = 0
    for _ in range(3):
        assert same_pixels(second.image.crop((0, y, 120, y + 48)), picture)
        y += 48
    assert second.qr == []  # an image QR is a picture, not a native QR


def test_barcodes_and_other_commands_are_consumed_with_their_length() -> None:
    printer = Dummy()
    printer.barcode("123456789012", "EAN13")
    printer.barcode("{BHS0001", "CODE128", function_type="B")
    printer.cashdraw(2)
    printer.set(invert=True, flip=False, smooth=True, density=5)
    printer.text("END\n")
    stream = printer.output + ESC + b"D\x08\x10\x00" + GS + b"L\x00\x00" + GS + b"W\x40\x02" + b"\x1cp\x01\x00"
    (page,) = decode_escpos(stream + b"ok\n")
    assert page.text == ["[barcode EAN13 123456789012]", "[barcode CODE128 {BHS0001]", "END", "ok"]
    assert page.errors == []


# -- broken input -----------------------------------------------------------------------------------------


def test_unknown_and_truncated_commands_are_recorded_and_skipped() -> None:
    stream = (
        b"A\n"
        + ESC
        + b"y"
        + b"B\n"
        + GS
        + b"V\x07"
        + b"C\n"
        + b"\x01"
        + b"D\n"
        + GS
        + b"v0\x00\xff\xff\xff\xff"
        + b"E\n"
    )
    (page,) = decode_escpos(stream + GS + b"v0\x00\x02\x00\x05\x00\xff")
    assert page.text == ["A", "B", "C", "D", "E"]
    assert [error.split(":", 1)[1].strip()[:12] for error in page.errors] == [
        "unknown comm", "GS V with mo", "control byte", "4294836233 b", "the stream e"
    ]  # fmt: skip
    assert page.errors[0].startswith("byte 2:")


def test_an_image_wider_than_the_paper_is_clipped_and_noted() -> None:
    wide = make_image(400, 20, seed=4)
    (page,) = decode_escpos(raster(wide), 384)
    assert page.image.size == (384, 20) and same_pixels(page.image, wide.crop((0, 0, 384, 20)))
    assert page.errors == ["byte 0: image 400 dots wide on 384-dot paper: clipped"]


def test_a_very_long_line_is_clipped_not_rendered_whole() -> None:
    started = time.monotonic()
    (page,) = decode_escpos(GS + b"!\x77" + b"W" * 200_000 + b"\n")
    assert page.text == ["W" * 200_000] and page.image.size == (WIDTH, 24 * 8)
    assert not blank(page.image.crop((WIDTH - 8, 0, WIDTH, 24 * 8)))
    assert time.monotonic() - started < 3


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_random_bytes_never_crash_or_hang(data: bytes) -> None:
    started = time.monotonic()
    pages = decode_escpos(data, 384)
    assert all(page.image.width == 384 for page in pages)
    assert time.monotonic() - started < 5


CHUNKS = [
    b"Hello ", b"Xin chao\n", b"\n", ESC + b"a\x01", ESC + b"a\x00", ESC + b"E\x01", GS + b"!\x11", GS + b"!\x00",
    ESC + b"J\x10", ESC + b"d\x02", DLE + b"\x04\x01", DLE + b"\x04\x04", GS + b"VB\x05", ESC + b"y", b"\x01",
    raster(make_image(40, 12, seed=1)), qr_commands(b"HS-9", 3, 48) + b"\n", ESC + b"*!\x02\x00" + bytes(range(6)) + b"\n",
    GS + b"(L\x0d\x000p0\x01\x011\x08\x00\x02\x00\xaa\x55", GS + b"(L\x02\x0002", ESC + b"t\x34" + cp1258("ệ"),
    GS + b"k\x04ABC\x00", GS + b"kI\x04{B12",
]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(CHUNKS), min_size=1, max_size=25), st.lists(st.integers(0, 10_000), max_size=12))
def test_any_split_of_a_stream_decodes_the_same(chunks: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(chunks)
    whole = PrinterSimulator()
    whole_answer = whole.feed(stream)
    split = PrinterSimulator()
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    answer = b"".join(split.feed(stream[a:b]) for a, b in zip([0, *points], [*points, len(stream)], strict=True))
    assert answer == whole_answer
    assert [page_key(p) for p in split.pages] == [page_key(p) for p in whole.pages]
    assert page_key(split.current) == page_key(whole.current)
    assert split.received_bytes == whole.received_bytes == len(stream)


# -- status and faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "answers"),
    [
        (None, b"\x12\x12\x12\x12"),
        ("paper_out", b"\x1a\x32\x12\x72"),
        ("paper_near_end", b"\x12\x12\x12\x1e"),
        ("cover_open", b"\x1a\x16\x12\x12"),
    ],
)
def test_status_bytes_for_each_fault(fault: str | None, answers: bytes) -> None:
    sim = PrinterSimulator()
    if fault:
        setattr(sim, fault, True)
    assert sim.feed(DLE + b"\x04\x01" + DLE + b"\x04\x02" + DLE + b"\x04\x03" + DLE + b"\x04\x04") == answers


def test_gs_r_reports_the_paper_sensors() -> None:
    sim = PrinterSimulator()
    assert sim.feed(GS + b"r\x01" + GS + b"r\x02") == b"\x00\x00"
    sim.paper_near_end = True
    assert sim.feed(GS + b"r1") == b"\x03"
    sim.paper_out = True
    assert sim.feed(GS + b"r\x01") == b"\x0f"


def test_paper_out_drops_print_data_until_paper_is_back() -> None:
    sim = PrinterSimulator()
    sim.feed(b"first\n")
    sim.paper_out = True
    lost = b"lost line\n" + raster(make_image(64, 10, seed=2)) + GS + b"V\x00"
    assert sim.feed(lost + DLE + b"\x04\x04") == b"\x72"
    assert sim.dropped_bytes == len(lost) and sim.pages == []
    sim.paper_out = False
    sim.cover_open = True
    assert sim.feed(b"also lost\n") == b"" and sim.dropped_bytes == len(lost) + 10
    sim.cover_open = False
    sim.feed(b"second\n" + GS + b"V\x01")
    assert [page.text for page in sim.pages] == [["first", "second"]]


def test_busy_holds_data_and_answers_nothing() -> None:
    sim = PrinterSimulator()
    sim.busy = True
    assert sim.feed(b"held\n" + DLE + b"\x04\x01" + GS + b"V\x00") == b""
    assert sim.pages == [] and sim.received_bytes == 11
    sim.busy = False
    assert [page.text for page in sim.pages] == [["held"]]
    assert sim.feed(DLE + b"\x04\x01") == b"\x12"


def test_garbage_answers_are_never_status_bytes() -> None:
    sim = PrinterSimulator()
    sim.garbage = True
    for _ in range(20):
        answer = sim.feed(DLE + b"\x04\x01")
        assert 3 <= len(answer) <= 16 and answer[0] & 0x80


def test_bad_parameters_give_device_errors() -> None:
    with pytest.raises(DeviceError) as caught:
        PrinterSimulator(width_dots=3)
    assert "Độ rộng giấy" in caught.value.vi and "paper width" in caught.value.en
    with pytest.raises(DeviceError):
        EscposDecoder(10_000)
    with pytest.raises(DeviceAddressError):
        serve_printer("udp://127.0.0.1:9100", None, 576)
    with pytest.raises(DeviceAddressError):
        serve_printer("serial:///dev/ttyUSB0", None, 576)


# -- files ------------------------------------------------------------------------------------------------


def test_pages_are_saved_as_png_and_text_and_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "0001.png").write_bytes(b"not ours")
    (tmp_path / "0003.txt").write_text("not ours either")
    sim = PrinterSimulator(tmp_path, width_dots=384)
    sim.feed(b"one\n" + qr_commands(b"HS-1") + GS + b"V\x00" + b"two\n" + GS + b"V\x00" + GS + b"V\x00")
    assert [page.png_path.name if page.png_path else None for page in sim.pages] == ["0002.png", "0004.png", "0005.png"]
    assert (tmp_path / "0001.png").read_bytes() == b"not ours"
    assert (tmp_path / "0003.txt").read_text() == "not ours either"
    assert (tmp_path / "0002.txt").read_text(encoding="utf-8") == "one\n[QR] HS-1\n"
    with Image.open(tmp_path / "0002.png") as saved:
        assert same_pixels(saved, sim.pages[0].image)
    again = PrinterSimulator(tmp_path, width_dots=384)
    again.feed(b"three\n" + GS + b"V\x00")
    assert again.pages[0].txt_path == tmp_path / "0006.txt"


# -- real links -------------------------------------------------------------------------------------------


def receipt_stream() -> bytes:
    return (
        ESC + b"@" + ESC + b"a\x01" + b"PHIEU HEN\n" + raster(make_image(256, 120, seed=9)) + qr_commands(b"HS-77")
        + b"\n" + GS + b"VB\x10" + b"page two\n" + DLE + b"\x04\x01" + GS + b"V\x00"
    )  # fmt: skip


def wait_for_pages(sim: PrinterSimulator, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(sim.pages) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_pty_gives_the_same_pages_as_feed() -> None:
    stream = receipt_stream()
    expected = decode_escpos(stream)
    sim = PrinterSimulator()
    with PtyServer(sim) as server:
        port = serial.Serial(server.path, 115200, timeout=2, rtscts=False, dsrdtr=False)
        try:
            for start in range(0, len(stream), 700):
                port.write(stream[start : start + 700])
            assert port.read(1) == b"\x12"
            wait_for_pages(sim, 2)
        finally:
            port.close()
    assert [page_key(p) for p in sim.pages] == [page_key(p) for p in expected]


def test_tcp_gives_the_same_pages_and_a_status_answer() -> None:
    stream = receipt_stream()
    expected = decode_escpos(stream)
    server = serve_printer("tcp://127.0.0.1:0", None, 576)
    try:
        assert isinstance(server, TcpServer) and isinstance(server.sim, PrinterSimulator)
        with socket.create_connection((server.host, server.port), timeout=2) as conn:
            conn.sendall(stream)
            assert conn.recv(1) == b"\x12"
        wait_for_pages(server.sim, 2)
        assert [page_key(p) for p in server.sim.pages] == [page_key(p) for p in expected]
    finally:
        server.stop()


def test_serve_printer_on_a_pty_answers_status() -> None:
    server = serve_printer("pty", None, 384)
    try:
        assert isinstance(server, PtyServer)
        server.sim.paper_out = True
        with serial.Serial(server.path, 9600, timeout=2, rtscts=False, dsrdtr=False) as port:
            port.write(DLE + b"\x04\x04")
            assert port.read(1) == b"\x72"
    finally:
        server.stop()


def test_command_lengths_and_the_names_kept_after_the_split() -> None:
    from devices.printer import escpos_commands, escpos_decode, simulator

    assert escpos_decode.command_length is escpos_commands.command_length
    assert simulator.PrintedPage is escpos_decode.PrintedPage and simulator.decode_escpos is decode_escpos
    assert escpos_commands.command_length(GS + b"v0\x00\x02\x00\x03\x00", 0) == 8 + 6
    assert escpos_commands.command_length(b"xx" + ESC + b"a\x01", 2) == 3
    assert escpos_commands.command_length(GS + b"(k\x04\x00", 0) == 5 + 4
    with pytest.raises(escpos_decode.NeedMore):
        escpos_commands.command_length(GS + b"v0\x00", 0)
    with pytest.raises(escpos_decode.BadCommand) as bad:
        escpos_commands.command_length(ESC + b"y", 0)
    assert "ESC y" in str(bad.value) and bad.value.skip == 2
