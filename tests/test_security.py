"""Security of the box's web app and files: CSRF on every form, sessions, sign-in throttling, secret files."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from edge import intake
from edge.box import open_box
from edge.config import Settings
from edge.throttle import ADDRESS_LIMIT, USER_LIMIT
from edge.users import User, add_user
from sync.client.push import encode_pack
from sync.hub.app import create_hub_app
from sync.hub.boxes import revoke_box
from sync.hub.config import init_hub
from sync.hub.db import HubDB
from sync.protocol import decode_ack
from sync.protocol.office import encode_office_batch
from tests.conftest import PASSWORD, FakeClock, dossier_body
from tests.hub_support import dossier_events, signed, wire_event
from tests.test_hub_syncapi import START, _heartbeat, batch
from tests.test_hub_syncapi import Box as SyncBox
from tests.test_hub_syncapi import Clock as SyncClock
from tests.test_hub_syncapi import Hub as SyncHub
from tests.test_office_sync import rating
from tests.test_role_matrix import ROUTES
from ui.app import create_app

CSRF_PAGE = "Biểu mẫu đã hết hạn"
THROTTLED = "Đăng nhập sai quá nhiều lần"


@pytest.fixture
def protected(box_settings: Settings, clock: FakeClock) -> Iterator[tuple[Flask, str]]:
    """The app as served: CSRF on; a kiosk account and one dossier."""
    box = open_box(box_settings.data_dir, clock=clock)
    add_user(box.db(), "kiosk1", "kiosk", PASSWORD, "Kiosk sảnh")
    code = intake.receive_dossier(box, User("canbo", "officer"), dossier_body())["code"]
    yield create_app(box, {"TESTING": True}), code
    box.close()


@pytest.fixture
def app(box_settings: Settings, clock: FakeClock) -> Iterator[Flask]:
    box = open_box(box_settings.data_dir, clock=clock)
    yield create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True})
    box.close()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found.group(1)


def signed_in(flask_app: Flask, username: str) -> FlaskClient:
    client = flask_app.test_client()
    resp = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert resp.status_code == 302, resp.text
    return client


# --- CSRF -----------------------------------------------------------------------------------------


def form_posts(flask_app: Flask) -> list[str]:
    """Every endpoint of the app that takes a POSTed form (the JSON API authenticates by token instead)."""
    return sorted(
        rule.endpoint
        for rule in flask_app.url_map.iter_rules()
        if "POST" in (rule.methods or set()) and not rule.endpoint.startswith("api.")
    )


def test_every_form_refuses_a_post_without_its_csrf_token(protected: tuple[Flask, str]) -> None:
    flask_app, code = protected
    endpoints = form_posts(flask_app)
    assert len(endpoints) > 30 and "intake.save" in endpoints and "auth.login" in endpoints
    for username in ("lanhdao", "quantri", "kythuat", "kiosk1"):  # each form is refused before its role is checked
        client = signed_in(flask_app, username)
        for endpoint in endpoints:
            url = ROUTES[(endpoint, "POST")].url.format(code=code)
            for data in ({}, {"csrf_token": "gia-mao"}):
                resp = client.post(url, data=data)
                assert resp.status_code == 400 and CSRF_PAGE in resp.text, (username, endpoint, data)
    client = flask_app.test_client()
    for endpoint in endpoints:  # and without a session at all
        resp = client.post(ROUTES[(endpoint, "POST")].url.format(code=code), data={})
        assert resp.status_code == 400 and CSRF_PAGE in resp.text, endpoint


def test_the_token_is_what_the_forms_check(protected: tuple[Flask, str]) -> None:
    flask_app, code = protected
    client = signed_in(flask_app, "lanhdao")
    token = csrf_token(client, "/intake")
    for endpoint in [e for e in form_posts(flask_app) if e != "auth.logout"] + ["auth.logout"]:  # sign out last
        resp = client.post(ROUTES[(endpoint, "POST")].url.format(code=code), data={"csrf_token": token})
        resp.close()
        assert CSRF_PAGE not in resp.text, endpoint
    other = signed_in(flask_app, "canbo")  # another session's token is no good here
    resp = other.post("/counter/1/call-next", data={"csrf_token": token})
    assert resp.status_code == 400 and CSRF_PAGE in resp.text


# --- sessions -------------------------------------------------------------------------------------


def session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("motcua_session")
    return cookie.value if cookie else None


def test_sign_in_gives_a_new_session_and_sign_out_empties_it(protected: tuple[Flask, str]) -> None:
    flask_app, _ = protected
    client = flask_app.test_client()
    token = csrf_token(client)
    before = session_cookie(client)
    assert before
    with client.session_transaction() as planted:  # what an attacker could have put in the session before
        planted["planted"] = "x"
    resp = client.post("/login", data={"username": "canbo", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    after = session_cookie(client)
    assert after and after != before
    with client.session_transaction() as current:
        assert current.get("user") == "canbo" and "planted" not in current and "csrf_token" not in current
    assert client.get("/").status_code == 200
    logout = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert logout.status_code == 302
    with client.session_transaction() as emptied:
        assert "user" not in emptied and "csrf_token" not in emptied
    assert client.get("/").headers["Location"].startswith("/login")


def test_a_session_cookie_of_another_app_secret_is_refused(protected: tuple[Flask, str]) -> None:
    flask_app, _ = protected
    forged = Flask("forged")
    forged.config.update(SECRET_KEY="khong-phai-bi-mat-cua-may", SESSION_COOKIE_NAME="motcua_session")
    with forged.test_request_context():
        value = forged.session_interface.get_signing_serializer(forged).dumps({"user": "quantri"})  # type: ignore[attr-defined]
    client = flask_app.test_client()
    client.set_cookie("motcua_session", value)
    assert client.get("/admin").headers["Location"].startswith("/login")


# --- sign-in throttling ---------------------------------------------------------------------------


def attempt(client: FlaskClient, username: str, password: str, address: str = "10.0.0.7") -> int:
    resp = client.post(
        "/login", data={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )
    return resp.status_code


def test_wrong_passwords_for_one_user_mean_a_wait(app: Flask, clock: FakeClock) -> None:
    client = app.test_client()
    for _ in range(USER_LIMIT):
        assert attempt(client, "canbo", "sai-mat-khau") == 200
    resp = client.post(
        "/login", data={"username": "canbo", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.0.8"}
    )
    assert resp.status_code == 429 and THROTTLED in resp.text and "5 phút" in resp.text  # even the right password
    assert attempt(client, "lanhdao", PASSWORD) == 302  # another user from the same address is not held up
    clock.advance(minutes=4)
    assert attempt(client, "canbo", PASSWORD) == 429
    clock.advance(minutes=1, seconds=1)
    assert attempt(client, "canbo", PASSWORD) == 302
    box = app.extensions["box"]
    actions = [r[0] for r in box.db().execute("SELECT action FROM audit_log WHERE actor = 'canbo' ORDER BY rowid")]
    assert actions.count("login_failed") == USER_LIMIT + 2 and actions[-1] == "login"


def test_the_wait_is_said_in_english_too(app: Flask) -> None:
    client = app.test_client()
    client.get("/lang/en")
    for _ in range(USER_LIMIT + 1):
        status = attempt(client, "canbo", "sai-mat-khau")
    assert status == 429
    page = client.post("/login", data={"username": "canbo", "password": PASSWORD}).text
    assert "Too many failed sign-ins. Please wait 5 minute(s)" in page


def test_a_right_password_clears_the_count(app: Flask, clock: FakeClock) -> None:
    client = app.test_client()
    for _ in range(3):
        for _ in range(USER_LIMIT - 1):
            assert attempt(client, "canbo", "sai-mat-khau") == 200
        assert attempt(client, "canbo", PASSWORD) == 302
        client.post("/logout")


def test_failures_spread_over_the_window_do_not_add_up(app: Flask, clock: FakeClock) -> None:
    client = app.test_client()
    for _ in range(3 * USER_LIMIT):
        assert attempt(client, "canbo", "sai-mat-khau") == 200
        clock.advance(minutes=4)  # fewer than USER_LIMIT in any 15 minutes
    assert attempt(client, "canbo", PASSWORD) == 302


def test_one_address_guessing_many_users_is_held_up(app: Flask) -> None:
    client = app.test_client()
    for n in range(ADDRESS_LIMIT):
        assert attempt(client, f"nguoi{n}", "sai-mat-khau", address="10.0.0.99") == 200
    assert attempt(client, "canbo", PASSWORD, address="10.0.0.99") == 429
    assert attempt(client, "canbo", PASSWORD, address="10.0.0.5") == 302


# --- secret files ---------------------------------------------------------------------------------

# Run in a child process: an audit hook sees every file opened, changed or renamed while the box, its
# sync config and a hub are created with umask 0, and notes the mode of each secret file at each step
# (so a file created open and narrowed afterwards is caught while it is open).
CREATE_SECRETS = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path

    root = Path(sys.argv[1])
    seen, busy = {}, [False]

    def look(event, args):
        if busy[0] or not event.startswith(("open", "os.")):
            return
        busy[0] = True
        try:
            for folder in (root / "box", root / "hub"):
                if folder.is_dir():
                    for path in folder.iterdir():
                        if "secret" in path.name or path.name == "hub.toml":
                            seen.setdefault(path.name, set()).add(path.stat().st_mode & 0o777)
        except FileNotFoundError:
            pass
        finally:
            busy[0] = False

    os.umask(0)
    sys.addaudithook(look)
    from edge.box import init_box
    from sync.client.config import write_sync_config
    from sync.hub.config import init_hub

    settings = init_box(root / "box", "00001", "000.17.22.H56", "UBND xã Thử Nghiệm")
    write_sync_config(settings, ["https://hub.example.vn"], bytes(32), "hub-1")
    init_hub(root / "hub")
    look("os.final", ())
    print(json.dumps({name: sorted(modes) for name, modes in seen.items()}))
    """
)


def test_secret_files_are_owner_only_from_the_moment_they_exist(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CREATE_SECRETS, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, list[int]] = json.loads(done.stdout)
    assert {"secrets.toml", "sync-secret.toml", "hub-secrets.toml", "hub.toml"} <= set(seen)
    for name, modes in seen.items():
        if name == "hub.toml":  # may carry the PostgreSQL password in database_url
            assert all(mode & 0o007 == 0 for mode in modes), (name, [oct(m) for m in modes])
        else:
            assert modes == [0o600], (name, [oct(m) for m in modes])
    for path in (
        tmp_path / "box" / "secrets.toml",
        tmp_path / "box" / "sync-secret.toml",
        tmp_path / "hub" / "hub-secrets.toml",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (tmp_path / "box", tmp_path / "hub"):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o007 == 0, folder


# --- the hub refuses every forged, replayed or cross-commune request ------------------------------

SIGNED_TABLES = ("events", "office_events", "blobs", "blob_chunks", "heartbeats")


@pytest.fixture
def sync_hub(tmp_path: Path) -> Iterator[SyncHub]:
    settings = init_hub(tmp_path / "hub")
    db = HubDB(settings.database_url)
    app = create_hub_app(settings, db, SyncClock())
    yield SyncHub(settings, db, SyncClock(), app, app.test_client())
    db.close()


def signed_requests(box: SyncBox) -> dict[str, tuple[str, str, bytes, str | None]]:
    """One well-formed request per signed endpoint: method, path, body, query (each call makes fresh ids)."""
    scan = os.urandom(64)
    sha = hashlib.sha256(scan).hexdigest()
    office = encode_office_batch(
        [rating()], box_id=box.box_id, commune_code=box.commune_code, batch_id=str(uuid.uuid4())
    )
    return {
        "events": ("POST", "/sync/v1/events", batch(box, dossier_events(1)), None),
        "office-events": ("POST", "/sync/v1/office-events", office, None),
        "blob head": ("HEAD", f"/sync/v1/blobs/{sha}", b"", None),
        "blob put": ("PUT", f"/sync/v1/blobs/{sha}", scan, f"offset=0&size={len(scan)}"),
        "blobs status": ("POST", "/sync/v1/blobs/status", json.dumps({"sha256": [sha]}).encode(), None),
        "blobs pack": ("POST", "/sync/v1/blobs/pack", encode_pack([(sha, scan)]), None),
        "feed": ("GET", f"/sync/v1/communes/{box.commune_code}/feed", b"", "after=0"),
        "heartbeat": ("POST", "/sync/v1/heartbeat", _heartbeat("2026-11-25T16:46:00+07:00"), None),
    }


def refused(hub: SyncHub, answer: TestResponse, method: str) -> tuple[int, str]:
    if method == "HEAD":  # no body to carry the code
        return answer.status_code, ""
    body = answer.json or {}
    assert body.get("message") and body.get("message_en"), body
    return answer.status_code, body["code"]


def test_the_hub_refuses_every_forged_replayed_or_cross_commune_request(sync_hub: SyncHub) -> None:
    hub = sync_hub
    box, other = hub.enroll("00001"), hub.enroll("00002")
    stranger = SyncBox(str(uuid.uuid4()), "00001", os.urandom(32))
    forger = SyncBox(box.box_id, box.commune_code, os.urandom(32))  # knows the box id, not its secret
    now = int(START)
    wrong: list[str] = []

    def expect(
        name: str, fault: str, answer: TestResponse, method: str, want: tuple[int, str], before: list[int]
    ) -> None:
        got = refused(hub, answer, method)
        want = (want[0], "") if method == "HEAD" else want
        after = [hub.count(t) for t in SIGNED_TABLES]
        if got != want or after != before:
            wrong.append(f"{name}: {fault}: got {got}, want {want}; stored {before} → {after}")

    def send(headers: dict[str, str], req: tuple[str, str, bytes, str | None]) -> TestResponse:
        method, path, body, query = req
        return hub.client.open(path + (f"?{query}" if query else ""), method=method, data=body, headers=headers)

    for name in signed_requests(box):
        req = signed_requests(box)[name]
        method, path, body, query = req
        faults: list[tuple[str, dict[str, str], tuple[int, str]]] = [
            ("no signature", {}, (401, "bad_request_signature_headers")),
            (
                "another secret",
                signed(forger.secret, box.box_id, method, path, body, query, now=now),
                (401, "bad_signature"),
            ),
            (
                "unknown box",
                signed(stranger.secret, stranger.box_id, method, path, body, query, now=now),
                (401, "unknown_box"),
            ),
            (
                "another body",
                signed(box.secret, box.box_id, method, path, body + b"x", query, now=now),
                (401, "body_hash_mismatch"),
            ),
            (
                "another query",
                signed(box.secret, box.box_id, method, path, body, "after=9", now=now),
                (401, "bad_signature"),
            ),
            (
                "another path",
                signed(box.secret, box.box_id, method, path + "x", body, query, now=now),
                (401, "bad_signature"),
            ),
            (
                "another method",
                signed(box.secret, box.box_id, "PATCH", path, body, query, now=now),
                (401, "bad_signature"),
            ),
            (
                "old timestamp",
                signed(box.secret, box.box_id, method, path, body, query, now=now - 301),
                (401, "stale_timestamp"),
            ),
            (
                "future timestamp",
                signed(box.secret, box.box_id, method, path, body, query, now=now + 301),
                (401, "stale_timestamp"),
            ),
        ]
        for fault, headers, want in faults:
            before = [hub.count(t) for t in SIGNED_TABLES]
            expect(name, fault, send(headers, req), method, want, before)
        good = signed(box.secret, box.box_id, method, path, body, query, now=now)
        first = send(good, req)
        if first.status_code != 200:
            wrong.append(f"{name}: the well-signed request got {first.status_code}")
        before = [hub.count(t) for t in SIGNED_TABLES]
        expect(name, "replayed nonce", send(good, req), method, (401, "replayed_nonce"), before)

    cross = {  # a box of commune 00002 reaching for 00001's data, or speaking for another box
        "feed of another commune": ("GET", "/sync/v1/communes/00001/feed", b"", None, (403, "wrong_commune")),
        "office batch of another commune": (
            "POST", "/sync/v1/office-events",
            encode_office_batch([rating()], box_id=other.box_id, commune_code="00001", batch_id=str(uuid.uuid4())),
            None, (403, "wrong_commune"),
        ),
        "office batch of another box": (
            "POST", "/sync/v1/office-events",
            encode_office_batch([rating()], box_id=box.box_id, commune_code="00002", batch_id=str(uuid.uuid4())),
            None, (403, "wrong_box"),
        ),
        "event batch of another box": ("POST", "/sync/v1/events", batch(box, dossier_events(1)), None, (403, "wrong_box")),
    }  # fmt: skip
    for fault, (method, path, body, query, want) in cross.items():
        before = [hub.count(t) for t in SIGNED_TABLES]
        answer = hub.call(other, method, path, body, query)
        expect("cross-commune", fault, answer, method, want, before)
    held = dossier_events(1)
    hub.call(box, "POST", "/sync/v1/events", batch(box, held))
    intruder = wire_event(held[0]["dossier_id"], "withdrawn", {"reason": "x"}, hlc="001790000000005.000000")
    ack = decode_ack(hub.call(other, "POST", "/sync/v1/events", batch(other, [intruder])).data)
    assert [(r.event_id, r.code) for r in ack.rejected] == [(intruder["event_id"], "wrong_commune")]

    revoke_box(hub.db, box.box_id)
    for name, (method, path, body, query) in signed_requests(box).items():
        before = [hub.count(t) for t in SIGNED_TABLES]
        expect(name, "revoked box", hub.call(box, method, path, body, query), method, (403, "revoked_box"), before)
    assert wrong == [], "\n".join(wrong)
