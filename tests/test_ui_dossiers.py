"""The dossier list and the dossier page, through the Flask test client against a real box."""

from __future__ import annotations

import html
import io
import re
import uuid
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge import actions, intake
from edge.attachments import attach
from edge.box import Box
from edge.calendar import TZ
from edge.events import events_of
from edge.hlc import format_hlc, parse_hlc
from edge.replication import apply_events
from edge.users import User, create_token
from tests.conftest import PASSWORD, FakeClock, applicant, dossier_body
from ui.app import create_app

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + b"0" * 200 + b"\n%%EOF\n"


@pytest.fixture
def app(box: Box) -> Flask:
    return create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True})


def login(app: Flask, username: str = "canbo") -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return login(app)


def page(response: Any) -> str:
    return str(response.get_data(as_text=True))


def listed(response: Any) -> list[str]:
    """Return the dossier codes of the list's rows, in order."""
    assert response.status_code == 200, page(response)[:2000]
    return re.findall(r'<tr class="[^"]*" data-code="([^"]+)"', page(response))


def row_of(text: str, code: str) -> str:
    match = re.search(rf'<tr class="([^"]*)" data-code="{re.escape(code)}">(.*?)</tr>', text, re.S)
    assert match, code
    return match[0]


def new(box: Box, officer: User, **changes: Any) -> str:
    code: str = intake.receive_dossier(box, officer, dossier_body(**changes))["code"]
    return code


def status(box: Box, code: str) -> str:
    return str(actions.find_state(box, code)["status"])


def post(client: FlaskClient, code: str, action: str, **form: Any) -> Any:
    return client.post(f"/dossiers/{code}/actions/{action}", data=form)


# --- access -----------------------------------------------------------------------------------


def test_list_and_page_need_a_session(app: Flask, box: Box, officer: User) -> None:
    code = new(box, officer)
    anonymous = app.test_client()
    for url in ("/dossiers", f"/dossiers/{code}", "/dossiers?q=nguyen"):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_technician_gets_the_403_page(app: Flask, box: Box, officer: User) -> None:
    code = new(box, officer)
    attach(box, officer, code, io.BytesIO(PNG), "scan.png")
    sha = actions.find_state(box, code)["attachments"][0]["sha256"]
    tech = login(app, "kythuat")
    for url in ("/dossiers", f"/dossiers/{code}", f"/dossiers/{code}/attachments/{sha}"):
        response = tech.get(url)
        assert response.status_code == 403
        assert "Không có quyền" in page(response) and "Traceback" not in page(response)
    assert post(tech, code, "refuse", reason="Sai").status_code == 403
    assert status(box, code) == "new"


def test_admin_reads_but_cannot_act(app: Flask, box: Box, officer: User) -> None:
    code = new(box, officer)
    admin = login(app, "quantri")
    text = page(admin.get(f"/dossiers/{code}"))
    assert "Vai trò của bạn chỉ được xem hồ sơ." in text
    assert 'id="action-' not in text
    assert post(admin, code, "refuse", reason="Sai").status_code == 403
    assert status(box, code) == "new"


# --- the list ---------------------------------------------------------------------------------


def test_list_columns_newest_first(client: FlaskClient, box: Box, officer: User, clock: FakeClock) -> None:
    first = new(box, officer)
    clock.advance(minutes=5)
    second = new(box, officer, applicant=applicant(full_name="Đỗ Thị Ánh", id_number="001199000222", sex="female"))
    actions.act(box, officer, second, "transfer", {"assignee": "canbo2"})
    response = client.get("/dossiers")
    text = page(response)
    assert "<h1>Danh sách hồ sơ</h1>" in text
    assert listed(response) == [second, first]
    row = row_of(text, second)
    assert f'href="/dossiers/{second}"' in row
    for shown in (
        "Thủ tục đăng ký khai sinh",
        "Đỗ Thị Ánh",
        "25/11/2026 09:05",
        "25/11/2026 17:00",
        "Đang xử lý",
        "canbo2",
    ):
        assert shown in row, shown
    assert "Trang 1" in text and "Trang sau" not in text


def test_search_is_accent_insensitive_over_name_cccd_phone_code(client: FlaskClient, box: Box, officer: User) -> None:
    an = new(box, officer)  # Nguyễn Văn An, 001099012345, 0912345678
    anh = new(box, officer, applicant=applicant(full_name="Đỗ Thị Ánh", id_number="001199000222", sex="female",
                                                phone="0987654321"))  # fmt: skip
    assert listed(client.get("/dossiers?q=nguyen+van+an")) == [an]
    assert listed(client.get("/dossiers?q=do thi anh")) == [anh]
    assert listed(client.get("/dossiers?q=001199000222")) == [anh]
    assert listed(client.get("/dossiers?q=0912345678")) == [an]
    assert listed(client.get(f"/dossiers?q={anh}")) == [anh]
    assert listed(client.get("/dossiers?q=tran")) == []
    text = page(client.get("/dossiers?q=tran"))
    assert "Không có hồ sơ nào khớp bộ lọc." in text
    assert 'value="tran"' in text  # the search stays in the box (and in the URL)


def test_today_tiles_filters(client: FlaskClient, box: Box, officer: User, leader: User, clock: FakeClock) -> None:
    """The overview's tiles link here with received_from, due, overdue, status and conflict."""
    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=TZ))
    yesterday = new(box, officer, procedure_code="1.000419")  # 5 working days: due 01/12
    clock.set(datetime(2026, 11, 25, 8, 0, tzinfo=TZ))
    late = new(box, officer)  # same day: due 25/11 17:00
    two_days = new(box, officer, procedure_code="2.001035")  # 2 working days: due 27/11 08:00
    waiting = new(box, officer, procedure_code="1.000419")
    actions.act(box, officer, waiting, "request-supplement", {"reason": "Thiếu giấy tờ"})
    online = new(box, officer, channel="online")
    clock.set(datetime(2026, 11, 25, 17, 30, tzinfo=TZ))

    assert listed(client.get("/dossiers?received_from=2026-11-25")) == [waiting, two_days, late]
    assert listed(client.get("/dossiers?received_from=2026-11-24&received_to=2026-11-24")) == [yesterday]
    assert listed(client.get("/dossiers?received_from=24/11/2026&received_to=24/11/2026")) == [yesterday]
    assert listed(client.get("/dossiers?due=today")) == [late]
    assert listed(client.get("/dossiers?due=soon")) == [two_days]
    assert listed(client.get("/dossiers?overdue=true")) == [late]
    assert listed(client.get("/dossiers?status=waiting")) == [waiting]
    assert listed(client.get("/dossiers?status=receiving")) == [online]
    assert listed(client.get("/dossiers?conflict=true")) == []


def test_procedure_officer_and_combined_filters(client: FlaskClient, box: Box, officer: User) -> None:
    birth = new(box, officer)
    marriage = new(box, officer, procedure_code="1.000894")
    handed = new(box, officer, procedure_code="1.000894")
    actions.act(box, officer, handed, "transfer", {"assignee": "canbo2"})
    assert listed(client.get("/dossiers?procedure=1.000894")) == [handed, marriage]
    assert listed(client.get("/dossiers?procedure=1.001193")) == [birth]
    assert listed(client.get("/dossiers?assignee=canbo2")) == [handed]
    assert listed(client.get("/dossiers?procedure=1.000894&status=new")) == [marriage]
    text = page(client.get("/dossiers?procedure=1.000894&status=new&assignee=canbo2"))
    # The form shows the filters it applied (bookmarkable: they are the URL).
    assert '<option value="1.000894" selected>' in text
    assert '<option value="new" selected>' in text
    assert '<option value="canbo2" selected>' in text
    assert "Xóa bộ lọc" in text


def test_wrong_filter_values_are_answered_next_to_the_input(client: FlaskClient, box: Box, officer: User) -> None:
    new(box, officer)
    response = client.get("/dossiers?received_from=31-31-2026&status=xyz&due=tomorrow")
    text = page(response)
    assert response.status_code == 422
    assert 'id="received_from-error"' in text and "Ngày phải viết dạng ngày/tháng/năm" in text
    assert 'id="status-error"' in text and "Trạng thái “xyz” không tồn tại" in text
    assert 'id="due-error"' in text
    assert 'aria-invalid="true"' in text
    response = client.get("/dossiers?received_from=2026-11-26&received_to=2026-11-20")
    assert response.status_code == 422 and "Ngày kết thúc phải bằng hoặc sau ngày bắt đầu." in page(response)


def test_paging_by_cursor_keeps_the_filters(client: FlaskClient, box: Box, officer: User, clock: FakeClock) -> None:
    made = []
    for _ in range(53):
        made.append(new(box, officer))
        clock.advance(seconds=30)
    other = new(box, officer, procedure_code="1.000894")
    response = client.get("/dossiers?procedure=1.001193")
    first = listed(response)
    assert first == list(reversed(made))[:50] and other not in first
    link = re.search(r'<a class="button primary" href="([^"]+)" rel="next">Trang sau</a>', page(response))
    assert link, page(response)
    url = html.unescape(link[1])
    assert "procedure=1.001193" in url and "cursor=" in url
    second = client.get(url)
    assert listed(second) == list(reversed(made))[50:]
    text = page(second)
    assert "Trang 2" in text and "Trang sau" not in text and "Trang đầu" in text


def test_paging_with_a_received_filter(client: FlaskClient, box: Box, officer: User, clock: FakeClock) -> None:
    made = []
    for _ in range(52):
        made.append(new(box, officer))
        clock.advance(seconds=30)
    response = client.get("/dossiers?received_from=2026-11-25")
    link = re.search(r'href="([^"]+)" rel="next"', page(response))
    assert link
    assert listed(response) + listed(client.get(html.unescape(link[1]))) == list(reversed(made))


def test_colours_come_with_text_tags(client: FlaskClient, box: Box, officer: User, clock: FakeClock) -> None:
    clock.set(datetime(2026, 11, 25, 8, 0, tzinfo=TZ))
    overdue = new(box, officer)  # due 25/11 17:00
    soon = new(box, officer, procedure_code="2.001035")  # due 27/11
    later = new(box, officer, procedure_code="1.004222")  # 7 working days
    clock.set(datetime(2026, 11, 25, 17, 30, tzinfo=TZ))
    text = page(client.get("/dossiers"))
    assert 'class="overdue"' in row_of(text, overdue) and "Quá hạn" in row_of(text, overdue)
    assert 'class="due-soon"' in row_of(text, soon) and "Sắp đến hạn" in row_of(text, soon)
    assert 'class=""' in row_of(text, later)
    assert "Quá hạn" not in row_of(text, later) and "Sắp đến hạn" not in row_of(text, later)
    css = client.get("/static/css/dossiers.css")
    assert css.status_code == 200
    css.close()


# --- the dossier page -------------------------------------------------------------------------


def test_page_shows_every_field(client: FlaskClient, box: Box, officer: User, leader: User, clock: FakeClock) -> None:
    body = dossier_body(
        "1.001022",
        documents=[
            {"name": "Tờ khai đăng ký nhận cha, mẹ, con", "kind": "original", "quantity": 1},
            {"name": "Giấy tờ chứng minh quan hệ", "kind": "certified_copy", "quantity": 2},
        ],
        return_method="post",
        return_address="Số 5 ngõ Trạm, Hoàn Kiếm",
    )
    code = intake.receive_dossier(box, officer, body)["code"]
    actions.act(box, officer, code, "transfer", {"assignee": "canbo2", "step_due_at": "2026-11-26T16:00:00+07:00"})
    actions.act(box, officer, code, "request-supplement", {
        "reason": "Thiếu bản sao", "missing_documents": [{"name": "Bản sao sổ hộ khẩu", "kind": "photocopy", "quantity": 3}],
    })  # fmt: skip
    clock.advance(hours=2)
    actions.act(box, officer, code, "supplement-received", {})
    actions.act(box, officer, code, "request-payment", {})
    actions.act(box, officer, code, "reschedule", {"reason": "Chờ xác minh", "new_due_at": "2026-12-10T16:00:00"})
    actions.act(box, leader, code, "approve", {"note": "Đủ điều kiện"})
    response = client.get(f"/dossiers/{code}")
    text = page(response)
    assert response.status_code == 200
    assert f"<h1>Hồ sơ {code}</h1>" in text
    for shown in (
        "Thủ tục đăng ký nhận cha, mẹ, con", "1.001022", "Hộ tịch",  # procedure
        "Nguyễn Văn An", "001099012345", "04/03/1999", "0912345678", "an.nguyen@example.vn",  # applicant
        "Giấy tờ chứng minh quan hệ", "Bản sao chứng thực", ">2</td>",  # documents, kind, quantity
        "Tại quầy", "Qua bưu chính", "Số 5 ngõ Trạm, Hoàn Kiếm",  # channel, return method and address
        "Ngày tiếp nhận", "25/11/2026 09:00", "Ngày hẹn trả ban đầu", "10/12/2026 16:00",  # received, due
        "Đã có kết quả, chờ trả",  # status
        "canbo2", "26/11/2026 16:00",  # assignee, step and its deadline
        "Thiếu bản sao", "Bản sao sổ hộ khẩu", "Bản sao", ">3</td>",  # supplement
        "Nghĩa vụ tài chính", "15.000 ₫",  # payment
        "Chờ xác minh",  # reschedule
        "Đủ điều kiện",  # outcome
    ):  # fmt: skip
        assert shown in text, shown


def test_timeline_says_who_what_when_where(client: FlaskClient, box: Box, officer: User, clock: FakeClock) -> None:
    code = new(box, officer, channel="online")
    clock.advance(minutes=10)
    actions.act(box, officer, code, "receive", {})
    actions.act(box, officer, code, "transfer", {"assignee": "canbo2"})
    text = page(client.get(f"/dossiers/{code}"))
    timeline = text[text.index('id="timeline"') :]
    rows = re.findall(r'<tr data-kind="([a-z_]+)"', timeline)
    assert rows == ["created", "received", "transferred"]
    for shown in (
        "Tạo hồ sơ",
        "Tiếp nhận hồ sơ",
        "Chuyển xử lý",
        "25/11/2026 09:00",
        "25/11/2026 09:10",
        "canbo",
        "Máy này",
    ):
        assert shown in timeline, shown
    assert box.origin in timeline


def test_only_allowed_actions_are_offered(client: FlaskClient, box: Box, officer: User, leader: User) -> None:
    code = new(box, officer)
    text = page(client.get(f"/dossiers/{code}"))
    offered = re.findall(r'<details class="action" id="action-([a-z-]+)"', text)
    assert offered == actions_allowed(box, code)
    assert "receive" not in offered and "return-result" not in offered
    actions.act(box, leader, code, "approve", {})
    text = page(client.get(f"/dossiers/{code}"))
    assert re.findall(r'<details class="action" id="action-([a-z-]+)"', text) == ["return-result"]
    actions.act(box, officer, code, "return-result", {})
    text = page(client.get(f"/dossiers/{code}"))
    assert 'id="action-' not in text and "Không còn thao tác nào" in text


def actions_allowed(box: Box, code: str) -> list[str]:
    from edge.lifecycle import allowed_actions

    state = actions.find_state(box, code)
    return [a for a in allowed_actions(state["status"], state) if a != "resolve-conflict"]


def test_every_action_through_the_page(client: FlaskClient, box: Box, officer: User, app: Flask) -> None:
    code = new(box, officer, channel="online")
    steps: list[tuple[str, dict[str, Any], str]] = [
        ("receive", {}, "new"),
        ("transfer", {"assignee": "canbo2", "step_due_at": "2026-11-27T10:00", "note": "Xử lý gấp"}, "processing"),
        ("request-supplement", {"reason": "Thiếu giấy tờ", "doc_name_0": "Bản sao CCCD", "doc_kind_0": "photocopy",
                                "doc_qty_0": "2", "doc_name_1": "", "doc_kind_1": "original", "doc_qty_1": "1"}, "waiting"),
        ("supplement-received", {}, "processing"),
        ("request-payment", {"amount": "16.000"}, "paying"),
    ]  # fmt: skip
    for action, form, expected in steps:
        response = post(client, code, action, **form)
        assert response.status_code == 302, (action, page(response)[:3000])
        assert status(box, code) == expected, action
        shown = page(client.get(response.headers["Location"]))
        assert "Đã thực hiện" in shown and code in shown
    state = actions.find_state(box, code)
    assert state["steps"][0]["assignee"] == "canbo2" and state["steps"][0]["step_due_at"] == "2026-11-27T10:00:00+07:00"
    assert state["supplement"]["missing_documents"] == [{"name": "Bản sao CCCD", "kind": "photocopy", "quantity": 2}]
    assert state["payment"]["amount"] == 16000
    leader = login(app, "lanhdao")
    assert post(leader, code, "approve", note="Đủ").status_code == 302 and status(box, code) == "releasing"
    assert post(client, code, "return-result", method="post").status_code == 302
    assert status(box, code) == "done" and actions.find_state(box, code)["return"]["method"] == "post"


@pytest.mark.parametrize(
    ("action", "form", "expected"),
    [
        ("refuse", {"reason": "Không thuộc thẩm quyền"}, "denied"),
        ("withdraw", {"reason": "Công dân xin rút"}, "cancelled"),
        ("stop", {"reason": "Cơ quan khác đã giải quyết"}, "unresolved"),
    ],
)
def test_reasoned_actions(
    client: FlaskClient, box: Box, officer: User, action: str, form: dict[str, str], expected: str
) -> None:
    code = new(box, officer)
    assert post(client, code, action, **form).status_code == 302
    assert status(box, code) == expected
    text = page(client.get(f"/dossiers/{code}"))
    assert form["reason"] in text


def test_payment_amount_is_prefilled_with_the_fees(client: FlaskClient, box: Box, officer: User) -> None:
    code = new(box, officer)  # 8.000 + 8.000 ₫
    text = page(client.get(f"/dossiers/{code}"))
    assert re.search(r'name="amount"[^>]*value="16000"', text)
    assert "16.000 ₫" in text


def test_reschedule_only_before_the_due_date(client: FlaskClient, box: Box, officer: User, clock: FakeClock) -> None:
    code = new(box, officer, procedure_code="1.001022")  # due 30/11 09:00
    text = page(client.get(f"/dossiers/{code}"))
    assert 'id="action-reschedule"' in text
    response = post(client, code, "reschedule", reason="Chờ xác minh", new_due_at="2026-12-03T16:00")
    assert response.status_code == 302
    state = actions.find_state(box, code)
    assert state["due_at"] == "2026-12-03T16:00:00+07:00" and state["original_due_at"].startswith("2026-11-30")
    clock.set(datetime(2026, 12, 4, 9, 0, tzinfo=TZ))
    text = page(client.get(f"/dossiers/{code}"))
    assert 'id="action-reschedule"' not in text
    response = post(client, code, "reschedule", reason="Lần nữa", new_due_at="2026-12-20T16:00")
    assert response.status_code == 409
    assert "Chỉ được xin lỗi và hẹn lại trước ngày hẹn trả" in page(response)


def test_errors_are_shown_next_to_the_field_with_the_input_kept(client: FlaskClient, box: Box, officer: User) -> None:
    code = new(box, officer, procedure_code="1.001022")
    response = post(client, code, "refuse", reason="   ")
    text = page(response)
    assert response.status_code == 422
    assert 'id="refuse-reason-error"' in text and "không được để trống" in text
    assert '<details class="action" id="action-refuse" open>' in text

    response = post(
        client, code, "transfer", assignee="kythuat", step_due_at="2026-11-27T10:00", note="Ghi chú giữ lại"
    )
    text = page(response)
    assert response.status_code == 422
    assert 'id="transfer-assignee-error"' in text and "không phải cán bộ xử lý hồ sơ" in text
    assert 'value="2026-11-27T10:00"' in text and "Ghi chú giữ lại" in text

    response = post(client, code, "transfer", assignee="canbo2", step_due_at="2026-11-20T10:00")
    assert response.status_code == 422 and "Hạn xử lý của bước phải sau thời điểm hiện tại." in page(response)

    response = post(client, code, "request-supplement", reason="Thiếu", doc_name_0="Bản sao", doc_kind_0="photocopy",
                    doc_qty_0="abc")  # fmt: skip
    text = page(response)
    assert response.status_code == 422 and 'id="request-supplement-doc_qty_0-error"' in text
    assert 'value="Bản sao"' in text and 'value="abc"' in text

    response = post(client, code, "request-supplement", reason="Thiếu", doc_name_0="Bản sao", doc_kind_0="photocopy",
                    doc_qty_0="0")  # fmt: skip
    assert response.status_code == 422 and 'id="request-supplement-doc_qty_0-error"' in page(response)

    response = post(client, code, "request-payment", amount="mười nghìn")
    assert response.status_code == 422
    assert "Số tiền phải là số nguyên đồng, không âm." in page(response) and 'value="mười nghìn"' in page(response)

    response = post(client, code, "reschedule", reason="Chậm", new_due_at="2026-11-26T10:00")
    assert response.status_code == 422
    assert "Ngày hẹn trả mới phải sau ngày hẹn trả hiện tại." in page(response)
    assert status(box, code) == "new"


def test_an_illegal_action_is_refused_naming_the_status(client: FlaskClient, box: Box, officer: User) -> None:
    code = new(box, officer)
    response = post(client, code, "receive")
    text = page(response)
    assert response.status_code == 409
    assert "Không thể tiếp nhận hồ sơ đang ở trạng thái “Đã tiếp nhận” (new)." in text
    assert f"<h1>Hồ sơ {code}</h1>" in text
    assert post(client, code, "no-such-action").status_code == 404
    assert client.get("/dossiers/000.17.22.H56-261125-9999").status_code == 404


def test_more_rows_without_javascript(client: FlaskClient, box: Box, officer: User) -> None:
    code = new(box, officer)
    form = {"reason": "Thiếu", "more_rows": "1"}
    for i in range(3):
        form |= {f"doc_name_{i}": f"Giấy {i}" if i == 0 else "", f"doc_kind_{i}": "original", f"doc_qty_{i}": "1"}
    response = post(client, code, "request-supplement", **form)
    text = page(response)
    assert response.status_code == 200 and status(box, code) == "new"
    assert 'name="doc_name_3"' in text and 'value="Giấy 0"' in text
    assert '<details class="action" id="action-request-supplement" open>' in text


# --- conflicts --------------------------------------------------------------------------------


def make_conflict(box: Box, officer: User, leader: User, clock: FakeClock, reason: str = "Rút trên cổng") -> str:
    state = intake.receive_dossier(box, officer, dossier_body())
    actions.act(box, leader, state["code"], "approve", {})
    ms, counter = parse_hlc(events_of(box.db(), state["dossier_id"])[-1].hlc)
    remote = {
        "event_id": str(uuid.uuid4()),
        "dossier_id": state["dossier_id"],
        "kind": "withdrawn",
        "payload": {"reason": reason},
        "actor": "cong-dich-vu-cong",
        "origin": "hub:province-01",
        "wall_time": "2026-11-25T09:30:00+07:00",
        "hlc": format_hlc(ms, counter + 1),
    }
    assert apply_events(box, [remote])["conflicts"] == 1
    return str(state["code"])


def test_conflict_shows_both_sides_and_a_leader_resolves_it(
    app: Flask, client: FlaskClient, box: Box, officer: User, leader: User, clock: FakeClock
) -> None:
    code = make_conflict(box, officer, leader, clock)
    assert listed(client.get("/dossiers?conflict=true")) == [code]
    assert "Xung đột" in row_of(page(client.get("/dossiers")), code)
    text = page(client.get(f"/dossiers/{code}"))
    section = text[text.index('id="conflict"') : text.index('<div class="dossier-grid">')]
    applied, rejected = section.split("Bên chưa áp dụng")
    assert "Đã có kết quả" in applied and "lanhdao" in applied and "Máy này" in applied
    for shown in (
        "Rút hồ sơ",
        "cong-dich-vu-cong",
        "25/11/2026 09:30",
        "Máy chủ tỉnh",
        "hub:province-01",
        "Rút trên cổng",
    ):
        assert shown in rejected, shown
    assert "Chỉ lãnh đạo được xử lý xung đột." in section and "<form" not in section
    assert post(client, code, "resolve-conflict", note="Thử", status="cancelled").status_code == 403
    timeline = text[text.index('id="timeline"') :]
    assert '<tr data-kind="withdrawn" class="rejected">' in timeline and "Xung đột, chưa áp dụng" in timeline

    boss = login(app, "lanhdao")
    text = page(boss.get(f"/dossiers/{code}"))
    assert 'action="/dossiers/' + code + '/actions/resolve-conflict"' in text
    assert 'name="status" value="cancelled"' in text and 'name="status" value=""' in text
    response = post(boss, code, "resolve-conflict", note="", status="cancelled")
    assert response.status_code == 422 and 'id="resolve-conflict-note-error"' in page(response)
    response = post(boss, code, "resolve-conflict", note="Công dân xác nhận rút", status="cancelled")
    assert response.status_code == 302
    state = actions.find_state(box, code)
    assert state["conflict"] is False and state["status"] == "cancelled"
    text = page(boss.get(f"/dossiers/{code}"))
    assert 'id="conflict"' not in text and "Công dân xác nhận rút" in text
    assert listed(client.get("/dossiers?conflict=true")) == []


# --- attachments ------------------------------------------------------------------------------


def test_attachments_view_inline_and_download(client: FlaskClient, box: Box, officer: User) -> None:
    code = new(box, officer)
    png = attach(box, officer, code, io.BytesIO(PNG), "anh chup.png")
    pdf = attach(box, officer, code, io.BytesIO(PDF), "to khai.pdf")
    text = page(client.get(f"/dossiers/{code}"))
    for info in (png, pdf):
        assert info["name"] in text
        assert f"/dossiers/{code}/attachments/{info['sha256']}" in text
        assert f"/dossiers/{code}/attachments/{info['sha256']}?download=1" in text
    assert '<img class="thumb"' in text
    response = client.get(f"/dossiers/{code}/attachments/{png['sha256']}")
    assert response.status_code == 200 and response.mimetype == "image/png" and response.data == PNG
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()
    response = client.get(f"/dossiers/{code}/attachments/{pdf['sha256']}?download=1")
    assert response.status_code == 200 and response.mimetype == "application/pdf" and response.data == PDF
    assert (
        response.headers["Content-Disposition"].startswith("attachment")
        and "to" in response.headers["Content-Disposition"]
    )
    response.close()
    other = new(box, officer)
    assert client.get(f"/dossiers/{other}/attachments/{png['sha256']}").status_code == 404  # not this dossier's
    assert client.get(f"/dossiers/{code}/attachments/{'0' * 64}").status_code == 404
    assert client.get(f"/dossiers/{code}/attachments/nothex").status_code == 404


def test_print_links_when_the_print_views_exist(app: Flask, client: FlaskClient, box: Box, officer: User) -> None:
    code = new(box, officer)
    actions.act(box, officer, code, "refuse", {"reason": "Sai thẩm quyền"})
    text = page(client.get(f"/dossiers/{code}"))
    views = app.view_functions
    for endpoint, path in (("prints.receipt", "receipt"), ("prints.refusal", "refusal"), ("prints.control", "control")):
        assert (f"/dossiers/{code}/print/{path}" in text) == (endpoint in views), endpoint
    assert f"/dossiers/{code}/print/supplement" not in text and f"/dossiers/{code}/print/apology" not in text


# --- nothing a citizen or a remote origin typed becomes markup ----------------------------------

XSS = '<script>alert("xss")</script>'
ATTRIBUTE = 'x" autofocus onfocus="alert(1)'


def test_stored_payloads_are_never_rendered_as_markup(
    app: Flask, client: FlaskClient, box: Box, officer: User, leader: User, clock: FakeClock
) -> None:
    # Through the API: free text may hold quotes and braces (edge refuses tags there).
    token = create_token(box.db(), "canbo")
    api = app.test_client()
    body = dossier_body(
        documents=[{"name": ATTRIBUTE, "kind": "original", "quantity": 1}], notes="{{ 7*7 }} " + ATTRIBUTE
    )
    response = api.post("/api/v1/dossiers", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.get_data(as_text=True)
    via_api = response.get_json()["code"]
    # From a remote origin: the hub's payload, actor and origin are shown as sent.
    code = make_conflict(box, officer, leader, clock, reason=XSS)
    state = actions.find_state(box, code)
    apply_events(box, [{
        "event_id": str(uuid.uuid4()), "dossier_id": state["dossier_id"], "kind": "note_added",
        "payload": {"text": XSS}, "actor": "<img src=x onerror=alert(1)>", "origin": "hub:<b>x</b>",
        "wall_time": "2026-11-25T10:00:00+07:00", "hlc": "999999999999999.000000",
    }])  # fmt: skip
    for url in (f"/dossiers/{via_api}", f"/dossiers/{code}", "/dossiers", f"/dossiers?q={XSS}"):
        text = page(client.get(url))
        assert "<script>alert" not in text and "<img src=x" not in text and "<b>x</b>" not in text, url
        assert 'autofocus onfocus="alert(1)' not in text, url
    text = page(client.get(f"/dossiers/{via_api}"))
    assert "x&#34; autofocus onfocus=&#34;alert(1)" in text and "{{ 7*7 }}" in text
    text = page(client.get(f"/dossiers/{code}"))
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    boss = login(app, "lanhdao")
    text = page(boss.get(f"/dossiers/{code}"))
    assert "<script>alert" not in text


def test_the_script_builds_rows_without_html_strings(client: FlaskClient) -> None:
    response = client.get("/static/js/dossiers.js")
    script = response.get_data(as_text=True)
    response.close()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "outerHTML" not in script


def test_the_list_never_counts_the_whole_box(client: FlaskClient, box: Box, officer: User) -> None:
    for _ in range(3):
        new(box, officer)
    statements: list[str] = []
    db = box.db()
    db.conn.set_trace_callback(statements.append)
    try:
        for url in (
            "/dossiers",
            "/dossiers?status=new",
            "/dossiers?overdue=true&received_from=2026-11-01",
            "/dossiers?q=an",
        ):
            assert client.get(url).status_code == 200
    finally:
        db.conn.set_trace_callback(None)
    reads = [s for s in statements if "FROM dossiers" in s or "FROM dossier_search" in s]
    assert reads
    for sql in reads:
        assert "LIMIT" in sql.upper(), sql  # every read of the dossiers stops at a bound


def test_english_session(app: Flask, box: Box, officer: User) -> None:
    code = new(box, officer)
    client = login(app)
    client.get("/lang/en")
    text = page(client.get("/dossiers"))
    assert '<html lang="en">' in text and "Received" in text
    response = post(client, code, "receive")
    assert response.status_code == 409 and "Cannot receive a dossier whose status is" in page(response)
