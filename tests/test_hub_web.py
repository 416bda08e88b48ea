"""The fleet dashboard: sign-in with a form token, the fleet page (badges, filters, sorting, language), a box, alerts."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.hub_fixtures import PASSWORD, DossierWriter, Hub, add_box, heartbeat, make_hub


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    hub = make_hub(tmp_path / "hub")
    iso = hub.clock.iso
    add_box(
        hub,
        "box-px",
        "00001",
        "Máy Phúc Xá",
        beats=[heartbeat(iso(-7200)), heartbeat(iso(-60), outbox_events=1234)],
        commune_name="Phường Phúc Xá",
    )
    add_box(
        hub,
        "box-hb",
        "00002",
        "Máy Hàng Bạc",
        beats=[heartbeat(iso(-1800), disk_free_bytes=1, last_push_error="Hết thời gian chờ")],
    )
    add_box(hub, "box-tt", "00003", "Máy Tràng Tiền", beats=[heartbeat(iso(-90_000))])
    return hub


def token_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in(hub: Hub, username: str = "theodoi") -> FlaskClient:
    client = hub.client()
    form = client.get("/login").get_data(as_text=True)
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token_of(form)})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/fleet")
    return client


def test_pages_need_a_session(hub: Hub) -> None:
    client = hub.client()
    for path in ("/fleet", "/fleet/box-px", "/alerts"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/login?next=" in answer.headers["Location"]
    assert client.get("/").headers["Location"].endswith("/fleet")


def test_sign_in_checks_password_and_form_token(hub: Hub) -> None:
    client = hub.client()
    form = client.get("/login").get_data(as_text=True)
    assert "Đăng nhập" in form and 'lang="vi"' in form
    wrong = client.post(
        "/login", data={"username": "theodoi", "password": "sai-mat-khau", "csrf_token": token_of(form)}
    )
    assert wrong.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu." in wrong.get_data(as_text=True)
    forged = client.post("/login", data={"username": "theodoi", "password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 400 and client.get("/fleet").status_code == 302
    ok = client.post(
        "/login?next=/alerts", data={"username": "theodoi", "password": PASSWORD, "csrf_token": token_of(form)}
    )
    assert ok.status_code == 302 and ok.headers["Location"] == "/alerts"
    assert client.get("/fleet").status_code == 200


def test_sign_in_never_redirects_off_site(hub: Hub) -> None:
    client = hub.client()
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        form = client.get("/login").get_data(as_text=True)
        answer = client.post(
            f"/login?next={target}", data={"username": "theodoi", "password": PASSWORD, "csrf_token": token_of(form)}
        )
        assert answer.status_code == 302 and answer.headers["Location"] == "/fleet"


def test_sign_out_needs_the_form_token(hub: Hub) -> None:
    client = sign_in(hub)
    page = client.get("/fleet").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": "nope"}).status_code == 400
    assert client.get("/fleet").status_code == 200
    assert client.post("/logout", data={"csrf_token": token_of(page)}).status_code == 302
    assert client.get("/fleet").status_code == 302


def test_fleet_page_in_vietnamese(hub: Hub) -> None:
    page = sign_in(hub).get("/fleet").get_data(as_text=True)
    assert unicodedata.is_normalized("NFC", page)
    assert "Giám sát thiết bị xã" in page and "3 thiết bị" in page
    for badge in ("Trực tuyến", "Chậm", "Mất liên lạc"):
        assert f">{badge}</span>" in page
    assert "Máy Phúc Xá" in page and "Phường Phúc Xá" in page and "1.234" in page
    assert "Hết thời gian chờ" in page  # the box's sync error
    assert "Sắp đầy ổ đĩa" in page and "Mất tín hiệu" in page
    assert 'href="/fleet/box-px"' in page
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<script" not in page  # nothing external, no script


def test_fleet_page_in_english(hub: Hub) -> None:
    client = sign_in(hub)
    page = client.get("/fleet?lang=en").get_data(as_text=True)
    assert 'lang="en"' in page and "Commune boxes" in page and ">Online</span>" in page and "1,234" in page
    # The choice is remembered; Accept-Language works for a fresh visitor.
    assert "Commune boxes" in client.get("/fleet").get_data(as_text=True)
    fresh = hub.client().get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Sign in" in fresh


def test_fleet_filters_and_sorting(hub: Hub) -> None:
    client = sign_in(hub)

    def boxes(query: str) -> list[str]:
        return re.findall(r'href="/fleet/([\w-]+)"', client.get(f"/fleet?{query}").get_data(as_text=True))

    assert boxes("state=online") == ["box-px"]
    assert boxes("state=late") == ["box-hb"]
    assert boxes("commune=00003") == ["box-tt"]
    assert boxes("alert=disk_low") == ["box-hb"]
    assert boxes("alert=any") == ["box-tt", "box-hb"]  # offline before late
    assert boxes("q=hang bac") == ["box-hb"]
    assert boxes("sort=outbox_events&desc=1")[0] == "box-px"
    assert boxes("sort=name&desc=0") == ["box-hb", "box-px", "box-tt"]
    assert boxes("sort=name&desc=1") == ["box-tt", "box-px", "box-hb"]
    assert boxes("state=bogus&sort=bogus") == ["box-tt", "box-hb", "box-px"]  # ignored: offline first
    page = client.get("/fleet?sort=name").get_data(as_text=True)
    assert 'aria-sort="ascending"' in page and "Không có thiết bị nào" not in page
    assert "Không có thiết bị nào khớp bộ lọc." in client.get("/fleet?q=zzz").get_data(as_text=True)


def test_box_page_shows_history_alerts_and_errors(hub: Hub) -> None:
    client = sign_in(hub)
    page = client.get("/fleet/box-hb").get_data(as_text=True)
    assert "Thiết bị Máy Hàng Bạc" in page and ">Chậm</span>" in page
    assert "Ổ đĩa sắp đầy" in page and "Hết thời gian chờ" in page and "Lịch sử tín hiệu" in page
    history = client.get("/fleet/box-px").get_data(as_text=True)
    assert history.count("<tr>") >= 3  # header + two heartbeats
    missing = client.get("/fleet/nope")
    assert missing.status_code == 404 and "Không có thiết bị này." in missing.get_data(as_text=True)


def test_alerts_page_lists_alerts_and_failing_forwards(hub: Hub) -> None:
    w = DossierWriter(hub, "00001")
    w.create()
    hub.db.execute(
        "UPDATE forwards SET attempts = 4, last_error = 'HTTP 503: bảo trì' WHERE dossier_id = ?", [w.dossier_id]
    )
    client = sign_in(hub)
    page = client.get("/alerts").get_data(as_text=True)
    assert "Sắp đầy ổ đĩa" in page and "Mất tín hiệu" in page and "Gửi Cổng DVC lỗi" in page
    assert w.code in page and "HTTP 503: bảo trì" in page
    fleet = client.get("/fleet").get_data(as_text=True)
    assert "Hồ sơ gửi lỗi" in fleet and w.code in fleet
    assert w.code in client.get("/fleet/box-px").get_data(as_text=True)
    english = client.get("/alerts?lang=en").get_data(as_text=True)
    assert "Forward failing" in english and "Low disk" in english


def test_stylesheet_is_served_locally(hub: Hub) -> None:
    with hub.client().get("/hub-static/hub.css") as answer:
        assert answer.status_code == 200 and b".badge-online" in answer.data
