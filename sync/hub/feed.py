"""The per-commune change feed boxes pull, and the catalogue and calendar the province publishes.

Each commune's feed is numbered 1, 2, 3, … without gaps. A writer allocates numbers while it holds
the commune's row (`lock_row`) until it commits, so numbers become visible in order on SQLite and on
a PostgreSQL shared by several hub processes, and a reader that stops at `communes.feed_seq` never
sees a hole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from edge import catalogue
from edge.calendar import TZ
from edge.dates import parse_day
from edge.errors import NotFoundError, ValidationError
from edge.events import iso
from edge.text import clean_free_text
from sync.hub.bulk import dumps, insert_many, select_in
from sync.hub.db import HubDB

MAX_FEED_LIMIT = 1000
DEFAULT_FEED_LIMIT = 500
_COMMUNE = re.compile(r"[0-9]{5}", re.ASCII)

_FEED_COLUMNS = (
    ("commune_code", "text"), ("seq", "bigint"), ("type", "text"), ("event_id", "text"), ("from_box", "text"),
    ("body", "text"), ("created_at", "text"),
)  # fmt: skip

# One feed row to append: (type, event_id, from_box, body JSON).
FeedRow = tuple[str, str | None, str | None, str | None]


def check_commune_code(commune_code: object) -> str:
    """Return a commune code (exactly 5 digits) or raise ValidationError."""
    if not isinstance(commune_code, str) or not _COMMUNE.fullmatch(commune_code):
        raise ValidationError(
            "Mã xã phải gồm đúng 5 chữ số.",
            "The commune code must be exactly 5 digits.",
            code="invalid_commune_code",
            field="commune_code",
        )
    return commune_code


def lock_head(db: HubDB, commune_code: str) -> int | None:
    """Inside a transaction, hold a commune's row until commit; return its feed head (None if unknown)."""
    suffix = " FOR UPDATE" if db.kind == "postgresql" else ""
    head = db.scalar(f"SELECT feed_seq FROM communes WHERE commune_code = ?{suffix}", [commune_code])
    return None if head is None else int(head)


def append_items(db: HubDB, commune_code: str, rows: Sequence[FeedRow], now_iso: str, head: int | None = None) -> int:
    """Append rows to a commune's feed (inside a transaction); return the new head.

    `head` is the value lock_head returned when the caller already holds the commune's row.
    """
    head = lock_head(db, commune_code) if head is None else head
    if head is None:
        raise NotFoundError(f"Không có xã {commune_code}.", f"No commune {commune_code}.", code="unknown_commune")
    if not rows:
        return head
    insert_many(
        db,
        "feed",
        _FEED_COLUMNS,
        [(commune_code, head + i, *row, now_iso) for i, row in enumerate(rows, start=1)],
    )
    head += len(rows)
    db.execute("UPDATE communes SET feed_seq = ? WHERE commune_code = ?", [head, commune_code])
    return head


def _seed_rows(db: HubDB) -> list[FeedRow]:
    """Return the feed rows a new commune starts with: the current catalogue and calendar."""
    rows: list[FeedRow] = []
    procedures = current_catalogue(db)
    if procedures:
        rows.append(("catalogue", None, None, dumps({"procedures": procedures})))
    days = current_calendar(db)
    if days:
        rows.append(("calendar", None, None, dumps({"days": days})))
    return rows


def ensure_commune(db: HubDB, commune_code: str, now_iso: str, agency_code: str | None = None) -> bool:
    """Create a commune (its feed seeded with the catalogue and calendar) unless it exists; return if created."""
    check_commune_code(commune_code)
    with db.transaction():
        created = db.execute(
            "INSERT INTO communes (commune_code, agency_code) VALUES (?, ?) ON CONFLICT (commune_code) DO NOTHING",
            [commune_code, agency_code],
        )
        if created:
            append_items(db, commune_code, _seed_rows(db), now_iso)
        elif agency_code:
            db.execute(
                "UPDATE communes SET agency_code = ? WHERE commune_code = ? AND agency_code IS NULL",
                [agency_code, commune_code],
            )
    return bool(created)


def current_catalogue(db: HubDB) -> list[dict[str, Any]]:
    """Return every procedure the hub holds, by code."""
    return [json.loads(body) for (body,) in db.query("SELECT body FROM catalogue ORDER BY code")]


def current_calendar(db: HubDB) -> list[dict[str, Any]]:
    """Return every calendar day the hub publishes, by day."""
    rows = db.query("SELECT day, working, note FROM calendar ORDER BY day")
    return [{"day": day, "working": bool(working), "note": note} for day, working, note in rows]


def _publish(db: HubDB, kind: str, body: str, now_iso: str) -> None:
    """Append one item to every commune's feed."""
    for (commune_code,) in db.query("SELECT commune_code FROM communes ORDER BY commune_code"):
        append_items(db, commune_code, [(kind, None, None, body)], now_iso)


def publish_catalogue(db: HubDB, procedures_json: list[dict[str, Any]], now_iso: str | None = None) -> int:
    """Validate procedures, store them, and send them to every commune's feed; return how many."""
    procedures = [p.to_dict() for p in catalogue.load_json(json.dumps(procedures_json, ensure_ascii=False))]
    now = now_iso or _now()
    with db.transaction():
        db.executemany(
            "INSERT INTO catalogue (code, body, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (code) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            [(p["code"], dumps(p), now) for p in procedures],
        )
        if procedures:
            _publish(db, "catalogue", dumps({"procedures": procedures}), now)
    return len(procedures)


def parse_calendar_days(data: object) -> list[dict[str, Any]]:
    """Validate calendar entries {day YYYY-MM-DD, working bool, note}; accept {"days": [...]} too."""
    if isinstance(data, dict) and "days" in data:
        data = data["days"]
    if not isinstance(data, list):
        raise ValidationError(
            "Lịch phải là một danh sách ngày.", "The calendar must be a list of days.", code="invalid", field="days"
        )
    out: dict[date, dict[str, Any]] = {}
    for i, entry in enumerate(data):
        where = f"days[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"day", "working", "note"}:
            raise ValidationError(
                f"{where} phải là đối tượng có day, working, note.",
                f"{where} must be an object with day, working, note.",
                code="invalid",
                field=where,
            )
        if not isinstance(entry.get("day"), str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", entry["day"]):
            raise ValidationError(
                f"{where}.day phải có dạng YYYY-MM-DD.", f"{where}.day must be YYYY-MM-DD.", code="invalid", field=where
            )
        day = parse_day(entry["day"], f"{where}.day")
        if not isinstance(entry.get("working"), bool):
            raise ValidationError(
                f"{where}.working phải là true hoặc false.",
                f"{where}.working must be true or false.",
                code="invalid",
                field=f"{where}.working",
            )
        note = clean_free_text(entry.get("note"), f"{where}.note", max_len=200, required=False)
        out[day] = {"day": day.isoformat(), "working": entry["working"], "note": note}
    return [out[d] for d in sorted(out)]


def publish_calendar(db: HubDB, days: object, now_iso: str | None = None) -> int:
    """Validate calendar days, store them, and send them to every commune's feed; return how many."""
    entries = parse_calendar_days(days)
    now = now_iso or _now()
    with db.transaction():
        db.executemany(
            "INSERT INTO calendar (day, working, note, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (day) DO UPDATE"
            " SET working = excluded.working, note = excluded.note, updated_at = excluded.updated_at",
            [(e["day"], int(e["working"]), e["note"], now) for e in entries],
        )
        if entries:
            _publish(db, "calendar", dumps({"days": entries}), now)
    return len(entries)


def _event_bodies(db: HubDB, event_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Return the wire form of events by id."""
    rows = select_in(
        db,
        "SELECT event_id, dossier_id, kind, payload, actor, origin, wall_time, hlc FROM events WHERE event_id",
        event_ids,
    )
    keys = ("event_id", "dossier_id", "kind", "payload", "actor", "origin", "wall_time", "hlc")
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        event = dict(zip(keys, row, strict=True))
        event["payload"] = json.loads(event["payload"])
        out[event["event_id"]] = event
    return out


def read_feed(
    db: HubDB, commune_code: str, after: int, limit: int, box_id: str | None, *, own_bodies: bool = False
) -> dict[str, Any]:
    """Return a page of a commune's feed after a cursor; the asking box's own events come as stubs.

    With own_bodies (a box restored from a backup repairs its feed) its own events come whole.
    """
    box_id = None if own_bodies else box_id
    limit = max(1, min(limit, MAX_FEED_LIMIT))
    head = int(db.scalar("SELECT feed_seq FROM communes WHERE commune_code = ?", [commune_code]) or 0)
    # Rows at or below the head read first are all committed (see the module docstring).
    rows = db.query(
        "SELECT seq, type, event_id, from_box, body FROM feed"
        " WHERE commune_code = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
        [commune_code, after, head, limit],
    )
    wanted = [r[2] for r in rows if r[1] == "event" and not (box_id and r[3] == box_id)]
    bodies = _event_bodies(db, wanted)
    own = [r[2] for r in rows if r[1] == "event" and box_id and r[3] == box_id]
    dossier_of = dict(select_in(db, "SELECT event_id, dossier_id FROM events WHERE event_id", own))
    items: list[dict[str, Any]] = []
    for seq, kind, event_id, from_box, body in rows:
        if kind == "event" and box_id and from_box == box_id:
            items.append({"seq": seq, "type": "own_event", "event_id": event_id, "dossier_id": dossier_of[event_id]})
        elif kind == "event":
            items.append({"seq": seq, "type": "event", "event": bodies[event_id]})
        else:
            items.append({"seq": seq, "type": kind, **json.loads(body)})
    return {"commune_code": commune_code, "head": head, "items": items}


def _now() -> str:
    return iso(datetime.now(TZ))
