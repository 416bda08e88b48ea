"""Tests for dossier due dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.calendar import TZ, WorkCalendar, WorkingHours
from edge.deadline import compute_due_at, extend_for_pause, remaining_working_minutes
from edge.errors import ValidationError

CAL = WorkCalendar()
CUTOFF = time(15, 0)

moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31))
day_counts = st.integers(min_value=0, max_value=30 * 4).map(lambda n: n / 4)
cutoffs = st.sampled_from([None, time(15, 0), time(11, 0), time(18, 0)])


def at(day: str, hm: str = "07:00") -> datetime:
    """Build an aware local datetime from ISO date and HH:MM."""
    return datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=TZ)


# Processing time in working days


def test_friday_afternoon_one_day_is_monday_afternoon() -> None:
    assert compute_due_at(CAL, at("2026-03-06", "16:00"), 1, None) == at("2026-03-09", "16:00")


def test_received_on_saturday_counts_from_monday_morning() -> None:
    assert compute_due_at(CAL, at("2026-03-07", "09:00"), 1, None) == at("2026-03-09", "17:00")


def test_received_after_closing_counts_from_next_morning() -> None:
    assert compute_due_at(CAL, at("2026-03-09", "17:30"), 1, None) == at("2026-03-10", "17:00")


def test_received_over_lunch_counts_from_afternoon() -> None:
    # 13:30-17:00 Monday, then 07:00-11:30 Tuesday: ends exactly at a period end.
    assert compute_due_at(CAL, at("2026-03-09", "12:00"), 1, None) == at("2026-03-10", "11:30")


def test_tet_is_skipped() -> None:
    assert compute_due_at(CAL, at("2026-02-13", "10:00"), 1, None) == at("2026-02-23", "10:00")
    assert compute_due_at(CAL, at("2026-02-12", "10:00"), 3, None) == at("2026-02-24", "10:00")


def test_make_up_saturday_counts_and_substituted_monday_does_not() -> None:
    assert compute_due_at(CAL, at("2026-08-21", "10:00"), 1, None) == at("2026-08-22", "10:00")
    # 31 August (given off for the 22nd) and 1-2 September (National Day) are skipped.
    assert compute_due_at(CAL, at("2026-08-28", "10:00"), 1, None) == at("2026-09-03", "10:00")


def test_overrides_move_the_due_date() -> None:
    cal = WorkCalendar(overrides={date(2026, 3, 9): False, date(2026, 3, 7): True})
    assert compute_due_at(cal, at("2026-03-06", "16:00"), 1, None) == at("2026-03-07", "16:00")
    closed = WorkCalendar(overrides={date(2026, 3, 9): False})
    assert compute_due_at(closed, at("2026-03-06", "16:00"), 1, None) == at("2026-03-10", "16:00")


def test_half_a_day_is_four_working_hours() -> None:
    assert compute_due_at(CAL, at("2026-03-09"), 0.5, None) == at("2026-03-09", "11:00")
    assert compute_due_at(CAL, at("2026-03-09", "10:00"), 0.5, None) == at("2026-03-09", "16:00")
    assert compute_due_at(CAL, at("2026-03-09", "15:00"), 1.5, None) == at("2026-03-11", "09:00")


def test_days_follow_configured_hours() -> None:
    cal = WorkCalendar(WorkingHours.parse("08:00-12:00"))
    assert compute_due_at(cal, at("2026-03-06", "11:00"), 0.5, None) == at("2026-03-09", "09:00")


def test_aware_input_gives_local_output() -> None:
    due = compute_due_at(CAL, datetime(2026, 3, 6, 9, 0, tzinfo=UTC), 1, None)  # 16:00 local
    assert due == at("2026-03-09", "16:00")
    assert due.tzinfo is TZ


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), float("inf"), True, None, "1"])
def test_bad_processing_days(bad: float) -> None:
    with pytest.raises(ValidationError) as info:
        compute_due_at(CAL, at("2026-03-09"), bad, None)
    assert info.value.code == "invalid_processing_days"
    assert info.value.field == "processing_days"
    assert "Số ngày xử lý" in info.value.vi


# Same-day procedures


@pytest.mark.parametrize(
    ("received", "cutoff", "due"),
    [
        (("2026-03-09", "14:59"), CUTOFF, ("2026-03-09", "17:00")),
        (("2026-03-09", "15:00"), CUTOFF, ("2026-03-10", "17:00")),
        (("2026-03-09", "06:30"), CUTOFF, ("2026-03-09", "17:00")),
        (("2026-03-09", "12:00"), CUTOFF, ("2026-03-09", "17:00")),
        (("2026-03-09", "17:30"), CUTOFF, ("2026-03-10", "17:00")),
        (("2026-03-08", "10:00"), CUTOFF, ("2026-03-09", "17:00")),
        (("2026-03-06", "15:30"), CUTOFF, ("2026-03-09", "17:00")),
        (("2026-02-13", "15:30"), CUTOFF, ("2026-02-23", "17:00")),
        (("2026-03-09", "16:59"), None, ("2026-03-09", "17:00")),
        (("2026-03-09", "17:00"), None, ("2026-03-10", "17:00")),
        (("2026-03-09", "17:30"), time(18, 0), ("2026-03-10", "17:00")),
    ],
)
def test_same_day(received: tuple[str, str], cutoff: time | None, due: tuple[str, str]) -> None:
    assert compute_due_at(CAL, at(*received), 0, cutoff) == at(*due)


def test_bad_cutoff() -> None:
    with pytest.raises(ValidationError) as info:
        compute_due_at(CAL, at("2026-03-09"), 0, "15:00")  # type: ignore[arg-type]
    assert info.value.code == "invalid_cutoff"


# Supplement pause


def test_pause_moves_due_by_working_time_waited() -> None:
    # Monday 09:00-14:00 is 180 working minutes; Wednesday 10:00 + 180 = 15:00.
    due = extend_for_pause(
        CAL,
        at("2026-03-11", "10:00"),
        at("2026-03-09", "09:00"),
        at("2026-03-09", "14:00"),
    )
    assert due == at("2026-03-11", "15:00")


def test_pause_from_a_period_end_continues_next_period() -> None:
    due = extend_for_pause(
        CAL,
        at("2026-03-06", "17:00"),
        at("2026-03-09", "07:00"),
        at("2026-03-09", "08:00"),
    )
    assert due == at("2026-03-09", "08:00")
    due = extend_for_pause(
        CAL,
        at("2026-03-09", "11:30"),
        at("2026-03-09", "07:00"),
        at("2026-03-09", "07:30"),
    )
    assert due == at("2026-03-09", "14:00")


def test_pause_counts_only_working_time() -> None:
    # Friday 16:00 → Monday 08:00 is two working hours, and Tết is not counted at all.
    due = extend_for_pause(
        CAL,
        at("2026-03-11", "10:00"),
        at("2026-03-06", "16:00"),
        at("2026-03-09", "08:00"),
    )
    assert due == at("2026-03-11", "14:00")
    due = extend_for_pause(CAL, at("2026-03-11", "10:00"), at("2026-02-14"), at("2026-02-22", "23:00"))
    assert due == at("2026-03-11", "10:00")


def test_empty_and_reversed_pause() -> None:
    due = at("2026-03-11", "17:00")
    assert extend_for_pause(CAL, due, at("2026-03-09"), at("2026-03-09")) == due
    with pytest.raises(ValidationError) as info:
        extend_for_pause(CAL, due, at("2026-03-09", "10:00"), at("2026-03-09", "09:00"))
    assert info.value.code == "invalid_pause"


def test_remaining_working_minutes() -> None:
    due = at("2026-03-09", "17:00")
    assert remaining_working_minutes(CAL, at("2026-03-09", "16:00"), due) == 60
    assert remaining_working_minutes(CAL, at("2026-03-09", "18:00"), due) == 0
    assert remaining_working_minutes(CAL, at("2026-03-10", "08:00"), due) == -60


# Properties


@settings(max_examples=200, deadline=None)
@given(moments, day_counts, cutoffs)
def test_due_is_working_time_or_period_end(received: datetime, days: float, cutoff: time | None) -> None:
    due = compute_due_at(CAL, received, days, cutoff)
    on_end = due.time() in {time(11, 30), time(17, 0)} and CAL.is_working_day(due.date())
    assert CAL.is_working_moment(due) or on_end
    assert due > received.replace(tzinfo=TZ)


@settings(max_examples=150, deadline=None)
@given(moments, day_counts.filter(bool))
def test_due_is_exactly_the_processing_time_away(received: datetime, days: float) -> None:
    due = compute_due_at(CAL, received, days, None)
    assert CAL.working_minutes_between(received, due) == days * 480


@settings(max_examples=150, deadline=None)
@given(moments, moments, day_counts, cutoffs)
def test_due_is_monotonic_in_receipt(t1: datetime, t2: datetime, days: float, cutoff: time | None) -> None:
    early, late = sorted((t1, t2))
    assert compute_due_at(CAL, early, days, cutoff) <= compute_due_at(CAL, late, days, cutoff)


@settings(max_examples=150, deadline=None)
@given(moments, moments, moments)
def test_pause_adds_exactly_the_working_time_waited(due: datetime, a: datetime, b: datetime) -> None:
    start, end = sorted((a, b))
    moved = extend_for_pause(CAL, due, start, end)
    assert CAL.working_minutes_between(due, moved) == CAL.working_minutes_between(start, end)
    assert moved >= due.replace(tzinfo=TZ)
