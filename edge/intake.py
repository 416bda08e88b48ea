"""Receiving a dossier: validate what the officer entered, give it a code and a due date."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time
from typing import Any

import sqlite_utils

from edge import audit, events, projection
from edge.box import Box
from edge.catalogue import Procedure, parse_document
from edge.codes import allocate_code
from edge.deadline import compute_due_at
from edge.errors import NotFoundError, ValidationError
from edge.identity import clean_email, clean_phone, clean_sex, parse_birth_date, validate_id
from edge.lifecycle import fold
from edge.procedures import get_procedure
from edge.store.db import write
from edge.text import clean_address, clean_free_text, clean_name
from edge.users import User, require

CHANNELS = ("counter", "online", "post")
RETURN_METHODS = ("counter", "post")
_MAX_DOCUMENTS = 100
_KEY = re.compile(r"[A-Za-z0-9-]{8,64}", re.ASCII)


def _invalid(field: str, vi: str, en: str, code: str = "invalid") -> ValidationError:
    return ValidationError(vi, en, code=code, field=field)


def choice(value: object, allowed: tuple[str, ...], field: str, default: str | None = None) -> str:
    """Return value if it is one of the allowed words (or the default when absent)."""
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or value not in allowed:
        raise _invalid(
            field,
            f"Trường “{field}” phải là một trong: {', '.join(allowed)}.",
            f"“{field}” must be one of: {', '.join(allowed)}.",
            code="invalid_choice",
        )
    return value


def _optional(data: dict[str, Any], key: str) -> Any:
    """Return a field's value, or None when it is absent, null or blank text (other types are checked)."""
    value = data.get(key)
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def parse_applicant(data: object, today: datetime) -> dict[str, Any]:
    """Validate the applicant block and return it normalised (NFC)."""
    if not isinstance(data, dict):
        raise _invalid(
            "applicant",
            "Thiếu thông tin người nộp hồ sơ (applicant phải là một đối tượng).",
            "The applicant is missing (applicant must be an object).",
            code="required",
        )
    if data.get("full_name") in (None, ""):
        raise _invalid(
            "applicant.full_name", "Chưa nhập họ tên người nộp hồ sơ.", "Enter the applicant's name.", "required"
        )
    full_name = clean_name(data["full_name"], "applicant.full_name")
    birth = _optional(data, "date_of_birth")
    date_of_birth = parse_birth_date(birth, "applicant.date_of_birth", today.date()) if birth is not None else None
    sex = clean_sex(data["sex"], "applicant.sex") if _optional(data, "sex") is not None else None
    if data.get("id_number") in (None, ""):
        raise _invalid(
            "applicant.id_number", "Chưa nhập số giấy tờ tùy thân (CCCD).", "Enter the ID number.", "required"
        )
    id_type, id_number = validate_id(
        data.get("id_type", "cccd"), data["id_number"], date_of_birth=date_of_birth, sex=sex, field="applicant"
    )
    phone = _optional(data, "phone")
    email = _optional(data, "email")
    address = _optional(data, "address")
    return {
        "full_name": full_name,
        "id_type": id_type,
        "id_number": id_number,
        "date_of_birth": date_of_birth.isoformat() if date_of_birth else None,
        "sex": sex,
        "phone": clean_phone(phone, "applicant.phone") if phone is not None else None,
        "email": clean_email(email, "applicant.email") if email is not None else None,
        "address": clean_address(address, "applicant.address") if address is not None else None,
    }


def parse_documents(value: object, field: str = "documents") -> list[dict[str, Any]]:
    """Validate a list of documents (name, kind, quantity)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(field, f"“{field}” phải là một danh sách.", f"“{field}” must be a list.", "invalid_type")
    if len(value) > _MAX_DOCUMENTS:
        raise _invalid(field, "Quá nhiều thành phần hồ sơ.", "Too many documents.", "too_many")
    out = []
    for i, item in enumerate(value):
        doc = parse_document(item, f"{field}[{i}]")
        out.append({"name": doc.name, "kind": doc.kind, "quantity": doc.quantity})
    return out


def procedure_snapshot(proc: Procedure) -> dict[str, Any]:
    """Return what a dossier keeps of its procedure (the rules in force when it was received)."""
    data = proc.to_dict()
    return {k: data[k] for k in ("code", "name", "field", "level", "processing_days", "same_day_cutoff", "fees")}


def due_for(box: Box, procedure: dict[str, Any], received_at: datetime) -> datetime:
    """Compute a dossier's due date from its procedure snapshot."""
    cutoff = procedure.get("same_day_cutoff")
    return compute_due_at(
        box.calendar(), received_at, float(procedure["processing_days"]), time.fromisoformat(cutoff) if cutoff else None
    )


def _check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise _invalid(
            "idempotency_key",
            "Khóa chống gửi trùng không hợp lệ (8–64 chữ, số hoặc dấu -).",
            "The idempotency key is invalid (8–64 letters, digits or dashes).",
            "invalid_idempotency_key",
        )
    return key


def code_for_key(db: sqlite_utils.Database, key: str) -> str | None:
    """Return the code of the dossier an idempotency key already made, or None."""
    row = db.execute(
        "SELECT d.code FROM intake_keys k JOIN dossiers d ON d.dossier_id = k.dossier_id WHERE k.key = ?", [key]
    ).fetchone()
    return str(row[0]) if row else None


def receive_dossier(
    box: Box, user: User, data: object, source: str = "", idempotency_key: str | None = None
) -> dict[str, Any]:
    """Validate and store a new dossier in one transaction; return its folded state.

    With an idempotency key, a second call with the same key (a double submit, a retry after a
    lost answer) returns the dossier the first call made instead of making another.
    """
    require(user, "dossier.create")
    key = _check_key(idempotency_key) if idempotency_key is not None else None
    if not isinstance(data, dict):
        raise _invalid(
            "", "Nội dung gửi lên phải là một đối tượng JSON.", "The body must be a JSON object.", "invalid_body"
        )
    code_value = data.get("procedure_code")
    if not isinstance(code_value, str) or not code_value.strip():
        raise _invalid("procedure_code", "Chưa chọn thủ tục hành chính.", "Choose a procedure.", "required")
    now = box.now()
    applicant = parse_applicant(data.get("applicant"), now)
    documents = parse_documents(data.get("documents"))
    channel = choice(data.get("channel"), CHANNELS, "channel", default="counter")
    return_method = choice(data.get("return_method"), RETURN_METHODS, "return_method", default="counter")
    return_address = None
    if return_method == "post":
        raw = _optional(data, "return_address")
        if raw is None:
            raw = applicant["address"]
        if raw is None:
            raise _invalid(
                "return_address",
                "Trả kết quả qua bưu điện cần địa chỉ nhận.",
                "Returning the result by post needs an address.",
                "required",
            )
        return_address = clean_address(raw, "return_address")
    notes = clean_free_text(data["notes"], "notes", required=False) if _optional(data, "notes") is not None else ""
    db = box.db()
    try:
        proc = get_procedure(db, code_value.strip())
    except NotFoundError as err:
        raise ValidationError(err.vi, err.en, code="unknown_procedure", field="procedure_code") from err
    snapshot = procedure_snapshot(proc)
    # A dossier filed online waits for an officer to receive it; the clock starts then.
    status = "receiving" if channel == "online" else "new"
    received_at = None if status == "receiving" else now
    due_at = due_for(box, snapshot, now) if received_at else None
    dossier_id = str(uuid.uuid4())
    with write(db):
        if key is not None:
            seen = db.execute("SELECT dossier_id FROM intake_keys WHERE key = ?", [key]).fetchone()
            if seen:
                earlier = fold(events.events_of(db, seen[0]))
                assert earlier is not None
                return earlier
            db.execute(
                "INSERT INTO intake_keys (key, dossier_id, created_at) VALUES (?, ?, ?)",
                [key, dossier_id, events.iso(now)],
            )
        code = allocate_code(db, box.settings.agency_code, box.settings.state_dir, now)
        payload = {
            "code": code,
            "procedure": snapshot,
            "applicant": applicant,
            "documents": documents,
            "channel": channel,
            "return_method": return_method,
            "return_address": return_address,
            "status": status,
            "received_at": events.iso(received_at) if received_at else None,
            "due_at": events.iso(due_at) if due_at else None,
            "notes": notes,
        }
        event = events.new_event(
            db, dossier_id, "created", payload, actor=user.username, origin=box.origin, wall_time=events.iso(now)
        )
        events.record(db, event)
        state = projection.refold(db, dossier_id)
        audit.record(db, user.username, "dossier_received", target=code, detail={"channel": channel}, source=source)
    assert state is not None
    return state
