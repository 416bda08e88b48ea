"""What every UI view needs: the box, the signed-in user, formats, the status strip."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, session

from edge.box import Box
from edge.calendar import TZ
from edge.lifecycle import STATUSES
from edge.users import User, require

F = TypeVar("F", bound=Callable[..., Any])


def box() -> Box:
    """Return the Box this app serves."""
    found: Box = current_app.extensions["box"]
    return found


def current_user() -> User:
    """Return the signed-in user (the login check ran before the view)."""
    found: User = g.user
    return found


def requires(permission: str) -> Callable[[F], F]:
    """Refuse the view (403) unless the user's role grants the permission."""

    def wrap(view: F) -> F:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            require(current_user(), permission)
            return view(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap


def lang() -> str:
    """Return the UI language of this session."""
    return str(session.get("lang", "vi"))


def as_local(value: str | datetime | None) -> datetime | None:
    """Return a moment in Vietnam time (ISO text or datetime), or None."""
    if value in (None, ""):
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(TZ)


def format_datetime(value: str | datetime | None) -> str:
    """Format a moment as 26/11/2026 14:05."""
    moment = as_local(value)
    return moment.strftime("%d/%m/%Y %H:%M") if moment else ""


def format_date(value: str | date | datetime | None) -> str:
    """Format a day as 26/11/2026."""
    if value in (None, ""):
        return ""
    if isinstance(value, datetime) or (isinstance(value, str) and "T" in value):
        moment = as_local(value)
        return moment.strftime("%d/%m/%Y") if moment else ""
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return day.strftime("%d/%m/%Y")


def format_date_input(value: object) -> str:
    """Show a day in a date field as dd/mm/yyyy (an ISO day from a URL is turned around)."""
    text = "" if value is None else str(value)
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return date.fromisoformat(text).strftime("%d/%m/%Y")
    return text


def format_money(amount: int | float | None) -> str:
    """Format đồng the Vietnamese way: 50.000 ₫."""
    if amount is None:
        return ""
    return f"{round(amount):,}".replace(",", ".") + " ₫"


def status_label(status: str) -> str:
    """Return the status name in the session's language."""
    _, vi, en = STATUSES[status]
    return en if lang() == "en" else vi


def sync_status(detail: bool = False) -> dict[str, Any]:
    """Return what the sync layer tells about the link to the hub ({"configured": False} before provisioning)."""
    from sync.client.status import status

    return status(box(), detail=detail)
