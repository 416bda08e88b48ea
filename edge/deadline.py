"""Due dates of dossiers: the legal processing time counted in working time."""

from __future__ import annotations

import math
from datetime import datetime, time

from edge.calendar import WorkCalendar
from edge.errors import ValidationError


def compute_due_at(
    cal: WorkCalendar,
    received_at: datetime,
    processing_days: float,
    same_day_cutoff: time | None,
) -> datetime:
    """Return when a dossier received at received_at is due."""
    days = _check_days(processing_days)
    if days == 0:
        return _same_day_due(cal, received_at, same_day_cutoff)
    # add_working_minutes starts from the next working moment, so a dossier received
    # after closing or on a day off starts counting the next working morning.
    return cal.add_working_minutes(received_at, days * cal.hours.minutes_per_day)


def extend_for_pause(
    cal: WorkCalendar,
    due_at: datetime,
    paused_from: datetime,
    paused_to: datetime,
) -> datetime:
    """Move due_at later by the working time the clock was paused (supplement wait)."""
    if cal.to_local(paused_to) < cal.to_local(paused_from):
        raise ValidationError(
            "Thời điểm kết thúc tạm dừng không được trước thời điểm bắt đầu",
            "The end of the pause must not be before its start",
            code="invalid_pause",
            field="paused_to",
        )
    minutes = cal.working_minutes_between(paused_from, paused_to)
    if minutes == 0:
        return cal.to_local(due_at)
    # From a period end this carries on at the next period, never at the end itself.
    return cal.add_working_minutes(due_at, minutes)


def remaining_working_minutes(cal: WorkCalendar, now: datetime, due_at: datetime) -> float:
    """Return working minutes left until due_at; negative means overdue by that much.

    Zero does not mean on time: checked at 18:00 against a 17:00 due date there are 0
    working minutes of lateness yet the dossier is overdue, so decide overdue by
    comparing datetimes.
    """
    if cal.to_local(now) <= cal.to_local(due_at):
        return cal.working_minutes_between(now, due_at)
    late = cal.working_minutes_between(due_at, now)
    return -late if late else 0.0


def _same_day_due(cal: WorkCalendar, received_at: datetime, cutoff: time | None) -> datetime:
    local = cal.to_local(received_at)
    day = local.date()
    closing = cal.close_of_day(day)
    if cutoff is not None and not isinstance(cutoff, time):
        raise ValidationError(
            "Giờ chốt nhận trong ngày không hợp lệ",
            "The same-day cut-off must be a time of day",
            code="invalid_cutoff",
            field="same_day_cutoff",
        )
    # Without a cut-off anything received before closing (early, lunch) is same day.
    limit = closing if cutoff is None else min(closing, datetime.combine(day, cutoff, cal.tz))
    if cal.is_working_day(day) and local < limit:
        return closing
    return cal.close_of_day(cal.next_working_day(day))


def _check_days(processing_days: float) -> float:
    ok = isinstance(processing_days, (int, float)) and not isinstance(processing_days, bool)
    if not ok or not math.isfinite(processing_days) or processing_days < 0:
        raise ValidationError(
            "Số ngày xử lý phải là một số không âm",
            "Processing days must be a non-negative number",
            code="invalid_processing_days",
            field="processing_days",
        )
    return float(processing_days)
