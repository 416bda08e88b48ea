"""A citizen looks up their dossier at the kiosk: the receipt's QR code (the dossier code), or the code
typed with the last 4 digits of the phone number. They see the status, the due date and what is
missing — nothing more of the applicant's data.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime
from typing import Any

import sqlite_utils

from edge.errors import NotFoundError, ValidationError
from edge.lifecycle import STATUSES
from edge.queries import get_dossier

_LAST4 = re.compile(r"[0-9]{4}", re.ASCII)
_NOT_FOUND = ("Không tìm thấy hồ sơ với mã và số điện thoại này.", "No dossier with this code and phone number.")


def lookup(
    db: sqlite_utils.Database, code: object, phone_last4: object, now: datetime, *, scanned: bool = False
) -> dict[str, Any]:
    """Return what a citizen may see of a dossier; a wrong code or phone gives the same answer (no probing).

    `scanned`: the code came from the receipt's QR code, which the citizen holds; no phone is asked.
    """
    text = code.strip() if isinstance(code, str) else ""
    if not text or len(text) > 64:
        raise ValidationError("Nhập mã hồ sơ ghi trên giấy tiếp nhận.", "Enter the dossier code from the receipt.",
                              field="code")  # fmt: skip
    if not scanned and not (isinstance(phone_last4, str) and _LAST4.fullmatch(phone_last4.strip())):
        raise ValidationError(
            "Nhập 4 số cuối của số điện thoại đã khai khi nộp hồ sơ.",
            "Enter the last 4 digits of the phone number given with the dossier.",
            field="phone_last4",
        )
    try:
        dossier = get_dossier(db, text, now)
    except NotFoundError:
        raise NotFoundError(*_NOT_FOUND, code="lookup_not_found") from None
    if not scanned:
        phone = "".join(ch for ch in str(dossier["applicant"].get("phone") or "") if ch.isdigit())
        if len(phone) < 4 or not hmac.compare_digest(phone[-4:], str(phone_last4).strip()):
            raise NotFoundError(*_NOT_FOUND, code="lookup_not_found")
    supplement = dossier.get("supplement") or {}
    missing = (
        [] if supplement.get("received_at") else [d.get("name", "") for d in supplement.get("missing_documents", [])]
    )
    _, status_vi, status_en = STATUSES[dossier["status"]]
    return {
        "code": dossier["code"],
        "procedure": dossier["procedure"]["name"],
        "status": dossier["status"],
        "status_vi": status_vi,
        "status_en": status_en,
        "received_at": dossier.get("received_at"),
        "due_at": dossier.get("due_at"),
        "missing_documents": missing,
        "supplement_reason": supplement.get("reason") if missing else None,
    }
