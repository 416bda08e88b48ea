"""The append-only audit log: who did what, when, from where."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlite_utils

from edge.events import now_iso


def record(
    db: sqlite_utils.Database,
    actor: str,
    action: str,
    target: str = "",
    detail: Mapping[str, Any] | None = None,
    source: str = "",
) -> None:
    """Append one audit entry (call inside the write transaction of the action itself)."""
    db.execute(
        "INSERT INTO audit_log (at, actor, action, target, detail, source) VALUES (?, ?, ?, ?, ?, ?)",
        [now_iso(), actor, action, target, json.dumps(dict(detail or {}), ensure_ascii=False), source],
    )


def entries(db: sqlite_utils.Database, limit: int = 100, target: str | None = None) -> list[dict[str, Any]]:
    """Return the newest audit entries, optionally for one target."""
    sql = "SELECT id, at, actor, action, target, detail, source FROM audit_log"
    args: list[Any] = []
    if target is not None:
        sql += " WHERE target = ?"
        args.append(target)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    keys = ("id", "at", "actor", "action", "target", "detail", "source")
    out = []
    for row in db.execute(sql, args).fetchall():
        item = dict(zip(keys, row, strict=True))
        item["detail"] = json.loads(item["detail"])
        out.append(item)
    return out
