"""Queue statistics: waiting and service times and the no-show rate, by service, counter, officer and day."""

from __future__ import annotations

import pytest

from edge import queue
from edge.box import Box
from edge.errors import ValidationError
from edge.queuestats import queue_statistics
from tests.conftest import FakeClock


def test_waiting_and_service_times_and_no_shows_add_up(box: Box, clock: FakeClock) -> None:
    db = box.db()
    day = clock().date()
    a1 = queue.issue_ticket(db, "HT", clock())
    a2 = queue.issue_ticket(db, "HT", clock())
    clock.advance(minutes=1)
    b1 = queue.issue_ticket(db, "CT", clock())
    clock.advance(minutes=9)
    called = queue.call_next(db, 1, "canbo", clock())  # A001 waited 10 min
    assert called is not None and called["id"] == a1["id"]
    clock.advance(minutes=2)
    queue.start(db, a1["id"], clock())
    clock.advance(minutes=8)
    queue.finish(db, a1["id"], clock())  # served 8 min
    queue.call_next(db, 1, "canbo", clock())  # A002 waited 20 min
    queue.no_show(db, a2["id"], clock())
    clock.advance(minutes=10)
    queue.call_next(db, 2, "canbo2", clock())  # B001 waited 29 min, still being served
    by_service = {row["service"]: row for row in queue_statistics(db, day, day)}
    assert by_service["HT"] == {"service": "HT", "tickets": 2, "served": 1, "no_shows": 1, "no_show_rate": 0.5,
                                "wait_avg_min": 15.0, "wait_max_min": 20.0, "service_avg_min": 8.0}  # fmt: skip
    assert (by_service["CT"]["wait_avg_min"], by_service["CT"]["no_show_rate"]) == (29.0, None)
    by_officer = {row["officer"]: row["tickets"] for row in queue_statistics(db, day, day, by="officer")}
    assert by_officer == {"canbo": 2, "canbo2": 1}
    assert [r["counter"] for r in queue_statistics(db, day, day, by="counter")] == [1, 2]
    assert queue_statistics(db, day, day, by="day")[0]["tickets"] == 3
    assert b1["number"] == "B001"


def test_wrong_grouping_or_days_are_refused(box: Box, clock: FakeClock) -> None:
    day = clock().date()
    with pytest.raises(ValidationError):
        queue_statistics(box.db(), day, day, by="weather")
    with pytest.raises(ValidationError):
        queue_statistics(box.db(), day, day.replace(day=day.day - 1))
