"""Bad input over HTTP: every one a 4xx with a clear JSON error in the caller's language, nothing half-written."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
import requests

from tests.conftest import Server, applicant, dossier_body
from tests.test_api import make_box, serve_box

# Letters that only Vietnamese text has: a message with none of them is not in Vietnamese.
VIETNAMESE = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_box(make_box(tmp_path_factory.mktemp("errors"))) as server:
        yield server


@pytest.fixture(scope="module")
def code(api: Server) -> str:
    """A dossier in status `new` to act on."""
    resp = requests.post(f"{api.url}/api/v1/dossiers", json=dossier_body(), headers=api.headers(), timeout=10)
    assert resp.status_code == 201
    found: str = resp.json()["code"]
    return found


def counts(api: Server) -> tuple[int, int]:
    """Return (dossiers, events) as the SQLite file holds them."""
    with closing(sqlite3.connect(api.settings.db_path)) as db:
        row = db.execute("SELECT (SELECT count(*) FROM dossiers), (SELECT count(*) FROM dossier_events)").fetchone()
    return int(row[0]), int(row[1])


def send(api: Server, method: str, path: str, lang: str | None = None, **kw: Any) -> requests.Response:
    headers = api.headers("canbo", lang) | kw.pop("headers", {})
    return requests.request(method, f"{api.url}{path}", headers=headers, timeout=30, **kw)


def refused(api: Server, method: str, path: str, status: int, **kw: Any) -> dict[str, Any]:
    """Send the request in Vietnamese and in English; check both errors; nothing may change."""
    before = counts(api)
    vi = send(api, method, path, **kw)
    en = send(api, method, path, lang="en", **kw)
    assert counts(api) == before, "a refused request changed the database"
    for resp in (vi, en):
        assert resp.status_code == status, resp.text
        assert resp.headers["Content-Type"] == "application/json"
        assert set(resp.json()) == {"error"} and {"code", "message"} <= set(resp.json()["error"])
    err_vi, err_en = vi.json()["error"], en.json()["error"]
    assert VIETNAMESE & set(err_vi["message"].lower()), err_vi["message"]
    assert not VIETNAMESE & set(err_en["message"].lower().replace("đồng", "")), err_en["message"]  # the currency
    assert err_vi["code"] == err_en["code"] and err_vi.get("field") == err_en.get("field")
    error: dict[str, Any] = err_vi
    return error


def with_applicant(**changes: object) -> dict[str, object]:
    return dossier_body(applicant=applicant(**changes))


def with_document(**changes: object) -> dict[str, object]:
    return dossier_body(documents=[{"name": "Tờ khai", "kind": "original", "quantity": 1, **changes}])


# (id, raw body, status, error code, field)
UNREADABLE = [
    ("malformed", b'{"procedure_code": "1.001193",', 400, "malformed_json", None),
    ("not-utf8", b'{"procedure_code": "Th\xe9"}', 400, "malformed_json", None),
    ("nested-deep", b"[" * 100_000 + b"]" * 100_000, 400, "malformed_json", None),
    ("huge-integer", b'{"procedure_code": ' + b"9" * 5000 + b"}", 400, "malformed_json", None),
    ("nan", json.dumps(dossier_body(notes=float("nan"))).encode(), 400, "malformed_json", None),
    ("array", b"[]", 422, "invalid_body", None),
    ("string", b'"1.001193"', 422, "invalid_body", None),
    ("null", b"null", 422, "invalid_body", None),
    ("empty", b"", 422, "required", "procedure_code"),
]


@pytest.mark.parametrize(
    ("raw", "status", "error", "field"), [c[1:] for c in UNREADABLE], ids=[c[0] for c in UNREADABLE]
)
def test_body_that_is_not_a_json_object(api: Server, raw: bytes, status: int, error: str, field: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    got = refused(api, "POST", "/api/v1/dossiers", status, data=raw, headers=headers)
    assert (got["code"], got.get("field")) == (error, field)


SQL = "Robert'); DROP TABLE dossiers;--"
BAD_FIELDS = [
    ("no-procedure", {k: v for k, v in dossier_body().items() if k != "procedure_code"}, "procedure_code"),
    ("procedure-number", dossier_body(procedure_code=1001193), "procedure_code"),
    ("unknown-procedure", dossier_body(procedure_code="9.999999"), "procedure_code"),
    ("no-applicant", {k: v for k, v in dossier_body().items() if k != "applicant"}, "applicant"),
    ("applicant-list", dossier_body(applicant=["Nguyễn Văn An"]), "applicant"),
    ("no-name", with_applicant(full_name=""), "applicant.full_name"),
    ("name-number", with_applicant(full_name=42), "applicant.full_name"),
    ("name-too-long", with_applicant(full_name="An " * 40), "applicant.full_name"),
    ("name-control", with_applicant(full_name="Nguyễn\x00Văn An"), "applicant.full_name"),
    ("name-bidi", with_applicant(full_name="Nguyễn\u202eVăn An"), "applicant.full_name"),
    ("name-newline", with_applicant(full_name="Nguyễn\nVăn An"), "applicant.full_name"),
    ("name-html", with_applicant(full_name="<b>Nguyễn Văn An</b>"), "applicant.full_name"),
    ("name-sql", with_applicant(full_name=SQL), "applicant.full_name"),
    ("cccd-short", with_applicant(id_number="00109901234"), "applicant.id_number"),
    ("cccd-letters", with_applicant(id_number="00109901234X"), "applicant.id_number"),
    ("cccd-province", with_applicant(id_number="999099012345"), "applicant.id_number"),
    ("cccd-sex", with_applicant(id_number="001199012345"), "applicant.id_number"),
    ("cccd-year", with_applicant(id_number="001088012345"), "applicant.id_number"),
    ("cccd-number", with_applicant(id_number=1099012345), "applicant.id_number"),
    ("cmnd-length", with_applicant(id_type="cmnd", id_number="1234567"), "applicant.id_number"),
    ("id-type", with_applicant(id_type="bang_lai"), "applicant.id_type"),
    ("birth-format", with_applicant(date_of_birth="04/03/1999"), "applicant.date_of_birth"),
    ("birth-impossible", with_applicant(date_of_birth="1999-02-30"), "applicant.date_of_birth"),
    ("birth-future", with_applicant(date_of_birth="2999-01-01", id_number="001499012345"), "applicant.date_of_birth"),
    ("sex", with_applicant(sex="nam"), "applicant.sex"),
    ("phone", with_applicant(phone="12345"), "applicant.phone"),
    ("phone-number", with_applicant(phone=912345678), "applicant.phone"),
    ("email", with_applicant(email="an.nguyen@"), "applicant.email"),
    ("address-control", with_applicant(address="Số 12\x07 Hàng Bạc"), "applicant.address"),
    ("address-sql", with_applicant(address="Số 1; DROP TABLE dossiers"), "applicant.address"),
    ("address-html", with_applicant(address="<script>alert(1)</script>"), "applicant.address"),
    ("documents-object", dossier_body(documents={"name": "Tờ khai"}), "documents"),
    ("document-string", dossier_body(documents=["Tờ khai"]), "documents[0]"),
    ("document-kind", with_document(kind="ban_goc"), "documents[0].kind"),
    ("document-quantity-text", with_document(quantity="1"), "documents[0].quantity"),
    ("document-quantity-zero", with_document(quantity=0), "documents[0].quantity"),
    ("document-html", with_document(name="<img src=x onerror=alert(1)>"), "documents[0].name"),
    ("document-sql", with_document(name="Tờ khai'; DELETE FROM dossiers; --"), "documents[0].name"),
    ("channel", dossier_body(channel="fax"), "channel"),
    ("return-method", dossier_body(return_method="drone"), "return_method"),
    ("post-without-address", dossier_body(return_method="post", applicant=applicant(address=None)), "return_address"),
    ("notes-number", dossier_body(notes=5), "notes"),
    ("notes-control", dossier_body(notes="Ghi chú\x1b[31m"), "notes"),
    ("notes-html", dossier_body(notes="<script>alert('x')</script>"), "notes"),
    ("notes-sql", dossier_body(notes="x' OR 1=1 --"), "notes"),
]


@pytest.mark.parametrize(("body", "field"), [c[1:] for c in BAD_FIELDS], ids=[c[0] for c in BAD_FIELDS])
def test_bad_field_is_refused(api: Server, body: dict[str, object], field: str) -> None:
    assert refused(api, "POST", "/api/v1/dossiers", 422, json=body)["field"] == field


def test_ten_megabyte_name_is_refused_quickly(api: Server) -> None:
    started = time.monotonic()
    error = refused(api, "POST", "/api/v1/dossiers", 413, json=with_applicant(full_name="A" * 10_000_000))
    assert time.monotonic() - started < 5 and error["code"] == "too_large"


def test_a_refused_dossier_leaves_no_code_behind(api: Server) -> None:
    first = send(api, "POST", "/api/v1/dossiers", json=dossier_body()).json()["code"]
    refused(api, "POST", "/api/v1/dossiers", 422, json=with_applicant(id_number="999099012345"))
    second = send(api, "POST", "/api/v1/dossiers", json=dossier_body()).json()["code"]
    assert int(second[-4:]) == int(first[-4:]) + 1


BAD_ACTIONS = [
    ("unknown-action", "frobnicate", {}, 404, "unknown_action", None),
    ("body-array", "refuse", [], 422, "invalid_body", None),
    ("no-reason", "refuse", {}, 422, "text_required|text_type", "reason"),  # edge says text_type for now
    ("reason-number", "withdraw", {"reason": 5}, 422, "text_type", "reason"),
    ("reason-control", "stop", {"reason": "Dừng\x00"}, 422, "text_control_char", "reason"),
    ("reason-html", "refuse", {"reason": "<iframe src=//x>"}, 422, "text_markup", "reason"),
    ("reason-sql", "refuse", {"reason": "x'; DROP TABLE dossier_events; --"}, 422, "text_injection", "reason"),
    ("no-assignee", "transfer", {}, 422, "required", "assignee"),
    ("unknown-assignee", "transfer", {"assignee": "khongco"}, 422, "unknown_assignee", "assignee"),
    ("technician-assignee", "transfer", {"assignee": "kythuat"}, 422, "invalid_assignee", "assignee"),
    ("step-due-past", "transfer", {"assignee": "canbo2", "step_due_at": "2020-01-01T08:00:00+07:00"}, 422,
     "step_due_in_past", "step_due_at"),
    ("step-due-text", "transfer", {"assignee": "canbo2", "step_due_at": "thứ hai"}, 422, "invalid_datetime",
     "step_due_at"),
    ("missing-documents-text", "request-supplement", {"reason": "Thiếu", "missing_documents": "CCCD"}, 422,
     "invalid_type", "missing_documents"),
    ("amount-negative", "request-payment", {"amount": -1}, 422, "invalid_amount", "amount"),
    ("amount-text", "request-payment", {"amount": "8000"}, 422, "invalid_amount", "amount"),
    ("return-too-early", "return-result", {"method": "post"}, 409, "illegal_transition", None),
    ("no-new-due", "reschedule", {"reason": "Xin lỗi"}, 422, "required", "new_due_at"),
    ("new-due-year-1", "reschedule", {"reason": "Xin lỗi", "new_due_at": "0001-01-01T00:00:00+07:00"}, 422,
     "date_out_of_range", "new_due_at"),
    ("not-allowed", "supplement-received", {}, 409, "illegal_transition", None),
    ("officer-resolves", "resolve-conflict", {"note": "Xử lý"}, 403, "forbidden", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("action", "body", "status", "error", "field"), [c[1:] for c in BAD_ACTIONS], ids=[c[0] for c in BAD_ACTIONS]
)
def test_bad_action_is_refused(
    api: Server, code: str, action: str, body: object, status: int, error: str, field: str | None
) -> None:
    got = refused(api, "POST", f"/api/v1/dossiers/{code}/actions/{action}", status, json=body)
    assert got["code"] in error.split("|") and got.get("field") == field


def test_illegal_transition_names_the_current_status(api: Server, code: str) -> None:
    error = refused(api, "POST", f"/api/v1/dossiers/{code}/actions/supplement-received", 409)
    assert "“Đã tiếp nhận” (new)" in error["message"]
    english = send(api, "POST", f"/api/v1/dossiers/{code}/actions/supplement-received", lang="en").json()
    assert "“Received” (new)" in english["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/api/v1/dossiers/000.17.22.H56-260101-9999", 404, "dossier_not_found"),
        ("POST", "/api/v1/dossiers/000.17.22.H56-260101-9999/actions/approve", 404, "dossier_not_found"),
        ("GET", "/api/v1/procedures/9.999999", 404, "unknown_procedure"),
        ("GET", "/api/v1/procedures/9.999999/due-date", 404, "unknown_procedure"),
        ("GET", "/api/v1/khong-co", 404, "not_found"),
        ("GET", "/api/khong-co", 404, "not_found"),
        ("DELETE", "/api/v1/dossiers", 405, "method_not_allowed"),
        ("PUT", "/api/v1/procedures", 405, "method_not_allowed"),
        ("GET", "/api/v1/dossiers/x/actions/approve", 405, "method_not_allowed"),
        ("POST", "/healthz", 405, "method_not_allowed"),
    ],
)
def test_unknown_addresses_and_methods(api: Server, method: str, path: str, status: int, error: str) -> None:
    assert refused(api, method, path, status)["code"] == error
    if status == 405:
        assert send(api, method, path).headers["Allow"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "xong"}, "status"),
        ({"status": "11"}, "status"),
        ({"overdue": "co"}, "overdue"),
        ({"conflict": "2"}, "conflict"),
        ({"limit": "0"}, "limit"),
        ({"limit": "nhieu"}, "limit"),
        ({"cursor": "-5"}, "cursor"),
        ({"due_within_days": "1000"}, "due_within_days"),
    ],
)
def test_bad_list_query(api: Server, query: dict[str, str], field: str) -> None:
    assert refused(api, "GET", "/api/v1/dossiers", 422, params=query)["field"] == field


@pytest.mark.parametrize(
    "received_at", ["hôm nay", "2026-13-01T09:00:00+07:00", "0001-01-01T00:00:00+07:00", "9999-12-31T23:00:00+07:00"]
)
def test_bad_due_date_query(api: Server, received_at: str) -> None:
    refused(api, "GET", "/api/v1/procedures/1.001193/due-date", 422, params={"received_at": received_at})


def test_json_over_one_megabyte_is_refused(api: Server, code: str) -> None:
    padding = {"reason": "Lý do", "note": "x" * 2_000_000}
    assert refused(api, "POST", f"/api/v1/dossiers/{code}/actions/refuse", 413, json=padding)["code"] == "too_large"


def test_search_text_is_only_text(api: Server) -> None:
    for q in ("'; DROP TABLE dossiers; --", "NEAR(xyz qwv)", "zzz OR yyy", "<script>", "%zz_"):
        resp = send(api, "GET", "/api/v1/dossiers", params={"q": q})
        assert resp.status_code == 200 and resp.json()["items"] == [], q
    everything = send(api, "GET", "/api/v1/dossiers").json()
    assert everything["items"]
    for q in ('"', "*", "\x00", "  ", "-"):  # no words at all: no filter
        assert send(api, "GET", "/api/v1/dossiers", params={"q": q}).json() == everything, q


FALSY_NOT_TEXT = [
    ("birth-list", with_applicant(date_of_birth=[]), "applicant.date_of_birth"),
    ("sex-object", with_applicant(sex={}), "applicant.sex"),
    ("phone-zero", with_applicant(phone=0), "applicant.phone"),
    ("email-false", with_applicant(email=False), "applicant.email"),
    ("address-list", with_applicant(address=[]), "applicant.address"),
    ("notes-object", dossier_body(notes={}), "notes"),
]


@pytest.mark.parametrize(("body", "field"), [c[1:] for c in FALSY_NOT_TEXT], ids=[c[0] for c in FALSY_NOT_TEXT])
def test_empty_value_of_the_wrong_type_is_refused(api: Server, body: dict[str, object], field: str) -> None:
    assert refused(api, "POST", "/api/v1/dossiers", 422, json=body)["field"] == field
