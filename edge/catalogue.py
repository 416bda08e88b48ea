"""Procedure catalogue: validated records plus JSON and CSV import and export.

JSON: a list of procedure objects (or ``{"procedures": [...]}``) with the keys of
``Procedure.to_dict``. CSV (UTF-8; a leading BOM from Excel is accepted, none is written)::

    code,name,field,level,processing_days,same_day_cutoff,fees,documents,source

``level`` holds ``toan_trinh``, ``mot_phan`` or is empty; ``same_day_cutoff`` is ``HH:MM`` or
empty; ``fees`` and ``documents`` each hold a JSON array of objects shaped as in the JSON form,
e.g. ``[{"name": "Lệ phí", "kind": "charge", "amount": 8000}]``. ``source`` is optional on input;
it is written so that a CSV round trip loses nothing. ``processing_hours`` may replace
``processing_days`` on input (one working day is 8 hours). Error fields for CSV rows use
``procedures[i]`` with ``i`` counted from 0 after the header; a ";" separator (Excel in vi-VN) and a
decimal comma in number cells are accepted.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edge.errors import NotFoundError, ValidationError
from edge.text import clean_free_text, fold, nfc

HOURS_PER_DAY = 8
MAX_DAYS = 365
MAX_AMOUNT = 10**12  # keeps sums far inside SQLite's 64-bit integers
CSV_HEADER = ("code", "name", "field", "level", "processing_days", "same_day_cutoff", "fees", "documents", "source")

LEVEL_LABELS: dict[str | None, str] = {"toan_trinh": "Toàn trình", "mot_phan": "Một phần", None: "Không"}
LEVEL_LABELS_EN: dict[str | None, str] = {"toan_trinh": "Fully online", "mot_phan": "Partly online", None: "None"}
FEE_KIND_LABELS = {"fee": "Phí", "charge": "Lệ phí"}
FEE_KIND_LABELS_EN = {"fee": "Fee", "charge": "Charge"}
DOCUMENT_KIND_LABELS = {"original": "Bản chính", "certified_copy": "Bản sao chứng thực", "photocopy": "Bản sao"}
DOCUMENT_KIND_LABELS_EN = {"original": "Original", "certified_copy": "Certified copy", "photocopy": "Photocopy"}

# Aliases are matched after fold(), lower() and "_" → " ", so labels and keys both work.
_LEVEL_ALIASES: dict[str, str | None] = {
    "toan trinh": "toan_trinh", "full": "toan_trinh",
    "mot phan": "mot_phan", "partial": "mot_phan",
    "": None, "none": None, "khong": None,
}  # fmt: skip
_FEE_ALIASES = {"fee": "fee", "phi": "fee", "charge": "charge", "le phi": "charge"}
_DOC_ALIASES = {
    "original": "original", "ban chinh": "original",
    "certified copy": "certified_copy", "ban sao chung thuc": "certified_copy",
    "photocopy": "photocopy", "ban sao": "photocopy", "photo": "photocopy",
}  # fmt: skip
_PROC_NAME = ("Tên thủ tục", "The procedure name")
_FIELD = ("Lĩnh vực", "The field")
_FEE_NAME = ("Tên phí, lệ phí", "The fee name")
_DOC_NAME = ("Tên giấy tờ", "The document name")
_SOURCE = ("Nguồn", "The source")
_SUBJECTS = {
    "file": ("Tệp", "The file"),
    "path": ("Đường dẫn tệp", "The file path"),
    "header": ("Dòng tiêu đề CSV", "The CSV header"),
}
_CODE_RE = re.compile(r"[0-9A-Za-z.\-_]{1,64}")
_CUTOFF_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _fail(field: str, vi: str, en: str, code: str = "invalid", **details: Any) -> ValidationError:
    """Build a ValidationError whose messages name the field."""
    svi, sen = _SUBJECTS.get(field, (f"Trường {field}", f"Field {field}"))
    return ValidationError(f"{svi} {vi}.", f"{sen} {en}.", code=code, field=field, **details)


@dataclass(frozen=True)
class Fee:
    """One fee (phí) or charge (lệ phí) of a procedure, in whole VND."""

    name: str
    kind: str
    amount: int


@dataclass(frozen=True)
class DocumentSpec:
    """One document of a dossier: its name, kind of copy and quantity."""

    name: str
    kind: str
    quantity: int


@dataclass(frozen=True)
class Procedure:
    """An administrative procedure (TTHC) as handled at the commune counter."""

    code: str
    name: str
    field: str
    level: str | None
    processing_days: float
    same_day_cutoff: str | None
    fees: tuple[Fee, ...]
    documents: tuple[DocumentSpec, ...]
    source: str | None = None

    @property
    def total_fees(self) -> int:
        """Return the sum of all fees and charges in VND."""
        return sum(f.amount for f in self.fees)

    @property
    def is_same_day(self) -> bool:
        """Return whether the result is due on the day of receipt."""
        return self.processing_days == 0

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (canonical keys, whole days written as integers)."""
        d, days = asdict(self), float(self.processing_days)
        return d | {
            "processing_days": int(days) if days.is_integer() else days,
            "fees": list(d["fees"]),
            "documents": list(d["documents"]),
        }


def _mapping(obj: object, field: str) -> dict[str, Any]:
    """Require a JSON object."""
    if not isinstance(obj, dict):
        raise _fail(field, "phải là một đối tượng", "must be an object", "invalid_type")
    return obj


def _alias(value: object, table: dict[str, Any], field: str) -> Any:
    """Map a key or Vietnamese label to its canonical key."""
    key = fold(value).lower().replace("_", " ").strip() if isinstance(value, str) else value
    if not isinstance(key, str) or key not in table:
        allowed = ", ".join(sorted({str(v) for v in table.values() if v}))
        raise _fail(field, f"phải là một trong: {allowed}", f"must be one of: {allowed}", "invalid_choice")
    return table[key]


def parse_level(value: object, field: str = "level") -> str | None:
    """Return the canonical online service level for a key, label or null."""
    return None if value is None else _alias(value, _LEVEL_ALIASES, field)


def _int(value: object, field: str, lo: int, hi: int) -> int:
    """Require a whole number in [lo, hi]; bool is rejected, 8000.0 is accepted."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(field, "phải là số nguyên", "must be a whole number", "invalid_type")
    if not lo <= value <= hi:
        raise _fail(field, f"phải từ {lo} đến {hi}", f"must be between {lo} and {hi}", "out_of_range")
    return value


def _number(value: object, field: str, hi: float) -> float:
    """Require a finite number in [0, hi]; bool is rejected."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(field, "phải là một số", "must be a number", "invalid_type")
    if not 0 <= value <= hi:  # also false for NaN, and never converts a huge int to float
        raise _fail(field, f"phải từ 0 đến {hi:g}", f"must be between 0 and {hi:g}", "out_of_range")
    return float(value)


def _free(d: dict[str, Any], key: str, field: str, max_len: int, label: tuple[str, str]) -> str:
    """Clean a required free-text value; null reads as blank so the message says "required"."""
    value = d.get(key)
    return clean_free_text("" if value is None else value, field, max_len=max_len, label=label)


def parse_fee(obj: object, field: str) -> Fee:
    """Validate one fee object."""
    d = _mapping(obj, field)
    return Fee(
        name=_free(d, "name", f"{field}.name", 500, _FEE_NAME),
        kind=_alias(d.get("kind"), _FEE_ALIASES, f"{field}.kind"),
        amount=_int(d.get("amount"), f"{field}.amount", 0, MAX_AMOUNT),
    )


def parse_document(obj: object, field: str) -> DocumentSpec:
    """Validate one document object (catalogue entry or a document brought with a dossier)."""
    d = _mapping(obj, field)
    return DocumentSpec(
        name=_free(d, "name", f"{field}.name", 500, _DOC_NAME),
        kind=_alias(d.get("kind"), _DOC_ALIASES, f"{field}.kind"),
        quantity=_int(d.get("quantity"), f"{field}.quantity", 1, 99),
    )


def _items(value: object, field: str) -> list[Any]:
    """Require a list, reading null as empty."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise _fail(field, "phải là một danh sách", "must be a list", "invalid_type")
    return list(value)


def _days(d: dict[str, Any], field: str) -> float:
    """Read processing_days, or processing_hours converted at 8 hours a day."""
    days, hours = d.get("processing_days"), d.get("processing_hours")
    if days is not None and hours is not None:
        vi, en = "không được dùng cùng processing_days", "cannot be given together with processing_days"
        raise _fail(f"{field}.processing_hours", vi, en, "conflict")
    if hours is not None:
        return _number(hours, f"{field}.processing_hours", MAX_DAYS * HOURS_PER_DAY) / HOURS_PER_DAY
    if days is None:
        raise _fail(f"{field}.processing_days", "là bắt buộc", "is required", "required")
    return _number(days, f"{field}.processing_days", MAX_DAYS)


def parse_procedure(obj: object, field: str = "procedures[i]") -> Procedure:
    """Validate one procedure object; unknown keys are ignored except "source"."""
    d = _mapping(obj, field)
    code = d.get("code")
    code = code.strip() if isinstance(code, str) else code
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        raise _fail(f"{field}.code", "phải gồm 1–64 ký tự 0-9 A-Z a-z . - _", "must be 1–64 of 0-9 A-Z a-z . - _")
    cutoff = d.get("same_day_cutoff")
    cutoff = (cutoff.strip() or None) if isinstance(cutoff, str) else cutoff
    if cutoff is not None and not (isinstance(cutoff, str) and _CUTOFF_RE.fullmatch(cutoff)):
        raise _fail(f"{field}.same_day_cutoff", "phải có dạng GG:PP", "must be HH:MM", "invalid_format")
    # Screened like free text too: a NUL or bidi override in a citation would break CSV and print.
    source = clean_free_text(d.get("source"), f"{field}.source", max_len=4000, required=False, label=_SOURCE)
    return Procedure(
        code=code,
        name=_free(d, "name", f"{field}.name", 500, _PROC_NAME),
        field=_free(d, "field", f"{field}.field", 200, _FIELD),
        level=parse_level(d.get("level"), f"{field}.level"),
        processing_days=_days(d, field),
        same_day_cutoff=cutoff,
        fees=tuple(parse_fee(x, f"{field}.fees[{i}]") for i, x in enumerate(_items(d.get("fees"), f"{field}.fees"))),
        documents=tuple(
            parse_document(x, f"{field}.documents[{i}]")
            for i, x in enumerate(_items(d.get("documents"), f"{field}.documents"))
        ),
        source=source or None,
    )


def _parse_all(rows: list[Any]) -> list[Procedure]:
    """Parse every row and reject codes that repeat (case-insensitively)."""
    procs: list[Procedure] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        p = parse_procedure(row, f"procedures[{i}]")
        if (j := seen.setdefault(p.code.casefold(), i)) != i:
            vi, en = f"trùng mã {p.code} với procedures[{j}]", f"repeats code {p.code} of procedures[{j}]"
            raise _fail(f"procedures[{i}].code", vi, en, "duplicate")
        procs.append(p)
    return procs


def _text(data: str | bytes) -> str:
    """Decode input, dropping an Excel BOM."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail("file", "không phải UTF-8", "is not UTF-8", "encoding", position=exc.start) from None
    return data.removeprefix("\ufeff")


def _json(text: str, field: str) -> Any:
    """Parse JSON, reporting line and column (NaN is let through for the range checks to name)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        vi, en = (
            f"có JSON sai ở dòng {e.lineno}, cột {e.colno}",
            f"has malformed JSON at line {e.lineno}, column {e.colno}",
        )
        raise _fail(field, vi, en, "malformed_json", line=e.lineno, column=e.colno) from None


def load_json(text: str | bytes) -> list[Procedure]:
    """Parse a JSON catalogue: a list of procedures or {"procedures": [...]}."""
    data = _json(_text(text), "file")
    if isinstance(data, dict) and "procedures" in data:
        data = data["procedures"]
    if not isinstance(data, list):
        raise _fail("procedures", "phải là một danh sách thủ tục", "must be a list of procedures", "invalid_type")
    return _parse_all(data)


def dump_json(procs: Sequence[Procedure]) -> str:
    """Serialise procedures as indented UTF-8 JSON in NFC."""
    return nfc(json.dumps([p.to_dict() for p in procs], ensure_ascii=False, indent=2)) + "\n"


def _csv_number(cell: str, field: str) -> object:
    """Read a numeric cell; empty is null and a decimal comma is accepted (Excel in vi-VN)."""
    cell = cell.strip()
    if not cell:
        return None
    try:
        return float(cell if "." in cell else cell.replace(",", "."))
    except ValueError:
        raise _fail(field, "phải là một số", "must be a number", "invalid_type") from None


def load_csv(text: str | bytes) -> list[Procedure]:
    """Parse a CSV catalogue whose fees and documents cells hold JSON arrays."""
    body = _text(text)
    head = body.partition("\n")[0]
    # Excel set to vi-VN separates with ";" because "," is the decimal mark there.
    reader = csv.DictReader(io.StringIO(body, newline=""), delimiter=";" if head.count(";") > head.count(",") else ",")
    rows: list[Any] = []
    try:
        header = set(reader.fieldnames or ())
        missing = [c for c in ("code", "name", "field") if c not in header]
        if missing or not header & {"processing_days", "processing_hours"}:
            names = ", ".join(missing or ["processing_days"])
            raise _fail("header", f"thiếu cột {names}", f"lacks column {names}", "required")
        for i, raw in enumerate(reader):
            f, row = f"procedures[{i}]", {k: v or "" for k, v in raw.items() if isinstance(k, str)}
            for key in ("processing_days", "processing_hours"):
                row[key] = _csv_number(row.get(key, ""), f"{f}.{key}")
            for key in ("fees", "documents"):
                cell = row.get(key, "").strip()
                row[key] = _json(cell, f"{f}.{key}") if cell else []
            rows.append(row)
    except csv.Error as e:
        line = reader.line_num + 1  # line_num counts the lines read before the failing record
        vi, en = f"có CSV sai ở dòng {line}", f"has malformed CSV at line {line} ({e})"
        raise _fail("file", vi, en, "malformed_csv", line=line) from None
    return _parse_all(rows)


def dump_csv(procs: Sequence[Procedure]) -> str:
    """Serialise procedures as CSV (no BOM), JSON arrays in the fees and documents cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for p in procs:
        d = p.to_dict()
        for key in ("fees", "documents"):
            d[key] = json.dumps(d[key], ensure_ascii=False)
        writer.writerow("" if d[k] is None else d[k] for k in CSV_HEADER)
    return nfc(out.getvalue())


_Codec = tuple[Callable[[str | bytes], list[Procedure]], Callable[[Sequence[Procedure]], str]]
_FORMATS: dict[str, _Codec] = {".json": (load_json, dump_json), ".csv": (load_csv, dump_csv)}


def _format(path: str | os.PathLike[str]) -> _Codec:
    """Pick the codec from the file extension."""
    if (codec := _FORMATS.get(Path(path).suffix.lower())) is None:
        raise _fail("path", "phải có đuôi .json hoặc .csv", "must end in .json or .csv", "unsupported_format")
    return codec


def load_file(path: str | os.PathLike[str]) -> list[Procedure]:
    """Load a catalogue from a .json or .csv file."""
    loader = _format(path)[0]
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise NotFoundError("Không tìm thấy tệp danh mục.", "Catalogue file not found.", field="path") from None
    return loader(data)


def dump_file(path: str | os.PathLike[str], procs: Sequence[Procedure]) -> None:
    """Write a catalogue to a .json or .csv file atomically."""
    text = _format(path)[1](procs)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    # Write then rename, so a power cut never leaves a half-written catalogue behind.
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def sample_catalogue() -> list[Procedure]:
    """Return the sample catalogue shipped in edge/data/procedures.json."""
    return load_json(resources.files("edge").joinpath("data/procedures.json").read_bytes())
