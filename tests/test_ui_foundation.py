"""The web UI's frame: sign-in, the session guard, language, error pages, CSRF, admin, status."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge import intake
from edge.box import Box, open_box
from edge.config import Settings
from edge.users import User
from tests.conftest import PASSWORD, FakeClock, dossier_body
from ui.app import create_app


@pytest.fixture
def app(box_settings: Settings, clock: FakeClock) -> Iterator[Flask]:
    box = open_box(box_settings.data_dir, clock=clock)
    yield create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True})
    box.close()


def login(client: FlaskClient, username: str = "canbo") -> None:
    resp = client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 302, resp.text


def test_pages_need_a_session(app: Flask) -> None:
    client = app.test_client()
    for path in ("/", "/intake", "/dossiers", "/reports", "/sync", "/devices", "/admin"):
        resp = client.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login"), path
    page = client.get("/login").text
    assert '<html lang="vi">' in page and "Đăng nhập" in page and "UBND xã Thử Nghiệm" in page


def test_login_returns_to_the_page_asked_for_and_never_elsewhere(app: Flask) -> None:
    client = app.test_client()
    resp = client.post("/login?next=/sync", data={"username": "canbo", "password": PASSWORD})
    assert resp.headers["Location"] == "/sync"
    client.post("/logout")
    resp = client.post("/login?next=//evil.example/x", data={"username": "canbo", "password": PASSWORD})
    assert resp.headers["Location"] == "/"


def test_wrong_password_says_so_in_vietnamese(app: Flask) -> None:
    page = app.test_client().post("/login", data={"username": "canbo", "password": "sai"}).text
    assert "Sai tên đăng nhập hoặc mật khẩu." in page


def test_today_counts_and_status_strip(app: Flask, box_settings: Settings, clock: FakeClock, officer: User) -> None:
    box: Box = app.extensions["box"]
    intake.receive_dossier(box, officer, dossier_body())
    intake.receive_dossier(box, officer, dossier_body(channel="online"))
    client = app.test_client()
    login(client)
    page = client.get("/").text
    assert "Tổng quan hôm nay" in page and "25/11/2026" in page
    assert re.search(r'data-count="received_today">\s*<b>1</b>', page)
    assert re.search(r'data-count="receiving">\s*<b>1</b>', page)
    assert "Đồng bộ: chưa cấu hình" in page


def test_language_switch(app: Flask) -> None:
    client = app.test_client()
    login(client)
    resp = client.get("/lang/en?next=/sync")
    assert resp.headers["Location"] == "/sync"
    page = client.get("/sync").text
    assert '<html lang="en">' in page
    client.get("/lang/vi")
    assert '<html lang="vi">' in client.get("/sync").text


def test_error_pages_are_vietnamese_pages_without_traces(app: Flask) -> None:
    client = app.test_client()
    login(client, "kythuat")
    missing = client.get("/khong-co-trang-nay", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "Không tìm thấy" in missing.text and "Traceback" not in missing.text
    forbidden = client.get("/admin")
    assert forbidden.status_code == 403 and "Không có quyền" in forbidden.text


def test_csrf_is_required_on_forms(box_settings: Settings, clock: FakeClock) -> None:
    box = open_box(box_settings.data_dir, clock=clock)
    client = create_app(box, {"TESTING": True}).test_client()
    refused = client.post("/login", data={"username": "canbo", "password": PASSWORD})
    assert refused.status_code == 400 and "Biểu mẫu đã hết hạn" in refused.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    ok = client.post("/login", data={"username": "canbo", "password": PASSWORD, "csrf_token": token.group(1)})
    assert ok.status_code == 302
    box.close()


def test_admin_adds_users_and_calendar_days(app: Flask) -> None:
    client = app.test_client()
    login(client, "quantri")
    resp = client.post(
        "/admin/users",
        data={"username": "canbo3", "full_name": "Hồ Thị Mai", "role": "officer", "password": "mat-khau-3"},
    )
    assert resp.status_code == 302
    page = client.get("/admin").text
    assert "canbo3" in page and "Hồ Thị Mai" in page and "Đã thêm người dùng canbo3." in page
    client.post("/admin/users", data={"username": "x", "role": "officer", "password": "ngan"})
    assert "Tên đăng nhập chỉ gồm" in client.get("/admin").text
    client.post("/admin/calendar", data={"day": "05/12/2026", "kind": "working", "note": "Làm bù"})
    page = client.get("/admin").text
    assert "05/12/2026" in page and "Làm bù" in page
    client.post("/admin/calendar", data={"day": "05/12", "kind": "off"})
    assert "Ngày “05/12” không hợp lệ" in client.get("/admin").text


def test_sync_and_devices_pages_say_what_is_there(app: Flask) -> None:
    client = app.test_client()
    login(client, "kythuat")
    assert "chưa được cài đặt" in client.get("/sync").text
    page = client.get("/devices").text
    assert "Dịch vụ thiết bị không chạy" in page and page.count('data-state="none"') == 4
