"""Storing office events at the hub: boxes' closed queue tickets and ratings (PROTOCOL.md).

Office events are facts of a commune's counter, not of a dossier: nothing folds them; they are kept
as they came, idempotently by event id, for the counter reports (sync.hub.counterreport). A call is
one transaction. New events go in with ON CONFLICT DO NOTHING and are then read back, so two hub
processes storing the same event at once both answer correctly: the one whose row is there with the
same content calls it stored, and a different content under the same id is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from edge.calendar import TZ
from sync.hub.bulk import dumps, insert_many, select_in
from sync.hub.db import HubDB
from sync.protocol import Rejection
from sync.protocol.office import parse_moment

_COLUMNS = (
    ("event_id", "text"), ("commune_code", "text"), ("box_id", "text"), ("kind", "text"), ("day", "text"),
    ("at", "text"), ("payload", "text"), ("digest", "text"), ("received_at", "text"),
)  # fmt: skip


@dataclass(frozen=True)
class OfficeResult:
    """What became of each office event: stored now, held before with the same content, or refused."""

    accepted: list[str] = field(default_factory=list)
    already_held: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def digest(event: dict[str, Any]) -> str:
    """Return the SHA-256 of an office event's content (its id, kind, moment and payload)."""
    body = dumps({k: event[k] for k in ("event_id", "kind", "at", "payload")})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def event_day(event: dict[str, Any]) -> str:
    """Return the day an office event counts for: a ticket's day of issue, else the local date of its moment."""
    if event["kind"] == "ticket_closed":
        return str(event["payload"]["day"])
    moment = parse_moment(str(event["at"]))
    if moment is None:
        raise ValueError(f"office event {event['event_id']} has no valid moment")
    return moment.astimezone(TZ).date().isoformat()


def _held(db: HubDB, ids: list[str]) -> dict[str, tuple[str, str]]:
    """Return {event_id: (digest, commune_code)} for the ids the hub holds."""
    rows = select_in(db, "SELECT event_id, digest, commune_code FROM office_events WHERE event_id", ids)
    return {r[0]: (r[1], r[2]) for r in rows}


def _verdict(event_id: str, ours: str, held: tuple[str, str], commune_code: str) -> Rejection | None:
    stored, owner = held
    if owner != commune_code:
        return Rejection(event_id, "wrong_commune", f"The hub holds this office event for commune {owner}.")
    if stored != ours:
        return Rejection(event_id, "event_id_conflict", "The hub holds another office event with this event_id.")
    return None


def store_office_events(
    db: HubDB, events: Sequence[dict[str, Any]], *, commune_code: str, box_id: str, now_iso: str
) -> OfficeResult:
    """Store checked office events of a commune's box in one transaction; say what became of each."""
    digests = {e["event_id"]: digest(e) for e in events}
    ids = list(digests)
    accepted: list[str] = []
    already: list[str] = []
    rejected: list[Rejection] = []
    with db.transaction():
        before = _held(db, ids)
        fresh = [e for e in events if e["event_id"] not in before]
        rows = [
            (
                e["event_id"], commune_code, box_id, e["kind"], event_day(e), e["at"], dumps(e["payload"]),
                digests[e["event_id"]], now_iso,
            )
            for e in fresh
        ]  # fmt: skip
        insert_many(db, "office_events", _COLUMNS, rows, "ON CONFLICT (event_id) DO NOTHING")
        after = _held(db, [e["event_id"] for e in fresh]) if fresh else {}
    for event_id in ids:
        held = before[event_id] if event_id in before else after[event_id]  # inserted now or by another process
        refusal = _verdict(event_id, digests[event_id], held, commune_code)
        if refusal is not None:
            rejected.append(refusal)
        elif event_id in before:
            already.append(event_id)
        else:
            accepted.append(event_id)
    return OfficeResult(accepted, already, rejected)
