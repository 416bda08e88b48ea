"""Applying events made elsewhere (the hub, another box): idempotent, then refolded.

`apply_feed` applies one page of the commune feed the hub serves (events, catalogue and calendar
updates) and moves the feed cursor in the same transaction, so a crash never skips or half-applies
a page: re-reading it is harmless because every item applies idempotently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlite_utils

from edge import audit, events, projection, syncstate
from edge.box import Box
from edge.calendar import TZ
from edge.catalogue import Procedure, parse_procedure
from edge.errors import ValidationError
from edge.events import Event, event_from_wire
from edge.procedures import store_procedures
from edge.store.db import write
from edge.text import clean_free_text

FEED_ITEM_TYPES = frozenset({"event", "own_event", "catalogue", "calendar"})


def apply_events(box: Box, incoming: Iterable[object], source: str = "sync") -> dict[str, int]:
    """Store events from another origin once each and refold the dossiers they touch."""
    parsed: list[Event] = [event_from_wire(item, i) for i, item in enumerate(incoming)]
    db = box.db()
    with write(db):
        return _store_events(db, parsed, source)


def _store_events(db: sqlite_utils.Database, parsed: Sequence[Event], source: str) -> dict[str, int]:
    """Append events (duplicates are skipped) and refold what they touch, in the caller's transaction."""
    applied = 0
    touched: set[str] = set()
    for event in parsed:
        if events.append(db, event):
            applied += 1
            touched.add(event.dossier_id)
    flagged = 0
    for dossier_id in sorted(touched):
        state = projection.refold(db, dossier_id)
        if state is not None and state["conflict"]:
            flagged += 1
    if applied:
        audit.record(db, source, "events_applied", detail={"applied": applied, "dossiers": len(touched)})
    return {"received": len(parsed), "applied": applied, "duplicates": len(parsed) - applied, "conflicts": flagged}


def _bad_item(index: int, vi: str, en: str) -> ValidationError:
    return ValidationError(
        f"Mục {index} của luồng thay đổi không hợp lệ: {vi}.",
        f"Feed item {index} is invalid: {en}.",
        code="invalid_feed_item",
        field=f"items[{index}]",
    )


def _calendar_days(item: Mapping[str, Any], index: int) -> list[tuple[str, bool, str]]:
    days = item.get("days")
    if not isinstance(days, list):
        raise _bad_item(index, "days phải là danh sách", "days must be a list")
    out = []
    for entry in days:
        if not isinstance(entry, dict) or not isinstance(entry.get("working"), bool):
            raise _bad_item(index, "mỗi ngày cần day và working", "each day needs day and working")
        try:
            day = date.fromisoformat(str(entry.get("day")))
        except ValueError as err:
            raise _bad_item(index, "ngày sai định dạng", "a day is malformed") from err
        note = clean_free_text(entry.get("note") or "", f"items[{index}].note", max_len=200, required=False)
        out.append((day.isoformat(), bool(entry["working"]), note))
    return out


def _parse_feed(items: Sequence[Mapping[str, Any]]) -> tuple[list[Event], list[Procedure], list[tuple[str, bool, str]]]:
    """Validate a page of feed items before anything is written."""
    incoming: list[Event] = []
    procedures: list[Procedure] = []
    days: list[tuple[str, bool, str]] = []
    for index, item in enumerate(items):
        kind = item.get("type") if isinstance(item, Mapping) else None
        if kind not in FEED_ITEM_TYPES:
            raise _bad_item(index, f"loại mục lạ {kind!r}", f"unknown item type {kind!r}")
        if kind == "event":
            incoming.append(event_from_wire(item.get("event"), index))
        elif kind == "catalogue":
            records = item.get("procedures")
            if not isinstance(records, list):
                raise _bad_item(index, "procedures phải là danh sách", "procedures must be a list")
            procedures += [parse_procedure(r, f"items[{index}].procedures[{i}]") for i, r in enumerate(records)]
        elif kind == "calendar":
            days += _calendar_days(item, index)
    return incoming, procedures, days


def apply_feed(box: Box, items: Sequence[Mapping[str, Any]], *, cursor_key: str, new_cursor: int) -> dict[str, int]:
    """Apply one page of the hub's commune feed and store the new cursor, in one transaction.

    "event" items are appended (idempotently) and their dossiers refolded; "catalogue" items
    replace procedures (actor "hub"); "calendar" items set working days and days off (source
    "hub"); "own_event" items are this box's own events (the caller checks they are held).
    """
    incoming, procedures, days = _parse_feed(items)
    db = box.db()
    with write(db):
        counts = _store_events(db, incoming, "hub")
        if procedures:
            store_procedures(db, procedures, actor="hub")
        stamp = datetime.now(TZ).isoformat()
        for day, working, note in days:
            db.execute(
                "INSERT INTO calendar_overrides (day, working, note, source, updated_at) VALUES (?, ?, ?, 'hub', ?)"
                " ON CONFLICT(day) DO UPDATE SET working = excluded.working, note = excluded.note,"
                " source = excluded.source, updated_at = excluded.updated_at",
                [day, int(working), note, stamp],
            )
        if days:
            audit.record(db, "hub", "calendar_updated", detail={"days": len(days)})
        syncstate.put(db, cursor_key, int(new_cursor))
    return {**counts, "procedures": len(procedures), "calendar_days": len(days), "items": len(items)}


def missing_events(box: Box, event_ids: Iterable[str]) -> list[str]:
    """Return which of the given event ids this box does not hold."""
    db = box.db()
    return [
        event_id
        for event_id in event_ids
        if db.execute("SELECT 1 FROM dossier_events WHERE event_id = ?", [event_id]).fetchone() is None
    ]


def reset_feed(box: Box, cursor_key: str, reason: Mapping[str, Any]) -> None:
    """Record a feed repair (audit "feed_repair") and move the cursor back to 0, in one transaction."""
    db = box.db()
    with write(db):
        audit.record(db, "sync", "feed_repair", target=cursor_key, detail=reason)
        syncstate.put(db, cursor_key, 0)
