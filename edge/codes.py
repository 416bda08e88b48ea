"""Dossier codes `<agency>-<yyMMdd>-<NNNN>`: a per-day sequence that never repeats.

The sequence lives in the DB and, as a high-water mark, in a small file beside it
(state/codes.json, written before the DB commits). A DB restored from an older backup, or a
clock set back to an earlier day, finds the file ahead of the DB: the allocator takes the
larger of the two, records the fence in the audit log, and moves on — a code is never reused.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import sqlite_utils

from edge import audit
from edge.codeformat import BOX_FIRST, BOX_LAST, format_code, next_number

HIGH_WATER_FILE = "codes.json"
_KEEP_DAYS = 400  # the file keeps a bounded window of days; older days live on in the DB


def _read_marks(path: Path) -> dict[str, int]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # a damaged mark file is rebuilt from the DB; the DB check below still guards
    return {str(k): int(v) for k, v in data.items() if isinstance(v, int)}


def _write_marks(path: Path, marks: dict[str, int]) -> None:
    keep = dict(sorted(marks.items())[-_KEEP_DAYS:])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(keep, out, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def allocate_code(db: sqlite_utils.Database, agency_code: str, state_dir: Path, now: datetime) -> str:
    """Return the next dossier code for the day of `now` (call inside a write transaction)."""
    day = now.strftime("%y%m%d")
    row = db.execute("SELECT last FROM code_sequences WHERE day = ?", [day]).fetchone()
    in_db = row[0] if row else 0
    path = state_dir / HIGH_WATER_FILE
    marks = _read_marks(path)
    in_file = marks.get(day, 0)
    if in_file > in_db:
        audit.record(
            db,
            "system",
            "sequence_fenced",
            target=day,
            detail={"db": in_db, "high_water": in_file, "why": "db behind high-water mark (restore?)"},
        )
    number = next_number(max(in_db, in_file), BOX_FIRST, BOX_LAST, day)
    # Last guard: never hand out a code already held by a dossier, whatever the marks say.
    while db.execute("SELECT 1 FROM dossiers WHERE code = ?", [format_code(agency_code, day, number)]).fetchone():
        number = next_number(number, BOX_FIRST, BOX_LAST, day)
    db.execute(
        "INSERT INTO code_sequences (day, last) VALUES (?, ?) ON CONFLICT(day) DO UPDATE SET last = excluded.last",
        [day, number],
    )
    marks[day] = number
    _write_marks(path, marks)
    return format_code(agency_code, day, number)
