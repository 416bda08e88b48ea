"""The officer's counter screen: call next, call again, serve, finish, no-show, transfer."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge import queue
from edge.box import Box, open_box
from edge.config import Settings
from tests.conftest import PASSWORD, FakeClock
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
