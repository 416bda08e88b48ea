"""The fields of a dossier filing, validated and normalised (NFC): shared by the box's intake and the hub.

Pure functions: no box, no database. The hub uses them for dossiers filed online so both ends
accept exactly the same input.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from edge.catalogue import Procedure, parse_document
from edge.errors import ValidationError
from edge.identity import clean_email, clean_phone, clean_sex, parse_birth_date, validate_id
from edge.text import clean_address, clean_free_text, clean_name

CHANNELS = ("counter", "online", "post")
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9-]{8,64}", re.ASCII)
RETURN_METHODS = ("counter", "post")
_MAX_DOCUMENTS = 100


def field_error(field: str, vi: str, en: str, code: str = "invalid") -> ValidationError:
    """Return a validation error naming the field."""
    return ValidationError(vi, en, code=code, field=field)


def choice(value: object, allowed: tuple[str, ...], field: str, default: str | None = None) -> str:
    """Return value if it is one of the allowed words (or the default when absent)."""
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or value not in allowed:
        raise field_error(
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
        raise field_error(
            "applicant",
            "Thiếu thông tin người nộp hồ sơ (applicant phải là một đối tượng).",
            "The applicant is missing (applicant must be an object).",
            code="required",
        )
    if data.get("full_name") in (None, ""):
        raise field_error(
            "applicant.full_name", "Chưa nhập họ tên người nộp hồ sơ.", "Enter the applicant's name.", "required"
        )
    full_name = clean_name(data["full_name"], "applicant.full_name")
    birth = _optional(data, "date_of_birth")
    date_of_birth = parse_birth_date(birth, "applicant.date_of_birth", today.date()) if birth is not None else None
    sex = clean_sex(data["sex"], "applicant.sex") if _optional(data, "sex") is not None else None
    if data.get("id_number") in (None, ""):
        raise field_error(
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
        raise field_error(field, f"“{field}” phải là một danh sách.", f"“{field}” must be a list.", "invalid_type")
    if len(value) > _MAX_DOCUMENTS:
        raise field_error(field, "Quá nhiều thành phần hồ sơ.", "Too many documents.", "too_many")
    out = []
    for i, item in enumerate(value):
        doc = parse_document(item, f"{field}[{i}]")
        out.append({"name": doc.name, "kind": doc.kind, "quantity": doc.quantity})
    return out


def procedure_snapshot(proc: Procedure) -> dict[str, Any]:
    """Return what a dossier keeps of its procedure (the rules in force when it was received)."""
    data = proc.to_dict()
    return {k: data[k] for k in ("code", "name", "field", "level", "processing_days", "same_day_cutoff", "fees")}


def parse_filing(data: object, today: datetime) -> dict[str, Any]:
    """Validate a filing (the body of `POST /dossiers`) apart from its procedure; return it normalised.

    The result has procedure_code, applicant, documents, channel, return_method, return_address, notes.
    """
    if not isinstance(data, dict):
        raise field_error(
            "", "Nội dung gửi lên phải là một đối tượng JSON.", "The body must be a JSON object.", "invalid_body"
        )
    code_value = data.get("procedure_code")
    if not isinstance(code_value, str) or not code_value.strip():
        raise field_error("procedure_code", "Chưa chọn thủ tục hành chính.", "Choose a procedure.", "required")
    applicant = parse_applicant(data.get("applicant"), today)
    documents = parse_documents(data.get("documents"))
    channel = choice(data.get("channel"), CHANNELS, "channel", default="counter")
    return_method = choice(data.get("return_method"), RETURN_METHODS, "return_method", default="counter")
    return_address = None
    if return_method == "post":
        raw = _optional(data, "return_address")
        if raw is None:
            raw = applicant["address"]
        if raw is None:
            raise field_error(
                "return_address",
                "Trả kết quả qua bưu điện cần địa chỉ nhận.",
                "Returning the result by post needs an address.",
                "required",
            )
        return_address = clean_address(raw, "return_address")
    notes = clean_free_text(data["notes"], "notes", required=False) if _optional(data, "notes") is not None else ""
    return {
        "procedure_code": code_value.strip(),
        "applicant": applicant,
        "documents": documents,
        "channel": channel,
        "return_method": return_method,
        "return_address": return_address,
        "notes": notes,
    }


def check_idempotency_key(key: str | None) -> str | None:
    """Return a valid idempotency key (None when absent); raise ValidationError when it is malformed."""
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise field_error(
            "idempotency_key",
            "Khóa chống gửi trùng không hợp lệ (8–64 chữ, số hoặc dấu -).",
            "The idempotency key is invalid (8–64 letters, digits or dashes).",
            "invalid_idempotency_key",
        )
    return key
