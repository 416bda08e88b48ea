"""Fee payments: cash with change, VietQR pending then confirmed, card on the simulated terminal, receipts.

Receipt numbers are checked with real threads on the box's real SQLite file; card payments go
through edge.appliance.Devices to the Concert simulator on a pseudo-terminal (sim://terminal), and
the money is checked on the simulator's own ledger.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from devices.terminal.simulator import TerminalSimulator
from devices.vietqr import check_payload, parse_tlv, vietqr_payload
from edge import appliance, cashier, cashup, events, fees, intake, payments
from edge.actions import find_state
from edge.appliance import Devices
from edge.box import Box
from edge.config import load_settings, update_config_file
from edge.errors import ConflictError, EdgeError, PermissionDeniedError, ValidationError
from edge.users import User
from tests.conftest import dossier_body

OFFICER = User("canbo", "officer")
OFFICER2 = User("canbo2", "officer")
LEADER = User("lanhdao", "leader")
BIN, ACCOUNT = "970436", "0011001234567"


def new_dossier(box: Box, procedure: str = "1.001193") -> dict[str, Any]:
    """Receive a dossier at the counter (1.001193: two lines of 8.000 ₫, 16.000 ₫ due)."""
    return intake.receive_dossier(box, OFFICER, dossier_body(procedure))


def cash(box: Box, code: str, amount: int, actor: User = OFFICER, received: int | None = None) -> dict[str, Any]:
    return cashier.take_payment(
        box, None, code, "cash", amount, actor, received=amount if received is None else received
    )


def with_vietqr(box: Box) -> Box:
    box.settings = replace(box.settings, vietqr_bank_bin=BIN, vietqr_account=ACCOUNT, vietqr_notify_token="bí-mật")
    return box


def qr(box: Box, code: str, amount: int, actor: User = OFFICER) -> dict[str, Any]:
    return cashier.take_payment(box, None, code, "vietqr", amount, actor, make_vietqr=vietqr_payload)


@pytest.fixture
def card_devices(box: Box, monkeypatch: pytest.MonkeyPatch) -> Iterator[Devices]:
    """The box's card terminal on sim://terminal (the Concert simulator on a pty), answering within 1 s."""
    monkeypatch.setattr(appliance, "TERMINAL_ANSWER_S", 1.0)
    update_config_file(box.settings.data_dir, {"card_terminal": "sim://terminal"})
    devices = Devices(load_settings(box.settings.data_dir))
    yield devices
    devices.close()


def simulator(devices: Devices) -> TerminalSimulator:
    if devices.simulator("card_terminal") is None:
        devices.terminal().close()
    running = devices.simulator("card_terminal")
    assert running is not None and isinstance(running.sim, TerminalSimulator)
    return running.sim


def card(box: Box, devices: Devices, code: str, amount: int) -> dict[str, Any]:
    return cashier.take_payment(box, devices, code, "card", amount, OFFICER)


# -- cash ------------------------------------------------------------------------------------------


def test_cash_gives_change_a_receipt_and_a_fee_paid_event(box: Box) -> None:
    d = new_dossier(box)
    paid = cash(box, d["code"], 8_000, received=20_000)
    assert (paid["status"], paid["method"], paid["amount"], paid["received"], paid["change"]) == (
        "approved", "cash", 8_000, 20_000, 12_000,
    )  # fmt: skip
    assert (paid["receipt_form"], paid["receipt_series"], paid["receipt_number"]) == ("01BLP0-001", "BL26", "0000001")
    assert paid["status_vi"] == "Đã thanh toán" and paid["method_vi"] == "Tiền mặt"
    assert paid["paid_at"] == "2026-11-25T09:00:00+07:00" and paid["collected_by"] == "canbo"
    last = events.events_of(box.db(), d["dossier_id"])[-1]
    assert last.kind == "fee_paid" and last.payload == {
        "payment_id": paid["id"], "method": "cash", "amount": 8_000,
        "receipt": {"form": "01BLP0-001", "series": "BL26", "number": "0000001"},
    }  # fmt: skip
    queued = box.db().execute("SELECT count(*) FROM outbox WHERE event_id = ?", [last.event_id]).fetchone()[0]
    assert queued == 1  # it goes to the hub
    summary = fees.fee_summary(find_state(box, d["code"]))
    assert (summary["total"], summary["paid"], summary["due"], summary["paid_in_full"]) == (16_000, 8_000, 8_000, False)
    assert cash(box, d["code"], 8_000)["receipt_number"] == "0000002"
    assert fees.fee_summary(find_state(box, d["code"]))["paid_at"] == "2026-11-25T09:00:00+07:00"


@pytest.mark.parametrize("received", [7_999, None, -1, "20000", True])
def test_cash_needs_what_was_received(box: Box, received: object) -> None:
    d = new_dossier(box)
    with pytest.raises(ValidationError) as refused:
        cashier.take_payment(box, None, d["code"], "cash", 8_000, OFFICER, received=received)
    assert refused.value.code == "invalid_received" and refused.value.field == "received"
    assert cashier.list_payments(box.db(), d["dossier_id"]) == []


@pytest.mark.parametrize("amount", [0, -8_000, 100_000_000, 10**18, 8_000.5, "8000", True, None])
def test_negative_or_absurd_amounts_are_refused(box: Box, amount: object) -> None:
    d = new_dossier(box)
    with pytest.raises(ValidationError) as refused:
        cashier.take_payment(box, None, d["code"], "cash", amount, OFFICER, received=10**9)
    assert refused.value.code == "invalid_amount" and "99.999.999" in refused.value.vi


def test_more_than_is_due_is_refused(box: Box) -> None:
    d = new_dossier(box)
    with pytest.raises(ValidationError) as refused:
        cash(box, d["code"], 16_001)
    assert refused.value.code == "amount_exceeds_due" and "16.000 ₫" in refused.value.vi
    cash(box, d["code"], 16_000)
    with pytest.raises(ValidationError) as again:
        cash(box, d["code"], 1)
    assert again.value.code == "amount_exceeds_due"
    free = new_dossier(box, "1.000894")  # đăng ký kết hôn: no fee
    with pytest.raises(ValidationError):
        cash(box, free["code"], 1)


def test_method_role_and_dossier_are_checked(box: Box) -> None:
    d = new_dossier(box)
    with pytest.raises(ValidationError) as method:
        cashier.take_payment(box, None, d["code"], "cheque", 8_000, OFFICER)
    assert method.value.code == "invalid_method"
    with pytest.raises(PermissionDeniedError):
        cash(box, d["code"], 8_000, actor=User("kythuat", "technician"))
    with pytest.raises(EdgeError) as missing:
        cash(box, "000.17.22.H56-261125-9999", 8_000)
    assert missing.value.code == "dossier_not_found" and missing.value.status == 404
    with pytest.raises(EdgeError) as card_without_terminal:
        cashier.take_payment(box, None, d["code"], "card", 8_000, OFFICER)
    assert card_without_terminal.value.code == "device_not_configured"


# -- receipt numbers -------------------------------------------------------------------------------


def test_receipt_numbers_have_no_gaps_or_repeats_with_eight_threads(box: Box) -> None:
    threads_n, each = 8, 6
    dossiers = [new_dossier(box)["code"] for _ in range(threads_n)]
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads_n)

    def pay(code: str) -> None:
        try:
            start.wait()
            for _ in range(each):
                got = cash(box, code, 1_000)["receipt_number"]
                with lock:
                    numbers.append(got)
        except BaseException as err:  # handed to the test
            errors.append(err)
        finally:
            box.close()

    workers = [threading.Thread(target=pay, args=(code,)) for code in dossiers]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert errors == []
    assert sorted(numbers) == [f"{n:07d}" for n in range(1, threads_n * each + 1)]
    stored = box.db().execute("SELECT receipt_number FROM fee_payments ORDER BY receipt_number").fetchall()
    assert [r[0] for r in stored] == list(range(1, threads_n * each + 1))
    fee_paid = box.db().execute("SELECT count(*) FROM dossier_events WHERE kind = 'fee_paid'").fetchone()[0]
    assert fee_paid == threads_n * each


def test_a_series_is_per_year_unless_configured(box: Box) -> None:
    d = new_dossier(box)
    box.settings = replace(box.settings, receipt_form="01BLP2-001", receipt_series="AA/26P")
    paid = cash(box, d["code"], 1_000)
    assert (paid["receipt_form"], paid["receipt_series"], paid["receipt_number"]) == ("01BLP2-001", "AA/26P", "0000001")
    box.settings = replace(box.settings, receipt_form="01BLP0-001", receipt_series="")
    assert cash(box, d["code"], 1_000)["receipt_number"] == "0000001"  # another (form, series): its own numbers


# -- cancel and refund -----------------------------------------------------------------------------


def test_a_cancelled_receipt_keeps_its_number_and_the_next_payment_gets_the_next(box: Box) -> None:
    d = new_dossier(box)
    first = cash(box, d["code"], 16_000)
    with pytest.raises(PermissionDeniedError):
        cashier.cancel(box, first["id"], "Thu nhầm hồ sơ", OFFICER)
    with pytest.raises(ValidationError) as reason:
        cashier.cancel(box, first["id"], "x", LEADER)
    assert reason.value.code == "invalid_reason"
    voided = cashier.cancel(box, first["id"], "Thu nhầm hồ sơ", LEADER)
    assert (voided["status"], voided["receipt_number"], voided["cancel_reason"]) == (
        "cancelled",
        "0000001",
        "Thu nhầm hồ sơ",
    )
    assert fees.fee_summary(find_state(box, d["code"]))["due"] == 16_000
    assert cash(box, d["code"], 16_000)["receipt_number"] == "0000002"
    with pytest.raises(ConflictError) as twice:
        cashier.cancel(box, first["id"], "Hủy lần hai", LEADER)
    assert twice.value.code == "payment_not_cancellable"
    kinds = [e.kind for e in events.events_of(box.db(), d["dossier_id"])]
    assert kinds == ["created", "fee_paid", "fee_payment_cancelled", "fee_paid"]


def test_a_refund_larger_than_the_payment_is_refused(box: Box) -> None:
    d = new_dossier(box)
    paid = cash(box, d["code"], 8_000)
    with pytest.raises(PermissionDeniedError):
        cashier.refund(box, paid["id"], 1_000, "Thu thừa tiền", OFFICER)
    with pytest.raises(ValidationError) as larger:
        cashier.refund(box, paid["id"], 8_001, "Thu thừa tiền", LEADER)
    assert larger.value.code == "refund_exceeds_payment"
    with pytest.raises(ValidationError) as no_reason:
        cashier.refund(box, paid["id"], 1_000, "", LEADER)
    assert no_reason.value.code == "invalid_reason"
    back = cashier.refund(box, paid["id"], 3_000, "Miễn lệ phí bản sao", LEADER)
    assert back["refunded"] == 3_000 and back["refunds"][0]["reason"] == "Miễn lệ phí bản sao"
    with pytest.raises(ValidationError) as rest:
        cashier.refund(box, paid["id"], 5_001, "Hoàn nốt", LEADER)
    assert rest.value.code == "refund_exceeds_payment"
    summary = fees.fee_summary(find_state(box, d["code"]))
    assert (summary["paid"], summary["refunded"], summary["due"]) == (8_000, 3_000, 11_000)
    with pytest.raises(ConflictError) as refunded:
        cashier.cancel(box, paid["id"], "Hủy biên lai", LEADER)
    assert refunded.value.code == "payment_refunded"
    audited = box.db().execute("SELECT count(*) FROM audit_log WHERE action = 'fee_refunded'").fetchone()[0]
    assert audited == 1


# -- VietQR ----------------------------------------------------------------------------------------


def test_vietqr_needs_an_account_on_the_box(box: Box) -> None:
    d = new_dossier(box)
    with pytest.raises(ConflictError) as refused:
        qr(box, d["code"], 8_000)
    assert refused.value.code == "vietqr_not_configured" and "VietQR" in refused.value.vi
    box.settings = replace(box.settings, vietqr_bank_bin="97043", vietqr_account=ACCOUNT)
    with pytest.raises(ConflictError) as bad_bin:
        qr(box, d["code"], 8_000)
    assert bad_bin.value.code == "vietqr_not_configured" and "6 chữ số" in bad_bin.value.vi


def test_vietqr_is_pending_with_a_dynamic_qr_then_confirmed(box: Box) -> None:
    d = new_dossier(with_vietqr(box))
    pending = qr(box, d["code"], 16_000)
    assert pending["status"] == "pending" and pending["receipt_number"] is None
    fields = check_payload(pending["vietqr_payload"])  # the CRC and the structure hold
    assert fields["01"] == "12" and fields["54"] == "16000"
    assert parse_tlv(fields["62"])["08"] == d["code"]
    beneficiary = parse_tlv(parse_tlv(fields["38"])["01"])
    assert (beneficiary["00"], beneficiary["01"]) == (BIN, ACCOUNT)
    with pytest.raises(ValidationError) as reserved:  # the transfer on its way holds the amount
        cash(box, d["code"], 1_000)
    assert reserved.value.code == "amount_exceeds_due"
    confirmed = cashier.confirm_vietqr(box, pending["id"], OFFICER2)
    assert (confirmed["status"], confirmed["receipt_number"], confirmed["confirmed_by"]) == (
        "approved",
        "0000001",
        "canbo2",
    )
    with pytest.raises(ConflictError) as twice:
        cashier.confirm_vietqr(box, pending["id"], OFFICER2)
    assert twice.value.code == "payment_not_pending"
    assert fees.fee_summary(find_state(box, d["code"]))["due"] == 0


def test_a_pending_vietqr_can_be_cancelled_by_the_officer(box: Box) -> None:
    d = new_dossier(with_vietqr(box))
    pending = qr(box, d["code"], 16_000)
    gone = cashier.cancel(box, pending["id"], "Công dân trả tiền mặt", OFFICER)
    assert gone["status"] == "cancelled" and gone["receipt_number"] is None
    assert cash(box, d["code"], 16_000)["receipt_number"] == "0000001"
    kinds = [e.kind for e in events.events_of(box.db(), d["dossier_id"])]
    assert kinds == ["created", "fee_paid"]  # a transfer that never came is no fact of the dossier


def test_a_bank_notification_confirms_the_matching_transfer(box: Box) -> None:
    d = new_dossier(with_vietqr(box))
    pending = qr(box, d["code"], 8_000)
    with pytest.raises(PermissionDeniedError):
        cashier.bank_notification(box, "sai", {"dossier_code": d["code"], "amount": 8_000})
    with pytest.raises(ConflictError) as other_amount:
        cashier.bank_notification(box, "bí-mật", {"dossier_code": d["code"], "amount": 9_000})
    assert other_amount.value.code == "amount_mismatch"
    paid = cashier.bank_notification(box, "bí-mật", {"dossier_code": d["code"], "amount": 8_000})
    assert paid["id"] == pending["id"] and paid["status"] == "approved" and paid["confirmed_by"] == "bank"
    with pytest.raises(EdgeError) as none_left:
        cashier.bank_notification(box, "bí-mật", {"dossier_code": d["code"], "amount": 8_000})
    assert none_left.value.code == "payment_not_found" and none_left.value.status == 404
    with pytest.raises(ConflictError) as by_reference:
        cashier.bank_notification(box, "bí-mật", {"reference": pending["id"], "amount": 8_000})
    assert by_reference.value.code == "payment_not_pending"


# -- card ------------------------------------------------------------------------------------------


def test_a_card_payment_approved_gets_a_receipt_a_declined_one_none(box: Box, card_devices: Devices) -> None:
    d = new_dossier(box)
    sim = simulator(card_devices)
    sim.mode = "decline"
    declined = card(box, card_devices, d["code"], 8_000)
    assert (declined["status"], declined["receipt_number"]) == ("declined", None)
    assert payments.get_payment(box.db(), declined["card_payment_id"])["state"] == "declined"
    sim.mode = "approve"
    approved = card(box, card_devices, d["code"], 8_000)
    assert (approved["status"], approved["receipt_number"]) == ("approved", "0000001")
    assert sim.charged_total() == 8_000
    voided = cashier.cancel(box, approved["id"], "Quẹt nhầm thẻ", LEADER, opener=card_devices)
    assert voided["status"] == "cancelled" and sim.charged_total() == 0
    assert payments.get_payment(box.db(), approved["card_payment_id"])["state"] == "voided"
    assert fees.fee_summary(find_state(box, d["code"]))["due"] == 16_000


def test_a_terminal_that_times_out_leaves_an_unknown_that_blocks_until_reconciled(
    box: Box, card_devices: Devices
) -> None:
    d = new_dossier(box)
    sim = simulator(card_devices)
    sim.mode = "silent_mid"  # the terminal charges, its answer breaks off
    lost = card(box, card_devices, d["code"], 8_000)
    assert (lost["status"], lost["receipt_number"]) == ("unknown", None)
    assert sim.charged_total() == 8_000
    with pytest.raises(ConflictError) as again:  # the officer tries once more at once
        card(box, card_devices, d["code"], 8_000)
    assert again.value.code == "payment_unreconciled"
    assert len(sim.transactions) == 1  # no second sale reached the terminal
    assert [p["id"] for p in cashier.list_payments(box.db(), d["dossier_id"])] == [lost["id"]]
    day = box.now().date().isoformat()
    assert cashup.day_summary(box.db(), day)["blocked"]
    with pytest.raises(ConflictError) as blocked:
        cashup.close_day(box.db(), day, {}, "", OFFICER, box.now())
    assert blocked.value.code == "cashup_blocked"

    sim.mode = "approve"
    settled = cashier.reconcile_card(box, card_devices, lost["id"], OFFICER)
    assert (settled["status"], settled["receipt_number"]) == ("approved", "0000001")
    assert not cashup.day_summary(box.db(), day)["blocked"]
    assert sim.charged_total() == 8_000 and len(sim.transactions) == 1
    second = card(box, card_devices, d["code"], 8_000)
    assert (second["status"], second["receipt_number"]) == ("approved", "0000002")
    assert sim.charged_total() == 16_000
