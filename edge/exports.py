"""Report rows, queue statistics and logbook lines as CSV (UTF-8 with BOM, for Excel) and as Excel workbooks."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from edge.calendar import TZ
from edge.queuestats import GROUPS as QUEUE_GROUPS
from edge.queuestats import QueueRow
from edge.reports import GROUPS, LogbookLine, Row

Kind = Literal["text", "int", "moment", "percent", "minutes"]
DATE_FORMAT = "dd/mm/yyyy hh:mm"
_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)  # ruled like a paper logbook
_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula


@dataclass(frozen=True)
class Column:
    """One column of an export: its Vietnamese header, width in characters, kind and value."""

    header: str
    width: float
    kind: Kind
    value: Callable[[Any], Any]
    wrap: bool = False


def _report_columns(group: str) -> list[Column]:
    def n(name: str) -> Callable[[Any], Any]:
        return lambda r: getattr(r, name)

    return [
        Column("Mã", 14, "text", n("key")),
        Column(GROUPS[group][0], 40 if group == "procedure" else 22, "text", n("label"), wrap=True),
        Column("Tiếp nhận", 11, "int", n("received")),
        Column("Đã giải quyết", 11, "int", n("finished")),
        Column("Giải quyết đúng hạn", 12, "int", n("on_time")),
        Column("Giải quyết trễ hạn", 12, "int", n("late")),
        Column("Tỷ lệ đúng hạn", 11, "percent", n("on_time_rate")),
        Column("Đang giải quyết", 12, "int", n("in_progress")),
        Column("Đang quá hạn", 11, "int", n("overdue")),
        Column("Từ chối tiếp nhận", 11, "int", n("refused")),
        Column("Rút hồ sơ", 10, "int", n("withdrawn")),
        Column("Dừng xử lý", 10, "int", n("stopped")),
        Column("Nộp trực tuyến", 11, "int", n("online")),
        Column("Tỷ lệ trực tuyến", 11, "percent", n("online_share")),
        Column("Trả qua bưu chính", 11, "int", n("post")),
        Column("Tỷ lệ trả qua bưu chính", 12, "percent", n("post_share")),
    ]


def _queue_columns(group: str) -> list[Column]:
    def n(name: str) -> Callable[[Any], Any]:
        return lambda r: getattr(r, name)

    return [
        Column("Mã", 12, "text", n("key")),
        Column(QUEUE_GROUPS[group][0], 24, "text", n("label"), wrap=True),
        Column("Số đã cấp", 10, "int", n("tickets")),
        Column("Đã phục vụ", 10, "int", n("served")),
        Column("Vắng mặt", 10, "int", n("no_shows")),
        Column("Tỷ lệ vắng mặt", 11, "percent", n("no_show_rate")),
        Column("Thời gian chờ trung bình (phút)", 13, "minutes", n("wait_avg_min")),
        Column("Thời gian chờ P90 (phút)", 13, "minutes", n("wait_p90_min")),
        Column("Thời gian chờ lâu nhất (phút)", 13, "minutes", n("wait_max_min")),
        Column("Thời gian phục vụ trung bình (phút)", 13, "minutes", n("service_avg_min")),
    ]


def _contact(line: LogbookLine) -> str:
    return ", ".join(part for part in (line.address, line.phone) if part)


LOGBOOK_COLUMNS: list[Column] = [
    Column("STT", 6, "int", lambda x: x.no),
    Column("Mã hồ sơ", 26, "text", lambda x: x.code),
    Column("Tên thủ tục hành chính", 32, "text", lambda x: x.procedure_name, wrap=True),
    Column("Số lượng (bộ)", 9, "int", lambda x: x.quantity),
    Column("Người nộp hồ sơ", 22, "text", lambda x: x.applicant_name, wrap=True),
    Column("Địa chỉ, số điện thoại", 28, "text", _contact, wrap=True),
    Column("Cơ quan chủ trì giải quyết", 20, "text", lambda x: x.agency, wrap=True),
    Column("Nhận hồ sơ (ngày, giờ)", 17, "moment", lambda x: x.received_at),
    Column("Hẹn trả kết quả (ngày, giờ)", 17, "moment", lambda x: x.due_at),
    Column("Chuyển xử lý (ngày, giờ)", 17, "moment", lambda x: x.transferred_at),
    Column("Người xử lý", 18, "text", lambda x: x.transferred_to, wrap=True),
    Column("Nhận kết quả (ngày, giờ)", 17, "moment", lambda x: x.result_at),
    Column("Trả kết quả (ngày, giờ)", 17, "moment", lambda x: x.returned_at),
    Column("Hình thức trả", 13, "text", lambda x: x.returned_via),
    Column("Ký nhận", 12, "text", lambda x: ""),
    Column("Ghi chú", 30, "text", lambda x: x.note, wrap=True),
]


def _text(value: object) -> str:
    """Return text as NFC without the control characters a workbook cannot hold."""
    cleaned: str = ILLEGAL_CHARACTERS_RE.sub("", unicodedata.normalize("NFC", str(value)))
    return cleaned


def _local(moment: datetime) -> datetime:
    """Return a moment as a naive Vietnam wall time (spreadsheets have no time zones)."""
    return moment.astimezone(TZ).replace(tzinfo=None) if moment.tzinfo else moment


def _csv_cell(kind: Kind, value: Any) -> str:
    if value is None:
        return ""
    if kind == "moment":
        return _local(value).strftime("%d/%m/%Y %H:%M")
    if kind == "percent":
        return f"{value * 100:.1f}"
    if kind == "minutes":
        return f"{value:.1f}"
    if kind == "int":
        return str(int(value))
    text = _text(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _to_csv(columns: Sequence[Column], items: Sequence[Any]) -> bytes:
    """Write a header and one line per item; UTF-8 with a BOM so Excel reads Vietnamese right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header + (" (%)" if c.kind == "percent" else "") for c in columns])
    for item in items:
        writer.writerow([_csv_cell(c.kind, c.value(item)) for c in columns])
    return out.getvalue().encode("utf-8-sig")


_FORMATS: dict[Kind, str] = {"int": "#,##0", "moment": DATE_FORMAT, "percent": "0.0%", "text": "@", "minutes": "0.0"}


def _style(ws: Worksheet, styles: dict[tuple[Kind, bool, bool], str], column: Column, bold: bool) -> str:
    """Return the name of the cell style of a column (one named style each: styling cell by cell is slow)."""
    key = (column.kind, column.wrap, bold)
    if key not in styles:
        name = f"motcua {column.kind}{' wrap' if column.wrap else ''}{' bold' if bold else ''}"
        style = NamedStyle(name=name, number_format=_FORMATS[column.kind], border=_BORDER)
        style.alignment = Alignment(vertical="top", wrap_text=column.wrap)
        style.font = Font(bold=bold)
        workbook = ws.parent
        assert isinstance(workbook, Workbook)
        if name not in workbook.named_styles:  # a workbook of several sheets shares one set of styles
            workbook.add_named_style(style)
        styles[key] = name
    return styles[key]


def _fill_sheet(ws: Worksheet, columns: Sequence[Column], items: Sequence[Any], title: str) -> None:
    """Title in row 1, bold header in row 2 (frozen, repeated on every printed page), data below."""
    last = get_column_letter(len(columns))
    ws.append([_text(title)])
    ws["A1"].font = Font(bold=True, size=14)
    ws.merge_cells(f"A1:{last}1")
    ws.append([_text(c.header) for c in columns])
    header_fill = PatternFill("solid", fgColor="DDDDDD")
    for index, column in enumerate(columns, start=1):
        cell = ws.cell(row=2, column=index)
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(index)].width = column.width
    ws.row_dimensions[2].height = 45
    styles: dict[tuple[Kind, bool, bool], str] = {}
    for row_no, item in enumerate(items, start=3):
        bold = bool(getattr(item, "is_total", False))
        for index, column in enumerate(columns, start=1):
            value = column.value(item)
            cell = ws.cell(row=row_no, column=index)
            if column.kind == "moment" and value is not None:
                cell.value = _local(value)
            elif column.kind == "text" and value is not None:
                cell.value = _text(value)
                cell.data_type = "s"  # never a formula, whatever the text starts with
            else:
                cell.value = value
            cell.style = _style(ws, styles, column, bold)
    ws.freeze_panes = "A3"
    plain = sum(not getattr(item, "is_total", False) for item in items)
    ws.auto_filter.ref = f"A2:{last}{2 + plain}"  # the total row stays out of sorting and filtering
    ws.print_title_rows = "2:2"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5


def _to_xlsx(columns: Sequence[Column], items: Sequence[Any], title: str) -> bytes:
    """Return an .xlsx workbook with one sheet named after the title."""
    workbook = Workbook()
    ws = workbook.active
    assert isinstance(ws, Worksheet)
    ws.title = _SHEET_NAME.sub(" ", _text(title))[:31].strip(" '") or "Sheet1"
    workbook.properties.title = _text(title)
    _fill_sheet(ws, columns, items, title)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _group(rows: Sequence[Row]) -> str:
    return rows[0].group if rows else "month"


def report_csv(rows: Sequence[Row]) -> bytes:
    """Return the report rows (total row included) as CSV; rates in percent (one decimal)."""
    return _to_csv(_report_columns(_group(rows)), rows)


def report_xlsx(rows: Sequence[Row], title: str) -> bytes:
    """Return the report rows as an Excel workbook, the total row in bold."""
    return _to_xlsx(_report_columns(_group(rows)), rows, title)


def queue_csv(rows: Sequence[QueueRow]) -> bytes:
    """Return the queue statistics (total row included) as CSV; the no-show rate in percent, times in minutes."""
    return _to_csv(_queue_columns(rows[0].group if rows else "service"), rows)


def queue_xlsx(rows: Sequence[QueueRow], title: str) -> bytes:
    """Return the queue statistics as an Excel workbook, the total row in bold."""
    return _to_xlsx(_queue_columns(rows[0].group if rows else "service"), rows, title)


def logbook_csv(lines: Sequence[LogbookLine]) -> bytes:
    """Return the logbook as CSV; moments as dd/mm/yyyy hh:mm, Vietnam time."""
    return _to_csv(LOGBOOK_COLUMNS, lines)


def logbook_xlsx(lines: Sequence[LogbookLine], title: str) -> bytes:
    """Return the logbook as an Excel workbook laid out for A4 landscape."""
    return _to_xlsx(LOGBOOK_COLUMNS, lines, title)
