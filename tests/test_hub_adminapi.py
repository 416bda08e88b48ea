"""The provincial API: dossiers as the hub holds them, blobs, online filing with hub codes, the code partition."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from edge.box import Box
from edge.calendar import TZ
from edge.codeformat import HUB_FIRST, HUB_LAST, SequenceExhaustedError
from edge.codes import allocate_code
from edge.errors import ConflictError, NotFoundError, ValidationError
from edge.events import event_from_wire
from edge.lifecycle import fold
from edge.store.db import write
from sync.hub.db import HubDB
from sync.hub.filing import allocate_hub_code
from sync.hub.users import add_user, check_password, create_token, user_for_token
from tests.conftest import AGENCY, applicant
from tests.hub_fixtures import PASSWORD, DossierWriter, Hub, add_commune, blob_rows, make_hub
from tests.hubproc import drop_pg_database, pg_database

PDF = b"%PDF-1.4 scan of a birth form " + bytes(range(256)) * 4


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    hub = make_hub(tmp_path / "hub")
    add_commune(hub.db, "00001", AGENCY, "Phường Phúc Xá")
    return hub


def filing(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "procedure_code": "1.001193",
        "applicant": applicant(),
        "documents": [{"name": "Tờ khai đăng ký khai sinh", "kind": "original", "quantity": 1}],
        "return_method": "post",
        "return_address": "Số 5 phố Hàng Đào",
        "notes": "Nộp qua Cổng DVC tỉnh",
    }
    body.update(changes)
    return body


def counts(db: HubDB) -> tuple[int, int, int, int]:
    return tuple(int(db.scalar(f"SELECT count(*) FROM {t}")) for t in ("events", "dossiers", "intake_keys", "feed"))  # type: ignore[return-value]


# --- dossiers and blobs -------------------------------------------------------------------------


def test_dossier_as_the_hub_holds_it(hub: Hub) -> None:
    writer = DossierWriter(hub)
    created = writer.create()
    scan = writer.add(
        "attachment_added",
        {
            "sha256": "a" * 64,
            "size": 1234,
            "name": "to-khai.pdf",
            "content_type": "application/pdf",
            "uploaded_by": "canbo",
        },
    )
    writer.add(
        "attachment_added",
        {
            "sha256": "a" * 64,
            "size": 1234,
            "name": "to-khai.pdf",
            "content_type": "application/pdf",
            "uploaded_by": "canbo",
        },
    )
    writer.add("transferred", {"assignee": "lanhdao", "note": ""})
    answer = hub.client().get(f"/api/v1/dossiers/{writer.code}", headers=hub.headers("theodoi"))
    assert answer.status_code == 200
    data = answer.get_json()
    assert (data["code"], data["status"], data["conflict"], data["commune_code"]) == (
        writer.code,
        "processing",
        False,
        "00001",
    )
    assert data["applicant"]["full_name"] == "Nguyễn Văn An" and data["assignee"] == "lanhdao"
    assert [e["kind"] for e in data["events"]] == ["created", "attachment_added", "attachment_added", "transferred"]
    assert data["events"][0]["event_id"] == created["event_id"] and data["events"][1]["payload"] == scan["payload"]
    assert data["attachments"] == [
        {"sha256": "a" * 64, "name": "to-khai.pdf", "size": 1234, "content_type": "application/pdf"}
    ]
    # The events the API gives fold to the state it gives.
    folded = fold([event_from_wire(e) for e in data["events"]])
    assert folded is not None and folded["status"] == data["status"] and folded["last_hlc"] == data["last_hlc"]


def test_dossier_conflict_is_shown(hub: Hub) -> None:
    writer = DossierWriter(hub)
    writer.create()
    writer.add("withdrawn", {"reason": "Công dân rút qua mạng"})
    writer.add("approved", {"note": ""})  # no longer allowed: kept and flagged
    data = hub.client().get(f"/api/v1/dossiers/{writer.code}", headers=hub.headers()).get_json()
    assert data["conflict"] is True and data["status"] == "cancelled"
    assert data["conflicts"][0]["kind"] == "approved"


def test_unknown_dossier_is_404_json(hub: Hub) -> None:
    answer = hub.client().get("/api/v1/dossiers/000.17.22.H56-261125-0001", headers=hub.headers())
    assert answer.status_code == 404
    assert answer.get_json()["code"] == "dossier_not_found" and answer.get_json()["message_en"]
    assert hub.client().get("/api/v1/dossiers/x/dvcqg", headers=hub.headers()).status_code == 404
    assert hub.client().get("/api/v1/dossiers/x").status_code == 401


def test_blob_bytes_only_when_complete(hub: Hub) -> None:
    client = hub.client()
    whole = blob_rows(hub.db, PDF)
    answer = client.get(f"/api/v1/blobs/{whole}", headers=hub.headers("theodoi"))
    assert answer.status_code == 200 and answer.data == PDF and answer.content_type == "application/octet-stream"
    half = blob_rows(hub.db, PDF + b"more", complete=False)
    missing = client.get(f"/api/v1/blobs/{half}", headers=hub.headers())
    assert missing.status_code == 404 and missing.get_json()["code"] == "blob_not_found"
    assert client.get(f"/api/v1/blobs/{'0' * 64}", headers=hub.headers()).status_code == 404
    bad = client.get("/api/v1/blobs/NOT-A-HASH", headers=hub.headers())
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_hash"
    assert client.get(f"/api/v1/blobs/{whole}").status_code == 401


# --- online filing --------------------------------------------------------------------------------


def test_online_filing_gets_a_hub_code_and_flows_down_the_feed(hub: Hub) -> None:
    client = hub.client()
    answer = client.post("/api/v1/communes/00001/dossiers", json=filing(channel="counter"), headers=hub.headers())
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert set(body) == {"code", "dossier_id", "status"}
    assert body["code"] == f"{AGENCY}-261125-8000" and body["status"] == "receiving"
    second = client.post("/api/v1/communes/00001/dossiers", json=filing(), headers=hub.headers()).get_json()
    assert second["code"] == f"{AGENCY}-261125-8001"
    held = client.get(f"/api/v1/dossiers/{body['code']}", headers=hub.headers()).get_json()
    assert held["dossier_id"] == body["dossier_id"] and held["commune_code"] == "00001"
    assert (held["status"], held["channel"], held["received_at"], held["due_at"]) == ("receiving", "online", None, None)
    assert held["return_method"] == "post" and held["return_address"] == "Số 5 phố Hàng Đào"
    [event] = held["events"]
    assert (event["kind"], event["origin"], event["actor"]) == ("created", f"hub:{hub.settings.hub_id}", "quantri")
    assert event["wall_time"] == hub.clock.iso()
    assert event["hlc"].startswith(f"{int(hub.clock() * 1000):015d}.")
    # Exactly the payload the box's intake builds for a created event.
    assert set(event["payload"]) == {"code", "procedure", "applicant", "documents", "channel", "return_method",
                                     "return_address", "status", "received_at", "due_at", "notes"}  # fmt: skip
    assert set(event["payload"]["procedure"]) == {
        "code",
        "name",
        "field",
        "level",
        "processing_days",
        "same_day_cutoff",
        "fees",
    }
    assert event["payload"]["applicant"]["id_number"] == "001099012345"
    assert event["payload"]["notes"] == "Nộp qua Cổng DVC tỉnh"
    feed = hub.db.query("SELECT type, event_id, from_box FROM feed WHERE commune_code = '00001' ORDER BY seq")
    assert ("event", event["event_id"], None) in feed
    # The forward to the national portal is queued.
    assert hub.db.scalar("SELECT wanted_version FROM forwards WHERE dossier_id = ?", [body["dossier_id"]]) == 1


def test_idempotency_key_makes_one_dossier(hub: Hub) -> None:
    client = hub.client()
    headers = {**hub.headers(), "Idempotency-Key": "portal-0001-abcdef"}
    first = client.post("/api/v1/communes/00001/dossiers", json=filing(), headers=headers)
    again = client.post("/api/v1/communes/00001/dossiers", json=filing(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json() == again.get_json()
    assert hub.db.scalar("SELECT count(*) FROM dossiers") == 1
    other = client.post(
        "/api/v1/communes/00001/dossiers",
        json=filing(),
        headers={**hub.headers(), "Idempotency-Key": "portal-0002-abcdef"},
    )
    assert other.status_code == 201 and other.get_json()["code"].endswith("-8001")
    bad = client.post(
        "/api/v1/communes/00001/dossiers", json=filing(), headers={**hub.headers(), "Idempotency-Key": "short"}
    )
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_idempotency_key"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (filing(procedure_code="9.999999"), 422, "unknown_procedure"),
        (filing(procedure_code=""), 422, "required"),
        (filing(applicant=applicant(id_number="12345")), 422, None),
        (filing(applicant=applicant(full_name="")), 422, "required"),
        (filing(return_method="drone"), 422, "invalid_choice"),
        (filing(documents=[{"name": "Tờ khai", "kind": "original", "quantity": 0}]), 422, None),
        (["not", "an", "object"], 422, "invalid_body"),
    ],
)
def test_bad_filings_store_nothing(hub: Hub, body: Any, status: int, code: str | None) -> None:
    before = counts(hub.db)
    answer = hub.client().post("/api/v1/communes/00001/dossiers", json=body, headers=hub.headers())
    assert answer.status_code == status, answer.get_json()
    error = answer.get_json()
    assert error["message"] and error["message_en"] and error["message"] != error["message_en"]
    if code:
        assert error["code"] == code
    assert counts(hub.db) == before
    assert hub.db.scalar("SELECT count(*) FROM code_sequences") == 0


def test_filing_needs_json_a_known_commune_with_an_agency_code_and_an_admin(hub: Hub) -> None:
    client = hub.client()
    raw = client.post("/api/v1/communes/00001/dossiers", data="x", headers=hub.headers())
    assert raw.status_code == 422 and raw.get_json()["code"] == "invalid_body"
    unknown = client.post("/api/v1/communes/09999/dossiers", json=filing(), headers=hub.headers())
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "unknown_commune"
    malformed = client.post("/api/v1/communes/abc/dossiers", json=filing(), headers=hub.headers())
    assert malformed.status_code == 422 and malformed.get_json()["code"] == "invalid_commune_code"
    add_commune(hub.db, "00007", None)
    no_agency = client.post("/api/v1/communes/00007/dossiers", json=filing(), headers=hub.headers())
    assert no_agency.status_code == 409 and no_agency.get_json()["code"] == "no_agency_code"
    assert "--agency-code" in no_agency.get_json()["message_en"]
    viewer = client.post("/api/v1/communes/00001/dossiers", json=filing(), headers=hub.headers("theodoi"))
    assert viewer.status_code == 403 and viewer.get_json()["code"] == "forbidden"
    assert client.post("/api/v1/communes/00001/dossiers", json=filing()).status_code == 401
    assert hub.db.scalar("SELECT count(*) FROM dossiers") == 0


def test_hub_code_day_is_vietnam_time(hub: Hub) -> None:
    # 23:30 UTC on 25/11 is already 26/11 in Vietnam.
    moment = datetime.fromisoformat("2026-11-25T23:30:00+00:00")
    with hub.db.transaction():
        assert allocate_hub_code(hub.db, AGENCY, moment) == f"{AGENCY}-261126-8000"


# --- the code partition -------------------------------------------------------------------------


def test_box_and_hub_codes_for_one_agency_and_day_never_collide(hub: Hub, box: Box) -> None:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
    db = box.db()
    db.execute("INSERT INTO code_sequences (day, last) VALUES ('261125', 7997)")
    box_codes = []
    with write(db):
        box_codes += [allocate_code(db, AGENCY, box.settings.state_dir, now) for _ in range(2)]
    assert box_codes == [f"{AGENCY}-261125-7998", f"{AGENCY}-261125-7999"]
    with pytest.raises(SequenceExhaustedError), write(db):
        allocate_code(db, AGENCY, box.settings.state_dir, now)  # the box stops at 7999, never enters 8000
    with hub.db.transaction():
        hub_codes = [allocate_hub_code(hub.db, AGENCY, now) for _ in range(3)]
    assert hub_codes == [f"{AGENCY}-261125-{n}" for n in (8000, 8001, 8002)]
    assert not set(box_codes) & set(hub_codes)


def test_hub_sequence_ends_at_9999_and_skips_codes_already_held(hub: Hub) -> None:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
    DossierWriter(hub, code=f"{AGENCY}-261125-8000").create()
    with hub.db.transaction():
        assert allocate_hub_code(hub.db, AGENCY, now).endswith("-8001")
        hub.db.execute("UPDATE code_sequences SET last = ? WHERE agency_code = ?", [HUB_LAST - 1, AGENCY])
        assert allocate_hub_code(hub.db, AGENCY, now).endswith(f"-{HUB_LAST}")
    with pytest.raises(SequenceExhaustedError), hub.db.transaction():
        allocate_hub_code(hub.db, AGENCY, now)
    assert int(hub.db.scalar("SELECT last FROM code_sequences WHERE agency_code = ?", [AGENCY])) == HUB_LAST


def _allocate_in_threads(url: str, threads: int, each: int) -> list[str]:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
    out: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work() -> None:
        db = HubDB(url)  # its own connection, as a second hub process would have
        try:
            start.wait()
            for _ in range(each):
                with db.transaction():
                    code = allocate_hub_code(db, AGENCY, now)
                with lock:
                    out.append(code)
        except BaseException as err:  # reported to the test below
            errors.append(err)
        finally:
            db.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors, errors
    return out


def test_concurrent_connections_allocate_distinct_numbers_on_sqlite(hub: Hub) -> None:
    codes = _allocate_in_threads(hub.db.url, 2, 25)
    assert sorted(codes) == [f"{AGENCY}-261125-{n}" for n in range(HUB_FIRST, HUB_FIRST + 50)]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    name = f"motcua_adminapi_{uuid.uuid4().hex[:10]}"
    url = pg_database(name)
    try:
        yield url
    finally:
        drop_pg_database(name)


def test_concurrent_connections_allocate_distinct_numbers_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    hub = make_hub(tmp_path / "pghub", pg_url)
    add_commune(hub.db, "00001", AGENCY)
    codes = _allocate_in_threads(pg_url, 4, 20)
    assert len(codes) == len(set(codes)) == 80
    assert sorted(codes) == [f"{AGENCY}-261125-{n}" for n in range(HUB_FIRST, HUB_FIRST + 80)]
    # And the whole filing works on PostgreSQL too.
    answer = hub.client().post("/api/v1/communes/00001/dossiers", json=filing(), headers=hub.headers())
    assert answer.status_code == 201 and answer.get_json()["code"].endswith("-8080")
    hub.db.close()


# --- hub users and tokens -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "role", "password", "code"),
    [
        ("Quan Tri", "admin", "matkhau-2026", "invalid_username"),
        ("x", "admin", "matkhau-2026", "invalid_username"),
        ("ktv", "officer", "matkhau-2026", "invalid_role"),
        ("ktv", "viewer", "ngan", "weak_password"),
    ],
)
def test_bad_users_are_refused_in_both_languages(hub: Hub, username: str, role: str, password: str, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        add_user(hub.db, username, role, password, hub.clock.iso())
    assert caught.value.code == code and caught.value.vi != caught.value.en
    assert hub.db.scalar("SELECT count(*) FROM users") == 2


def test_users_tokens_and_passwords(hub: Hub) -> None:
    with pytest.raises(ConflictError):
        add_user(hub.db, "quantri", "admin", "matkhau-khac-2026", hub.clock.iso())
    with pytest.raises(NotFoundError):
        create_token(hub.db, "nobody", hub.clock.iso())
    token = create_token(hub.db, "theodoi", hub.clock.iso())
    stored = [r[0] for r in hub.db.query("SELECT token_hash FROM tokens WHERE username = 'theodoi'")]
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored
    assert user_for_token(hub.db, token) == {"username": "theodoi", "role": "viewer"}
    assert user_for_token(hub.db, token + "x") is None and user_for_token(hub.db, "") is None
    assert hub.db.scalar(
        "SELECT last_used_at FROM tokens WHERE token_hash = ?", [hashlib.sha256(token.encode()).hexdigest()]
    )
    assert check_password(hub.db, "quantri", PASSWORD) == {"username": "quantri", "role": "admin"}
    assert check_password(hub.db, "quantri", "sai") is None and check_password(hub.db, "ai-do", PASSWORD) is None
    assert hub.db.scalar("SELECT password_hash FROM users WHERE username = 'quantri'").startswith("scrypt$")
