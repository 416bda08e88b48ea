"""A real hub (SQLite file or PostgreSQL) with users, tokens, communes, boxes and dossiers for the hub tests."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from edge import catalogue
from edge.calendar import TZ
from edge.dossier_fields import procedure_snapshot
from edge.events import Event
from edge.hlc import format_hlc
from sync.hub.app import create_hub_app
from sync.hub.config import HubSettings, init_hub, open_hub
from sync.hub.db import HubDB
from sync.hub.ingest import ingest_events
from sync.hub.users import add_user, create_token

AGENCY = "000.17.22.H56"
PASSWORD = "matkhau-tinh-2026"
# Wednesday 2026-11-25 09:00 in Vietnam.
START = datetime(2026, 11, 25, 9, 0, tzinfo=TZ).timestamp()


class HubClock:
    """A Unix clock the test moves by hand."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def iso(self, offset_s: float = 0) -> str:
        return datetime.fromtimestamp(self.now + offset_s, TZ).isoformat(timespec="seconds")


@dataclass
class Hub:
    """A hub's settings, database, Flask app and tokens, all on real storage."""

    settings: HubSettings
    db: HubDB
    clock: HubClock
    app: Flask
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def headers(self, username: str = "quantri") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def with_settings(self, **changes: Any) -> Hub:
        """Return the same hub with other settings (a new app over the same database)."""
        settings = dataclasses.replace(self.settings, **changes)
        return Hub(settings, self.db, self.clock, create_hub_app(settings, self.db, self.clock), self.tokens)


def make_hub(root: Path, database_url: str | None = None, **settings: Any) -> Hub:
    """Create a hub with an admin (quantri) and a viewer (theodoi), each with a token, and the sample catalogue."""
    init_hub(root, database_url)
    loaded, db = open_hub(root)
    loaded = dataclasses.replace(loaded, **settings)
    clock = HubClock()
    now = clock.iso()
    add_user(db, "quantri", "admin", PASSWORD, now)
    add_user(db, "theodoi", "viewer", PASSWORD, now)
    tokens = {u: create_token(db, u, now) for u in ("quantri", "theodoi")}
    for proc in catalogue.sample_catalogue():
        db.execute(
            "INSERT INTO catalogue (code, body, updated_at) VALUES (?, ?, ?)",
            [proc.code, json.dumps(proc.to_dict(), ensure_ascii=False), now],
        )
    return Hub(loaded, db, clock, create_hub_app(loaded, db, clock), tokens)


def add_commune(db: HubDB, commune_code: str, agency_code: str | None = AGENCY, name: str = "") -> None:
    """Record a commune (with or without its agency code)."""
    db.execute(
        "INSERT INTO communes (commune_code, agency_code, name) VALUES (?, ?, ?) ON CONFLICT (commune_code) DO NOTHING",
        [commune_code, agency_code, name],
    )


def heartbeat(taken_at: str, **changes: Any) -> dict[str, Any]:
    """Return a healthy heartbeat body taken at the given moment."""
    body: dict[str, Any] = {
        "taken_at": taken_at,
        "version": "1.4.0",
        "uptime_s": 3600,
        "clock_offset_ms": 120,
        "disk_free_bytes": 50 * 2**30,
        "disk_total_bytes": 100 * 2**30,
        "db_bytes": 2**20,
        "outbox_events": 0,
        "outbox_bytes": 0,
        "oldest_unsent_age_s": None,
        "refused_events": 0,
        "last_push_at": taken_at,
        "last_push_error": None,
        "last_pull_at": taken_at,
        "last_pull_error": None,
        "open_conflicts": 0,
        "devices": [{"name": "Máy in", "kind": "printer", "ok": True, "last_ok_at": taken_at, "last_error": None}],
        "hub_url": "https://hub.example.vn",
    }
    body.update(changes)
    return body


def add_box(
    hub: Hub,
    box_id: str | None,
    commune_code: str = "00001",
    name: str = "Máy xã",
    *,
    beats: list[dict[str, Any]] | None = None,
    enrolled_age_s: float | None = 7 * 86400,
    revoked: bool = False,
    commune_name: str = "",
) -> None:
    """Record a box (enrolled unless enrolled_age_s is None) and its heartbeats, newest last."""
    add_commune(hub.db, commune_code, name=commune_name)
    enrolled = hub.clock.iso(-enrolled_age_s) if enrolled_age_s is not None else None
    newest = beats[-1] if beats else None
    hub.db.execute(
        "INSERT INTO boxes (record_id, box_id, commune_code, name, agency_code, enrolled_at, revoked_at, created_at,"
        " version, last_seen_at, last_heartbeat, last_heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            str(uuid.uuid4()),
            box_id,
            commune_code,
            name,
            AGENCY,
            enrolled,
            hub.clock.iso() if revoked else None,
            enrolled or hub.clock.iso(),
            newest["version"] if newest else None,
            newest["taken_at"] if newest else None,
            json.dumps(newest) if newest else None,
            newest["taken_at"] if newest else None,
        ],
    )
    for body in beats or []:
        hub.db.execute(
            "INSERT INTO heartbeats (box_id, taken_at, received_at, body) VALUES (?, ?, ?, ?)",
            [box_id, body["taken_at"], body["taken_at"], json.dumps(body)],
        )


class DossierWriter:
    """Make a dossier's events as a box would, stamped in order, and store them at the hub."""

    def __init__(self, hub: Hub, commune_code: str = "00001", code: str | None = None) -> None:
        self.hub = hub
        self.commune_code = commune_code
        self.dossier_id = str(uuid.uuid4())
        self.code = code or f"{AGENCY}-261125-{uuid.uuid4().int % 7999 + 1:04d}"
        self.ms = int(hub.clock() * 1000)

    def _stamp(self) -> tuple[str, str]:
        self.ms += 60_000
        wall = datetime.fromtimestamp(self.ms / 1000, UTC).astimezone(TZ).isoformat(timespec="seconds")
        return wall, format_hlc(self.ms, 0)

    def add(self, kind: str, payload: dict[str, Any], actor: str = "canbo") -> dict[str, Any]:
        """Store one event at the hub and return it (wire shape)."""
        wall, hlc = self._stamp()
        event = Event(str(uuid.uuid4()), self.dossier_id, kind, payload, actor, "box:abc", wall, hlc).to_dict()
        result = ingest_events(
            self.hub.db, [event], commune_code=self.commune_code, from_box="box-1", now_iso=self.hub.clock.iso()
        )
        assert result.accepted == [event["event_id"]], result
        return event

    def create(self, procedure_code: str = "1.001193", **changes: Any) -> dict[str, Any]:
        """Store a received counter dossier's created event."""
        proc = next(p for p in catalogue.sample_catalogue() if p.code == procedure_code)
        wall, _ = self._stamp()
        self.ms -= 60_000
        payload: dict[str, Any] = {
            "code": self.code,
            "procedure": procedure_snapshot(proc),
            "applicant": {
                "full_name": "Nguyễn Văn An",
                "id_type": "cccd",
                "id_number": "001099012345",
                "date_of_birth": "1999-03-04",
                "sex": "male",
                "phone": "0912345678",
                "email": "an.nguyen@example.vn",
                "address": "Số 12 phố Hàng Bạc",
            },
            "documents": [{"name": "Tờ khai đăng ký khai sinh", "kind": "original", "quantity": 1}],
            "channel": "counter",
            "return_method": "counter",
            "return_address": None,
            "status": "new",
            "received_at": wall,
            "due_at": "2026-11-27T09:00:00+07:00",
            "notes": "",
        }
        payload.update(changes)
        return self.add("created", payload)


def blob_rows(db: HubDB, data: bytes, *, complete: bool = True, sha256: str | None = None) -> str:
    """Store a blob's rows directly (complete or half-received) and return its name."""
    name = sha256 or hashlib.sha256(data).hexdigest()
    held = data if complete else data[: len(data) // 2]
    db.execute(
        "INSERT INTO blobs (sha256, size, received, complete, created_at) VALUES (?, ?, ?, ?, ?)",
        [name, len(data), len(held), int(complete), "2026-11-25T09:00:00+07:00"],
    )
    db.execute('INSERT INTO blob_chunks (sha256, "offset", data) VALUES (?, ?, ?)', [name, 0, held])
    return name
