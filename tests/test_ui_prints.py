"""Print views: forms 01–05 of a dossier and the logbook, against a real box through the Flask client."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from edge import events, projection
from edge.actions import act
from edge.box import Box
from edge.calendar import TZ
from edge.intake import receive_dossier
from edge.store.db import write
from edge.users import User
from tests.conftest import PASSWORD, FakeClock, applicant, dossier_body
from ui.app import create_app
from ui.web import forms

OFFICER = User("canbo", "officer")
LEADER = User("lanhdao", "leader")
DOCS = [
    {"name": "Tờ khai đăng ký khai sinh", "kind": "original", "quantity": 1},
    {"name": "Giấy chứng sinh", "kind": "certified_copy", "quantity": 2},
]


@pytest.fixture
def client(box: Box) -> Iterator[FlaskClient]:
    app = create_app(box, {"WTF_CSRF_ENABLED": False})
    with app.test_client() as c:
        yield c


def login(client: FlaskClient, username: str = "canbo") -> FlaskClient:
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def as_officer(client: FlaskClient) -> FlaskClient:
    return login(client)


def receive(box: Box, **changes: Any) -> str:
    state = receive_dossier(box, OFFICER, dossier_body(**changes))
    return str(state["code"])


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    return text


def field(html: str, name: str) -> str:
    """Return the text of the first element marked data-field=name."""
    found = re.search(rf'data-field="{re.escape(name)}">([^<]*)<', html)
    assert found, f"no field {name}"
    return found[1]


def legal_header(html: str) -> None:
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in html
    assert "Độc lập - Tự do - Hạnh phúc" in html
    assert "UBND XÃ THỬ NGHIỆM" in html
    assert "BỘ PHẬN TIẾP NHẬN VÀ TRẢ KẾT QUẢ" in html


# --- form 01 -------------------------------------------------------------------------------------


def test_receipt_shows_every_legal_field(box: Box, as_officer: FlaskClient) -> None:
    code = receive(box, documents=DOCS)
    html = page(as_officer, f"/dossiers/{code}/print/receipt")
    legal_header(html)
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in html
    assert "Thử Nghiệm, ngày 25 tháng 11 năm 2026" in html
    assert "Số: 261125-0001/TN" in html
    assert field(html, "code") == code
    assert field(html, "applicant") == "Nguyễn Văn An"
    assert field(html, "address") == "Số 12 phố Hàng Bạc"
    assert field(html, "phone") == "0912345678"
    assert field(html, "email") == "an.nguyen@example.vn"
    assert field(html, "request") == "Thủ tục đăng ký khai sinh"
    rows = re.findall(
        r'<tr data-document="\d+"><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td><td class="num">(\d+)</td>',
        html,
    )
    assert rows == [
        ("1", "Tờ khai đăng ký khai sinh", "Bản chính", "1"),
        ("2", "Giấy chứng sinh", "Bản sao chứng thực", "2"),
    ]
    assert field(html, "sets") == "01"
    assert field(html, "processing_time") == "Trong ngày"  # a same-day procedure
    assert field(html, "received") == "09 giờ 00 phút, ngày 25/11/2026"
    assert field(html, "due") == "17 giờ 00 phút, ngày 25/11/2026"
    assert field(html, "return").startswith("Trực tiếp tại bộ phận tiếp nhận và trả kết quả")
    # The sample procedure charges 8.000 ₫ and a fee of 8.000 ₫ for a copy.
    assert re.findall(r'<tr data-fee="\d+"><td>([^<]*)</td><td class="num">([^<]*)</td>', html) == [
        ("Lệ phí: Lệ phí đăng ký khai sinh (chỉ thu khi đăng ký không đúng hạn; miễn khi đúng hạn)", "8.000 ₫"),
        ("Phí: Phí cấp bản sao Giấy khai sinh (nếu có yêu cầu)", "8.000 ₫"),
    ]
    assert field(html, "fees_total") == "16.000 ₫"
    assert (field(html, "logbook_volume"), field(html, "logbook_no")) == ("2026", "1")
    assert "NGƯỜI NỘP HỒ SƠ" in html and "NGƯỜI TIẾP NHẬN HỒ SƠ" in html
    assert '<div class="sign-name">canbo</div>' in html  # no full name on file: the username
    assert "Mẫu số 01" in html
    # The QR code: an inline SVG drawn by qrcode, beside the code in plain text for lookup.
    svg = re.search(r'<svg class="qr-code"[^>]*>(.*?)</svg>', html, re.S)
    assert svg and "<path" in svg[1] and 'viewBox="0 0 ' in html
    assert field(html, "qr-code") == code
    # Not just saved: no success line, and the print dialog is not opened by itself.
    assert "Đã tiếp nhận hồ sơ" not in html and "window.print()" not in html
    assert "data-print" in html and "Quay lại" in html
    assert f'href="/dossiers/{code}"' in html


def test_qr_svg_encodes_text_it_is_given() -> None:
    from ui.web.prints import qr_svg

    small, large = qr_svg("A"), qr_svg("000.17.22.H56-261125-0001" * 4)
    assert str(small).startswith('<svg class="qr-code"') and str(small).endswith("</svg>")
    sizes = [int(re.search(r'viewBox="0 0 (\d+) ', str(s))[1]) for s in (small, large)]  # type: ignore[index]
    assert sizes[0] < sizes[1]  # more text, more modules


def test_receipt_after_saving_shows_the_code_and_prints_once(box: Box, as_officer: FlaskClient) -> None:
    code = receive(box)
    html = page(as_officer, f"/dossiers/{code}/print/receipt?saved=1")
    assert re.search(rf'<p class="print-saved no-print" role="status">Đã tiếp nhận hồ sơ {re.escape(code)}</p>', html)
    assert "window.print()" not in html
    html = page(as_officer, f"/dossiers/{code}/print/receipt?saved=1&autoprint=1")
    assert html.count("window.print()") == 1
    assert html.index("print-saved") < html.index('<article class="paper"')


def test_receipt_by_post_and_without_fees(box: Box, as_officer: FlaskClient) -> None:
    code = receive(box, procedure_code="1.000894", return_method="post", return_address="Số 5 ngõ 7, thôn Đông")
    html = page(as_officer, f"/dossiers/{code}/print/receipt")
    assert field(html, "return") == "Qua dịch vụ bưu chính, địa chỉ: Số 5 ngõ 7, thôn Đông"
    assert "Phí, lệ phí" not in html and "data-fee" not in html


def test_receipt_numbers_logbook_lines_within_the_year(box: Box, clock: FakeClock, as_officer: FlaskClient) -> None:
    first = receive(box)
    clock.advance(minutes=20)
    second = receive(box, applicant=applicant(full_name="Trần Thị Bình", id_number="001199012345", sex="female"))
    clock.set(datetime(2026, 11, 26, 8, 0, tzinfo=TZ))
    third = receive(box)
    numbers = [field(page(as_officer, f"/dossiers/{c}/print/receipt"), "logbook_no") for c in (first, second, third)]
    assert numbers == ["1", "2", "3"]


def test_receipt_waits_until_an_online_dossier_is_received(box: Box, as_officer: FlaskClient) -> None:
    code = receive(box, channel="online")
    html = page(as_officer, f"/dossiers/{code}/print/receipt", 409)
    assert "Không in được giấy tiếp nhận hồ sơ và hẹn trả kết quả" in html
    assert "hồ sơ chưa được tiếp nhận" in html
    assert '<article class="paper"' not in html and f'href="/dossiers/{code}"' in html
    page(as_officer, f"/dossiers/{code}/print/control", 409)


def test_unknown_dossier_is_404(as_officer: FlaskClient) -> None:
    html = page(as_officer, "/dossiers/000.17.22.H56-261125-9999/print/receipt", 404)
    assert "Không tìm thấy hồ sơ mã" in html


# --- forms 02–05 ---------------------------------------------------------------------------------


def test_supplement_form(box: Box, clock: FakeClock, as_officer: FlaskClient) -> None:
    code = receive(box, procedure_code="1.000894")
    html = page(as_officer, f"/dossiers/{code}/print/supplement", 409)
    assert "hồ sơ không có yêu cầu bổ sung" in html
    clock.advance(minutes=40)
    missing = [{"name": "Giấy xác nhận tình trạng hôn nhân", "kind": "original", "quantity": 1},
               {"name": "Sổ hộ khẩu", "kind": "photocopy", "quantity": 2}]  # fmt: skip
    act(
        box,
        OFFICER,
        code,
        "request-supplement",
        {"reason": "Thiếu giấy xác nhận tình trạng hôn nhân", "missing_documents": missing},
    )
    html = page(as_officer, f"/dossiers/{code}/print/supplement")
    legal_header(html)
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in html and "Số: 261125-0001/BS" in html
    assert field(html, "code") == code and field(html, "applicant") == "Nguyễn Văn An"
    assert field(html, "address") == "Số 12 phố Hàng Bạc" and field(html, "phone") == "0912345678"
    assert field(html, "request") == "Thủ tục đăng ký kết hôn"
    rows = re.findall(
        r'<tr data-document="\d+"><td class="num">\d+</td><td>([^<]*)</td><td>([^<]*)</td><td class="num">(\d+)</td>',
        html,
    )
    assert rows == [("Giấy xác nhận tình trạng hôn nhân", "Bản chính", "1"), ("Sổ hộ khẩu", "Bản sao", "2")]
    assert field(html, "reason") == "Thiếu giấy xác nhận tình trạng hôn nhân"
    assert field(html, "officer") == "canbo"
    assert "officer_phone" in html  # left for the officer to write
    assert "Thử Nghiệm, ngày 25 tháng 11 năm 2026" in html


def test_refusal_form(box: Box, as_officer: FlaskClient) -> None:
    code = receive(box)
    html = page(as_officer, f"/dossiers/{code}/print/refusal", 409)
    assert "Không in được phiếu từ chối tiếp nhận giải quyết hồ sơ" in html and "không bị từ chối" in html
    act(box, LEADER, code, "refuse", {"reason": "Hồ sơ không thuộc thẩm quyền của UBND xã"})
    html = page(as_officer, f"/dossiers/{code}/print/refusal")
    legal_header(html)
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in html and "Số: 261125-0001/TC" in html
    assert field(html, "applicant") == "Nguyễn Văn An" and field(html, "request") == "Thủ tục đăng ký khai sinh"
    assert field(html, "reason") == "Hồ sơ không thuộc thẩm quyền của UBND xã"
    assert field(html, "officer") == "lanhdao"  # who refused, from the event
    assert "NGƯỜI NỘP HỒ SƠ" in html and "NGƯỜI TIẾP NHẬN HỒ SƠ" in html
    assert field(html, "refused") == "09 giờ 00 phút, ngày 25/11/2026"


def test_apology_form(box: Box, clock: FakeClock, as_officer: FlaskClient) -> None:
    code = receive(box, procedure_code="1.000894")
    html = page(as_officer, f"/dossiers/{code}/print/apology", 409)
    assert "chưa được xin lỗi và hẹn lại" in html
    clock.advance(hours=1)
    act(
        box,
        OFFICER,
        code,
        "reschedule",
        {"reason": "Cần xác minh với nơi cư trú trước đây", "new_due_at": "2026-11-27T16:00:00+07:00"},
    )
    act(
        box,
        OFFICER,
        code,
        "reschedule",
        {"reason": "Chờ ý kiến của cơ quan cấp trên", "new_due_at": "2026-12-02T10:30:00+07:00"},
    )
    html = page(as_officer, f"/dossiers/{code}/print/apology")
    legal_header(html)
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in html and "Số: 261125-0001/XL" in html
    assert field(html, "addressee") == "Nguyễn Văn An"
    assert field(html, "received") == "25/11/2026"
    assert field(html, "code") == code
    assert field(html, "old_due") == "16 giờ 00 phút, ngày 27/11/2026"  # the date being missed now
    assert field(html, "reason") == "Chờ ý kiến của cơ quan cấp trên"
    assert field(html, "new_due") == "10 giờ 30 phút, ngày 02/12/2026"
    assert "THỦ TRƯỞNG CƠ QUAN" in html
    first = page(as_officer, f"/dossiers/{code}/print/apology?n=1")
    assert field(first, "old_due") == "17 giờ 00 phút, ngày 25/11/2026"
    assert field(first, "new_due") == "16 giờ 00 phút, ngày 27/11/2026"
    assert "không có lần hẹn lại thứ 3" in page(as_officer, f"/dossiers/{code}/print/apology?n=3", 404)


def test_control_sheet_has_a_row_per_handover(box: Box, clock: FakeClock, as_officer: FlaskClient) -> None:
    code = receive(box, procedure_code="1.000894")
    html = page(as_officer, f"/dossiers/{code}/print/control")
    legal_header(html)
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in html and "Số: 261125-0001/KS" in html
    assert field(html, "code") == code and field(html, "handling_agency") == "UBND xã Thử Nghiệm"
    assert "data-handover" not in html and html.count('class="blank-row"') == 4  # rows to fill by hand
    clock.advance(minutes=30)
    act(
        box,
        OFFICER,
        code,
        "transfer",
        {"assignee": "lanhdao", "step_due_at": "2026-11-25T11:00:00+07:00", "note": "Trình ký"},
    )
    clock.advance(hours=3)  # 12:30: the step ran late, the dossier is still within its day
    act(box, LEADER, code, "approve", {})
    clock.advance(minutes=30)
    act(box, OFFICER, code, "return-result", {})
    html = page(as_officer, f"/dossiers/{code}/print/control")
    rows = re.findall(
        r'<tr data-handover="(\d+)">\s*<td>\s*<div>\d+\. Giao: ([^<]*)</div>\s*<div>&nbsp;&nbsp;&nbsp;Nhận: ([^<]*)</div>\s*</td>\s*<td>\s*<div>([^<]*)</div>.*?<td data-field="result">([^<]*)</td>\s*<td>([^<]*)</td>',
        html,
        re.S,
    )
    assert rows == [
        ("1", "canbo", "lanhdao", "09 giờ 30 phút, ngày 25/11/2026", "Quá hạn", "Trình ký"),
        (
            "2",
            "lanhdao",
            "Bộ phận tiếp nhận và trả kết quả",
            "12 giờ 30 phút, ngày 25/11/2026",
            "Đúng hạn",
            "Đã có kết quả",
        ),
        (
            "3",
            "Bộ phận tiếp nhận và trả kết quả",
            "Nguyễn Văn An",
            "13 giờ 00 phút, ngày 25/11/2026",
            "Đúng hạn",
            "Trả kết quả",
        ),
    ]
    assert 'class="blank-row"' not in html


# --- the logbook ---------------------------------------------------------------------------------


def test_logbook_lists_the_range_in_order(box: Box, clock: FakeClock, as_officer: FlaskClient) -> None:
    first = receive(box)
    clock.advance(minutes=15)
    second = receive(
        box,
        procedure_code="1.000894",
        applicant=applicant(
            full_name="Phạm Thị Dung", id_number="001199012345", sex="female", phone="0987654321", address="Thôn Đông"
        ),
    )
    act(box, OFFICER, second, "transfer", {"assignee": "lanhdao"})
    clock.set(datetime(2026, 11, 26, 8, 0, tzinfo=TZ))
    third = receive(box)
    act(box, OFFICER, third, "refuse", {"reason": "Không thuộc thẩm quyền"})
    html = page(as_officer, "/logbook/print?from=2026-11-25&to=2026-11-26")
    assert '<body class="print-view paper-a4-landscape">' in html and 'class="paper logbook"' in html
    assert "SỔ THEO DÕI HỒ SƠ" in html and "UBND XÃ THỬ NGHIỆM" in html
    assert (
        field(html, "start") == "25/11/2026" and field(html, "end") == "26/11/2026" and field(html, "volume") == "2026"
    )
    lines = re.findall(r'<tr data-line="(\d+)" data-code="([^"]+)">(.*?)</tr>', html, re.S)
    assert [(n, c) for n, c, _ in lines] == [("1", first), ("2", second), ("3", third)]
    cells = [
        re.sub(r"\s+", " ", re.sub(r"<br>", " | ", c)).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", lines[1][2], re.S)
    ]
    assert cells == [
        "2",
        second,
        "Thủ tục đăng ký kết hôn",
        "1",
        "Phạm Thị Dung",
        "Thôn Đông; 0987654321",
        "UBND xã Thử Nghiệm",
        "25/11/2026 09:15",
        "25/11/2026 17:00",
        "25/11/2026 09:15 | lanhdao",
        "",
        "",
        "Đang xử lý",
    ]
    assert "Từ chối tiếp nhận: Không thuộc thẩm quyền" in lines[2][2]
    assert field(html, "count") == "3"
    # A later range keeps the year's numbering, the same line the receipt promised.
    html = page(as_officer, "/logbook/print?from=2026-11-26&to=2026-11-26")
    assert re.findall(r'<tr data-line="(\d+)" data-code="([^"]+)">', html) == [("3", third)]
    assert field(page(as_officer, f"/dossiers/{third}/print/receipt"), "logbook_no") == "3"


def test_logbook_defaults_to_today_and_says_when_empty(box: Box, as_officer: FlaskClient) -> None:
    html = page(as_officer, "/logbook/print")
    assert field(html, "start") == field(html, "end") == "25/11/2026"
    assert "Không có hồ sơ nào được tiếp nhận trong khoảng thời gian này." in html
    assert 'name="from" value="25/11/2026"' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026/13/45&to=2026-11-30", "Ngày “2026/13/45” không hợp lệ"),
        ("from=2026-11-30&to=2026-11-01", "Ngày bắt đầu phải trước hoặc trùng ngày kết thúc."),
        ("from=2025-01-01&to=2026-11-30", "dài quá 366 ngày"),
    ],
)
def test_logbook_refuses_a_bad_range(as_officer: FlaskClient, query: str, message: str) -> None:
    html = page(as_officer, f"/logbook/print?{query}", 400)
    assert message in html and 'class="print-error no-print"' in html
    assert '<article class="paper' not in html


# --- permissions, stylesheet, text ---------------------------------------------------------------


def test_print_views_need_a_session_and_the_read_permission(box: Box, client: FlaskClient) -> None:
    code = receive(box)
    urls = [f"/dossiers/{code}/print/{k}" for k in ("receipt", "supplement", "refusal", "apology", "control")]
    urls.append("/logbook/print")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(client, "kythuat")  # a technician may not read dossiers
    for url in urls:
        assert client.get(url).status_code == 403
    client.post("/logout")
    login(client, "quantri")  # an admin may
    assert client.get(urls[0]).status_code == 200 and client.get(urls[-1]).status_code == 200


def test_stylesheet_sets_a5_forms_and_a4_landscape_logbook(box: Box, as_officer: FlaskClient) -> None:
    code = receive(box)
    html = page(as_officer, f"/dossiers/{code}/print/receipt")
    assert '<link rel="stylesheet" href="/static/css/print.css">' in html and "app.css" not in html
    response = as_officer.get("/static/css/print.css")
    css = response.get_data(as_text=True)
    response.close()
    assert re.search(r"@page\s*\{\s*size:\s*A5 portrait;", css)
    assert re.search(r"@page logbook\s*\{\s*size:\s*A4 landscape;", css)
    assert re.search(r"\.logbook\s*\{\s*page:\s*logbook;", css)
    assert re.search(r"@media print\s*\{[^@]*\.no-print, \.print-toolbar \{ display: none !important; \}", css)


def test_pages_are_nfc_vietnamese(box: Box, clock: FakeClock, as_officer: FlaskClient) -> None:
    # Typed in decomposed form (NFD), as some keyboards and scanners send it.
    name = unicodedata.normalize("NFD", "Nguyễn Thị Hường")
    code = receive(box, applicant=applicant(full_name=name, id_number="001199012345", sex="female"))
    act(box, OFFICER, code, "refuse", {"reason": unicodedata.normalize("NFD", "Thiếu bản chính giấy chứng sinh")})
    urls = [f"/dossiers/{code}/print/{k}" for k in ("receipt", "refusal", "control")] + ["/logbook/print"]
    for url in urls:
        html = page(as_officer, url)
        assert html == unicodedata.normalize("NFC", html), url
        assert "Nguyễn Thị Hường" in html
    assert '<html lang="vi">' in html and 'lang="vi" data-form="logbook"' in html


def test_stored_markup_is_shown_as_text(box: Box, as_officer: FlaskClient) -> None:
    """Whatever reaches the store (a peer box, an old version), the forms print it inert."""
    code = receive(box)
    db = box.db()
    state = db.execute("SELECT dossier_id FROM dossiers WHERE code = ?", [code]).fetchone()
    attack = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    with write(db):
        event = events.new_event(db, state[0], "refused", {"reason": attack}, actor="canbo", origin=box.origin)
        events.append(db, event)
        projection.refold(db, state[0])
    html = page(as_officer, f"/dossiers/{code}/print/refusal")
    assert attack not in html and "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html


# --- the form data -------------------------------------------------------------------------------


def test_legal_dates_pad_small_days_and_the_first_two_months() -> None:
    assert forms.legal_date("Hàng Bạc", date(2026, 2, 5)) == "Hàng Bạc, ngày 05 tháng 02 năm 2026"
    assert forms.legal_date("Hàng Bạc", date(2026, 11, 26)) == "Hàng Bạc, ngày 26 tháng 11 năm 2026"
    assert forms.spoken_moment("2026-11-26T14:05:00+07:00") == "14 giờ 05 phút, ngày 26/11/2026"
    assert forms.spoken_moment("2026-11-26T07:05:00+00:00") == "14 giờ 05 phút, ngày 26/11/2026"


@pytest.mark.parametrize(
    ("agency", "place"),
    [("UBND xã Thử Nghiệm", "Thử Nghiệm"), ("Ủy ban nhân dân phường Hàng Bạc", "Hàng Bạc"),
     ("UBND thị trấn Phong Điền", "Phong Điền"), ("Đặc khu Côn Đảo", "Côn Đảo"), ("Hàng Bạc", "Hàng Bạc")],
)  # fmt: skip
def test_place_is_the_commune_name(agency: str, place: str) -> None:
    assert forms.place_of(agency) == place


@pytest.mark.parametrize(
    ("days", "text"),
    [(0, "Trong ngày"), (5, "5 ngày làm việc"), (5.0, "5 ngày làm việc"), (0.5, "4 giờ làm việc"),
     (1.5, "1,5 ngày làm việc")],
)  # fmt: skip
def test_processing_time(days: float, text: str) -> None:
    assert forms.processing_time(days) == text


def test_timeliness_compares_with_the_due_day() -> None:
    due = "2026-11-26T16:00:00+07:00"
    assert forms.timeliness("2026-11-25T16:30:00+07:00", due) == "early"
    assert forms.timeliness("2026-11-26T08:00:00+07:00", due) == "on_time"
    assert forms.timeliness("2026-11-26T16:00:00+07:00", due) == "on_time"
    assert forms.timeliness("2026-11-26T16:00:01+07:00", due) == "late"
    assert forms.timeliness(None, due) == "" and forms.timeliness(due, None) == ""


def test_forms_follow_the_data(box: Box) -> None:
    assert [f.number for f in forms.FORMS] == ["01", "02", "03", "04", "05", "06"]
    assert {f.paper for f in forms.DOSSIER_FORMS} == {"A5"} and forms.FORM_BY_KEY["logbook"].paper == "A4-landscape"
    code = receive(box)
    dossier = box.db().execute("SELECT state FROM dossiers WHERE code = ?", [code]).fetchone()
    state = json.loads(dossier[0])
    assert [f.key for f in forms.available_forms(state)] == ["receipt", "control"]
    act(box, OFFICER, code, "request-supplement", {"reason": "Thiếu tờ khai", "missing_documents": []})
    state = json.loads(box.db().execute("SELECT state FROM dossiers WHERE code = ?", [code]).fetchone()[0])
    assert [f.key for f in forms.available_forms(state)] == ["receipt", "supplement", "control"]
