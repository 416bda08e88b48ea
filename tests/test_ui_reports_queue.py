"""The reports page's queue tab ("Lấy số thứ tự") and its CSV and Excel downloads, on hand-made tickets."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from edge.box import open_box
from edge.config import Settings
from tests.conftest import PASSWORD, FakeClock
from tests.test_queuestats import build_two_months
from tests.test_translations import vietnamese_ui_text
from ui.app import create_app

RANGE = "from=2026-10-01&to=2026-11-30"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def app(box_settings: Settings, clock: FakeClock) -> Iterator[Flask]:
    box = open_box(box_settings.data_dir, clock=clock)
    box.db().execute("UPDATE users SET full_name = 'Trần Thị Bình' WHERE username = 'canbo2'")
    build_two_months(box)
    yield create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True})
    box.close()


def main(page: str) -> str:
    """Return the page's main content (the menu belongs to every page and is checked elsewhere)."""
    return page[page.index("<main") : page.index("</main>")]


def login(app: Flask, username: str = "lanhdao") -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def cells(page: str, key: str) -> dict[str, str]:
    """Return the shown figures of one row (by its data-key)."""
    row = re.search(rf'<tr data-key="{key}"[^>]*>(.*?)</tr>', page, re.S)
    assert row, key
    return dict(re.findall(r'data-col="(\w+)"[^>]*>([^<]*)<', row.group(1)))


def test_the_queue_tab_shows_the_months_with_vietnamese_numbers(app: Flask) -> None:
    client = login(app)
    reports = client.get(f"/reports?{RANGE}").text
    assert f'href="/reports/queue?{RANGE.replace("&", "&amp;")}" data-tab="queue"' in reports
    resp = client.get(f"/reports/queue?{RANGE}&by=month")
    assert resp.status_code == 200 and 'aria-current="page">Lấy số thứ tự' in resp.text
    page = resp.text
    assert ">Tháng 10/2026<" in page and ">Tháng 11/2026<" in page
    assert cells(page, "2026-10") == {
        "tickets": "3", "served": "2", "no_shows": "1", "no_show_rate": "33,3 %",
        "wait_avg": "16,3 phút", "wait_p90": "24,0 phút", "service_avg": "4,5 phút",
    }  # fmt: skip
    assert cells(page, "total") == {
        "tickets": "6", "served": "4", "no_shows": "1", "no_show_rate": "20,0 %",
        "wait_avg": "12,0 phút", "wait_p90": "24,0 phút", "service_avg": "7,8 phút",
    }  # fmt: skip
    assert 'href="/reports/queue.xlsx?from=2026-10-01&amp;to=2026-11-30&amp;by=month"' in page


def test_by_officer_and_counter_with_the_tickets_never_called(app: Flask) -> None:
    client = login(app)
    page = client.get(f"/reports/queue?{RANGE}&by=officer").text
    assert ">Trần Thị Bình<" in page and cells(page, "canbo2")["service_avg"] == "5,5 phút"
    assert cells(page, "")["tickets"] == "1" and ">Chưa gọi<" in page
    page = client.get(f"/reports/queue?{RANGE}&by=counter").text
    assert cells(page, "3")["wait_avg"] == "24,0 phút" and ">Quầy số 3<" in page
    page = client.get("/reports/queue?from=2026-11-25&to=2026-11-25").text  # by service by default
    assert cells(page, "HT") == {
        "tickets": "2", "served": "1", "no_shows": "0", "no_show_rate": "0,0 %",
        "wait_avg": "6,0 phút", "wait_p90": "6,0 phút", "service_avg": "12,0 phút",
    }  # fmt: skip


def test_english_shows_minutes_the_english_way(app: Flask) -> None:
    client = login(app)
    client.get("/lang/en")
    page = client.get(f"/reports/queue?{RANGE}&by=month").text
    assert cells(page, "2026-10")["wait_avg"] == "16.3 min" and cells(page, "2026-10")["no_show_rate"] == "33.3%"
    assert ">10/2026<" in page and ">Total<" in page


def test_the_csv_has_the_exact_figures(app: Flask) -> None:
    resp = login(app).get(f"/reports/queue.csv?{RANGE}&by=month")
    assert resp.status_code == 200 and resp.content_type == "text/csv; charset=utf-8"
    name = "lấy-số-thứ-tự-theo-tháng-2026-10-01_2026-11-30.csv"
    assert f"filename*=UTF-8''{quote(name)}" in resp.headers["Content-Disposition"]
    assert resp.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows == [
        ["Mã", "Tháng", "Số đã cấp", "Đã phục vụ", "Vắng mặt", "Tỷ lệ vắng mặt (%)",
         "Thời gian chờ trung bình (phút)", "Thời gian chờ P90 (phút)", "Thời gian chờ lâu nhất (phút)",
         "Thời gian phục vụ trung bình (phút)"],
        ["2026-10", "Tháng 10/2026", "3", "2", "1", "33.3", "16.3", "24.0", "24.0", "4.5"],
        ["2026-11", "Tháng 11/2026", "3", "2", "0", "0.0", "5.5", "6.0", "6.0", "11.0"],
        ["total", "Tổng cộng", "6", "4", "1", "20.0", "12.0", "24.0", "24.0", "7.8"],
    ]  # fmt: skip


def test_the_workbook_has_the_exact_figures_and_a_bold_total(app: Flask) -> None:
    resp = login(app).get("/reports/queue.xlsx?from=2026-10-01&to=2026-10-31&by=service")
    assert resp.status_code == 200 and resp.content_type == XLSX
    assert f"filename*=UTF-8''{quote('lấy-số-thứ-tự-theo-dịch-vụ-2026-10.xlsx')}" in resp.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert ws is not None
    assert str(ws["A1"].value).startswith("Thống kê lấy số thứ tự theo dịch vụ từ 01/10/2026 đến 31/10/2026")
    assert [c.value for c in ws[2]][:3] == ["Mã", "Dịch vụ", "Số đã cấp"]
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    assert rows == [
        ("HT", "Hộ tịch", 2, 1, 1, 0.5, 12.5, 15.0, 15.0, 8.0),
        ("CT", "Chứng thực", 1, 1, 0, 0.0, 24.0, 24.0, 24.0, 1.0),
        ("total", "Tổng cộng", 3, 2, 1, pytest.approx(1 / 3, abs=1e-3), 16.3, 24.0, 24.0, 4.5),
    ]
    assert ws["G3"].number_format == "0.0" and ws["F3"].number_format == "0.0%"
    assert ws["A5"].font.b and not ws["A3"].font.b


def test_a_wrong_grouping_says_so_and_only_staff_who_read_reports_see_it(app: Flask) -> None:
    client = login(app)
    resp = client.get(f"/reports/queue?{RANGE}&by=procedure")
    assert resp.status_code == 422 and "Chọn cách nhóm: theo dịch vụ, quầy, cán bộ, ngày hoặc tháng." in resp.text
    bad = client.get("/reports/queue.csv?from=2025-01-01&to=2026-11-30&by=day")
    assert bad.status_code == 422 and "Content-Disposition" not in bad.headers
    for username in ("quantri", "kythuat"):
        assert login(app, username).get(f"/reports/queue?{RANGE}").status_code == 403
    assert login(app, "canbo").get(f"/reports/queue.csv?{RANGE}").status_code == 200


def test_the_english_queue_tab_has_no_vietnamese_outside_the_data(app: Flask) -> None:
    client = login(app)
    client.get("/lang/en")
    data = ["UBND xã Thử Nghiệm", "Trần Thị Bình", "Hộ tịch", "Chứng thực", "Quầy số 1", "Quầy số 2", "Quầy số 3"]
    for by in ("service", "counter", "officer", "day", "month"):
        page = client.get(f"/reports/queue?{RANGE}&by={by}").text
        assert vietnamese_ui_text(main(page), data) == [], by
