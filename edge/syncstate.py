"""The sync client's small state on the box: JSON values by key, and heartbeats not yet sent.

Keys in use (written by sync.client): "feed_cursor", "hub:<url>" (one hub URL's health),
"last_push_at", "last_push_error", "last_pull_at", "last_pull_error", "clock_offset_ms",
"sync_now" (a request from the UI or the CLI), "last_cycle".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlite_utils

from edge.store.db import write

HEARTBEAT_BUFFER_MAX = 500


def get(db: sqlite_utils.Database, key: str, default: Any = None) -> Any:
    """Return the value stored under key, or default."""
    row = db.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchone()
    return default if row is None else json.loads(row[0])


def get_prefix(db: sqlite_utils.Database, prefix: str) -> dict[str, Any]:
    """Return every value whose key starts with prefix, by key."""
    rows = db.execute(
        "SELECT key, value FROM sync_state WHERE substr(key, 1, ?) = ? ORDER BY key", [len(prefix), prefix]
    ).fetchall()
    return {key: json.loads(value) for key, value in rows}


def put(db: sqlite_utils.Database, key: str, value: Any) -> None:
    """Store a value inside the caller's write transaction."""
    db.execute(
        "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, json.dumps(value, ensure_ascii=False, sort_keys=True)],
    )


def update(db: sqlite_utils.Database, values: Mapping[str, Any]) -> None:
    """Store several values in one transaction."""
    with write(db):
        for key, value in values.items():
            put(db, key, value)


def set_value(db: sqlite_utils.Database, key: str, value: Any) -> None:
    """Store one value in its own transaction."""
    update(db, {key: value})


def outbox_mark(db: sqlite_utils.Database) -> int:
    """Return the newest queued local event's position (it grows with every local write)."""
    row = db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()
    return int(row[0])


def open_conflicts(db: sqlite_utils.Database) -> int:
    """Return how many dossiers wait for a leader to resolve a conflict."""
    return int(db.execute("SELECT count(*) FROM dossiers WHERE conflict = 1").fetchone()[0])


def buffer_heartbeat(
    db: sqlite_utils.Database, taken_at: str, body: Mapping[str, Any], keep: int = HEARTBEAT_BUFFER_MAX
) -> None:
    """Keep a heartbeat until it is sent; the oldest are dropped beyond `keep`."""
    with write(db):
        db.execute(
            "INSERT INTO heartbeat_buffer (taken_at, body) VALUES (?, ?)",
            [taken_at, json.dumps(dict(body), ensure_ascii=False, sort_keys=True)],
        )
        db.execute(
            "DELETE FROM heartbeat_buffer"
            " WHERE seq NOT IN (SELECT seq FROM heartbeat_buffer ORDER BY seq DESC LIMIT ?)",
            [keep],
        )


def buffered_heartbeats(
    db: sqlite_utils.Database, limit: int = HEARTBEAT_BUFFER_MAX
) -> list[tuple[int, dict[str, Any]]]:
    """Return (seq, body) of the heartbeats waiting to be sent, oldest first."""
    rows = db.execute("SELECT seq, body FROM heartbeat_buffer ORDER BY seq LIMIT ?", [limit]).fetchall()
    return [(int(seq), json.loads(body)) for seq, body in rows]


def drop_heartbeat(db: sqlite_utils.Database, seq: int) -> None:
    """Forget a heartbeat the hub received."""
    with write(db):
        db.execute("DELETE FROM heartbeat_buffer WHERE seq = ?", [seq])


def heartbeat_backlog(db: sqlite_utils.Database) -> int:
    """Return how many heartbeats wait to be sent."""
    return int(db.execute("SELECT count(*) FROM heartbeat_buffer").fetchone()[0])
