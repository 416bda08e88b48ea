"""Satisfaction in the reports, the admin's 3/5 switch, and the switch seen by the tablet page and the API."""

from __future__ import annotations

import io
import re
import urllib.parse
from collections.abc import Iterator
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from edge import evaluation, intake, ratings
from edge.box import Box, open_box
from edge.calendar import TZ
from edge.config import Settings, load_settings
from edge.users import User, create_token
from tests.conftest import PASSWORD, FakeClock, dossier_body
from ui.app import create_app


@pytest.fixture
def app_box(box_settings: Settings, clock: FakeClock) -> Iterator[tuple[Flask, Box]]:
    box = open_box(box_settings.data_dir, clock=clock)
    yield create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True}), box
    box.close()


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def cells(page: str, key: str, group: str) -> list[str]:
    table = re.search(rf'<table class="report-table" data-group="{group}">(.*?)</table>', page, re.S)
    assert table is not None
    row = re.search(rf'<tr data-key="{re.escape(key)}"[^>]*>(.*?)</tr>', table.group(1), re.S)
    assert row is not None, key
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row.group(1), re.S)]


def test_the_admin_switches_to_3_levels_and_the_tablet_and_the_api_follow(
    app_box: tuple[Flask, Box], officer: User
) -> None:
    app, box = app_box
    admin = signed_in(app, "quantri")
    assert 'data-rating-scale="5"' in admin.get("/admin").text
    page = admin.post("/admin/rating-scale", data={"rating_scale": "3"}, follow_redirects=True).text
    assert "Đã đặt thang đánh giá 3 mức." in page and 'data-rating-scale="3"' in page
    assert load_settings(box.settings.data_dir).rating_scale == 3 and box.settings.rating_scale == 3
    assert box.db().execute("SELECT target FROM audit_log WHERE action = 'rating_scale_set'").fetchall() == [("3",)]
    for wrong in ("4", "", "ba", "5.0"):
        page = admin.post("/admin/rating-scale", data={"rating_scale": wrong}, follow_redirects=True).text
        assert "3 hoặc 5 mức" in page and box.settings.rating_scale == 3
    assert signed_in(app, "canbo").post("/admin/rating-scale", data={"rating_scale": "5"}).status_code == 403

    code = intake.receive_dossier(box, officer, dossier_body())["code"]
    tablet = signed_in(app, "canbo")
    tablet.post(f"/dossiers/{code}/rating")
    rate = tablet.get("/rate").text
    assert 'data-scale="3"' in rate and rate.count("data-level=") == 3 and "Rất hài lòng" not in rate
    assert f"/dossiers/{code}/evaluate" in rate
    assert "ok=1" in tablet.post("/rate", data={"level": "1"}).headers["Location"]
    refused = tablet.post("/rate", data={"level": "4", "source": "keyboard"}, follow_redirects=True).text
    assert "Nút đánh giá 4 không có trong thang 3 mức" in refused
    stored = ratings.recent_ratings(box.db())
    assert [(r["level"], r["scale"], r["label_vi"]) for r in stored] == [(1, 3, "Hài lòng")]
    assert box.db().execute("SELECT button, scale, source FROM rating_rejects").fetchall() == [(4, 3, "keyboard")]

    token = create_token(box.db(), "canbo")
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    rated = api.post("/api/v1/ratings", json={"dossier_code": code, "score": 3}, headers=headers)
    assert rated.status_code == 201 and (rated.json["scale"], rated.json["label_vi"]) == (3, "Hài lòng")  # type: ignore[index]
    too_high = api.post("/api/v1/ratings", json={"dossier_code": code, "score": 5}, headers=headers)
    assert too_high.status_code == 422 and "từ 1 (không hài lòng) đến 3 (hài lòng)" in too_high.text
    nothing = api.post("/api/v1/ratings", json={"score": 2}, headers=headers)
    assert nothing.status_code == 422 and "rating_without_subject" in nothing.text


def _seed(box: Box, clock: FakeClock, officer: User) -> str:
    """Two ratings of 5 levels in November (1 satisfied), one of 3 levels in December (satisfied)."""
    dossier = intake.receive_dossier(box, officer, dossier_body())
    db = box.db()
    ratings.set_counter_subject(db, 1, dossier_id=dossier["dossier_id"], officer="canbo")
    ratings.record_rating(db, 1, 2, 5, "keypad", now=clock())
    ratings.record_rating(db, 1, 4, 5, "keypad", now=clock())
    ratings.record_rating(db, 1, 1, 3, "keypad", now=datetime(2026, 12, 3, 9, 0, tzinfo=TZ))
    evaluation.record_evaluation(db, dossier["code"], {**dict.fromkeys(evaluation.KEYS, 2), "attitude": 1}, "kiosk",
                                 clock())  # fmt: skip
    return str(dossier["code"])


def test_the_satisfaction_page_shows_the_figures_of_the_range(
    app_box: tuple[Flask, Box], clock: FakeClock, officer: User
) -> None:
    app, box = app_box
    _seed(box, clock, officer)
    client = signed_in(app, "lanhdao")
    reports = client.get("/reports?from=2026-11-01&to=2026-12-31&by=month").text
    assert 'href="/reports/satisfaction?from=2026-11-01&amp;to=2026-12-31" data-satisfaction-link' in reports
    page = client.get("/reports/satisfaction?from=01/11/2026&to=31/12/2026")
    assert page.status_code == 200
    assert cells(page.text, "canbo", "officer")[1:] == ["3", "2", "66,7 %"]
    assert cells(page.text, "1.001193", "procedure")[1:] == ["3", "2", "66,7 %"]
    assert cells(page.text, "2026-11", "month") == ["11/2026", "2", "1", "50,0 %"]
    assert cells(page.text, "2026-12", "month") == ["12/2026", "1", "1", "100,0 %"]
    assert re.search(r'data-level="5-2"><td>5 mức</td><td>Hài lòng ✓</td><td class="num">1<', page.text)
    assert re.search(r'data-level="3-1"><td>3 mức</td><td>Hài lòng ✓</td><td class="num">1<', page.text)
    assert 'data-evaluations="1"' in page.text
    assert re.search(r'data-indicator="attitude">.*?data-col="mean">1,00<', page.text, re.S)
    assert re.search(r'data-indicator="total">.*?data-col="mean">17,00<', page.text, re.S)
    november = client.get("/reports/satisfaction?from=2026-11-01&to=2026-11-30").text
    assert cells(november, "", "month")[1:] == ["2", "1", "50,0 %"] and 'data-level="3-1"' not in november


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=32/11/2026", "không hợp lệ"),
        ("from=2026-12-01&to=2026-11-01", "Ngày bắt đầu phải trước"),
        ("from=1999-01-01&to=1999-01-02", "2000–2100"),
        ("from=2000-01-01&to=2026-01-01", "tối đa"),
    ],
)
def test_a_wrong_range_is_named_by_its_field(app_box: tuple[Flask, Box], query: str, message: str) -> None:
    app, _ = app_box
    client = signed_in(app, "lanhdao")
    for path in ("/reports/satisfaction", "/reports/satisfaction.csv", "/reports/satisfaction.xlsx"):
        page = client.get(f"{path}?{query}")
        assert page.status_code == 422 and message in page.text and "data-errors" in page.text, path


def test_the_downloads_hold_the_same_figures(app_box: tuple[Flask, Box], clock: FakeClock, officer: User) -> None:
    app, box = app_box
    _seed(box, clock, officer)
    client = signed_in(app, "canbo")
    csv = client.get("/reports/satisfaction.csv?from=2026-11-01&to=2026-12-31&by=month")
    assert csv.status_code == 200 and csv.content_type == "text/csv; charset=utf-8"
    name = urllib.parse.unquote(csv.headers["Content-Disposition"].split("filename*=UTF-8''")[1])
    assert name == "hài-lòng-theo-tháng-2026-11-01_2026-12-31.csv"
    assert csv.data.decode("utf-8-sig").splitlines() == [
        "Mã,Tháng,Số lượt đánh giá,Hài lòng,Tỷ lệ hài lòng (%)", "2026-11,11/2026,2,1,50.0", "2026-12,12/2026,1,1,100.0",
        ",Tổng cộng,3,2,66.7",
    ]  # fmt: skip
    assert client.get("/reports/satisfaction.csv?by=quý").status_code == 422
    xlsx = client.get("/reports/satisfaction.xlsx?from=2026-11-01&to=2026-11-30")
    assert xlsx.status_code == 200 and "hài-lòng-2026-11.xlsx" in urllib.parse.unquote(
        xlsx.headers["Content-Disposition"]
    )
    book = load_workbook(io.BytesIO(xlsx.data))
    officer_sheet = book["Theo cán bộ"]
    assert officer_sheet["A1"].value.startswith("Mức độ hài lòng từ 01/11/2026 đến 30/11/2026")
    assert [c.value for c in officer_sheet[3]] == ["canbo", "canbo", 2, 1, 0.5]
    indicators = [[c.value for c in row] for row in book["Đánh giá 9 chỉ số"].iter_rows(min_row=3)]
    assert indicators[6][:4] == ["7", "Thái độ của cán bộ khi hướng dẫn, tiếp nhận và giải quyết hồ sơ", "1,00", 2]


def test_only_who_reads_reports_sees_satisfaction(app_box: tuple[Flask, Box]) -> None:
    app, _ = app_box
    for username in ("quantri", "kythuat"):
        client = signed_in(app, username)
        for path in ("/reports/satisfaction", "/reports/satisfaction.csv", "/reports/satisfaction.xlsx"):
            assert client.get(path).status_code == 403, (username, path)
    english = signed_in(app, "lanhdao")
    english.get("/lang/en")
    page = english.get("/reports/satisfaction").text
    assert "Satisfaction" in page and "Mean points" in page and "Officer unknown" not in page
