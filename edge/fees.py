"""A dossier's fee lines (phí, lệ phí) and what is paid, refunded and still due.

The lines are the procedure's fees as they stood when the dossier was received, unless a leader
adjusted them with a reason (event `fees_adjusted`). Payments, refunds and cancellations are
events too (`fee_paid`, `fee_refunded`, `fee_payment_cancelled`, made by edge/cashier.py), so the
fold (edge/lifecycle.py) keeps `state["fees"]` — lines, payments, total, paid, refunded, due — on
the box and on the hub alike. Due = total − paid + refunded (never below 0): a refund gives money
back, so it is owed again unless the lines were lowered too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge import audit, events, projection
from edge.box import Box
from edge.catalogue import FEE_KIND_LABELS, FEE_KIND_LABELS_EN
from edge.errors import TransitionError, ValidationError
from edge.lifecycle import FINISHED
from edge.store.db import write
from edge.text import clean_free_text
from edge.users import User, require

MAX_LINES = 20
MAX_LINE_AMOUNT = 99_999_999  # đồng: as much as one payment may be


def fee_summary(state: dict[str, Any]) -> dict[str, Any]:
    """Return a dossier's fee lines and totals: {lines, total, paid, refunded, due, overpaid, paid_at, adjusted}."""
    fees = state.get("fees")
    if fees is None:  # a projection row folded before fees were kept: nothing was paid through the box then
        lines = [{"name": f["name"], "kind": f["kind"], "amount": f["amount"]} for f in state["procedure"]["fees"]]
        total = sum(line["amount"] for line in lines)
        fees = {"lines": lines, "adjusted": None, "payments": [], "total": total, "paid": 0, "refunded": 0,
                "due": total, "paid_at": None}  # fmt: skip
    lines = [
        {**line, "kind_vi": FEE_KIND_LABELS.get(line["kind"], ""), "kind_en": FEE_KIND_LABELS_EN.get(line["kind"], "")}
        for line in fees["lines"]
    ]
    return {
        "lines": lines,
        "total": fees["total"],
        "paid": fees["paid"],
        "refunded": fees["refunded"],
        "due": fees["due"],
        "overpaid": max(0, fees["paid"] - fees["refunded"] - fees["total"]),
        "paid_at": fees["paid_at"],
        "paid_in_full": fees["due"] == 0,
        "adjusted": fees["adjusted"],
        "payments": fees["payments"],
    }


def parse_lines(lines: object) -> list[dict[str, Any]]:
    """Validate adjusted fee lines: 1–20 of {name, kind fee|charge, amount whole đồng ≥ 0}."""
    if not isinstance(lines, list) or not 1 <= len(lines) <= MAX_LINES:
        raise ValidationError(
            f"Danh sách phí, lệ phí phải có từ 1 đến {MAX_LINES} khoản.",
            f"The fee lines must be a list of 1 to {MAX_LINES} items.",
            code="invalid_fee_lines",
            field="lines",
        )
    out = []
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        if not isinstance(line, dict):
            raise ValidationError(
                f"Khoản thu {index + 1} không hợp lệ.", f"Fee line {index + 1} is invalid.", code="invalid_fee_lines",
                field=where,
            )  # fmt: skip
        name = clean_free_text(line.get("name"), f"{where}.name", max_len=300)
        if line.get("kind") not in FEE_KIND_LABELS:
            raise ValidationError(
                f"Loại của khoản thu {index + 1} phải là phí (fee) hoặc lệ phí (charge).",
                f"The kind of fee line {index + 1} must be fee or charge.",
                code="invalid_fee_kind",
                field=f"{where}.kind",
            )
        amount = line.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_LINE_AMOUNT:
            raise ValidationError(
                f"Số tiền của khoản thu {index + 1} phải là số nguyên đồng từ 0 đến 99.999.999.",
                f"The amount of fee line {index + 1} must be whole đồng from 0 to 99,999,999.",
                code="invalid_amount",
                field=f"{where}.amount",
            )
        out.append({"name": name, "kind": line["kind"], "amount": amount})
    return out


def clean_reason(value: object, vi: str, en: str) -> str:
    """Return a required reason (5–500 characters) or raise ValidationError saying what it is for."""
    if not isinstance(value, str) or not 5 <= len(" ".join(value.split())) <= 500:
        raise ValidationError(
            f"Ghi rõ lý do {vi} (5–500 ký tự).", f"Give the reason for {en} (5–500 characters).",
            code="invalid_reason", field="reason",
        )  # fmt: skip
    return clean_free_text(value, "reason", max_len=500)


def adjust_fees(
    box: Box, code: str, lines: object, reason: object, actor: User, now: datetime | None = None
) -> dict[str, Any]:
    """Replace a dossier's fee lines (a leader, with a reason); return the new fee summary."""
    from edge.actions import find_state  # edge.actions checks fees before returning a result

    require(actor, "fees.adjust")
    parsed, text = parse_lines(lines), clean_reason(reason, "điều chỉnh phí, lệ phí", "adjusting the fees")
    moment = now or box.now()
    db = box.db()
    with write(db):
        state = find_state(box, code)
        if state["status"] in FINISHED and state["status"] != "releasing":
            raise TransitionError(
                "Hồ sơ đã kết thúc; không điều chỉnh phí, lệ phí được nữa.",
                "The dossier is finished; its fees can no longer be adjusted.",
                code="fees_closed",
                status=state["status"],
            )
        payload = {"lines": parsed, "reason": text}
        event = events.new_event(
            db, state["dossier_id"], "fees_adjusted", payload, actor=actor.username, origin=box.origin,
            wall_time=events.iso(moment),
        )  # fmt: skip
        events.record(db, event)
        new_state = projection.refold(db, state["dossier_id"])
        audit.record(db, actor.username, "fees_adjusted", target=code, detail=payload)
    assert new_state is not None
    return fee_summary(new_state)


def check_paid(state: dict[str, Any]) -> None:
    """Refuse (fees_unpaid) when a payment was requested on the dossier and fees are still due."""
    due = fee_summary(state)["due"]
    if state.get("payment") is not None and due > 0:
        money = f"{due:,}".replace(",", ".")
        raise TransitionError(
            f"Hồ sơ còn {money} ₫ phí, lệ phí chưa nộp; thu đủ rồi mới trả kết quả.",
            f"The dossier still owes {due:,} đồng of fees; collect them before returning the result.",
            code="fees_unpaid",
            status=state["status"],
        )
