"""Queue statistics: waiting and service times and the no-show rate, by service, counter, officer, day and month."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from edge import queue
from edge.box import Box
from edge.calendar import TZ
from edge.errors import ValidationError
from edge.queuestats import QueueRow, percentile, queue_statistics


def at(day: str, hhmm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=TZ)


def called(box: Box, counter: int, officer: str, moment: datetime) -> str:
    ticket = queue.call_next(box.db(), counter, officer, moment)
    assert ticket is not None
    return str(ticket["id"])


def build_two_months(box: Box) -> None:
    """Six tickets by hand: three on 30/10/2026, three on 25/11/2026 (one still waiting)."""
    db, oct30, nov25 = box.db(), "2026-10-30", "2026-11-25"
    queue.issue_ticket(db, "HT", at(oct30, "08:00"))
    queue.issue_ticket(db, "HT", at(oct30, "08:05"))
    queue.issue_ticket(db, "CT", at(oct30, "08:06"))
    a1 = called(box, 1, "canbo", at(oct30, "08:10"))  # waited 10
    queue.start(db, a1, at(oct30, "08:12"))
    queue.finish(db, a1, at(oct30, "08:20"))  # served 8
    a2 = called(box, 1, "canbo", at(oct30, "08:20"))  # waited 15
    queue.no_show(db, a2, at(oct30, "08:22"))
    b1 = called(box, 3, "canbo2", at(oct30, "08:30"))  # waited 24
    queue.finish(db, b1, at(oct30, "08:31"))  # served 1 (from the call: no "start")
    queue.issue_ticket(db, "CT", at(nov25, "09:00"))
    queue.issue_ticket(db, "HT", at(nov25, "09:01"))
    queue.issue_ticket(db, "HT", at(nov25, "09:02"))  # never called
    b1 = called(box, 2, "canbo2", at(nov25, "09:05"))  # waited 5
    a1 = called(box, 1, "canbo", at(nov25, "09:07"))  # waited 6
    queue.start(db, a1, at(nov25, "09:08"))
    queue.finish(db, b1, at(nov25, "09:15"))  # served 10
    queue.finish(db, a1, at(nov25, "09:20"))  # served 12


@pytest.fixture
def two_months(box: Box) -> Box:
    build_two_months(box)
    return box


def figures(row: QueueRow) -> tuple[object, ...]:
    return (row.key, row.label, row.tickets, row.served, row.no_shows, row.no_show_rate, row.wait_avg_min,
            row.wait_p90_min, row.wait_max_min, row.service_avg_min)  # fmt: skip


def test_by_month_every_month_of_the_range_and_the_total(two_months: Box) -> None:
    rows = queue_statistics(two_months.db(), date(2026, 9, 1), date(2026, 11, 30), by="month", total=True)
    assert [figures(r) for r in rows] == [
        ("2026-09", "Tháng 09/2026", 0, 0, 0, None, None, None, None, None),
        ("2026-10", "Tháng 10/2026", 3, 2, 1, 0.333, 16.3, 24.0, 24.0, 4.5),
        ("2026-11", "Tháng 11/2026", 3, 2, 0, 0.0, 5.5, 6.0, 6.0, 11.0),
        ("total", "Tổng cộng", 6, 4, 1, 0.2, 12.0, 24.0, 24.0, 7.8),
    ]
    assert [r.is_total for r in rows] == [False, False, False, True]


def test_by_day_service_counter_and_officer(two_months: Box) -> None:
    db, first, last = two_months.db(), date(2026, 10, 1), date(2026, 11, 30)
    by_day = {r.key: r for r in queue_statistics(db, first, last, by="day")}
    assert len(by_day) == 61 and by_day["2026-10-29"].tickets == 0
    assert figures(by_day["2026-11-25"])[1:] == ("25/11/2026", 3, 2, 0, 0.0, 5.5, 6.0, 6.0, 11.0)
    by_service = [figures(r) for r in queue_statistics(db, first, last)]
    assert by_service == [
        ("HT", "Hộ tịch", 4, 2, 1, 0.333, 10.3, 15.0, 15.0, 10.0),
        ("CT", "Chứng thực", 2, 2, 0, 0.0, 14.5, 24.0, 24.0, 5.5),
    ]
    by_counter = [(r.key, r.label, r.tickets, r.wait_avg_min) for r in queue_statistics(db, first, last, by="counter")]
    assert by_counter == [("1", "Quầy số 1", 3, 10.3), ("2", "Quầy số 2", 1, 5.0), ("3", "Quầy số 3", 1, 24.0),
                          ("", "Chưa gọi", 1, None)]  # fmt: skip
    by_officer = [(r.key, r.label, r.tickets, r.served, r.service_avg_min)
                  for r in queue_statistics(db, first, last, by="officer")]  # fmt: skip
    assert by_officer == [("canbo", "canbo", 3, 2, 10.0), ("canbo2", "canbo2", 2, 2, 5.5), ("", "Chưa gọi", 1, 0, None)]


def test_the_90th_percentile_is_the_nearest_rank() -> None:
    assert percentile([], 0.9) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([float(m) for m in range(10, 0, -1)], 0.9) == 9.0
    assert percentile([float(m) for m in range(1, 12)], 0.9) == 10.0


def test_wrong_grouping_or_days_are_refused(box: Box) -> None:
    day = date(2026, 11, 25)
    with pytest.raises(ValidationError):
        queue_statistics(box.db(), day, day, by="weather")
    with pytest.raises(ValidationError):
        queue_statistics(box.db(), day, date(2026, 11, 24))
    with pytest.raises(ValidationError):
        queue_statistics(box.db(), date(2025, 1, 1), day, by="day")  # more than a year by day
    assert len(queue_statistics(box.db(), date(2025, 1, 1), day, by="month")) == 23
