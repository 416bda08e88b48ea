"""Dossiers filed online at the provincial portal: validated like the box's intake, coded by the hub.

The hub issues numbers 8000–9999 of each agency's day (edge.codeformat); the day is counted in
Asia/Ho_Chi_Minh. The sequence row is locked for the transaction (SELECT … FOR UPDATE on
PostgreSQL, BEGIN IMMEDIATE on SQLite), so two hub processes never issue the same number. The
dossier is stored as one `created` event through `ingest_events`, so it flows down the commune's
feed to its box, which receives it (status `receiving` until an officer does).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.calendar import TZ
from edge.catalogue import parse_procedure
from edge.codeformat import HUB_FIRST, HUB_LAST, format_code, next_number
from edge.dossier_fields import check_idempotency_key, parse_filing, procedure_snapshot
from edge.errors import ConflictError, NotFoundError, ValidationError
from edge.events import Event
from edge.hlc import next_hlc
from sync.hub.db import HubDB

_COMMUNE = re.compile(r"[0-9]{5}", re.ASCII)


@dataclass(frozen=True)
class Filed:
    """The answer to an online filing; `created` is False when an idempotency key repeated."""

    code: str
    dossier_id: str
    status: str
    created: bool

    def to_dict(self) -> dict[str, str]:
        """Return the JSON body of the answer."""
        return {"code": self.code, "dossier_id": self.dossier_id, "status": self.status}


def allocate_hub_code(db: HubDB, agency_code: str, now: datetime) -> str:
    """Return the hub's next dossier code for the agency and the day of `now` (inside a transaction)."""
    day = now.astimezone(TZ).strftime("%y%m%d")
    db.execute(
        "INSERT INTO code_sequences (agency_code, day, last) VALUES (?, ?, 0)"
        " ON CONFLICT (agency_code, day) DO NOTHING",
        [agency_code, day],
    )
    suffix = " FOR UPDATE" if db.kind == "postgresql" else ""
    last = int(
        db.scalar(f"SELECT last FROM code_sequences WHERE agency_code = ? AND day = ?{suffix}", [agency_code, day])
    )
    number = next_number(last, HUB_FIRST, HUB_LAST, day)
    # Never hand out a code a dossier already holds, whatever the sequence says (a restored table).
    while db.one("SELECT 1 FROM dossiers WHERE code = ?", [format_code(agency_code, day, number)]):
        number = next_number(number, HUB_FIRST, HUB_LAST, day)
    db.execute("UPDATE code_sequences SET last = ? WHERE agency_code = ? AND day = ?", [number, agency_code, day])
    return format_code(agency_code, day, number)


def check_key(key: str | None) -> str | None:
    """Return a valid idempotency key, None when absent; raise ValidationError when malformed."""
    return check_idempotency_key(key)


def hub_procedure(db: HubDB, code: str) -> dict[str, Any]:
    """Return the snapshot of a procedure in the hub's catalogue, or raise unknown_procedure (422)."""
    body = db.scalar("SELECT body FROM catalogue WHERE code = ?", [code])
    if body is None:
        raise ValidationError(
            f"Không có thủ tục mã “{code}” trong danh mục của tỉnh.",
            f"No procedure with code “{code}” in the province's catalogue.",
            code="unknown_procedure",
            field="procedure_code",
        )
    return procedure_snapshot(parse_procedure(json.loads(body), "procedure"))


def commune_agency(db: HubDB, commune_code: str) -> str:
    """Return the agency code of a commune; 404 if the hub does not know it, 409 if it has none yet."""
    if not _COMMUNE.fullmatch(commune_code):
        raise ValidationError(
            "Mã xã phải có đúng 5 chữ số.",
            "A commune code has exactly 5 digits.",
            code="invalid_commune_code",
            field="commune_code",
        )
    row = db.one("SELECT agency_code FROM communes WHERE commune_code = ?", [commune_code])
    if row is None:
        raise NotFoundError(
            f"Máy chủ tỉnh chưa có xã mã {commune_code}.",
            f"The hub does not know commune {commune_code}.",
            code="unknown_commune",
            field="commune_code",
        )
    if not row[0]:
        raise ConflictError(
            f"Xã {commune_code} chưa có mã định danh cơ quan: đăng ký thiết bị của xã, hoặc đặt mã bằng"
            " “motcua hub box add --agency-code”.",
            f"Commune {commune_code} has no agency code yet: enroll its box, or set it with"
            " “motcua hub box add --agency-code”.",
            code="no_agency_code",
        )
    return str(row[0])


def _earlier(db: HubDB, stored_key: str) -> Filed | None:
    row = db.one(
        "SELECT d.code, d.dossier_id, d.status FROM intake_keys k JOIN dossiers d ON d.dossier_id = k.dossier_id"
        " WHERE k.key = ?",
        [stored_key],
    )
    return Filed(str(row[0]), str(row[1]), str(row[2]), created=False) if row else None


def file_online(
    db: HubDB,
    *,
    hub_id: str,
    commune_code: str,
    data: object,
    actor: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> Filed:
    """Validate and store a dossier filed online for a commune; return its code at once."""
    from sync.hub.ingest import ingest_events  # the hub core's module; imported late to keep this one light

    key = check_key(idempotency_key)
    if isinstance(data, dict):
        data = {**data, "channel": "online"}  # whatever the portal sent, this is an online filing
    filing = parse_filing(data, now.astimezone(TZ))
    agency = commune_agency(db, commune_code)
    snapshot = hub_procedure(db, filing["procedure_code"])
    stored_key = f"{commune_code}:{key}" if key else None
    wall_time = now.astimezone(TZ).isoformat(timespec="seconds")
    dossier_id = str(uuid.uuid4())
    with db.transaction():
        if stored_key is not None:
            earlier = _earlier(db, stored_key)
            if earlier is not None:
                return earlier
            db.execute(
                "INSERT INTO intake_keys (key, dossier_id, created_at) VALUES (?, ?, ?)",
                [stored_key, dossier_id, wall_time],
            )
        code = allocate_hub_code(db, agency, now)
        payload = {
            "code": code,
            "procedure": snapshot,
            "applicant": filing["applicant"],
            "documents": filing["documents"],
            "channel": "online",
            "return_method": filing["return_method"],
            "return_address": filing["return_address"],
            "status": "receiving",
            "received_at": None,
            "due_at": None,
            "notes": filing["notes"],
        }
        event = Event(
            event_id=str(uuid.uuid4()),
            dossier_id=dossier_id,
            kind="created",
            payload=payload,
            actor=actor,
            origin=f"hub:{hub_id}",
            wall_time=wall_time,
            hlc=next_hlc(None, int(now.timestamp() * 1000)),
        )
        result = ingest_events(db, [event], commune_code=commune_code, from_box=None, now_iso=wall_time)
        if result.rejected:
            raise ConflictError(
                "Máy chủ tỉnh không lưu được hồ sơ.",
                f"The hub could not store the dossier: {result.rejected}.",
                code="not_stored",
            )
    return Filed(code, dossier_id, "receiving", created=True)
