"""The officer's fee screens: a dossier's fees, taking a payment (cash, card, VietQR), refunds and cancellations.

Every rule is edge's (edge/fees.py, edge/cashier.py): this module turns forms into their calls and
their errors back into messages next to the inputs. The receipts (thermal and A5) are in
ui/web/fee_receipts.py.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from devices.vietqr import vietqr_payload
from edge import cashier, fees, payments
from edge.actions import find_state
from edge.errors import EdgeError, ValidationError
from edge.ports import DeviceOpener
from ui.web import devices
from ui.web.common import box, current_user, format_money, lang, requires
from ui.web.prints import qr_svg

bp = Blueprint("fees", __name__)
ADJUST_SPARE_ROWS = 2  # empty rows under the current lines of the adjust form
_MONEY = re.compile(r"[0-9]{1,3}(?:[.,\s][0-9]{3})+|[0-9]{1,15}")
_LINE_FIELD = re.compile(r"lines\[(\d+)\](?:\.(\w+))?")


class _Once:
    """Payments taken per form id: a form sent twice (a double click, a reload) takes the money once."""

    def __init__(self, keep: int = 1000) -> None:
        self._lock = threading.Lock()
        self._done: OrderedDict[str, str] = OrderedDict()
        self._running: dict[str, threading.Event] = {}
        self._keep = keep

    def run(self, form_id: str, take: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Return the payment this form already took, or take it now (a second sending waits for the first)."""
        while True:
            with self._lock:
                if form_id in self._done:
                    return cashier.get_payment(box().db(), self._done[form_id])
                running = self._running.get(form_id)
                if running is None:
                    mine = self._running[form_id] = threading.Event()
                    break
            running.wait(300)  # a card sale answers within the terminal's time-out
        try:
            payment = take()
            with self._lock:
                self._done[form_id] = payment["id"]
                while len(self._done) > self._keep:
                    self._done.popitem(last=False)
            return payment
        finally:
            with self._lock:
                del self._running[form_id]
            mine.set()


_ONCE = _Once()


def parse_money(text: str, field: str) -> int | None:
    """Read đồng as typed (50000, 50.000, 50 000 ₫); None when empty (edge says what is missing)."""
    cleaned = text.replace("₫", "").replace("đ", "").strip()
    if not cleaned:
        return None
    if not _MONEY.fullmatch(cleaned):
        raise ValidationError(
            "Số tiền phải là số nguyên đồng, ví dụ 50.000.", "The amount must be whole đồng, e.g. 50,000.", field=field
        )
    return int(re.sub(r"[.,\s]", "", cleaned))


def _opener() -> DeviceOpener | None:
    found: DeviceOpener | None = current_app.extensions.get("devices")
    return found


def _methods() -> list[dict[str, Any]]:
    """Return the three ways to pay, each with whether this box can take it now and why not."""
    opener, settings = _opener(), box().settings
    card = bool(opener is not None and opener.url("card_terminal"))
    vietqr = bool(settings.vietqr_bank_bin and settings.vietqr_account)
    return [
        {"key": "cash", "label": _("Tiền mặt"), "ready": True, "why": ""},
        {"key": "card", "label": _("Thẻ qua máy POS"), "ready": card, "why": _("máy chưa được cấu hình máy POS")},
        {"key": "vietqr", "label": _("Chuyển khoản VietQR"), "ready": vietqr,
         "why": _("máy chưa được cấu hình tài khoản nhận chuyển khoản")},
    ]  # fmt: skip


def _summary(code: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return a dossier's state and its fee summary."""
    state = find_state(box(), code)
    return state, fees.fee_summary(state)


@bp.app_template_global("fee_section")
def fee_section(code: str) -> dict[str, Any]:
    """What the dossier page shows under "Thu phí, lệ phí": lines, totals, payments, what the user may do."""
    db, user = box().db(), current_user()
    state = find_state(box(), code)
    listed = cashier.list_payments(db, state["dossier_id"])
    if any(p["method"] == "card" and p["status"] in cashier.OPEN for p in listed):
        cashier.settle_cards(box(), user.username)  # reconciled meanwhile on the counter's card list
        listed = cashier.list_payments(db, state["dossier_id"])
    summary = fees.fee_summary(state)
    return {
        "summary": summary,
        "payments": listed,
        "takes_money": state["status"] not in cashier.CLOSED_STATUSES and summary["due"] > 0,
        "can_collect": user.can("fees.collect"),
        "can_adjust": user.can("fees.adjust"),
        "methods": _methods(),
        "form": {"method": "cash", "amount": str(summary["due"]), "received": "", "form_id": str(uuid.uuid4())},
    }


def _field_errors(err: EdgeError, known: tuple[str, ...], prefix: str = "") -> dict[str, str]:
    """Put an edge error by its input (or on the form as a whole)."""
    name = err.field if err.field in known else "form"
    return {f"{prefix}{name}": err.message(lang())}


# --- taking a payment ---------------------------------------------------------------------------


def _take_page(code: str, form: dict[str, str], errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    state, summary = _summary(code)
    page = render_template(
        "fees/take.html", code=code, state=state, summary=summary, methods=_methods(), form=form, errors=errors
    )
    return page, status


@bp.get("/dossiers/<code>/payments/new")
@requires("fees.collect")
def take_form(code: str) -> tuple[str, int]:
    """The payment form on a page of its own (the dossier page has the same form)."""
    _, summary = _summary(code)
    form = {"method": request.args.get("method", "cash"), "amount": str(summary["due"]), "received": "",
            "form_id": str(uuid.uuid4())}  # fmt: skip
    return _take_page(code, form, {})


def _card_left_open(code: str) -> dict[str, Any] | None:
    """Return this dossier's card payment the terminal left unknown, if the sale just raised."""
    state = find_state(box(), code)
    found = cashier.list_payments(box().db(), state["dossier_id"], statuses=cashier.OPEN, methods=("card",))
    return found[-1] if found else None


@bp.post("/dossiers/<code>/payments")
@requires("fees.collect")
def take(code: str) -> BaseResponse | tuple[str, int]:
    """Take a payment: cash (change given), card (on the terminal), VietQR (a QR to scan, confirmed later)."""
    form = {k: request.form.get(k, "").strip() for k in ("method", "amount", "received", "form_id")}
    form["form_id"] = form["form_id"][:64] or str(uuid.uuid4())
    method = form["method"]
    try:
        amount = parse_money(form["amount"], "amount")
        received = parse_money(form["received"], "received") if method == "cash" else None
        payment = _ONCE.run(
            form["form_id"],
            lambda: cashier.take_payment(
                box(), _opener(), code, method, amount, current_user(), box().now(), received,
                make_vietqr=vietqr_payload,
            ),
        )  # fmt: skip
    except EdgeError as err:
        left = _card_left_open(code) if method == "card" else None
        if left is not None:
            flash(err.message(lang()), "error")
            return redirect(url_for("fees.payment", payment_id=left["id"]))
        errors = _field_errors(err, ("method", "amount", "received"))
        form["form_id"] = str(uuid.uuid4())  # corrected input is a new payment
        return _take_page(code, form, errors, err.status)
    _say_outcome(payment)
    return redirect(url_for("fees.payment", payment_id=payment["id"]))


def _say_outcome(payment: dict[str, Any]) -> None:
    status = payment["status"]
    if status == "approved":
        flash(_("Đã thu %(amount)s, biên lai số %(number)s.", amount=format_money(payment["amount"]),
                number=payment["receipt_number"]), "success")  # fmt: skip
        if payment["change"]:
            flash(_("Tiền trả lại khách: %(change)s.", change=format_money(payment["change"])), "success")
    elif status == "pending":
        flash(_("Mời công dân quét mã VietQR; khi tiền đã về tài khoản, bấm “Đã nhận tiền”."), "success")
    elif status == "declined":
        flash(_("Máy POS báo giao dịch bị từ chối; chưa thu được tiền."), "error")
    elif status == "unknown":
        flash(_("Máy POS không trả lời rõ; giao dịch cần đối soát trước khi thu tiếp."), "error")
    else:
        flash(_("Giao dịch đã hủy; chưa thu được tiền."), "error")


# --- one payment --------------------------------------------------------------------------------


def payment_page(payment_id: str, errors: dict[str, str] | None = None, status: int = 200,
                 values: dict[str, str] | None = None) -> tuple[str, int]:  # fmt: skip
    """Render one payment: its outcome, the QR while a transfer waits, receipts, refund and cancel."""
    db, user = box().db(), current_user()
    payment = cashier.get_payment(db, payment_id)
    if payment["status"] in cashier.OPEN and payment["method"] == "card":
        cashier.settle_cards(box(), user.username)
        payment = cashier.get_payment(db, payment_id)
    state = find_state(box(), payment["dossier_code"])
    waiting_qr = payment["method"] == "vietqr" and payment["status"] == "pending" and payment["vietqr_payload"]
    card = payments.get_payment(db, payment["card_payment_id"]) if payment["card_payment_id"] else None
    cancellable = (payment["status"] == "pending" and payment["method"] == "vietqr" and user.can("fees.collect")) or (
        payment["status"] == "approved" and not payment["refunded"] and user.can("fees.cancel")
    )
    page = render_template(
        "fees/payment.html",
        p=payment,
        state=state,
        card=card,
        qr=qr_svg(payment["vietqr_payload"]) if waiting_qr else None,
        can_collect=user.can("fees.collect"),
        can_refund=payment["status"] == "approved" and user.can("fees.refund"),
        refundable=payment["amount"] - payment["refunded"],
        can_cancel=cancellable,
        can_settle=user.can("payment.settle") and card is not None and card["state"] in payments.OPEN,
        job_id=str(uuid.uuid4()),
        errors=errors or {},
        values=values or {},
    )
    return page, status


@bp.get("/payments/<payment_id>")
@requires("fees.read")
def payment(payment_id: str) -> tuple[str, int]:
    """One payment, as the officer and the citizen see it at the counter."""
    return payment_page(payment_id)


def _back(payment_id: str) -> BaseResponse:
    return redirect(url_for("fees.payment", payment_id=payment_id))


@bp.post("/payments/<payment_id>/confirm")
@requires("fees.collect")
def confirm(payment_id: str) -> BaseResponse | tuple[str, int]:
    """The transfer arrived on the office's account: the payment is paid and gets its receipt number."""
    try:
        done = cashier.confirm_vietqr(box(), payment_id, current_user(), box().now())
    except EdgeError as err:
        return payment_page(payment_id, {"confirm-form": err.message(lang())}, err.status)
    _say_outcome(done)
    return _back(payment_id)


@bp.post("/payments/<payment_id>/reconcile")
@requires("fees.collect")
def reconcile(payment_id: str) -> BaseResponse | tuple[str, int]:
    """Ask the terminal what became of a card payment whose outcome is unknown."""
    try:
        done = cashier.reconcile_card(box(), devices.opener(), payment_id, current_user(), box().now())
    except EdgeError as err:
        return payment_page(payment_id, {"reconcile-form": err.message(lang())}, err.status)
    _say_outcome(done)
    return _back(payment_id)


@bp.post("/payments/<payment_id>/cancel")
@requires("fees.read")
def cancel(payment_id: str) -> BaseResponse | tuple[str, int]:
    """Cancel a transfer still waiting, or (a leader) a paid payment: its receipt is void, a card is voided."""
    reason = request.form.get("reason", "")
    try:
        cashier.cancel(box(), payment_id, reason, current_user(), box().now(), opener=_opener())
    except EdgeError as err:
        errors = _field_errors(err, ("reason",), "cancel-")
        return payment_page(payment_id, errors, err.status, {"cancel-reason": reason})
    flash(_("Đã hủy khoản thu."), "success")
    return _back(payment_id)


@bp.post("/payments/<payment_id>/refund")
@requires("fees.read")
def refund(payment_id: str) -> BaseResponse | tuple[str, int]:
    """Give back part or all of a paid payment (a leader, with a reason)."""
    values = {"refund-amount": request.form.get("amount", ""), "refund-reason": request.form.get("reason", "")}
    try:
        amount = parse_money(values["refund-amount"], "amount")
        done = cashier.refund(box(), payment_id, amount, values["refund-reason"], current_user(), box().now())
    except EdgeError as err:
        return payment_page(payment_id, _field_errors(err, ("amount", "reason"), "refund-"), err.status, values)
    flash(_("Đã hoàn %(amount)s cho công dân.", amount=format_money(done["refunds"][-1]["amount"])), "success")
    return _back(payment_id)


# --- adjusting the fee lines (a leader) ----------------------------------------------------------


def _adjust_page(code: str, rows: list[dict[str, str]], reason: str, errors: dict[str, str],
                 status: int = 200) -> tuple[str, int]:  # fmt: skip
    state, summary = _summary(code)
    page = render_template(
        "fees/adjust.html", code=code, state=state, summary=summary, rows=rows, reason=reason, errors=errors
    )
    return page, status


@bp.get("/dossiers/<code>/fees/adjust")
@requires("fees.adjust")
def adjust_form(code: str) -> tuple[str, int]:
    """The fee lines as they stand, to change (with a reason)."""
    _, summary = _summary(code)
    rows = [{"name": x["name"], "kind": x["kind"], "amount": str(x["amount"])} for x in summary["lines"]]
    rows += [{"name": "", "kind": "fee", "amount": ""}] * ADJUST_SPARE_ROWS
    return _adjust_page(code, rows, "", {})


@bp.post("/dossiers/<code>/fees/adjust")
@requires("fees.adjust")
def adjust(code: str) -> BaseResponse | tuple[str, int]:
    """Replace the dossier's fee lines; an empty row is dropped, a wrong one is shown by its input."""
    rows: list[dict[str, str]] = []
    used: list[int] = []
    lines: list[dict[str, Any]] = []
    for i in range(fees.MAX_LINES + ADJUST_SPARE_ROWS):
        if f"name_{i}" not in request.form:
            break
        row = {k: request.form.get(f"{k}_{i}", "").strip() for k in ("name", "kind", "amount")}
        rows.append(row)
        if row["name"] or row["amount"]:
            used.append(i)
    reason = request.form.get("reason", "")
    try:
        for i in used:
            amount = parse_money(rows[i]["amount"], f"lines[{len(lines)}].amount")
            lines.append({"name": rows[i]["name"], "kind": rows[i]["kind"], "amount": amount})
        fees.adjust_fees(box(), code, lines, reason, current_user(), box().now())
    except EdgeError as err:
        found = _LINE_FIELD.fullmatch(err.field or "")
        if found and int(found[1]) < len(used):
            errors = {f"{found[2] or 'name'}_{used[int(found[1])]}": err.message(lang())}
        else:
            errors = _field_errors(err, ("reason",))
        return _adjust_page(code, rows, reason, errors, err.status)
    flash(_("Đã điều chỉnh phí, lệ phí của hồ sơ."), "success")
    return redirect(url_for("dossiers.detail", code=code) + "#h-fees")
