"""Box records at the hub: adding one with a one-time enrollment code, enrolling, revoking, listing.

An enrollment code is 16 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown in
four groups of four (``K7QX-3MPA-WZ9D-HT4R``), about 79 random bits. The hub keeps only its
SHA-256; a code works once, within 7 days. A box's secret is 32 random bytes sent once as 64 hex
digits; the HMAC key both sides sign with is those 32 bytes (``bytes.fromhex(secret)``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from edge.calendar import TZ
from edge.errors import NotFoundError, ValidationError
from edge.events import iso
from edge.text import clean_address
from sync.hub.db import HubDB
from sync.hub.feed import check_commune_code, ensure_commune
from sync.protocol import SyncError

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_GROUPS, GROUP_SIZE = 4, 4
ENROLLMENT_DAYS = 7
_AGENCY = re.compile(r"[0-9A-Za-z]{1,8}(\.[0-9A-Za-z]{1,8}){1,5}", re.ASCII)
_BOX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}", re.ASCII)
_VERSION = re.compile(r"[0-9A-Za-z.+_-]{1,64}", re.ASCII)
_NAME_LABEL = ("Tên hộp", "The box name")


class EnrollmentCodeError(SyncError):
    """The enrollment code is unknown, already used, or expired."""

    status = 400
    default_code = "bad_enrollment_code"


class EnrollmentConflictError(SyncError):
    """The enrollment cannot go ahead: another commune, or the box id is held by another record."""

    status = 409
    default_code = "box_already_enrolled"


def _moment(now: datetime | str | None) -> datetime:
    if now is None:
        return datetime.now(TZ).replace(microsecond=0)
    return datetime.fromisoformat(now) if isinstance(now, str) else now


def new_enrollment_code() -> str:
    """Return a fresh human-typable code: four groups of four characters."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_GROUPS * GROUP_SIZE))
    return "-".join(raw[i : i + GROUP_SIZE] for i in range(0, len(raw), GROUP_SIZE))


def code_hash(code: str) -> str:
    """Return the stored hash of a code as typed (case, spaces and dashes do not matter)."""
    normal = "".join(ch for ch in code.upper() if ch not in " -\t")
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def check_agency_code(agency_code: object, field: str = "agency_code") -> str:
    """Return an agency code (form 000.17.22.H56) or raise ValidationError."""
    if not isinstance(agency_code, str) or not _AGENCY.fullmatch(agency_code):
        raise ValidationError(
            "Mã định danh cơ quan không hợp lệ (dạng 000.17.22.H56).",
            "The agency code is invalid (form 000.17.22.H56).",
            code="invalid_agency_code",
            field=field,
        )
    return agency_code


def add_box(
    db: HubDB, commune_code: str, name: str, agency_code: str | None = None, now: datetime | str | None = None
) -> tuple[str, str]:
    """Create a box record awaiting enrollment; return (record_id, enrollment code shown once)."""
    check_commune_code(commune_code)
    name = clean_address(name, "name", max_len=200, label=_NAME_LABEL)
    if agency_code is not None:
        check_agency_code(agency_code)
    moment = _moment(now)
    record_id, code = str(uuid.uuid4()), new_enrollment_code()
    with db.transaction():
        ensure_commune(db, commune_code, iso(moment), agency_code)
        db.execute(
            "INSERT INTO boxes (record_id, commune_code, name, agency_code, enroll_code_hash, enroll_expires_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                record_id,
                commune_code,
                name,
                agency_code,
                code_hash(code),
                iso(moment + timedelta(days=ENROLLMENT_DAYS)),
                iso(moment),
            ],
        )
    return record_id, code


def _bad_code() -> EnrollmentCodeError:
    return EnrollmentCodeError(
        "Mã đăng ký không đúng, đã dùng hoặc đã hết hạn; hãy xin mã mới ở máy chủ tỉnh.",
        "The enrollment code is unknown, used or expired; ask the hub for a new one.",
    )


def _check_request(box_id: object, commune_code: object, agency_code: object, version: object) -> None:
    if not isinstance(box_id, str) or not _BOX_ID.fullmatch(box_id):
        raise ValidationError("Mã hộp không hợp lệ.", "The box id is invalid.", code="invalid_box_id", field="box_id")
    check_commune_code(commune_code)
    if agency_code is not None:
        check_agency_code(agency_code)
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise ValidationError(
            "Phiên bản phần mềm không hợp lệ.", "The software version is invalid.", code="invalid", field="version"
        )


def enroll(
    db: HubDB,
    code: str,
    box_id: str,
    commune_code: str,
    agency_code: str | None,
    name: str,
    version: str,
    now: datetime | str | None = None,
) -> dict[str, Any]:
    """Use a one-time code: bind the record to the box and return its identity and new secret."""
    if not isinstance(code, str) or len(code) > 64:
        raise _bad_code()
    _check_request(box_id, commune_code, agency_code, version)
    clean_address(name, "name", max_len=200, label=_NAME_LABEL)
    moment = _moment(now)
    with db.transaction():
        found = db.one("SELECT record_id FROM boxes WHERE enroll_code_hash = ?", [code_hash(code)])
        if found is None or db.lock_row("boxes", "record_id", found[0]) is None:
            raise _bad_code()
        record = db.one(
            "SELECT commune_code, agency_code, enrolled_at, revoked_at, enroll_expires_at FROM boxes"
            " WHERE record_id = ?",
            [found[0]],
        )
        assert record is not None  # locked above
        record_id = found[0]
        if record[2] or record[3] or not record[4] or datetime.fromisoformat(record[4]) < moment:
            raise _bad_code()
        if record[0] != commune_code:
            raise EnrollmentConflictError(
                f"Mã đăng ký này dành cho xã {record[0]}, nhưng hộp được khởi tạo cho xã {commune_code}.",
                f"This enrollment code is for commune {record[0]}, but the box was set up for {commune_code}.",
                code="commune_mismatch",
            )
        if db.scalar("SELECT count(*) FROM boxes WHERE box_id = ? AND revoked_at IS NULL", [box_id]):
            raise EnrollmentConflictError(
                f"Hộp {box_id} đã được đăng ký; thu hồi bản ghi cũ trước khi đăng ký lại.",
                f"Box {box_id} is already enrolled; revoke its old record before enrolling again.",
            )
        agency = record[1] or agency_code
        secret = secrets.token_hex(32)
        db.execute(
            "UPDATE boxes SET box_id = ?, enrolled_at = ?, secret = ?, version = ?, agency_code = ?"
            " WHERE record_id = ?",
            [box_id, iso(moment), secret, version, agency, record_id],
        )
        if agency:
            db.execute(
                "UPDATE communes SET agency_code = ? WHERE commune_code = ? AND agency_code IS NULL",
                [agency, commune_code],
            )
    return {"box_id": box_id, "commune_code": commune_code, "agency_code": agency, "secret": secret}


def revoke_box(db: HubDB, box_id: str, now: datetime | str | None = None) -> int:
    """Revoke a box (by box id, or record id for one not enrolled yet); return how many records."""
    with db.transaction():
        count = db.execute(
            "UPDATE boxes SET revoked_at = ? WHERE (box_id = ? OR record_id = ?) AND revoked_at IS NULL",
            [iso(_moment(now)), box_id, box_id],
        )
    if not count:
        raise NotFoundError(
            f"Không có hộp đang hoạt động nào mang mã {box_id}.",
            f"No active box with id {box_id}.",
            code="unknown_box",
        )
    return count


def box_state(enrolled_at: str | None, revoked_at: str | None, expires_at: str | None, now: datetime) -> str:
    """Return "revoked", "active", "pending" (code not used yet) or "expired" (code unused, too late)."""
    if revoked_at:
        return "revoked"
    if enrolled_at:
        return "active"
    if expires_at and datetime.fromisoformat(expires_at) < now:
        return "expired"
    return "pending"


def list_boxes(db: HubDB, now: datetime | str | None = None) -> list[dict[str, Any]]:
    """Return every box record (never its secret), by commune then name."""
    moment = _moment(now)
    rows = db.query(
        "SELECT record_id, box_id, commune_code, name, agency_code, created_at, enroll_expires_at, enrolled_at,"
        " revoked_at, version, last_seen_at, last_heartbeat_at FROM boxes ORDER BY commune_code, name, created_at"
    )
    keys = (
        "record_id", "box_id", "commune_code", "name", "agency_code", "created_at", "enroll_expires_at",
        "enrolled_at", "revoked_at", "version", "last_seen_at", "last_heartbeat_at",
    )  # fmt: skip
    out = []
    for row in rows:
        record = dict(zip(keys, row, strict=True))
        record["state"] = box_state(record["enrolled_at"], record["revoked_at"], record["enroll_expires_at"], moment)
        out.append(record)
    return out
