"""Device health: when each device last worked, its last error, and the recent errors.

Every use of a device (a print, a payment, a self-test, a key press) reports here, so the
technician page and the sync heartbeat can say which device is fine and which is not.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from edge.errors import EdgeError
from edge.events import now_iso
from edge.ports import ROLE_NAMES, ROLES
from edge.store.db import write

KEEP_ERRORS = 500  # recent errors kept for the technician page
# The new value of each field, or the old one while the device keeps its address; a device at a
# new address starts afresh (what the old one did is not held against it).
_KEEP_SAME_ADDRESS = (
    ", ".join(
        f"{f} = CASE WHEN device_health.url = excluded.url THEN coalesce(excluded.{f}, device_health.{f})"
        f" ELSE excluded.{f} END"
        for f in ("last_ok_at", "last_error_at", "last_error_code", "last_error_vi", "last_error_en")
    )
    + ", url = excluded.url"
)


def record_ok(db: sqlite_utils.Database, role: str, url: str, detail: str = "", at: str | None = None) -> None:
    """Note that the device of a role just worked."""
    with write(db):
        db.execute(
            "INSERT INTO device_health (role, url, last_state, last_ok_at, detail) VALUES (?, ?, 'ok', ?, ?)"
            f" ON CONFLICT (role) DO UPDATE SET last_state = 'ok', detail = excluded.detail, {_KEEP_SAME_ADDRESS}",
            [role, url, at or now_iso(), detail],
        )


def record_error(db: sqlite_utils.Database, role: str, url: str, err: EdgeError, at: str | None = None) -> None:
    """Note a device error: the role's last error, and one more line in the recent errors."""
    moment = at or now_iso()
    with write(db):
        db.execute(
            "INSERT INTO device_health (role, url, last_state, last_error_at, last_error_code, last_error_vi,"
            " last_error_en) VALUES (?, ?, 'error', ?, ?, ?, ?) ON CONFLICT (role) DO UPDATE SET last_state = 'error',"
            f" detail = CASE WHEN device_health.url = excluded.url THEN device_health.detail END, {_KEEP_SAME_ADDRESS}",
            [role, url, moment, err.code, err.vi, err.en],
        )
        db.execute(
            "INSERT INTO device_errors (role, url, at, code, vi, en) VALUES (?, ?, ?, ?, ?, ?)",
            [role, url, moment, err.code, err.vi, err.en],
        )
        db.execute("DELETE FROM device_errors WHERE id <= (SELECT max(id) FROM device_errors) - ?", [KEEP_ERRORS])


def health(db: sqlite_utils.Database, urls: dict[str, str]) -> list[dict[str, Any]]:
    """Return one entry per role: its URL now, last OK, last error, and whether it is failing.

    A device is "ok" when its last success is newer than its last error, "error" when the
    reverse, "unknown" when it has not been used yet, and "none" when no device is configured.
    """
    rows = {
        r[0]: r
        for r in db.execute(
            "SELECT role, url, last_ok_at, last_error_at, last_error_code, last_error_vi, last_error_en, detail,"
            " last_state FROM device_health"
        ).fetchall()
    }
    out = []
    for role in ROLES:
        url = urls.get(role, "")
        row = rows.get(role)
        same = bool(row and row[1] == url)
        ok_at, error_at = (row[2], row[3]) if row and same else (None, None)
        # The last thing that happened decides, even within one second (a reconciled payment, say).
        last = row[8] if row and same else None
        state = "none" if not url else last or "unknown"
        out.append(
            {
                "role": role,
                "name_vi": ROLE_NAMES[role][0],
                "name_en": ROLE_NAMES[role][1],
                "url": url,
                "state": state,
                "last_ok_at": ok_at,
                "last_error_at": error_at,
                "last_error_code": row[4] if same and row else None,
                "last_error_vi": row[5] if same and row else None,
                "last_error_en": row[6] if same and row else None,
                "detail": row[7] if same and row else None,
            }
        )
    return out


def recent_errors(db: sqlite_utils.Database, limit: int = 20) -> list[dict[str, Any]]:
    """Return the newest device errors first."""
    keys = ("role", "url", "at", "code", "vi", "en")
    rows = db.execute(
        "SELECT role, url, at, code, vi, en FROM device_errors ORDER BY id DESC LIMIT ?", [limit]
    ).fetchall()
    return [dict(zip(keys, r, strict=True)) for r in rows]
