"""Reading dossiers as the hub holds them: the folded state, its events and its scans."""

from __future__ import annotations

import json
from typing import Any

from edge.events import Event
from edge.lifecycle import fold
from sync.hub.db import HubDB

_EVENT_COLUMNS = ("event_id", "dossier_id", "kind", "payload", "actor", "origin", "wall_time", "hlc")


def dossier_events(db: HubDB, dossier_id: str) -> list[dict[str, Any]]:
    """Return a dossier's events in fold order (hlc, event_id), in the sync wire shape."""
    rows = db.query(
        f"SELECT {', '.join(_EVENT_COLUMNS)} FROM events WHERE dossier_id = ? ORDER BY hlc, event_id", [dossier_id]
    )
    out = []
    for row in rows:
        event = dict(zip(_EVENT_COLUMNS, row, strict=True))
        event["payload"] = json.loads(event["payload"])
        out.append(event)
    return out


def attachments_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the scans the events attach, once per SHA-256, in fold order: sha256, name, size."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for event in events:
        payload = event["payload"]
        if event["kind"] != "attachment_added" or not isinstance(payload, dict):
            continue
        sha = payload.get("sha256")
        if not isinstance(sha, str) or sha in seen:
            continue
        seen.add(sha)
        out.append(
            {
                "sha256": sha,
                "name": payload.get("name", ""),
                "size": payload.get("size"),
                "content_type": payload.get("content_type"),
            }
        )
    return out


def find_dossier(db: HubDB, code: str) -> dict[str, Any] | None:
    """Return the hub's dossier with this code: folded fields, status, conflict, commune, events, attachments.

    The fields are folded here from the stored events (ingest keeps only the columns it searches
    by), the same fold that gave the row its status and conflict flag.
    """
    row = db.one(
        "SELECT dossier_id, commune_code, status, conflict, version, updated_at FROM dossiers WHERE code = ?", [code]
    )
    if row is None:
        return None
    dossier_id, commune_code, status, conflict, version, updated_at = row
    events = dossier_events(db, dossier_id)
    state = fold([Event(**e) for e in events]) or {}
    return {
        **state,
        "dossier_id": dossier_id,
        "code": code,
        "status": status,
        "conflict": bool(conflict),
        "commune_code": commune_code,
        "version": int(version),
        "hub_updated_at": updated_at,
        "events": events,
        "attachments": attachments_of(events),
    }
