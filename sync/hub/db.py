"""The hub's storage: one small adapter over SQLite (default) and PostgreSQL (psycopg 3).

Queries are written once with `?` placeholders; the adapter turns them into `%s` for PostgreSQL.
Both backends run the same schema (`SCHEMA`, with two type words filled in per backend). Several
hub processes may share one PostgreSQL: every write goes through `transaction()`, and the few
read-modify-write steps lock what they change (`lock_row`), so none of them loses an update.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

# {serial}: an auto-numbered primary key; {bytes}: binary data; {key}: an ASCII identifier (ids, codes),
# compared byte by byte (PostgreSQL's "C" collation: faster indexes, and the same order as Python's).
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username),
    created_at TEXT NOT NULL, last_used_at TEXT);
CREATE TABLE IF NOT EXISTS communes (
    commune_code {key} PRIMARY KEY, agency_code TEXT, name TEXT NOT NULL DEFAULT '',
    feed_seq BIGINT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS boxes (
    record_id TEXT PRIMARY KEY, box_id TEXT, commune_code {key} NOT NULL REFERENCES communes(commune_code),
    name TEXT NOT NULL, agency_code TEXT, enroll_code_hash TEXT UNIQUE, enroll_expires_at TEXT,
    enrolled_at TEXT, secret TEXT, revoked_at TEXT, created_at TEXT NOT NULL,
    version TEXT, last_seen_at TEXT, last_heartbeat TEXT, last_heartbeat_at TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS boxes_active_id ON boxes(box_id) WHERE box_id IS NOT NULL AND revoked_at IS NULL;
CREATE TABLE IF NOT EXISTS nonces (
    box_id {key} NOT NULL, nonce {key} NOT NULL, seen_at BIGINT NOT NULL, PRIMARY KEY (box_id, nonce));
CREATE INDEX IF NOT EXISTS nonces_by_age ON nonces(seen_at);
CREATE TABLE IF NOT EXISTS events (
    seq {serial}, event_id {key} NOT NULL UNIQUE, dossier_id {key} NOT NULL, commune_code {key} NOT NULL,
    kind TEXT NOT NULL, payload TEXT NOT NULL, actor TEXT NOT NULL, origin TEXT NOT NULL,
    wall_time TEXT NOT NULL, hlc TEXT NOT NULL, from_box TEXT, received_at TEXT NOT NULL,
    digest TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_dossier ON events(dossier_id);
CREATE TABLE IF NOT EXISTS dossiers (
    dossier_id {key} PRIMARY KEY, commune_code {key} NOT NULL, code {key} UNIQUE, status TEXT,
    conflict INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL, version BIGINT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS dossiers_by_commune ON dossiers(commune_code);
CREATE TABLE IF NOT EXISTS feed (
    commune_code {key} NOT NULL, seq BIGINT NOT NULL, type {key} NOT NULL, event_id {key},
    from_box TEXT, body TEXT, created_at TEXT NOT NULL, PRIMARY KEY (commune_code, seq));
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY, size BIGINT NOT NULL, received BIGINT NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, completed_at TEXT);
CREATE TABLE IF NOT EXISTS blob_chunks (
    sha256 TEXT NOT NULL, "offset" BIGINT NOT NULL, data {bytes} NOT NULL, PRIMARY KEY (sha256, "offset"));
CREATE TABLE IF NOT EXISTS heartbeats (
    id {serial}, box_id TEXT NOT NULL, taken_at TEXT NOT NULL, received_at TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS heartbeats_by_box ON heartbeats(box_id, taken_at);
CREATE TABLE IF NOT EXISTS code_sequences (
    agency_code TEXT NOT NULL, day TEXT NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (agency_code, day));
CREATE TABLE IF NOT EXISTS intake_keys (key TEXT PRIMARY KEY, dossier_id TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS catalogue (code TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calendar (
    day TEXT PRIMARY KEY, working INTEGER NOT NULL, note TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS forwards (
    dossier_id {key} PRIMARY KEY, code {key} NOT NULL, wanted_version BIGINT NOT NULL,
    sent_version BIGINT NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT,
    last_attempt_at TEXT, last_error TEXT, forwarded_at TEXT);
CREATE TABLE IF NOT EXISTS office_events (
    seq {serial}, event_id {key} NOT NULL UNIQUE, commune_code {key} NOT NULL, box_id TEXT NOT NULL,
    kind {key} NOT NULL, day TEXT NOT NULL, at TEXT NOT NULL, payload TEXT NOT NULL, digest TEXT NOT NULL,
    received_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS office_events_by_day ON office_events(day, commune_code);
CREATE INDEX IF NOT EXISTS events_fees ON events(kind, wall_time)
    WHERE kind IN ('fee_paid', 'fee_refunded', 'fee_payment_cancelled');
"""

_TYPES = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "bytes": "BLOB", "key": "TEXT"},
    "postgresql": {"serial": "BIGSERIAL PRIMARY KEY", "bytes": "BYTEA", "key": 'TEXT COLLATE "C"'},
}
_PLACEHOLDER = re.compile(r"\?")


def schema_statements(kind: str) -> list[str]:
    """Return the schema's statements for one backend."""
    text = SCHEMA.format(**_TYPES[kind])
    return [s.strip() for s in text.split(";") if s.strip()]


class HubDB:
    """A connection per thread to the hub's database, SQLite or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.kind = "postgresql" if url.startswith(("postgresql://", "postgres://")) else "sqlite"
        self._local = threading.local()

    @classmethod
    def for_path(cls, path: Path) -> HubDB:
        """Return the adapter for a SQLite file."""
        return cls(f"sqlite:///{path}")

    @property
    def sqlite_path(self) -> str:
        """The SQLite file (only for the SQLite backend)."""
        return self.url.removeprefix("sqlite:///")

    def _connect(self) -> Any:
        if self.kind == "postgresql":
            import psycopg

            # Statements run often are prepared (parsed once per connection: psycopg's default threshold),
            # but planned for their own parameters each time: a cached generic plan for `= ANY(%s)` and
            # unnest() of a batch's arrays is worse than a custom one.
            pg = psycopg.connect(self.url, autocommit=True)
            pg.execute("SET plan_cache_mode = force_custom_plan")
            return pg
        conn = sqlite3.connect(self.sqlite_path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def connection(self) -> Any:
        """Return this thread's connection, opening it on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None or (self.kind == "postgresql" and conn.closed):
            conn = self._connect()
            self._local.conn = conn
            self._local.depth = 0
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def sql(self, query: str) -> str:
        """Return the query in the backend's placeholder style."""
        return _PLACEHOLDER.sub("%s", query) if self.kind == "postgresql" else query

    def execute(self, query: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        cur = self.connection().execute(self.sql(query), tuple(params))
        return int(cur.rowcount or 0)

    def executemany(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many rows."""
        conn = self.connection()
        if self.kind == "postgresql":
            with conn.cursor() as cur:
                cur.executemany(self.sql(query), [tuple(r) for r in rows])
        else:
            conn.executemany(query, [tuple(r) for r in rows])

    def query(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Return every row of a query."""
        return [tuple(r) for r in self.connection().execute(self.sql(query), tuple(params)).fetchall()]

    def one(self, query: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """Return the first row of a query, or None."""
        row = self.connection().execute(self.sql(query), tuple(params)).fetchone()
        return tuple(row) if row is not None else None

    def scalar(self, query: str, params: Sequence[Any] = ()) -> Any:
        """Return the first column of the first row, or None."""
        row = self.one(query, params)
        return row[0] if row else None

    @contextmanager
    def transaction(self) -> Iterator[HubDB]:
        """Run the block in one transaction (nested calls join the outer one)."""
        conn = self.connection()
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                yield self
            finally:
                self._local.depth = depth
            return
        conn.execute("BEGIN" if self.kind == "postgresql" else "BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield self
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
        finally:
            self._local.depth = 0

    def lock_row(self, table: str, key_column: str, key: Any) -> tuple[Any, ...] | None:
        """Inside a transaction, read a row and hold it against other writers until commit."""
        suffix = " FOR UPDATE" if self.kind == "postgresql" else ""
        return self.one(f"SELECT * FROM {table} WHERE {key_column} = ?{suffix}", [key])

    def create_schema(self) -> None:
        """Create the tables (idempotent) and record the schema version."""
        with self.transaction():
            if self.kind == "postgresql":
                # Two hub processes starting together must not race on CREATE TABLE.
                self.execute("SELECT pg_advisory_xact_lock(7243)")
            for statement in schema_statements(self.kind):
                self.execute(statement)
            self.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO NOTHING",
                [str(SCHEMA_VERSION)],
            )
