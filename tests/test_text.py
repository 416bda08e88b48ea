"""Tests for edge.text: normalising, folding and validating typed text."""

from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.errors import ValidationError
from edge.text import (
    SQL_INJECTION_PATTERNS,
    clean_address,
    clean_free_text,
    clean_name,
    fold,
    nfc,
    optional,
    optional_text,
)

FIELD = "applicant.full_name"


def error_of(clean: object, value: object, **kwargs: object) -> ValidationError:
    """Return the ValidationError that clean(value, FIELD) raises."""
    assert callable(clean)
    with pytest.raises(ValidationError) as info:
        clean(value, FIELD, **kwargs)
    return info.value


def assert_good_message(err: ValidationError) -> None:
    """Check the messages are one NFC sentence each, in both languages, with the field set."""
    assert err.field == FIELD
    for message in (err.vi, err.en):
        assert message == nfc(message)
        assert message.strip() and message.endswith(".")
    assert err.vi != err.en


# --- nfc and fold -------------------------------------------------------------------------


def test_nfc_composes_decomposed_input() -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn")
    assert decomposed != "Nguyễn"
    assert nfc(decomposed) == "Nguyễn"


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Nguyễn Văn Ánh", "nguyen van anh"),
        ("Chứng thực", "chung thuc"),
        ("ĐỖ", "do"),
        ("đăng ký   khai\tsinh ", "dang ky khai sinh"),
        (unicodedata.normalize("NFD", "Trần Thị Ngọc"), "tran thi ngoc"),
        ("  H'Hen Niê ", "h'hen nie"),
        ("İstanbul", "istanbul"),
        ("", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_matches_accented_and_unaccented_queries() -> None:
    assert fold("Xác nhận tình trạng hôn nhân") == fold("xac nhan tinh trang hon nhan")


@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(st.text())
def test_fold_has_no_marks_case_or_extra_spaces(text: str) -> None:
    folded = fold(text)
    assert not any(unicodedata.category(ch) == "Mn" for ch in folded)
    assert "đ" not in folded and "Đ" not in folded
    assert folded == folded.strip() and "  " not in folded


# --- clean_name ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Nguyễn Văn A", "Nguyễn Văn A"),
        ("  Trần   Thị\u00a0Bích  ", "Trần Thị Bích"),
        ("H'Hen Niê", "H'Hen Niê"),
        ("H\u2019Hen Niê", "H'Hen Niê"),
        ("Y-Moan Ênuôl", "Y-Moan Ênuôl"),
        ("Nguyễn V. A", "Nguyễn V. A"),
        ("Ksor H'Ble", "Ksor H'Ble"),
        ("Lò Văn Páo", "Lò Văn Páo"),
        ("ĐỖ THỊ HỒNG", "ĐỖ THỊ HỒNG"),
        ("Marie-Claire O'Brien", "Marie-Claire O'Brien"),
        ("Ánh\n", "Ánh"),
        ("Aq\u0331\u0308 Ra", "Aq\u0331\u0308 Ra"),
    ],
)
def test_clean_name_accepts_names(value: str, expected: str) -> None:
    assert clean_name(value, FIELD) == expected


def test_clean_name_returns_nfc_for_decomposed_input() -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Ánh")
    cleaned = clean_name(decomposed, FIELD)
    assert cleaned == "Nguyễn Thị Ánh"
    assert unicodedata.is_normalized("NFC", cleaned)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("<script>", "text_invalid_char"),
        ("<script>alert(1)</script>", "text_invalid_char"),
        ("a; DROP TABLE x", "text_invalid_char"),
        ("x' OR '1'='1", "text_invalid_char"),
        ("Robert'--", "name_punctuation"),
        ("Nguyễn''", "name_punctuation"),
        ("-Nguyễn", "name_punctuation"),
        ("'Nguyễn", "name_punctuation"),
        ("Nguyễn Văn 2", "text_invalid_char"),
        ("Nguyễn_Văn", "text_invalid_char"),
        ("Nguyễn, Văn", "text_invalid_char"),
        ("", "text_required"),
        ("   \t ", "text_required"),
        ("Nguyễn\nVăn", "text_control_char"),
        ("Nguyễn\tVăn", "text_control_char"),
        ("Ng\x00uyễn", "text_control_char"),
        ("Ng\x1buyễn", "text_control_char"),
        ("Ng\u200buyễn", "text_control_char"),
        ("Ng\u202euyễn", "text_control_char"),
        ("Ng\ud800uyễn", "text_control_char"),
        (None, "text_type"),
        (123, "text_type"),
        (["Nguyễn"], "text_type"),
        ("A" * 101, "text_too_long"),
        ("Ze\u0301\u0302\u0303\u0304ro", "text_invalid_char"),
    ],
)
def test_clean_name_rejects(value: object, code: str) -> None:
    err = error_of(clean_name, value)
    assert err.code == code
    assert_good_message(err)


def test_clean_name_message_names_the_bad_character() -> None:
    err = error_of(clean_name, "a; DROP TABLE x")
    assert '";"' in err.vi and '";"' in err.en
    assert err.details["char"] == ";"
    assert err.vi.startswith("Họ tên ")


def test_clean_name_length_counts_composed_characters() -> None:
    name = "Ễ" * 100
    assert clean_name(unicodedata.normalize("NFD", name), FIELD) == name
    assert error_of(clean_name, "Ễ" * 101).code == "text_too_long"
    assert clean_name("An", FIELD, max_len=2) == "An"


def test_clean_name_rejects_ten_megabytes_fast() -> None:
    huge = "a" * (10 * 1024 * 1024)
    started = time.perf_counter()
    err = error_of(clean_name, huge)
    assert err.code == "text_too_long"
    assert time.perf_counter() - started < 0.05


def test_clean_name_custom_label() -> None:
    err = error_of(clean_name, "", label=("Tên cán bộ", "The officer's name"))
    assert err.vi == "Tên cán bộ không được để trống."
    assert err.en == "The officer's name is required."


@given(st.text(max_size=120))
def test_clean_name_output_is_nfc_trimmed_and_safe(text: str) -> None:
    try:
        cleaned = clean_name(text, FIELD)
    except ValidationError as err:
        assert err.field == FIELD
        return
    assert unicodedata.is_normalized("NFC", cleaned)
    assert cleaned == cleaned.strip() and "  " not in cleaned
    assert 0 < len(cleaned) <= 100
    assert not set(cleaned) & set('<>;="\n\t')
    assert clean_name(cleaned, FIELD) == cleaned


@given(
    st.lists(
        st.text(
            alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọ"
            "ồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵAĂÂĐÊÔƠƯ",
            min_size=1,
            max_size=8,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_clean_name_accepts_any_vietnamese_words(words: list[str]) -> None:
    name = " ".join(words)
    assert clean_name(unicodedata.normalize("NFD", name), FIELD) == name


# --- clean_address ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "Số 12/3, ngõ 45, phường Láng, Hà Nội",
            "Số 12/3, ngõ 45, phường Láng, Hà Nội",
        ),
        ("Thôn 2 (xóm Đình), xã Ea H'Leo", "Thôn 2 (xóm Đình), xã Ea H'Leo"),
        ("Căn hộ #12-05, tầng 12", "Căn hộ #12-05, tầng 12"),
        ("Địa chỉ cũ:  Tổ 5,  khu 3 ", "Địa chỉ cũ: Tổ 5, khu 3"),
    ],
)
def test_clean_address_accepts(value: str, expected: str) -> None:
    assert clean_address(value, FIELD) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("<b>Hà Nội</b>", "text_invalid_char"),
        ("Hà Nội; DROP TABLE dossier", "text_invalid_char"),
        ("12' OR '1'='1", "text_invalid_char"),
        ("Số 1 -- ghi chú", "text_injection"),
        ("Số 1 /* x", "text_invalid_char"),
        ("Số 1\nHà Nội", "text_control_char"),
        ("", "text_required"),
        (42, "text_type"),
        ("x" * 301, "text_too_long"),
    ],
)
def test_clean_address_rejects(value: object, code: str) -> None:
    err = error_of(clean_address, value)
    assert err.code == code
    assert_good_message(err)
    if code != "text_type":
        assert err.vi.startswith("Địa chỉ ")


# --- clean_free_text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Thiếu giấy tờ; cần bổ sung bản sao", "Thiếu giấy tờ; cần bổ sung bản sao"),
        (
            'Giấy khai sinh (bản sao, 2 bản); "đã chứng thực"',
            'Giấy khai sinh (bản sao, 2 bản); "đã chứng thực"',
        ),
        ("Giảm 50% lệ phí cho hộ nghèo", "Giảm 50% lệ phí cho hộ nghèo"),
        ("Trẻ em < 6 tuổi; người > 80 tuổi", "Trẻ em < 6 tuổi; người > 80 tuổi"),
        ("Ông ấy nói: 'chờ đến thứ Hai'", "Ông ấy nói: 'chờ đến thứ Hai'"),
        ("Dòng 1\r\nDòng 2\rDòng 3", "Dòng 1\nDòng 2\nDòng 3"),
        ("  a\t\tb  \n\n\n\n  c  ", "a b\n\nc"),
        ("Cập nhật; chọn lại ngày hẹn", "Cập nhật; chọn lại ngày hẹn"),
        ("Bản sao sổ hộ khẩu - 1 bản", "Bản sao sổ hộ khẩu - 1 bản"),
    ],
)
def test_clean_free_text_accepts(value: str, expected: str) -> None:
    assert clean_free_text(value, FIELD) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("<script>alert(1)</script>", "text_markup"),
        ("Xem <a href=x>đây</a>", "text_markup"),
        ("</b>", "text_markup"),
        ("<!-- x", "text_markup"),
        ("<?php", "text_markup"),
        ("<img src=x onerror=alert(1)>", "text_markup"),
        ("a; DROP TABLE dossier", "text_injection"),
        ("x;delete from users", "text_injection"),
        ("x ; Union select 1", "text_injection"),
        ("x' OR '1'='1", "text_injection"),
        ('x" or 1=1', "text_injection"),
        ("admin'--", "text_injection"),
        ("ghi chú -- bỏ qua", "text_injection"),
        ("x /* y */", "text_injection"),
        ("1 UNION ALL SELECT password FROM users", "text_injection"),
        ("Dòng\x00ẩn", "text_control_char"),
        ("chữ\x0bdọc", "text_control_char"),
        ("bidi\u202etrick", "text_control_char"),
        ("", "text_required"),
        (" \n\t ", "text_required"),
        (None, "text_required"),
        (3.5, "text_type"),
        ("x" * 1001, "text_too_long"),
    ],
)
def test_clean_free_text_rejects(value: object, code: str) -> None:
    err = error_of(clean_free_text, value)
    assert err.code == code
    assert_good_message(err)


def test_injection_message_quotes_the_offending_part() -> None:
    err = error_of(clean_free_text, "Thiếu giấy; DROP TABLE x")
    assert '"; DROP"' in err.vi and '"; DROP"' in err.en
    assert err.details["pattern"] == "; followed by a statement"


def test_clean_free_text_optional() -> None:
    assert clean_free_text(None, FIELD, required=False) == ""
    assert clean_free_text("  \n ", FIELD, required=False) == ""
    assert optional_text(None, FIELD) is None
    assert optional_text("   ", FIELD) is None
    assert optional_text(" ghi chú ", FIELD) == "ghi chú"
    assert error_of(optional_text, 12).code == "text_type"


def test_clean_free_text_rejects_ten_megabytes_fast() -> None:
    started = time.perf_counter()
    assert error_of(clean_free_text, "x" * (10 * 1024 * 1024)).code == "text_too_long"
    assert time.perf_counter() - started < 0.05


def test_injection_patterns_are_documented() -> None:
    names = [name for name, _ in SQL_INJECTION_PATTERNS]
    assert len(names) == len(set(names)) >= 5


@given(st.text(max_size=300))
def test_clean_free_text_output_is_nfc_and_markup_free(text: str) -> None:
    try:
        cleaned = clean_free_text(text, FIELD)
    except ValidationError as err:
        assert err.code.startswith("text_")
        return
    assert unicodedata.is_normalized("NFC", cleaned)
    assert cleaned == cleaned.strip() and "\r" not in cleaned and "\t" not in cleaned
    assert "--" not in cleaned and "/*" not in cleaned
    assert clean_free_text(cleaned, FIELD) == cleaned


# --- optional -----------------------------------------------------------------------------


def test_optional_skips_missing_values_only() -> None:
    assert optional(clean_name, None, FIELD) is None
    assert optional(clean_name, "  ", FIELD) is None
    assert optional(clean_name, " Lê  Lợi ", FIELD) == "Lê Lợi"
    with pytest.raises(ValidationError):
        optional(clean_name, "<b>", FIELD)
