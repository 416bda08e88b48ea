"""The box's sync page, the "sync now" button and GET /metrics."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from edge import intake, outbox, syncstate
from edge.box import Box, open_box
from edge.config import Settings
from edge.users import User
from sync.client.config import write_sync_config
from sync.client.transport import STATE_PREFIX
from tests.conftest import PASSWORD, FakeClock, Server, dossier_body
from tests.test_translations import data_of, english_client, vietnamese_ui_text
from ui.app import create_app

DC1, DC2 = "https://hub1.tinh.gov.vn", "https://hub2.tinh.gov.vn"


@pytest.fixture
def app(box_settings: Settings, clock: FakeClock) -> Iterator[Flask]:
    box = open_box(box_settings.data_dir, clock=clock)
    yield create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True})
    box.close()


def login(client: FlaskClient, username: str = "canbo") -> None:
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302


def provisioned(box: Box, officer: User) -> None:
    """A provisioned box whose first hub is down and whose second answers, with one refused event."""
    write_sync_config(box.settings, [DC1, DC2], bytes(32), "hub-test")
    intake.receive_dossier(box, officer, dossier_body())
    intake.receive_dossier(box, officer, dossier_body())
    first = outbox.pending_events(box.db())[0]
    outbox.refuse(box.db(), [outbox.Refusal(first.event_id, "wrong_commune", "Dossier x belongs to commune 00002.")])
    syncstate.update(
        box.db(),
        {
            STATE_PREFIX + DC1: {"failures": 3, "next_attempt": time.time() + 120, "last_error": "Không kết nối được "
                                 + DC1 + ".", "last_error_en": "Cannot connect to " + DC1 + "."},
            STATE_PREFIX + DC2: {"failures": 0, "last_success": "2026-11-25T08:59:00+07:00"},
            "last_sync_at": "2026-11-25T08:59:00+07:00",
            "last_pull_error": "Luồng thay đổi của máy chủ tỉnh vẫn không khớp.",
            "last_pull_error_en": "The hub's feed still does not line up.",
            "clock_offset_ms": 1500,
        },
    )  # fmt: skip


def test_the_sync_page_shows_each_hub_the_backlog_refusals_and_errors(app: Flask, officer: User) -> None:
    box: Box = app.extensions["box"]
    provisioned(box, officer)
    client = app.test_client()
    login(client)
    page = client.get("/sync").text
    assert 'data-sync-online="1"' in page and "Có kết nối" in page
    assert re.search(r'data-hub-state="backing_off">\s*<td>' + re.escape(DC1), page)
    assert "Tạm ngừng, sẽ thử lại" in page and f"Không kết nối được {DC1}." in page
    assert re.search(r'data-hub-state="ok">\s*<td>' + re.escape(DC2), page) and "25/11/2026 08:59" in page
    assert "<b data-waiting-events>1</b>" in page  # two events made, one refused: shown apart
    assert "Hồ sơ này thuộc một xã khác ở máy chủ tỉnh." in page and "wrong_commune" in page
    assert "Luồng thay đổi của máy chủ tỉnh vẫn không khớp." in page
    assert "Đồng bộ ngay" in page and "Gửi lại" in page
    strip = client.get("/").text
    assert "Có kết nối" in strip and "Chờ đồng bộ" in strip


def test_sync_now_and_retry_are_forms_that_reach_the_worker(app: Flask, officer: User) -> None:
    box: Box = app.extensions["box"]
    provisioned(box, officer)
    client = app.test_client()
    login(client, "canbo")
    resp = client.post("/sync/now")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/sync")
    asked = syncstate.get(box.db(), "sync_now")
    assert asked["by"] == "canbo"
    assert "Đã yêu cầu đồng bộ ngay" in client.get("/sync").text
    assert client.post("/sync/retry").status_code == 302
    assert outbox.status(box.db()).refused == 0 and syncstate.get(box.db(), "sync_now") != asked
    assert client.get("/sync/now").status_code == 405


def test_sync_now_needs_the_csrf_token(box_settings: Settings, clock: FakeClock, officer: User) -> None:
    box = open_box(box_settings.data_dir, clock=clock)
    provisioned(box, officer)
    client = create_app(box, {"TESTING": True}).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    client.post("/login", data={"username": "canbo", "password": PASSWORD, "csrf_token": token.group(1)})
    assert client.post("/sync/now").status_code == 400
    assert syncstate.get(box.db(), "sync_now") is None
    page = client.get("/sync").text
    form_token = re.search(r'action="/sync/now"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page)
    assert form_token
    assert client.post("/sync/now", data={"csrf_token": form_token.group(1)}).status_code == 302
    assert syncstate.get(box.db(), "sync_now") is not None
    box.close()


def test_the_english_sync_page_has_no_vietnamese(app: Flask, officer: User) -> None:
    box: Box = app.extensions["box"]
    provisioned(box, officer)
    client = english_client(app, "canbo")
    page = client.get("/sync").text
    assert "Events the hub refused" in page and "Backing off" in page and f"Cannot connect to {DC1}." in page
    assert vietnamese_ui_text(page, data_of(box)) == []


def test_metrics_answer_on_loopback_only(app: Flask, officer: User) -> None:
    box: Box = app.extensions["box"]
    client = app.test_client()
    assert "motcua_box_sync_configured 0" in client.get("/metrics").text
    provisioned(box, officer)
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.content_type.startswith("text/plain; version=0.0.4")
    text = resp.text
    assert "motcua_box_sync_configured 1" in text
    assert "motcua_box_outbox_events 2" in text and "motcua_box_refused_events 1" in text
    assert f'motcua_box_hub_up{{url="{DC1}"}} 0' in text and f'motcua_box_hub_up{{url="{DC2}"}} 1' in text
    assert "motcua_box_clock_offset_seconds 1.5" in text
    assert re.search(r"motcua_box_oldest_unsent_age_seconds \d", text)
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404


def test_metrics_from_the_running_server(server: Server) -> None:
    resp = requests.get(f"{server.url}/metrics", timeout=10)
    assert resp.status_code == 200 and "motcua_box_sync_configured 0" in resp.text
