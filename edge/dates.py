"""Parsing moments that come from outside (API bodies, query strings)."""

from __future__ import annotations

import re
from datetime import date, datetime

from edge.calendar import TZ
from edge.errors import ValidationError


def _check_year(year: int, field: str) -> None:
    # The box deals in moments of this era; far dates are typos and would overflow the calendar.
    if not 2000 <= year <= 2100:
        raise ValidationError(
            f"“{field}” phải nằm trong khoảng năm 2000–2100.",
            f"“{field}” must be between the years 2000 and 2100.",
            code="date_out_of_range",
            field=field,
        )


def parse_datetime(value: object, field: str) -> datetime:
    """Parse an ISO 8601 moment; one without an offset is taken as Vietnam time."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValidationError(
            f"“{field}” phải là thời điểm dạng ISO 8601, ví dụ 2026-11-26T14:05:00+07:00.",
            f"“{field}” must be an ISO 8601 moment, e.g. 2026-11-26T14:05:00+07:00.",
            code="invalid_datetime",
            field=field,
        )
    text = value.strip()
    if "T" in text and " " in text:
        text = text.replace(" ", "+")  # an unencoded "+07:00" in a query string arrives as " 07:00"
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise ValidationError(
            f"“{field}” không phải thời điểm hợp lệ (ISO 8601, ví dụ 2026-11-26T14:05:00+07:00).",
            f"“{field}” is not a valid ISO 8601 moment (e.g. 2026-11-26T14:05:00+07:00).",
            code="invalid_datetime",
            field=field,
        ) from err
    _check_year(moment.year, field)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TZ)
    return moment.astimezone(TZ)


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_VN_DAY = re.compile(r"([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4})", re.ASCII)


def read_day(text: str) -> date:
    """Read a day typed as dd/mm/yyyy (also d/m/yyyy, dd.mm.yyyy) or yyyy-mm-dd; raise ValueError."""
    text = text.strip()
    if _ISO_DAY.fullmatch(text):
        return date.fromisoformat(text)
    match = _VN_DAY.fullmatch(text)
    if match is None:
        raise ValueError(text)
    day, month, year = (int(part) for part in match.groups())
    return date(year, month, day)


def parse_day(value: object, field: str) -> date:
    """Read a day from outside (a form, a query string) or raise a ValidationError in vi/en."""
    shown = str(value)[:40]
    try:
        day = read_day(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        raise ValidationError(
            f"Ngày “{shown}” không hợp lệ; nhập theo dạng ngày/tháng/năm, ví dụ 26/11/2026.",
            f"The date “{shown}” is invalid; use day/month/year, e.g. 26/11/2026.",
            code="invalid_date",
            field=field,
        )
    _check_year(day.year, field)
    return day
