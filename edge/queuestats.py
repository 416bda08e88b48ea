"""Queue statistics: waiting and service time per service, counter and officer, and the no-show rate.

Waiting time runs from taking the number to its (first) call; service time from the start of service
(or the call, when the officer did not press "start") to "finish". Times are in minutes.
"""

from __future__ import annotations

from datetime import date, datetime
from statistics import mean
from typing import Any

import sqlite_utils

from edge.errors import ValidationError

GROUPS = ("service", "counter", "officer", "day")


def _minutes(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 60)


def queue_statistics(db: sqlite_utils.Database, first: date, last: date, by: str = "service") -> list[dict[str, Any]]:
    """Return one row per group (service, counter, officer or day) for the tickets of days first..last."""
    if by not in GROUPS:
        raise ValidationError(f"Nhóm thống kê phải là một trong {', '.join(GROUPS)}.",
                              f"Group by one of {', '.join(GROUPS)}.", field="by")  # fmt: skip
    if last < first:
        raise ValidationError("Ngày cuối trước ngày đầu.", "The last day is before the first.", field="to")
    rows = db.execute(
        "SELECT service, counter, officer, day, state, issued_at, called_at, started_at, finished_at"
        " FROM queue_tickets WHERE day BETWEEN ? AND ?",
        [first.isoformat(), last.isoformat()],
    ).fetchall()
    groups: dict[Any, list[tuple[Any, ...]]] = {}
    for row in rows:
        key = {"service": row[0], "counter": row[1], "officer": row[2], "day": row[3]}[by]
        groups.setdefault(key, []).append(row)
    out = []
    for key in sorted(groups, key=lambda k: (k is None, str(k))):
        tickets = groups[key]
        waits = [w for t in tickets if (w := _minutes(t[5], t[6])) is not None]
        services = [s for t in tickets if t[4] == "done" and (s := _minutes(t[7] or t[6], t[8])) is not None]
        ended = [t for t in tickets if t[4] in ("done", "no_show")]
        no_shows = sum(1 for t in tickets if t[4] == "no_show")
        out.append({
            by: key, "tickets": len(tickets), "served": len(services), "no_shows": no_shows,
            "no_show_rate": round(no_shows / len(ended), 3) if ended else None,
            "wait_avg_min": round(mean(waits), 1) if waits else None,
            "wait_max_min": round(max(waits), 1) if waits else None,
            "service_avg_min": round(mean(services), 1) if services else None,
        })  # fmt: skip
    return out
