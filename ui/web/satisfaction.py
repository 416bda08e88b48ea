"""Satisfaction in the reports (/reports/satisfaction): the share of satisfied ratings per officer,
procedure and month over a date range, the count of each level, the 9-indicator evaluations' mean
points, and the CSV and Excel downloads. Every figure is edge.satisfaction's; the range is read like
the report page's (ui.web.reports.parse_args).
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from edge import satisfaction
from edge.errors import ValidationError
from ui.web.common import box, lang, requires
from ui.web.reports import CSV, XLSX, ReportForm, _today, download, format_int, format_percent, parse_args, span_name

bp = Blueprint("satisfaction", __name__)


def _form() -> ReportForm:
    args = MultiDict({**request.args.to_dict(), "by": "month"})  # any length up to the reports' limit
    return parse_args(args, _today())


def _found(form: ReportForm) -> satisfaction.Satisfaction:
    return satisfaction.satisfaction(box().db(), form.start, form.end, scale=box().settings.rating_scale)


def _label(row: satisfaction.Row) -> str:
    if row.is_total:
        return str(_("Tổng cộng"))
    if not row.key and lang() == "en":
        return satisfaction.NO_KEY[row.group][1]
    return row.label


def _page(form: ReportForm, found: satisfaction.Satisfaction | None) -> tuple[str, int]:
    groups = {
        "officer": _("Theo cán bộ"),
        "procedure": _("Theo thủ tục hành chính"),
        "month": _("Theo tháng"),
    }
    page = render_template(
        "satisfaction/index.html",
        form=form,
        values=form.values,
        errors=form.errors,
        found=found,
        groups=groups,
        scale=box().settings.rating_scale,
        num=format_int,
        pct=format_percent,
        label=_label,
        en=lang() == "en",
        args={"from": form.start.isoformat(), "to": form.end.isoformat()},
    )
    return page, 422 if form.errors else 200


@bp.get("/reports/satisfaction")
@requires("reports.read")
def index() -> tuple[str, int]:
    """Show the satisfaction of a date range (default: this month)."""
    form = _form()
    return _page(form, None if form.errors else _found(form))


def _title(form: ReportForm) -> str:
    return f"Mức độ hài lòng từ {form.start:%d/%m/%Y} đến {form.end:%d/%m/%Y} – {box().settings.name}"


@bp.get("/reports/satisfaction.csv")
@requires("reports.read")
def export_csv() -> Response | tuple[str, int]:
    """Download one grouping (?by=officer, procedure or month) as CSV."""
    form = _form()
    by = request.args.get("by", "officer")
    if by not in satisfaction.GROUPS:
        err = ValidationError(
            "Chọn cách nhóm: theo cán bộ, thủ tục hành chính hoặc tháng.",
            "Choose a grouping: by officer, procedure or month.",
            code="invalid_group_by",
            field="by",
        )
        form.errors["by"] = err.message(lang())
    if form.errors:
        return _page(form, None)
    data = satisfaction.rows_csv(_found(form).by[by])
    words = {"officer": "theo-cán-bộ", "procedure": "theo-thủ-tục", "month": "theo-tháng"}[by]
    return download(data, CSV, f"hài-lòng-{words}-{span_name(form.start, form.end)}.csv")


@bp.get("/reports/satisfaction.xlsx")
@requires("reports.read")
def export_xlsx() -> Response | tuple[str, int]:
    """Download every grouping, the level counts and the indicator means as one Excel workbook."""
    form = _form()
    if form.errors:
        return _page(form, None)
    data = satisfaction.workbook_xlsx(_found(form), _title(form))
    return download(data, XLSX, f"hài-lòng-{span_name(form.start, form.end)}.xlsx")
