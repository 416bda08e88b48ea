"""The officer's counter screen: call next, call again, serve, finish, no-show, transfer."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge import queue, ratings
from edge.box import Box, open_box
from edge.config import Settings
from tests.conftest import PASSWORD, FakeClock
from tests.test_ui_intake import form_data
from ui.app import create_app


@pytest.fixture
def app_box(box_settings: Settings, clock: FakeClock) -> Iterator[tuple[Flask, Box]]:
    box = open_box(box_settings.data_dir, clock=clock)
    yield create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True}), box
    box.close()


def officer(app: Flask, username: str = "canbo") -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def flashes(page: str) -> list[str]:
    return [m.strip() for m in re.findall(r'class="flash[^"]*"[^>]*>(.*?)</p>', page, re.S)]


def test_the_officer_calls_serves_and_finishes_at_the_chosen_counter(app_box: tuple[Flask, Box]) -> None:
    app, box = app_box
    client = officer(app)
    page = client.get("/counter?n=2").text
    assert 'data-counter="2"' in page and "<b data-waiting>0</b>" in page
    page = client.post("/counter/2/call-next", follow_redirects=True).text
    assert "Không còn ai chờ các dịch vụ của quầy này." in flashes(page)
    for _ in range(2):
        queue.issue_ticket(box.db(), "HT", box.now())
    page = client.post("/counter/2/call-next", follow_redirects=True).text
    assert "Mời số A001 đến quầy số 2." in flashes(page) and 'data-current="A001"' in page
    ticket = queue.at_counter(box.db(), 2, box.now())
    assert ticket is not None
    for action, state in (("recall", "called"), ("start", "serving"), ("finish", "done")):
        client.post(f"/counter/tickets/{ticket['id']}/{action}")
        assert queue.get_ticket(box.db(), ticket["id"])["state"] == state
    assert queue.get_ticket(box.db(), ticket["id"])["calls"] == 2
    page = client.post("/counter/2/call-next", follow_redirects=True).text
    assert 'data-current="A002"' in page


def test_no_show_and_transfer_keeping_the_number(app_box: tuple[Flask, Box]) -> None:
    app, box = app_box
    client = officer(app)
    for _ in range(2):
        queue.issue_ticket(box.db(), "HT", box.now())
    client.get("/counter?n=1")
    client.post("/counter/1/call-next")
    first = queue.at_counter(box.db(), 1, box.now())
    assert first is not None
    client.post(f"/counter/tickets/{first['id']}/no_show")
    assert queue.get_ticket(box.db(), first["id"])["state"] == "no_show"
    client.post("/counter/1/call-next")
    second = queue.at_counter(box.db(), 1, box.now())
    assert second is not None
    client.post(f"/counter/tickets/{second['id']}/transfer", data={"to": "counter:3"})
    moved = queue.get_ticket(box.db(), second["id"])
    assert (moved["number"], moved["state"], moved["for_counter"]) == ("A002", "waiting", 3)
    page = client.post(f"/counter/tickets/{second['id']}/finish", follow_redirects=True).text
    assert any("không thể làm thao tác này" in f for f in flashes(page))  # waiting again: not finished here
    assert client.post(f"/counter/tickets/{second['id']}/explode").status_code == 404


def test_only_officers_and_leaders_work_a_counter(app_box: tuple[Flask, Box]) -> None:
    app, _ = app_box
    assert officer(app, "kythuat").get("/counter").status_code == 403
    assert officer(app, "lanhdao").get("/counter").status_code == 200


def _subject(box: Box, counter: int) -> tuple[str | None, str | None, str | None] | None:
    row = box.db().execute("SELECT dossier_id, ticket, officer FROM counter_subjects WHERE counter = ?", [counter])
    return row.fetchone()


def test_the_ticket_is_linked_to_the_dossier_received_from_it_and_the_keypad_rates_both(
    app_box: tuple[Flask, Box],
) -> None:
    app, box = app_box
    client = officer(app)
    queue.issue_ticket(box.db(), "HT", box.now())
    client.post("/counter/3/call-next")
    ticket = queue.at_counter(box.db(), 3, box.now())
    assert ticket is not None
    assert _subject(box, 3) == (None, ticket["id"], "canbo")  # a press now rates the ticket and the officer
    page = client.get("/counter?n=3").text
    assert f'href="/intake?ticket={ticket["id"]}"' in page and "data-linked" not in page

    intake = client.get(f"/intake?ticket={ticket['id']}").text
    assert f'name="ticket" value="{ticket["id"]}"' in intake
    saved = client.post("/intake", data=form_data(ticket=ticket["id"]), follow_redirects=True)
    assert saved.status_code == 200
    linked = queue.get_ticket(box.db(), ticket["id"])
    code = box.db().execute("SELECT code FROM dossiers WHERE dossier_id = ?", [linked["dossier_id"]]).fetchone()[0]
    assert _subject(box, 3) == (linked["dossier_id"], ticket["id"], "canbo")
    assert f'data-linked="{code}"' in client.get("/counter?n=3").text

    rating = ratings.record_rating(box.db(), 3, 1, 5, "keypad", box.now())
    assert (rating["dossier_id"], rating["ticket"], rating["officer"]) == (linked["dossier_id"], ticket["id"], "canbo")


def test_a_dossier_received_earlier_is_linked_by_its_code(app_box: tuple[Flask, Box]) -> None:
    app, box = app_box
    client = officer(app)
    client.post("/intake", data=form_data())
    code, dossier_id = box.db().execute("SELECT code, dossier_id FROM dossiers").fetchone()
    queue.issue_ticket(box.db(), "HT", box.now())
    client.post("/counter/1/call-next")
    ticket = queue.at_counter(box.db(), 1, box.now())
    assert ticket is not None
    page = client.post(f"/counter/tickets/{ticket['id']}/link", data={"code": ""}, follow_redirects=True).text
    assert "Nhập mã hồ sơ để gắn với số thứ tự." in flashes(page)
    page = client.post(f"/counter/tickets/{ticket['id']}/link", data={"code": "000.00.00.H00-261126-9999"},
                       follow_redirects=True).text  # fmt: skip
    assert "Không tìm thấy hồ sơ mã “000.00.00.H00-261126-9999”." in flashes(page)
    assert queue.get_ticket(box.db(), ticket["id"])["dossier_id"] is None
    page = client.post(f"/counter/tickets/{ticket['id']}/link", data={"code": f" {code} "}, follow_redirects=True).text
    assert f"Đã gắn hồ sơ {code} với số A001." in flashes(page)
    assert queue.get_ticket(box.db(), ticket["id"])["dossier_id"] == dossier_id
    assert _subject(box, 1) == (dossier_id, ticket["id"], "canbo")


def test_an_intake_form_with_a_forged_ticket_still_saves_the_dossier(app_box: tuple[Flask, Box]) -> None:
    app, box = app_box
    client = officer(app)
    client.post("/intake", data=form_data(ticket="00000000-0000-4000-8000-000000000000"))
    assert box.db().execute("SELECT count(*) FROM dossiers").fetchone()[0] == 1
    client.post("/intake", data=form_data(ticket="<script>"))
    assert box.db().execute("SELECT count(*) FROM dossiers").fetchone()[0] == 2
