"""The dossier event log: every change to a dossier is an event appended here."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils

from edge.calendar import TZ
from edge.errors import ValidationError
from edge.hlc import next_hlc, parse_hlc


@dataclass(frozen=True)
class Event:
    """One fact about one dossier, with who made it, where and when."""

    event_id: str
    dossier_id: str
    kind: str
    payload: Mapping[str, Any]
    actor: str
    origin: str
    wall_time: str
    hlc: str
    seq: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the event as plain JSON-ready data (the sync wire shape)."""
        return {
            "event_id": self.event_id,
            "dossier_id": self.dossier_id,
            "kind": self.kind,
            "payload": dict(self.payload),
            "actor": self.actor,
            "origin": self.origin,
            "wall_time": self.wall_time,
            "hlc": self.hlc,
        }

    def sort_key(self) -> tuple[str, str]:
        """Return the total order used by the fold: clock first, then id."""
        return (self.hlc, self.event_id)


def iso(moment: datetime) -> str:
    """Format a moment as ISO 8601 in Vietnam time (+07:00), to the second."""
    return moment.astimezone(TZ).isoformat(timespec="seconds")


def now_iso() -> str:
    """Return the local wall time as ISO 8601 with the +07:00 offset."""
    return iso(datetime.now(TZ))


def new_event(
    db: sqlite_utils.Database,
    dossier_id: str,
    kind: str,
    payload: Mapping[str, Any],
    *,
    actor: str,
    origin: str,
    wall_time: str | None = None,
) -> Event:
    """Make a local event stamped after every event already in the log (call inside write())."""
    row = db.execute("SELECT max(hlc) FROM dossier_events").fetchone()
    return Event(
        event_id=str(uuid.uuid4()),
        dossier_id=dossier_id,
        kind=kind,
        payload=dict(payload),
        actor=actor,
        origin=origin,
        wall_time=wall_time or now_iso(),
        hlc=next_hlc(row[0] if row else None),
    )


def append(db: sqlite_utils.Database, event: Event) -> bool:
    """Store an event unless its id is already stored; return whether it was new."""
    try:
        db.execute(
            "INSERT INTO dossier_events"
            " (event_id, dossier_id, kind, payload, actor, origin, wall_time, hlc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                event.event_id,
                event.dossier_id,
                event.kind,
                json.dumps(event.payload, ensure_ascii=False, sort_keys=True),
                event.actor,
                event.origin,
                event.wall_time,
                event.hlc,
            ],
        )
    except sqlite3.IntegrityError:
        return False
    return True


def record(db: sqlite_utils.Database, event: Event) -> None:
    """Store an event made on this box and queue it for the hub, in the caller's transaction."""
    if not append(db, event):
        raise ValueError(f"event {event.event_id} is already stored")
    db.execute(
        "INSERT INTO outbox (seq, event_id, queued_at) SELECT seq, event_id, ? FROM dossier_events WHERE event_id = ?",
        [event.wall_time, event.event_id],
    )


def _from_row(row: sqlite3.Row | tuple[Any, ...]) -> Event:
    seq, event_id, dossier_id, kind, payload, actor, origin, wall_time, hlc = row
    return Event(event_id, dossier_id, kind, json.loads(payload), actor, origin, wall_time, hlc, seq)


_COLUMNS = "seq, event_id, dossier_id, kind, payload, actor, origin, wall_time, hlc"


def events_of(db: sqlite_utils.Database, dossier_id: str) -> list[Event]:
    """Return a dossier's events in fold order."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM dossier_events WHERE dossier_id = ? ORDER BY hlc, event_id",
        [dossier_id],
    ).fetchall()
    return [_from_row(r) for r in rows]


def all_dossier_ids(db: sqlite_utils.Database) -> Iterable[str]:
    """Yield every dossier id that has events, oldest first."""
    rows = db.execute("SELECT dossier_id FROM dossier_events GROUP BY dossier_id ORDER BY min(hlc), dossier_id")
    for (dossier_id,) in rows:
        yield dossier_id


def event_from_wire(data: object, index: int = 0) -> Event:
    """Validate an event received from another origin (sync) and build it."""
    where = f"events[{index}]"

    def bad(what: str) -> ValidationError:
        return ValidationError(
            f"Sự kiện {where} không hợp lệ: {what}.",
            f"Event {where} is invalid: {what}.",
            code="invalid_event",
            field=where,
        )

    if not isinstance(data, dict):
        raise bad("không phải đối tượng JSON / not an object")
    text_keys = ("event_id", "dossier_id", "kind", "actor", "origin", "wall_time", "hlc")
    for key in text_keys:
        if not isinstance(data.get(key), str) or not data[key]:
            raise bad(key)
    if not isinstance(data.get("payload"), dict):
        raise bad("payload")
    try:
        uuid.UUID(data["event_id"])
        parse_hlc(data["hlc"])
        datetime.fromisoformat(data["wall_time"])
    except ValueError as err:
        raise bad(str(err)) from err
    return Event(**{k: data[k] for k in (*text_keys[:3], "payload", *text_keys[3:])})
