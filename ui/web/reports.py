"""The leader's report ("Báo cáo, thống kê"): counts and rates by period, procedure or officer,
their CSV and Excel exports, the logbook's exports, and the queue's statistics (tab "Lấy số thứ tự").

Every number is edge's: the page reads `edge.reports.summary` (one grouped query over the narrow
`dossiers_by_received` copy, fast on a box with a million dossiers), the files come from
`edge.exports`. This module only reads the query string, formats numbers the Vietnamese way and
names the downloads.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from edge import audit, exports, queuestats, reports
from edge.calendar import TZ
from edge.dates import read_day
from edge.errors import ValidationError
from edge.store.db import write
from ui.web.common import box, current_user, lang, requires

bp = Blueprint("reports", __name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
GROUP_BY = tuple(reports.GROUPS)  # day, month, quarter, procedure, officer
FIELDS = {"start": "from", "end": "to", "group_by": "by"}  # edge's field names -> the form's inputs
# The words of each grouping in a file name (Vietnamese; the ASCII fallback is folded from them).
FILE_WORDS = {
    "day": "",
    "month": "theo-tháng",
    "quarter": "theo-quý",
    "procedure": "theo-thủ-tục",
    "officer": "theo-cán-bộ",
}
QUEUE_FILE_WORDS = {
    "service": "theo-dịch-vụ",
    "counter": "theo-quầy",
    "officer": "theo-cán-bộ",
    "day": "theo-ngày",
    "month": "theo-tháng",
}
_FIELD_NAMES = {"from": ("Từ ngày", "From"), "to": ("Đến ngày", "To")}


# --- the query string ------------------------------------------------------------------------------


@dataclass
class ReportForm:
    """The form as typed (kept in the URL), and the range and grouping once valid."""

    values: dict[str, str]
    errors: dict[str, str]
    start: date
    end: date
    group_by: str

    @property
    def args(self) -> dict[str, str]:
        """Return the query string of this report (for the export links)."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "by": self.group_by}


def _today() -> date:
    return box().now().astimezone(TZ).date()


def month_end(day: date) -> date:
    """Return the last day of the day's month."""
    first_next = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    return first_next - timedelta(days=1)


def quarter_start(day: date) -> date:
    """Return the first day of the day's quarter."""
    return date(day.year, day.month - (day.month - 1) % 3, 1)


def _invalid_day(name: str, raw: str) -> ValidationError:
    return ValidationError(
        f"Ngày “{raw}” không hợp lệ; chọn ngày theo dạng 26/11/2026.",
        f"The date “{raw}” is invalid; use the form 26/11/2026.",
        code="invalid_date",
        field=name,
    )


def parse_day(name: str, raw: str) -> date:
    """Read yyyy-mm-dd (the date picker) or dd/mm/yyyy; a wrong one raises a ValidationError."""
    try:
        day = read_day(raw)
    except ValueError as err:
        raise _invalid_day(name, raw[:40]) from err
    if not 2000 <= day.year <= 2100:
        vi, en = _FIELD_NAMES[name]
        raise ValidationError(
            f"{vi} phải nằm trong khoảng năm 2000–2100.",
            f"“{en}” must be between the years 2000 and 2100.",
            code="date_out_of_range",
            field=name,
        )
    return day


def _queue_group_error() -> str:
    return ValidationError(
        "Chọn cách nhóm: theo dịch vụ, quầy, cán bộ, ngày hoặc tháng.",
        "Choose a grouping: by service, counter, officer, day or month.",
        code="invalid_group_by",
        field="by",
    ).message(lang())


def parse_args(args: MultiDict[str, str], today: date, *, logbook: bool = False, queue: bool = False) -> ReportForm:
    """Turn ?from=&to=&by= into a range and a grouping; a wrong value becomes a message by its input.

    Defaults: this month, by day (the queue's statistics: by service). Only `from` given: to the end
    of its month.
    """
    values = {name: args.get(name, "").strip()[:40] for name in ("from", "to", "by")}
    errors: dict[str, str] = {}
    group_by = values["by"] or ("service" if queue else "day")
    if logbook:
        group_by = "day"
    elif queue:
        if group_by not in queuestats.GROUPS:
            errors["by"] = _queue_group_error()
            group_by = "service"
    elif group_by not in GROUP_BY:
        errors["by"] = ValidationError(
            "Chọn cách nhóm: theo ngày, tháng, quý, thủ tục hành chính hoặc cán bộ tiếp nhận.",
            "Choose a grouping: by day, month, quarter, procedure or receiving officer.",
            code="invalid_group_by",
            field="by",
        ).message(lang())
        group_by = "day"
    days: dict[str, date] = {}
    for name in ("from", "to"):
        if values[name]:
            try:
                days[name] = parse_day(name, values[name])
            except ValidationError as err:
                errors[name] = err.message(lang())
    start = days.get("from") or today.replace(day=1)
    end = days.get("to") or month_end(start if "from" in days else today)
    if not errors:
        try:
            reports.check_range(start, end, reports.MAX_DAYS if group_by == "day" else None)
        except ValidationError as err:
            errors[FIELDS.get(err.field or "", "to")] = err.message(lang())
    return ReportForm(values, errors, start, end, group_by)


# --- what the page shows ------------------------------------------------------------------------------


def format_int(value: int) -> str:
    """Format a count: 1.234 (Vietnamese) or 1,234 (English)."""
    text = f"{value:,}"
    return text if lang() == "en" else text.replace(",", ".")


def format_percent(value: float | None) -> str:
    """Format a fraction 0–1 as 87,5 % (Vietnamese) or 87.5% (English); nothing to divide: –."""
    if value is None:
        return "–"
    text = f"{value * 100:.1f}"
    return text + "%" if lang() == "en" else text.replace(".", ",") + " %"


def group_names() -> dict[str, str]:
    """Return the name of each grouping for the form's select."""
    return {
        "day": _("Theo ngày"),
        "month": _("Theo tháng"),
        "quarter": _("Theo quý"),
        "procedure": _("Theo thủ tục hành chính"),
        "officer": _("Theo cán bộ tiếp nhận"),
    }


def row_label(row: reports.Row) -> str:
    """Return the row's label in the session's language (procedure and officer names stay as they are)."""
    if lang() != "en":
        return row.label
    if row.is_total:
        return str(_("Tổng cộng"))
    if row.group == "month":
        year, month = row.key.split("-")
        return f"{month}/{year}"
    if row.group == "quarter":
        year, quarter = row.key.split("-Q")
        return f"Q{quarter} {year}"
    if row.group == "officer" and not row.key:
        return str(_("Không rõ"))
    return row.label


def row_range(row: reports.Row, start: date, end: date) -> tuple[date, date] | None:
    """Return the received dates a period row covers within the report's range (None: not a period)."""
    if row.is_total or row.group not in reports.PERIODS:
        return None
    if row.group == "day":
        first = date.fromisoformat(row.key)
        return first, first
    if row.group == "month":
        first = date.fromisoformat(row.key + "-01")
        last = month_end(first)
    else:
        year, quarter = row.key.split("-Q")
        first = date(int(year), 3 * int(quarter) - 2, 1)
        last = month_end(date(int(year), 3 * int(quarter), 1))
    return max(first, start), min(last, end)


def dossier_link(row: reports.Row, form: ReportForm) -> str | None:
    """Return the dossier list of the row's dossiers (periods and procedures), when the list exists."""
    if "dossiers.index" not in current_app.view_functions or not current_user().can("dossier.read"):
        return None
    extra: dict[str, Any] = {}
    span: tuple[date, date] | None = (form.start, form.end)
    if row.group == "procedure" and not row.is_total:
        extra["procedure"] = row.key
    elif not row.is_total:
        span = row_range(row, form.start, form.end)
    if span is None:
        return None
    return url_for("dossiers.index", received_from=span[0].isoformat(), received_to=span[1].isoformat(), **extra)


def quick_ranges(today: date, group_by: str, endpoint: str = "reports.index") -> list[dict[str, Any]]:
    """Return the quick links: today, this month, this quarter, this year (a year by day goes by month)."""
    coarse = "month" if group_by == "day" else group_by
    q_start = quarter_start(today)
    spans = [
        (_("Hôm nay"), today, today, group_by),
        (_("Tháng này"), today.replace(day=1), month_end(today), group_by),
        (_("Quý này"), q_start, month_end(date(today.year, q_start.month + 2, 1)), coarse),
        (_("Năm nay"), date(today.year, 1, 1), date(today.year, 12, 31), coarse),
    ]
    out = []
    for label, first, last, by in spans:
        args: dict[str, Any] = {"from": first.isoformat(), "to": last.isoformat(), "by": by}
        out.append({"label": label, "url": url_for(endpoint, **args), "from": first, "to": last, "by": by})
    return out


def _logbook_ok(form: ReportForm) -> bool:
    try:
        reports.check_range(form.start, form.end, reports.MAX_DAYS)
    except ValidationError:
        return False
    return True


def _page(form: ReportForm, rows: list[reports.Row]) -> tuple[str, int]:
    today = _today()
    html = render_template(
        "reports/index.html",
        form=form,
        values=form.values,
        errors=form.errors,
        rows=rows,
        groups=group_names(),
        group_title=reports.GROUPS[form.group_by][1 if lang() == "en" else 0],
        quick=quick_ranges(today, form.group_by),
        logbook_ok=_logbook_ok(form),
        max_days=reports.MAX_DAYS,
        num=format_int,
        pct=format_percent,
        label=row_label,
        link=lambda row: dossier_link(row, form),
        print_logbook="prints.logbook" in current_app.view_functions,
    )
    return html, 422 if form.errors else 200


@bp.get("/reports")
@requires("reports.read")
def index() -> tuple[str, int]:
    """Show the report of the range (default: this month) grouped by day, month, quarter, procedure or officer."""
    form = parse_args(request.args, _today())
    if form.errors:
        return _page(form, [])
    return _page(form, _summary(form))


def _summary(form: ReportForm) -> list[reports.Row]:
    return reports.summary(box().db(), form.start, form.end, form.group_by, now=box().now())


# --- downloads ---------------------------------------------------------------------------------------


def span_name(start: date, end: date) -> str:
    """Name a range for a file: 2026-11-25, 2026-11, 2026-Q4, 2026, or 2026-11-01_2026-12-15."""
    if start == end:
        return start.isoformat()
    if start.day == 1 and end == month_end(start):
        return f"{start:%Y-%m}"
    if start == quarter_start(start) and end == month_end(date(start.year, start.month + 2, 1)):
        return f"{start.year}-Q{(start.month + 2) // 3}"
    if (start.month, start.day, end.month, end.day) == (1, 1, 12, 31) and start.year == end.year:
        return str(start.year)
    return f"{start.isoformat()}_{end.isoformat()}"


def report_file_name(form: ReportForm, ext: str) -> str:
    """Return the report's file name in Vietnamese, e.g. báo-cáo-2026-11.xlsx, báo-cáo-theo-quý-2026.xlsx."""
    words = FILE_WORDS[form.group_by]
    return "-".join(part for part in ("báo-cáo", words, span_name(form.start, form.end)) if part) + f".{ext}"


def logbook_file_name(form: ReportForm, ext: str) -> str:
    """Return the logbook's file name in Vietnamese, e.g. sổ-theo-dõi-2026-11-01_2026-11-30.xlsx."""
    return f"sổ-theo-dõi-{form.start.isoformat()}_{form.end.isoformat()}.{ext}"


def ascii_name(name: str) -> str:
    """Return the file name without diacritics, for clients that do not read filename*."""
    bare = "".join(ch for ch in unicodedata.normalize("NFD", name) if unicodedata.category(ch) != "Mn")
    return re.sub(r"[^A-Za-z0-9._-]", "-", bare.replace("đ", "d").replace("Đ", "D"))


def download(data: bytes, content_type: str, name: str) -> Response:
    """Return a file to save: an ASCII name for old clients and the Vietnamese one in filename*."""
    disposition = f"attachment; filename=\"{ascii_name(name)}\"; filename*=UTF-8''{quote(name, safe='')}"
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = disposition
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _dates(start: date, end: date) -> str:
    return f"từ {start:%d/%m/%Y} đến {end:%d/%m/%Y}"


def report_title(form: ReportForm) -> str:
    """Return the title written at the top of the report workbook (in Vietnamese, like the columns)."""
    group = reports.GROUPS[form.group_by][0].lower()
    return f"Báo cáo, thống kê hồ sơ theo {group} {_dates(form.start, form.end)} – {box().settings.name}"


def logbook_title(form: ReportForm) -> str:
    """Return the title written at the top of the logbook workbook."""
    return f"Sổ theo dõi hồ sơ {_dates(form.start, form.end)} – {box().settings.name}"


def _report_export(ext: str) -> Response | tuple[str, int]:
    form = parse_args(request.args, _today())
    if form.errors:
        return _page(form, [])
    rows = _summary(form)
    data = exports.report_csv(rows) if ext == "csv" else exports.report_xlsx(rows, report_title(form))
    return download(data, CSV if ext == "csv" else XLSX, report_file_name(form, ext))


@bp.get("/reports/export.csv")
@requires("reports.read")
def export_csv() -> Response | tuple[str, int]:
    """Download the report as CSV (UTF-8 with BOM, for Excel)."""
    return _report_export("csv")


@bp.get("/reports/export.xlsx")
@requires("reports.read")
def export_xlsx() -> Response | tuple[str, int]:
    """Download the report as an Excel workbook."""
    return _report_export("xlsx")


def _logbook_export(ext: str) -> Response | tuple[str, int]:
    form = parse_args(request.args, _today(), logbook=True)
    if form.errors:
        return _page(form, [])
    lines = reports.logbook(box().db(), form.start, form.end)
    data = exports.logbook_csv(lines) if ext == "csv" else exports.logbook_xlsx(lines, logbook_title(form))
    # The logbook holds names, addresses and phone numbers: who took a copy is kept.
    db = box().db()
    with write(db):
        detail = {"from": form.start.isoformat(), "to": form.end.isoformat(), "format": ext, "lines": len(lines)}
        audit.record(db, current_user().username, "logbook_export", detail=detail, source=request.remote_addr or "")
    return download(data, CSV if ext == "csv" else XLSX, logbook_file_name(form, ext))


@bp.get("/reports/logbook.csv")
@requires("reports.read")
def logbook_csv() -> Response | tuple[str, int]:
    """Download the logbook of a date range as CSV."""
    return _logbook_export("csv")


@bp.get("/reports/logbook.xlsx")
@requires("reports.read")
def logbook_xlsx() -> Response | tuple[str, int]:
    """Download the logbook of a date range as an Excel workbook."""
    return _logbook_export("xlsx")


# --- the queue's statistics (tab "Lấy số thứ tự") -------------------------------------------------------


def format_minutes(value: float | None) -> str:
    """Format minutes: 12,5 phút (Vietnamese) or 12.5 min (English); nothing measured: –."""
    if value is None:
        return "–"
    return f"{value:.1f} min" if lang() == "en" else f"{value:.1f}".replace(".", ",") + " phút"


def queue_group_names() -> dict[str, str]:
    """Return the name of each grouping of the queue's statistics for the form's select."""
    return {
        "service": _("Theo dịch vụ"),
        "counter": _("Theo quầy"),
        "officer": _("Theo cán bộ"),
        "day": _("Theo ngày"),
        "month": _("Theo tháng"),
    }


def queue_row_label(row: queuestats.QueueRow) -> str:
    """Return the row's label in the session's language (service, counter and officer names stay as they are)."""
    if lang() != "en":
        return row.label
    if row.is_total:
        return str(_("Tổng cộng"))
    if not row.key:
        return str(_("Chưa gọi"))
    if row.group == "month":
        year, month = row.key.split("-")
        return f"{month}/{year}"
    return row.label


def _queue_rows(form: ReportForm) -> list[queuestats.QueueRow]:
    return queuestats.queue_statistics(box().db(), form.start, form.end, form.group_by, total=True)


def _queue_page(form: ReportForm, rows: list[queuestats.QueueRow]) -> tuple[str, int]:
    html = render_template(
        "reports/queue.html",
        form=form,
        values=form.values,
        errors=form.errors,
        rows=rows,
        groups=queue_group_names(),
        group_title=queuestats.GROUPS[form.group_by][1 if lang() == "en" else 0],
        quick=quick_ranges(_today(), form.group_by, "reports.queue"),
        num=format_int,
        pct=format_percent,
        minutes=format_minutes,
        label=queue_row_label,
    )
    return html, 422 if form.errors else 200


@bp.get("/reports/queue")
@requires("reports.read")
def queue() -> tuple[str, int]:
    """Show the queue's statistics of the range (default: this month) by service, counter, officer, day or month."""
    form = parse_args(request.args, _today(), queue=True)
    return _queue_page(form, [] if form.errors else _queue_rows(form))


def queue_file_name(form: ReportForm, ext: str) -> str:
    """Return the file name of the queue's statistics, e.g. lấy-số-thứ-tự-theo-dịch-vụ-2026-11.xlsx."""
    return f"lấy-số-thứ-tự-{QUEUE_FILE_WORDS[form.group_by]}-{span_name(form.start, form.end)}.{ext}"


def queue_title(form: ReportForm) -> str:
    """Return the title written at the top of the queue statistics workbook."""
    group = queuestats.GROUPS[form.group_by][0].lower()
    return f"Thống kê lấy số thứ tự theo {group} {_dates(form.start, form.end)} – {box().settings.name}"


def _queue_export(ext: str) -> Response | tuple[str, int]:
    form = parse_args(request.args, _today(), queue=True)
    if form.errors:
        return _queue_page(form, [])
    rows = _queue_rows(form)
    data = exports.queue_csv(rows) if ext == "csv" else exports.queue_xlsx(rows, queue_title(form))
    return download(data, CSV if ext == "csv" else XLSX, queue_file_name(form, ext))


@bp.get("/reports/queue.csv")
@requires("reports.read")
def queue_csv() -> Response | tuple[str, int]:
    """Download the queue's statistics as CSV (UTF-8 with BOM, for Excel)."""
    return _queue_export("csv")


@bp.get("/reports/queue.xlsx")
@requires("reports.read")
def queue_xlsx() -> Response | tuple[str, int]:
    """Download the queue's statistics as an Excel workbook."""
    return _queue_export("xlsx")
