"""Fee lines: the procedure's snapshot, a leader's adjustment with a reason, and the fold the hub shares."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from edge import actions, cashier, events, fees
from edge.actions import find_state
from edge.box import Box
from edge.errors import PermissionDeniedError, TransitionError, ValidationError
from edge.events import Event
from edge.lifecycle import fold
from tests.test_cashier import LEADER, OFFICER, cash, new_dossier

LINES = [{"name": "Lệ phí đăng ký khai sinh", "kind": "charge", "amount": 0},
         {"name": "Phí cấp bản sao Giấy khai sinh", "kind": "fee", "amount": 16_000}]  # fmt: skip


def test_the_lines_are_the_procedures_fees_when_received(box: Box) -> None:
    d = new_dossier(box)
    summary = fees.fee_summary(d)
    assert [(line["kind"], line["amount"], line["kind_vi"]) for line in summary["lines"]] == [
        ("charge", 8_000, "Lệ phí"), ("fee", 8_000, "Phí"),
    ]  # fmt: skip
    assert (summary["total"], summary["paid"], summary["due"], summary["adjusted"]) == (16_000, 0, 16_000, None)
    legacy = {k: v for k, v in d.items() if k != "fees"}  # a projection row folded before fees were kept
    assert fees.fee_summary(legacy)["due"] == 16_000


def test_a_leader_adjusts_the_lines_with_a_reason(box: Box) -> None:
    d = new_dossier(box)
    with pytest.raises(PermissionDeniedError):
        fees.adjust_fees(box, d["code"], LINES, "Đăng ký đúng hạn, miễn lệ phí", OFFICER)
    with pytest.raises(ValidationError) as short:
        fees.adjust_fees(box, d["code"], LINES, "miễn", LEADER)
    assert short.value.code == "invalid_reason"
    for bad, code in (
        ([], "invalid_fee_lines"),
        ([{"name": "Phí", "kind": "fee", "amount": -1}], "invalid_amount"),
        ([{"name": "Phí", "kind": "fee", "amount": 1.5}], "invalid_amount"),
        ([{"name": "Phí", "kind": "fee", "amount": True}], "invalid_amount"),
        ([{"name": "Phí", "kind": "thuế", "amount": 1}], "invalid_fee_kind"),
        ([{"kind": "fee", "amount": 1}], "text_required"),
    ):
        with pytest.raises(ValidationError) as refused:
            fees.adjust_fees(box, d["code"], bad, "Đăng ký đúng hạn, miễn lệ phí", LEADER)
        assert refused.value.code == code, bad
    summary = fees.adjust_fees(box, d["code"], LINES, "Đăng ký đúng hạn, miễn lệ phí", LEADER)
    assert summary["total"] == 16_000 and [line["amount"] for line in summary["lines"]] == [0, 16_000]
    assert summary["adjusted"] == {"reason": "Đăng ký đúng hạn, miễn lệ phí", "by": "lanhdao",
                                   "at": "2026-11-25T09:00:00+07:00"}  # fmt: skip
    last = events.events_of(box.db(), d["dossier_id"])[-1]
    assert last.kind == "fees_adjusted" and last.payload["lines"] == LINES
    free = fees.adjust_fees(box, d["code"], [{"name": "Miễn", "kind": "charge", "amount": 0}], "Hộ nghèo, miễn", LEADER)
    assert free["due"] == 0 and free["paid_in_full"]
    with pytest.raises(ValidationError):
        cash(box, d["code"], 1)


def test_the_hubs_fold_of_the_events_gives_the_same_fee_totals(box: Box) -> None:
    d = new_dossier(box)
    fees.adjust_fees(box, d["code"], [*LINES, {"name": "Phí trích lục", "kind": "fee", "amount": 8_000}],
                     "Công dân xin thêm bản trích lục", LEADER)  # fmt: skip
    kept = cash(box, d["code"], 10_000)
    voided = cash(box, d["code"], 4_000)
    cashier.cancel(box, voided["id"], "Thu nhầm số tiền", LEADER)
    cashier.refund(box, kept["id"], 2_000, "Thu thừa hai nghìn", LEADER)
    mine = fees.fee_summary(find_state(box, d["code"]))
    assert (mine["total"], mine["paid"], mine["refunded"], mine["due"]) == (24_000, 10_000, 2_000, 16_000)
    # The hub decodes the events from the wire and folds them, in whatever order they arrived.
    wire = [json.loads(json.dumps(e.to_dict())) for e in events.events_of(box.db(), d["dossier_id"])]
    random.Random(7).shuffle(wire)
    hub_state = fold([Event(**w) for w in wire], owned=True)
    assert hub_state is not None
    assert fees.fee_summary(hub_state) == mine
    assert hub_state["fees"]["payments"][1]["cancelled"]["reason"] == "Thu nhầm số tiền"
    again = fold([Event(**w) for w in wire] + [Event(**wire[0])])  # a duplicate delivery changes nothing
    assert again is not None and fees.fee_summary(again) == mine


def test_a_paying_dossier_says_when_its_fees_are_paid_in_full(box: Box) -> None:
    d = new_dossier(box)
    state = actions.act(box, OFFICER, d["code"], "request-payment", {})
    assert state["status"] == "paying" and state["fees"]["paid_at"] is None
    cash(box, d["code"], 16_000)
    state = find_state(box, d["code"])
    assert state["status"] == "paying" and state["fees"]["due"] == 0 and state["fees"]["paid_at"]


def test_the_result_waits_for_the_requested_fees_where_the_box_says_so(box: Box) -> None:
    d = new_dossier(box)
    box.settings = replace(box.settings, fees_before_result=1)
    actions.act(box, OFFICER, d["code"], "request-payment", {})
    actions.act(box, LEADER, d["code"], "approve", {})
    with pytest.raises(TransitionError) as unpaid:
        actions.act(box, OFFICER, d["code"], "return-result", {})
    assert unpaid.value.code == "fees_unpaid" and "16.000 ₫" in unpaid.value.vi and "16,000" in unpaid.value.en
    cash(box, d["code"], 16_000)
    assert actions.act(box, OFFICER, d["code"], "return-result", {})["status"] == "done"
    unrequested = new_dossier(box)  # no payment requested: the result goes out as before
    actions.act(box, LEADER, unrequested["code"], "approve", {})
    assert actions.act(box, OFFICER, unrequested["code"], "return-result", {})["status"] == "done"


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("fee_refunded", {"payment_id": "p1", "amount": 1_000}),  # no refund_id
        ("fee_refunded", {"payment_id": "p1", "refund_id": "r9", "amount": "1000"}),
        ("fee_paid", {"payment_id": "p2", "method": "cash", "amount": -5}),
        ("fee_paid", {"method": "cash", "amount": 5}),
        ("fees_adjusted", {"lines": [{"name": "Phí", "amount": 1.5}], "reason": "Sai kiểu số"}),
        ("fees_adjusted", {"lines": "không phải danh sách"}),
        ("fee_payment_cancelled", {"payment_id": 7}),
        ("transferred", {"note": "thiếu người nhận"}),  # not money: any kind whose payload is wrong
    ],
)
def test_an_event_with_a_malformed_payload_is_kept_and_flagged_not_a_crash(
    box: Box, kind: str, payload: dict[str, object]
) -> None:
    d = new_dossier(box)
    kept = cash(box, d["code"], 10_000)
    wire = [json.loads(json.dumps(e.to_dict())) for e in events.events_of(box.db(), d["dossier_id"])]
    before = fold([Event(**w) for w in wire])
    assert before is not None
    last = wire[-1]
    bad = {**last, "event_id": "00000000-0000-4000-8000-00000000000b", "kind": kind, "payload": payload,
           "hlc": last["hlc"][:-4] + "ffff"}  # fmt: skip
    after = fold([Event(**w) for w in [*wire, bad]])
    assert after is not None
    assert after["conflict"] is True
    assert [(c["kind"], c["problem"]) for c in after["conflicts"]] == [(kind, "malformed")]
    assert fees.fee_summary(after) == fees.fee_summary(before)  # the money is as it was
    assert after["status"] == before["status"] and after["steps"] == before["steps"]
    assert kept["status"] == "approved"
