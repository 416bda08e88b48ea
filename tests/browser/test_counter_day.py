"""A counter day in the browser: sign in, receive a dossier by keyboard, print, move it to the end, find it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tests.browser.conftest import UI, png

if TYPE_CHECKING:
    from playwright.sync_api import Page

DATE = re.compile(r"\b(\d{2})/(\d{2})/(\d{4})\b")
APPLICANT = {
    "id_number": "036185012345",
    "full_name": "Phạm Thị Thu Hương",
    "folded": "pham thi thu huong",
    "date_of_birth": "12/08/1985",
    "phone": "0987654321",
    "address": "Thôn Đông, xã Thử Nghiệm",
}


def focused(page: Page) -> str:
    """Return the id of the element that has the keyboard focus."""
    return str(page.evaluate("() => document.activeElement ? document.activeElement.id : ''"))


def tab_to(page: Page, element_id: str, most: int = 12) -> int:
    """Press Tab until `element_id` has the focus; return how many presses it took."""
    for presses in range(1, most + 1):
        page.keyboard.press("Tab")
        if focused(page) == element_id:
            return presses
    raise AssertionError(f"#{element_id} not reached with {most} Tabs (focus on #{focused(page)})")


def act(page: Page, action: str, fill: dict[str, str] | None = None) -> None:
    """Open an action of the dossier page, fill its inputs, submit it and wait for the page again."""
    details = page.locator(f"#action-{action}")
    details.locator("summary").click()
    for selector, value in (fill or {}).items():
        details.locator(selector).fill(value)
    with page.expect_navigation():
        details.locator("button[type=submit]").last.click()


def status_of(page: Page) -> str | None:
    return page.locator(".dossier-state [data-status]").get_attribute("data-status")


def test_counter_day(ui: UI, expect: Any) -> None:
    # --- sign in ----------------------------------------------------------------------------
    page = ui.page(user=None)
    page.goto("/intake")  # a bookmark without a session goes to the login page and comes back
    expect(page).to_have_url(re.compile(r"/login\?next=/intake$"))
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("h1")).to_have_text("Đăng nhập")
    assert focused(page) == "username"
    ui.shot(page, "01-login")
    page.keyboard.type("canbo")
    page.keyboard.press("Tab")
    page.keyboard.type("sai-mat-khau")
    page.keyboard.press("Enter")
    expect(page.locator("[role=alert]")).to_contain_text("Sai tên đăng nhập hoặc mật khẩu")
    ui.login(page, "canbo")
    expect(page).to_have_url(re.compile(r"/intake$"))

    page.goto("/")
    expect(page.locator("h1")).to_contain_text("Tổng quan hôm nay")
    expect(page.locator("[data-count=received_today] b")).to_have_text("0")
    ui.shot(page, "02-today")

    # --- intake, keyboard first ---------------------------------------------------------------
    page.goto("/intake")
    expect(page.locator("h1")).to_have_text("Tiếp nhận hồ sơ")
    assert focused(page) == "proc-q"
    page.keyboard.type("chung thuc di chuc")  # no accents: finds "Thủ tục chứng thực di chúc"
    expect(page.locator("#proc-count")).to_have_text("1 thủ tục khớp")
    page.keyboard.press("Enter")  # takes the first match, shows its checklist, focus on the first box
    expect(page.locator("#proc-name")).to_have_text("Thủ tục chứng thực di chúc")
    expect(page.locator("#due-preview")).to_contain_text("Ngày hẹn trả dự kiến")
    expect(page.locator("#doc_0")).to_be_focused()
    boxes = page.locator("#doc-rows input[type=checkbox]")
    for i in range(boxes.count()):
        if i:
            tab_to(page, f"doc_{i}", most=2)  # box, its quantity, the next box
        page.keyboard.press("Space")
        expect(boxes.nth(i)).to_be_checked()
    tab_to(page, "id_number", most=8)
    page.keyboard.type(APPLICANT["id_number"])
    expect(page.locator("#autofill-note")).to_contain_text("Chưa có hồ sơ nào")  # unknown CCCD: type the person
    tab_to(page, "full_name", most=2)
    page.keyboard.type(APPLICANT["full_name"])
    tab_to(page, "date_of_birth", most=1)
    page.keyboard.type(APPLICANT["date_of_birth"])
    tab_to(page, "sex", most=1)
    page.select_option("#sex", "female")
    tab_to(page, "phone", most=1)
    page.keyboard.type(APPLICANT["phone"])
    tab_to(page, "email", most=1)
    tab_to(page, "address", most=1)
    page.keyboard.type(APPLICANT["address"])
    page.set_input_files("#scans", files=[{"name": "di-chuc.png", "mimeType": "image/png", "buffer": png()}])
    page.fill("#notes", "Đã đối chiếu bản chính.")
    due_text = page.locator("#due-preview").inner_text()
    due_day = DATE.search(due_text)
    assert due_day, due_text
    ui.shot(page, "03-intake", full_page=False)
    page.focus("#address")
    with page.expect_navigation(url=re.compile(r"/print/receipt")):
        page.keyboard.press("Enter")  # Enter in a text input saves the form

    # --- the receipt (form 01) ----------------------------------------------------------------
    code = re.search(r"/dossiers/([^/]+)/print/receipt", page.url)
    assert code, page.url
    code_text = code[1]
    expect(page.locator("[data-field=code]").first).to_have_text(code_text)
    expect(page.locator("[data-field=due]")).to_contain_text(due_day[0])
    expect(page.locator("[data-field=applicant]")).to_have_text(APPLICANT["full_name"])
    expect(page.locator("svg.qr-code")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Giấy tiếp nhận hồ sơ và hẹn trả kết quả".upper())
    ui.shot(page, "06-receipt-print")

    # --- the dossier page: supplement, supplement received, result, return ----------------------
    page.goto(f"/dossiers/{code_text}")
    expect(page.locator("h1")).to_have_text(f"Hồ sơ {code_text}")
    assert status_of(page) == "new"
    expect(page.locator(".attachments")).to_contain_text("di-chuc.png")
    thumb = page.locator(".attachments img.thumb")
    expect(thumb).to_be_visible()
    assert thumb.evaluate("img => img.naturalWidth") == 24  # the scan is served back as it was stored
    expect(page.locator("dd", has_text=due_day[0]).first).to_be_visible()

    act(
        page,
        "request-supplement",
        {"textarea[name=reason]": "Thiếu bản sao giấy tờ nhà đất.", "#doc_name_0": "Giấy chứng nhận quyền sử dụng đất"},
    )
    expect(page.locator(".flash-success")).to_contain_text("Yêu cầu bổ sung")
    assert status_of(page) == "waiting"
    expect(page.locator("#h-supplement")).to_be_visible()
    expect(page.locator("a", has_text="In phiếu yêu cầu bổ sung")).to_be_visible()

    act(page, "supplement-received")
    assert status_of(page) == "new"
    act(page, "approve", {"textarea[name=note]": "Đã chứng thực."})
    assert status_of(page) == "releasing"
    act(page, "return-result")
    assert status_of(page) == "done"
    expect(page.locator(".actions")).to_contain_text("Không còn thao tác nào")
    kinds = page.locator("#timeline tr[data-kind]").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    for kind in (
        "created",
        "attachment_added",
        "supplement_requested",
        "supplement_received",
        "approved",
        "result_returned",
    ):
        assert kind in kinds, kinds
    ui.shot(page, "05-dossier")

    # --- find it again by the name typed without accents --------------------------------------
    page.goto("/dossiers")
    expect(page.locator("h1")).to_have_text("Danh sách hồ sơ")
    assert focused(page) == "q"
    page.keyboard.type(APPLICANT["folded"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/dossiers\?q=pham\+thi\+thu\+huong"))
    rows = page.locator("table.dossier-list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-code", code_text)
    expect(rows.first).to_contain_text(APPLICANT["full_name"])
    ui.shot(page, "04-dossier-list")
    page.goto(f"/dossiers?q={APPLICANT['phone']}")
    expect(page.locator("table.dossier-list tbody tr")).to_have_count(1)
    rows.first.locator("a").first.click()
    expect(page).to_have_url(re.compile(rf"/dossiers/{re.escape(code_text)}$"))

    # --- today's overview counts it ------------------------------------------------------------
    page.goto("/")
    expect(page.locator("[data-count=received_today] b")).to_have_text("1")
    expect(page.locator("[data-count=returned_today] b")).to_have_text("1")
    ui.check()
