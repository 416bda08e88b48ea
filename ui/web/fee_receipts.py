"""Fee receipts: printed on the counter's thermal printer (the print queue) and the A5 print view.

A receipt exists once a payment is paid (mẫu số, ký hiệu, số from edge/cashier.py). While a VietQR
transfer waits, the thermal printer prints the same layout with the QR to scan and no number yet.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from edge import cashier, fees, printing
from edge.actions import find_state
from edge.errors import EdgeError
from edge.ports import Document
from ui.web import forms
from ui.web.common import box, current_user, format_datetime, lang, requires
from ui.web.devices import wake_printer
from ui.web.prints import _office

bp = Blueprint("fee_receipts", __name__)
PRINT_WAIT_S = 8.0  # the officer waits this long for the receipt before the page says "queued"
LAYOUT_METHODS = {"cash": "cash", "card": "card", "vietqr": "transfer"}  # the printer layout's names
NOT_YET = "(chưa cấp – chờ chuyển khoản)"


def receipt_lines(summary: dict[str, Any], amount: int) -> list[dict[str, Any]]:
    """Return what a receipt lists: the dossier's fee lines when the payment is their total, else one line."""
    lines = [{"name": f"{x['kind_vi']}: {x['name']}", "amount": x["amount"]} for x in summary["lines"]]
    if lines and sum(x["amount"] for x in lines) == amount:
        return lines
    return [{"name": "Phí, lệ phí (nộp một phần)", "amount": amount}]


def receipt_values(payment: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """Return the fields of a payment's receipt as printed on paper."""
    names = _office().names
    return {
        "office": box().settings.name,
        "form_number": payment["receipt_form"] or box().settings.receipt_form,
        "series": payment["receipt_series"] or "",
        "receipt_number": payment["receipt_number"] or NOT_YET,
        "dossier_code": payment["dossier_code"],
        "payer": state["applicant"]["full_name"],
        "address": state["applicant"].get("address") or "",
        "procedure": state["procedure"]["name"],
        "lines": receipt_lines(fees.fee_summary(state), payment["amount"]),
        "total": payment["amount"],
        "method": payment["method_vi"],
        "paid_at": format_datetime(payment["paid_at"] or payment["created_at"]),
        "cashier": names(payment["confirmed_by"] if payment["method"] == "vietqr" and payment["confirmed_by"] != "bank"
                         else payment["collected_by"]) or payment["collected_by"],
        "cancelled": payment["status"] == "cancelled",
        "cancel_reason": payment["cancel_reason"] or "",
    }  # fmt: skip


def thermal_receipt(payment: dict[str, Any], state: dict[str, Any]) -> Document:
    """Return the thermal fee receipt (with the QR to scan while a transfer waits)."""
    v = receipt_values(payment, state)
    waiting = payment["method"] == "vietqr" and payment["status"] == "pending"
    return Document(
        "fee_receipt",
        {
            "office": v["office"],
            "form_number": v["form_number"],
            "series": v["series"],
            "receipt_number": v["receipt_number"],
            "dossier_code": v["dossier_code"],
            "lines": v["lines"],
            "total": v["total"],
            "method": LAYOUT_METHODS[payment["method"]],
            "paid_at": v["paid_at"],
            "cashier": v["cashier"],
            "vietqr": payment["vietqr_payload"] if waiting else None,
        },
    )


@bp.post("/payments/<payment_id>/print")
@requires("fees.collect")
def print_receipt(payment_id: str) -> BaseResponse:
    """Print the receipt (or, while a transfer waits, the QR slip) on the thermal printer, once per form."""
    db = box().db()
    back = redirect(url_for("fees.payment", payment_id=payment_id))
    payment = cashier.get_payment(db, payment_id)
    try:
        if payment["status"] not in ("approved", "pending") or (
            payment["status"] == "pending" and payment["method"] != "vietqr"
        ):
            flash(_("Chỉ in được biên lai của khoản đã thu, hoặc mã VietQR của khoản đang chờ chuyển khoản."), "error")
            return back
        state = find_state(box(), payment["dossier_code"])
        job = printing.enqueue(
            db, "receipt_printer", thermal_receipt(payment, state), current_user().username,
            dossier_id=payment["dossier_id"], job_id=request.form.get("job_id") or None,
        )  # fmt: skip
        wake_printer()
        done = printing.wait_for(db, job, PRINT_WAIT_S)
    except EdgeError as err:
        flash(err.message(lang()), "error")
        return back
    if done["state"] == "printed":
        flash(_("Đã in biên lai.") if payment["status"] == "approved" else _("Đã in mã VietQR."), "success")
        if done["reason_vi"]:  # printed, with a warning (paper nearly out)
            flash(done["reason_en"] if lang() == "en" else done["reason_vi"], "error")
    elif done["state"] in ("queued", "printing"):
        flash(_("Lệnh in đang chờ máy in."), "success")
    else:
        reason = done["reason_en"] if lang() == "en" else done["reason_vi"]
        flash(_("Chưa in được: %(reason)s", reason=reason or done["state_vi"]), "error")
    return back


@bp.get("/payments/<payment_id>/receipt")
@requires("fees.read")
def receipt(payment_id: str) -> tuple[str, int]:
    """The A5 "Biên lai thu phí, lệ phí" of a paid (or cancelled: ĐÃ HỦY) payment."""
    payment = cashier.get_payment(box().db(), payment_id)
    back = url_for("fees.payment", payment_id=payment_id)
    if payment["receipt_number"] is None:
        message = _("Khoản thu này chưa có biên lai: chưa thu được tiền.")
        return render_template("print/unavailable.html", message=message, back=back), 409
    state = find_state(box(), payment["dossier_code"])
    paid = forms.local(payment["paid_at"])
    day = paid.date() if paid else box().now().date()
    return render_template(
        "print/fee_receipt.html",
        v=receipt_values(payment, state),
        place_date=forms.legal_date(forms.place_of(box().settings.name), day),
        back=back,
    ), 200
