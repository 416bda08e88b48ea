"""Helpers for the hub tests: a throwaway PostgreSQL database, wire events, signed requests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sync.hub.db import HubDB
from sync.protocol import sign

PG_SERVER = os.environ.get("MOTCUA_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
AGENCY = "000.17.22.H56"


def _admin() -> Any:
    import psycopg

    return psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=3)


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """Create a database with a unique name, yield its URL, drop it after.

    With CI=true an unreachable server fails the test; otherwise the test is skipped.
    """
    try:
        admin = _admin()
    except Exception as err:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER}: {err}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_tables(db: HubDB) -> None:
    """Create the schema and delete every row (a fresh hub on a shared test database)."""
    db.create_schema()
    tables = [t for (t,) in db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    db.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
    db.create_schema()  # puts the schema version back


def wire_event(
    dossier_id: str,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    hlc: str = "001790000000000.000000",
    event_id: str | None = None,
    origin: str = "box-a",
) -> dict[str, Any]:
    """Return one event in the sync wire shape."""
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "dossier_id": dossier_id,
        "kind": kind,
        "payload": payload if payload is not None else {},
        "actor": "canbo",
        "origin": origin,
        "wall_time": "2026-11-25T09:00:00+07:00",
        "hlc": hlc,
    }


def created_payload(code: str) -> dict[str, Any]:
    """Return the payload of a `created` event for a received dossier."""
    return {
        "code": code,
        "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh", "processing_days": 0},
        "applicant": {"full_name": "Nguyễn Văn An", "id_type": "cccd", "id_number": "001099012345"},
        "documents": [],
        "status": "new",
        "received_at": "2026-11-25T09:00:00+07:00",
        "due_at": "2026-11-25T17:00:00+07:00",
    }


def dossier_events(number: int, *, extra: int = 0, base_hlc: int = 1790000000000) -> list[dict[str, Any]]:
    """Return a new dossier's created event, then `extra` notes (a dossier code per number)."""
    dossier_id = str(uuid.uuid4())
    code = f"{AGENCY}-261125-{number:04d}"
    out = [wire_event(dossier_id, "created", created_payload(code), hlc=f"{base_hlc:015d}.000000")]
    for i in range(extra):
        out.append(
            wire_event(dossier_id, "note_added", {"text": f"ghi chú {i}"}, hlc=f"{base_hlc + 1 + i:015d}.000000")
        )
    return out


def signed(
    secret: bytes,
    box_id: str,
    method: str,
    path: str,
    body: bytes = b"",
    query: str | None = None,
    now: int | None = None,
) -> dict[str, str]:
    """Return the signature headers for one request."""
    return sign(secret, box_id, method, path, query, body, now=now)
