"""Applicants seen before: fill the intake form from the last dossier of the same person."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

import sqlite_utils

# What the intake form may take over from an earlier dossier (never its procedure or papers).
APPLICANT_FIELDS = ("full_name", "id_type", "id_number", "date_of_birth", "sex", "phone", "email", "address")
_MAX_ID = 32  # longer than any CCCD, CMND or passport number: such input is not looked up


@dataclass(frozen=True)
class KnownApplicant:
    """The applicant block of a person's most recent dossier, and which dossier it came from."""

    applicant: dict[str, Any]
    code: str
    received_at: str | None
    created_at: str


def normalise_id_number(value: object) -> str | None:
    """Return an ID number as stored (no spaces, ASCII digits, upper case), or None if unusable."""
    if not isinstance(value, str) or len(value) > _MAX_ID * 4:
        return None
    number = "".join(unicodedata.normalize("NFKC", value).split()).upper()
    if not number or len(number) > _MAX_ID or not number.isascii() or not number.isalnum():
        return None
    return number


def last_known(db: sqlite_utils.Database, id_number: object) -> KnownApplicant | None:
    """Return the applicant of the most recent dossier with this ID number, or None."""
    number = normalise_id_number(id_number)
    if number is None:
        return None
    # dossiers_id_number makes this a seek; one person has few dossiers, so sorting them is cheap.
    row = db.execute(
        "SELECT code, received_at, created_at, state FROM dossiers WHERE applicant_id_number = ?"
        " ORDER BY created_at DESC, id DESC LIMIT 1",
        [number],
    ).fetchone()
    if row is None:
        return None
    code, received_at, created_at, state = row
    stored = json.loads(state).get("applicant") or {}
    applicant = {key: stored.get(key) for key in APPLICANT_FIELDS}
    return KnownApplicant(applicant, code, received_at, created_at)


def last_known_applicant(db: sqlite_utils.Database, id_number: object) -> dict[str, Any] | None:
    """Return the applicant dict of the most recent dossier with this ID number, or None."""
    found = last_known(db, id_number)
    return found.applicant if found else None
