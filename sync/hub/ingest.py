"""Storing events at the hub: the one way events get in, from a box's push or an online filing.

A call is one transaction that first holds the commune's row. That serialises writers of one
commune (their feed numbers follow commit order, and two batches carrying the same event cannot
both think it new) while other communes go on in parallel. Every step is batched: one query for
the ids already held and the dossiers' communes, one insert for the events, one for the feed
rows, one read of the touched dossiers' events, one upsert of their projections.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from edge.errors import NotFoundError, ValidationError
from edge.events import Event, event_from_wire
from edge.lifecycle import fold
from sync.hub.bulk import dumps, insert_many, pg_array, select_in
from sync.hub.db import HubDB
from sync.hub.feed import FeedRow, append_items, ensure_commune, lock_head
from sync.protocol import Rejection

_EVENT_COLUMNS = "event_id, dossier_id, kind, payload, actor, origin, wall_time, hlc"
_STORE_COLUMNS = ("commune_code", "from_box", "received_at", "digest")
_DOSSIER_COLUMNS = (
    ("dossier_id", "text"), ("commune_code", "text"), ("code", "text"), ("status", "text"),
    ("conflict", "integer"), ("updated_at", "text"), ("version", "bigint"),
)  # fmt: skip
_DOSSIER_UPSERT = (
    "ON CONFLICT (dossier_id) DO UPDATE SET code = excluded.code, status = excluded.status,"
    " conflict = excluded.conflict, updated_at = excluded.updated_at,"
    " version = excluded.version WHERE dossiers.commune_code = excluded.commune_code"
)
# One statement on PostgreSQL: drop codes other dossiers hold, upsert, then mark the upserted rows
# that have a code for forwarding (a row the commune check skipped is not returned, so not marked);
# append the stored events to the commune's feed after the head the caller holds, and move the head.
_PG_UPSERT = (
    "WITH v (dossier_id, commune_code, code, status, conflict, updated_at, version) AS"
    " (SELECT * FROM unnest({arrays})),"
    " up AS (INSERT INTO dossiers (dossier_id, commune_code, code, status, conflict, updated_at, version)"
    " SELECT v.dossier_id, v.commune_code, CASE WHEN EXISTS (SELECT 1 FROM dossiers o"
    " WHERE o.code = v.code AND o.dossier_id <> v.dossier_id) THEN NULL ELSE v.code END,"
    f" v.status, v.conflict, v.updated_at, v.version FROM v {_DOSSIER_UPSERT}"
    " RETURNING dossier_id, code, version),"
    " fw AS (INSERT INTO forwards (dossier_id, code, wanted_version) SELECT * FROM up WHERE code IS NOT NULL"
    " ON CONFLICT (dossier_id) DO UPDATE SET code = excluded.code, wanted_version = excluded.wanted_version),"
    " f AS (INSERT INTO feed (commune_code, seq, type, event_id, from_box, body, created_at)"
    " SELECT ?, ?::bigint + u.n, 'event', u.id, ?::text, NULL, ? FROM unnest(%t::text[]) WITH ORDINALITY AS u (id, n))"
    " UPDATE communes SET feed_seq = ? WHERE commune_code = ?"
)


class _Feed(NamedTuple):
    """The feed rows one call appends: its stored events, numbered after the head it holds."""

    commune_code: str
    head: int
    event_ids: list[str]
    from_box: str | None
    now_iso: str


@dataclass(frozen=True)
class IngestResult:
    """What became of each event: stored now, held before with the same content, or refused."""

    accepted: list[str] = field(default_factory=list)
    already_held: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class _Incoming:
    """A parsed event with its payload's stored JSON and its digest, each computed once."""

    event: Event
    payload: str
    digest: str


def _incoming(event: Event) -> _Incoming:
    """Return the event with its digest: SHA-256 over its length-prefixed fields, then its payload's JSON."""
    e = event
    payload = dumps(e.payload if isinstance(e.payload, dict) else dict(e.payload))
    text = (
        f"{len(e.event_id)}:{e.event_id}{len(e.dossier_id)}:{e.dossier_id}{len(e.kind)}:{e.kind}"
        f"{len(e.actor)}:{e.actor}{len(e.origin)}:{e.origin}{len(e.wall_time)}:{e.wall_time}{len(e.hlc)}:{e.hlc}"
    )
    return _Incoming(e, payload, hashlib.sha256((text + payload).encode("utf-8")).hexdigest())


def _wire_row(item: _Incoming) -> tuple[str, ...]:
    """Return the event's columns in _EVENT_COLUMNS order."""
    e = item.event
    return (e.event_id, e.dossier_id, e.kind, item.payload, e.actor, e.origin, e.wall_time, e.hlc)


def _parse(events: Sequence[Event | object]) -> tuple[list[Event], list[Rejection]]:
    """Build the events that are well formed; the others are rejected as malformed_event.

    Event objects were checked where they were made (the push endpoint's batch decoder checks more
    than event_from_wire does), so only raw dicts are checked here.
    """
    good: list[Event] = []
    rejected: list[Rejection] = []
    seen: set[str] = set()
    for index, raw in enumerate(events):
        event_id = raw.event_id if isinstance(raw, Event) else raw.get("event_id") if isinstance(raw, dict) else None
        if isinstance(event_id, str) and event_id in seen:
            raise ValidationError(
                f"Sự kiện {event_id} xuất hiện hai lần trong cùng một lô.",
                f"Event {event_id} appears twice in one batch.",
                code="duplicate_event",
                field=f"events[{index}]",
            )
        if isinstance(event_id, str):
            seen.add(event_id)
        if isinstance(raw, Event):
            good.append(raw)
            continue
        try:
            good.append(event_from_wire(raw, index))
        except ValidationError as err:
            rejected.append(Rejection(str(event_id), "malformed_event", err.en))
    return good, rejected


# PostgreSQL: both lookups of _held_and_known in one round trip (a dossier row's version is never NULL).
_PG_HELD_AND_KNOWN = (
    "SELECT event_id, digest, NULL::bigint, NULL FROM events WHERE event_id = ANY(%t::text[])"
    " UNION ALL SELECT dossier_id, commune_code, version, code FROM dossiers WHERE dossier_id = ANY(%t::text[])"
)


def _held_and_known(
    db: HubDB, event_ids: list[str], dossier_ids: list[str]
) -> tuple[dict[str, str], dict[str, tuple[str, int, str | None]]]:
    """Return {event_id: digest} for the ids the hub already holds, and {dossier_id: (commune_code,
    version, code)} for the dossiers it knows."""
    if db.kind == "postgresql":
        rows = db.query(_PG_HELD_AND_KNOWN, [pg_array(event_ids), pg_array(dossier_ids)]) if event_ids else []
        held = {r[0]: r[1] for r in rows if r[2] is None}
        known = {r[0]: (r[1], int(r[2]), r[3]) for r in rows if r[2] is not None}
        return held, known
    held = dict(select_in(db, "SELECT event_id, digest FROM events WHERE event_id", event_ids))
    rows = select_in(db, "SELECT dossier_id, commune_code, version, code FROM dossiers WHERE dossier_id", dossier_ids)
    return held, {r[0]: (r[1], int(r[2]), r[3]) for r in rows}


def _events_of(db: HubDB, dossier_ids: list[str]) -> dict[str, list[Event]]:
    """Return every stored event of the given dossiers."""
    out: dict[str, list[Event]] = defaultdict(list)
    for event_id, dossier_id, kind, payload, actor, origin, wall, hlc in select_in(
        db, f"SELECT {_EVENT_COLUMNS} FROM events WHERE dossier_id", dossier_ids
    ):
        out[dossier_id].append(Event(event_id, dossier_id, kind, json.loads(payload), actor, origin, wall, hlc))
    return out


def _codes_taken(db: HubDB, codes: list[str]) -> dict[str, str]:
    """Return {code: dossier_id} for dossier codes already held."""
    return dict(select_in(db, "SELECT code, dossier_id FROM dossiers WHERE code", codes))


def _wrong_commune(event: Event, owner: str) -> Rejection:
    return Rejection(
        event.event_id,
        "wrong_commune",
        f"Dossier {event.dossier_id} belongs to commune {owner} at the hub.",
    )


def _classify(
    db: HubDB, events: list[Event], commune_code: str
) -> tuple[list[_Incoming], list[str], list[Rejection], dict[str, tuple[str, int, str | None]]]:
    """Split parsed events into new ones, already held, and refused; return the known dossiers too.

    The known dossiers are those of every event in the call (a superset of what the new ones need).
    """
    held, known = _held_and_known(db, [e.event_id for e in events], sorted({e.dossier_id for e in events}))
    fresh: list[_Incoming] = []
    already: list[str] = []
    rejected: list[Rejection] = []
    for item in map(_incoming, events):
        event_id = item.event.event_id
        if event_id not in held:
            fresh.append(item)
        elif held[event_id] == item.digest:
            already.append(event_id)
        else:
            rejected.append(Rejection(event_id, "event_id_conflict", "The hub holds another event with this event_id."))
    storable: list[_Incoming] = []
    for item in fresh:
        owner = known.get(item.event.dossier_id, (commune_code,))[0]
        if owner != commune_code:
            rejected.append(_wrong_commune(item.event, owner))
        else:
            storable.append(item)
    return storable, already, rejected, known


def _refold(
    db: HubDB,
    stored: list[_Incoming],
    known: dict[str, tuple[str, int, str | None]],
    commune_code: str,
    now_iso: str,
    feed: _Feed,
) -> None:
    """Refold each touched dossier from all its events; upsert its row and forward marker; append the feed.

    The row keeps what the hub searches and counts by (code, status, conflict, version); the
    whole state is folded again when someone reads the dossier (records.find_dossier).

    A dossier the hub did not know has no events but these, so only known ones are read back.
    """
    by_dossier = _events_of(db, [d for d in dict.fromkeys(i.event.dossier_id for i in stored) if d in known])
    for item in stored:
        if item.event.dossier_id not in known:
            by_dossier[item.event.dossier_id].append(item.event)
    dossier_ids = list(dict.fromkeys(i.event.dossier_id for i in stored))
    # The events were decoded or read for this call alone, and their JSON is already made: no copy.
    states = {d: fold(by_dossier[d], owned=True) for d in dossier_ids}
    wanted = [s["code"] for s in states.values() if s and isinstance(s.get("code"), str)]
    if db.kind == "postgresql":  # the upsert statement checks each code; only a batch's repeats are read here
        wanted = [code for code, n in Counter(wanted).items() if n > 1]
    taken = _codes_taken(db, wanted)
    projections: list[tuple[Any, ...]] = []
    for dossier_id in dossier_ids:
        state = states[dossier_id]
        code = state.get("code") if state else None
        if not isinstance(code, str) or taken.setdefault(code, dossier_id) != dossier_id:
            code = None  # a code another dossier holds stays in the state, never in the unique column
        projections.append(
            (
                dossier_id,
                commune_code,
                code,
                state["status"] if state else None,
                int(bool(state and state.get("conflict"))),
                now_iso,
                known[dossier_id][1] + 1 if dossier_id in known else 1,
            )
        )
    _upsert_dossiers(db, projections, feed)


def _upsert_dossiers(db: HubDB, projections: list[tuple[Any, ...]], feed: _Feed) -> None:
    """Upsert the dossiers' rows (codes already checked, see _refold) and their forward markers; append the feed.

    On PostgreSQL this is one statement that also leaves out a code another dossier holds.
    """
    if db.kind == "postgresql":
        arrays = ", ".join(f"%t::{kind}[]" for _, kind in _DOSSIER_COLUMNS)
        db.execute(
            _PG_UPSERT.format(arrays=arrays),
            [
                *(pg_array([row[i] for row in projections]) for i in range(7)),
                feed.commune_code, feed.head, feed.from_box, feed.now_iso, pg_array(feed.event_ids),
                feed.head + len(feed.event_ids), feed.commune_code,
            ],
        )  # fmt: skip
        return
    rows: list[FeedRow] = [("event", event_id, feed.from_box, None) for event_id in feed.event_ids]
    append_items(db, feed.commune_code, rows, feed.now_iso, feed.head)
    insert_many(db, "dossiers", _DOSSIER_COLUMNS, projections, _DOSSIER_UPSERT)
    insert_many(
        db,
        "forwards",
        (("dossier_id", "text"), ("code", "text"), ("wanted_version", "bigint")),
        [(row[0], row[2], row[6]) for row in projections if row[2] is not None],
        "ON CONFLICT (dossier_id) DO UPDATE SET code = excluded.code, wanted_version = excluded.wanted_version",
    )


def ingest_events(
    db: HubDB, events: Sequence[Event | dict[str, Any]], *, commune_code: str, from_box: str | None, now_iso: str
) -> IngestResult:
    """Store events for a commune in one transaction; say which were stored, held already, or refused.

    A dossier's first event fixes its commune. Duplicate event ids within one call raise
    ValidationError before anything is stored. The events are handed over: folding may share and
    change their payloads, so the caller must not use them afterwards.
    """
    parsed, rejected = _parse(events)
    with db.transaction():
        # Held until commit: the commune's writers go one at a time (see the module docstring).
        head = lock_head(db, commune_code)
        if head is None:
            ensure_commune(db, commune_code, now_iso)
            head = lock_head(db, commune_code)
        if head is None:  # as append_items says it: the commune vanished after ensure_commune
            raise NotFoundError(f"Không có xã {commune_code}.", f"No commune {commune_code}.", code="unknown_commune")
        storable, already, refused, known = _classify(db, parsed, commune_code)
        if storable:
            insert_many(
                db,
                "events",
                [(name, "text") for name in (*_EVENT_COLUMNS.split(", "), *_STORE_COLUMNS)],
                [(*_wire_row(i), commune_code, from_box, now_iso, i.digest) for i in storable],
            )
            feed = _Feed(commune_code, head, [i.event.event_id for i in storable], from_box, now_iso)
            _refold(db, storable, known, commune_code, now_iso, feed)
    return IngestResult(
        accepted=[i.event.event_id for i in storable], already_held=already, rejected=[*rejected, *refused]
    )
