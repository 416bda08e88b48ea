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


def record_ok(db: sqlite_utils.Database, role: str, url: str, detail: str = "", at: str | None = None) -> None:
    """Note that the device of a role just worked."""
    with write(db):
        db.execute(
            "INSERT INTO device_health (role, url, last_ok_at, detail) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (role) DO UPDATE SET url = excluded.url, last_ok_at = excluded.last_ok_at,"
            " detail = excluded.detail",
            [role, url, at or now_iso(), detail],
        )


def record_error(db: sqlite_utils.Database, role: str, url: str, err: EdgeError, at: str | None = None) -> None:
    """Note a device error: the role's last error, and one more line in the recent errors."""
    moment = at or now_iso()
    with write(db):
        db.execute(
            "INSERT INTO device_health (role, url, last_error_at, last_error_code, last_error_vi, last_error_en)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (role) DO UPDATE SET url = excluded.url,"
            " last_error_at = excluded.last_error_at, last_error_code = excluded.last_error_code,"
            " last_error_vi = excluded.last_error_vi, last_error_en = excluded.last_error_en",
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
            "SELECT role, url, last_ok_at, last_error_at, last_error_code, last_error_vi, last_error_en, detail"
            " FROM device_health"
        ).fetchall()
    }
    out = []
    for role in ROLES:
        url = urls.get(role, "")
        row = rows.get(role)
        ok_at, error_at = (row[2], row[3]) if row and row[1] == url else (None, None)
        if not url:
            state = "none"
        elif error_at and (not ok_at or error_at >= ok_at):
            state = "error"
        elif ok_at:
            state = "ok"
        else:
            state = "unknown"
        same = bool(row and row[1] == url)
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
