"""The intake screen (Tiếp nhận hồ sơ) through the Flask test client, against a real box on disk."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge.box import Box, open_box
from edge.config import Settings
from edge.errors import StorageError
from edge.intake import due_for, procedure_snapshot, receive_dossier
from edge.procedures import get_procedure
from edge.users import User
from tests.conftest import PASSWORD, FakeClock, dossier_body
from ui.app import create_app
from ui.web.common import format_datetime

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


@pytest.fixture
def app(box: Box) -> Flask:
    return create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True})


def login(client: FlaskClient, username: str = "canbo") -> None:
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    c = app.test_client()
    login(c)
    return c


def form_data(**changes: Any) -> dict[str, Any]:
    """Return what the intake form posts for a birth registration with its declaration ticked."""
    data: dict[str, Any] = {
        "idempotency_key": str(uuid.uuid4()),
        "procedure_code": "1.001193",
        "id_number": "001099012345",
        "id_type": "cccd",
        "full_name": "Nguyễn Văn An",
        "date_of_birth": "04/03/1999",
        "sex": "male",
        "phone": "0912345678",
        "email": "an.nguyen@example.vn",
        "address": "Số 12 phố Hàng Bạc",
        "channel": "counter",
        "return_method": "counter",
        "return_address": "",
        "doc_0": "1",
        "doc_qty_0": "1",
        "doc_qty_1": "1",
        "extra_name": "",
        "extra_kind": "photocopy",
        "extra_qty": "1",
        "notes": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def dossiers(box: Box) -> list[dict[str, Any]]:
    rows = box.db().execute("SELECT state FROM dossiers ORDER BY id").fetchall()
    return [json.loads(r[0]) for r in rows]


def flashes(client: FlaskClient) -> list[str]:
    with client.session_transaction() as session:
        return [message for _, message in session.get("_flashes", [])]


def select_html(page: str) -> str:
    """Return the procedure <select> of the page (the JSON for intake.js lists every procedure)."""
    start = page.index('<select id="proc-select"')
    return page[start : page.index("</select>", start)]


def error_of(page: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', page)
    assert match, f"no error shown for {name}"
    return match[1]


# --- the page ---------------------------------------------------------------------------------


def test_form_lists_procedures_grouped_by_field(client: FlaskClient) -> None:
    page = client.get("/intake").get_data(as_text=True)
    assert "<h1>Tiếp nhận hồ sơ</h1>" in page
    options = select_html(page)
    assert '<optgroup label="Hộ tịch">' in options and '<optgroup label="Chứng thực">' in options
    assert '<option value="1.001193">Thủ tục đăng ký khai sinh</option>' in options
    assert 'enctype="multipart/form-data"' in page and "data-once" in page
    assert "Chọn thủ tục để xem ngày hẹn trả." in page
    assert 'src="/static/js/intake.js"' in page and "css/intake.css" in page


def test_each_rendered_form_has_a_fresh_idempotency_key(client: FlaskClient) -> None:
    keys = [
        re.search(r'name="idempotency_key" value="([^"]+)"', client.get("/intake").get_data(as_text=True))
        for _ in range(2)
    ]
    assert keys[0] and keys[1]
    assert keys[0][1] != keys[1][1]
    uuid.UUID(keys[0][1])


def test_chosen_procedure_shows_time_fees_checklist_and_due_date(client: FlaskClient) -> None:
    page = client.get("/intake?procedure=1.001193").get_data(as_text=True)
    assert '<option value="1.001193" selected>' in page
    assert 'name="procedure_code" id="procedure_code" value="1.001193"' in page
    assert "Trong ngày (nhận sau 15:00 trả vào ngày làm việc tiếp theo)" in page
    assert "Lệ phí): 8.000 ₫" in page and "Tổng cộng: 16.000 ₫" in page
    assert '<label for="doc_0">Tờ khai đăng ký khai sinh theo mẫu</label>' in page
    assert "<td>Bản chính</td>" in page
    assert 'name="doc_qty_0" min="1" max="99"' in page
    assert "Ngày hẹn trả dự kiến: 25/11/2026 17:00" in page  # Wednesday 09:00, a same-day procedure


def test_search_without_accents_filters_the_list(client: FlaskClient) -> None:
    page = client.get("/intake?q=chung+thuc&action=search").get_data(as_text=True)
    options = select_html(page)
    assert "Chứng thực bản sao từ bản chính" in options
    assert "Thủ tục chứng thực di chúc" in options
    assert "Thủ tục đăng ký khai sinh" not in options
    assert "5 thủ tục khớp" in page


def test_search_with_one_match_chooses_it(client: FlaskClient) -> None:
    page = client.get("/intake?q=khai+tu+luu+dong").get_data(as_text=True)
    assert 'id="procedure_code" value="1.000419"' in page
    assert "5 ngày làm việc" in page


def test_unknown_procedure_in_the_address_is_said(client: FlaskClient) -> None:
    page = client.get("/intake?procedure=9.999").get_data(as_text=True)
    assert error_of(page, "procedure_code") == "Không có thủ tục này trong danh mục; chọn lại."


# --- saving -------------------------------------------------------------------------------------


def test_saving_creates_the_dossier_and_opens_the_receipt(app: Flask, client: FlaskClient, box: Box) -> None:
    data = form_data(doc_1="1", doc_qty_1="2", extra_name="Bản sao sổ hộ khẩu", extra_qty="1", notes="Nộp thay mẹ")
    response = client.post("/intake", data=data)
    assert response.status_code == 302
    [state] = dossiers(box)
    code = state["code"]
    assert code.startswith("000.17.22.H56-261125-")
    assert state["procedure"]["code"] == "1.001193"
    assert state["applicant"]["full_name"] == "Nguyễn Văn An"
    assert state["applicant"]["date_of_birth"] == "1999-03-04"  # typed as 04/03/1999
    assert state["documents"] == [
        {"name": "Tờ khai đăng ký khai sinh theo mẫu", "kind": "original", "quantity": 1},
        {"name": get_procedure(box.db(), "1.001193").documents[1].name, "kind": "original", "quantity": 2},
        {"name": "Bản sao sổ hộ khẩu", "kind": "photocopy", "quantity": 1},
    ]
    assert state["status"] == "new" and state["channel"] == "counter"
    assert state["received_by"] == "canbo"
    assert state["notes"][0]["text"] == "Nộp thay mẹ"
    row = box.db().execute("SELECT applicant_id_number FROM dossiers WHERE code = ?", [code]).fetchone()
    assert row[0] == "001099012345"
    location = response.headers["Location"]
    if "prints.receipt" in app.view_functions:
        assert location.startswith(f"/dossiers/{code}/print/receipt")
    elif "dossiers.detail" in app.view_functions:
        assert location == f"/dossiers/{code}"
    else:
        assert location == "/intake"
    assert flashes(client) == [f"Đã tiếp nhận hồ sơ {code}."]


def test_without_receipt_or_dossier_page_the_form_shows_the_new_code(app: Flask, client: FlaskClient, box: Box) -> None:
    app.view_functions.pop("prints.receipt", None)
    app.view_functions.pop("dossiers.detail", None)
    response = client.post("/intake", data=form_data())
    assert response.headers["Location"] == "/intake"
    code = dossiers(box)[0]["code"]
    page = client.get("/intake").get_data(as_text=True)
    assert f"Đã tiếp nhận hồ sơ {code}." in page


def test_post_channel_and_return_by_post(client: FlaskClient, box: Box) -> None:
    data = form_data(channel="post", return_method="post", return_address="Hộp thư 12, bưu cục Hàng Bạc")
    assert client.post("/intake", data=data).status_code == 302
    [state] = dossiers(box)
    assert (state["channel"], state["return_method"]) == ("post", "post")
    assert state["return_address"] == "Hộp thư 12, bưu cục Hàng Bạc"


def test_return_by_post_without_any_address_is_refused_next_to_the_field(client: FlaskClient, box: Box) -> None:
    response = client.post("/intake", data=form_data(return_method="post", address=""))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_of(page, "return_address") == "Trả kết quả qua bưu điện cần địa chỉ nhận."
    assert dossiers(box) == []


def test_double_submit_with_the_same_key_makes_one_dossier(client: FlaskClient, box: Box) -> None:
    data = form_data()
    first = client.post("/intake", data=data)
    second = client.post("/intake", data=dict(data))
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert len(dossiers(box)) == 1
    assert client.get(f"/intake/saved?key={data['idempotency_key']}").get_json() == {
        "saved": True,
        "code": dossiers(box)[0]["code"],
    }


def test_double_submit_attaches_the_scan_once(client: FlaskClient, box: Box) -> None:
    data = form_data()
    for _ in range(2):
        files = {**data, "scans": (io.BytesIO(PNG), "to-khai.png")}
        assert client.post("/intake", data=files, content_type="multipart/form-data").status_code == 302
    events = box.db().execute("SELECT count(*) FROM dossier_events WHERE kind = 'attachment_added'").fetchone()[0]
    assert events == 1


def test_saved_helper_for_an_unused_key(client: FlaskClient) -> None:
    assert client.get(f"/intake/saved?key={uuid.uuid4()}").get_json() == {"saved": False, "code": None}
    assert client.get("/intake/saved?key=<script>").get_json() == {"saved": False, "code": None}


# --- validation -----------------------------------------------------------------------------------


def test_errors_show_next_to_each_field_and_keep_the_input(client: FlaskClient, box: Box) -> None:
    data = form_data(id_number="12345", phone="12ab", email="an@", full_name="", doc_qty_0="nhiều")
    response = client.post("/intake", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert dossiers(box) == []
    assert error_of(page, "id_number") == "Số CCCD phải có đúng 12 chữ số."
    assert error_of(page, "full_name") == "Chưa nhập họ tên người nộp hồ sơ."
    assert error_of(page, "phone").startswith("Số điện thoại phải có 10 chữ số")
    assert error_of(page, "email").startswith("Địa chỉ e-mail không hợp lệ")
    assert error_of(page, "doc_qty_0") == "Số lượng phải là số nguyên từ 1 đến 99."
    assert 'name="id_number" value="12345"' in page
    assert re.search(r'id="id_number"[^>]*aria-invalid="true" aria-describedby="id_number-error"', page)
    assert 'value="12ab"' in page and 'value="an@"' in page and 'value="Số 12 phố Hàng Bạc"' in page
    assert 'value="nhiều"' in page
    assert re.search(r'id="doc_0" name="doc_0" value="1" checked', page)
    assert not re.search(r'id="doc_1" name="doc_1" value="1" checked', page)
    assert f'name="idempotency_key" value="{data["idempotency_key"]}"' in page  # the same form, the same key
    assert "Hồ sơ chưa được lưu" in page


def test_cccd_that_disagrees_with_the_birth_year(client: FlaskClient) -> None:
    page = client.post("/intake", data=form_data(date_of_birth="04/03/1985")).get_data(as_text=True)
    assert "không khớp với năm sinh 1985" in error_of(page, "id_number")
    assert 'value="04/03/1985"' in page


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("04/03/1999", "1999-03-04"), ("4/3/1999", "1999-03-04"), ("04.03.1999", "1999-03-04"),
     ("04031999", "1999-03-04"), ("1999-03-04", "1999-03-04")],
)  # fmt: skip
def test_birth_date_formats(client: FlaskClient, box: Box, typed: str, stored: str) -> None:
    assert client.post("/intake", data=form_data(date_of_birth=typed)).status_code == 302
    assert dossiers(box)[0]["applicant"]["date_of_birth"] == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [("31/02/1999", "Ngày 31/02/1999 không tồn tại; hãy kiểm tra lại ngày và tháng."),
     ("mùng 4", "Ngày sinh phải viết dạng ngày/tháng/năm, ví dụ 31/05/1990."),
     ("04/03/2030", "Ngày sinh không được ở tương lai; hãy kiểm tra lại.")],
)  # fmt: skip
def test_bad_birth_dates(client: FlaskClient, typed: str, message: str) -> None:
    page = client.post("/intake", data=form_data(date_of_birth=typed, id_number="001099012345")).get_data(as_text=True)
    assert error_of(page, "date_of_birth") == message


def test_no_procedure_and_no_documents(client: FlaskClient, box: Box) -> None:
    page = client.post("/intake", data=form_data(procedure_code="")).get_data(as_text=True)
    assert error_of(page, "procedure_code") == "Chưa chọn thủ tục hành chính."
    page = client.post("/intake", data=form_data(doc_0=None)).get_data(as_text=True)
    assert error_of(page, "documents") == "Chưa đánh dấu thành phần hồ sơ nào đã nhận."
    page = client.post("/intake", data=form_data(procedure_code="9.999")).get_data(as_text=True)
    assert error_of(page, "procedure_code") == "Không có thủ tục này trong danh mục; chọn lại."
    assert dossiers(box) == []


def test_quantity_out_of_range_is_edge_s_message_on_the_right_row(client: FlaskClient) -> None:
    page = client.post("/intake", data=form_data(doc_1="1", doc_qty_1="120")).get_data(as_text=True)
    assert "phải từ 1 đến 99" in error_of(page, "doc_qty_1")


def test_english_session_gets_english_messages(client: FlaskClient) -> None:
    client.get("/lang/en")
    response = client.post("/intake", data=form_data(id_number="12345", phone="12ab"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<html lang="en">' in page
    assert error_of(page, "id_number") == "The citizen ID must have exactly 12 digits."
    assert error_of(page, "phone").startswith("The phone number must have 10 digits")


# --- JSON helpers ---------------------------------------------------------------------------------


def test_applicant_autofill(client: FlaskClient, box: Box, officer: User) -> None:
    state = receive_dossier(box, officer, dossier_body())
    body = client.get("/intake/applicant?id_number=001099012345").get_json()
    assert body["found"] is True
    assert body["code"] == state["code"]
    person = body["applicant"]
    assert person["full_name"] == "Nguyễn Văn An"
    assert (person["date_of_birth"], person["date_of_birth_text"]) == ("1999-03-04", "04/03/1999")
    assert (person["sex"], person["phone"], person["email"]) == ("male", "0912345678", "an.nguyen@example.vn")
    assert person["address"] == "Số 12 phố Hàng Bạc"
    assert state["code"] in body["message"] and "25/11/2026" in body["message"]
    assert client.get("/intake/applicant?id_number=079199012345").get_json()["found"] is False
    assert client.get("/intake/applicant?id_number=").get_json() == {"found": False}


def test_due_date_helper(client: FlaskClient, box: Box, clock: FakeClock) -> None:
    body = client.get("/intake/due-date?procedure_code=1.001193").get_json()
    assert body["text"] == "25/11/2026 17:00"
    assert body["label"] == "Ngày hẹn trả dự kiến: 25/11/2026 17:00"
    three_days = due_for(box, procedure_snapshot(get_procedure(box.db(), "1.001022")), clock())
    body = client.get("/intake/due-date?procedure_code=1.001022").get_json()
    assert body["text"] == format_datetime(three_days)
    assert body["due_at"] == three_days.isoformat()
    clock.advance(hours=6, minutes=30)  # 15:30: past the same-day cut-off
    assert client.get("/intake/due-date?procedure_code=1.001193").get_json()["text"] == "26/11/2026 17:00"
    online = client.get("/intake/due-date?procedure_code=1.001193&channel=online").get_json()
    assert online["due_at"] is None and "trực tuyến" in online["label"]
    missing = client.get("/intake/due-date?procedure_code=9.999")
    assert missing.status_code == 404 and "Không có thủ tục" in missing.get_json()["error"]


def test_procedure_helper(client: FlaskClient) -> None:
    body = client.get("/intake/procedure?code=2.000815").get_json()
    proc = body["procedure"]
    assert proc["name"].startswith("Chứng thực bản sao")
    assert proc["documents"][0]["kind_label"] == "Bản chính"
    assert proc["fees"][0] == {"name": proc["fees"][0]["name"], "kind": "Phí", "amount": 2000, "text": "2.000 ₫"}
    assert body["due"]["text"] == "25/11/2026 17:00"
    assert client.get("/intake/procedure?code=nope").status_code == 404


# --- scans --------------------------------------------------------------------------------------


def post_with_files(client: FlaskClient, files: list[tuple[bytes, str]], **changes: Any) -> Any:
    data: dict[str, Any] = form_data(**changes)
    data["scans"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post("/intake", data=data, content_type="multipart/form-data")


def test_scans_are_attached(client: FlaskClient, box: Box) -> None:
    response = post_with_files(client, [(PNG, "to-khai.png"), (PDF, "giay chung sinh.pdf")])
    assert response.status_code == 302
    [state] = dossiers(box)
    assert [(a["name"], a["content_type"]) for a in state["attachments"]] == [
        ("to-khai.png", "image/png"),
        ("giay chung sinh.pdf", "application/pdf"),
    ]


def test_a_text_file_is_refused_next_to_the_field(client: FlaskClient, box: Box) -> None:
    response = post_with_files(client, [(PNG, "ok.png"), (b"just some text", "ghi-chu.txt")])
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_of(page, "scans") == (
        "Tệp “ghi-chu.txt” không phải PDF, JPEG hoặc PNG; chỉ nhận tệp PDF, JPEG hoặc PNG."
    )
    assert "hãy chọn lại tệp quét" in page
    assert 'value="Nguyễn Văn An"' in page
    assert dossiers(box) == []


@pytest.fixture
def small_box(box_settings: Settings, clock: FakeClock) -> Iterator[Box]:
    opened = open_box(box_settings.data_dir, env={"MOTCUA_MAX_UPLOAD_MB": "0.01"}, clock=clock)  # 10 KiB
    yield opened
    opened.close()


@pytest.mark.parametrize("over", [1, 200 * 1024])  # just over; over the app's own request limit too
def test_a_file_too_large_is_refused_with_the_limit(small_box: Box, over: int) -> None:
    client = create_app(small_box, {"WTF_CSRF_ENABLED": False}).test_client()
    login(client)
    size = small_box.settings.max_upload_bytes + over
    response = post_with_files(client, [(PNG + b"\x00" * (size - len(PNG)), "scan-lon.png")])
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_of(page, "scans") == (
        "Tệp “scan-lon.png”: Tệp quá lớn: tối đa 0.01 MB. Quét lại với độ phân giải thấp hơn."
    )
    assert dossiers(small_box) == []


def test_a_file_at_the_limit_is_taken(small_box: Box) -> None:
    client = create_app(small_box, {"WTF_CSRF_ENABLED": False}).test_client()
    login(client)
    size = small_box.settings.max_upload_bytes
    assert post_with_files(client, [(PNG + b"\x00" * (size - len(PNG)), "vua-du.png")]).status_code == 302
    assert dossiers(small_box)[0]["attachments"][0]["size"] == size


def test_a_scan_refused_after_saving_keeps_the_dossier(
    app: Flask, client: FlaskClient, box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise StorageError("Ổ đĩa đầy.", "The disk is full.")

    monkeypatch.setattr("ui.web.intake.attach", full_disk)
    response = post_with_files(client, [(PNG, "to-khai.png")])
    assert response.status_code == 302
    [state] = dossiers(box)
    code = state["code"]
    assert "/print/" not in response.headers["Location"]  # where the message is shown
    assert flashes(client) == [
        f"Đã tiếp nhận hồ sơ {code}.",
        f"Hồ sơ {code} đã được lưu, nhưng tệp “to-khai.png” chưa được đính kèm: Ổ đĩa đầy.",
    ]


# --- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/intake", "/intake/applicant?id_number=001099012345",
                                  "/intake/due-date?procedure_code=1.001193", "/intake/procedure?code=1.001193"])  # fmt: skip
def test_technician_is_refused(app: Flask, path: str) -> None:
    client = app.test_client()
    login(client, "kythuat")
    assert client.get(path).status_code == 403
    assert client.post("/intake", data=form_data()).status_code == 403


def test_leader_may_receive(app: Flask, box: Box) -> None:
    client = app.test_client()
    login(client, "lanhdao")
    assert client.get("/intake").status_code == 200
    assert client.post("/intake", data=form_data()).status_code == 302
    assert dossiers(box)[0]["received_by"] == "lanhdao"


@pytest.mark.parametrize("path", ["/intake", "/intake/applicant?id_number=001099012345"])
def test_no_session_goes_to_login(app: Flask, box: Box, path: str) -> None:
    client = app.test_client()
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    response = client.post("/intake", data=form_data())
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert dossiers(box) == []


def csrf_token_in(page: str) -> str:
    """Return the value of the first csrf_token input of a page, whatever the attribute order."""
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page)
    assert tag, "no CSRF token on the page"
    value = re.search(r'value="([^"]+)"', tag[0])
    assert value
    return value[1]


def test_csrf_token_from_the_page(box: Box) -> None:
    client = create_app(box, {"TESTING": True}).test_client()
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": "canbo", "password": PASSWORD, "csrf_token": csrf_token_in(page)})
    page = client.get("/intake").get_data(as_text=True)
    intake_token = re.search(r'<form id="intake-form".*?name="csrf_token" value="([^"]+)"', page, re.S)
    assert intake_token
    refused = client.post("/intake", data=form_data())
    assert refused.status_code == 400
    assert dossiers(box) == []
    saved = client.post(
        "/intake",
        data={**form_data(), "csrf_token": intake_token[1], "scans": (io.BytesIO(PNG), "a.png")},
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302
    assert len(dossiers(box)) == 1 and len(dossiers(box)[0]["attachments"]) == 1


# --- hostile input ------------------------------------------------------------------------------


def test_script_in_the_name_is_refused_and_shown_inert(client: FlaskClient, box: Box) -> None:
    payload = '<script>alert("xss")</script>'
    response = client.post(
        "/intake",
        data=form_data(full_name=payload, address='"><img src=x onerror=alert(1)>', notes=payload,
                       extra_name="<svg onload=alert(1)>"),
    )  # fmt: skip
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert dossiers(box) == []
    assert payload not in page and "<img src=x" not in page and "<svg onload" not in page
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in page
    assert "có ký tự không hợp lệ" in error_of(page, "full_name")
    assert error_of(page, "extra_name")
    assert error_of(page, "notes")


def test_script_in_the_search_box_is_escaped(client: FlaskClient) -> None:
    page = client.get("/intake?q=<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in page


def test_catalogue_text_in_the_page_data_cannot_close_the_script(client: FlaskClient) -> None:
    page = client.get("/intake").get_data(as_text=True)
    blob = page[page.index('<script type="application/json" id="intake-data">') :]
    blob = blob[blob.index(">") + 1 : blob.index("</script>")]
    data = json.loads(blob)
    assert data["user"] == "canbo" and data["fresh"] is True
    assert {"code": "1.001193", "name": "Thủ tục đăng ký khai sinh", "field": "Hộ tịch"} in data["procedures"]
    assert data["urls"]["applicant"] == "/intake/applicant"
