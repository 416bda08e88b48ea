"""Applying events made elsewhere (the hub, another box): idempotent, then refolded."""

from __future__ import annotations

from collections.abc import Iterable

from edge import audit, events, projection
from edge.box import Box
from edge.events import Event, event_from_wire
from edge.store.db import write


def apply_events(box: Box, incoming: Iterable[object], source: str = "sync") -> dict[str, int]:
    """Store events from another origin once each and refold the dossiers they touch."""
    parsed: list[Event] = [event_from_wire(item, i) for i, item in enumerate(incoming)]
    db = box.db()
    applied = 0
    touched: set[str] = set()
    with write(db):
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
