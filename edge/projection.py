"""The `dossiers` table and its search index: a projection folded from the event log."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from edge.events import all_dossier_ids, events_of
from edge.lifecycle import finished_late, fold
from edge.text import fold as fold_text

_COLUMNS = (
    "dossier_id", "code", "procedure_code", "procedure_name", "status", "status_code",
    "channel", "return_method", "applicant_name", "applicant_id_number", "applicant_phone",
    "received_at", "due_at", "finished_at", "returned_at", "finished_late", "assignee",
    "conflict", "created_at", "updated_at", "last_hlc", "state",
)  # fmt: skip


def row_of(state: dict[str, Any]) -> dict[str, Any]:
    """Return the projection row for a folded dossier state."""
    applicant = state["applicant"]
    return {
        "dossier_id": state["dossier_id"],
        "code": state["code"],
        "procedure_code": state["procedure"]["code"],
        "procedure_name": state["procedure"]["name"],
        "status": state["status"],
        "status_code": state["status_code"],
        "channel": state["channel"],
        "return_method": state["return_method"],
        "applicant_name": applicant.get("full_name", ""),
        "applicant_id_number": applicant.get("id_number", ""),
        "applicant_phone": applicant.get("phone"),
        "received_at": state["received_at"],
        "due_at": state["due_at"],
        "finished_at": state["finished_at"],
        "returned_at": state["returned_at"],
        "finished_late": int(finished_late(state)),
        "assignee": state["assignee"],
        "conflict": int(state["conflict"]),
        "created_at": state["created_at"],
        "updated_at": state["updated_at"],
        "last_hlc": state["last_hlc"],
        "state": json.dumps(state, ensure_ascii=False, sort_keys=True),
    }


def search_text(state: dict[str, Any]) -> str:
    """Return the folded text the accent-insensitive search matches against."""
    applicant = state["applicant"]
    parts = [state["code"], applicant.get("full_name", ""), applicant.get("id_number", "")]
    parts.append(applicant.get("phone") or "")
    return fold_text(" ".join(parts))


def save(db: sqlite_utils.Database, state: dict[str, Any]) -> None:
    """Write one dossier's projection row and search entry (inside a write transaction)."""
    row = row_of(state)
    found = db.execute("SELECT id FROM dossiers WHERE dossier_id = ?", [row["dossier_id"]]).fetchone()
    if found:
        sets = ", ".join(f"{c} = ?" for c in _COLUMNS)
        db.execute(f"UPDATE dossiers SET {sets} WHERE id = ?", [row[c] for c in _COLUMNS] + [found[0]])
        rowid = found[0]
        db.execute("DELETE FROM dossier_search WHERE rowid = ?", [rowid])
    else:
        marks = ", ".join("?" for _ in _COLUMNS)
        cursor = db.execute(
            f"INSERT INTO dossiers ({', '.join(_COLUMNS)}) VALUES ({marks})", [row[c] for c in _COLUMNS]
        )
        rowid = cursor.lastrowid
    db.execute("INSERT INTO dossier_search (rowid, text) VALUES (?, ?)", [rowid, search_text(state)])


def refold(db: sqlite_utils.Database, dossier_id: str) -> dict[str, Any] | None:
    """Fold one dossier from all its events and save the projection; return its state."""
    state = fold(events_of(db, dossier_id))
    if state is not None:
        save(db, state)
    return state


def rebuild_all(db: sqlite_utils.Database) -> int:
    """Drop and rebuild every projection row from the event log; return how many."""
    db.execute("DELETE FROM dossier_search")
    db.execute("DELETE FROM dossiers")
    count = 0
    for dossier_id in list(all_dossier_ids(db)):
        if refold(db, dossier_id) is not None:
            count += 1
    return count
