"""Tests for edge.identity: ID documents, dates of birth, sex, phone and e-mail."""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.errors import ValidationError
from edge.identity import (
    PROVINCE_CODES,
    CccdInfo,
    clean_email,
    clean_phone,
    clean_sex,
    decode_cccd,
    parse_birth_date,
    parse_date,
    validate_id,
)

SHARED_CODES = Path("/work/shared/data/cccd-province-codes.json")
PACKAGED_CODES = Path(__file__).parent.parent / "edge" / "data" / "cccd-province-codes.json"


def id_error(id_type: object, number: object, **kwargs: object) -> ValidationError:
    """Return the ValidationError that validate_id raises."""
    with pytest.raises(ValidationError) as info:
        validate_id(id_type, number, **kwargs)  # type: ignore[arg-type]
    return info.value


def error_of(clean: Callable[..., object], value: object, field: str = "f") -> ValidationError:
    """Return the ValidationError that clean(value, field) raises."""
    with pytest.raises(ValidationError) as info:
        clean(value, field)
    return info.value


def assert_good_message(err: ValidationError) -> None:
    """Check the messages are NFC sentences in both languages."""
    for message in (err.vi, err.en):
        assert message == unicodedata.normalize("NFC", message)
        assert message.endswith(".")
    assert err.vi != err.en


# --- province codes -----------------------------------------------------------------------


def test_province_codes_loaded_from_package_data() -> None:
    assert len(PROVINCE_CODES) == 63
    assert PROVINCE_CODES["001"] == "Hà Nội"
    assert PROVINCE_CODES["079"] == "Hồ Chí Minh"
    assert all(len(code) == 3 and code.isdigit() for code in PROVINCE_CODES)
    assert "000" not in PROVINCE_CODES
    with pytest.raises(TypeError):
        PROVINCE_CODES["000"] = "x"  # type: ignore[index]


@pytest.mark.skipif(not SHARED_CODES.exists(), reason="shared data not present")
def test_packaged_codes_match_shared_copy() -> None:
    shared = json.loads(SHARED_CODES.read_text(encoding="utf-8"))
    packaged = json.loads(PACKAGED_CODES.read_text(encoding="utf-8"))
    assert packaged == shared


# --- CCCD ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "born", "sex"),
    [
        ("001099012345", date(1999, 3, 1), "male"),
        ("001199012345", date(1999, 12, 31), "female"),
        ("079203000001", date(2003, 1, 1), "male"),
        ("079300000001", date(2000, 6, 15), "female"),
        ("096045999999", date(1945, 9, 2), "male"),
    ],
)
def test_cccd_valid_with_birth_date_and_sex(number: str, born: date, sex: str) -> None:
    assert validate_id("cccd", number, date_of_birth=born, sex=sex) == ("cccd", number)


def test_cccd_valid_without_birth_date_or_sex() -> None:
    assert validate_id("cccd", "001099012345") == ("cccd", "001099012345")


def test_cccd_spaces_removed_and_type_normalised() -> None:
    assert validate_id(" CCCD ", " 001 099 012 345 ") == ("cccd", "001099012345")
    assert validate_id("cccd", "001\u00a0099\t012345") == ("cccd", "001099012345")
    # Full-width digits from some Asian input methods become ASCII.
    assert validate_id("cccd", "００１０９９０１２３４５") == ("cccd", "001099012345")


@pytest.mark.parametrize(
    ("number", "kwargs", "code"),
    [
        ("000099012345", {}, "cccd_province"),
        ("003099012345", {}, "cccd_province"),
        ("00109901234", {}, "cccd_length"),
        ("0010990123456", {}, "cccd_length"),
        ("00109901234A", {}, "cccd_not_digits"),
        ("001-099-012345", {}, "cccd_not_digits"),
        ("٠٠١٠٩٩٠١٢٣٤٥", {}, "cccd_not_digits"),
        ("001099012345", {"date_of_birth": date(2099, 1, 1)}, "cccd_century_mismatch"),
        ("001299012345", {"date_of_birth": date(1999, 1, 1)}, "cccd_century_mismatch"),
        ("001098012345", {"date_of_birth": date(1999, 1, 1)}, "cccd_year_mismatch"),
        ("079203000001", {"date_of_birth": date(2004, 1, 1)}, "cccd_year_mismatch"),
        ("001099012345", {"sex": "female"}, "cccd_sex_mismatch"),
        ("001199012345", {"sex": "male"}, "cccd_sex_mismatch"),
        (
            "079203000001",
            {"date_of_birth": date(2003, 1, 1), "sex": "female"},
            "cccd_sex_mismatch",
        ),
    ],
)
def test_cccd_invalid(number: str, kwargs: dict[str, object], code: str) -> None:
    err = id_error("cccd", number, field="applicant", **kwargs)
    assert err.code == code
    assert err.field == "applicant.id_number"
    assert_good_message(err)


def test_cccd_length_message_is_the_house_example() -> None:
    err = id_error("cccd", "12345")
    assert err.vi == "Số CCCD phải có đúng 12 chữ số."
    assert err.en == "The citizen ID must have exactly 12 digits."


def test_cccd_mismatch_messages_say_what_disagrees() -> None:
    century = id_error("cccd", "001299012345", date_of_birth=date(1999, 1, 1))
    assert "2000–2099" in century.vi and "1999" in century.vi
    year = id_error("cccd", "001098012345", date_of_birth=date(1999, 1, 1))
    assert "(98)" in year.vi and "1999" in year.en
    sex = id_error("cccd", "001099012345", sex="female")
    assert "nam" in sex.vi and "male" in sex.en


def test_cccd_invalid_sex_argument_is_reported_on_sex_field() -> None:
    err = id_error("cccd", "001099012345", sex="M", field="submitter")
    assert (err.code, err.field) == ("sex_invalid", "submitter.sex")


@pytest.mark.parametrize(
    ("number", "info"),
    [
        ("001099012345", CccdInfo("001", "Hà Nội", "male", 1999)),
        ("001199012345", CccdInfo("001", "Hà Nội", "female", 1999)),
        ("079203000001", CccdInfo("079", PROVINCE_CODES["079"], "male", 2003)),
        ("001512000000", CccdInfo("001", "Hà Nội", "female", 2112)),
        ("001999000000", CccdInfo("001", "Hà Nội", "female", 2399)),
    ],
)
def test_decode_cccd(number: str, info: CccdInfo) -> None:
    assert decode_cccd(number) == info


@given(
    st.sampled_from(sorted(PROVINCE_CODES)),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2399, 12, 31)),
    st.sampled_from(["male", "female"]),
    st.integers(0, 999_999),
)
def test_cccd_built_from_birth_data_is_accepted(province: str, born: date, sex: str, serial: int) -> None:
    digit = (born.year - 1900) // 100 * 2 + (sex == "female")
    number = f"{province}{digit}{born.year % 100:02d}{serial:06d}"
    assert validate_id("cccd", number, date_of_birth=born, sex=sex) == ("cccd", number)
    assert decode_cccd(number).birth_year == born.year


# --- CMND and passports -------------------------------------------------------------------


def test_cmnd() -> None:
    assert validate_id("cmnd", "012 345 678") == ("cmnd", "012345678")
    for bad in ("01234567", "0123456789", "001099012345", "01234567A"):
        err = id_error("cmnd", bad)
        assert (err.code, err.field) == ("cmnd_format", "applicant.id_number")


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("C1234567", "C1234567"),
        ("c1234567", "C1234567"),
        ("N 1234567", "N1234567"),
        ("123456", "123456"),
        ("AB1234567", "AB1234567"),
        ("x9y8z7", "X9Y8Z7"),
    ],
)
def test_passport_valid(number: str, expected: str) -> None:
    assert validate_id("passport", number) == ("passport", expected)


@pytest.mark.parametrize("number", ["C1234", "C123456789", "C-1234567", "Ç1234567", "ß12345"])
def test_passport_invalid(number: str) -> None:
    err = id_error("passport", number)
    assert (err.code, err.field) == ("passport_format", "applicant.id_number")
    assert "C1234567" in err.vi


# --- id type and number shape -------------------------------------------------------------


@pytest.mark.parametrize("id_type", ["", "cmt", "driving_licence", None, 1, ["cccd"]])
def test_unknown_id_type_lists_allowed(id_type: object) -> None:
    err = id_error(id_type, "001099012345", field="submitter")
    assert (err.code, err.field) == ("id_type_invalid", "submitter.id_type")
    assert "cccd, cmnd, passport" in err.vi and "cccd, cmnd, passport" in err.en


@pytest.mark.parametrize(
    ("number", "code"),
    [
        (1099012345, "id_number_type"),
        (None, "id_number_type"),
        ("   ", "id_number_required"),
        ("1" * 65, "id_number_too_long"),
    ],
)
def test_id_number_shape(number: object, code: str) -> None:
    err = id_error("cccd", number)
    assert (err.code, err.field) == (code, "applicant.id_number")
    assert_good_message(err)


def test_huge_id_number_rejected_fast() -> None:
    started = time.perf_counter()
    assert id_error("passport", "A" * 10_000_000).code == "id_number_too_long"
    assert time.perf_counter() - started < 0.05


# --- dates --------------------------------------------------------------------------------


def test_parse_date() -> None:
    assert parse_date("1999-03-01", "d") == date(1999, 3, 1)
    assert parse_date(" 2024-02-29 ", "d") == date(2024, 2, 29)
    assert parse_date(date(2000, 1, 1), "d") == date(2000, 1, 1)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (19990301, "date_type"),
        (None, "date_type"),
        (datetime(1999, 3, 1, 8, 0), "date_type"),
        ("01/03/1999", "date_format"),
        ("1999-3-1", "date_format"),
        ("19990301", "date_format"),
        ("1999-03-01T00:00", "date_format"),
        ("１９９９-03-01", "date_format"),
        ("2023-02-29", "date_invalid"),
        ("1999-13-01", "date_invalid"),
        ("1999-04-31", "date_invalid"),
        ("0000-01-01", "date_invalid"),
    ],
)
def test_parse_date_rejects(value: object, code: str) -> None:
    err = error_of(parse_date, value, "applicant.date_of_birth")
    assert (err.code, err.field) == (code, "applicant.date_of_birth")
    assert_good_message(err)


def test_parse_birth_date() -> None:
    today = date(2025, 7, 1)
    assert parse_birth_date("2025-07-01", "dob", today) == today
    assert parse_birth_date("1900-01-01", "dob", today) == date(1900, 1, 1)
    future = error_of(lambda v, f: parse_birth_date(v, f, today), "2025-07-02", "dob")
    assert (future.code, future.field) == ("birth_date_future", "dob")
    early = error_of(lambda v, f: parse_birth_date(v, f, today), "1899-12-31", "dob")
    assert early.code == "birth_date_too_early"
    assert error_of(parse_birth_date, "2999-01-01").code == "birth_date_future"


# --- sex, phone, e-mail -------------------------------------------------------------------


def test_clean_sex() -> None:
    assert clean_sex("male", "s") == "male"
    assert clean_sex(" Female ", "s") == "female"
    for bad in ("nam", "m", "", None, 1):
        err = error_of(clean_sex, bad, "applicant.sex")
        assert (err.code, err.field) == ("sex_invalid", "applicant.sex")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0912345678", "0912345678"),
        ("0912 345 678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("0912-345-678", "0912345678"),
        ("+84912345678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("+84 (0) 912 345 678", "0912345678"),
        ("0084912345678", "0912345678"),
        ("024 3825 1234", "02438251234"),
        ("(024) 3825-1234", "02438251234"),
        ("+84 24 3825 1234", "02438251234"),
    ],
)
def test_clean_phone(value: str, expected: str) -> None:
    assert clean_phone(value, "applicant.phone") == expected


@pytest.mark.parametrize(
    "value",
    [
        "912345678",
        "091234567",
        "09123456789",
        "091234567a",
        "+1 212 555 0100",
        "",
        "0912345678; DROP TABLE x",
        912345678,
        None,
        "0" * 100,
    ],
)
def test_clean_phone_rejects(value: object) -> None:
    err = error_of(clean_phone, value, "applicant.phone")
    assert (err.code, err.field) == ("phone_invalid", "applicant.phone")
    assert_good_message(err)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("an.nguyen@Example.VN", "an.nguyen@example.vn"),
        ("  Lan+hoso@UBND.HaNoi.gov.vn ", "Lan+hoso@ubnd.hanoi.gov.vn"),
        ("x_y-z@mail-server.com", "x_y-z@mail-server.com"),
    ],
)
def test_clean_email(value: str, expected: str) -> None:
    assert clean_email(value, "applicant.email") == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "an",
        "an@",
        "@example.vn",
        "an@example",
        "an..nguyen@example.vn",
        ".an@example.vn",
        "an@-example.vn",
        "an@example.v",
        "an nguyen@example.vn",
        "an@exa mple.vn",
        "nguyễn@example.vn",
        "<script>@example.vn",
        "x'--@example.vn",
        "a@b@example.vn",
        "a" * 65 + "@example.vn",
        "a@" + "b" * 250 + ".vn",
        "a" * 10_000_000,
        None,
        42,
    ],
)
def test_clean_email_rejects(value: object) -> None:
    err = error_of(clean_email, value, "applicant.email")
    assert (err.code, err.field) == ("email_invalid", "applicant.email")
    assert_good_message(err)
