"""The sync outbox: this box's events and scans waiting for the hub to confirm them.

Every event made here is queued in the same transaction that stores it (`events.record`);
events that came from elsewhere are not. The sync client reads the queue in log order, and
marks what the hub confirmed in one transaction. An event the hub refuses stays queued with
the reason, is shown, and is tried again after a fix (`retry_refused`); it never blocks the
events behind it and is never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from edge.events import Event, now_iso
from edge.store.db import write

_COLUMNS = "e.seq, e.event_id, e.dossier_id, e.kind, e.payload, e.actor, e.origin, e.wall_time, e.hlc"


@dataclass(frozen=True)
class OutboxStatus:
    """How much is waiting for the hub (the heartbeat and the status strip read this)."""

    events: int
    bytes: int
    oldest_queued_at: str | None
    refused: int
    blobs: int


@dataclass(frozen=True)
class Refusal:
    """An event the hub refused, with its reason."""

    event_id: str
    code: str
    message: str


def pending_events(db: sqlite_utils.Database, limit: int = 500) -> list[Event]:
    """Return queued events not refused by the hub, in log order."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM outbox o JOIN dossier_events e ON e.seq = o.seq"
        " WHERE o.error_code IS NULL ORDER BY o.seq LIMIT ?",
        [limit],
    ).fetchall()
    return [
        Event(event_id, dossier_id, kind, json.loads(payload), actor, origin, wall_time, hlc, seq)
        for seq, event_id, dossier_id, kind, payload, actor, origin, wall_time, hlc in rows
    ]


def acknowledge(db: sqlite_utils.Database, event_ids: Iterable[str]) -> int:
    """Remove the events the hub confirmed (stored now or held already), in one transaction."""
    with write(db):
        return _remove(db, event_ids)


def refuse(db: sqlite_utils.Database, refusals: Iterable[Refusal]) -> int:
    """Keep refused events queued with the hub's reason; return how many were marked."""
    with write(db):
        return _mark_refused(db, refusals)


def settle(db: sqlite_utils.Database, event_ids: Iterable[str], refusals: Iterable[Refusal]) -> tuple[int, int]:
    """Apply one hub answer in one transaction: remove the confirmed events, mark the refused ones."""
    with write(db):
        return _remove(db, event_ids), _mark_refused(db, refusals)


def _remove(db: sqlite_utils.Database, event_ids: Iterable[str]) -> int:
    removed = 0
    for event_id in event_ids:
        removed += db.execute("DELETE FROM outbox WHERE event_id = ?", [event_id]).rowcount
    return removed


def _mark_refused(db: sqlite_utils.Database, refusals: Iterable[Refusal]) -> int:
    marked = 0
    for item in refusals:
        marked += db.execute(
            "UPDATE outbox SET attempts = attempts + 1, error_code = ?, error_message = ?, failed_at = ?"
            " WHERE event_id = ?",
            [item.code, item.message[:1000], now_iso(), item.event_id],
        ).rowcount
    return marked


def refused(db: sqlite_utils.Database) -> list[dict[str, object]]:
    """Return the refused events with their reasons, oldest first (for the sync page)."""
    rows = db.execute(
        "SELECT o.event_id, e.dossier_id, e.kind, o.error_code, o.error_message, o.failed_at, o.attempts"
        " FROM outbox o JOIN dossier_events e ON e.seq = o.seq WHERE o.error_code IS NOT NULL ORDER BY o.seq"
    ).fetchall()
    keys = ("event_id", "dossier_id", "kind", "code", "message", "failed_at", "attempts")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def retry_refused(db: sqlite_utils.Database) -> int:
    """Send refused events again on the next push (after the cause was fixed)."""
    with write(db):
        return int(
            db.execute(
                "UPDATE outbox SET error_code = NULL, error_message = NULL WHERE error_code IS NOT NULL"
            ).rowcount
        )


def pending_blobs(db: sqlite_utils.Database, limit: int = 100) -> list[str]:
    """Return the hashes of scans the hub has not confirmed, oldest first."""
    rows = db.execute("SELECT sha256 FROM blob_outbox ORDER BY queued_at, sha256 LIMIT ?", [limit]).fetchall()
    return [row[0] for row in rows]


def blob_confirmed(db: sqlite_utils.Database, sha256: str) -> None:
    """Mark a scan as held by the hub (its whole hash checked there)."""
    with write(db):
        db.execute("DELETE FROM blob_outbox WHERE sha256 = ?", [sha256])


def status(db: sqlite_utils.Database) -> OutboxStatus:
    """Return what is waiting for the hub."""
    events, size, oldest, refused_count = db.execute(
        "SELECT count(*), coalesce(sum(length(e.payload)), 0), min(o.queued_at),"
        " count(*) FILTER (WHERE o.error_code IS NOT NULL)"
        " FROM outbox o JOIN dossier_events e ON e.seq = o.seq"
    ).fetchone()
    blobs = db.execute("SELECT count(*) FROM blob_outbox").fetchone()[0]
    return OutboxStatus(int(events), int(size), oldest, int(refused_count), int(blobs))


def dossier_synced(db: sqlite_utils.Database, dossier_id: str) -> bool:
    """Return whether the hub holds every event and every scan of a dossier."""
    waiting = db.execute(
        "SELECT 1 FROM outbox o JOIN dossier_events e ON e.seq = o.seq WHERE e.dossier_id = ? LIMIT 1",
        [dossier_id],
    ).fetchone()
    if waiting:
        return False
    scans = db.execute(
        "SELECT 1 FROM dossier_events e JOIN blob_outbox b ON b.sha256 = json_extract(e.payload, '$.sha256')"
        " WHERE e.dossier_id = ? AND e.kind = 'attachment_added' LIMIT 1",
        [dossier_id],
    ).fetchone()
    return scans is None
