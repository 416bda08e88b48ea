"""The /sync/v1 endpoints through Flask's test client, and once through a real `motcua hub serve`."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from sync.hub.app import create_hub_app
from sync.hub.boxes import add_box, revoke_box
from sync.hub.config import HubSettings, init_hub
from sync.hub.db import HubDB
from sync.protocol import decode_ack, encode_batch
from tests.hub_support import AGENCY, dossier_events, signed, wire_event

START = 1795600000.0  # 2026-11-25, a fixed hub clock


class Clock:
    """A hub clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@dataclass
class Box:
    """An enrolled box: its id, commune and HMAC key."""

    box_id: str
    commune_code: str
    secret: bytes


@dataclass
class Hub:
    """A hub app under test with its database and clock."""

    settings: HubSettings
    db: HubDB
    clock: Clock
    app: Flask
    client: FlaskClient

    def enroll(self, commune_code: str = "00001", box_id: str | None = None) -> Box:
        """Add a box record and enroll it over HTTP."""
        _, code = add_box(self.db, commune_code, f"Hộp xã {commune_code}", AGENCY)
        box_id = box_id or str(uuid.uuid4())
        answer = self.client.post("/sync/v1/enroll", json=enrollment(code, box_id, commune_code))
        assert answer.status_code == 200, answer.json
        return Box(box_id, commune_code, bytes.fromhex(answer.json["secret"]))  # type: ignore[index]

    def call(
        self,
        box: Box,
        method: str,
        path: str,
        body: bytes = b"",
        query: str | None = None,
        headers: dict[str, str] | None = None,
        now: float | None = None,
    ) -> TestResponse:
        """Send a request signed by the box."""
        sig = signed(box.secret, box.box_id, method, path, body, query, now=int(now or self.clock.now))
        return self.client.open(
            path + (f"?{query}" if query else ""), method=method, data=body, headers={**sig, **(headers or {})}
        )

    def count(self, table: str) -> int:
        return int(self.db.scalar(f"SELECT count(*) FROM {table}"))


def enrollment(code: str, box_id: str, commune_code: str = "00001") -> dict[str, Any]:
    return {
        "code": code,
        "box_id": box_id,
        "commune_code": commune_code,
        "agency_code": AGENCY,
        "name": "UBND xã Thử Nghiệm",
        "version": "0.9.0",
    }


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    settings = dataclasses.replace(
        init_hub(tmp_path / "hub"), public_urls=("https://hub1.example.vn", "https://hub2.example.vn")
    )
    db = HubDB(settings.database_url)
    clock = Clock()
    app = create_hub_app(settings, db, clock)
    yield Hub(settings, db, clock, app, app.test_client())
    db.close()


def batch(box: Box, events: list[dict[str, Any]]) -> bytes:
    return encode_batch(events, box_id=box.box_id, batch_id=str(uuid.uuid4()))


# --- enrollment ------------------------------------------------------------------------------


def test_enrollment_answers_the_secret_once(hub: Hub) -> None:
    _, code = add_box(hub.db, "00001", "Hộp xã A", AGENCY)
    answer = hub.client.post("/sync/v1/enroll", json=enrollment(code, "box-1"))
    assert answer.status_code == 200
    body = answer.json or {}
    assert body["box_id"] == "box-1" and body["commune_code"] == "00001" and body["agency_code"] == AGENCY
    assert len(body["secret"]) == 64 and body["hub_id"] == hub.settings.hub_id
    assert body["hubs"] == ["https://hub1.example.vn", "https://hub2.example.vn"]
    assert answer.headers["X-Motcua-Hub-Time"] == str(int(START * 1000))
    again = hub.client.post("/sync/v1/enroll", json=enrollment(code, "box-1"))
    assert (again.status_code, (again.json or {})["code"]) == (400, "bad_enrollment_code")
    assert again.json and again.json["message"] and again.json["message_en"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        (b"[1, 2]", 400, "malformed_json"),
        (json.dumps({"code": "X"}).encode(), 422, "invalid_field"),
        (json.dumps({**enrollment("X", "box-1"), "version": 3}).encode(), 422, "invalid_field"),
        (json.dumps({**enrollment("X", "box 1")}).encode(), 422, "invalid_box_id"),
        (json.dumps({**enrollment("X", "box-1"), "commune_code": "1"}).encode(), 422, "invalid_commune_code"),
        (json.dumps(enrollment("AAAA-BBBB-CCCC-DDDD", "box-1")).encode(), 400, "bad_enrollment_code"),
    ],
)
def test_bad_enrollment_requests_are_refused(hub: Hub, body: bytes, status: int, code: str) -> None:
    add_box(hub.db, "00001", "Hộp xã A", AGENCY)
    answer = hub.client.post("/sync/v1/enroll", data=body, content_type="application/json")
    assert (answer.status_code, (answer.json or {})["code"]) == (status, code)
    assert hub.db.scalar("SELECT count(*) FROM boxes WHERE enrolled_at IS NOT NULL") == 0


def test_enrollment_conflicts(hub: Hub) -> None:
    _, code = add_box(hub.db, "00001", "Hộp xã A", AGENCY)
    answer = hub.client.post("/sync/v1/enroll", json=enrollment(code, "box-1", "00002"))
    assert (answer.status_code, (answer.json or {})["code"]) == (409, "commune_mismatch")
    hub.enroll("00001", "box-1")
    _, second = add_box(hub.db, "00001", "Hộp xã A", AGENCY)
    answer = hub.client.post("/sync/v1/enroll", json=enrollment(second, "box-1"))
    assert (answer.status_code, (answer.json or {})["code"]) == (409, "box_already_enrolled")


# --- signatures ------------------------------------------------------------------------------


def _refusal(answer: TestResponse) -> tuple[int, str]:
    body = answer.json or {}
    assert body.get("message") and body.get("message_en"), body
    assert "X-Motcua-Hub-Time" in answer.headers
    return answer.status_code, body["code"]


def test_every_signature_refusal_has_its_code_and_stores_nothing(hub: Hub) -> None:
    box = hub.enroll()
    body = batch(box, dossier_events(1))
    path = "/sync/v1/events"
    assert _refusal(hub.client.post(path, data=body)) == (401, "bad_request_signature_headers")
    stranger = Box("box-stranger", "00001", b"x" * 32)
    assert _refusal(hub.call(stranger, "POST", path, body)) == (401, "unknown_box")
    sig = signed(box.secret, box.box_id, "POST", path, b"other body", now=int(START))
    assert _refusal(hub.client.post(path, data=body, headers=sig)) == (401, "body_hash_mismatch")
    assert _refusal(hub.call(box, "POST", path, body, now=START - 301)) == (401, "stale_timestamp")
    assert _refusal(hub.call(box, "POST", path, body, now=START + 301)) == (401, "stale_timestamp")
    forged = Box(box.box_id, box.commune_code, b"y" * 32)
    assert _refusal(hub.call(forged, "POST", path, body)) == (401, "bad_signature")
    sig = signed(box.secret, box.box_id, "POST", "/sync/v1/heartbeat", body, now=int(START))  # another path
    assert _refusal(hub.client.post(path, data=body, headers=sig)) == (401, "bad_signature")
    assert hub.count("events") == 0 and hub.count("nonces") == 0
    sig = signed(box.secret, box.box_id, "POST", path, body, now=int(START))
    assert hub.client.post(path, data=body, headers=sig).status_code == 200
    assert _refusal(hub.client.post(path, data=body, headers=sig)) == (401, "replayed_nonce")
    revoke_box(hub.db, box.box_id)
    assert _refusal(hub.call(box, "POST", path, body)) == (403, "revoked_box")
    assert hub.count("events") == 1


def test_signed_query_must_match(hub: Hub) -> None:
    box = hub.enroll()
    path = "/sync/v1/communes/00001/feed"
    sig = signed(box.secret, box.box_id, "GET", path, b"", "after=0", now=int(START))
    answer = hub.client.get(path + "?after=5", headers=sig)
    assert _refusal(answer) == (401, "bad_signature")
    assert hub.call(box, "GET", path, query="after=0&limit=10").status_code == 200


def test_last_seen_is_recorded_on_a_verified_request(hub: Hub) -> None:
    box = hub.enroll()
    assert hub.db.scalar("SELECT last_seen_at FROM boxes") is None
    hub.call(box, "GET", "/sync/v1/communes/00001/feed")
    assert hub.db.scalar("SELECT last_seen_at FROM boxes") == "2026-11-25T16:46:40+07:00"


# --- push --------------------------------------------------------------------------------------


def test_push_answers_an_ack(hub: Hub) -> None:
    box = hub.enroll()
    events = dossier_events(1, extra=1)
    bad = wire_event(events[0]["dossier_id"], "note_added", {"text": "x"}, hlc="1")
    answer = hub.call(
        box,
        "POST",
        "/sync/v1/events",
        batch(box, [*events, bad]),
        headers={"Content-Type": "application/vnd.motcua.batch+gzip"},
    )
    assert answer.status_code == 200
    ack = decode_ack(answer.data)
    assert ack.accepted == [e["event_id"] for e in events]
    assert [(r.event_id, r.code) for r in ack.rejected] == [(bad["event_id"], "malformed_event")]
    again = decode_ack(hub.call(box, "POST", "/sync/v1/events", batch(box, events)).data)
    assert again.accepted == [] and again.already_held == ack.accepted
    assert hub.db.scalar("SELECT from_box FROM events LIMIT 1") == box.box_id


def test_pushing_for_another_communes_dossier_is_refused_per_event(hub: Hub) -> None:
    a, b = hub.enroll("00001"), hub.enroll("00002")
    events = dossier_events(1)
    hub.call(a, "POST", "/sync/v1/events", batch(a, events))
    intruder = wire_event(events[0]["dossier_id"], "withdrawn", {"reason": "x"}, hlc="001790000000005.000000")
    mine = dossier_events(2)
    ack = decode_ack(hub.call(b, "POST", "/sync/v1/events", batch(b, [intruder, *mine])).data)
    assert [(r.event_id, r.code) for r in ack.rejected] == [(intruder["event_id"], "wrong_commune")]
    assert ack.accepted == [mine[0]["event_id"]]
    assert hub.db.scalar("SELECT status FROM dossiers WHERE dossier_id = ?", [events[0]["dossier_id"]]) == "new"


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda box: b"not gzip at all", 422, "malformed_batch"),
        (lambda box: gzip.compress(b"{broken"), 422, "malformed_batch"),
        (
            lambda box: gzip.compress(json.dumps({"batch_id": "x", "box_id": box.box_id, "events": []}).encode()),
            422,
            "malformed_batch",
        ),
        (lambda box: batch(box, [wire_event("d", "note_added")] * 2), 422, "malformed_batch"),
        (lambda box: batch(box, [wire_event(f"d{i}", "note_added") for i in range(2001)]), 413, "batch_too_large"),
        (lambda box: encode_batch(dossier_events(1), box_id="box-other", batch_id=str(uuid.uuid4())), 403, "wrong_box"),
    ],
)
def test_unreadable_batches_store_nothing(hub: Hub, make: Any, status: int, code: str) -> None:
    box = hub.enroll()
    answer = hub.call(box, "POST", "/sync/v1/events", make(box))
    assert _refusal(answer) == (status, code)
    assert hub.count("events") == 0 and hub.count("feed") == 0


# --- blobs -------------------------------------------------------------------------------------


def _head(hub: Hub, box: Box, sha: str) -> tuple[int, str, str]:
    answer = hub.call(box, "HEAD", f"/sync/v1/blobs/{sha}")
    return answer.status_code, answer.headers["X-Motcua-Blob-Offset"], answer.headers["X-Motcua-Blob-Complete"]


def test_blob_upload_resumes_from_what_the_hub_holds(hub: Hub) -> None:
    box = hub.enroll()
    data = os.urandom(3000)
    sha = hashlib.sha256(data).hexdigest()
    path = f"/sync/v1/blobs/{sha}"
    assert _head(hub, box, sha) == (200, "0", "0")
    first = hub.call(box, "PUT", path, data[:1000], f"offset=0&size={len(data)}")
    assert (first.status_code, first.json) == (200, {"offset": 1000, "complete": False})
    assert _head(hub, box, sha) == (200, "1000", "0")
    stale = hub.call(box, "PUT", path, data[:1000], f"offset=0&size={len(data)}")
    assert _refusal(stale) == (409, "offset_mismatch") and (stale.json or {})["offset"] == 1000
    done = hub.call(box, "PUT", path, data[1000:], f"offset=1000&size={len(data)}")
    assert done.json == {"offset": 3000, "complete": True}
    assert _head(hub, box, sha) == (200, "3000", "1")


def test_blob_whose_hash_does_not_match_is_discarded(hub: Hub) -> None:
    box = hub.enroll()
    sha = hashlib.sha256(b"the real scan").hexdigest()
    answer = hub.call(box, "PUT", f"/sync/v1/blobs/{sha}", b"something else", "offset=0&size=14")
    assert _refusal(answer) == (422, "blob_hash_mismatch")
    assert _head(hub, box, sha) == (200, "0", "0")
    assert hub.count("blob_chunks") == 0


def test_blob_request_checks(hub: Hub) -> None:
    box = hub.enroll()
    sha = hashlib.sha256(b"x").hexdigest()
    assert hub.call(box, "HEAD", "/sync/v1/blobs/not-a-sha").status_code == 400
    assert _refusal(hub.call(box, "PUT", "/sync/v1/blobs/" + sha.upper(), b"x", "offset=0&size=1")) == (
        400,
        "bad_blob_name",
    )
    assert _refusal(hub.call(box, "PUT", f"/sync/v1/blobs/{sha}", b"x", "offset=-1&size=1")) == (422, "bad_blob_size")
    assert _refusal(hub.call(box, "PUT", f"/sync/v1/blobs/{sha}", b"x", "size=1")) == (422, "bad_blob_size")
    big = b"z" * (hub.settings.max_chunk_bytes + 1)
    assert _refusal(hub.call(box, "PUT", f"/sync/v1/blobs/{sha}", big, f"offset=0&size={len(big)}")) == (
        413,
        "chunk_too_large",
    )
    assert hub.count("blobs") == 0


# --- feed ---------------------------------------------------------------------------------------


def test_feed_is_only_for_the_boxs_own_commune(hub: Hub) -> None:
    a, b = hub.enroll("00001"), hub.enroll("00001")
    events = dossier_events(1)
    hub.call(a, "POST", "/sync/v1/events", batch(a, events))
    mine = hub.call(a, "GET", "/sync/v1/communes/00001/feed", query="after=0").json or {}
    assert mine["head"] == 1 and mine["items"][0]["type"] == "own_event"
    theirs = hub.call(b, "GET", "/sync/v1/communes/00001/feed").json or {}
    assert theirs["items"] == [{"seq": 1, "type": "event", "event": events[0]}]
    assert _refusal(hub.call(a, "GET", "/sync/v1/communes/00002/feed")) == (403, "wrong_commune")
    assert _refusal(hub.call(a, "GET", "/sync/v1/communes/00001/feed", query="limit=1001")) == (422, "invalid_field")
    assert _refusal(hub.call(a, "GET", "/sync/v1/communes/00001/feed", query="after=x")) == (422, "invalid_field")


# --- heartbeat ----------------------------------------------------------------------------------


def _heartbeat(taken_at: str, version: str = "0.9.0", **more: Any) -> bytes:
    body = {"taken_at": taken_at, "version": version, "uptime_s": 12, "outbox_events": 3, "devices": [], **more}
    return json.dumps(body).encode()


def test_heartbeats_are_kept_and_the_newest_wins(hub: Hub) -> None:
    box = hub.enroll()
    newer = hub.call(box, "POST", "/sync/v1/heartbeat", _heartbeat("2026-11-25T10:00:00+07:00", "1.1"))
    assert newer.status_code == 200 and (newer.json or {})["hub_time"] == int(START * 1000)
    older = hub.call(box, "POST", "/sync/v1/heartbeat", _heartbeat("2026-11-25T02:30:00Z", "1.0"))
    assert older.status_code == 200
    assert hub.count("heartbeats") == 2
    at, version, body = hub.db.one("SELECT last_heartbeat_at, version, last_heartbeat FROM boxes") or ()
    assert (at, version) == ("2026-11-25T10:00:00+07:00", "1.1")
    assert json.loads(body)["outbox_events"] == 3


@pytest.mark.parametrize(
    "body",
    [
        b"nope",
        json.dumps({"version": "1"}).encode(),
        _heartbeat("2026-11-25T10:00:00"),
        _heartbeat("2026-11-25T10:00:00+07:00", uptime_s="long"),
        _heartbeat("2026-11-25T10:00:00+07:00", devices=[{"name": "printer"}]),
        _heartbeat("2026-11-25T10:00:00+07:00", last_push_error=5),
    ],
)
def test_bad_heartbeats_store_nothing(hub: Hub, body: bytes) -> None:
    box = hub.enroll()
    answer = hub.call(box, "POST", "/sync/v1/heartbeat", body)
    assert answer.status_code in (400, 422) and _refusal(answer)
    assert hub.count("heartbeats") == 0 and hub.db.scalar("SELECT last_heartbeat FROM boxes") is None


def test_unknown_routes_and_methods_answer_json(hub: Hub) -> None:
    assert _refusal(hub.client.get("/sync/v1/nowhere")) == (404, "not_found")
    assert _refusal(hub.client.delete("/sync/v1/events")) == (405, "method_not_allowed")


# --- a real hub process ----------------------------------------------------------------------


def _http(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def test_real_hub_process_serves_signed_sync(tmp_path: Path) -> None:
    settings = init_hub(tmp_path / "hub")
    db = HubDB(settings.database_url)
    _, code = add_box(db, "00001", "Hộp xã A", AGENCY)
    db.close()
    process = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "hub", "serve", "--data", str(settings.data_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Máy chủ tỉnh đang chạy tại http://127.0.0.1:"), line
        url = line.split()[-1]
        body = json.dumps(enrollment(code, "box-real")).encode()
        status, answer, headers = _http(url + "/sync/v1/enroll", "POST", body, {"Content-Type": "application/json"})
        assert status == 200 and "X-Motcua-Hub-Time" in headers
        box = Box("box-real", "00001", bytes.fromhex(json.loads(answer)["secret"]))
        events = dossier_events(1)
        payload = batch(box, events)
        sig = signed(box.secret, box.box_id, "POST", "/sync/v1/events", payload)
        status, answer, _ = _http(url + "/sync/v1/events", "POST", payload, sig)
        assert status == 200 and decode_ack(answer).accepted == [events[0]["event_id"]]
        status, answer, _ = _http(url + "/sync/v1/events", "POST", payload, sig)
        assert (status, json.loads(answer)["code"]) == (401, "replayed_nonce")
        path = "/sync/v1/communes/00001/feed"
        sig = signed(box.secret, box.box_id, "GET", path, b"", "after=0&limit=5")
        status, answer, _ = _http(url + path + "?after=0&limit=5", headers=sig)
        assert status == 200 and json.loads(answer)["items"][0]["type"] == "own_event"
        # The path the hub checks is the one on the request line, not the decoded one it routes by.
        raw = path.replace("00001", "0000%31")
        sig = signed(box.secret, box.box_id, "GET", path, b"")
        status, answer, _ = _http(url + raw, headers=sig)
        assert (status, json.loads(answer)["code"]) == (401, "bad_signature")
        sig = signed(box.secret, box.box_id, "GET", raw, b"")
        assert _http(url + raw, headers=sig)[0] == 200
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
