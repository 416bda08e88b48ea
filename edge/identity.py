"""Validate identity documents, dates of birth, sex, phone numbers and e-mail addresses."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from importlib import resources
from types import MappingProxyType
from typing import NamedTuple

from edge.errors import ValidationError

ID_TYPES = ("cccd", "cmnd", "passport")
SEXES = ("male", "female")
SEX_VI = {"male": "nam", "female": "nữ"}

# Bound on raw input before any normalisation, so an oversized value is rejected in O(1).
_MAX_RAW = 64
_MAX_EMAIL = 254

# Local part: dot-separated atoms of common characters (max 64); domain: LDH labels and a
# letters-only top-level domain. Deliberately narrower than RFC 5322: no quotes or comments.
_EMAIL = re.compile(
    r"(?P<local>(?=[^@]{1,64}@)[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


def _load_province_codes() -> Mapping[str, str]:
    """Read the CCCD province codes (Circular 07/2016/TT-BCA, Appendix I) shipped as package data."""
    source = resources.files("edge").joinpath("data/cccd-province-codes.json")
    codes = json.loads(source.read_text(encoding="utf-8"))["codes"]
    return MappingProxyType({str(k): unicodedata.normalize("NFC", v) for k, v in codes.items()})


PROVINCE_CODES: Mapping[str, str] = _load_province_codes()


class CccdInfo(NamedTuple):
    """What a CCCD number encodes: birth-registration province, sex and birth year."""

    province_code: str
    province: str
    sex: str
    birth_year: int


def decode_cccd(number: str) -> CccdInfo:
    """Return the province, sex and birth year encoded in a valid 12-digit CCCD number."""
    # Digit 4: even = male, odd = female; each pair of values is one century from 1900.
    century_digit = int(number[3])
    birth_year = 1900 + 100 * (century_digit // 2) + int(number[4:6])
    sex = SEXES[century_digit % 2]
    return CccdInfo(number[:3], PROVINCE_CODES[number[:3]], sex, birth_year)


def validate_id(
    id_type: object,
    id_number: object,
    *,
    date_of_birth: date | None = None,
    sex: str | None = None,
    field: str = "applicant",
) -> tuple[str, str]:
    """Return (id_type, normalised number) for a CCCD, CMND or passport, or raise."""
    kind = _clean_id_type(id_type, f"{field}.id_type")
    number_field = f"{field}.id_number"
    number = _compact(id_number, number_field)
    if kind == "cccd":
        _check_cccd(number, number_field)
        _check_cccd_matches(number, number_field, date_of_birth, sex, f"{field}.sex")
    elif kind == "cmnd":
        if not re.fullmatch(r"[0-9]{9}", number):
            raise ValidationError(
                "Số CMND phải có đúng 9 chữ số.",
                "The old ID card (CMND) number must have exactly 9 digits.",
                code="cmnd_format",
                field=number_field,
            )
    else:
        number = _check_passport(number, number_field)
    return kind, number


def parse_date(value: object, field: str) -> date:
    """Return the date written as YYYY-MM-DD, or raise ValidationError."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValidationError(
            "Ngày phải là chuỗi dạng năm-tháng-ngày, ví dụ 1990-05-31.",
            "The date must be text in the form YYYY-MM-DD, e.g. 1990-05-31.",
            code="date_type",
            field=field,
        )
    text = value.strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise ValidationError(
            "Ngày phải viết dạng năm-tháng-ngày, ví dụ 1990-05-31.",
            "The date must be written as YYYY-MM-DD, e.g. 1990-05-31.",
            code="date_format",
            field=field,
        )
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise ValidationError(
            f"Ngày {text} không tồn tại; hãy kiểm tra lại ngày và tháng.",
            f"The date {text} does not exist; check the day and month.",
            code="date_invalid",
            field=field,
        ) from err


def parse_birth_date(value: object, field: str, today: date | None = None) -> date:
    """Return a date of birth that is neither in the future nor before 1900, or raise."""
    born = parse_date(value, field)
    if born > (today or date.today()):
        raise ValidationError(
            "Ngày sinh không được ở tương lai; hãy kiểm tra lại.",
            "The date of birth cannot be in the future; check it.",
            code="birth_date_future",
            field=field,
        )
    if born.year < 1900:
        raise ValidationError(
            "Ngày sinh không được trước năm 1900; hãy kiểm tra lại.",
            "The date of birth cannot be before 1900; check it.",
            code="birth_date_too_early",
            field=field,
        )
    return born


def clean_sex(value: object, field: str) -> str:
    """Return "male" or "female", or raise ValidationError."""
    sex = value.strip().lower() if isinstance(value, str) else None
    if sex not in SEXES:
        raise ValidationError(
            'Giới tính phải là "male" (nam) hoặc "female" (nữ).',
            'The sex must be "male" or "female".',
            code="sex_invalid",
            field=field,
        )
    return sex


def clean_phone(value: object, field: str) -> str:
    """Return a Vietnamese phone number as 0 followed by 9 or 10 digits, or raise."""
    if not isinstance(value, str) or len(value) > _MAX_RAW:
        raise _phone_error(field)
    # Full-width digits (NFKC) and the usual separators, including (024) around area codes.
    digits = re.sub(r"[\s.\-()]", "", unicodedata.normalize("NFKC", value))
    for prefix in ("+84", "0084"):
        if digits.startswith(prefix):
            # People often write "+84 (0)912…": the trunk 0 is dropped after the country code.
            digits = "0" + digits[len(prefix) :].removeprefix("0")
            break
    if not (re.fullmatch(r"0[0-9]{9}", digits) or re.fullmatch(r"02[0-9]{9}", digits)):
        raise _phone_error(field)
    return digits


def clean_email(value: object, field: str) -> str:
    """Return an e-mail address with its domain lower-cased, or raise ValidationError."""
    # Length is checked before strip() and the regex so a huge value costs nothing.
    text = ""
    if isinstance(value, str) and len(value) <= _MAX_EMAIL * 2:
        text = value.strip()
    match = _EMAIL.fullmatch(text) if len(text) <= _MAX_EMAIL else None
    if match is None:
        raise ValidationError(
            "Địa chỉ e-mail không hợp lệ; hãy nhập dạng ten@vidu.vn.",
            "The e-mail address is not valid; enter it as name@example.vn.",
            code="email_invalid",
            field=field,
        )
    return f"{match['local']}@{match['domain'].lower()}"


def _clean_id_type(value: object, field: str) -> str:
    """Return the id type lower-cased, or raise listing the allowed values."""
    kind = value.strip().lower() if isinstance(value, str) else None
    if kind not in ID_TYPES:
        allowed = ", ".join(ID_TYPES)
        raise ValidationError(
            f"Loại giấy tờ phải là một trong: {allowed}.",
            f"The ID document type must be one of: {allowed}.",
            code="id_type_invalid",
            field=field,
        )
    return kind


def _compact(value: object, field: str) -> str:
    """Return the ID number as text without spaces (full-width characters made ASCII)."""
    if not isinstance(value, str):
        raise ValidationError(
            "Số giấy tờ phải là chuỗi ký tự (giữ nguyên số 0 ở đầu).",
            "The ID number must be text (keeping any leading zeros).",
            code="id_number_type",
            field=field,
        )
    if len(value) > _MAX_RAW:
        raise ValidationError(
            f"Số giấy tờ dài quá {_MAX_RAW} ký tự; hãy kiểm tra lại.",
            f"The ID number is longer than {_MAX_RAW} characters; check it.",
            code="id_number_too_long",
            field=field,
        )
    number = "".join(unicodedata.normalize("NFKC", value).split())
    if not number:
        raise ValidationError(
            "Số giấy tờ không được để trống.",
            "The ID number is required.",
            code="id_number_required",
            field=field,
        )
    return number


def _check_cccd(number: str, field: str) -> None:
    """Raise unless number is 12 ASCII digits starting with a known province code."""
    if not re.fullmatch(r"[0-9]+", number):
        raise ValidationError(
            "Số CCCD chỉ được gồm chữ số.",
            "The citizen ID must contain digits only.",
            code="cccd_not_digits",
            field=field,
        )
    if len(number) != 12:
        raise ValidationError(
            "Số CCCD phải có đúng 12 chữ số.",
            "The citizen ID must have exactly 12 digits.",
            code="cccd_length",
            field=field,
        )
    if number[:3] not in PROVINCE_CODES:
        raise ValidationError(
            f"Ba chữ số đầu của số CCCD ({number[:3]}) không phải mã tỉnh hợp lệ; hãy kiểm tra lại.",
            f"The first three digits of the citizen ID ({number[:3]}) are not a known province code; check the number.",
            code="cccd_province",
            field=field,
        )


def _check_cccd_matches(number: str, field: str, born: date | None, sex: str | None, sex_field: str) -> None:
    """Raise if the CCCD's century, year or sex digits disagree with the given birth date or sex."""
    info = decode_cccd(number)
    if born is not None:
        low = info.birth_year // 100 * 100
        if born.year // 100 * 100 != low:
            raise ValidationError(
                f"Chữ số thứ 4 của số CCCD ({number[3]}) ứng với người sinh năm {low}–{low + 99}, "
                f"không khớp với năm sinh {born.year}; hãy kiểm tra số CCCD hoặc ngày sinh.",
                f"The 4th digit of the citizen ID ({number[3]}) means born {low}–{low + 99}, "
                f"which does not match the birth year {born.year}; check the ID or the birth date.",
                code="cccd_century_mismatch",
                field=field,
            )
        if info.birth_year != born.year:
            raise ValidationError(
                f"Chữ số thứ 5–6 của số CCCD ({number[4:6]}) không khớp với năm sinh {born.year}; "
                "hãy kiểm tra số CCCD hoặc ngày sinh.",
                f"Digits 5–6 of the citizen ID ({number[4:6]}) do not match the birth year "
                f"{born.year}; check the ID or the birth date.",
                code="cccd_year_mismatch",
                field=field,
            )
    if sex is not None and info.sex != clean_sex(sex, sex_field):
        raise ValidationError(
            f"Chữ số thứ 4 của số CCCD ({number[3]}) ứng với giới tính {SEX_VI[info.sex]}, "
            f"không khớp với giới tính đã nhập; hãy kiểm tra số CCCD hoặc giới tính.",
            f"The 4th digit of the citizen ID ({number[3]}) means {info.sex}, which does not "
            "match the sex entered; check the ID or the sex.",
            code="cccd_sex_mismatch",
            field=field,
        )


def _check_passport(number: str, field: str) -> str:
    """Return the passport number upper-cased, or raise unless it is 6–9 ASCII letters/digits."""
    # Checked before upper() so that e.g. "ß" cannot turn into "SS" and pass.
    if not re.fullmatch(r"[A-Za-z0-9]{6,9}", number):
        raise ValidationError(
            "Số hộ chiếu phải gồm 6–9 chữ cái hoặc chữ số (hộ chiếu Việt Nam: 1 chữ cái và 7 chữ số, ví dụ C1234567).",
            "The passport number must have 6–9 letters or digits (Vietnamese passports: one "
            "letter and 7 digits, e.g. C1234567).",
            code="passport_format",
            field=field,
        )
    return number.upper()


def _phone_error(field: str) -> ValidationError:
    """Return the error for a phone number that is not Vietnamese."""
    return ValidationError(
        "Số điện thoại phải có 10 chữ số bắt đầu bằng 0 (máy bàn 11 chữ số bắt đầu bằng 02).",
        "The phone number must have 10 digits starting with 0 (landlines: 11 starting with 02).",
        code="phone_invalid",
        field=field,
    )
