"""The box's procedure catalogue in the DB: import, export, look up."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from edge import audit
from edge.catalogue import Procedure, parse_procedure
from edge.errors import NotFoundError
from edge.events import now_iso
from edge.store.db import write
from edge.text import fold

_COLUMNS = "code, name, field, level, processing_days, same_day_cutoff, fees, documents, source"


def upsert_procedures(db: sqlite_utils.Database, procedures: Iterable[Procedure], actor: str = "cli") -> int:
    """Insert or replace procedures in one transaction; return how many."""
    with write(db):
        return store_procedures(db, procedures, actor)


def store_procedures(db: sqlite_utils.Database, procedures: Iterable[Procedure], actor: str = "cli") -> int:
    """Insert or replace procedures inside the caller's write transaction; return how many."""
    procedures = list(procedures)
    for proc in procedures:
        data = proc.to_dict()
        db.execute(
            f"INSERT INTO procedures ({_COLUMNS}, name_folded, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(code) DO UPDATE SET name=excluded.name, field=excluded.field, level=excluded.level,"
            " processing_days=excluded.processing_days, same_day_cutoff=excluded.same_day_cutoff,"
            " fees=excluded.fees, documents=excluded.documents, source=excluded.source,"
            " name_folded=excluded.name_folded, updated_at=excluded.updated_at",
            [
                data["code"],
                data["name"],
                data["field"],
                data["level"],
                data["processing_days"],
                data["same_day_cutoff"],
                json.dumps(data["fees"], ensure_ascii=False),
                json.dumps(data["documents"], ensure_ascii=False),
                data.get("source"),
                fold(f"{data['code']} {data['name']} {data['field']}"),
                now_iso(),
            ],
        )
    audit.record(db, actor, "catalogue_imported", detail={"count": len(procedures)})
    return len(procedures)


def _from_row(row: tuple[Any, ...]) -> Procedure:
    code, name, field, level, days, cutoff, fees, documents, source = row
    return parse_procedure(
        {
            "code": code,
            "name": name,
            "field": field,
            "level": level,
            "processing_days": days,
            "same_day_cutoff": cutoff,
            "fees": json.loads(fees),
            "documents": json.loads(documents),
            "source": source,
        }
    )


def get_procedure(db: sqlite_utils.Database, code: str) -> Procedure:
    """Return one procedure or raise NotFoundError."""
    row = db.execute(f"SELECT {_COLUMNS} FROM procedures WHERE code = ?", [code]).fetchone()
    if not row:
        shown = code if len(code) <= 64 else code[:64] + "…"
        raise NotFoundError(
            f"Không có thủ tục mã “{shown}” trong danh mục.",
            f"No procedure with code “{shown}” in the catalogue.",
            code="unknown_procedure",
            field="procedure_code",
        )
    return _from_row(row)


def list_procedures(db: sqlite_utils.Database, q: str | None = None) -> list[Procedure]:
    """Return the catalogue, filtered accent-insensitively by code, name or field."""
    sql = f"SELECT {_COLUMNS} FROM procedures"
    args: list[str] = []
    for word in fold(q or "").split():
        sql += " AND" if args else " WHERE"
        sql += " instr(name_folded, ?) > 0"
        args.append(word)
    rows = db.execute(sql + " ORDER BY field, name, code", args).fetchall()
    return [_from_row(r) for r in rows]
