"""Office events: the counter's closed queue tickets and citizens' ratings, on their way to the hub.

Tickets and ratings are not dossier events: the queue and the keypad write their own tables. This
module reads those tables and queues, in office_outbox, one event per ticket that reached a final
state (done or no-show: it never changes again) and one per rating. `collect` runs before each
push; one IMMEDIATE transaction queues what is new and moves a cursor per table (office_cursors),
so an item is queued exactly once, a crash loses nothing (what was not queued is found again), and
each pass reads only the rows past the cursor. An event's id is a UUID5 of the box and the item, so
the same item always has the same id and the hub stores it once however often it is sent.

Rows stay in office_outbox after the hub confirmed them (sent_at set): the pair (kind, item_id) is
what says an item was queued already.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from edge.events import now_iso
from edge.store.db import write

KINDS = ("ticket_closed", "rating")
FINAL_STATES = ("done", "no_show")
# Fixed for ever: event ids are uuid5(NAMESPACE, "<box id>/<kind>/<item id>").
NAMESPACE = uuid.UUID("5f0c8a52-3f7e-4d0b-9a43-7d2f1c6e8b91")


@dataclass(frozen=True)
class OfficeEvent:
    """One office fact for the hub: a ticket closed or a rating given."""

    event_id: str
    kind: str
    at: str
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return the event as the office batch carries it (PROTOCOL.md)."""
        return {"event_id": self.event_id, "kind": self.kind, "at": self.at, "payload": dict(self.payload)}


@dataclass(frozen=True)
class OfficeStatus:
    """How many office events wait for the hub, and how many of those it refused."""

    waiting: int
    refused: int


@dataclass(frozen=True)
class Refusal:
    """An office event the hub refused, with its reason."""

    event_id: str
    code: str
    message: str


def event_id_for(box_id: str, kind: str, item_id: str) -> str:
    """Return the stable event id of an item of this box."""
    return str(uuid.uuid5(NAMESPACE, f"{box_id}/{kind}/{item_id}"))


def _seconds(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    return max(0, round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()))


_TICKETS = (
    "SELECT t.rowid, t.id, t.day, t.service, t.number, t.priority, t.weight, t.state, t.issued_at, t.called_at,"
    " t.started_at, t.finished_at, t.counter, t.officer, t.calls, d.code"
    " FROM queue_tickets t LEFT JOIN dossiers d ON d.dossier_id = t.dossier_id"
    " WHERE t.rowid >= ? AND t.state IN ('done', 'no_show')"
    " AND NOT EXISTS (SELECT 1 FROM office_outbox o WHERE o.kind = 'ticket_closed' AND o.item_id = t.id)"
    " ORDER BY t.rowid"
)
_RATINGS = (
    "SELECT r.rowid, r.id, r.level, r.scale, r.counter, r.officer, t.number, d.code, r.source, r.at"
    " FROM ratings r LEFT JOIN queue_tickets t ON t.id = r.ticket LEFT JOIN dossiers d ON d.dossier_id = r.dossier_id"
    " WHERE r.rowid > ?"
    " AND NOT EXISTS (SELECT 1 FROM office_outbox o WHERE o.kind = 'rating' AND o.item_id = r.id)"
    " ORDER BY r.rowid"
)


def _ticket_event(row: tuple[Any, ...]) -> tuple[str, str, dict[str, Any]]:
    """Return (item id, at, payload) of a closed ticket."""
    _, item_id, day, service, number, priority, weight, state, issued, called, started, finished, counter = row[:13]
    officer, calls, dossier_code = row[13:]
    payload = {
        "number": number, "service": service, "priority": priority, "weight": weight, "state": state, "day": day,
        "issued_at": issued, "called_at": called, "started_at": started, "finished_at": finished,
        "counter": counter, "officer": officer, "calls": calls, "dossier_code": dossier_code,
        "waiting_s": _seconds(issued, called),
        "service_s": _seconds(started, finished) if state == "done" else None,
    }  # fmt: skip
    return item_id, finished or called or issued, payload


def _rating_event(row: tuple[Any, ...]) -> tuple[str, str, dict[str, Any]]:
    """Return (item id, at, payload) of a rating."""
    _, item_id, level, scale, counter, officer, ticket, dossier_code, source, at = row
    payload = {
        "level": level, "scale": scale, "counter": counter, "officer": officer, "ticket": ticket,
        "dossier_code": dossier_code, "source": source, "at": at,
    }  # fmt: skip
    return item_id, at, payload


def _cursor(db: sqlite_utils.Database, source: str) -> int:
    row = db.execute("SELECT position FROM office_cursors WHERE source = ?", [source]).fetchone()
    return int(row[0]) if row else 0


def _move(db: sqlite_utils.Database, source: str, position: int) -> None:
    db.execute(
        "INSERT INTO office_cursors (source, position) VALUES (?, ?)"
        " ON CONFLICT (source) DO UPDATE SET position = excluded.position",
        [source, position],
    )


def collect(db: sqlite_utils.Database, box_id: str) -> int:
    """Queue every closed ticket and every rating not queued yet, in one transaction; return how many."""
    queued = 0
    with write(db):
        now = now_iso()
        start = _cursor(db, "queue_tickets")
        rows = db.execute(_TICKETS, [start]).fetchall()
        queued += _queue(db, box_id, "ticket_closed", map(_ticket_event, rows), now)
        # Every ticket before the oldest still open is final and now queued: the next pass starts there.
        row = db.execute(
            "SELECT min(rowid) FROM queue_tickets WHERE rowid >= ? AND state NOT IN ('done', 'no_show')", [start]
        ).fetchone()
        last = db.execute("SELECT coalesce(max(rowid), 0) FROM queue_tickets").fetchone()[0]
        _move(db, "queue_tickets", int(row[0]) if row[0] is not None else int(last) + 1)
        rows = db.execute(_RATINGS, [_cursor(db, "ratings")]).fetchall()
        queued += _queue(db, box_id, "rating", map(_rating_event, rows), now)
        if rows:
            _move(db, "ratings", int(rows[-1][0]))
    return queued


def _queue(
    db: sqlite_utils.Database, box_id: str, kind: str, items: Iterable[tuple[str, str, dict[str, Any]]], now: str
) -> int:
    count = 0
    for item_id, at, payload in items:
        count += db.execute(
            "INSERT INTO office_outbox (event_id, kind, item_id, at, payload, queued_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [
                event_id_for(box_id, kind, item_id),
                kind,
                item_id,
                at,
                json.dumps(payload, ensure_ascii=False, sort_keys=True),
                now,
            ],
        ).rowcount
    return count


def pending(db: sqlite_utils.Database, limit: int = 500) -> list[OfficeEvent]:
    """Return queued office events the hub has neither confirmed nor refused, oldest first."""
    rows = db.execute(
        "SELECT event_id, kind, at, payload FROM office_outbox WHERE sent_at IS NULL AND error_code IS NULL"
        " ORDER BY queued_at, rowid LIMIT ?",
        [limit],
    ).fetchall()
    return [OfficeEvent(event_id, kind, at, json.loads(payload)) for event_id, kind, at, payload in rows]


def settle(db: sqlite_utils.Database, event_ids: Iterable[str], refusals: Iterable[Refusal]) -> tuple[int, int]:
    """Apply one hub answer in one transaction: mark the confirmed events sent, the refused ones refused."""
    confirmed = refused = 0
    with write(db):
        now = now_iso()
        for event_id in event_ids:
            confirmed += db.execute(
                "UPDATE office_outbox SET sent_at = ?, error_code = NULL, error_message = NULL"
                " WHERE event_id = ? AND sent_at IS NULL",
                [now, event_id],
            ).rowcount
        for item in refusals:
            refused += db.execute(
                "UPDATE office_outbox SET attempts = attempts + 1, error_code = ?, error_message = ?, failed_at = ?"
                " WHERE event_id = ? AND sent_at IS NULL",
                [item.code, item.message[:1000], now, item.event_id],
            ).rowcount
    return confirmed, refused


def refused(db: sqlite_utils.Database) -> list[dict[str, object]]:
    """Return the office events the hub refused, with its reasons, oldest first."""
    rows = db.execute(
        "SELECT event_id, kind, item_id, error_code, error_message, failed_at, attempts FROM office_outbox"
        " WHERE sent_at IS NULL AND error_code IS NOT NULL ORDER BY queued_at, rowid"
    ).fetchall()
    keys = ("event_id", "kind", "item_id", "code", "message", "failed_at", "attempts")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def retry_refused(db: sqlite_utils.Database) -> int:
    """Send refused office events again on the next push (after the cause was fixed)."""
    with write(db):
        return int(
            db.execute(
                "UPDATE office_outbox SET error_code = NULL, error_message = NULL"
                " WHERE sent_at IS NULL AND error_code IS NOT NULL"
            ).rowcount
        )


def status(db: sqlite_utils.Database) -> OfficeStatus:
    """Return how many office events wait for the hub (refused ones included) and how many were refused."""
    waiting, refused_count = db.execute(
        "SELECT count(*), count(*) FILTER (WHERE error_code IS NOT NULL) FROM office_outbox WHERE sent_at IS NULL"
    ).fetchone()
    return OfficeStatus(int(waiting), int(refused_count))
