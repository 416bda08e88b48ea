"""The 9-indicator evaluation pages: at the kiosk by code and phone digits, and on the officer's tablet."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge import evaluation, intake
from edge.box import Box, open_box
from edge.config import Settings
from edge.users import User, add_user
from tests.conftest import PASSWORD, FakeClock, applicant, dossier_body
from ui.app import create_app

GOOD = dict.fromkeys(evaluation.KEYS, "2")


@pytest.fixture
def app_box(box_settings: Settings, clock: FakeClock) -> Iterator[tuple[Flask, Box]]:
    box = open_box(box_settings.data_dir, clock=clock)
    add_user(box.db(), "kiosk1", "kiosk", PASSWORD, "Kiosk sảnh")
    yield create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True}), box
    box.close()


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def received(box: Box, officer: User) -> str:
    return str(intake.receive_dossier(box, officer, dossier_body(applicant=applicant(phone="0912 345 678")))["code"])


def test_the_kiosk_finds_the_dossier_by_code_and_phone_and_stores_the_answers(
    app_box: tuple[Flask, Box], officer: User
) -> None:
    app, box = app_box
    code = received(box, officer)
    client = signed_in(app, "kiosk1")
    assert client.get("/kiosk/evaluate").status_code == 200
    form = client.post("/kiosk/evaluate", data={"code": code, "phone_last4": "5678"})
    assert form.status_code == 200 and form.text.count("<fieldset") == 9
    assert form.text.count('type="radio"') == 27 and 'name="phone_last4" value="5678"' in form.text
    assert "Tổng thời gian giải quyết hồ sơ so với thời hạn theo quy định" in form.text
    done = client.post("/kiosk/evaluate", data={"step": "answers", "code": code, "phone_last4": "5678",
                                                **GOOD, "attitude": "1"})  # fmt: skip
    assert done.status_code == 201 and 'data-evaluated="17"' in done.text
    stored = evaluation.get_evaluation(box.db(), code)
    assert stored is not None and (stored["source"], stored["officer"], stored["points"]) == ("kiosk", "canbo", 17)


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"code": "", "phone_last4": "5678"}, 422, "Nhập mã hồ sơ"),
        ({"phone_last4": "5678"}, 422, "Nhập mã hồ sơ"),
        ({"code": "CODE", "phone_last4": "56"}, 422, "4 số cuối"),
        ({"code": "CODE", "phone_last4": "abcd"}, 422, "4 số cuối"),
        ({"code": "CODE", "phone_last4": "0000"}, 404, "Không tìm thấy hồ sơ"),
        ({"code": "KHONG-CO", "phone_last4": "5678"}, 404, "Không tìm thấy hồ sơ"),
        ({"code": "x" * 65, "phone_last4": "5678"}, 422, "Nhập mã hồ sơ"),
    ],
)
def test_a_wrong_code_or_phone_finds_nothing(
    app_box: tuple[Flask, Box], officer: User, data: dict[str, str], status: int, message: str
) -> None:
    app, box = app_box
    code = received(box, officer)
    client = signed_in(app, "kiosk1")
    sent = {k: v.replace("CODE", code) for k, v in data.items()}
    page = client.post("/kiosk/evaluate", data=sent)
    assert page.status_code == status and message in page.text and "<fieldset" not in page.text
    answers = client.post("/kiosk/evaluate", data={**sent, "step": "answers", **GOOD})  # answers without the key
    assert answers.status_code == status and box.db().execute("SELECT count(*) FROM evaluations").fetchone()[0] == 0


def test_every_missing_or_wrong_answer_is_named_and_the_others_kept(app_box: tuple[Flask, Box], officer: User) -> None:
    app, box = app_box
    code = received(box, officer)
    client = signed_in(app, "kiosk1")
    data = {"step": "answers", "code": code, "phone_last4": "5678", **GOOD, "visits": "7", "online": ""}
    del data["feedback"]
    page = client.post("/kiosk/evaluate", data=data)
    assert page.status_code == 422 and "Còn 3 chỉ số chưa chọn câu trả lời." in page.text
    named = set(re.findall(r'<p class="field-error" id="([a-z_]+)-error"', page.text))
    assert named == {"visits", "online", "feedback"}
    assert re.search(r'name="attitude" value="2" required checked', page.text)  # the answers given stay chosen
    assert box.db().execute("SELECT count(*) FROM evaluations").fetchone()[0] == 0


def test_a_second_evaluation_needs_the_replace_box_ticked(app_box: tuple[Flask, Box], officer: User) -> None:
    app, box = app_box
    code = received(box, officer)
    client = signed_in(app, "kiosk1")
    base = {"step": "answers", "code": code, "phone_last4": "5678"}
    assert client.post("/kiosk/evaluate", data={**base, **GOOD}).status_code == 201
    form = client.post("/kiosk/evaluate", data={"code": code, "phone_last4": "5678"}).text
    assert 'data-earlier="18"' in form and "data-replace" in form
    refused = client.post("/kiosk/evaluate", data={**base, **GOOD, "attitude": "0"})
    assert refused.status_code == 409 and "Thay đánh giá cũ" in refused.text
    assert evaluation.get_evaluation(box.db(), code)["points"] == 18  # type: ignore[index]
    replaced = client.post("/kiosk/evaluate", data={**base, **GOOD, "attitude": "0", "replace": "1"})
    assert replaced.status_code == 201
    stored = evaluation.get_evaluation(box.db(), code)
    assert stored is not None and (stored["points"], stored["replaced"]) == (16, 1)


def test_the_officer_hands_the_tablet_over_from_the_dossier(app_box: tuple[Flask, Box], officer: User) -> None:
    app, box = app_box
    code = received(box, officer)
    client = signed_in(app, "canbo2")
    assert f'href="/dossiers/{code}/evaluate" data-evaluate' in client.get(f"/dossiers/{code}").text
    form = client.get(f"/dossiers/{code}/evaluate")
    assert form.status_code == 200 and 'data-eval-form="tablet"' in form.text and "phone_last4" not in form.text
    done = client.post(f"/dossiers/{code}/evaluate", data=GOOD)
    assert done.status_code == 201
    stored = evaluation.get_evaluation(box.db(), code)
    assert stored is not None and (stored["source"], stored["officer"]) == ("tablet", "canbo")  # who received it
    assert client.get("/dossiers/KHONG-CO/evaluate").status_code == 404
    kiosk = signed_in(app, "kiosk1")
    assert kiosk.get(f"/dossiers/{code}/evaluate").status_code == 403
    assert signed_in(app, "kythuat").get("/kiosk/evaluate").status_code == 403


def test_the_form_reads_in_english(app_box: tuple[Flask, Box], officer: User) -> None:
    app, box = app_box
    code = received(box, officer)
    client = signed_in(app, "canbo")
    client.get("/lang/en")
    page = client.get(f"/dossiers/{code}/evaluate").text
    assert "Total handling time against the legal time limit" in page and "Send the evaluation" in page
