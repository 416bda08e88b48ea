"""Queue statistics: waiting and service time per service, counter, officer, day or month, and the no-show rate.

Waiting time runs from taking the number to its (first) call; service time from the start of service
(or the call, when the officer did not press "start") to "finish". Times are in minutes, rounded to
one decimal. The 90th percentile is the nearest-rank one: the smallest waiting time that at least
90 % of the called tickets did not exceed. The no-show rate is over the tickets that ended (served or
no-show). Tickets are counted on the day they were taken; a ticket never called has no counter or
officer ("Chưa gọi").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from statistics import mean
from typing import Any

import sqlite_utils

from edge.errors import ValidationError
from edge.reports import MAX_DAYS, check_range, periods

# Group key -> (Vietnamese, English) name of what the rows are.
GROUPS: dict[str, tuple[str, str]] = {
    "service": ("Dịch vụ", "Service"),
    "counter": ("Quầy", "Counter"),
    "officer": ("Cán bộ", "Officer"),
    "day": ("Ngày", "Day"),
    "month": ("Tháng", "Month"),
}
TOTAL_KEY = "total"
TOTAL_LABEL = "Tổng cộng"
NOT_CALLED = "Chưa gọi"
_COLUMNS = "service, counter, officer, day, state, issued_at, called_at, started_at, finished_at"


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue statistics: one service, counter, officer, day or month (or the total)."""

    group: str
    key: str
    label: str
    is_total: bool
    tickets: int
    served: int
    no_shows: int
    no_show_rate: float | None
    wait_avg_min: float | None
    wait_p90_min: float | None
    wait_max_min: float | None
    service_avg_min: float | None


def _minutes(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 60)


def percentile(values: Sequence[float], share: float) -> float | None:
    """Return the nearest-rank percentile (share 0–1) of the values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _row(group: str, key: str, label: str, tickets: Sequence[tuple[Any, ...]], is_total: bool = False) -> QueueRow:
    waits = [w for t in tickets if (w := _minutes(t[5], t[6])) is not None]
    services = [s for t in tickets if t[4] == "done" and (s := _minutes(t[7] or t[6], t[8])) is not None]
    no_shows = sum(1 for t in tickets if t[4] == "no_show")
    ended = sum(1 for t in tickets if t[4] in ("done", "no_show"))
    return QueueRow(
        group, key, label, is_total, len(tickets), len(services), no_shows,
        round(no_shows / ended, 3) if ended else None,
        _round(mean(waits)) if waits else None, _round(percentile(waits, 0.9)), _round(max(waits, default=None)),
        _round(mean(services)) if services else None,
    )  # fmt: skip


def _labels(db: sqlite_utils.Database, by: str) -> dict[str, str]:
    if by == "service":
        return {c: n for c, n in db.execute("SELECT code, name FROM queue_services").fetchall()}
    if by == "counter":
        return {str(n): name for n, name in db.execute("SELECT number, name FROM queue_counters").fetchall()}
    return {u: n or u for u, n in db.execute("SELECT username, full_name FROM users").fetchall()}


def _order(db: sqlite_utils.Database, by: str, keys: list[str], labels: dict[str, str]) -> list[str]:
    """Services in the kiosk's order, counters by number, officers by name; "not called" last."""
    if by == "service":
        position = dict(db.execute("SELECT code, position FROM queue_services").fetchall())
        return sorted(keys, key=lambda k: (k == "", position.get(k, 10**6), k))
    if by == "counter":
        return sorted(keys, key=lambda k: (k == "", int(k) if k else 0))
    return sorted(keys, key=lambda k: (k == "", str(labels.get(k) or k).casefold(), k))


def queue_statistics(
    db: sqlite_utils.Database, first: date, last: date, by: str = "service", *, total: bool = False
) -> list[QueueRow]:
    """Return one row per group for the tickets taken on days first..last (the total row last when asked).

    Days and months are listed in order, every one of the range even when empty; a report by day
    covers at most a year (edge.reports.MAX_DAYS).
    """
    if by not in GROUPS:
        raise ValidationError(f"Nhóm thống kê phải là một trong {', '.join(GROUPS)}.",
                              f"Group by one of {', '.join(GROUPS)}.", code="invalid_group_by", field="by")  # fmt: skip
    first, last = check_range(first, last, MAX_DAYS if by == "day" else None)
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM queue_tickets WHERE day BETWEEN ? AND ?", [first.isoformat(), last.isoformat()]
    ).fetchall()
    index = {"service": 0, "counter": 1, "officer": 2, "day": 3, "month": 3}[by]
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        value = row[index]
        key = "" if value is None else str(value)[:7] if by == "month" else str(value)
        groups.setdefault(key, []).append(row)
    if by in ("day", "month"):
        out = [_row(by, key, label, groups.get(key, [])) for key, label in periods(by, first, last)]
    else:
        labels = _labels(db, by)
        out = [
            _row(by, key, labels.get(key, key) if key else NOT_CALLED, groups[key])
            for key in _order(db, by, list(groups), labels)
        ]
    if total:
        out.append(_row(by, TOTAL_KEY, TOTAL_LABEL, rows, is_total=True))
    return out
