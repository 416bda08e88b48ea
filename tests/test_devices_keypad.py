"""Rating keypad: the driver against the simulator over a real pseudo-terminal (devices.simio.PtyServer)."""

from __future__ import annotations

import os
import random
import time
import unicodedata
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import DeviceAddressError, DeviceError, DeviceProtocolError, DeviceTimeout, DeviceUnavailable
from devices.keypad import (
    LEVELS,
    KeypadInfo,
    KeypadSimulator,
    SerialKeypad,
    open_keypad,
    satisfaction_level,
    serve_keypad,
)
from devices.keypad.protocol import LineSplitter
from devices.simio import PtyServer


@pytest.fixture
def server() -> Iterator[PtyServer]:
    srv = serve_keypad()
    yield srv
    srv.stop()


@pytest.fixture
def sim(server: PtyServer) -> KeypadSimulator:
    assert isinstance(server.sim, KeypadSimulator)
    return server.sim


@pytest.fixture
def keypad(server: PtyServer) -> Iterator[SerialKeypad]:
    with open_keypad(f"serial://{server.path}?baudrate=115200", debounce_s=0.3) as pad:
        yield pad


def wait_until(check: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


def test_a_press_arrives_with_the_time_it_came(keypad: SerialKeypad, sim: KeypadSimulator) -> None:
    before = time.monotonic()
    sim.press(2)
    press = keypad.read_press(2.0)
    assert press is not None and press.button == 2
    assert before <= press.at <= time.monotonic()
    assert keypad.read_press(0.1) is None
    assert keypad.errors == 0


def test_read_press_waits_only_as_long_as_asked(keypad: SerialKeypad) -> None:
    start = time.monotonic()
    assert keypad.read_press(0.2) is None
    assert 0.18 <= time.monotonic() - start < 1.0


def test_contact_chatter_is_one_press(keypad: SerialKeypad, sim: KeypadSimulator) -> None:
    sim.chatter(3, times=4, gap_s=0.01)
    press = keypad.read_press(2.0)
    assert press is not None and press.button == 3
    assert keypad.read_press(0.3) is None
    assert keypad.debounced == 3


def test_two_different_buttons_quickly_are_two_presses(keypad: SerialKeypad, sim: KeypadSimulator) -> None:
    sim.press(1)
    sim.press(5)
    sim.press(1)
    buttons = [p.button for p in (keypad.read_press(2.0), keypad.read_press(2.0), keypad.read_press(2.0)) if p]
    assert buttons == [1, 5, 1]
    assert keypad.debounced == 0


def test_same_button_after_the_debounce_time_is_a_new_press(server: PtyServer, sim: KeypadSimulator) -> None:
    with open_keypad(f"serial://{server.path}", debounce_s=0.1) as pad:
        sim.press(4)
        time.sleep(0.2)
        sim.press(4)
        first, second = pad.read_press(2.0), pad.read_press(2.0)
        assert first is not None and second is not None
        assert (first.button, second.button) == (4, 4)
        assert second.at - first.at >= 0.1


def test_garbage_overlong_and_unknown_buttons_are_skipped_and_counted(
    keypad: SerialKeypad, server: PtyServer, sim: KeypadSimulator
) -> None:
    sim.garbage()
    server.write(b"Z" * 200 + b"\r\n")  # overlong
    server.write(b"K9\r\nK0\r\nK\r\nK12345\r\n\xc3\xa9\r\n")  # not on the pad, empty, too long a number, UTF-8
    sim.press(4)
    press = keypad.read_press(2.0)
    assert press is not None and press.button == 4
    assert keypad.errors == 7
    assert keypad.read_press(0.1) is None


def test_random_line_noise_never_stops_the_driver(keypad: SerialKeypad, server: PtyServer) -> None:
    noise = random.Random(7).randbytes(8192)
    for start in range(0, len(noise), 512):
        server.write(noise[start : start + 512])
    server.write(b"\r\nK2\r\n")
    press = keypad.read_press(3.0)
    assert press is not None and press.button == 2
    assert keypad.errors > 0
    assert keypad.read_press(0.1) is None


def test_lines_split_across_reads(keypad: SerialKeypad, server: PtyServer) -> None:
    server.write(b"K")
    time.sleep(0.1)
    server.write(b"5\r")
    assert keypad.read_press(0.15) is None  # no press before the line ends
    server.write(b"\nK2")
    press = keypad.read_press(2.0)
    assert press is not None and press.button == 5
    server.write(b"\r\n")
    press = keypad.read_press(2.0)
    assert press is not None and press.button == 2
    assert keypad.errors == 0


def test_an_overlong_line_split_across_reads_is_dropped_whole(keypad: SerialKeypad, server: PtyServer) -> None:
    for _ in range(3):
        server.write(b"K1" * 20)
        time.sleep(0.05)
    server.write(b"K1\r\nK3\r\n")  # the tail "K1" belongs to the overlong line; K3 is a press
    press = keypad.read_press(2.0)
    assert press is not None and press.button == 3
    assert keypad.errors == 1
    assert keypad.read_press(0.1) is None


def test_identify(keypad: SerialKeypad, sim: KeypadSimulator) -> None:
    assert keypad.identify(timeout=2.0) == KeypadInfo("MCK-SIM", 5)
    assert sim.queries == 1


def test_identify_teaches_the_driver_how_many_buttons_there_are() -> None:
    server = serve_keypad(sim=KeypadSimulator(buttons=3, model="RK3"))
    try:
        with open_keypad(f"serial://{server.path}") as pad:
            assert pad.buttons == 5
            assert pad.identify(timeout=2.0) == KeypadInfo("RK3", 3)
            assert pad.buttons == 3
            server.write(b"K4\r\nK3\r\n")
            press = pad.read_press(2.0)
            assert press is not None and press.button == 3
            assert pad.errors == 1
    finally:
        server.stop()


def test_presses_during_identify_are_kept(keypad: SerialKeypad, sim: KeypadSimulator) -> None:
    sim.press(2)
    assert keypad.identify(timeout=2.0).buttons == 5
    press = keypad.read_press(2.0)
    assert press is not None and press.button == 2


def test_identify_times_out_when_the_keypad_is_silent(keypad: SerialKeypad, server: PtyServer) -> None:
    server.silent = True
    start = time.monotonic()
    with pytest.raises(DeviceTimeout) as caught:
        keypad.identify(timeout=0.3)
    assert 0.28 <= time.monotonic() - start < 1.5
    assert "không trả lời" in caught.value.vi and "did not answer" in caught.value.en


class _WrongAnswer:
    """A keypad that answers the identify query outside the protocol."""

    def received(self, data: bytes, reply: Callable[[bytes], None]) -> None:
        if b"?" in data:
            reply(b"OK RK 7\r\n")


def test_a_wrong_identify_answer_is_a_protocol_error() -> None:
    with PtyServer(_WrongAnswer()) as server, open_keypad(f"serial://{server.path}") as pad:
        with pytest.raises(DeviceProtocolError) as caught:
            pad.identify(timeout=2.0)
        assert "OK RK 7" in caught.value.en
        assert pad.errors == 1


def test_an_unplugged_keypad_is_unavailable(server: PtyServer, keypad: SerialKeypad) -> None:
    server.stop()
    with pytest.raises(DeviceUnavailable) as caught:
        keypad.read_press(2.0)
    assert "Mất kết nối" in caught.value.vi


def test_a_closed_keypad_says_so(server: PtyServer) -> None:
    pad = open_keypad(f"serial://{server.path}")
    pad.close()
    pad.close()  # twice is harmless
    with pytest.raises(DeviceUnavailable):
        pad.read_press(0.1)
    with pytest.raises(DeviceUnavailable):
        pad.identify(0.1)


def test_sim_keypad_runs_the_simulator_in_process() -> None:
    with open_keypad("sim://keypad?buttons=3", debounce_s=0.05) as pad:
        assert pad.simulator is not None
        path = pad.name
        assert os.path.exists(path)
        pad.simulator.press(3)
        press = pad.read_press(2.0)
        assert press is not None and press.button == 3
        assert pad.identify(2.0) == KeypadInfo("MCK-SIM", 3)
    assert wait_until(lambda: not os.path.exists(path))


def test_a_real_keypad_has_no_simulator(keypad: SerialKeypad) -> None:
    assert keypad.simulator is None


@pytest.mark.parametrize(
    ("url", "error", "words"),
    [
        ("tcp://127.0.0.1:9100", DeviceAddressError, "serial://"),
        ("sim://printer", DeviceAddressError, "sim://keypad"),
        ("serial:///dev/no-such-keypad", DeviceUnavailable, "Không mở được"),
        ("serial:///dev/no-such-keypad?baudrate=0", DeviceAddressError, "baud"),
        ("serial:///dev/no-such-keypad?baudrate=fast", DeviceAddressError, "baudrate"),
        ("sim://keypad?buttons=4", DeviceError, "3 hoặc 5"),
        ("", DeviceAddressError, "trống"),
    ],
)
def test_bad_addresses_give_clear_errors(url: str, error: type[DeviceError], words: str) -> None:
    with pytest.raises(error) as caught:
        open_keypad(url)
    assert words in caught.value.vi
    assert caught.value.en and caught.value.vi != caught.value.en


def test_bad_serial_settings_are_an_address_error(server: PtyServer) -> None:
    with pytest.raises(DeviceAddressError) as caught:
        open_keypad(f"serial://{server.path}?parity=Q")
    assert "Tham số cổng nối tiếp" in caught.value.vi


def test_bad_parameters_give_clear_errors(server: PtyServer, keypad: SerialKeypad) -> None:
    with pytest.raises(DeviceError, match="debounce_s"):
        open_keypad(f"serial://{server.path}", debounce_s=-1)
    with pytest.raises(DeviceError, match="3 or 5"):
        open_keypad(f"serial://{server.path}", buttons=4)
    for bad in (float("nan"), -0.5, float("inf")):
        with pytest.raises(DeviceError, match="timeout"):
            keypad.read_press(bad)
    with pytest.raises(DeviceError, match="timeout"):
        keypad.identify(-1)


def test_simulator_refuses_what_a_keypad_cannot_do() -> None:
    sim = KeypadSimulator(buttons=3)
    with pytest.raises(DeviceUnavailable):
        sim.press(1)  # not attached to a port yet
    sent: list[bytes] = []
    sim.attach(sent.append)
    with pytest.raises(DeviceError, match="no button 4"):
        sim.press(4)
    sim.press(3)
    assert sent == [b"K3\r\n"]
    with pytest.raises(DeviceError):
        KeypadSimulator(buttons=2)
    with pytest.raises(DeviceError):
        KeypadSimulator(model="two words")
    with pytest.raises(DeviceAddressError, match="pseudo-terminal"):
        serve_keypad("tcp://127.0.0.1:0")


def test_simulator_answers_a_query_split_across_writes() -> None:
    sim = KeypadSimulator()
    answers: list[bytes] = []
    for chunk in (b"?", b"\r", b"\n?\r\n", b"junk"):
        sim.received(chunk, answers.append)
    assert answers == [b"OK MCK-SIM 5\r\n"] * 2
    assert sim.queries == 2


def test_satisfaction_levels_keep_both_ends_on_3_and_5_button_pads() -> None:
    assert [satisfaction_level(b, 5) for b in range(1, 6)] == [1, 2, 3, 4, 5]
    assert [satisfaction_level(b, 3) for b in range(1, 4)] == [1, 3, 5]
    assert LEVELS[1] == ("Rất hài lòng", "Very satisfied")
    assert LEVELS[5][1] == "Very dissatisfied"
    for vi, _ in LEVELS.values():
        assert unicodedata.is_normalized("NFC", vi)
    for button, buttons in ((0, 5), (6, 5), (4, 3), (1, 4)):
        with pytest.raises(DeviceError):
            satisfaction_level(button, buttons)


@given(
    st.lists(st.sampled_from([b"K1", b"K22", b"OK X 5", b"", b"\x00zz", b"A" * 70]), max_size=12),
    st.lists(st.integers(min_value=1, max_value=40), max_size=20),
)
def test_line_splitting_does_not_depend_on_how_bytes_arrive(lines: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(line + b"\r\n" for line in lines)
    expected = [line for line in lines if line and len(line) + 1 <= 64]
    splitter = LineSplitter()
    got: list[bytes] = []
    pos = 0
    for cut in cuts:
        got += splitter.feed(stream[pos : pos + cut])
        pos += cut
    got += splitter.feed(stream[pos:])
    assert got == expected
    assert splitter.overlong == sum(1 for line in lines if len(line) + 1 > 64)
