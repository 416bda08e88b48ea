"""Print views: forms 01–05 of a dossier on A5 and the logbook on A4 landscape, as HTML pages."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import qrcode  # type: ignore[import-untyped,unused-ignore]
import qrcode.image.svg  # type: ignore[import-untyped,unused-ignore]
from flask import Blueprint, current_app, request, url_for
from flask import render_template as render
from markupsafe import Markup

from edge import reports
from edge.calendar import TZ
from edge.dates import parse_day
from edge.errors import NotFoundError, ValidationError
from edge.queries import get_dossier
from edge.users import get_user
from ui.web import forms
from ui.web.common import box, lang, requires

bp = Blueprint("prints", __name__)


def qr_svg(text: str) -> Markup:
    """Return an inline SVG QR code of the text (safe: qrcode builds it from the text's bits)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg: str = image.to_string(encoding="unicode")
    return Markup(svg.replace("<svg ", '<svg class="qr-code" aria-hidden="true" ', 1))


def _office() -> forms.Office:
    db, cache = box().db(), {}

    def name(username: str | None) -> str:
        if not username:
            return ""
        if username not in cache:
            try:
                cache[username] = get_user(db, username).full_name or username
            except NotFoundError:  # removed since, or an officer of another box
                cache[username] = username
        return cache[username]

    agency = box().settings.name
    return forms.Office(agency=agency, place=forms.place_of(agency), names=name)


def _dossier_url(code: str) -> str:
    """Return the dossier page's address (the route is fixed: /dossiers/<code>)."""
    for rule in current_app.url_map.iter_rules():
        if rule.rule == "/dossiers/<code>" and "GET" in (rule.methods or ()):
            return url_for(rule.endpoint, code=code)
    return f"{request.script_root}/dossiers/{quote(code, safe='')}"


def _dossier(code: str) -> dict[str, Any]:
    return get_dossier(box().db(), code, box().now())


def _unavailable(err: forms.FormUnavailable, code: str) -> tuple[str, int]:
    page = render("print/unavailable.html", message=err.message(lang()), back=_dossier_url(code))
    return page, err.status


def _paper(paper: forms.Paper, code: str, **extra: Any) -> str:
    return render(f"print/{paper.spec.key}.html", paper=paper, v=paper.values, back=_dossier_url(code), **extra)


def _logbook_line(code: str, received_at: str) -> tuple[int, int] | None:
    """Return the volume (the year) and the line of the dossier in that year's logbook."""
    received = forms.local(received_at)
    assert received is not None
    lines = reports.logbook(box().db(), date(received.year, 1, 1), received.date())
    return next(((received.year, line.no) for line in lines if line.code == code), None)


@bp.get("/dossiers/<code>/print/receipt")
@requires("dossier.read")
def receipt(code: str) -> str | tuple[str, int]:
    """Form 01: receipt and appointment (with the QR code of the dossier code)."""
    dossier = _dossier(code)
    try:
        line = _logbook_line(code, dossier["received_at"]) if dossier.get("received_at") else None
        paper = forms.receipt(dossier, _office(), line)
    except forms.FormUnavailable as err:
        return _unavailable(err, code)
    return _paper(
        paper,
        code,
        qr=qr_svg(code),
        saved=request.args.get("saved") == "1",
        autoprint=request.args.get("autoprint") == "1",
    )


@bp.get("/dossiers/<code>/print/supplement")
@requires("dossier.read")
def supplement(code: str) -> str | tuple[str, int]:
    """Form 02: supplement request."""
    try:
        return _paper(forms.supplement(_dossier(code), _office()), code)
    except forms.FormUnavailable as err:
        return _unavailable(err, code)


@bp.get("/dossiers/<code>/print/refusal")
@requires("dossier.read")
def refusal(code: str) -> str | tuple[str, int]:
    """Form 03: refusal to receive and process the dossier."""
    try:
        return _paper(forms.refusal(_dossier(code), _office()), code)
    except forms.FormUnavailable as err:
        return _unavailable(err, code)


@bp.get("/dossiers/<code>/print/apology")
@requires("dossier.read")
def apology(code: str) -> str | tuple[str, int]:
    """Form 04: apology and new due date (the last reschedule, or ?n= for an earlier one)."""
    which = request.args.get("n", type=int)
    try:
        return _paper(forms.apology(_dossier(code), _office(), which), code)
    except forms.FormUnavailable as err:
        return _unavailable(err, code)


@bp.get("/dossiers/<code>/print/control")
@requires("dossier.read")
def control(code: str) -> str | tuple[str, int]:
    """Form 05: process control sheet."""
    try:
        return _paper(forms.control(_dossier(code), _office()), code)
    except forms.FormUnavailable as err:
        return _unavailable(err, code)


def _day_arg(name: str, default: date) -> date:
    raw = request.args.get(name, "").strip()
    return parse_day(raw, name) if raw else default


def _yearly_numbers(start: date, lines: list[reports.LogbookLine]) -> list[int]:
    """Number the lines within each year's volume, so they match the receipts' logbook lines."""
    counts: dict[int, int] = {start.year: 0}
    if start != date(start.year, 1, 1):
        counts[start.year] = len(reports.logbook(box().db(), date(start.year, 1, 1), start - timedelta(days=1)))
    numbers = []
    for line in lines:
        year = line.received_at.astimezone(TZ).year
        counts[year] = counts.get(year, 0) + 1
        numbers.append(counts[year])
    return numbers


@bp.get("/logbook/print")
@requires("dossier.read")
def logbook() -> str | tuple[str, int]:
    """The logbook (sổ theo dõi hồ sơ) of the dossiers received in a date range, on A4 landscape."""
    today = box().now().date()
    office = _office()
    back = url_for("reports.index") if "reports.index" in current_app.view_functions else url_for("pages.today")
    context: dict[str, Any] = {
        "spec": forms.FORM_BY_KEY["logbook"],
        "header": forms.logbook_header(office, today),
        "back": back,
        "start_text": request.args.get("from", ""),
        "end_text": request.args.get("to", ""),
    }
    try:
        start, end = _day_arg("from", today), _day_arg("to", today)
        lines = reports.logbook(box().db(), start, end)
    except ValidationError as err:
        return render("print/logbook.html", error=err.message(lang()), rows=[], **context), 400
    rows = list(zip(_yearly_numbers(start, lines), lines, strict=True))
    volumes = sorted({line.received_at.astimezone(TZ).year for line in lines} or {start.year})
    context.update(start_text=start.isoformat(), end_text=end.isoformat())
    return render(
        "print/logbook.html",
        rows=rows,
        start=forms.short_date(start.isoformat() + "T00:00:00+07:00"),
        end=forms.short_date(end.isoformat() + "T00:00:00+07:00"),
        volumes="–".join(str(v) for v in volumes),
        fmt=forms,
        **context,
    )
