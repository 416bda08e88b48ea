"""Tests for the working-time calendar."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.calendar import TZ, WorkCalendar, WorkingHours
from edge.errors import ValidationError

CAL = WorkCalendar()
MORNING = WorkCalendar(WorkingHours.parse("08:00-12:00"))
ENDS = {end for _, end in CAL.hours.periods}

moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31))
minutes = st.integers(min_value=0, max_value=40 * 480)
calendars = st.sampled_from([CAL, MORNING])


def at(day: str, hm: str = "07:00") -> datetime:
    """Build an aware local datetime from ISO date and HH:MM."""
    return datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=TZ)


def is_working_or_period_end(cal: WorkCalendar, t: datetime) -> bool:
    """Tell whether t is working time or the end of a period on a working day."""
    ends = {end for _, end in cal.hours.periods}
    on_end = t.time() in ends and cal.is_working_day(t.date())
    return cal.is_working_moment(t) or on_end


# WorkingHours


def test_default_hours() -> None:
    hours = WorkingHours()
    assert hours.minutes_per_day == 480
    assert hours.format() == "07:00-11:30,13:30-17:00"
    assert WorkingHours.parse(hours.format()) == hours


def test_parse_is_lenient_about_spaces_and_single_digit_hours() -> None:
    hours = WorkingHours.parse(" 7:30-11:30 , 13:00-16:30 ")
    assert hours.format() == "07:30-11:30,13:00-16:30"
    assert hours.minutes_per_day == 450


def test_touching_periods_are_allowed() -> None:
    assert WorkingHours.parse("07:00-12:00,12:00-16:00").minutes_per_day == 540


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "   ",
        "07:00",
        "07:00-11:30-13:30",
        "07:00-11:30;13:30-17:00",
        "7h-11h30",
        "24:00-25:00",
        "07:60-08:00",
        "11:30-07:00",
        "07:00-07:00",
        "13:30-17:00,07:00-11:30",
        "07:00-12:00,11:00-17:00",
        "07:00-11:30,",
    ],
)
def test_parse_rejects_bad_settings(spec: str) -> None:
    with pytest.raises(ValidationError) as info:
        WorkingHours.parse(spec)
    assert info.value.code == "invalid_working_hours"
    assert info.value.field == "working_hours"
    assert info.value.vi.startswith("Giờ làm việc không hợp lệ")
    assert info.value.en.startswith("Invalid working hours")


@pytest.mark.parametrize(
    "periods",
    [
        (),
        ((time(7), time(11, 30, 5)),),
        ((time(7),),),
        ((time(7, tzinfo=UTC), time(8)),),
    ],
)
def test_constructor_validates_too(periods: tuple[tuple[time, time], ...]) -> None:
    with pytest.raises(ValidationError):
        WorkingHours(periods)


# Working days


def test_weekdays_and_weekends() -> None:
    assert CAL.is_working_day(date(2026, 3, 9))  # Monday
    assert not CAL.is_working_day(date(2026, 3, 7))  # Saturday
    assert not CAL.is_working_day(date(2026, 3, 8))  # Sunday


@pytest.mark.parametrize("day", [16, 17, 18, 19, 20])
def test_tet_2026_is_off(day: int) -> None:
    assert not CAL.is_working_day(date(2026, 2, day))


def test_make_up_saturday_and_substituted_day_off() -> None:
    assert CAL.is_working_day(date(2026, 8, 22))  # Saturday worked
    assert not CAL.is_working_day(date(2026, 8, 31))  # Monday given off in exchange
    assert not CAL.is_working_day(date(2026, 9, 1))
    assert not CAL.is_working_day(date(2026, 9, 2))
    assert not CAL.is_working_day(date(2026, 8, 29))  # ordinary Saturday


def test_make_up_day_published_with_the_neighbouring_year() -> None:
    assert CAL.is_working_day(date(2014, 12, 27))  # worked for 2 January 2015


def test_overrides_win() -> None:
    cal = WorkCalendar(
        overrides={
            date(2026, 2, 16): True,
            date(2026, 3, 9): False,
            date(2026, 3, 8): True,
        }
    )
    assert cal.is_working_day(date(2026, 2, 16))
    assert not cal.is_working_day(date(2026, 3, 9))
    assert cal.is_working_day(date(2026, 3, 8))
    assert not WorkCalendar(overrides={date(2026, 8, 22): False}).is_working_day(date(2026, 8, 22))


def test_overrides_are_copied() -> None:
    table = {date(2026, 3, 9): False}
    cal = WorkCalendar(overrides=table)
    table[date(2026, 3, 9)] = True
    assert not cal.is_working_day(date(2026, 3, 9))


def test_holiday_names() -> None:
    assert CAL.holiday_name(date(2026, 1, 1)) == "Tết Dương lịch"
    assert CAL.holiday_name(date(2026, 1, 1), lang="en") == "New Year's Day"
    assert CAL.holiday_name(date(2026, 3, 9)) is None


# Moments


@pytest.mark.parametrize(
    ("hm", "expected"),
    [
        ("06:59", False),
        ("07:00", True),
        ("11:29:59.999999", True),
        ("11:30", False),
        ("12:00", False),
        ("13:30", True),
        ("16:59", True),
        ("17:00", False),
    ],
)
def test_is_working_moment(hm: str, expected: bool) -> None:
    assert CAL.is_working_moment(at("2026-03-09", hm)) is expected


def test_no_working_moment_on_a_day_off() -> None:
    assert not CAL.is_working_moment(at("2026-03-07", "09:00"))


def test_next_working_moment() -> None:
    assert CAL.next_working_moment(at("2026-03-09", "09:15")) == at("2026-03-09", "09:15")
    assert CAL.next_working_moment(at("2026-03-09", "06:00")) == at("2026-03-09", "07:00")
    assert CAL.next_working_moment(at("2026-03-09", "11:30")) == at("2026-03-09", "13:30")
    assert CAL.next_working_moment(at("2026-03-06", "17:00")) == at("2026-03-09", "07:00")
    assert CAL.next_working_moment(at("2026-02-13", "18:00")) == at("2026-02-23", "07:00")


def test_next_working_day_and_close_of_day() -> None:
    assert CAL.next_working_day(date(2026, 3, 6)) == date(2026, 3, 9)
    assert CAL.next_working_day(date(2026, 8, 21)) == date(2026, 8, 22)
    assert CAL.close_of_day(date(2026, 3, 9)) == at("2026-03-09", "17:00")
    assert MORNING.close_of_day(date(2026, 3, 9)) == at("2026-03-09", "12:00")


# Time zones


def test_naive_is_local_and_aware_is_converted() -> None:
    naive = datetime(2026, 3, 9, 7, 0)
    utc = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)  # 07:00 in Hanoi
    assert CAL.add_working_minutes(naive, 60) == at("2026-03-09", "08:00")
    assert CAL.add_working_minutes(utc, 60) == at("2026-03-09", "08:00")
    assert CAL.add_working_minutes(utc, 60).tzinfo is TZ
    assert CAL.next_working_moment(naive).tzinfo is TZ


def test_dates_are_not_datetimes() -> None:
    with pytest.raises(ValidationError):
        CAL.next_working_moment(date(2026, 3, 9))  # type: ignore[arg-type]


# Adding and measuring


def test_full_day_ends_at_closing_not_next_morning() -> None:
    assert CAL.add_working_minutes(at("2026-03-09"), 480) == at("2026-03-09", "17:00")
    assert CAL.add_working_minutes(at("2026-03-09"), 270) == at("2026-03-09", "11:30")
    assert CAL.add_working_minutes(at("2026-03-09"), 271) == at("2026-03-09", "13:31")


def test_add_continues_after_a_period_end() -> None:
    assert CAL.add_working_minutes(at("2026-03-09", "11:30"), 30) == at("2026-03-09", "14:00")
    assert CAL.add_working_minutes(at("2026-03-06", "17:00"), 60) == at("2026-03-09", "08:00")


def test_zero_minutes_gives_next_working_moment() -> None:
    assert CAL.add_working_minutes(at("2026-03-06", "17:00"), 0) == at("2026-03-09", "07:00")


def test_add_skips_tet() -> None:
    assert CAL.add_working_minutes(at("2026-02-13"), 2 * 480) == at("2026-02-23", "17:00")


def test_fractional_minutes() -> None:
    assert CAL.add_working_minutes(at("2026-03-09"), 0.5) == at("2026-03-09", "07:00:30")


def test_thirty_working_days_is_fast() -> None:
    started = clock.perf_counter()
    due = CAL.add_working_minutes(at("2026-03-02"), 30 * 480)
    assert clock.perf_counter() - started < 0.1
    # 2 March + 6 weeks = 10 April (a Friday); 30 April and 1 May do not intervene.
    assert due == at("2026-04-10", "17:00")


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), True, "60"])
def test_add_rejects_bad_minutes(bad: float) -> None:
    with pytest.raises(ValidationError) as info:
        CAL.add_working_minutes(at("2026-03-09"), bad)
    assert info.value.code == "invalid_minutes"


def test_add_is_bounded() -> None:
    with pytest.raises(ValidationError) as info:
        CAL.add_working_minutes(at("2026-03-09"), 1e9)
    assert info.value.code == "calendar_range"


def test_no_working_day_at_all_is_bounded() -> None:
    start = date(2026, 1, 1)
    closed = {start + timedelta(days=n): False for n in range(3700)}
    with pytest.raises(ValidationError):
        WorkCalendar(overrides=closed).next_working_moment(at("2026-01-01"))


def test_working_minutes_between() -> None:
    assert CAL.working_minutes_between(at("2026-03-09"), at("2026-03-09", "17:00")) == 480
    assert CAL.working_minutes_between(at("2026-03-09", "11:00"), at("2026-03-09", "14:00")) == 60
    assert CAL.working_minutes_between(at("2026-03-06", "16:00"), at("2026-03-09", "08:00")) == 120
    assert CAL.working_minutes_between(at("2026-03-09", "10:00"), at("2026-03-09", "09:00")) == 0
    assert CAL.working_minutes_between(at("2026-03-07"), at("2026-03-08", "23:00")) == 0


# Properties


@settings(max_examples=200, deadline=None)
@given(calendars, moments, minutes)
def test_result_is_working_time_or_a_period_end(cal: WorkCalendar, t: datetime, m: int) -> None:
    result = cal.add_working_minutes(t, m)
    assert result >= t.replace(tzinfo=TZ)
    assert is_working_or_period_end(cal, result)
    if m == 0:
        assert cal.is_working_moment(result)


@settings(max_examples=150, deadline=None)
@given(calendars, moments, minutes, minutes)
def test_add_is_monotonic_in_minutes(cal: WorkCalendar, t: datetime, m1: int, m2: int) -> None:
    low, high = sorted((m1, m2))
    assert cal.add_working_minutes(t, low) <= cal.add_working_minutes(t, high)


@settings(max_examples=150, deadline=None)
@given(calendars, moments, moments, minutes)
def test_add_is_monotonic_in_start(cal: WorkCalendar, t1: datetime, t2: datetime, m: int) -> None:
    early, late = sorted((t1, t2))
    assert cal.add_working_minutes(early, m) <= cal.add_working_minutes(late, m)


@settings(max_examples=200, deadline=None)
@given(calendars, moments, st.floats(min_value=0, max_value=40 * 480, allow_nan=False))
def test_add_then_between_round_trips(cal: WorkCalendar, t: datetime, m: float) -> None:
    result = cal.add_working_minutes(t, m)
    assert cal.working_minutes_between(t, result) == pytest.approx(m, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(calendars, moments, minutes, st.integers(min_value=1, max_value=5 * 480))
def test_add_is_additive(cal: WorkCalendar, t: datetime, m1: int, m2: int) -> None:
    step = cal.add_working_minutes(cal.add_working_minutes(t, m1), m2)
    assert step == cal.add_working_minutes(t, m1 + m2)


@settings(max_examples=150, deadline=None)
@given(calendars, moments)
def test_next_working_moment_is_first(cal: WorkCalendar, t: datetime) -> None:
    result = cal.next_working_moment(t)
    assert cal.is_working_moment(result)
    assert cal.working_minutes_between(t, result) == 0
    assert result == t.replace(tzinfo=TZ) or not cal.is_working_moment(t)
