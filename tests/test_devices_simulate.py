"""The simulator runner: each kind starts where asked, its URL works with the matching driver, stop frees it."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import serial

from devices.errors import DeviceAddressError, DeviceError, DeviceUnavailable
from devices.keypad import KeypadSimulator, open_keypad
from devices.printer.simulator import PrinterSimulator
from devices.printer.transport import open_printer
from devices.simio import PtyServer, TcpServer
from devices.simulate import Running, start_simulator
from devices.terminal.simulator import TerminalSimulator
from devices.urls import parse_device_url

ENQ, ACK = b"\x05", b"\x06"
PAGE = b"\x1b@" + b"MOT CUA SELF-TEST\n" + b"\x1dV\x00"  # initialise, one line of text, full cut


def wait_until(check: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


def pty_path(running: Running) -> str:
    address = parse_device_url(running.url)
    assert address.scheme == "serial"
    return address.path


def test_terminal_simulator_acknowledges_enq_on_its_pty() -> None:
    with start_simulator("terminal") as running:
        assert isinstance(running.server, PtyServer) and isinstance(running.sim, TerminalSimulator)
        address = parse_device_url(running.url)
        assert address.params == {"baudrate": "9600"}
        with serial.Serial(address.path, baudrate=9600, timeout=2.0, rtscts=False, dsrdtr=False) as port:
            port.write(ENQ)
            assert port.read(1) == ACK
        assert running.describe() == f"Trình mô phỏng máy POS thẻ đang nghe tại {running.url}"
        assert running.describe("en") == f"Card terminal simulator listening at {running.url}"
        path = pty_path(running)
    assert wait_until(lambda: not os.path.exists(path))


def test_keypad_simulator_presses_reach_the_driver() -> None:
    running = start_simulator("keypad", "pty")
    try:
        assert isinstance(running.sim, KeypadSimulator)
        with open_keypad(running.url) as pad:
            running.sim.press(4)
            press = pad.read_press(2.0)
            assert press is not None and press.button == 4
            assert pad.identify(2.0).buttons == 5
        assert running.describe() == f"Trình mô phỏng bàn phím đánh giá đang nghe tại {running.url}"
        assert running.out_dir is None
    finally:
        running.stop()
    running.stop()  # twice is harmless
    assert wait_until(lambda: not os.path.exists(pty_path(running)))
    with pytest.raises(DeviceUnavailable):
        open_keypad(running.url)


@pytest.mark.parametrize("kind", ["terminal", "keypad"])
def test_terminal_and_keypad_listen_on_a_pty_only(kind: str) -> None:
    with pytest.raises(DeviceAddressError) as caught:
        start_simulator(kind, "tcp://127.0.0.1:0")
    assert "pty" in caught.value.vi and "pseudo-terminal" in caught.value.en


@pytest.mark.parametrize("listen", ["udp://127.0.0.1:9100", "tcp://127.0.0.1", "", "serial:///dev/ttyS0"])
def test_bad_listen_addresses_are_refused(listen: str) -> None:
    with pytest.raises(DeviceAddressError):
        start_simulator("keypad", listen)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(DeviceError) as caught:
        start_simulator("scanner")
    assert caught.value.code == "bad_parameter"
    assert "Không có trình mô phỏng" in caught.value.vi and "scanner" in caught.value.en


def _printed(running: Running, out_dir: Path) -> None:
    """Print a page to the running printer simulator through the printer driver; check the page and its files."""
    sim = running.sim
    assert isinstance(sim, PrinterSimulator)
    with open_printer(running.url, timeout=5.0) as printer:
        printer.write(PAGE)
        assert wait_until(lambda: len(sim.pages) == 1)
        status = printer.status()
        assert status is not None and not status.paper_out
    page = sim.pages[0]
    assert page.text == ["MOT CUA SELF-TEST"] and page.cut
    assert (out_dir / "0001.txt").read_text(encoding="utf-8") == "MOT CUA SELF-TEST\n"
    assert (out_dir / "0001.png").stat().st_size > 0


def test_printer_simulator_on_a_pty_prints_a_page(tmp_path: Path) -> None:
    with start_simulator("printer", out_dir=tmp_path, width_dots=384) as running:
        assert isinstance(running.server, PtyServer)
        assert parse_device_url(running.url).params == {"baudrate": "115200"}
        assert running.out_dir == tmp_path
        _printed(running, tmp_path)
        assert running.describe() == f"Trình mô phỏng máy in đang nghe tại {running.url}; trang in lưu tại {tmp_path}"
        assert running.describe("en") == f"Printer simulator listening at {running.url}; pages saved in {tmp_path}"
        assert isinstance(running.sim, PrinterSimulator) and running.sim.width_dots == 384
        path = pty_path(running)
    assert wait_until(lambda: not os.path.exists(path))


def test_printer_simulator_on_tcp_prints_a_page_and_stop_frees_the_port(tmp_path: Path) -> None:
    running = start_simulator("printer", "tcp://127.0.0.1:0", out_dir=tmp_path)
    try:
        assert isinstance(running.server, TcpServer)
        address = parse_device_url(running.url)
        assert (address.scheme, address.host) == ("tcp", "127.0.0.1") and address.port > 0
        _printed(running, tmp_path)
    finally:
        running.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address.host, address.port), timeout=2.0).close()
    again = start_simulator("printer", running.url, out_dir=tmp_path)  # the same port binds again
    try:
        assert again.url == running.url
    finally:
        again.stop()


def test_a_taken_tcp_port_is_a_clear_error(tmp_path: Path) -> None:
    with start_simulator("printer", "tcp://127.0.0.1:0", out_dir=tmp_path) as running:
        with pytest.raises(DeviceUnavailable) as caught:
            start_simulator("printer", running.url, out_dir=tmp_path)
        assert "Không mở được" in caught.value.vi


def test_printer_pages_go_to_a_fresh_folder_when_none_is_given() -> None:
    with start_simulator("printer") as running:
        assert running.out_dir is not None and running.out_dir.is_dir()
        assert list(running.out_dir.iterdir()) == []
        assert str(running.out_dir) in running.describe()
    running.out_dir.rmdir()
