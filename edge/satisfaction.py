"""Satisfaction for the reports: the share of satisfied ratings per officer, procedure and month, the
count of each level, the evaluations' mean points per indicator, and their CSV and Excel files.

A rating is satisfied at the top levels of its own scale (edge.ratings.SATISFIED): "Rất hài lòng" and
"Hài lòng" of 5 levels, "Hài lòng" of 3, so ratings given before a switch of scale keep counting.
Days are the box's (Vietnam) days: every moment is stored with its +07:00 offset.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlite_utils
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from edge.evaluation import INDICATORS, MAX_POINTS
from edge.exports import _SHEET_NAME, Column, _fill_sheet, _text, _to_csv
from edge.ratings import LEVELS, SATISFIED

GROUPS = {
    "officer": ("Cán bộ", "Officer"),
    "procedure": ("Thủ tục hành chính", "Procedure"),
    "month": ("Tháng", "Month"),
}
NO_KEY = {
    "officer": ("Không rõ cán bộ", "Officer unknown"),
    "procedure": ("Không gắn hồ sơ", "No dossier"),
    "month": ("", ""),
}


@dataclass(frozen=True)
class Row:
    """One line of satisfaction: how many ratings, how many satisfied, and their share."""

    group: str
    key: str
    label: str
    ratings: int
    satisfied: int
    is_total: bool = False

    @property
    def rate(self) -> float | None:
        """Return the satisfied share 0–1 (None when no rating)."""
        return self.satisfied / self.ratings if self.ratings else None


@dataclass(frozen=True)
class LevelCount:
    """How many ratings a level of a scale got."""

    scale: int
    level: int
    label_vi: str
    label_en: str
    count: int
    satisfied: bool


@dataclass(frozen=True)
class IndicatorMean:
    """The evaluations' mean points for one indicator (or the total)."""

    number: int
    key: str
    label_vi: str
    label_en: str
    mean: float | None
    max_points: int


@dataclass(frozen=True)
class Satisfaction:
    """Everything the satisfaction page shows for a range of days."""

    first: date
    last: date
    by: dict[str, list[Row]]
    levels: list[LevelCount]
    indicators: list[IndicatorMean]
    evaluations: int
    rejected: int


def _span(first: date, last: date) -> list[str]:
    return [first.isoformat(), (last + timedelta(days=1)).isoformat()]


def _month_label(key: str) -> str:
    year, month = key.split("-")
    return f"{month}/{year}"


def _rows(group: str, found: list[tuple[Any, ...]], labels: dict[str, str]) -> list[Row]:
    counts: dict[str, list[int]] = {}
    for key, scale, level in found:
        slot = counts.setdefault(key or "", [0, 0])
        slot[0] += 1
        slot[1] += level in SATISFIED.get(scale, frozenset())
    rows = [
        Row(group, key, labels.get(key) or (_month_label(key) if group == "month" else key or NO_KEY[group][0]),
            rated, satisfied)
        for key, (rated, satisfied) in counts.items()
    ]  # fmt: skip
    rows.sort(key=lambda r: (not r.key, r.key if group == "month" else r.label.casefold()))
    total = Row(group, "", "Tổng cộng", sum(r.ratings for r in rows), sum(r.satisfied for r in rows), True)
    return [*rows, total]


def _labels(db: sqlite_utils.Database, group: str, keys: set[str]) -> dict[str, str]:
    if group == "officer":
        found = db.execute("SELECT username, full_name FROM users").fetchall()
        return {u: name or u for u, name in found if u in keys}
    if group == "procedure":
        found = db.execute("SELECT DISTINCT procedure_code, procedure_name FROM dossiers").fetchall()
        return {code: f"{code} – {name}" for code, name in found if code in keys}
    return {}


def satisfaction(db: sqlite_utils.Database, first: date, last: date, scale: int = 5) -> Satisfaction:
    """Return the satisfaction of the ratings and evaluations given from day `first` to day `last`.

    The level counts show the box's scale now (`scale`) and any other scale a rating of the range used.
    """
    span = _span(first, last)
    found = db.execute(
        "SELECT r.officer, d.procedure_code, substr(r.at, 1, 7), r.scale, r.level FROM ratings r"
        " LEFT JOIN dossiers d ON d.dossier_id = r.dossier_id WHERE r.at >= ? AND r.at < ?",
        span,
    ).fetchall()
    by: dict[str, list[Row]] = {}
    for index, group in enumerate(GROUPS):
        picked = [(row[index], row[3], row[4]) for row in found]
        by[group] = _rows(group, picked, _labels(db, group, {k for k, _, _ in picked if k}))
    tally: dict[tuple[int, int], int] = {}
    for row in found:
        tally[(row[3], row[4])] = tally.get((row[3], row[4]), 0) + 1
    levels = [
        LevelCount(shown, level, vi, en, tally.get((shown, level), 0), level in SATISFIED[shown])
        for shown in (5, 3)
        for level, (vi, en) in enumerate(LEVELS[shown], start=1)
        if shown == scale or any(s == shown for s, _ in tally)
    ]
    return Satisfaction(first, last, by, levels, *_indicators(db, span), _rejected(db, span))


def _indicators(db: sqlite_utils.Database, span: list[str]) -> tuple[list[IndicatorMean], int]:
    parts = ", ".join(f"avg(json_extract(answers, '$.{i.key}'))" for i in INDICATORS)
    row = db.execute(
        f"SELECT count(*), avg(points), {parts} FROM evaluations WHERE at >= ? AND at < ?", span
    ).fetchone()
    means = [
        IndicatorMean(number, i.key, i.vi, i.en, row[number + 1], 2) for number, i in enumerate(INDICATORS, start=1)
    ]
    means.append(IndicatorMean(0, "total", "Tổng điểm", "Total points", row[1], MAX_POINTS))
    return means, int(row[0])


def _rejected(db: sqlite_utils.Database, span: list[str]) -> int:
    return int(db.execute("SELECT count(*) FROM rating_rejects WHERE at >= ? AND at < ?", span).fetchone()[0])


# --- files ------------------------------------------------------------------------------------------


def _row_columns(group: str) -> list[Column]:
    return [
        Column("Mã", 14, "text", lambda r: r.key),
        Column(GROUPS[group][0], 40 if group == "procedure" else 24, "text", lambda r: r.label, wrap=True),
        Column("Số lượt đánh giá", 12, "int", lambda r: r.ratings),
        Column("Hài lòng", 12, "int", lambda r: r.satisfied),
        Column("Tỷ lệ hài lòng", 12, "percent", lambda r: r.rate),
    ]


LEVEL_COLUMNS = [
    Column("Thang", 8, "int", lambda x: x.scale),
    Column("Mức", 8, "int", lambda x: x.level),
    Column("Mức đánh giá", 22, "text", lambda x: x.label_vi),
    Column("Tính là hài lòng", 12, "text", lambda x: "Có" if x.satisfied else "Không"),
    Column("Số lượt", 10, "int", lambda x: x.count),
]
INDICATOR_COLUMNS = [
    Column("Chỉ số", 8, "text", lambda x: str(x.number) if x.number else ""),
    Column("Nội dung", 60, "text", lambda x: x.label_vi, wrap=True),
    Column("Điểm trung bình", 12, "text", lambda x: "" if x.mean is None else f"{x.mean:.2f}".replace(".", ",")),
    Column("Điểm tối đa", 10, "int", lambda x: x.max_points),
    Column("Tỷ lệ điểm đạt", 12, "percent", lambda x: None if x.mean is None else x.mean / x.max_points),
]


def rows_csv(rows: Sequence[Row]) -> bytes:
    """Return the rows of one grouping (total included) as CSV; the share in percent, one decimal."""
    return _to_csv(_row_columns(rows[0].group if rows else "officer"), rows)


def _sheet(workbook: Workbook, title: str, heading: str, columns: list[Column], items: Sequence[Any]) -> None:
    ws = workbook.create_sheet(_SHEET_NAME.sub(" ", _text(title))[:31])
    assert isinstance(ws, Worksheet)
    _fill_sheet(ws, columns, items, heading)


def workbook_xlsx(found: Satisfaction, title: str) -> bytes:
    """Return an Excel workbook: a sheet per grouping, the level counts and the indicator means."""
    workbook = Workbook()
    first = workbook.active
    assert isinstance(first, Worksheet)
    workbook.remove(first)
    workbook.properties.title = _text(title)
    for group, rows in found.by.items():
        name = f"Theo {GROUPS[group][0].lower()}"
        _sheet(workbook, name, f"{title} – {name.lower()}", _row_columns(group), rows)
    _sheet(workbook, "Số lượt theo mức", f"{title} – số lượt theo mức", LEVEL_COLUMNS, found.levels)
    heading = f"{title} – {found.evaluations} phiếu đánh giá 9 chỉ số"
    _sheet(workbook, "Đánh giá 9 chỉ số", heading, INDICATOR_COLUMNS, found.indicators)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
