"""The report page ("Báo cáo, thống kê") and its downloads, on a real box through the Flask client."""

from __future__ import annotations

import csv
import html as htmllib
import io
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from werkzeug.test import TestResponse

from edge import actions, audit, intake, reports
from edge.box import Box, open_box
from edge.calendar import TZ
from edge.config import Settings
from edge.errors import ValidationError
from edge.users import User
from tests.conftest import PASSWORD, FakeClock, applicant, dossier_body
from ui.app import create_app
from ui.web import reports as web_reports

FIVE_DAY = "1.001731"  # 5 working days
THREE_DAY = "1.004194"  # 3 working days
SAME_DAY = "1.001193"  # same day, cut-off 15:00 (Thủ tục đăng ký khai sinh)
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=TZ)
OFFICER2 = User("canbo2", "officer")
LEADER = User("lanhdao", "leader")
BINH = "Trần Thị Bình"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def at(clock: FakeClock, month: int, day: int, hour: int, minute: int = 0) -> None:
    clock.set(datetime(2026, month, day, hour, minute, tzinfo=TZ))


def receive(box: Box, user: User, procedure: str, **changes: object) -> str:
    return str(intake.receive_dossier(box, user, dossier_body(procedure, **changes))["code"])


def build_scenario(box: Box, clock: FakeClock, officer: User) -> dict[str, str]:
    """Seven received dossiers from September to 25/11/2026 09:00 (see each line)."""
    box.db().execute("UPDATE users SET full_name = ? WHERE username = 'canbo2'", [BINH])
    act = actions.act
    c: dict[str, str] = {}
    # A: September, canbo, returned by post, on time.
    at(clock, 9, 14, 9)
    c["A"] = receive(box, officer, FIVE_DAY, return_method="post", applicant=applicant(full_name="Lê Thị Ánh"))
    at(clock, 9, 14, 10)
    act(box, officer, c["A"], "transfer", {"assignee": "canbo2"})
    at(clock, 9, 16, 9)
    act(box, LEADER, c["A"], "approve", {})
    at(clock, 9, 17, 9)
    act(box, officer, c["A"], "return-result", {})
    # B: September, canbo2, due 18/09 10:00, result ready late on 22/09.
    at(clock, 9, 15, 10)
    c["B"] = receive(box, OFFICER2, THREE_DAY)
    at(clock, 9, 22, 9)
    act(box, LEADER, c["B"], "approve", {})
    # C: October, refused at intake.
    at(clock, 10, 5, 9)
    c["C"] = receive(box, officer, SAME_DAY)
    at(clock, 10, 5, 9, 30)
    act(box, officer, c["C"], "refuse", {"reason": "Sai thẩm quyền giải quyết"})
    # D: filed online on 6/10, received by canbo2 on 7/10, then withdrawn.
    at(clock, 10, 6, 9)
    c["D"] = receive(box, officer, THREE_DAY, channel="online")
    at(clock, 10, 7, 8)
    act(box, OFFICER2, c["D"], "receive", {})
    at(clock, 10, 8, 9)
    act(box, officer, c["D"], "withdraw", {"reason": "Công dân xin rút"})
    # F: November, still new, due 9/11: overdue now.
    at(clock, 11, 2, 9)
    c["F"] = receive(box, officer, FIVE_DAY, applicant=applicant(full_name="Nguyễn Thị Ánh"))
    # J: received and returned this morning.
    at(clock, 11, 25, 8)
    c["J"] = receive(box, officer, SAME_DAY)
    at(clock, 11, 25, 8, 30)
    act(box, officer, c["J"], "approve", {})
    at(clock, 11, 25, 8, 45)
    act(box, officer, c["J"], "return-result", {"method": "counter"})
    # K: received this morning by canbo2, due today 17:00.
    at(clock, 11, 25, 8, 50)
    c["K"] = receive(box, OFFICER2, SAME_DAY)
    clock.set(NOW)
    return c


@pytest.fixture
def app(box_settings: Settings, clock: FakeClock) -> Iterator[Flask]:
    box = open_box(box_settings.data_dir, clock=clock)
    yield create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True})
    box.close()


@pytest.fixture
def scenario(app: Flask, clock: FakeClock, officer: User) -> dict[str, str]:
    return build_scenario(app.extensions["box"], clock, officer)


def login(client: FlaskClient, username: str = "canbo") -> FlaskClient:
    resp = client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 302, resp.text
    return client


@pytest.fixture
def as_officer(app: Flask) -> FlaskClient:
    return login(app.test_client())


@pytest.fixture
def as_leader(app: Flask) -> FlaskClient:
    return login(app.test_client(), "lanhdao")


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    resp = client.get(url)
    assert resp.status_code == status, resp.text[:2000]
    return resp.text


def table(html: str) -> dict[str, dict[str, str]]:
    """Return each row of the report table: its key -> label and the text of each column."""
    out: dict[str, dict[str, str]] = {}
    for key, body in re.findall(r'<tr data-key="([^"]*)"[^>]*>(.*?)</tr>', html, re.S):
        label = re.search(r'<th scope="row">(?:<a href="[^"]*">)?([^<]*)', body)
        assert label
        cells = dict(re.findall(r'data-col="(\w+)"[^>]*>([^<]*)<', body))
        out[key] = {"label": htmllib.unescape(label[1]), **cells}
    return out


def keys(html: str) -> list[str]:
    return re.findall(r'<tr data-key="([^"]*)"', html)


def numbers(row: dict[str, str]) -> tuple[str, ...]:
    cols = ("received", "on_time", "late", "in_progress", "overdue", "refused", "withdrawn", "stopped")
    return tuple(row[c] for c in cols)


def rates(row: dict[str, str]) -> tuple[str, str, str]:
    return row["online_share"], row["post_share"], row["on_time_rate"]


def link(html: str, marker: str) -> str:
    found = re.search(rf'href="([^"]+)" {marker}', html)
    assert found, marker
    return htmllib.unescape(found[1])


def disposition(resp: TestResponse) -> tuple[str, str]:
    """Return the ASCII file name and the UTF-8 one of a download."""
    header = resp.headers["Content-Disposition"]
    found = re.fullmatch(r"attachment; filename=\"([\x20-\x7e]+)\"; filename\*=UTF-8''(\S+)", header)
    assert found, header
    return found[1], unquote(found[2])


# --- access -------------------------------------------------------------------------------------


ROUTES = ("/reports", "/reports/export.csv", "/reports/export.xlsx", "/reports/logbook.csv", "/reports/logbook.xlsx")


def test_every_route_needs_a_session(app: Flask) -> None:
    client = app.test_client()
    for path in ROUTES:
        resp = client.get(path + "?from=2026-11-01&to=2026-11-30")
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login"), path


def test_officers_and_leaders_only(app: Flask) -> None:
    for username in ("kythuat", "quantri"):
        client = login(app.test_client(), username)
        for path in ROUTES:
            resp = client.get(path)
            assert resp.status_code == 403, (username, path)
            assert "Không có quyền" in resp.text and "Content-Disposition" not in resp.headers
        assert "Báo cáo, thống kê" not in page(client, "/sync")  # not in their menu either
    for username in ("canbo", "lanhdao"):
        client = login(app.test_client(), username)
        html = page(client, "/reports")
        assert 'href="/reports" aria-current="page">Báo cáo, thống kê</a>' in html
        for path in ROUTES[1:]:
            assert client.get(path).status_code == 200, (username, path)


# --- the page -----------------------------------------------------------------------------------


def test_default_is_this_month_by_day(as_officer: FlaskClient, scenario: dict[str, str]) -> None:
    html = page(as_officer, "/reports")
    assert '<html lang="vi">' in html and "<h1>Báo cáo, thống kê</h1>" in html
    assert re.search(r'id="from" name="from" type="text"[^>]*value="01/11/2026"', html)
    assert re.search(r'id="to" name="to" type="text"[^>]*value="30/11/2026"', html)
    assert '<option value="day" selected>Theo ngày</option>' in html
    assert "Ngày · tiếp nhận từ 01/11/2026 đến 30/11/2026" in html
    # Every day of the month, in order, then the total.
    assert keys(html) == [f"2026-11-{d:02d}" for d in range(1, 31)] + ["total"]
    rows = table(html)
    assert rows["2026-11-01"]["label"] == "01/11/2026"
    assert numbers(rows["2026-11-01"]) == ("0",) * 8 and rates(rows["2026-11-01"]) == ("–", "–", "–")
    assert numbers(rows["2026-11-02"]) == ("1", "0", "0", "1", "1", "0", "0", "0")  # F, overdue
    assert numbers(rows["2026-11-25"]) == ("2", "1", "0", "1", "0", "0", "0", "0")  # J returned, K open
    assert rates(rows["2026-11-25"]) == ("0,0 %", "0,0 %", "100,0 %")
    assert rows["total"]["label"] == "Tổng cộng"
    assert numbers(rows["total"]) == ("3", "1", "0", "2", "1", "0", "0", "0")
    assert rates(rows["total"]) == ("0,0 %", "0,0 %", "100,0 %")
    # The total is in the table's foot; a day with dossiers leads to the dossier list of that day.
    assert re.search(r'<tfoot>\s*<tr data-key="total"', html)
    assert 'href="/dossiers?received_from=2026-11-02&amp;received_to=2026-11-02">02/11/2026</a>' in html
    assert 'href="/dossiers?received_from=2026-11-01&amp;received_to=2026-11-30">Tổng cộng</a>' in html


def test_by_month_counts_and_rates(as_leader: FlaskClient, scenario: dict[str, str]) -> None:
    html = page(as_leader, "/reports?from=2026-09-01&to=2026-11-30&by=month")
    assert '<option value="month" selected>Theo tháng</option>' in html
    rows = table(html)
    assert [(k, r["label"]) for k, r in rows.items()] == [
        ("2026-09", "Tháng 09/2026"),
        ("2026-10", "Tháng 10/2026"),
        ("2026-11", "Tháng 11/2026"),
        ("total", "Tổng cộng"),
    ]
    #                                   received on_time late in_progress overdue refused withdrawn stopped
    assert numbers(rows["2026-09"]) == ("2", "1", "1", "0", "0", "0", "0", "0")
    assert numbers(rows["2026-10"]) == ("2", "0", "0", "0", "0", "1", "1", "0")
    assert numbers(rows["2026-11"]) == ("3", "1", "0", "2", "1", "0", "0", "0")
    assert numbers(rows["total"]) == ("7", "2", "1", "2", "1", "1", "1", "0")
    #                                 online   post     on time
    assert rates(rows["2026-09"]) == ("0,0 %", "50,0 %", "50,0 %")
    assert rates(rows["2026-10"]) == ("50,0 %", "0,0 %", "–")  # nothing finished: no rate
    assert rates(rows["total"]) == ("14,3 %", "14,3 %", "66,7 %")
    # A month's row leads to the dossiers received that month.
    assert 'href="/dossiers?received_from=2026-10-01&amp;received_to=2026-10-31">Tháng 10/2026</a>' in html
    assert 'class="num bad" data-col="late">1<' in html


def test_by_quarter_clamps_the_drill_down_to_the_range(as_leader: FlaskClient, scenario: dict[str, str]) -> None:
    html = page(as_leader, "/reports?from=2026-08-15&to=2026-12-31&by=quarter")
    rows = table(html)
    assert [(k, r["label"], r["received"]) for k, r in rows.items()] == [
        ("2026-Q3", "Quý 3/2026", "2"),
        ("2026-Q4", "Quý 4/2026", "5"),
        ("total", "Tổng cộng", "7"),
    ]
    assert 'href="/dossiers?received_from=2026-08-15&amp;received_to=2026-09-30">Quý 3/2026</a>' in html


def test_by_procedure(as_officer: FlaskClient, scenario: dict[str, str]) -> None:
    html = page(as_officer, "/reports?from=2026-01-01&to=2026-12-31&by=procedure")
    assert '<th scope="col">Thủ tục hành chính</th>' in html
    rows = table(html)
    assert list(rows) == [SAME_DAY, FIVE_DAY, THREE_DAY, "total"]  # most received first, ties by code
    assert rows[SAME_DAY]["label"] == "Thủ tục đăng ký khai sinh"
    assert numbers(rows[SAME_DAY]) == ("3", "1", "0", "1", "0", "1", "0", "0")  # C refused, J, K
    assert numbers(rows[FIVE_DAY]) == ("2", "1", "0", "1", "1", "0", "0", "0")  # A, F
    assert numbers(rows[THREE_DAY]) == ("2", "0", "1", "0", "0", "0", "1", "0")  # B late, D withdrawn
    assert rates(rows[THREE_DAY]) == ("50,0 %", "0,0 %", "0,0 %")
    assert f'href="/dossiers?received_from=2026-01-01&amp;received_to=2026-12-31&amp;procedure={SAME_DAY}"' in html


def test_by_officer(as_leader: FlaskClient, scenario: dict[str, str]) -> None:
    html = page(as_leader, "/reports?from=2026-01-01&to=2026-12-31&by=officer")
    rows = table(html)
    # canbo2 received B, K and D (filed online by canbo, received at the counter by canbo2).
    assert [(k, r["label"], r["received"]) for k, r in rows.items()] == [
        ("canbo", "canbo", "4"),
        ("canbo2", BINH, "3"),
        ("total", "Tổng cộng", "7"),
    ]
    assert numbers(rows["canbo"]) == ("4", "2", "0", "1", "1", "1", "0", "0")
    assert rates(rows["canbo2"]) == ("33,3 %", "0,0 %", "0,0 %")


def test_an_empty_range_says_so(as_officer: FlaskClient, scenario: dict[str, str]) -> None:
    html = page(as_officer, "/reports?from=2025-01-01&to=2025-12-31&by=procedure")
    assert keys(html) == ["total"] and "Không có hồ sơ nào được tiếp nhận trong khoảng thời gian này." in html
    html = page(as_officer, "/reports?from=2025-01-01&to=2025-03-31&by=month")
    assert keys(html) == ["2025-01", "2025-02", "2025-03", "total"]
    assert rates(table(html)["total"]) == ("–", "–", "–")


def test_quick_links(as_officer: FlaskClient) -> None:
    html = page(as_officer, "/reports?by=procedure")
    quick = {
        label: parse_qs(urlsplit(htmllib.unescape(url)).query)
        for url, label in re.findall(r'<a href="([^"]+)" data-quick="\d"[^>]*>([^<]+)</a>', html)
    }
    assert quick == {
        "Hôm nay": {"from": ["2026-11-25"], "to": ["2026-11-25"], "by": ["procedure"]},
        "Tháng này": {"from": ["2026-11-01"], "to": ["2026-11-30"], "by": ["procedure"]},
        "Quý này": {"from": ["2026-10-01"], "to": ["2026-12-31"], "by": ["procedure"]},
        "Năm nay": {"from": ["2026-01-01"], "to": ["2026-12-31"], "by": ["procedure"]},
    }
    assert re.search(r'data-quick="2" aria-current="true">Tháng này', html)
    # By day, a quarter or a year is shown by month.
    html = page(as_officer, "/reports")
    assert 'href="/reports?from=2026-10-01&amp;to=2026-12-31&amp;by=month" data-quick="3"' in html
    assert 'href="/reports?from=2026-01-01&amp;to=2026-12-31&amp;by=month" data-quick="4"' in html
    assert 'href="/reports?from=2026-11-25&amp;to=2026-11-25&amp;by=day" data-quick="1"' in html


def test_the_page_links_to_the_downloads_and_the_print_view(as_officer: FlaskClient) -> None:
    html = page(as_officer, "/reports?from=2026-09-01&to=2026-11-30&by=month")
    assert link(html, 'data-export="csv"') == "/reports/export.csv?from=2026-09-01&to=2026-11-30&by=month"
    assert link(html, 'data-export="xlsx"') == "/reports/export.xlsx?from=2026-09-01&to=2026-11-30&by=month"
    assert link(html, 'data-export="logbook-csv"') == "/reports/logbook.csv?from=2026-09-01&to=2026-11-30"
    assert link(html, 'data-export="logbook-xlsx"') == "/reports/logbook.xlsx?from=2026-09-01&to=2026-11-30"
    assert link(html, 'data-export="logbook-print"') == "/logbook/print?from=2026-09-01&to=2026-11-30"
    assert as_officer.get(link(html, 'data-export="logbook-print"')).status_code == 200
    # Over a year by month: the report is fine, the logbook is not offered.
    html = page(as_officer, "/reports?from=2025-01-01&to=2026-12-31&by=month")
    assert 'data-export="xlsx"' in html and 'data-export="logbook-csv"' not in html
    assert "Sổ theo dõi hồ sơ xuất tối đa 366 ngày một lần" in html


def test_dd_mm_yyyy_is_read_too(as_officer: FlaskClient, scenario: dict[str, str]) -> None:
    html = page(as_officer, "/reports?from=1/9/2026&to=30/09/2026&by=month")
    assert 'value="01/09/2026"' in html and table(html)["2026-09"]["received"] == "2"


# --- validation ---------------------------------------------------------------------------------


def edge_message(start: date, end: date, max_days: int | None, language: str = "vi") -> str:
    """Return edge's own message for a range it refuses (the page shows it as it is)."""
    with pytest.raises(ValidationError) as caught:
        reports.check_range(start, end, max_days)
    return caught.value.message(language)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=2026-13-01", "from", "Ngày “2026-13-01” không hợp lệ; chọn ngày theo dạng 26/11/2026."),
        ("from=2026-11-01&to=hom-qua", "to", "Ngày “hom-qua” không hợp lệ; chọn ngày theo dạng 26/11/2026."),
        ("from=31/02/2026&to=2026-11-01", "from", "Ngày “31/02/2026” không hợp lệ"),
        ("from=1999-12-31&to=2026-11-01", "from", "Từ ngày phải nằm trong khoảng năm 2000–2100."),
        ("from=2026-01-01&to=2101-01-01&by=month", "to", "Đến ngày phải nằm trong khoảng năm 2000–2100."),
        ("from=2026-11-30&to=2026-11-01", "from", (date(2026, 11, 30), date(2026, 11, 1), None)),
        ("from=2025-01-01&to=2026-11-30&by=day", "to", (date(2025, 1, 1), date(2026, 11, 30), 366)),
        ("from=2010-01-01&to=2026-11-30&by=month", "to", (date(2010, 1, 1), date(2026, 11, 30), None)),
        ("by=tuan", "by", "Chọn cách nhóm: theo ngày, tháng, quý, thủ tục hành chính hoặc cán bộ tiếp nhận."),
    ],
)
def test_validation_messages(
    as_officer: FlaskClient, query: str, field: str, message: str | tuple[date, date, int | None]
) -> None:
    if isinstance(message, tuple):
        message = edge_message(*message)
    html = htmllib.unescape(page(as_officer, f"/reports?{query}", 422))
    assert re.search(rf'<p class="field-error" id="{field}-error">{re.escape(message)}', html), html
    assert f'aria-invalid="true" aria-describedby="{field}-error"' in html
    assert 'role="alert"' in html and "Chưa xem được báo cáo:" in html
    assert "<table" not in html and "data-export" not in html
    # The downloads with the same query give the same page, never a file.
    for path in ("/reports/export.csv", "/reports/export.xlsx"):
        resp = as_officer.get(f"{path}?{query}")
        assert resp.status_code == 422 and "Content-Disposition" not in resp.headers
        assert message in htmllib.unescape(resp.text)


def test_what_was_typed_stays_in_the_form(as_officer: FlaskClient) -> None:
    html = page(as_officer, "/reports?from=2026-11-31&to=2026-12-05&by=month", 422)
    assert re.search(r'id="from" name="from" type="text"[^>]*value="2026-11-31"', html)
    assert re.search(r'id="to" name="to" type="text"[^>]*value="(2026-12-05|05/12/2026)"', html)
    assert '<option value="month" selected>' in html


def test_markup_in_the_query_is_inert(as_officer: FlaskClient) -> None:
    html = page(as_officer, "/reports?from=<script>alert(1)</script>", 422)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_logbook_validation(as_officer: FlaskClient) -> None:
    resp = as_officer.get("/reports/logbook.xlsx?from=2025-01-01&to=2026-11-30")
    assert resp.status_code == 422 and "Content-Disposition" not in resp.headers
    assert edge_message(date(2025, 1, 1), date(2026, 11, 30), 366) in htmllib.unescape(resp.text)
    resp = as_officer.get("/reports/logbook.csv?from=2026-11-30&to=2026-11-01")
    assert resp.status_code == 422
    assert edge_message(date(2026, 11, 30), date(2026, 11, 1), 366) in htmllib.unescape(resp.text)


# --- downloads ----------------------------------------------------------------------------------


def test_report_csv(as_leader: FlaskClient, scenario: dict[str, str]) -> None:
    resp = as_leader.get("/reports/export.csv?from=2026-01-01&to=2026-12-31&by=procedure")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert disposition(resp) == ("bao-cao-theo-thu-tuc-2026.csv", "báo-cáo-theo-thủ-tục-2026.csv")
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert resp.data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    lines = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert lines[0][:4] == ["Mã", "Thủ tục hành chính", "Tiếp nhận", "Đã giải quyết"]
    assert "Tỷ lệ đúng hạn (%)" in lines[0]
    by_key = {line[0]: dict(zip(lines[0], line, strict=True)) for line in lines[1:]}
    assert list(by_key) == [SAME_DAY, FIVE_DAY, THREE_DAY, "total"]
    assert by_key[SAME_DAY]["Thủ tục hành chính"] == "Thủ tục đăng ký khai sinh"
    assert by_key["total"]["Thủ tục hành chính"] == "Tổng cộng"
    assert by_key["total"]["Tiếp nhận"] == "7" and by_key["total"]["Tỷ lệ đúng hạn (%)"] == "66.7"


def test_report_xlsx(as_leader: FlaskClient, scenario: dict[str, str]) -> None:
    resp = as_leader.get("/reports/export.xlsx?from=2026-09-01&to=2026-11-30&by=month")
    assert resp.status_code == 200 and resp.mimetype == XLSX
    assert disposition(resp) == (
        "bao-cao-theo-thang-2026-09-01_2026-11-30.xlsx",
        "báo-cáo-theo-tháng-2026-09-01_2026-11-30.xlsx",
    )
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert ws["A1"].value == "Báo cáo, thống kê hồ sơ theo tháng từ 01/09/2026 đến 30/11/2026 – UBND xã Thử Nghiệm"
    header = [c.value for c in ws[2]]
    assert header[:3] == ["Mã", "Tháng", "Tiếp nhận"]
    body = {row[0]: dict(zip(header, row, strict=True)) for row in ws.iter_rows(min_row=3, values_only=True)}
    assert list(body) == ["2026-09", "2026-10", "2026-11", "total"]
    assert body["2026-09"]["Tháng"] == "Tháng 09/2026"
    assert (body["2026-09"]["Giải quyết đúng hạn"], body["2026-09"]["Giải quyết trễ hạn"]) == (1, 1)
    assert body["2026-10"]["Tỷ lệ đúng hạn"] is None and body["2026-10"]["Tỷ lệ trực tuyến"] == 0.5
    assert body["total"]["Tiếp nhận"] == 7 and body["total"]["Tỷ lệ đúng hạn"] == pytest.approx(2 / 3)
    assert ws.cell(row=6, column=2).font.bold  # the total row


def test_the_default_download_is_this_month(as_officer: FlaskClient, scenario: dict[str, str]) -> None:
    resp = as_officer.get("/reports/export.xlsx")
    assert disposition(resp) == ("bao-cao-2026-11.xlsx", "báo-cáo-2026-11.xlsx")
    rows = list(load_workbook(io.BytesIO(resp.data)).active.iter_rows(min_row=3, values_only=True))
    assert len(rows) == 31 and rows[-1][0] == "total" and rows[-1][2] == 3


def test_file_names() -> None:
    assert web_reports.span_name(date(2026, 11, 25), date(2026, 11, 25)) == "2026-11-25"
    assert web_reports.span_name(date(2026, 2, 1), date(2026, 2, 28)) == "2026-02"
    assert web_reports.span_name(date(2028, 2, 1), date(2028, 2, 29)) == "2028-02"
    assert web_reports.span_name(date(2026, 10, 1), date(2026, 12, 31)) == "2026-Q4"
    assert web_reports.span_name(date(2026, 1, 1), date(2026, 12, 31)) == "2026"
    assert web_reports.span_name(date(2026, 1, 1), date(2027, 12, 31)) == "2026-01-01_2027-12-31"
    assert web_reports.span_name(date(2026, 11, 2), date(2026, 11, 30)) == "2026-11-02_2026-11-30"
    assert web_reports.ascii_name("báo-cáo-theo-cán-bộ-2026-Q4.xlsx") == "bao-cao-theo-can-bo-2026-Q4.xlsx"
    assert web_reports.ascii_name("sổ-theo-dõi-Đủ đầy.csv") == "so-theo-doi-Du-day.csv"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("from=2026-10-01&to=2026-12-31&by=quarter", "báo-cáo-theo-quý-2026-Q4"),
        ("from=2026-11-25&to=2026-11-25&by=officer", "báo-cáo-theo-cán-bộ-2026-11-25"),
        ("from=2026-11-01&to=2026-11-30&by=day", "báo-cáo-2026-11"),
    ],
)
def test_download_names(as_officer: FlaskClient, query: str, name: str) -> None:
    resp = as_officer.get(f"/reports/export.csv?{query}")
    assert resp.status_code == 200
    ascii_name, utf8_name = disposition(resp)
    assert utf8_name == name + ".csv" and ascii_name == web_reports.ascii_name(name) + ".csv"
    assert f"filename*=UTF-8''{quote(name)}.csv" in resp.headers["Content-Disposition"]


def test_logbook_csv(as_officer: FlaskClient, scenario: dict[str, str], app: Flask) -> None:
    resp = as_officer.get("/reports/logbook.csv?from=2026-11-01&to=2026-11-30")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert disposition(resp) == (
        "so-theo-doi-2026-11-01_2026-11-30.csv",
        "sổ-theo-dõi-2026-11-01_2026-11-30.csv",
    )
    lines = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert lines[0][:3] == ["STT", "Mã hồ sơ", "Tên thủ tục hành chính"]
    body = [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    assert [line["Mã hồ sơ"] for line in body] == [scenario["F"], scenario["J"], scenario["K"]]
    assert body[0]["Người nộp hồ sơ"] == "Nguyễn Thị Ánh"
    assert body[0]["Nhận hồ sơ (ngày, giờ)"] == "02/11/2026 09:00"
    assert body[1]["Hình thức trả"] == "Trực tiếp"
    # Who took a copy of the logbook (names, addresses, phones) is in the audit log.
    entry = audit.entries(app.extensions["box"].db(), limit=1)[0]
    assert (entry["actor"], entry["action"]) == ("canbo", "logbook_export")
    detail = entry["detail"] if isinstance(entry["detail"], dict) else json.loads(entry["detail"])
    assert detail == {"from": "2026-11-01", "to": "2026-11-30", "format": "csv", "lines": 3}


def test_logbook_xlsx(as_leader: FlaskClient, scenario: dict[str, str]) -> None:
    resp = as_leader.get("/reports/logbook.xlsx?from=2026-09-01&to=2026-09-30&by=procedure")
    assert resp.status_code == 200 and resp.mimetype == XLSX
    assert disposition(resp) == (
        "so-theo-doi-2026-09-01_2026-09-30.xlsx",
        "sổ-theo-dõi-2026-09-01_2026-09-30.xlsx",
    )
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert ws["A1"].value == "Sổ theo dõi hồ sơ từ 01/09/2026 đến 30/09/2026 – UBND xã Thử Nghiệm"
    header = [c.value for c in ws[2]]
    body = [dict(zip(header, row, strict=True)) for row in ws.iter_rows(min_row=3, values_only=True)]
    assert [(line["STT"], line["Mã hồ sơ"]) for line in body] == [(1, scenario["A"]), (2, scenario["B"])]
    assert body[0]["Người nộp hồ sơ"] == "Lê Thị Ánh" and body[0]["Hình thức trả"] == "Qua bưu chính"
    assert body[0]["Nhận hồ sơ (ngày, giờ)"] == datetime(2026, 9, 14, 9, 0)
    assert "trễ hạn" in body[1]["Ghi chú"]


def test_an_empty_logbook_is_still_a_file(as_officer: FlaskClient) -> None:
    resp = as_officer.get("/reports/logbook.xlsx")  # this month, nothing received
    assert resp.status_code == 200
    assert disposition(resp)[0] == "so-theo-doi-2026-11-01_2026-11-30.xlsx"
    assert load_workbook(io.BytesIO(resp.data)).active.max_row == 2  # title and header


# --- language and formats -------------------------------------------------------------------------


def test_english(as_leader: FlaskClient, scenario: dict[str, str]) -> None:
    as_leader.get("/lang/en")
    html = page(as_leader, "/reports?from=2026-07-01&to=2026-12-31&by=quarter")
    assert '<html lang="en">' in html
    rows = table(html)
    assert [(k, r["label"]) for k, r in rows.items()] == [
        ("2026-Q3", "Q3 2026"),
        ("2026-Q4", "Q4 2026"),
        ("total", "Total"),
    ]
    assert rates(rows["total"]) == ("14.3%", "14.3%", "66.7%")
    assert '<th scope="col">Quarter</th>' in html
    html = page(as_leader, "/reports?from=2026-09-01&to=2026-11-30&by=month")
    assert table(html)["2026-10"]["label"] == "10/2026"
    html = htmllib.unescape(page(as_leader, "/reports?from=2026-11-30&to=2026-11-01", 422))
    assert edge_message(date(2026, 11, 30), date(2026, 11, 1), None, "en") in html
    html = page(as_leader, "/reports?from=2026-02-30", 422)
    assert "The date “2026-02-30” is invalid; use the form 26/11/2026." in htmllib.unescape(html)
    html = page(as_leader, "/reports?by=week", 422)
    assert "Choose a grouping: by day, month, quarter, procedure or receiving officer." in html
    # The files stay Vietnamese documents.
    resp = as_leader.get("/reports/export.csv?from=2026-07-01&to=2026-12-31&by=quarter")
    assert "Tổng cộng" in resp.data.decode("utf-8-sig")


def test_number_formats(app: Flask) -> None:
    with app.test_request_context("/reports"):
        from flask import session

        assert web_reports.format_int(1234567) == "1.234.567"
        assert web_reports.format_int(0) == "0"
        assert web_reports.format_percent(0.875) == "87,5 %"
        assert web_reports.format_percent(1.0) == "100,0 %"
        assert web_reports.format_percent(2 / 3) == "66,7 %"
        assert web_reports.format_percent(None) == "–"
        session["lang"] = "en"
        assert web_reports.format_int(1234567) == "1,234,567"
        assert web_reports.format_percent(0.875) == "87.5%"
