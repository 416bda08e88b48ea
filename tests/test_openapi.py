"""ui/openapi.yaml is a valid OpenAPI document, and the real server answers exactly as it says."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.testing import MockRequest, MockResponse
from openapi_spec_validator import validate

from edge.box import open_box
from edge.calendar import TZ
from edge.dossier_fields import CHANNELS, RETURN_METHODS
from edge.hlc import format_hlc, now_ms
from edge.lifecycle import ACTIONS, STATUSES
from edge.replication import apply_events
from tests.conftest import Server, dossier_body
from tests.test_api import PDF, PNG, make_box, serve_box

SPEC_PATH = Path(str(resources.files("ui").joinpath("openapi.yaml")))
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
CONTRACT = {
    "/healthz": {"get"},
    "/api/openapi.yaml": {"get"},
    "/api/v1/dossiers": {"get", "post"},
    "/api/v1/dossiers/{code}": {"get"},
    "/api/v1/dossiers/{code}/actions/{action}": {"post"},
    "/api/v1/dossiers/{code}/attachments": {"post"},
    "/api/v1/dossiers/{code}/attachments/{sha256}": {"get"},
    "/api/v1/procedures": {"get"},
    "/api/v1/procedures/{code}": {"get"},
    "/api/v1/procedures/{code}/due-date": {"get"},
    "/api/v1/queue/services": {"get"},
    "/api/v1/queue/counters": {"get"},
    "/api/v1/queue/priorities": {"get"},
    "/api/v1/queue/tickets": {"post"},
    "/api/v1/queue/events": {"get"},
    "/api/v1/ratings": {"post"},
    "/api/v1/counters/{counter}/call-next": {"post"},
    "/api/v1/dossiers/{code}/payments": {"post"},
    "/api/v1/payments/{id}": {"get"},
    "/api/v1/payments/{id}/confirm": {"post"},
    "/api/v1/payments/{id}/refund": {"post"},
    "/api/v1/payments/{id}/cancel": {"post"},
    "/api/v1/payments/bank-notification": {"post"},
    "/api/v1/cashups/{day}": {"get"},
}


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC_PATH))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_box(make_box(tmp_path_factory.mktemp("openapi"))) as server:
        yield server


class Checker:
    """Send requests to the real server and validate each response (and sound requests) against the spec."""

    def __init__(self, openapi: OpenAPI, api: Server) -> None:
        self.openapi, self.api = openapi, api
        self.statuses: set[int] = set()

    def __call__(self, method: str, path: str, status: int, user: str | None = "canbo", **kw: Any) -> Any:
        headers = (self.api.headers(user) if user else {}) | kw.pop("headers", {})
        resp = requests.request(method, f"{self.api.url}{path}", headers=headers, timeout=30, **kw)
        assert resp.status_code == status, resp.text
        request = RequestsOpenAPIRequest(resp.request)
        self.openapi.validate_response(request, RequestsOpenAPIResponse(resp))
        if status < 400:
            self.openapi.validate_request(request)
        self.statuses.add(status)
        return resp.json() if resp.headers["Content-Type"] == "application/json" else resp.content


@pytest.fixture
def check(openapi: OpenAPI, api: Server) -> Checker:
    return Checker(openapi, api)


def schema(name: str) -> dict[str, Any]:
    found: dict[str, Any] = SPEC["components"]["schemas"][name]
    return found


def test_spec_is_valid_openapi() -> None:
    validate(SPEC)
    assert SPEC["openapi"].startswith("3.1")


def test_spec_describes_the_contract() -> None:
    assert {path: set(item) - {"parameters"} for path, item in SPEC["paths"].items()} == CONTRACT
    bearer = SPEC["components"]["securitySchemes"]["bearerAuth"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert SPEC["security"] == [{"bearerAuth": []}]
    assert SPEC["paths"]["/healthz"]["get"]["security"] == []
    assert SPEC["paths"]["/api/openapi.yaml"]["get"]["security"] == []
    assert schema("StatusKey")["enum"] == list(STATUSES)
    assert schema("Action")["enum"] == list(ACTIONS)
    assert schema("Channel")["enum"] == list(CHANNELS)
    assert schema("ReturnMethod")["enum"] == list(RETURN_METHODS)
    assert schema("DocumentKind")["enum"] == ["original", "certified_copy", "photocopy"]
    applicant = schema("ApplicantInput")["properties"]
    assert set(applicant) == {"full_name", "id_type", "id_number", "date_of_birth", "sex", "phone", "email", "address"}
    assert applicant["id_type"]["enum"] == ["cccd", "cmnd", "passport"]
    assert set(schema("DossierInput")["properties"]) == {
        "procedure_code", "applicant", "documents", "channel", "return_method", "return_address", "notes"
    }  # fmt: skip


def test_served_spec_is_the_packaged_file(check: Checker) -> None:
    served = check("GET", "/api/openapi.yaml", 200, user=None)
    assert served == SPEC_PATH.read_bytes()


def test_spec_rejects_an_unknown_or_missing_key(openapi: OpenAPI, api: Server) -> None:
    created = requests.post(f"{api.url}/api/v1/dossiers", json=dossier_body(), headers=api.headers(), timeout=10).json()
    detail = requests.get(f"{api.url}/api/v1/dossiers/{created['code']}", headers=api.headers(), timeout=10).json()
    page = requests.get(f"{api.url}/api/v1/dossiers", headers=api.headers(), timeout=10).json()
    proc = requests.get(f"{api.url}/api/v1/procedures/1.001193", headers=api.headers(), timeout=10).json()

    def valid(method: str, path: str, data: dict[str, Any], status: int = 200) -> bool:
        response = MockResponse(json.dumps(data).encode(), status_code=status, content_type="application/json")
        try:
            openapi.validate_response(MockRequest("http://127.0.0.1", method, path), response)
        except Exception:
            return False
        return True

    create, get_one = ("post", "/api/v1/dossiers"), ("get", f"/api/v1/dossiers/{created['code']}")
    assert valid(*create, created, 201) and valid(*get_one, detail) and valid("get", "/api/v1/dossiers", page)
    assert not valid(*create, created | {"surprise": 1}, 201)
    assert not valid(*create, {k: v for k, v in created.items() if k != "due_at"}, 201)
    assert not valid(*create, created | {"status": "finished"}, 201)
    assert not valid(*create, created | {"applicant": created["applicant"] | {"nickname": "An"}}, 201)
    assert not valid(*create, created | {"procedure": created["procedure"] | {"documents": []}}, 201)
    assert not valid(*get_one, {k: v for k, v in detail.items() if k != "events"})
    assert not valid(*get_one, detail | {"events": [detail["events"][0] | {"seq": 1}]})
    assert not valid("get", "/api/v1/dossiers", {"items": [page["items"][0] | {"id": 1}], "next_cursor": None})
    assert not valid("get", "/api/v1/procedures/1.001193", proc | {"surprise": 1})
    assert not valid("get", "/api/v1/dossiers/x", {"error": {"code": "x", "message": "y", "detail": "z"}}, 404)


def test_dossier_responses(check: Checker, api: Server) -> None:
    soon = (datetime.now(TZ) + timedelta(days=2)).isoformat(timespec="seconds")
    d = check("POST", "/api/v1/dossiers", 201, json=dossier_body(notes="Nộp tại quầy"))
    code = d["code"]
    check("GET", f"/api/v1/dossiers/{code}", 200)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("reschedule", {"reason": "Cần xác minh", "new_due_at": (datetime.fromisoformat(d["due_at"]) + timedelta(days=9)).isoformat()}),
        ("transfer", {"assignee": "canbo2", "step_due_at": soon, "note": "Nhờ xử lý"}),
        ("request-supplement", {"reason": "Thiếu giấy", "missing_documents": [{"name": "Giấy chứng sinh", "kind": "original", "quantity": 1}]}),
        ("supplement-received", {}),
        ("request-payment", {"amount": 8000}),
        ("approve", {"note": "Đã ký"}),
        ("return-result", {"method": "post"}),
    ]  # fmt: skip
    for action, body in steps:
        check("POST", f"/api/v1/dossiers/{code}/actions/{action}", 200, json=body)
    online = check("POST", "/api/v1/dossiers", 201, json=dossier_body(channel="online", return_method="post"))
    assert online["received_at"] is None and online["due_at"] is None
    check("POST", f"/api/v1/dossiers/{online['code']}/actions/receive", 200)
    check("POST", f"/api/v1/dossiers/{online['code']}/actions/refuse", 200, json={"reason": "Sai thẩm quyền"})
    for action in ("withdraw", "stop"):
        other = check("POST", "/api/v1/dossiers", 201, json=dossier_body())["code"]
        check("POST", f"/api/v1/dossiers/{other}/actions/{action}", 200, json={"reason": "Công dân đề nghị"})
    conflict = {
        "event_id": str(uuid.uuid4()), "dossier_id": d["dossier_id"], "kind": "withdrawn", "payload": {"reason": "Rút"},
        "actor": "portal", "origin": "hub:portal", "wall_time": soon, "hlc": format_hlc(now_ms() + 60_000, 0),
    }  # fmt: skip
    box = open_box(api.settings.data_dir)
    try:
        apply_events(box, [conflict])
    finally:
        box.close()
    flagged = check("GET", f"/api/v1/dossiers/{code}", 200)
    assert flagged["conflict"] and len(flagged["events"]) == 9
    body = {"note": "Đã trả tại quầy", "status": "done"}
    check("POST", f"/api/v1/dossiers/{code}/actions/resolve-conflict", 200, user="lanhdao", json=body)
    for params in (
        {},
        {"status": "done,3", "q": "nguyen van an", "limit": 1},
        {"overdue": "false", "conflict": "false"},
    ):
        page = check("GET", "/api/v1/dossiers", 200, params=params)
    assert page["items"] and page["next_cursor"] is None
    paged = check("GET", "/api/v1/dossiers", 200, params={"limit": 1})
    check("GET", "/api/v1/dossiers", 200, params={"limit": 1, "cursor": paged["next_cursor"]})


def test_error_responses(check: Checker) -> None:
    code = check("POST", "/api/v1/dossiers", 201, json=dossier_body())["code"]
    check("POST", "/api/v1/dossiers", 400, data=b"{not json", headers={"Content-Type": "application/json"})
    check("GET", "/api/v1/dossiers", 401, user=None)
    check("GET", f"/api/v1/dossiers/{code}", 401, headers={"Authorization": "Bearer mc_wrong"}, user=None)
    check("GET", f"/api/v1/dossiers/{code}", 403, user="kythuat")
    check("POST", f"/api/v1/dossiers/{code}/actions/resolve-conflict", 403, json={"note": "x"})
    check("GET", "/api/v1/dossiers/000.17.22.H56-260101-9999", 404)
    check("POST", f"/api/v1/dossiers/{code}/actions/khong-co", 404, json={})
    check("GET", "/api/v1/procedures/9.999999", 404)
    check("POST", f"/api/v1/dossiers/{code}/actions/return-result", 409, json={})
    check("POST", "/api/v1/dossiers", 413, json=dossier_body(notes="x" * 1_100_000))
    check("POST", "/api/v1/dossiers", 422, json=dossier_body(procedure_code="9.999999"))
    check("POST", "/api/v1/dossiers", 422, json=dossier_body(applicant={"full_name": "An", "id_number": "12"}))
    check("GET", "/api/v1/dossiers", 422, params={"status": "xong"})
    check("POST", f"/api/v1/dossiers/{code}/actions/transfer", 422, json={"assignee": "khongco"})
    assert check.statuses == {201, 400, 401, 403, 404, 409, 413, 422}


def test_procedure_responses(check: Checker) -> None:
    items = check("GET", "/api/v1/procedures", 200, user="kythuat")["items"]
    assert len(items) >= 25
    assert [p["code"] for p in check("GET", "/api/v1/procedures", 200, params={"q": "khai sinh"})["items"]]
    one = check("GET", "/api/v1/procedures/1.001193", 200)
    assert one["documents"] and one["fees"]
    due = check("GET", "/api/v1/procedures/1.001193/due-date", 200, params={"received_at": "2026-11-25T09:00:00+07:00"})
    assert due == {
        "procedure_code": "1.001193",
        "received_at": "2026-11-25T09:00:00+07:00",
        "due_at": "2026-11-25T17:00:00+07:00",
    }
    check("GET", "/api/v1/procedures/1.001193/due-date", 200)
    check("GET", "/api/v1/procedures/1.001193/due-date", 422, params={"received_at": "hôm qua"})


def test_attachment_responses(check: Checker) -> None:
    code = check("POST", "/api/v1/dossiers", 201, json=dossier_body())["code"]
    for name, data in (("scan.png", PNG), ("to-khai.pdf", PDF)):
        info = check("POST", f"/api/v1/dossiers/{code}/attachments", 201, files={"file": (name, data)})
        assert check("GET", f"/api/v1/dossiers/{code}/attachments/{info['sha256']}", 200) == data
    check("GET", f"/api/v1/dossiers/{code}", 200)
    check("POST", f"/api/v1/dossiers/{code}/attachments", 422, files={"file": ("a.txt", b"plain text")})
    check("GET", f"/api/v1/dossiers/{code}/attachments/{'0' * 64}", 404)


def test_health_response(check: Checker) -> None:
    assert check("GET", "/healthz", 200, user=None)["status"] == "ok"


def test_queue_responses(check: Checker) -> None:
    services = check("GET", "/api/v1/queue/services", 200)
    assert [s["prefix"] for s in services] == ["A", "B", "C", "D"]
    assert [c["number"] for c in check("GET", "/api/v1/queue/counters", 200)] == [1, 2, 3]
    groups = check("GET", "/api/v1/queue/priorities", 200)
    assert [(p["code"], p["weight"]) for p in groups] == [("elderly", 2), ("disabled", 2), ("pregnant", 2)]
    ticket = check("POST", "/api/v1/queue/tickets", 201, json={"service": "CT"})
    assert (ticket["number"], ticket["waiting_ahead"], ticket["state"]) == ("B001", 0, "waiting")
    elderly = check("POST", "/api/v1/queue/tickets", 201, json={"service": "CT", "priority": "elderly"})
    assert elderly["waiting_ahead"] == 0
    check("POST", "/api/v1/queue/tickets", 422, json={"service": "ZZ"})
    check("POST", "/api/v1/queue/tickets", 422, json={"service": "CT", "priority": "vip"})
    called = check("POST", "/api/v1/counters/2/call-next", 200)
    assert (called["number"], called["counter"], called["state"]) == (elderly["number"], 2, "called")
    check("POST", "/api/v1/counters/2/call-next", 200)
    check("POST", "/api/v1/counters/2/call-next", 204)
    check("POST", "/api/v1/counters/9/call-next", 404)
    check("POST", "/api/v1/counters/1/call-next", 403, user="kythuat")


def test_rating_responses(check: Checker) -> None:
    ticket = check("POST", "/api/v1/queue/tickets", 201, json={"service": "DD"})
    rated = check("POST", "/api/v1/ratings", 201, json={"ticket": ticket["number"], "score": 5})
    assert (rated["score"], rated["label_vi"]) == (5, "Rất hài lòng")
    created = check("POST", "/api/v1/dossiers", 201, json=dossier_body())
    assert check("POST", "/api/v1/ratings", 201, json={"dossier_code": created["code"], "score": 2})["label_vi"] == (
        "Không hài lòng"
    )
    for body in ({"score": 4}, {"ticket": "Z999", "score": 4}, {"ticket": ticket["number"], "score": 9},
                 {"dossier_code": "không-có", "score": 3}, {"ticket": ticket["number"], "score": True}):  # fmt: skip
        check("POST", "/api/v1/ratings", 422, json=body)
