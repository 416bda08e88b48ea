"""The JSON API against a real `motcua serve` process: the lifecycle, search, paging, attachments, access."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from edge.box import open_box
from edge.calendar import TZ
from edge.config import Settings
from edge.hlc import format_hlc, now_ms
from edge.intake import receive_dossier
from edge.replication import apply_events
from edge.users import User, create_token
from tests.conftest import (
    AGENCY,
    FakeClock,
    Server,
    applicant,
    dossier_body,
    read_url,
    start_server,
    stop_server,
)

USERS = (
    ("canbo", "officer"),
    ("canbo2", "officer"),
    ("lanhdao", "leader"),
    ("quantri", "admin"),
    ("kythuat", "technician"),
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def make_box(root: Path) -> Settings:
    """Create a box with the sample catalogue and one user of each role (as conftest's box_settings)."""
    from tests.hubproc import make_box as make_commune_box  # hubproc reads USERS from this module

    return make_commune_box(root, "00001", AGENCY, "UBND xã Thử Nghiệm")


@contextmanager
def serve_box(settings: Settings, env: dict[str, str] | None = None) -> Iterator[Server]:
    """Serve a box in a real process with a token for every user."""
    box = open_box(settings.data_dir)
    tokens = {username: create_token(box.db(), username) for username, _ in USERS}
    box.close()
    process = start_server(settings, env)
    try:
        yield Server(read_url(process), settings, process, tokens)
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_box(make_box(tmp_path_factory.mktemp("api"))) as server:
        yield server


def post(api: Server, path: str, body: Any = None, user: str = "canbo", **kw: Any) -> requests.Response:
    return requests.post(f"{api.url}/api/v1{path}", json=body, headers=api.headers(user), timeout=10, **kw)


def get(api: Server, path: str, user: str = "canbo", **params: Any) -> requests.Response:
    return requests.get(f"{api.url}/api/v1{path}", params=params, headers=api.headers(user), timeout=10)


def create(api: Server, n: int = 1, **changes: Any) -> dict[str, Any]:
    """Create a dossier for applicant number n (each n gets its own CCCD and phone)."""
    overrides = changes.pop("applicant", {})
    century_sex = "1" if overrides.get("sex") == "female" else "0"  # born in the 1900s
    person = applicant(**{"id_number": f"001{century_sex}99{n:06d}", "phone": f"09{n:08d}", **overrides})
    resp = post(api, "/dossiers", dossier_body(applicant=person, **changes))
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def act(api: Server, code: str, action: str, body: Any = None, status: int = 200, user: str = "canbo") -> Any:
    resp = post(api, f"/dossiers/{code}/actions/{action}", body, user=user)
    assert resp.status_code == status, resp.text
    return resp.json()


def codes(resp: requests.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [item["code"] for item in resp.json()["items"]]


def later(**delta: float) -> str:
    return (datetime.now(TZ) + timedelta(**delta)).isoformat(timespec="seconds")


def test_healthz_and_spec_need_no_token(api: Server) -> None:
    health = requests.get(f"{api.url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert requests.get(f"{api.url}/api/openapi.yaml", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "unauthorized"),
        ({"Authorization": "Bearer mc_wrong"}, "bad_token"),
        ({"Authorization": "Basic x"}, "unauthorized"),
    ],
)
def test_api_needs_a_valid_token(api: Server, headers: dict[str, str], code: str) -> None:
    for path in ("/dossiers", "/procedures"):
        resp = requests.get(f"{api.url}/api/v1{path}", headers=headers, timeout=10)
        assert resp.status_code == 401 and resp.json()["error"]["code"] == code
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    english = requests.get(f"{api.url}/api/v1/dossiers", headers={**headers, "Accept-Language": "en"}, timeout=10)
    assert english.json()["error"]["message"] != resp.json()["error"]["message"]


def test_roles(api: Server) -> None:
    code = create(api)["code"]
    for path in (f"/dossiers/{code}", "/dossiers"):
        resp = get(api, path, user="kythuat")
        assert resp.status_code == 403 and "Kỹ thuật viên" in resp.json()["error"]["message"]
    assert get(api, "/procedures", user="kythuat").status_code == 200  # the catalogue is for everyone
    assert post(api, "/dossiers", dossier_body(), user="kythuat").status_code == 403
    assert get(api, f"/dossiers/{code}", user="quantri").status_code == 200
    assert post(api, "/dossiers", dossier_body(), user="quantri").status_code == 403
    assert post(api, f"/dossiers/{code}/actions/approve", {}, user="quantri").status_code == 403
    denied = post(api, f"/dossiers/{code}/actions/resolve-conflict", {"note": "x"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"


def test_dossier_from_counter_to_result_by_post(api: Server) -> None:
    d = create(api, 11)
    code, first_due = d["code"], d["due_at"]
    assert (d["status"], d["status_code"], d["received_by"]) == ("new", 2, "canbo")
    assert d["received_at"].endswith("+07:00") and first_due.endswith("+07:00")
    step_due = later(days=2)
    d = act(api, code, "transfer", {"assignee": "canbo2", "step_due_at": step_due, "note": "Xử lý giúp"})
    assert (d["status"], d["status_code"], d["assignee"]) == ("processing", 4, "canbo2")
    assert d["steps"] == [
        {"no": 1, "from": "canbo", "assignee": "canbo2", "at": d["updated_at"], "step_due_at": step_due,
         "note": "Xử lý giúp"}
    ]  # fmt: skip
    missing = [{"name": "Giấy chứng sinh", "kind": "original", "quantity": 1}]
    d = act(api, code, "request-supplement", {"reason": "Thiếu giấy chứng sinh", "missing_documents": missing})
    assert (d["status"], d["status_code"]) == ("waiting", 5)
    assert d["supplement"]["missing_documents"] == missing and d["supplement"]["status_before"] == "processing"
    again = act(api, code, "request-supplement", {"reason": "Lần hai"}, status=409)
    assert again["error"]["code"] == "illegal_transition" and "waiting" in again["error"]["message"]
    d = act(api, code, "supplement-received", user="canbo2")
    assert d["status"] == "processing" and d["supplement"]["received_at"] is not None
    assert d["due_at"] >= first_due and "request-supplement" not in d["allowed_actions"]
    once = act(api, code, "request-supplement", {"reason": "Lần hai"}, status=409)
    assert once["error"]["code"] == "supplement_already_requested"
    d = act(api, code, "request-payment", {})
    fees = sum(f["amount"] for f in d["procedure"]["fees"])
    assert (d["status"], d["status_code"], d["payment"]["amount"]) == ("paying", 6, fees)
    d = act(api, code, "approve", {"note": "Đã ký"})
    assert (d["status"], d["status_code"], d["outcome"]["kind"]) == ("releasing", 9, "approved")
    assert d["finished_at"] is not None and d["allowed_actions"] == ["return-result"]
    d = act(api, code, "return-result", {"method": "post"})
    assert (d["status"], d["status_code"], d["return"]["method"]) == ("done", 10, "post")
    assert d["returned_at"] == d["return"]["at"] and d["allowed_actions"] == []
    late = act(api, code, "withdraw", {"reason": "Muộn"}, status=409)
    assert "done" in late["error"]["message"] and "Đã trả kết quả" in late["error"]["message"]
    full = get(api, f"/dossiers/{code}").json()
    assert [e["kind"] for e in full["events"]] == [
        "created", "transferred", "supplement_requested", "supplement_received", "payment_requested", "approved",
        "result_returned",
    ]  # fmt: skip
    assert [e["actor"] for e in full["events"]][3] == "canbo2"
    assert {k: v for k, v in full.items() if k != "events"} == d


def test_online_dossier_waits_until_received(api: Server) -> None:
    d = create(api, 12, channel="online", return_method="post")
    assert (d["status"], d["status_code"], d["received_at"], d["due_at"]) == ("receiving", 1, None, None)
    assert d["return_address"] == "Số 12 phố Hàng Bạc" and "receive" in d["allowed_actions"]
    d = act(api, d["code"], "receive", {}, user="canbo2")
    assert (d["status"], d["status_code"], d["received_by"]) == ("new", 2, "canbo2")
    assert d["due_at"] > d["received_at"] and d["original_due_at"] == d["due_at"]
    assert act(api, d["code"], "receive", {}, status=409)["error"]["code"] == "illegal_transition"


def test_reschedule_before_the_due_date(api: Server) -> None:
    d = create(api, 13)
    new_due = (datetime.fromisoformat(d["due_at"]) + timedelta(days=7)).isoformat()
    earlier = act(api, d["code"], "reschedule", {"reason": "Cần xác minh", "new_due_at": d["received_at"]}, 422)
    assert earlier["error"]["field"] == "new_due_at"
    moved = act(api, d["code"], "reschedule", {"reason": "Cần xác minh thêm", "new_due_at": new_due})
    assert moved["due_at"] == new_due and moved["original_due_at"] == d["due_at"] and moved["status"] == "new"
    assert moved["reschedules"][0]["old_due_at"] == d["due_at"]


@pytest.mark.parametrize(
    ("before", "action", "status", "code"),
    [([], "refuse", "denied", 3), ([], "withdraw", "cancelled", 7), (["transfer"], "stop", "unresolved", 8)],
)
def test_ending_without_a_result(api: Server, before: list[str], action: str, status: str, code: int) -> None:
    d = create(api, 14)
    for step in before:
        act(api, d["code"], step, {"assignee": "canbo2"})
    d = act(api, d["code"], action, {"reason": "Công dân đề nghị"})
    assert (d["status"], d["status_code"], d["outcome"]["reason"]) == (status, code, "Công dân đề nghị")
    assert d["finished_at"] is not None and d["allowed_actions"] == []
    refused = act(api, d["code"], "approve", {}, status=409)["error"]["message"]
    assert f"({status})" in refused


@contextmanager
def local_box(api: Server, moment: datetime) -> Iterator[Any]:
    """Open the served box in this process with a clock stopped at `moment` (same SQLite file)."""
    box = open_box(api.settings.data_dir, clock=FakeClock(moment))
    try:
        yield box
    finally:
        box.close()


def test_overdue_filter_and_reschedule_after_due(api: Server) -> None:
    with local_box(api, datetime(2025, 3, 3, 9, 0, tzinfo=TZ)) as box:
        person = applicant(full_name="Lò Văn Quá Hạn", id_number="001099100001", phone="0981000001")
        old = receive_dossier(box, User("canbo", "officer"), dossier_body(applicant=person))["code"]
    fresh = create(api, 15)["code"]
    assert old in codes(get(api, "/dossiers", overdue="true", limit=200))
    assert fresh not in codes(get(api, "/dossiers", overdue="true", limit=200))
    assert fresh in codes(get(api, "/dossiers", overdue="false", limit=200))
    assert old not in codes(get(api, "/dossiers", overdue="false", limit=200))
    listed = get(api, "/dossiers", q="lo van qua han").json()["items"]
    assert [(i["code"], i["overdue"]) for i in listed] == [(old, True)]
    assert get(api, f"/dossiers/{old}").json()["overdue"] is True
    refused = act(api, old, "reschedule", {"reason": "Xin lỗi", "new_due_at": later(days=3)}, status=409)
    assert refused["error"]["code"] == "reschedule_after_due"


def test_status_filter_by_key_and_by_code(api: Server) -> None:
    new = create(api, 16)["code"]
    processing = create(api, 17)["code"]
    act(api, processing, "transfer", {"assignee": "canbo2"})
    by_key, by_code = codes(get(api, "/dossiers", status="processing")), codes(get(api, "/dossiers", status="4"))
    assert by_key == by_code and processing in by_key and new not in by_key
    both = codes(get(api, "/dossiers", status="new,4", limit=200))
    assert {new, processing} <= set(both)
    assert new in codes(get(api, "/dossiers", status="2", limit=200))
    assert processing in codes(get(api, "/dossiers", assignee="canbo2", limit=200))


def test_search_ignores_accents_and_case(api: Server) -> None:
    d = create(api, 18, applicant={"full_name": "Hoàng Thị Thuỳ Dương", "sex": "female"}, procedure_code="1.001193")
    assert d["applicant"]["id_number"] == "001199000018"
    for q in ("hoang thi thuy duong", "HOÀNG THỊ", "thuy duong", "Hoang Duong", d["applicant"]["id_number"],
              d["applicant"]["phone"], d["code"]):  # fmt: skip
        assert codes(get(api, "/dossiers", q=q)) == [d["code"]], q
    assert codes(get(api, "/dossiers", q="hoang thi thuy duong xyz")) == []
    assert codes(get(api, "/dossiers", q="thuy duong", procedure_code="1.001193")) == [d["code"]]
    assert codes(get(api, "/dossiers", q="thuy duong", procedure_code="2.000000")) == []


def test_paging_with_a_cursor(api: Server) -> None:
    made = [create(api, 20 + i, applicant={"full_name": "Đặng Văn Trang"})["code"] for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"q": "dang van trang", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = get(api, "/dossiers", **params).json()
        seen += [i["code"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == made[::-1]  # newest first, each once


def test_conflict_from_another_origin_is_resolved_by_a_leader(api: Server) -> None:
    d = create(api, 19)
    act(api, d["code"], "approve", {})
    act(api, d["code"], "return-result", {})
    withdrawn_online = {
        "event_id": str(uuid.uuid4()), "dossier_id": d["dossier_id"], "kind": "withdrawn",
        "payload": {"reason": "Rút trên cổng dịch vụ công"}, "actor": "portal", "origin": "hub:portal",
        "wall_time": later(), "hlc": format_hlc(now_ms() + 60_000, 0),
    }  # fmt: skip
    with local_box(api, datetime.now(TZ)) as box:
        assert apply_events(box, [withdrawn_online])["conflicts"] == 1
    flagged = get(api, f"/dossiers/{d['code']}").json()
    assert flagged["conflict"] is True and flagged["status"] == "done"
    assert flagged["conflicts"][0]["kind"] == "withdrawn" and flagged["allowed_actions"] == ["resolve-conflict"]
    assert d["code"] in codes(get(api, "/dossiers", conflict="true", limit=200))
    assert act(api, d["code"], "resolve-conflict", {"note": "Đã trả"}, status=403)["error"]["code"] == "forbidden"
    done = act(
        api, d["code"], "resolve-conflict", {"note": "Kết quả đã trả tại quầy", "status": "done"}, user="lanhdao"
    )
    assert done["conflict"] is False and done["resolutions"][0]["by"] == "lanhdao"
    assert (
        act(api, d["code"], "resolve-conflict", {"note": "Lần hai"}, 409, "lanhdao")["error"]["code"] == "no_conflict"
    )


def upload(api: Server, code: str, name: str, data: bytes, user: str = "canbo", lang: str | None = None) -> Any:
    return requests.post(
        f"{api.url}/api/v1/dossiers/{code}/attachments",
        files={"file": (name, data)},
        headers=api.headers(user, lang),
        timeout=30,
    )


def blob_files(api: Server) -> list[Path]:
    return [p for p in api.settings.blob_dir.rglob("*") if p.is_file()]


def test_attachments(api: Server) -> None:
    code = create(api, 30)["code"]
    first = upload(api, code, "Giấy khai sinh.png", PNG)
    assert first.status_code == 201, first.text
    info = first.json()
    assert info == {"sha256": hashlib.sha256(PNG).hexdigest(), "size": len(PNG), "name": "Giấy khai sinh.png",
                    "content_type": "image/png"}  # fmt: skip
    files = blob_files(api)
    again = upload(api, code, "ban-sao.png", PNG)
    assert again.status_code == 201 and again.json()["sha256"] == info["sha256"]
    assert blob_files(api) == files  # stored once per content
    pdf = upload(api, code, "to-khai.pdf", PDF).json()
    assert pdf["content_type"] == "application/pdf"
    state = get(api, f"/dossiers/{code}").json()
    assert [a["sha256"] for a in state["attachments"]] == [info["sha256"], pdf["sha256"]]
    for sha, data, kind in ((info["sha256"], PNG, "image/png"), (pdf["sha256"], PDF, "application/pdf")):
        down = get(api, f"/dossiers/{code}/attachments/{sha}")
        assert down.status_code == 200 and down.content == data and down.headers["Content-Type"] == kind
    assert get(api, f"/dossiers/{code}/attachments/{'0' * 64}").status_code == 404
    assert get(api, f"/dossiers/{code}/attachments/not-a-hash").status_code == 404
    assert get(api, f"/dossiers/{code}/attachments/{pdf['sha256']}", user="kythuat").status_code == 403


def test_attachment_that_is_not_a_scan_is_refused(api: Server) -> None:
    code = create(api, 31)["code"]
    files = blob_files(api)
    refused = upload(api, code, "ghi-chu.pdf", "Tôi là văn bản thường".encode())
    assert refused.status_code == 422
    assert refused.json()["error"] == {
        "code": "file_type",
        "message": "Chỉ nhận tệp PDF, JPEG hoặc PNG.",
        "field": "file",
    }
    english = upload(api, code, "notes.txt", b"plain text", lang="en").json()["error"]["message"]
    assert english == "Only PDF, JPEG or PNG files are accepted."
    assert blob_files(api) == files and get(api, f"/dossiers/{code}").json()["attachments"] == []
    assert upload(api, "000.17.22.H56-000000-0000", "a.png", PNG).status_code == 404
    assert upload(api, code, "a.png", PNG, user="kythuat").status_code == 403
    no_file = requests.post(f"{api.url}/api/v1/dossiers/{code}/attachments", data={"x": "1"}, headers=api.headers())
    assert no_file.status_code == 422 and no_file.json()["error"]["field"] == "file"


def test_attachment_size_limit_from_the_environment(tmp_path: Path) -> None:
    with serve_box(make_box(tmp_path), {"MOTCUA_MAX_UPLOAD_MB": "0.05"}) as small:
        code = create(small)["code"]
        assert upload(small, code, "vua.png", PNG + b"\0" * 40_000).status_code == 201
        for size in (60_000, 5_000_000):
            started = time.monotonic()
            resp = upload(small, code, "lon.png", PNG + b"\0" * size)
            assert resp.status_code == 413, resp.text
            assert time.monotonic() - started < 5
            assert resp.json()["error"]["code"] in ("file_too_large", "too_large")
            assert "0.05 MB" in resp.json()["error"]["message"]
        assert len(get(small, f"/dossiers/{code}").json()["attachments"]) == 1


def test_idempotency_key_makes_one_dossier(api: Server) -> None:
    headers = {**api.headers(), "Idempotency-Key": "retry-0001-abcdef"}
    first = requests.post(f"{api.url}/api/v1/dossiers", json=dossier_body(), headers=headers, timeout=10)
    again = requests.post(f"{api.url}/api/v1/dossiers", json=dossier_body(), headers=headers, timeout=10)
    assert first.status_code == 201 and again.status_code == 201
    assert again.json()["code"] == first.json()["code"]
