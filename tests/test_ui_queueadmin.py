"""The queue admin page: an admin changes services, counters and priority groups; the kiosk and counters follow."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge import audit, queue
from edge.box import Box, open_box
from edge.config import Settings
from edge.users import add_user, create_token
from tests.conftest import PASSWORD, FakeClock
from tests.test_translations import vietnamese_ui_text
from ui.app import create_app


@pytest.fixture
def app_box(box_settings: Settings, clock: FakeClock) -> Iterator[tuple[Flask, Box]]:
    """The real app with CSRF on, as a browser meets it."""
    box = open_box(box_settings.data_dir, clock=clock)
    add_user(box.db(), "kiosk1", "kiosk", PASSWORD, "Kiosk sảnh")
    yield create_app(box, {"TESTING": True}), box
    box.close()


def main(page: str) -> str:
    """Return the page's main content (the menu belongs to every page and is checked elsewhere)."""
    return page[page.index("<main") : page.index("</main>")]


def token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login = client.get("/login").text
    sent = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token(login)})
    assert sent.status_code == 302
    return client


def post(client: FlaskClient, path: str, data: dict[str, object]) -> tuple[int, str]:
    """Open the form, then send it with its CSRF token (as the browser does)."""
    form = client.get(path)
    assert form.status_code == 200, path
    sent = client.post(path, data={**data, "csrf_token": token(form.text)}, follow_redirects=True)
    return sent.status_code, sent.text


def error_of(page: str, field: str) -> str:
    found = re.search(rf'data-error="{field}">(.*?)</p>', page, re.S)
    return found.group(1).strip() if found else ""


def test_only_an_admin_opens_the_page_and_it_is_linked_from_the_admin_page(app_box: tuple[Flask, Box]) -> None:
    app, _ = app_box
    admin = signed_in(app, "quantri")
    assert 'data-link="queue-admin"' in admin.get("/admin").text
    page = admin.get("/queue/admin").text
    assert 'data-service="HT"' in page and 'data-counter="3"' in page and 'data-priority="pregnant"' in page
    for username in ("canbo", "lanhdao", "kythuat", "kiosk1"):
        client = signed_in(app, username)
        for path in ("/queue/admin", "/queue/admin/services/new", "/queue/admin/counters/1"):
            assert client.get(path).status_code == 403, (username, path)
        assert client.post("/queue/admin/priorities/elderly", data={"weight": "9"}).status_code in (400, 403)
    assert queue.priorities(app_box[1].db())["elderly"][2] == 2


def test_a_form_without_its_csrf_token_is_refused(app_box: tuple[Flask, Box]) -> None:
    app, box = app_box
    admin = signed_in(app, "quantri")
    sent = admin.post("/queue/admin/priorities/elderly", data={"name_vi": "Người già", "name_en": "Old",
                                                              "weight": "9", "sort": "1", "active": "1"})  # fmt: skip
    assert sent.status_code == 400 and queue.priorities(box.db())["elderly"] == ("Người cao tuổi", "Elderly", 2)


def test_a_new_service_shows_on_the_kiosk_at_once_and_is_audited(app_box: tuple[Flask, Box]) -> None:
    app, box = app_box
    admin = signed_in(app, "quantri")
    status, page = post(admin, "/queue/admin/services/new",
                        {"code": "tp", "name": "Tư pháp", "prefix": "e", "position": "5", "active": "1"})  # fmt: skip
    assert status == 200 and "Đã lưu dịch vụ Tư pháp." in page and 'data-service="TP"' in page
    kiosk = signed_in(app, "kiosk1")
    screen = kiosk.get("/kiosk").text
    assert 'data-service="TP"' in screen and "Tư pháp" in screen
    issued = kiosk.post("/kiosk/ticket", data={"service": "TP", "csrf_token": token(screen)})
    assert issued.status_code == 201 and 'data-ticket="E001"' in issued.text
    saved = [(e["actor"], e["target"]) for e in audit.entries(box.db()) if e["action"] == "queue_service_saved"]
    assert saved == [("quantri", "queue_service:TP")]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"code": "TP", "name": "Tư pháp", "prefix": "A", "position": "5"}, "prefix", "Chữ A đã dùng cho dịch vụ HT"),
        ({"code": "TP", "name": "Tư pháp", "prefix": "7", "position": "5"}, "prefix", "Chữ đầu số là một chữ cái A–Z."),
        ({"code": "T P", "name": "Tư pháp", "prefix": "E", "position": "5"}, "code", "Mã dịch vụ gồm 1–8 chữ"),
        ({"code": "TP", "name": "  ", "prefix": "E", "position": "5"}, "name", "Tên dịch vụ dài 1–100 ký tự."),
        ({"code": "TP", "name": "Tư pháp", "prefix": "E", "position": "một"}, "position", "Thứ tự là một số nguyên"),
        ({"code": "HT", "name": "Hộ tịch 2", "prefix": "E", "position": "5"}, "code", "Dịch vụ mã HT đã có"),
    ],
)
def test_a_wrong_service_gets_its_message_on_the_form_and_nothing_changes(
    app_box: tuple[Flask, Box], data: dict[str, str], field: str, message: str
) -> None:
    app, box = app_box
    before = queue.list_services(box.db(), active_only=False)
    status, page = post(signed_in(app, "quantri"), "/queue/admin/services/new", {**data, "active": "1"})
    assert status in (409, 422) and message in error_of(page, field)
    assert f'id="f-{field}"' in page and 'aria-invalid="true"' in page
    assert f'value="{data["name"]}"' in page  # what was typed stays on the form
    assert queue.list_services(box.db(), active_only=False) == before
    assert [e for e in audit.entries(box.db()) if e["action"].startswith("queue_")] == []


def test_a_service_people_wait_for_cannot_be_closed(app_box: tuple[Flask, Box]) -> None:
    app, box = app_box
    queue.issue_ticket(box.db(), "CT", box.now())
    admin = signed_in(app, "quantri")
    status, page = post(admin, "/queue/admin/services/CT", {"name": "Chứng thực", "prefix": "B", "position": "2"})
    assert status == 409 and "Dịch vụ Chứng thực còn 1 số đang chờ hôm nay" in error_of(page, "active")
    assert "CT" in [s["code"] for s in queue.list_services(box.db())]
    assert admin.get("/queue/admin/services/ZZ").status_code == 404


def test_a_closed_counter_cannot_call_and_a_counter_serves_only_the_ticked_services(
    app_box: tuple[Flask, Box],
) -> None:
    app, box = app_box
    admin = signed_in(app, "quantri")
    status, page = post(admin, "/queue/admin/counters/2", {"name": "Quầy số 2", "services": ["HT"]})
    assert status == 200 and "Đã lưu Quầy số 2." in page
    assert queue.list_counters(box.db())[1]["active"] is False
    status, page = post(admin, "/queue/admin/counters/1", {"name": "Quầy 1", "active": "1"})
    assert status == 422 and "Chọn ít nhất một dịch vụ" in error_of(page, "services")
    status, page = post(admin, "/queue/admin/counters/1", {"name": "Quầy 1", "services": ["CT"], "active": "1"})
    assert status == 200 and queue.list_counters(box.db())[0]["services"] == ["CT"]
    queue.issue_ticket(box.db(), "HT", box.now())
    officer = signed_in(app, "canbo")
    desk = officer.get("/counter?n=2").text
    called = officer.post("/counter/2/call-next", data={"csrf_token": token(desk)}, follow_redirects=True).text
    assert "Quầy số 2 đang tạm ngừng" in called
    desk = officer.get("/counter?n=2").text  # a closed counter is not offered: the first open one is
    assert 'data-counter="1"' in desk and '<option value="2"' not in desk and '<option value="3"' in desk
    called = officer.post("/counter/1/call-next", data={"csrf_token": token(desk)}, follow_redirects=True).text
    assert "Không còn ai chờ các dịch vụ của quầy này." in called  # counter 1 now serves CT only
    assert [t["number"] for t in queue.waiting(box.db(), box.now())] == ["A001"]


def test_a_new_priority_weight_changes_who_is_called_first(app_box: tuple[Flask, Box]) -> None:
    app, box = app_box
    db = box.db()
    elderly = queue.issue_ticket(db, "HT", box.now(), "elderly")
    admin = signed_in(app, "quantri")
    status, page = post(admin, "/queue/admin/priorities/pregnant",
                        {"name_vi": "Phụ nữ mang thai", "name_en": "Pregnant woman", "weight": "10", "sort": "3"})  # fmt: skip
    assert status == 422 and "Trọng số là một số nguyên từ 1 đến 9." in error_of(page, "weight")
    assert queue.priorities(db)["pregnant"][2] == 2
    status, page = post(admin, "/queue/admin/priorities/pregnant",
                        {"name_vi": "Phụ nữ mang thai", "name_en": "Pregnant woman", "weight": "4", "sort": "3",
                         "active": "1"})  # fmt: skip
    assert status == 200 and re.search(r'data-priority="pregnant".*?<td data-weight>4</td>', page, re.S)
    pregnant = queue.issue_ticket(db, "HT", box.now(), "pregnant")
    officer = signed_in(app, "canbo")
    desk = officer.get("/counter?n=1").text
    page = officer.post("/counter/1/call-next", data={"csrf_token": token(desk)}, follow_redirects=True).text
    assert f'data-current="{pregnant["number"]}"' in page and elderly["number"] != pregnant["number"]
    status, page = post(admin, "/queue/admin/priorities/new",
                        {"code": "veteran", "name_vi": "Người có công", "name_en": "Veteran", "weight": "3",
                         "sort": "4", "active": "1"})  # fmt: skip
    assert status == 200 and "Đã lưu nhóm ưu tiên Người có công." in page
    assert "Người có công" in signed_in(app, "kiosk1").get("/kiosk").text


def test_the_api_follows_the_admin_page(app_box: tuple[Flask, Box]) -> None:
    app, box = app_box
    admin = signed_in(app, "quantri")
    post(admin, "/queue/admin/counters/2", {"name": "Quầy số 2", "services": ["HT"]})
    post(admin, "/queue/admin/priorities/disabled",
         {"name_vi": "Người khuyết tật", "name_en": "Person with a disability", "weight": "7", "sort": "2"})  # fmt: skip
    api = app.test_client()
    headers = {"Authorization": f"Bearer {create_token(box.db(), 'canbo')}"}
    assert [c["number"] for c in api.get("/api/v1/queue/counters", headers=headers).json or []] == [1, 3]
    assert [p["code"] for p in api.get("/api/v1/queue/priorities", headers=headers).json or []] == [
        "elderly", "pregnant"
    ]  # fmt: skip
    queue.issue_ticket(box.db(), "HT", box.now())
    refused = api.post("/api/v1/counters/2/call-next", headers=headers)
    assert refused.status_code == 409 and (refused.json or {})["error"]["code"] == "counter_inactive"
    assert api.post("/api/v1/counters/1/call-next", headers=headers).status_code == 200


def test_in_english_the_page_and_its_errors_are_english(app_box: tuple[Flask, Box]) -> None:
    app, box = app_box
    admin = signed_in(app, "quantri")
    admin.get("/lang/en")
    db = box.db()
    data = [
        box.settings.name,
        *(s["name"] for s in queue.list_services(db)),
        *(c["name"] for c in queue.list_counters(db)),
    ]
    data.sort(key=len, reverse=True)
    for path in (
        "/queue/admin",
        "/queue/admin/services/HT",
        "/queue/admin/counters/new",
        "/queue/admin/priorities/elderly",
    ):
        page = admin.get(path).text
        assert '<html lang="en">' in page and vietnamese_ui_text(main(page), data) == [], path
    status, page = post(admin, "/queue/admin/priorities/elderly",
                        {"name_vi": "Người cao tuổi", "name_en": "Elderly", "weight": "0", "sort": "1"})  # fmt: skip
    assert status == 422 and error_of(page, "weight") == "The weight is a whole number from 1 to 9."
    assert vietnamese_ui_text(main(page), data) == []
