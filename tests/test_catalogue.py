"""Tests for the procedure catalogue: sample data, aliases, validation and round trips."""

from __future__ import annotations

import copy
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge import catalogue as cat
from edge.errors import NotFoundError, ValidationError

DATA = Path(cat.__file__).parent / "data" / "procedures.json"


def _proc(**over: Any) -> dict[str, Any]:
    """Return a valid raw procedure, with keys overridden."""
    raw: dict[str, Any] = {
        "code": "1.001193",
        "name": "Thủ tục đăng ký khai sinh",
        "field": "Hộ tịch",
        "level": None,
        "processing_days": 0,
        "same_day_cutoff": "15:00",
        "fees": [{"name": "Lệ phí đăng ký khai sinh", "kind": "charge", "amount": 8000}],
        "documents": [{"name": "Tờ khai đăng ký khai sinh", "kind": "original", "quantity": 1}],
        "source": "https://dichvucong.gov.vn/",
    }
    raw.update(over)
    return raw


def _strings(obj: object) -> list[str]:
    """Collect every string inside a JSON-like value."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in _strings(k) + _strings(v)]
    if isinstance(obj, list | tuple):
        return [s for v in obj for s in _strings(v)]
    return []


# --- shipped sample --------------------------------------------------------------------------


def test_every_shipped_procedure_parses() -> None:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    for i, entry in enumerate(raw):
        assert cat.parse_procedure(entry, f"procedures[{i}]").code == entry["code"]
    procs = cat.sample_catalogue()
    assert len(procs) == len(raw) >= 25
    assert len({p.field for p in procs}) >= 4
    assert all(p.source for p in procs)


def test_shipped_file_is_nfc_and_canonical() -> None:
    text = DATA.read_text(encoding="utf-8")
    assert unicodedata.is_normalized("NFC", text)
    assert cat.dump_json(cat.sample_catalogue()) == text
    for s in _strings([p.to_dict() for p in cat.sample_catalogue()]):
        assert unicodedata.is_normalized("NFC", s)


def test_sample_round_trips_through_json_and_csv() -> None:
    procs = cat.sample_catalogue()
    assert cat.load_json(cat.dump_json(procs)) == procs
    assert cat.load_csv(cat.dump_csv(procs)) == procs


def test_properties() -> None:
    p = cat.parse_procedure(_proc(fees=[{"name": "Phí", "kind": "fee", "amount": 2000}] * 2))
    assert p.total_fees == 4000 and p.is_same_day
    assert cat.LEVEL_LABELS[p.level] == "Không" and cat.LEVEL_LABELS_EN[p.level] == "None"
    assert not cat.parse_procedure(_proc(processing_days=3, fees=None)).is_same_day
    assert cat.DOCUMENT_KIND_LABELS["certified_copy"] == "Bản sao chứng thực"
    assert cat.FEE_KIND_LABELS["charge"] == "Lệ phí"


# --- aliases and lenient input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "key"),
    [
        ("toàn trình", "toan_trinh"), ("Toàn trình", "toan_trinh"), ("toan trinh", "toan_trinh"),
        ("full", "toan_trinh"), ("toan_trinh", "toan_trinh"), ("một phần", "mot_phan"),
        ("mot phan", "mot_phan"), ("partial", "mot_phan"), ("mot_phan", "mot_phan"),
        ("", None), ("none", None), (None, None),
        (unicodedata.normalize("NFD", "Một phần"), "mot_phan"),
    ],
)  # fmt: skip
def test_level_aliases(alias: str | None, key: str | None) -> None:
    assert cat.parse_procedure(_proc(level=alias)).level == key
    assert cat.parse_level(alias) == key


@pytest.mark.parametrize(
    ("alias", "key"),
    [
        ("original", "original"), ("bản chính", "original"), ("Bản chính", "original"),
        ("certified_copy", "certified_copy"), ("bản sao chứng thực", "certified_copy"),
        ("photocopy", "photocopy"), ("bản sao", "photocopy"), ("photo", "photocopy"),
    ],
)  # fmt: skip
def test_document_kind_aliases(alias: str, key: str) -> None:
    doc = cat.parse_document({"name": "Giấy chứng sinh", "kind": alias, "quantity": 2}, "documents[0]")
    assert doc == cat.DocumentSpec("Giấy chứng sinh", key, 2)


@pytest.mark.parametrize(("alias", "key"), [("phí", "fee"), ("lệ phí", "charge"), ("fee", "fee"), ("charge", "charge")])
def test_fee_kind_aliases(alias: str, key: str) -> None:
    assert cat.parse_fee({"name": "Lệ phí", "kind": alias, "amount": 0}, "fees[0]").kind == key


def test_hours_nulls_extras_and_normalisation() -> None:
    raw = _proc(processing_days=None, processing_hours=4, fees=None, documents=None, extra="x")
    raw["name"] = unicodedata.normalize("NFD", "  Chứng thực chữ ký ")
    p = cat.parse_procedure(raw)
    assert p.processing_days == 0.5 and p.fees == () and p.documents == ()
    assert p.name == "Chứng thực chữ ký" and p.source == "https://dichvucong.gov.vn/"
    assert "extra" not in p.to_dict() and p.to_dict()["processing_days"] == 0.5


def test_load_json_accepts_wrapper_bytes_and_bom() -> None:
    body = json.dumps({"procedures": [_proc()]}, ensure_ascii=False).encode()
    assert cat.load_json(b"\xef\xbb\xbf" + body) == [cat.parse_procedure(_proc())]


def test_load_csv_accepts_excel_bom_and_minimal_columns() -> None:
    text = '\ufeffcode,name,field,processing_days\r\n1.000894,Thủ tục đăng ký kết hôn,Hộ tịch,"0,5"\r\n'
    [p] = cat.load_csv(text.encode("utf-8"))
    assert (p.code, p.processing_days, p.fees, p.level, p.source) == ("1.000894", 0.5, (), None, None)
    assert not cat.dump_csv([p]).startswith("\ufeff")
    assert (
        cat.dump_csv([p])
        .splitlines()[0]
        .startswith("code,name,field,level,processing_days,same_day_cutoff,fees,documents")
    )


def test_load_csv_accepts_semicolons_from_excel_vi() -> None:
    text = "code;name;field;level;processing_hours\n2.000815;Chứng thực bản sao;Chứng thực;Một phần;4\n"
    [p] = cat.load_csv(text)
    assert (p.code, p.field, p.level, p.processing_days) == ("2.000815", "Chứng thực", "mot_phan", 0.5)


def test_files(tmp_path: Path) -> None:
    procs = cat.sample_catalogue()
    for name in ("c.json", "c.CSV"):
        cat.dump_file(tmp_path / name, procs)
        assert cat.load_file(tmp_path / name) == procs
    with pytest.raises(ValidationError) as e:
        cat.load_file(tmp_path / "c.xlsx")
    assert e.value.field == "path"
    with pytest.raises(ValidationError):
        cat.dump_file(str(tmp_path / "c.txt"), procs)
    with pytest.raises(NotFoundError):
        cat.load_file(tmp_path / "absent.json")


# --- validation errors -----------------------------------------------------------------------


def _fee(**over: Any) -> dict[str, Any]:
    return {"fees": [{"name": "Phí", "kind": "fee", "amount": 1000, **over}]}


def _doc(**over: Any) -> dict[str, Any]:
    return {"documents": [{"name": "Tờ khai", "kind": "original", "quantity": 1, **over}]}


@pytest.mark.parametrize(
    ("over", "field"),
    [
        (_fee(amount=-1), "procedures[3].fees[0].amount"),
        (_fee(amount=True), "procedures[3].fees[0].amount"),
        (_fee(amount=1.5), "procedures[3].fees[0].amount"),
        (_fee(amount="8000"), "procedures[3].fees[0].amount"),
        (_fee(kind="tax"), "procedures[3].fees[0].kind"),
        (_fee(name=""), "procedures[3].fees[0].name"),
        (_doc(kind="scan"), "procedures[3].documents[0].kind"),
        (_doc(quantity=0), "procedures[3].documents[0].quantity"),
        (_doc(quantity=100), "procedures[3].documents[0].quantity"),
        (_doc(quantity=False), "procedures[3].documents[0].quantity"),
        ({"documents": ["Tờ khai"]}, "procedures[3].documents[0]"),
        ({"documents": "Tờ khai"}, "procedures[3].documents"),
        ({"fees": {"amount": 1}}, "procedures[3].fees"),
        ({"processing_days": True}, "procedures[3].processing_days"),
        ({"processing_days": "3"}, "procedures[3].processing_days"),
        ({"processing_days": -1}, "procedures[3].processing_days"),
        ({"processing_days": 366}, "procedures[3].processing_days"),
        ({"processing_days": float("nan")}, "procedures[3].processing_days"),
        ({"processing_days": None}, "procedures[3].processing_days"),
        ({"processing_days": 10**400}, "procedures[3].processing_days"),
        ({"processing_days": None, "processing_hours": -8}, "procedures[3].processing_hours"),
        ({"processing_days": None, "processing_hours": False}, "procedures[3].processing_hours"),
        ({"processing_hours": 8}, "procedures[3].processing_hours"),
        ({"same_day_cutoff": "24:00"}, "procedures[3].same_day_cutoff"),
        ({"same_day_cutoff": "3pm"}, "procedures[3].same_day_cutoff"),
        ({"same_day_cutoff": 15}, "procedures[3].same_day_cutoff"),
        ({"name": None}, "procedures[3].name"),
        ({"name": "   "}, "procedures[3].name"),
        ({"name": "x" * 501}, "procedures[3].name"),
        ({"field": None}, "procedures[3].field"),
        ({"code": ""}, "procedures[3].code"),
        ({"code": "1.001 193"}, "procedures[3].code"),
        ({"code": 1.001193}, "procedures[3].code"),
        ({"code": "x" * 65}, "procedures[3].code"),
        ({"level": "level 4"}, "procedures[3].level"),
        ({"level": 4}, "procedures[3].level"),
        ({"source": 7}, "procedures[3].source"),
        ({"source": "x\x00y"}, "procedures[3].source"),
        ({"name": "<script>alert(1)</script>"}, "procedures[3].name"),
        ({"field": "Hộ tịch'; DROP TABLE procedures"}, "procedures[3].field"),
    ],
)
def test_validation_error_fields(over: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as e:
        cat.parse_procedure(_proc(**over), "procedures[3]")
    assert e.value.field == field
    assert e.value.vi and e.value.en and unicodedata.is_normalized("NFC", e.value.vi)


def test_missing_name_says_required() -> None:
    with pytest.raises(ValidationError) as e:
        cat.parse_procedure(_proc(name=None), "procedures[0]")
    assert (e.value.field, e.value.vi) == ("procedures[0].name", "Tên thủ tục không được để trống.")


def test_procedure_must_be_object() -> None:
    with pytest.raises(ValidationError) as e:
        cat.load_json('[{"code": "1.001193"}, 5]')
    assert e.value.field == "procedures[0].name"
    with pytest.raises(ValidationError) as e:
        cat.load_json(json.dumps([_proc(), 5]))
    assert e.value.field == "procedures[1]"


def test_duplicate_code() -> None:
    with pytest.raises(ValidationError) as e:
        cat.load_json(json.dumps([_proc(), _proc(code="2.000815"), _proc()]))
    assert (e.value.field, e.value.code) == ("procedures[2].code", "duplicate")
    with pytest.raises(ValidationError) as e:
        cat.load_csv(cat.dump_csv([cat.parse_procedure(_proc())] * 2))
    assert e.value.field == "procedures[1].code"


def test_malformed_json_reports_line_and_column() -> None:
    with pytest.raises(ValidationError) as e:
        cat.load_json('[\n  {"code": "1"},\n  {"code" 2}\n]')
    assert (e.value.code, e.value.details["line"], e.value.details["column"]) == ("malformed_json", 3, 11)
    assert e.value.vi == "Tệp có JSON sai ở dòng 3, cột 11." and e.value.field == "file"
    with pytest.raises(ValidationError) as e:
        cat.load_json(b"\xff\xfe")
    assert (e.value.field, e.value.code) == ("file", "encoding")
    with pytest.raises(ValidationError) as e:
        cat.load_json('[{"code": "1", "name": "Khai sinh", "field": "Hộ tịch", "processing_days": NaN}]')
    assert e.value.field == "procedures[0].processing_days"


@pytest.mark.parametrize("text", ['{"items": []}', '"x"', "42", "null", '{"procedures": {}}'])
def test_wrong_top_level_type(text: str) -> None:
    with pytest.raises(ValidationError) as e:
        cat.load_json(text)
    assert e.value.field == "procedures"


def test_csv_errors() -> None:
    with pytest.raises(ValidationError) as e:
        cat.load_csv("code,name\n1,x\n")
    assert e.value.field == "header"
    head = "code,name,field,processing_days,fees\n"
    with pytest.raises(ValidationError) as e:
        cat.load_csv(head + "1,Khai sinh,Hộ tịch,ba,[]\n")
    assert e.value.field == "procedures[0].processing_days"
    with pytest.raises(ValidationError) as e:
        cat.load_csv(head + '1,Khai sinh,Hộ tịch,3,[]\n2,Khai tử,Hộ tịch,3,"[{""amount"":}]"\n')
    assert (e.value.field, e.value.code) == ("procedures[1].fees", "malformed_json")
    with pytest.raises(ValidationError) as e:
        cat.load_csv(head + '1,Khai sinh,Hộ tịch,3,"' + "x" * 200_000 + '"\n')
    assert (e.value.field, e.value.code, e.value.details["line"]) == ("file", "malformed_csv", 2)


def test_input_is_not_mutated() -> None:
    raw = _proc(level="một phần", documents=[{"name": "Tờ khai", "kind": "bản sao", "quantity": 1}])
    before = copy.deepcopy(raw)
    cat.parse_procedure(raw)
    assert raw == before


# --- generated round trips -------------------------------------------------------------------

_VI = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
_WORD = st.text(alphabet=_VI + _VI.upper() + "0123456789", min_size=1, max_size=12)
# Punctuation tokens exercise CSV quoting; "-" and "=" are left out so no SQL shape can form.
_TEXT = st.lists(_WORD | st.sampled_from([",", '"', "'", ";", "(", ")", "/", "…", "–"]), min_size=1, max_size=8).map(
    " ".join
)
_MAYBE_NFD = st.tuples(_TEXT, st.booleans()).map(lambda t: unicodedata.normalize("NFD" if t[1] else "NFC", t[0]))
_FEE = st.fixed_dictionaries(
    {"name": _MAYBE_NFD, "kind": st.sampled_from(["fee", "charge", "phí", "lệ phí"]), "amount": st.integers(0, 10**9)}
)
_DOC = st.fixed_dictionaries(
    {
        "name": _MAYBE_NFD,
        "kind": st.sampled_from(["original", "bản chính", "bản sao chứng thực", "photo", "bản sao"]),
        "quantity": st.integers(1, 99),
    }
)
_RAW = st.fixed_dictionaries(
    {
        "code": st.from_regex(r"[0-9A-Za-z.\-_]{1,64}", fullmatch=True),
        "name": _MAYBE_NFD,
        "field": _TEXT,
        "level": st.sampled_from([None, "", "toàn trình", "full", "một phần", "partial", "none"]),
        "processing_days": st.one_of(st.integers(0, 365), st.floats(0, 365, allow_nan=False)),
        "same_day_cutoff": st.one_of(st.none(), st.from_regex(r"([01]\d|2[0-3]):[0-5]\d", fullmatch=True)),
        "fees": st.one_of(st.none(), st.lists(_FEE, max_size=3)),
        "documents": st.one_of(st.none(), st.lists(_DOC, max_size=4)),
        "source": st.one_of(st.none(), _TEXT, st.just('Nguồn: "https://x.vn/?a=1,b=2"\nxem thêm')),
    }
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_RAW, max_size=5, unique_by=lambda r: r["code"].casefold()))
def test_generated_procedures_round_trip(raws: list[dict[str, Any]]) -> None:
    procs = [cat.parse_procedure(r, f"procedures[{i}]") for i, r in enumerate(raws)]
    as_json, as_csv = cat.dump_json(procs), cat.dump_csv(procs)
    assert unicodedata.is_normalized("NFC", as_json) and unicodedata.is_normalized("NFC", as_csv)
    assert cat.load_json(as_json) == procs
    assert cat.load_csv(as_csv) == procs
    assert cat.load_csv(cat.dump_csv(cat.load_json(as_json))) == procs
    for p in procs:
        assert p.level in cat.LEVEL_LABELS and all(s == unicodedata.normalize("NFC", s) for s in _strings(p.to_dict()))
