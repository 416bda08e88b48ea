"""The counter's devices for one dossier: the thermal receipt, reconciling card payments, the rating.

Card payments are taken as fee payments (ui/web/fees.py); this section lists them as the terminal
knows them, to reconcile or (a leader) settle by hand what the terminal cannot tell.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from edge import cashier, payments, printing, ratings
from edge.errors import EdgeError, ValidationError
from edge.queries import get_dossier
from ui.web.common import box, current_user, lang, requires
from ui.web.devices import opener, wake_printer

bp = Blueprint("counter", __name__)
PRINT_WAIT_S = 8.0  # the officer waits this long for the receipt before the page says "queued"


def counter_context(dossier: dict[str, Any]) -> dict[str, Any]:
    """What the dossier page shows about this dossier's prints and card payments."""
    db = box().db()
    return {
        "jobs": printing.list_jobs(db, 5, dossier_id=dossier["dossier_id"]),
        "card_payments": payments.list_payments(db, 10, dossier_id=dossier["dossier_id"]),
        "fee_cards": {  # card payment → the fee payment it is (cancelled there, with its receipt)
            p["card_payment_id"]: p["id"] for p in cashier.list_payments(db, dossier["dossier_id"], methods=("card",))
        },
        "keypad_counter": box().settings.keypad_counter,
        "can_settle": current_user().can("payment.settle"),
    }


def _back(code: str) -> BaseResponse:
    return redirect(url_for("dossiers.detail", code=code) + "#h-counter")


@bp.post("/dossiers/<code>/print-receipt")
@requires("dossier.act")
def print_receipt(code: str) -> BaseResponse:
    """Print the dossier's receipt on the counter's thermal printer (one job per form, however often sent)."""
    db = box().db()
    dossier = get_dossier(db, code, box().now())
    job_id = request.form.get("job_id") or None
    try:
        job = printing.enqueue(
            db,
            "receipt_printer",
            printing.dossier_receipt(box().settings.name, dossier),
            current_user().username,
            dossier_id=dossier["dossier_id"],
            job_id=job_id,
        )
        wake_printer()
        done = printing.wait_for(db, job, PRINT_WAIT_S)
    except EdgeError as err:
        flash(err.message(lang()), "error")
        return _back(code)
    if done["state"] == "printed":
        flash(_("Đã in giấy tiếp nhận."), "success")
        if done["reason_vi"]:  # printed, with a warning (paper nearly out)
            flash(done["reason_en"] if lang() == "en" else done["reason_vi"], "error")
    elif done["state"] in ("queued", "printing"):
        flash(_("Lệnh in đang chờ máy in."), "success")
    else:
        reason = done["reason_en"] if lang() == "en" else done["reason_vi"]
        flash(_("Chưa in được: %(reason)s", reason=reason or done["state_vi"]), "error")
    return _back(code)


@bp.post("/dossiers/<code>/print-jobs/<job_id>/reprint")
@requires("dossier.act")
def reprint(code: str, job_id: str) -> BaseResponse:
    """Print one of the dossier's jobs again (a new job)."""
    db = box().db()
    dossier = get_dossier(db, code, box().now())
    try:
        if printing.get_job(db, job_id)["dossier_id"] != dossier["dossier_id"]:
            abort(404)
        printing.reprint(db, job_id, current_user().username)
        wake_printer()
        flash(_("Đã gửi lệnh in lại."), "success")
    except EdgeError as err:
        flash(err.message(lang()), "error")
    return _back(code)


@bp.post("/dossiers/<code>/card-payments/<payment_id>/<action>")
@requires("dossier.act")
def card_payment_action(code: str, payment_id: str, action: str) -> BaseResponse:
    """Reconcile an unknown card payment with the terminal, or void an approved one."""
    if action not in ("reconcile", "void"):
        abort(404)
    db = box().db()
    dossier = get_dossier(db, code, box().now())
    try:
        if payments.get_payment(db, payment_id)["dossier_id"] != dossier["dossier_id"]:
            abort(404)
        if action == "void" and payment_id in counter_context(dossier)["fee_cards"]:
            flash(_("Giao dịch này là một khoản thu phí: hủy ở trang khoản thu để biên lai cũng bị hủy."), "error")
            return _back(code)
        if action == "reconcile":
            payment = payments.reconcile(db, opener(), payment_id, current_user().username)
        else:
            payment = payments.void(db, opener(), payment_id, current_user().username)
        flash(_("Giao dịch thẻ: %(state)s.", state=payment["state_en" if lang() == "en" else "state_vi"]), "success")
    except EdgeError as err:
        flash(err.message(lang()), "error")
    return _back(code)


@bp.post("/dossiers/<code>/card-payments/<payment_id>/settle")
@requires("payment.settle")
def settle(code: str, payment_id: str) -> BaseResponse:
    """Record, from the terminal's journal, the outcome of a payment the terminal cannot be asked about."""
    db = box().db()
    dossier = get_dossier(db, code, box().now())
    try:
        if payments.get_payment(db, payment_id)["dossier_id"] != dossier["dossier_id"]:
            abort(404)
        payment = payments.settle_by_hand(
            db, payment_id, request.form.get("outcome", ""), current_user().username, request.form.get("note", "")
        )
        flash(_("Giao dịch thẻ: %(state)s.", state=payment["state_en" if lang() == "en" else "state_vi"]), "success")
    except EdgeError as err:
        flash(err.message(lang()), "error")
    return _back(code)


@bp.get("/rate")
@requires("dossier.act")
def rate_page() -> str:
    """The citizen-facing rating page on the counter's tablet (also takes a USB-HID keypad's digits)."""
    db = box().db()
    counter = box().settings.keypad_counter
    subject = db.execute("SELECT dossier_id, officer FROM counter_subjects WHERE counter = ?", [counter]).fetchone()
    code = None
    if subject and subject[0]:
        row = db.execute("SELECT code FROM dossiers WHERE dossier_id = ?", [subject[0]]).fetchone()
        code = row[0] if row else None
    scale = box().settings.rating_scale  # 3 or 5 (motcua.toml [ratings], the admin page)
    levels = [(i + 1, *label) for i, label in enumerate(ratings.LEVELS[scale])]
    return render_template(
        "counter/rate.html", counter=counter, code=code, levels=levels, thanks=request.args.get("ok")
    )


@bp.post("/rate")
@requires("dossier.act")
def rate() -> BaseResponse:
    """Record one rating from the tablet: a touch on a button, or a digit typed by a USB-HID keypad."""
    source = "keyboard" if request.form.get("source") == "keyboard" else "tablet"
    level = request.form.get("level", "")
    try:
        if not level.isdigit():
            raise ValidationError("Chọn một mức đánh giá.", "Choose a rating.", field="level")
        scale = box().settings.rating_scale
        ratings.record_rating(box().db(), box().settings.keypad_counter, int(level), scale, source)
    except EdgeError as err:
        flash(err.message(lang()), "error")
        return redirect(url_for("counter.rate_page"))
    return redirect(url_for("counter.rate_page", ok=1))


@bp.post("/dossiers/<code>/rating")
@requires("dossier.act")
def ask_rating(code: str) -> BaseResponse:
    """Tie the counter keypad's next presses to this dossier and officer (the citizen rates the service)."""
    db = box().db()
    dossier = get_dossier(db, code, box().now())
    counter = box().settings.keypad_counter
    ratings.set_counter_subject(db, counter, dossier_id=dossier["dossier_id"], officer=current_user().username)
    flash(_("Mời công dân bấm nút đánh giá trên bàn phím tại quầy %(n)s.", n=counter), "success")
    return _back(code)
