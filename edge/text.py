"""Normalise, fold and validate text typed by citizens and officers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import TypeVar

from edge.errors import ValidationError

T = TypeVar("T")

# (Vietnamese, English) noun naming the field in messages, e.g. ("Họ tên", "The name").
Label = tuple[str, str]

NAME_LABEL: Label = ("Họ tên", "The name")
ADDRESS_LABEL: Label = ("Địa chỉ", "The address")
TEXT_LABEL: Label = ("Nội dung", "The text")

# A decomposed Vietnamese letter takes at most 3 code points, so anything longer than this
# multiple of the limit cannot fit after NFC: reject it before touching the characters at all.
_RAW_LENGTH_FACTOR = 4

# Typographic apostrophes (’ ‘ ʼ) that phones insert in minority names such as H’Hen Niê; stored
# as the ASCII one so search and duplicate checks see one spelling.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})

# Punctuation allowed besides letters (and digits in addresses), in the order shown in messages.
NAME_MARKS = "'-."
ADDRESS_MARKS = ",/-()'#:."
_MAX_MARKS_IN_ROW = 2

# Characters that are never printable text: controls, format characters (zero-width spaces,
# bidi overrides that can disguise text), surrogates, private use and unassigned code points.
_NON_PRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})

_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029\x85]")
_BLANK_LINES = re.compile(r"\n{3,}")

# Start of an HTML tag, comment, doctype or processing instruction: a browser only opens markup
# when "<" is directly followed by one of these, so "< 6 tuổi" or "a > b" stay allowed.
_MARKUP = re.compile(r"<(?:[^\W\d_]|[/!?])")

# Shapes of SQL injection rejected in free text and addresses. Storage always binds parameters;
# this keeps hostile strings out of records that are exported, printed and synced upstream.
SQL_INJECTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("line comment --", re.compile(r"--")),
    ("block comment /* */", re.compile(r"/\*|\*/")),
    (
        "; followed by a statement",
        re.compile(
            r";\s*(?:drop|delete|insert|update|select|alter|create|union|truncate|exec|grant)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "quote then OR/AND tautology",
        re.compile(r"['\"]\s*\)?\s*(?:or|and)\s+\S*\s*=", re.IGNORECASE),
    ),
    ("UNION SELECT", re.compile(r"\bunion\s+(?:all\s+)?select\b", re.IGNORECASE)),
)


def nfc(s: str) -> str:
    """Return s in Unicode NFC form."""
    return unicodedata.normalize("NFC", s)


def fold(s: str) -> str:
    """Return s lower-cased, without diacritics and with single spaces, for searching."""
    # Lower-case first: lower() can itself add a combining mark ("İ" -> "i̇"), which must go too.
    decomposed = unicodedata.normalize("NFD", s.lower())
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    # đ does not decompose to d; ð (eth) is a common mistyping of it in legacy fonts.
    bare = bare.replace("đ", "d").replace("ð", "d")
    return " ".join(bare.split())


def clean_name(value: object, field: str, *, max_len: int = 100, label: Label = NAME_LABEL) -> str:
    """Return a person's name normalised, or raise ValidationError."""
    text = _single_line(value, field, max_len, label).translate(_APOSTROPHES)
    _check_charset(text, field, label, NAME_MARKS, digits=False)
    # Marks only join letters ("H'Hen", "Thị-Ánh", "V."): this rejects "'--" and "''" shapes.
    if not _is_letter(text[0]) or re.search(r"['\-.][ '\-.]*['\-.]", text):
        raise ValidationError(
            f"{label[0]} phải bắt đầu bằng chữ cái và không có hai dấu ' - . liền nhau.",
            f"{label[1]} must start with a letter and must not have two of ' - . in a row.",
            code="name_punctuation",
            field=field,
        )
    return text


def clean_address(value: object, field: str, *, max_len: int = 300, label: Label = ADDRESS_LABEL) -> str:
    """Return an address normalised, or raise ValidationError."""
    text = _single_line(value, field, max_len, label).translate(_APOSTROPHES)
    _check_charset(text, field, label, ADDRESS_MARKS, digits=True)
    _check_injection(text, field, label)
    return text


def clean_free_text(
    value: object,
    field: str,
    *,
    max_len: int = 1000,
    required: bool = True,
    label: Label = TEXT_LABEL,
) -> str:
    """Return free text (reason, document name, note) normalised, or raise ValidationError."""
    if value is None:
        if required:
            raise _required(field, label)
        return ""
    raw = _raw_text(value, field, max_len, label)
    text = _LINE_BREAKS.sub("\n", nfc(raw)).replace("\t", " ")
    _check_printable(text.replace("\n", ""), field, label, single_line=False)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    if not text:
        if not required:
            return ""
        raise _required(field, label)
    _check_length(text, field, max_len, label)
    if _MARKUP.search(text):
        raise ValidationError(
            f"{label[0]} không được chứa thẻ HTML (dấu < liền trước chữ cái hoặc / ! ?).",
            f"{label[1]} must not contain HTML tags (a < directly before a letter or / ! ?).",
            code="text_markup",
            field=field,
        )
    _check_injection(text, field, label)
    return text


def optional_text(value: object, field: str, *, max_len: int = 1000, label: Label = TEXT_LABEL) -> str | None:
    """Return free text normalised, or None when it is missing or blank."""
    text = clean_free_text(value, field, max_len=max_len, required=False, label=label)
    return text or None


def optional(clean: Callable[[object, str], T], value: object, field: str) -> T | None:
    """Return clean(value, field), or None when value is None or a blank string."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return clean(value, field)


def _raw_text(value: object, field: str, max_len: int, label: Label) -> str:
    """Return value if it is a string of plausible length, else raise."""
    if not isinstance(value, str):
        raise ValidationError(
            f"{label[0]} phải là chuỗi ký tự.",
            f"{label[1]} must be text.",
            code="text_type",
            field=field,
        )
    if len(value) > max_len * _RAW_LENGTH_FACTOR:
        raise _too_long(field, max_len, label)
    return value


def _single_line(value: object, field: str, max_len: int, label: Label) -> str:
    """Return value as NFC text on one line with single spaces, non-empty and not too long."""
    text = nfc(_raw_text(value, field, max_len, label)).strip()
    _check_printable(text, field, label, single_line=True)
    text = " ".join(text.split())
    if not text:
        raise _required(field, label)
    _check_length(text, field, max_len, label)
    return text


def _check_printable(text: str, field: str, label: Label, *, single_line: bool) -> None:
    """Raise if text holds a control, invisible or line-separator character."""
    for ch in text:
        if unicodedata.category(ch) in _NON_PRINTABLE or ch in "\u2028\u2029":
            if single_line:
                vi = f"{label[0]} chứa ký tự điều khiển hoặc xuống dòng; hãy nhập trên một dòng."
                en = f"{label[1]} contains a control character or line break; type it on one line."
            else:
                vi = f"{label[0]} chứa ký tự điều khiển hoặc ký tự ẩn; hãy xóa chúng rồi nhập lại."
                en = f"{label[1]} contains a control or invisible character; remove it and retry."
            raise ValidationError(vi, en, code="text_control_char", field=field)


def _check_length(text: str, field: str, max_len: int, label: Label) -> None:
    """Raise if text is longer than max_len characters."""
    if len(text) > max_len:
        raise _too_long(field, max_len, label)


def _check_charset(text: str, field: str, label: Label, marks: str, *, digits: bool) -> None:
    """Raise on the first character that is not a letter, space, allowed mark or digit."""
    in_row = 0
    for ch in text:
        category = unicodedata.category(ch)
        # Combining marks stay allowed for minority-language letters with no precomposed form,
        # but a pile of them ("Zalgo" text) would smear over the printed forms.
        in_row = in_row + 1 if category[0] == "M" else 0
        if category[0] == "L" or 0 < in_row <= _MAX_MARKS_IN_ROW:
            continue
        if ch == " " or ch in marks or (digits and category == "Nd"):
            continue
        what = ("chữ cái, chữ số,", "letters, digits,") if digits else ("chữ cái,", "letters,")
        allowed = " ".join(marks)
        raise ValidationError(
            f'{label[0]} có ký tự không hợp lệ "{ch}"; chỉ dùng {what[0]} dấu cách và các dấu {allowed}',
            f'{label[1]} has an invalid character "{ch}"; use only {what[1]} spaces and {allowed}',
            code="text_invalid_char",
            field=field,
            char=ch,
        )


def _check_injection(text: str, field: str, label: Label) -> None:
    """Raise if text has one of the SQL-injection shapes in SQL_INJECTION_PATTERNS."""
    for name, pattern in SQL_INJECTION_PATTERNS:
        if match := pattern.search(text):
            raise ValidationError(
                f'{label[0]} có đoạn "{match[0]}" giống lệnh SQL; hãy viết lại bằng lời thường.',
                f'{label[1]} contains "{match[0]}", which looks like SQL; reword it.',
                code="text_injection",
                field=field,
                pattern=name,
            )


def _is_letter(ch: str) -> bool:
    """Return whether ch is a Unicode letter."""
    return unicodedata.category(ch)[0] == "L"


def _required(field: str, label: Label) -> ValidationError:
    """Return the error for a missing or blank value."""
    return ValidationError(
        f"{label[0]} không được để trống.",
        f"{label[1]} is required.",
        code="text_required",
        field=field,
    )


def _too_long(field: str, max_len: int, label: Label) -> ValidationError:
    """Return the error for a value over max_len characters."""
    return ValidationError(
        f"{label[0]} dài quá {max_len} ký tự; hãy rút gọn.",
        f"{label[1]} is longer than {max_len} characters; shorten it.",
        code="text_too_long",
        field=field,
        max_len=max_len,
    )
