"""The Concert terminal simulator, spoken to byte by byte over a real pseudo-terminal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import serial  # type: ignore[import-untyped]

from devices.errors import DeviceAddressError, DeviceError
from devices.simio import PtyServer
from devices.terminal.protocol import (
    ACK,
    ENQ,
    EOT,
    NAK,
    STX,
    Answer,
    Event,
    Frame,
    FrameReader,
    frame,
    last_transaction_request,
    sale_request,
    void_request,
)
from devices.terminal.simulator import NOISE, TerminalSimulator, serve_terminal

ENQ_B, ACK_B, NAK_B, EOT_B = bytes([ENQ]), bytes([ACK]), bytes([NAK]), bytes([EOT])


@pytest.fixture
def server() -> Iterator[PtyServer]:
    srv = serve_terminal("pty")
    yield srv
    srv.stop()


@pytest.fixture
def port(server: PtyServer) -> Iterator[serial.Serial]:
    with serial.Serial(server.path, 9600, timeout=1.0, rtscts=False, dsrdtr=False) as p:
        yield p


def sim_of(server: PtyServer) -> TerminalSimulator:
    assert isinstance(server.sim, TerminalSimulator)
    return server.sim


def send_request(port: serial.Serial, message: bytes) -> None:
    port.write(ENQ_B)
    assert port.read(1) == ACK_B
    port.write(frame(message))
    assert port.read(1) == ACK_B
    port.write(EOT_B)


def read_answer(port: serial.Serial) -> Answer:
    assert port.read(1) == ENQ_B
    port.write(ACK_B)
    reader = FrameReader()
    events: list[Event] = []
    while not events:
        chunk = port.read(1)
        assert chunk, "the simulator stopped in the middle of its answer"
        events = list(reader.feed(chunk))
    assert isinstance(events[0], Frame)
    port.write(ACK_B)
    assert port.read(1) == EOT_B
    return Answer.parse(events[0].message)


def test_serve_terminal_gives_a_running_pty_simulator(server: PtyServer) -> None:
    assert server.path.startswith("/dev/")
    assert sim_of(server).mode == "approve"


def test_serve_terminal_refuses_other_listeners() -> None:
    with pytest.raises(DeviceAddressError) as err:
        serve_terminal("tcp://127.0.0.1:9100")
    assert "pty" in err.value.vi and "pty" in err.value.en


def test_unknown_mode_is_refused_in_both_languages() -> None:
    with pytest.raises(DeviceError) as err:
        TerminalSimulator("explode")
    assert "Chế độ" in err.value.vi and "mode" in err.value.en


def test_sale_is_approved_and_remembered(server: PtyServer, port: serial.Serial) -> None:
    send_request(port, sale_request(150_000, "PAY0001").encode())
    answer = read_answer(port)
    assert (answer.status, answer.amount, answer.reference, answer.currency) == ("0", 150_000, "PAY0001", "704")
    assert answer.report is not None and answer.report.response_code == "00"
    assert answer.report.card.endswith("1234") and len(answer.report.authorization) == 6
    assert sim_of(server).charged_total() == 150_000
    assert sim_of(server).requests == [frame(sale_request(150_000, "PAY0001").encode())]


@pytest.mark.parametrize(("mode", "code"), [("decline", "05"), ("cancel", "17")])
def test_declined_and_cancelled_sales_charge_nothing(
    server: PtyServer, port: serial.Serial, mode: str, code: str
) -> None:
    sim_of(server).mode = mode
    send_request(port, sale_request(20_000, "PAY0002").encode())
    answer = read_answer(port)
    assert answer.status == "7" and answer.report is not None and answer.report.response_code == code
    assert sim_of(server).charged_total() == 0
    assert sim_of(server).transactions[-1].outcome == {"decline": "declined", "cancel": "cancelled"}[mode]


def test_bad_lrc_is_naked_and_resend_accepted(server: PtyServer, port: serial.Serial) -> None:
    good = frame(sale_request(5_000, "PAY0003").encode())
    port.write(ENQ_B)
    assert port.read(1) == ACK_B
    port.write(good[:-1] + bytes([good[-1] ^ 0x55]))
    assert port.read(1) == NAK_B
    port.write(good)
    assert port.read(1) == ACK_B
    port.write(EOT_B)
    assert read_answer(port).status == "0"


def test_nak_once_naks_the_first_good_frame_only(server: PtyServer, port: serial.Serial) -> None:
    sim_of(server).mode = "nak_once"
    good = frame(sale_request(5_000, "PAY0004").encode())
    port.write(ENQ_B)
    assert port.read(1) == ACK_B
    port.write(good)
    assert port.read(1) == NAK_B
    port.write(good)
    assert port.read(1) == ACK_B
    port.write(EOT_B)
    assert read_answer(port).status == "0"


def test_timeout_mode_approves_but_never_answers_then_last_transaction_tells(
    server: PtyServer, port: serial.Serial
) -> None:
    sim = sim_of(server)
    sim.mode = "timeout"
    send_request(port, sale_request(30_000, "PAY0005").encode())
    port.timeout = 0.3
    assert port.read(1) == b""
    assert sim.charged_total() == 30_000
    sim.mode = "approve"
    port.timeout = 1.0
    send_request(port, last_transaction_request().encode())
    answer = read_answer(port)
    assert (answer.status, answer.amount, answer.reference) == ("0", 30_000, "PAY0005")
    assert answer.report is not None and answer.report.extension and not answer.report.voided


def test_silent_mid_stops_after_its_enq(server: PtyServer, port: serial.Serial) -> None:
    sim_of(server).mode = "silent_mid"
    send_request(port, sale_request(30_000, "PAY0006").encode())
    assert port.read(1) == ENQ_B
    port.write(ACK_B)
    port.timeout = 0.3
    assert port.read(10) == b""
    assert sim_of(server).charged_total() == 30_000


def test_garbage_answer_never_has_a_good_frame(server: PtyServer, port: serial.Serial) -> None:
    sim_of(server).mode = "garbage"
    send_request(port, sale_request(30_000, "PAY0007").encode())
    assert port.read(1) == ENQ_B
    reader = FrameReader()
    for _ in range(3):
        port.write(ACK_B if _ == 0 else NAK_B)
        data = port.read(len(NOISE) + 83)
        assert STX in data
        events = reader.feed(data)
        assert events and not any(isinstance(e, Frame) for e in events)
    port.write(NAK_B)
    assert port.read(1) == EOT_B


def test_void_marks_the_sale_and_last_transaction_reports_it(server: PtyServer, port: serial.Serial) -> None:
    sim = sim_of(server)
    send_request(port, sale_request(1_000, "PAY0008").encode())
    read_answer(port)
    send_request(port, void_request("PAY0008", 1_000).encode())
    assert read_answer(port).status == "0"
    assert sim.charged_total() == 0 and sim.transactions[0].voided
    send_request(port, last_transaction_request().encode())
    last = read_answer(port)
    assert last.report is not None and last.report.kind == "2" and last.reference == "PAY0008"


def test_void_of_unknown_sale_is_refused(server: PtyServer, port: serial.Serial) -> None:
    send_request(port, void_request("NOPE", 1_000).encode())
    answer = read_answer(port)
    assert answer.status == "7" and answer.report is not None and answer.report.response_code == "25"


def test_last_transaction_with_none_says_no_record(server: PtyServer, port: serial.Serial) -> None:
    send_request(port, last_transaction_request().encode())
    answer = read_answer(port)
    assert answer.status == "7" and answer.reference == ""
    assert answer.report is not None and answer.report.response_code == "25" and answer.report.extension


def test_terminal_without_extension_naks_the_query(server: PtyServer, port: serial.Serial) -> None:
    sim_of(server).supports_last_transaction = False
    port.write(ENQ_B)
    assert port.read(1) == ACK_B
    port.write(frame(last_transaction_request().encode()))
    assert port.read(1) == NAK_B


def test_delay_holds_the_answer_and_busy_terminal_naks_enq(server: PtyServer, port: serial.Serial) -> None:
    sim_of(server).delay_s = 0.4
    send_request(port, sale_request(9_000, "PAY0009").encode())
    port.timeout = 0.1
    assert port.read(1) == b""
    port.write(ENQ_B)
    assert port.read(1) == NAK_B
    port.timeout = 1.0
    assert read_answer(port).reference == "PAY0009"


def test_enq_then_eot_is_a_harmless_ping(server: PtyServer, port: serial.Serial) -> None:
    port.write(ENQ_B)
    assert port.read(1) == ACK_B
    port.write(EOT_B)
    port.timeout = 0.2
    assert port.read(1) == b""
    assert sim_of(server).transactions == []
