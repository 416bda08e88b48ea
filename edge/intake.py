"""Receiving a dossier: validate what the officer entered, give it a code and a due date."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

import sqlite_utils

from edge import audit, events, projection
from edge.box import Box
from edge.codes import allocate_code
from edge.deadline import compute_due_at
from edge.dossier_fields import check_idempotency_key, parse_filing, procedure_snapshot
from edge.errors import NotFoundError, ValidationError
from edge.lifecycle import fold
from edge.procedures import get_procedure
from edge.store.db import write
from edge.users import User, require


def due_for(box: Box, procedure: dict[str, Any], received_at: datetime) -> datetime:
    """Compute a dossier's due date from its procedure snapshot."""
    cutoff = procedure.get("same_day_cutoff")
    return compute_due_at(
        box.calendar(), received_at, float(procedure["processing_days"]), time.fromisoformat(cutoff) if cutoff else None
    )


def code_for_key(db: sqlite_utils.Database, key: str) -> str | None:
    """Return the code of the dossier an idempotency key already made, or None."""
    row = db.execute(
        "SELECT d.code FROM intake_keys k JOIN dossiers d ON d.dossier_id = k.dossier_id WHERE k.key = ?", [key]
    ).fetchone()
    return str(row[0]) if row else None


def receive_dossier(
    box: Box, user: User, data: object, source: str = "", idempotency_key: str | None = None
) -> dict[str, Any]:
    """Validate and store a new dossier in one transaction; return its folded state.

    With an idempotency key, a second call with the same key (a double submit, a retry after a
    lost answer) returns the dossier the first call made instead of making another.
    """
    require(user, "dossier.create")
    key = check_idempotency_key(idempotency_key)
    now = box.now()
    filing = parse_filing(data, now)
    applicant, documents, channel = filing["applicant"], filing["documents"], filing["channel"]
    return_method, return_address, notes = filing["return_method"], filing["return_address"], filing["notes"]
    db = box.db()
    try:
        proc = get_procedure(db, filing["procedure_code"])
    except NotFoundError as err:
        raise ValidationError(err.vi, err.en, code="unknown_procedure", field="procedure_code") from err
    snapshot = procedure_snapshot(proc)
    # A dossier filed online waits for an officer to receive it; the clock starts then.
    status = "receiving" if channel == "online" else "new"
    received_at = None if status == "receiving" else now
    due_at = due_for(box, snapshot, now) if received_at else None
    dossier_id = str(uuid.uuid4())
    with write(db):
        if key is not None:
            seen = db.execute("SELECT dossier_id FROM intake_keys WHERE key = ?", [key]).fetchone()
            if seen:
                earlier = fold(events.events_of(db, seen[0]))
                assert earlier is not None
                return earlier
            db.execute(
                "INSERT INTO intake_keys (key, dossier_id, created_at) VALUES (?, ?, ?)",
                [key, dossier_id, events.iso(now)],
            )
        code = allocate_code(db, box.settings.agency_code, box.settings.state_dir, now)
        payload = {
            "code": code,
            "procedure": snapshot,
            "applicant": applicant,
            "documents": documents,
            "channel": channel,
            "return_method": return_method,
            "return_address": return_address,
            "status": status,
            "received_at": events.iso(received_at) if received_at else None,
            "due_at": events.iso(due_at) if due_at else None,
            "notes": notes,
        }
        event = events.new_event(
            db, dossier_id, "created", payload, actor=user.username, origin=box.origin, wall_time=events.iso(now)
        )
        events.record(db, event)
        state = projection.refold(db, dossier_id)
        audit.record(db, user.username, "dossier_received", target=code, detail={"channel": channel}, source=source)
    assert state is not None
    return state
