"""Working-time calendar: office hours, weekends, Vietnamese holidays, local overrides.

All arithmetic is done on the local wall clock in whole microseconds, so results are
exact and adding then measuring round-trips. Vietnam has no daylight saving time, so
wall-clock minutes are real minutes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

from edge.errors import ValidationError

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# Walking further than this means bad input or an absurd setting, never a real deadline.
MAX_DAYS = 3650
_US_PER_MINUTE = 60_000_000
_US_PER_DAY = 86_400_000_000
_PERIOD_RE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


def _hours_error(vi: str, en: str) -> ValidationError:
    return ValidationError(
        f"Giờ làm việc không hợp lệ: {vi}",
        f"Invalid working hours: {en}",
        code="invalid_working_hours",
        field="working_hours",
    )


def _range_error() -> ValidationError:
    return ValidationError(
        f"Không tìm được thời điểm làm việc trong vòng {MAX_DAYS} ngày",
        f"No working time found within {MAX_DAYS} days",
        code="calendar_range",
    )


def _us_of(t: time) -> int:
    return (t.hour * 60 + t.minute) * _US_PER_MINUTE


def _validated(periods: tuple[tuple[time, time], ...]) -> tuple[tuple[time, time], ...]:
    try:
        pairs = tuple((start, end) for start, end in periods)
    except (TypeError, ValueError):
        pairs = ()
    # Whole local minutes only: keeps minutes_per_day an integer and settings readable.
    if not pairs or not all(
        isinstance(b, time) and not (b.tzinfo or b.second or b.microsecond) for pair in pairs for b in pair
    ):
        raise _hours_error(
            "cần ít nhất một khoảng, mỗi mốc là giờ:phút theo giờ địa phương",
            "at least one period is needed, each bound a local hour:minute",
        )
    for index, (start, end) in enumerate(pairs):
        if start >= end:
            raise _hours_error(
                f"{start:%H:%M} phải trước {end:%H:%M}",
                f"{start:%H:%M} must be before {end:%H:%M}",
            )
        if index and start < pairs[index - 1][1]:
            raise _hours_error(
                "các khoảng phải theo thứ tự và không được chồng lấn",
                "periods must be in order and must not overlap",
            )
    return pairs


@dataclass(frozen=True)
class WorkingHours:
    """Daily working periods on the local wall clock, in order, end exclusive."""

    periods: tuple[tuple[time, time], ...] = (
        (time(7, 0), time(11, 30)),
        (time(13, 30), time(17, 0)),
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "periods", _validated(self.periods))

    @property
    def minutes_per_day(self) -> int:
        """Return the working minutes in one full working day."""
        total = sum(_us_of(end) - _us_of(start) for start, end in self.periods)
        return total // _US_PER_MINUTE

    @classmethod
    def parse(cls, spec: str) -> WorkingHours:
        """Parse a setting such as "07:00-11:30,13:30-17:00"."""
        if not isinstance(spec, str) or not spec.strip():
            raise _hours_error("chuỗi cấu hình trống", "the setting is empty")
        periods = []
        for part in spec.split(","):
            match = _PERIOD_RE.fullmatch(part)
            try:
                if match is None:
                    raise ValueError(part)
                h1, m1, h2, m2 = (int(group) for group in match.groups())
                periods.append((time(h1, m1), time(h2, m2)))
            except ValueError:  # also hours or minutes out of range
                raise _hours_error(
                    f"'{part.strip()}' không có dạng HH:MM-HH:MM",
                    f"'{part.strip()}' is not of the form HH:MM-HH:MM",
                ) from None
        return cls(tuple(periods))

    def format(self) -> str:
        """Format the periods back into a setting string."""
        return ",".join(f"{start:%H:%M}-{end:%H:%M}" for start, end in self.periods)


class WorkCalendar:
    """Tell working days and moments apart and do arithmetic in working minutes."""

    def __init__(
        self,
        hours: WorkingHours = WorkingHours(),
        overrides: Mapping[date, bool] | None = None,
        tz: tzinfo = TZ,
    ) -> None:
        self.hours = hours
        self.tz = tz
        # A frozen copy: edits to the override table mean building a new calendar, so
        # the per-year caches below can never go stale.
        self.overrides: Mapping[date, bool] = MappingProxyType(
            {_as_date(day): bool(worked) for day, worked in (overrides or {}).items()}
        )
        self._periods = tuple((_us_of(start), _us_of(end)) for start, end in hours.periods)
        self._books: dict[tuple[int, str], holidays.HolidayBase] = {}
        self._years: dict[int, tuple[frozenset[date], frozenset[date]]] = {}

    def _book(self, year: int, language: str = "vi") -> holidays.HolidayBase:
        key = (year, language)
        if key not in self._books:
            self._books[key] = holidays.country_holidays("VN", years=year, expand=False, language=language)
        return self._books[key]

    def _year(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        """Return (days off, make-up working days) published for the year."""
        if year not in self._years:
            book = self._book(year)
            self._years[year] = (frozenset(book), frozenset(book.weekend_workdays))
        return self._years[year]

    def holiday_name(self, d: date, lang: str = "vi") -> str | None:
        """Return the public holiday's name on d, or None (ignores overrides)."""
        name = self._book(d.year, "en_US" if lang.startswith("en") else "vi").get(d)
        return None if name is None else str(name)

    def to_local(self, t: datetime) -> datetime:
        """Return t as an aware datetime in the calendar's zone (naive means local)."""
        if not isinstance(t, datetime):
            raise ValidationError(
                "Cần một thời điểm (ngày và giờ)",
                "A datetime is required",
                code="invalid_datetime",
            )
        return t.replace(tzinfo=self.tz) if t.tzinfo is None else t.astimezone(self.tz)

    def is_working_day(self, d: date) -> bool:
        """Return whether d is worked: overrides, holidays, make-up days, weekends."""
        d = self._day(d)
        override = self.overrides.get(d)
        if override is not None:
            return override
        days_off, _ = self._year(d.year)
        if d in days_off:
            return False
        if d.weekday() < 5:
            return True
        # A make-up Saturday may be published with a neighbouring year's holiday (late
        # December for New Year), so look at both neighbours too.
        return any(d in self._year(year)[1] for year in (d.year, d.year + 1, d.year - 1))

    def is_working_moment(self, t: datetime) -> bool:
        """Return whether t is inside a period (end exclusive) on a working day."""
        day, pos = self._split(t)
        return self.is_working_day(day) and any(s <= pos < e for s, e in self._periods)

    def next_working_moment(self, t: datetime) -> datetime:
        """Return t if it is working time, else the start of the next working period."""
        return self._advance(t, 0)

    def next_working_day(self, d: date) -> date:
        """Return the first working day strictly after d."""
        d = self._day(d)
        for day in self._working_days(d + timedelta(days=1)):
            return day
        raise _range_error()

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        """Return the moment reached after working the given minutes from start."""
        return self._advance(start, _minutes_to_us(minutes))

    def _advance(self, start: datetime, remaining: int) -> datetime:
        # With nothing left this stops at the first working moment: next_working_moment.
        first, pos = self._split(start)
        for day in self._working_days(first):
            if day != first:
                pos = 0
            for period_start, period_end in self._periods:
                if pos >= period_end:
                    continue
                begin = max(period_start, pos)
                # "<=" so that work ending exactly at a period end stays on that end.
                if remaining <= period_end - begin:
                    return self._join(day, begin + remaining)
                remaining -= period_end - begin
        raise _range_error()

    def working_minutes_between(self, a: datetime, b: datetime) -> float:
        """Return the working minutes from a to b (0 if b is not after a)."""
        first, pos_a = self._split(a)
        last, pos_b = self._split(b)
        if (last, pos_b) <= (first, pos_a):
            return 0.0
        total = 0
        day = first
        while day <= last:
            if self.is_working_day(day):
                low = pos_a if day == first else 0
                high = pos_b if day == last else _US_PER_DAY
                for start, end in self._periods:
                    total += max(0, min(end, high) - max(start, low))
            day += timedelta(days=1)
        return total / _US_PER_MINUTE

    def close_of_day(self, d: date) -> datetime:
        """Return the end of the last period on d, whether or not d is worked."""
        d = self._day(d)
        return self._join(d, self._periods[-1][1])

    def _working_days(self, first: date) -> Iterator[date]:
        """Yield working days from first on, stopping after MAX_DAYS calendar days."""
        for offset in range(MAX_DAYS + 1):
            try:
                day = first + timedelta(days=offset)
            except OverflowError:
                return
            if self.is_working_day(day):
                yield day

    def _split(self, t: datetime) -> tuple[date, int]:
        local = self.to_local(t)
        clock = ((local.hour * 60 + local.minute) * 60 + local.second) * 1_000_000
        return local.date(), clock + local.microsecond

    def _join(self, d: date, pos: int) -> datetime:
        return datetime.combine(d, time(), self.tz) + timedelta(microseconds=pos)

    def _day(self, d: date) -> date:
        return self.to_local(d).date() if isinstance(d, datetime) else d


def _as_date(d: date) -> date:
    return d.date() if isinstance(d, datetime) else d


def _minutes_to_us(minutes: float) -> int:
    amount = minutes * _US_PER_MINUTE if isinstance(minutes, (int, float)) else math.nan
    if isinstance(minutes, bool) or not math.isfinite(amount) or amount < 0:
        raise ValidationError(
            "Số phút làm việc phải là một số không âm",
            "Working minutes must be a non-negative number",
            code="invalid_minutes",
            field="minutes",
        )
    return round(amount)
