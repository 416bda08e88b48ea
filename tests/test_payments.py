"""The card payment state machine: every path, and no path charges twice.

A scripted terminal keeps a ledger of what it charged, so each test can check the money, not
only the states. (tests/test_devices_wiring.py drives the same code through the real Concert
simulator on a pseudo-terminal.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from edge import payments
from edge.box import Box
from edge.errors import ConflictError, ValidationError
from edge.ports import CardResult, NotConfigured, NotDelivered, OutcomeUnknown

URL = "serial:///dev/ttyTEST"


@dataclass
class Ledger:
    """What the terminal did, whatever the box heard."""

    sales: list[dict[str, Any]] = field(default_factory=list)

    def charged(self) -> int:
        return sum(s["amount"] for s in self.sales if s["outcome"] == "approved" and not s["voided"])


@dataclass
class ScriptedTerminal:
    """A terminal whose next behaviour the test chooses."""

    ledger: Ledger
    mode: str = "approve"  # approve | decline | cancel | not_delivered | lost_after_charge | lost_before_charge | crash
    last_mode: str = "ok"  # ok | unavailable
    url: str = URL

    def sale(self, amount: int, reference: str) -> CardResult:
        if self.mode == "not_delivered":
            raise NotDelivered("Máy POS không trả lời.", "The terminal does not answer.")
        if self.mode == "lost_before_charge":
            raise OutcomeUnknown("Mất kết nối.", "Link lost.")
        outcome = {"decline": "declined", "cancel": "cancelled"}.get(self.mode, "approved")
        self.ledger.sales.append({"reference": reference, "amount": amount, "outcome": outcome, "voided": False})
        if self.mode == "lost_after_charge":
            raise OutcomeUnknown("Hết thời gian chờ.", "Answer timed out.")
        if self.mode == "crash":
            raise KeyboardInterrupt  # the box dies between the terminal's charge and writing it down
        return CardResult(outcome, amount, reference, authorization="A1B2C3", card="************1234")

    def void(self, reference: str, amount: int) -> CardResult:
        for sale in self.ledger.sales:
            if sale["reference"] == reference and sale["outcome"] == "approved":
                sale["voided"] = True
                return CardResult("approved", amount, reference)
        return CardResult("declined", amount, reference, message_vi="Không có giao dịch", message_en="No transaction")

    def last_transaction(self) -> CardResult | None:
        if self.last_mode == "unavailable":
            raise NotDelivered("Máy POS không trả lời.", "The terminal does not answer.")
        if not self.ledger.sales:
            return None
        last = self.ledger.sales[-1]
        return CardResult(last["outcome"], last["amount"], last["reference"])

    def status(self) -> tuple[str, str]:
        return "Máy POS sẵn sàng.", "The terminal is ready."

    def close(self) -> None:
        pass


@dataclass
class Opener:
    """The composition root's part, for one scripted terminal."""

    terminal_: ScriptedTerminal | None

    def url(self, role: str) -> str:
        return URL if role == "card_terminal" and self.terminal_ else ""

    def terminal(self) -> ScriptedTerminal:
        if self.terminal_ is None:
            raise NotConfigured("Chưa cấu hình máy POS.", "No card terminal is set up.")
        return self.terminal_

    def printer(self, role: str) -> Any:
        raise NotConfigured("x", "x")

    def keypad(self) -> Any:
        raise NotConfigured("x", "x")


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
def terminal(ledger: Ledger) -> ScriptedTerminal:
    return ScriptedTerminal(ledger)


@pytest.fixture
def opener(terminal: ScriptedTerminal) -> Opener:
    return Opener(terminal)


def pay(box: Box, opener: Opener, amount: int = 50_000) -> dict[str, Any]:
    return payments.pay_by_card(box.db(), opener, amount, "canbo", now=box.now())


@pytest.mark.parametrize(("mode", "state", "charged"), [("approve", "approved", 50_000), ("decline", "declined", 0),
                                                        ("cancel", "cancelled", 0), ("not_delivered", "not_charged", 0)])  # fmt: skip
def test_a_sale_ends_in_the_terminals_answer(
    box: Box, opener: Opener, terminal: ScriptedTerminal, ledger: Ledger, mode: str, state: str, charged: int
) -> None:
    terminal.mode = mode
    payment = pay(box, opener)
    assert payment["state"] == state
    assert ledger.charged() == charged
    audit = [r[0] for r in box.db().execute("SELECT action FROM audit_log WHERE target = ?", [payment["id"]])]
    assert audit == ["card_payment_pending", f"card_payment_{state}"]


def test_the_payment_is_on_disk_as_pending_before_the_terminal_is_asked(
    box: Box, opener: Opener, terminal: ScriptedTerminal
) -> None:
    seen: list[tuple[str, str]] = []
    real_sale = terminal.sale

    def sale(amount: int, reference: str) -> CardResult:
        # Another connection (another process would see the same) reads the row while the terminal works.
        other = Box(box.settings).db()
        seen.extend(other.execute("SELECT reference, state FROM card_payments").fetchall())
        return real_sale(amount, reference)

    terminal.sale = sale  # type: ignore[method-assign]
    payment = pay(box, opener)
    assert seen == [(payment["reference"], "pending")]


def test_a_lost_answer_is_reconciled_at_once_by_the_last_transaction(
    box: Box, opener: Opener, terminal: ScriptedTerminal, ledger: Ledger
) -> None:
    terminal.mode = "lost_after_charge"
    payment = pay(box, opener)
    assert payment["state"] == "approved" and payment["reconciled_at"]
    assert ledger.charged() == 50_000


def test_a_request_lost_before_the_charge_is_reconciled_as_not_charged(
    box: Box, opener: Opener, terminal: ScriptedTerminal, ledger: Ledger
) -> None:
    terminal.mode = "approve"
    first = pay(box, opener, 10_000)
    terminal.mode = "lost_before_charge"
    second = pay(box, opener, 20_000)
    assert (first["state"], second["state"]) == ("approved", "not_charged")
    assert ledger.charged() == 10_000


def test_an_unknown_outcome_blocks_every_new_sale_until_reconciled(
    box: Box, opener: Opener, terminal: ScriptedTerminal, ledger: Ledger
) -> None:
    terminal.mode, terminal.last_mode = "lost_after_charge", "unavailable"
    payment = pay(box, opener)
    assert payment["state"] == "unknown"
    terminal.mode = "approve"
    with pytest.raises(ConflictError) as refused:
        pay(box, opener)  # the officer tries again: refused, the terminal is not asked
    assert refused.value.code == "payment_unreconciled" and payment["reference"] in refused.value.vi
    assert len(ledger.sales) == 1
    terminal.last_mode = "ok"  # the terminal answers again: reconcile first, then the new sale
    second = pay(box, opener)
    assert payments.get_payment(box.db(), payment["id"])["state"] == "approved"
    assert second["state"] == "approved"
    assert ledger.charged() == 100_000 and len(ledger.sales) == 2  # two payments, each charged once


def test_a_crash_between_charge_and_record_is_reconciled_before_the_next_sale(
    box: Box, opener: Opener, terminal: ScriptedTerminal, ledger: Ledger
) -> None:
    terminal.mode = "crash"
    with pytest.raises(KeyboardInterrupt):
        pay(box, opener)
    [left] = payments.list_payments(box.db())
    assert left["state"] == "pending"
    terminal.mode = "approve"
    assert payments.reconcile_open(box.db(), opener) == []
    assert payments.get_payment(box.db(), left["id"])["state"] == "approved"
    assert ledger.charged() == 50_000


def test_void_of_an_approved_payment(box: Box, opener: Opener, ledger: Ledger) -> None:
    payment = pay(box, opener)
    voided = payments.void(box.db(), opener, payment["id"], "canbo")
    assert voided["state"] == "voided" and ledger.charged() == 0
    with pytest.raises(ConflictError):
        payments.void(box.db(), opener, payment["id"], "canbo")


def test_a_terminal_that_does_not_know_the_sale_refuses_the_void(box: Box, opener: Opener, ledger: Ledger) -> None:
    payment = pay(box, opener)
    ledger.sales.clear()
    with pytest.raises(ConflictError) as refused:
        payments.void(box.db(), opener, payment["id"], "canbo")
    assert refused.value.code == "void_refused"
    assert payments.get_payment(box.db(), payment["id"])["state"] == "approved"


@pytest.mark.parametrize("amount", [0, -5, 100_000_000, 1.5, True, "50000"])
def test_a_wrong_amount_is_refused_before_anything_is_written(box: Box, opener: Opener, amount: Any) -> None:
    with pytest.raises(ValidationError):
        pay(box, opener, amount)
    assert payments.list_payments(box.db()) == []


def test_no_terminal_configured_writes_nothing(box: Box) -> None:
    with pytest.raises(NotConfigured) as refused:
        payments.pay_by_card(box.db(), Opener(None), 50_000, "canbo")
    assert "máy POS" in refused.value.vi
    assert payments.list_payments(box.db()) == []


def test_a_terminal_without_the_query_is_settled_by_hand_from_its_journal(
    box: Box, opener: Opener, terminal: ScriptedTerminal, ledger: Ledger
) -> None:
    terminal.mode, terminal.last_mode = "lost_after_charge", "unavailable"
    payment = pay(box, opener)
    assert payment["state"] == "unknown"
    with pytest.raises(ValidationError):
        payments.settle_by_hand(box.db(), payment["id"], "declined", "lanhdao", "nhật ký máy POS")
    with pytest.raises(ValidationError):
        payments.settle_by_hand(box.db(), payment["id"], "approved", "lanhdao", " ")
    settled = payments.settle_by_hand(box.db(), payment["id"], "approved", "lanhdao", "nhật ký máy POS lúc 10:42")
    assert settled["state"] == "approved" and "nhật ký máy POS" in settled["message_vi"]
    with pytest.raises(ConflictError):
        payments.settle_by_hand(box.db(), payment["id"], "not_charged", "lanhdao", "nhật ký máy POS lúc 10:42")
    terminal.mode = "approve"
    assert pay(box, opener)["state"] == "approved"  # no longer blocked
    assert ledger.charged() == 100_000
    detail = box.db().execute("SELECT detail FROM audit_log WHERE action = 'card_payment_approved'").fetchone()[0]
    assert '"by_hand": true' in detail
