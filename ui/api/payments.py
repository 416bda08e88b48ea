"""Fee payments' JSON API: take a payment, look it up, confirm a transfer, refund, cancel; a day's cash-up."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from devices.vietqr import vietqr_payload
from edge import cashier, cashup
from edge.errors import ValidationError
from edge.ports import DeviceOpener
from edge.users import require
from ui.api import box, bp, json_body, respond, user

PUBLIC = (
    "id", "status", "status_vi", "status_en", "method", "amount", "received", "change", "dossier_code",
    "receipt_form", "receipt_series", "receipt_number", "vietqr_payload", "refunded", "collected_by", "created_at",
    "paid_at", "confirmed_at", "confirmed_by", "cancelled_at", "cancel_reason",
)  # fmt: skip


def _object(allowed: tuple[str, ...]) -> dict[str, Any]:
    """The request body: a JSON object with only the allowed fields."""
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError("Nội dung phải là một đối tượng JSON.", "The body must be a JSON object.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(f"Trường lạ: {', '.join(unknown)}.", f"Unknown field: {', '.join(unknown)}.")
    return body


def _opener() -> DeviceOpener | None:
    found: DeviceOpener | None = current_app.extensions.get("devices")
    return found


def _public(payment: dict[str, Any]) -> dict[str, Any]:
    return {k: payment[k] for k in PUBLIC}


@bp.post("/dossiers/<code>/payments")
def take_payment(code: str) -> Response:
    """Take a fee payment: {method cash|card|vietqr, amount, received? (cash)} → 201 the payment."""
    body = _object(("method", "amount", "received"))
    method, amount, received = str(body.get("method", "")), body.get("amount"), body.get("received")
    payment = cashier.take_payment(
        box(), _opener(), code, method, amount, user(), box().now(), received, make_vietqr=vietqr_payload
    )
    return respond(_public(payment), 201, {"Location": f"/api/v1/payments/{payment['id']}"})


@bp.get("/payments/<payment_id>")
def get_payment(payment_id: str) -> Response:
    """One fee payment (a card payment settled meanwhile on the terminal shows its outcome)."""
    require(user(), "fees.read")
    if cashier.get_payment(box().db(), payment_id)["status"] in cashier.OPEN:
        cashier.settle_cards(box(), user().username)
    return respond(_public(cashier.get_payment(box().db(), payment_id)))


@bp.post("/payments/<payment_id>/confirm")
def confirm(payment_id: str) -> Response:
    """The VietQR transfer arrived: the payment is approved and gets its receipt number."""
    _object(())
    return respond(_public(cashier.confirm_vietqr(box(), payment_id, user(), box().now())))


@bp.post("/payments/<payment_id>/refund")
def refund(payment_id: str) -> Response:
    """Give back part or all of an approved payment: {amount, reason}."""
    body = _object(("amount", "reason"))
    payment = cashier.refund(box(), payment_id, body.get("amount"), body.get("reason"), user(), box().now())
    return respond(_public(payment))


@bp.post("/payments/<payment_id>/cancel")
def cancel(payment_id: str) -> Response:
    """Cancel a pending transfer, or (a leader) an approved payment: {reason}."""
    require(user(), "fees.read")  # a role that may not see payments is refused before its body is judged
    body = _object(("reason",))
    payment = cashier.cancel(box(), payment_id, body.get("reason"), user(), box().now(), opener=_opener())
    return respond(_public(payment))


@bp.post("/payments/bank-notification")
def bank_notification() -> Response:
    """The bank says a transfer arrived (header X-Notify-Token): {reference or dossier_code, amount, …}."""
    token = request.headers.get("X-Notify-Token", "")
    return respond(_public(cashier.bank_notification(box(), token, json_body(), box().now())))


@bp.get("/cashups/<day>")
def cashup_day(day: str) -> Response:
    """A day's takings by method and officer, its payments, refunds, open card payments; closed or not."""
    require(user(), "fees.read")
    cashier.settle_cards(box(), user().username)
    summary = cashup.day_summary(box().db(), day)
    for key in ("payments", "cancellations", "open_card_payments", "pending_vietqr"):
        summary[key] = [_public(p) for p in summary[key]]
    summary["unreconciled_card_payments"] = [
        {k: c[k] for k in ("id", "reference", "amount", "state", "created_at")}
        for c in summary["unreconciled_card_payments"]
    ]
    return respond(summary)
