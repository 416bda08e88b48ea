"""Printer transports into the simulator over a real pty and a real TCP socket; status; faults; files."""

from __future__ import annotations

import os
import pty
import socket
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.print import DOCS
from devices.errors import DeviceAddressError, DeviceError, DeviceProtocolError, DeviceTimeout, DeviceUnavailable
from devices.printer.encode import encode_document, page_image
from devices.printer.layout import Document, FeeLine, FeeReceipt, TestPage, layout_document
from devices.printer.profiles import get_profile
from devices.printer.render import VIETNAMESE_LETTERS, render_line
from devices.printer.simulator import PrinterSimulator, decode_escpos
from devices.printer.transport import (
    CoverOpenError,
    PaperOutError,
    PrinterOfflineError,
    PrinterStatus,
    open_printer,
    parse_status,
)
from devices.simio import PtyServer, TcpServer
from devices.vietqr import vietqr_payload

TICKET, RECEIPT = DOCS["ticket"], DOCS["receipt"]  # the documents bench/print.py measures


def wait_for_pages(sim: PrinterSimulator, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(sim.pages) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sim.pages) == count


@pytest.fixture
def pty_printer() -> Iterator[tuple[PtyServer, PrinterSimulator]]:
    sim = PrinterSimulator(width_dots=576)
    with PtyServer(sim) as server:
        yield server, sim


@pytest.fixture
def tcp_printer() -> Iterator[tuple[TcpServer, PrinterSimulator]]:
    sim = PrinterSimulator(width_dots=576)
    with TcpServer(sim) as server:
        yield server, sim


def test_parse_status_bits() -> None:
    assert parse_status(0x12, 0x12, 0x12) == PrinterStatus(True, False, False, False)
    assert parse_status(0x1A, 0x32, 0x72) == PrinterStatus(False, False, True, False)
    assert parse_status(0x1A, 0x16, 0x12) == PrinterStatus(False, False, False, True)
    assert parse_status(0x12, 0x12, 0x1E) == PrinterStatus(True, True, False, False)


def test_serial_pty_prints_pixel_exact(pty_printer: tuple[PtyServer, PrinterSimulator]) -> None:
    server, sim = pty_printer
    with open_printer(f"serial://{server.path}?baudrate=38400", timeout=2) as printer:
        assert printer.status() == PrinterStatus(True, False, False, False)
        sent = printer.print_document(RECEIPT)
    assert sent == len(encode_document(RECEIPT, get_profile("generic-80")))
    wait_for_pages(sim, 1)
    page = sim.pages[0]
    expected = page_image(layout_document(RECEIPT, 576), 576)
    assert page.image.crop((0, 0, 576, expected.height)).tobytes() == expected.tobytes()
    assert page.qr == ["H01.02-260315-0001"]
    assert not page.errors


def test_every_letter_prints_as_rendered() -> None:
    """OCR-free: each Vietnamese letter, printed alone, comes back as the image rendered for it."""
    profile = get_profile("generic-58")
    sim = PrinterSimulator(width_dots=384)
    from devices.printer.encode import encode_blocks
    from devices.printer.layout import Cut, TextRow

    data = b"".join(encode_blocks([TextRow(ch), Cut()], profile) for ch in VIETNAMESE_LETTERS)
    sim.feed(data)
    assert len(sim.pages) == 134
    for ch, page in zip(VIETNAMESE_LETTERS, sim.pages, strict=True):
        expected = render_line(ch, 384)
        assert page.image.crop((0, 0, 384, expected.height)).tobytes() == expected.tobytes(), ch


def test_tcp_prints_ticket_and_fee_receipt_with_vietqr(tcp_printer: tuple[TcpServer, PrinterSimulator]) -> None:
    server, sim = tcp_printer
    payload = vietqr_payload("970415", "0011001932418", 21000, "H01.02-260315-0001")
    fee = FeeReceipt(
        "UBND xã Tân Phú",
        "01BLP0-001",
        "AA/26P",
        "0000123",
        "H01.02-260315-0001",
        (FeeLine("Lệ phí đăng ký khai sinh", 5000), FeeLine("Phí cấp bản sao", 16000)),
        21000,
        "transfer",
        "15/03/2026 08:20",
        "Trần Văn Bình",
        payload,
    )
    with open_printer(server.url, timeout=2) as printer:
        printer.print_document(TICKET)
        printer.print_document(fee)
    wait_for_pages(sim, 2)
    assert sim.pages[1].qr == [payload]
    docs: tuple[Document, ...] = (TICKET, fee)
    for doc, page in zip(docs, sim.pages, strict=True):
        expected = page_image(layout_document(doc, 576), 576)
        assert page.image.crop((0, 0, 576, expected.height)).tobytes() == expected.tobytes()


@pytest.mark.parametrize(
    ("fault", "error", "vi"),
    [("paper_out", PaperOutError, "hết giấy"), ("cover_open", CoverOpenError, "Nắp máy in")],
)
def test_faults_stop_the_job_before_sending(
    pty_printer: tuple[PtyServer, PrinterSimulator], fault: str, error: type[DeviceError], vi: str
) -> None:
    server, sim = pty_printer
    setattr(sim, fault, True)
    with open_printer(f"serial://{server.path}", timeout=2) as printer, pytest.raises(error) as err:
        printer.print_document(TICKET)
    assert vi in err.value.vi
    assert sim.received_bytes == 9  # only the three status questions went out
    assert not sim.pages


def test_offline_and_near_end() -> None:
    with open_printer("sim://printer") as printer:
        assert printer.simulator is not None
        printer.simulator.paper_near_end = True
        state = printer.status()
        assert state is not None and state.paper_near_end and state.online
        printer.print_document(TICKET)  # near end still prints
        assert len(printer.simulator.pages) == 1
    offline = open_printer("sim://printer")
    assert offline.simulator is not None
    offline.write(b"\x10\x04\x01")  # an unread answer is thrown away before the next question
    offline.simulator.cover_open = True
    with pytest.raises(CoverOpenError):
        offline.check_ready()
    assert PrinterOfflineError.code == "printer_offline"


def test_garbage_status_answer(tcp_printer: tuple[TcpServer, PrinterSimulator]) -> None:
    server, sim = tcp_printer
    sim.garbage = True
    with open_printer(server.url, timeout=1) as printer:
        with pytest.raises(DeviceProtocolError) as err:
            printer.status()
        assert "garbage" in err.value.en and "hỏng" in err.value.vi
        sim.garbage = False
        assert printer.status() == PrinterStatus(True, False, False, False)  # the burst was drained


def test_no_status_answer_times_out(pty_printer: tuple[PtyServer, PrinterSimulator]) -> None:
    server, sim = pty_printer
    sim.busy = True
    with open_printer(f"serial://{server.path}", timeout=0.3) as printer:
        started = time.monotonic()
        with pytest.raises(DeviceTimeout):
            printer.print_document(TICKET)
        assert time.monotonic() - started < 2
    sim.busy = False
    assert not sim.pages


def test_profile_without_status_prints_blind(tmp_path: Path) -> None:
    with open_printer("sim://printer", profile="xprinter-xp58") as printer:
        assert printer.status() is None
        assert printer.simulator is not None
        printer.simulator.paper_out = True  # not asked, so not known: the bytes go out
        printer.print_document(TICKET)
        assert printer.simulator.dropped_bytes > 0


def test_file_output_and_no_status(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    with open_printer(f"file://{out}", profile="generic-58") as printer:
        assert printer.status() is None
        sent = printer.print_document(TestPage("UBND xã Tân Phú", "file"))
    data = out.read_bytes()
    assert len(data) == sent and data == encode_document(TestPage("UBND xã Tân Phú", "file"), get_profile("generic-58"))
    page = decode_escpos(data, 384)[0]
    assert page.cut and not page.errors


def test_sim_url_writes_png_and_text(tmp_path: Path) -> None:
    with open_printer(f"sim://printer?out={tmp_path}", profile="generic-58") as printer:
        printer.print_document(RECEIPT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001.png", "0001.txt"]
    assert "[QR]" not in (tmp_path / "0001.txt").read_text()  # 58 mm generic: QR is a raster image


def test_missing_port_refused_host_and_bad_addresses(tmp_path: Path) -> None:
    with pytest.raises(DeviceUnavailable) as err:
        open_printer("serial:///dev/ttyNOPE0")
    assert "Không mở được máy in" in err.value.vi
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(DeviceUnavailable):
        open_printer(f"tcp://127.0.0.1:{port}", timeout=1)
    with pytest.raises(DeviceUnavailable):
        open_printer(f"file://{tmp_path}/no/such/dir/out.bin")
    with pytest.raises(DeviceAddressError):
        open_printer("lpt://1")
    with pytest.raises(DeviceUnavailable):
        open_printer("sim://keypad")
    with pytest.raises(DeviceError, match="profile"):
        open_printer("sim://printer", profile="nope")
    with pytest.raises(DeviceError):
        open_printer("sim://printer", timeout=0)


def test_usb_without_pyusb_is_a_clear_error() -> None:
    from escpos.printer import Usb  # type: ignore[import-untyped]

    if Usb.is_usable():
        pytest.skip("pyusb is installed here")
    with pytest.raises(DeviceUnavailable) as err:
        open_printer("usb://04b8:0202")
    assert "pyusb" in err.value.en and "pyusb" in err.value.vi


def test_stalled_serial_write_times_out() -> None:
    master, slave = pty.openpty()  # nobody reads the master: the port stalls once its buffer is full
    tty.setraw(slave)
    try:
        printer = open_printer(f"serial://{os.ttyname(slave)}", profile="xprinter-xp58", timeout=0.3)
        started = time.monotonic()
        with pytest.raises(DeviceTimeout) as err:
            for _ in range(200):
                printer.write(b"\x00" * 4096)
        printer.close()
        assert time.monotonic() - started < 3
        assert "không nhận dữ liệu" in err.value.vi
    finally:
        os.close(master)
        os.close(slave)


def test_stalled_tcp_write_times_out_and_dropped_connection() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog) but never reads
    try:
        host, port = listener.getsockname()[:2]
        printer = open_printer(f"tcp://{host}:{port}", profile="xprinter-xp58", timeout=0.3)
        with pytest.raises(DeviceTimeout):
            for _ in range(2000):
                printer.write(b"\x00" * 65536)
        printer.close()
        with pytest.raises(DeviceUnavailable):
            printer.write(b"\x1b@")
    finally:
        listener.close()
    sim = PrinterSimulator()
    with TcpServer(sim) as server:
        printer = open_printer(server.url, timeout=1)
        printer.print_document(TICKET)
        wait_for_pages(sim, 1)  # the server has the connection now
        server.drop_connections()
        with pytest.raises((DeviceUnavailable, DeviceTimeout)):
            for _ in range(50):
                printer.print_document(TICKET)
                time.sleep(0.02)
        printer.close()
