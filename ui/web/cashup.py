"""The end-of-day cash-up page (kết sổ thu tiền cuối ngày): the day's takings, counted cash, closing, print, export.

The sums, the block on unknown card payments and the closing are edge/cashup.py's; this page shows
the unknown card payments first, takes the cash each officer counted and sends it to close_day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from edge import cashier, cashup
from edge.dates import parse_day
from edge.errors import EdgeError, ValidationError
from ui.web.common import box, current_user, lang, requires
from ui.web.dossier_view import load_people, name_of
from ui.web.fees import parse_money
from ui.web.reports import CSV, XLSX, download

bp = Blueprint("cashup", __name__)


def _day(text: str | None) -> str:
    """Return the day asked for (typed 25/11/2026 or 2026-11-25) as ISO, today when none."""
    text = (text or "").strip()
    return parse_day(text, "day").isoformat() if text else box().now().date().isoformat()


def _page(day: str, counts: dict[str, str], note: str, errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    cashier.settle_cards(box(), current_user().username)  # card payments reconciled meanwhile
    summary = cashup.day_summary(box().db(), day)
    people = load_people()
    officers = [o["officer"] for o in summary["by_officer"]]
    closed = summary["closed"]
    page = render_template(
        "cashup/day.html",
        s=summary,
        day=date.fromisoformat(summary["day"]),
        officers=officers,
        counts=counts,
        note=note,
        errors=errors,
        closed_lines=closed["counts"] if closed else [],
        can_close=current_user().can("cashup.close"),
        name_of=lambda username: name_of(people, username),
    )
    return page, status


@bp.get("/payments/cashup")
@requires("fees.read")
def day() -> tuple[str, int]:
    """The day's takings by method and officer, its payments, refunds and cancellations, and the closing form."""
    try:
        return _page(_day(request.args.get("day")), {}, "", {})
    except ValidationError as err:
        today = box().now().date().isoformat()
        return _page(today, {}, "", {"day": err.message(lang())}, 422)


@bp.post("/payments/cashup/close")
@requires("cashup.close")
def close() -> Response | tuple[str, int]:
    """Close the day with the cash each officer counted; differences are flagged, not refused."""
    day_text = _day(request.form.get("day"))
    officers = request.form.getlist("officer")[:100]
    counts = {name: request.form.get(f"counted_{name}", "").strip() for name in officers}
    note = request.form.get("note", "")
    errors: dict[str, str] = {}
    counted: dict[str, int] = {}
    for name, text in counts.items():
        try:
            amount = parse_money(text, "counted_cash")
        except ValidationError as err:
            errors[f"counted_{name}"] = err.message(lang())
            continue
        if amount is not None:
            counted[name] = amount
    try:
        if errors:
            raise ValidationError("Sửa các ô tiền đếm được bị sai.", "Correct the wrong counted amounts.")
        cashup.close_day(box().db(), day_text, counted, note, current_user(), box().now())
    except EdgeError as err:
        errors.setdefault("form", err.message(lang()))
        if err.field == "day":
            day_text = box().now().date().isoformat()
        return _page(day_text, counts, note, errors, err.status)
    flash(_("Đã kết sổ ngày %(day)s.", day=date.fromisoformat(day_text).strftime("%d/%m/%Y")), "success")
    return redirect(url_for("cashup.day", day=day_text))


def _summary() -> dict[str, Any]:
    cashier.settle_cards(box(), current_user().username)
    return cashup.day_summary(box().db(), _day(request.args.get("day")))


@bp.get("/payments/cashup/print")
@requires("fees.read")
def print_view() -> tuple[str, int]:
    """The day's cash-up on A4, to sign and file."""
    summary = _summary()
    people = load_people()
    closed = summary["closed"]
    return render_template(
        "cashup/print.html",
        s=summary,
        day=date.fromisoformat(summary["day"]),
        closed_lines=closed["counts"] if closed else [],
        name_of=lambda username: name_of(people, username),
        back=url_for("cashup.day", day=summary["day"]),
    ), 200


@bp.get("/payments/cashup/export.<ext>")
@requires("fees.read")
def export(ext: str) -> Response:
    """The day's cash-up as CSV or an Excel workbook."""
    if ext not in ("csv", "xlsx"):
        raise ValidationError("Chỉ xuất được CSV hoặc Excel (xlsx).", "Only CSV or Excel (xlsx) can be exported.")
    summary = _summary()
    name = f"kết-sổ-thu-tiền-{summary['day']}.{ext}"
    if ext == "csv":
        return download(cashup.cashup_csv(summary), CSV, name)
    title = f"Kết sổ thu tiền ngày {date.fromisoformat(summary['day']):%d/%m/%Y} – {box().settings.name}"
    return download(cashup.cashup_xlsx(summary, title), XLSX, name)
