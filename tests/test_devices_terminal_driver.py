"""The Concert driver against the terminal simulator over a real pseudo-terminal: every payment path."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from devices.errors import DeviceAddressError, DeviceError, DeviceTimeout, DeviceUnavailable
from devices.simio import PtyServer, Reply
from devices.terminal import ConcertTerminal, TerminalOutcomeUnknown, TerminalResult, open_terminal
from devices.terminal.link import LinkLost
from devices.terminal.protocol import (
    ACK,
    ENQ,
    EOT,
    NAK,
    Answer,
    Control,
    Frame,
    FrameReader,
    Report,
    frame,
    sale_request,
)
from devices.terminal.simulator import TerminalSimulator, serve_terminal

ANSWER_TIMEOUT = 0.6
ACK_TIMEOUT = 0.15


@pytest.fixture
def server() -> Iterator[PtyServer]:
    srv = serve_terminal("pty")
    yield srv
    srv.stop()


@pytest.fixture
def sim(server: PtyServer) -> TerminalSimulator:
    assert isinstance(server.sim, TerminalSimulator)
    return server.sim


@pytest.fixture
def term(server: PtyServer) -> Iterator[ConcertTerminal]:
    with open_terminal(
        f"serial://{server.path}?baudrate=115200", answer_timeout=ANSWER_TIMEOUT, ack_timeout=ACK_TIMEOUT
    ) as terminal:
        yield terminal


def pay(term: ConcertTerminal, sim: TerminalSimulator, amount: int, reference: str) -> TerminalResult:
    """Follow the caller's contract: after an unknown outcome, reconcile before any new attempt.

    The terminal "recovers" (mode back to approve) after the first failure, as a real one would
    after a cable is pushed back in.
    """
    for _ in range(3):
        try:
            return term.sale(amount, reference)
        except DeviceUnavailable:
            sim.mode = "approve"
        except TerminalOutcomeUnknown:
            sim.mode = "approve"
            last = term.last_transaction()
            if last is not None and last.reference == reference and last.kind == "sale":
                return last
    raise AssertionError("payment did not settle")


def test_approved_sale(term: ConcertTerminal, sim: TerminalSimulator) -> None:
    result = term.sale(150_000, "PAY0001")
    assert (result.outcome, result.amount, result.reference, result.kind) == ("approved", 150_000, "PAY0001", "sale")
    assert result.card == "970436******1234" and len(result.authorization) == 6
    assert result.raw.startswith("010001500001") and result.raw.endswith("704PAY0001   ")
    assert result.message_vi == "Giao dịch thẻ được chấp nhận."
    assert sim.requests == [b"\x020100150000110704PAY0001   A010B010\x03\x6f"]
    assert sim.charged_total() == 150_000


def test_declined_sale(term: ConcertTerminal, sim: TerminalSimulator) -> None:
    sim.mode = "decline"
    result = term.sale(50_000, "PAY0002")
    assert result.outcome == "declined" and result.authorization == "" and "từ chối" in result.message_vi
    assert sim.charged_total() == 0


def test_cancelled_by_card_holder(term: ConcertTerminal, sim: TerminalSimulator) -> None:
    sim.mode = "cancel"
    result = term.sale(50_000, "PAY0003")
    assert result.outcome == "cancelled" and result.card == "" and "hủy" in result.message_vi
    assert sim.charged_total() == 0


def test_nak_then_ok_charges_once(term: ConcertTerminal, sim: TerminalSimulator) -> None:
    sim.mode = "nak_once"
    assert term.sale(70_000, "PAY0004").outcome == "approved"
    assert len(sim.transactions) == 1 and sim.charged_total() == 70_000


def test_enq_not_answered_is_unavailable_and_charges_nothing(
    server: PtyServer, term: ConcertTerminal, sim: TerminalSimulator
) -> None:
    server.silent = True
    started = time.monotonic()
    with pytest.raises(DeviceUnavailable) as err:
        term.sale(80_000, "PAY0005")
    assert not isinstance(err.value, TerminalOutcomeUnknown)
    assert "không trả lời" in err.value.vi and "does not answer" in err.value.en
    assert time.monotonic() - started < 3 * ACK_TIMEOUT + 1
    assert sim.transactions == [] and sim.charged_total() == 0
    assert term.status().state == "offline"
    server.silent = False
    assert pay(term, sim, 80_000, "PAY0005").outcome == "approved"
    assert sim.charged_total() == 80_000


def test_missing_port_is_unavailable() -> None:
    with pytest.raises(DeviceUnavailable) as err:
        open_terminal("serial:///dev/ttyNOPE42", ack_timeout=ACK_TIMEOUT)
    assert "/dev/ttyNOPE42" in err.value.vi and "/dev/ttyNOPE42" in err.value.en


def test_answer_timeout_is_unknown_and_reconciliation_finds_the_approved_sale(
    term: ConcertTerminal, sim: TerminalSimulator
) -> None:
    sim.mode = "timeout"
    with pytest.raises(TerminalOutcomeUnknown) as err:
        term.sale(120_000, "PAY0006")
    assert "giao dịch gần nhất" in err.value.vi and "last transaction" in err.value.en
    sim.mode = "approve"
    last = term.last_transaction()
    assert last is not None and (last.outcome, last.reference, last.amount, last.kind) == (
        "approved",
        "PAY0006",
        120_000,
        "sale",
    )
    assert sim.charged_total() == 120_000  # the box does not charge again


@pytest.mark.parametrize("mode", ["silent_mid", "garbage"])
def test_broken_answer_is_unknown_then_reconciled(term: ConcertTerminal, sim: TerminalSimulator, mode: str) -> None:
    sim.mode = mode
    with pytest.raises(TerminalOutcomeUnknown):
        term.sale(90_000, "PAY0007")
    sim.mode = "approve"
    last = term.last_transaction()
    assert last is not None and last.reference == "PAY0007" and last.outcome == "approved"
    assert sim.charged_total() == 90_000


def test_link_lost_mid_transaction_is_unknown(server: PtyServer, term: ConcertTerminal, sim: TerminalSimulator) -> None:
    sim.delay_s = 5.0
    threading.Timer(0.2, server.stop).start()
    with pytest.raises(TerminalOutcomeUnknown) as err:
        term.sale(10_000, "PAY0008")
    assert isinstance(err.value.__cause__, LinkLost)
    assert len(sim.requests) == 1


@pytest.mark.parametrize("mode", ["approve", "nak_once", "timeout", "silent_mid", "garbage", "decline", "cancel"])
def test_no_path_charges_twice_when_the_contract_is_followed(
    term: ConcertTerminal, sim: TerminalSimulator, mode: str
) -> None:
    sim.mode = mode
    result = pay(term, sim, 25_000, "PAY0009")
    expected = 0 if mode in ("decline", "cancel") else 25_000
    assert sim.charged_total() == expected
    assert result.outcome == ("approved" if expected else {"decline": "declined", "cancel": "cancelled"}[mode])
    assert sum(1 for t in sim.transactions if t.kind == "sale") == 1


def test_void_of_an_approved_sale(term: ConcertTerminal, sim: TerminalSimulator) -> None:
    term.sale(40_000, "PAY0010")
    result = term.void("PAY0010", 40_000)
    assert (result.outcome, result.kind, result.reference) == ("approved", "void", "PAY0010")
    assert sim.charged_total() == 0
    last = term.last_transaction()
    assert last is not None and last.kind == "void" and last.outcome == "approved"


def test_void_of_an_unknown_sale_is_declined(term: ConcertTerminal, sim: TerminalSimulator) -> None:
    result = term.void("NOSUCH", 40_000)
    assert result.outcome == "declined" and "không tìm thấy" in result.message_vi


def test_a_sale_found_by_reconciliation_can_be_voided(term: ConcertTerminal, sim: TerminalSimulator) -> None:
    assert term.last_transaction() is None
    sim.mode = "timeout"
    with pytest.raises(TerminalOutcomeUnknown):
        term.sale(40_000, "PAY0011")
    sim.mode = "approve"
    found = term.last_transaction()
    assert found is not None and found.outcome == "approved" and not found.voided
    assert term.void(found.reference, found.amount).outcome == "approved"
    assert sim.transactions[0].voided and sim.charged_total() == 0


def test_terminal_without_the_extension_says_not_supported(term: ConcertTerminal, sim: TerminalSimulator) -> None:
    sim.supports_last_transaction = False
    with pytest.raises(DeviceError) as err:
        term.last_transaction()
    assert err.value.code == "not_supported" and "không hỗ trợ" in err.value.vi


def test_status_ready_and_busy(term: ConcertTerminal, sim: TerminalSimulator) -> None:
    status = term.status()
    assert status.ready and status.message_vi == "Máy POS sẵn sàng."
    sim.delay_s = 2 * ANSWER_TIMEOUT
    with pytest.raises(TerminalOutcomeUnknown):
        term.sale(1_000, "PAY0012")
    assert term.status().state == "busy"


def test_bad_amount_sends_nothing(term: ConcertTerminal, sim: TerminalSimulator) -> None:
    with pytest.raises(DeviceError) as err:
        term.sale(100_000_000, "PAY0013")
    assert not isinstance(err.value, DeviceUnavailable | TerminalOutcomeUnknown)
    assert sim.requests == []


def test_sim_terminal_sale_and_void_of_1000_dong() -> None:
    with open_terminal("sim://terminal", answer_timeout=ANSWER_TIMEOUT, ack_timeout=ACK_TIMEOUT) as term:
        assert term.simulator is not None
        assert term.status().ready
        sale = term.sale(1_000, "SELFTEST")
        assert sale.outcome == "approved" and sale.amount == 1_000
        assert term.void("SELFTEST", 1_000).outcome == "approved"
        assert term.simulator.charged_total() == 0
        assert term.simulator.requests[0] == frame(sale_request(1_000, "SELFTEST").encode())


@pytest.mark.parametrize(
    "url", ["tcp://127.0.0.1:9100", "sim://printer", "file:///tmp/x", "serial:///dev/ttyS0?parity=X", "bogus"]
)
def test_unusable_addresses(url: str) -> None:
    with pytest.raises(DeviceAddressError) as err:
        open_terminal(url)
    assert err.value.vi and err.value.en


class ScriptedTerminal:
    """A terminal that follows Concert's link but answers with a fixed message, for answers the simulator never gives."""

    def __init__(self, answer: bytes | None, *, ack_frame: bool = True, nak_enq: bool = False) -> None:
        self.answer = answer
        self.ack_frame = ack_frame
        self.nak_enq = nak_enq
        self.reader = FrameReader()
        self.stage = "idle"

    def received(self, data: bytes, reply: Reply) -> None:
        for event in self.reader.feed(data):
            if event == Control(ENQ):
                reply(bytes([NAK if self.nak_enq else ACK]))
            elif isinstance(event, Frame) and self.ack_frame:
                self.stage = "request"
                reply(bytes([ACK]))
            elif event == Control(EOT) and self.stage == "request" and self.answer is not None:
                self.stage = "enq"
                reply(bytes([ENQ]))
            elif event == Control(ACK) and self.stage == "enq" and self.answer is not None:
                self.stage = "frame"
                reply(frame(self.answer))
            elif event == Control(ACK) and self.stage == "frame":
                self.stage = "idle"
                reply(bytes([EOT]))


@pytest.fixture
def scripted() -> Iterator[Callable[[ScriptedTerminal], ConcertTerminal]]:
    opened: list[tuple[PtyServer, ConcertTerminal]] = []

    def start(script: ScriptedTerminal) -> ConcertTerminal:
        server = PtyServer(script)
        server.start()
        term = open_terminal(f"serial://{server.path}", answer_timeout=ANSWER_TIMEOUT, ack_timeout=ACK_TIMEOUT)
        opened.append((server, term))
        return term

    yield start
    for server, term in opened:
        term.close()
        server.stop()


def test_frame_never_acknowledged_is_unknown(scripted: Callable[[ScriptedTerminal], ConcertTerminal]) -> None:
    term = scripted(ScriptedTerminal(None, ack_frame=False))
    with pytest.raises(TerminalOutcomeUnknown) as err:
        term.sale(10_000, "PAY0020")
    assert isinstance(err.value.__cause__, DeviceTimeout)


def test_busy_terminal_is_unavailable(scripted: Callable[[ScriptedTerminal], ConcertTerminal]) -> None:
    term = scripted(ScriptedTerminal(None, nak_enq=True))
    with pytest.raises(DeviceUnavailable) as err:
        term.sale(10_000, "PAY0021")
    assert "bận" in err.value.vi and "busy" in err.value.en
    assert term.status().state == "busy"


@pytest.mark.parametrize(
    "answer",
    [
        Answer("9", 10_000, "PAY0022"),  # request taken, no outcome
        Answer("0", 10_000, "OTHER"),  # about another payment
        Answer("0", 99_000, "PAY0022"),  # another amount
        Answer("0", 10_000, "PAY0022", currency="978"),  # another currency
    ],
)
def test_answers_not_about_this_payment_are_unknown(
    scripted: Callable[[ScriptedTerminal], ConcertTerminal], answer: Answer
) -> None:
    term = scripted(ScriptedTerminal(answer.encode()))
    with pytest.raises(TerminalOutcomeUnknown):
        term.sale(10_000, "PAY0022")


@pytest.mark.parametrize(("status", "outcome"), [("0", "approved"), ("7", "declined")])
def test_short_answer_without_rep_gives_the_outcome_from_the_status(
    scripted: Callable[[ScriptedTerminal], ConcertTerminal], status: str, outcome: str
) -> None:
    term = scripted(ScriptedTerminal(Answer(status, 10_000, "PAY0023").encode()))
    result = term.sale(10_000, "PAY0023")
    assert (result.outcome, result.card, result.authorization) == (outcome, "", "")


def test_last_transaction_answer_without_the_marker_is_not_supported(
    scripted: Callable[[ScriptedTerminal], ConcertTerminal],
) -> None:
    rep = Report(card="970436******1234", response_code="00")
    term = scripted(ScriptedTerminal(Answer("0", 0, "", rep).encode()))
    with pytest.raises(DeviceError) as err:
        term.last_transaction()
    assert err.value.code == "not_supported"
