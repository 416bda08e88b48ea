"""The intake form under stress: a double submit makes one dossier, an expired session loses nothing."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from tests.browser.conftest import UI, png

if TYPE_CHECKING:
    from playwright.sync_api import Page

SAVE = ".intake-savebar button[type=submit]"


def fill_intake(page: Page, id_number: str, name: str, notes: str = "") -> None:
    """Pick the birth registration, tick its documents and type the applicant."""
    page.goto("/intake")
    page.fill("#proc-q", "khai sinh")
    page.click("#proc-select option[value='1.001193']")
    page.wait_for_selector("#doc_0")
    page.click("#tick-all")
    page.fill("#id_number", id_number)
    page.fill("#full_name", name)
    page.fill("#date_of_birth", "04/03/1999")
    page.fill("#phone", "0912345678")
    page.fill("#address", "Số 12 phố Hàng Bạc")
    if notes:
        page.fill("#notes", notes)


def rows_for(page: Page, q: str) -> list[str]:
    """Return the codes the dossier list finds for q."""
    page.goto(f"/dossiers?q={q}")
    codes = page.locator("table.dossier-list tbody tr").evaluate_all("rows => rows.map(r => r.dataset.code)")
    return [str(c) for c in codes]


def test_double_submit_creates_one_dossier(ui: UI, expect: Any) -> None:
    page = ui.page()
    fill_intake(page, "001099012346", "Trần Văn Bình")
    page.set_input_files("#scans", files=[{"name": "to-khai.png", "mimeType": "image/png", "buffer": png()}])
    # The same form sent twice at once behind the page's back (a flaky network, a script, an old
    # browser), then a double click on Lưu: one idempotency key, so one dossier.
    statuses = page.evaluate(
        """async () => {
            const form = document.getElementById("intake-form");
            const send = () => fetch(form.action, {method: "POST", body: new FormData(form), redirect: "manual"});
            const answers = await Promise.all([send(), send()]);
            return answers.map((a) => a.type === "opaqueredirect" ? 302 : a.status);
        }"""
    )
    assert statuses == [302, 302], statuses
    with page.expect_navigation(url=re.compile(r"/print/receipt")):
        page.dblclick(SAVE)
    code = page.url.split("/dossiers/")[1].split("/")[0]
    assert rows_for(page, "001099012346") == [code]
    page.goto(f"/dossiers/{code}")
    expect(page.locator(".attachments li")).to_have_count(1)
    kinds = page.locator("#timeline tr[data-kind]").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds.count("created") == 1 and kinds.count("attachment_added") == 1, kinds
    ui.check()


def test_expired_session_keeps_the_typed_data(ui: UI, expect: Any) -> None:
    ui.allow_console(r"status of 400 \(BAD REQUEST\) \[\S*/intake\]$")  # the form posted without a session
    page = ui.page()
    fill_intake(page, "001199012347", "Lê Thị Cúc", notes="Người nộp hẹn quay lại lúc 15 giờ.")
    page.select_option("#sex", "female")
    page.wait_for_function("() => Object.keys(localStorage).some((k) => k.startsWith('motcua.intake.draft.'))")
    draft = json.loads(page.evaluate("() => localStorage.getItem('motcua.intake.draft.canbo')"))
    assert draft["fields"]["full_name"] == "Lê Thị Cúc"

    page.context.clear_cookies()  # the session ends while the officer is typing
    page.fill("#email", "cuc.le@example.vn")
    page.click(SAVE)
    page.wait_for_load_state()
    # Whatever the box answered (the login page, or "the form has expired"), signing in again and
    # opening the intake screen brings back everything typed, including what came after the expiry.
    expect(page.locator("h1")).to_have_text(re.compile(r"^(Đăng nhập|Biểu mẫu đã hết hạn)$"))
    ui.shot(page, "10-intake-expired-session")
    page.goto("/intake")
    expect(page).to_have_url(re.compile(r"/login\?next=/intake$"))
    ui.login(page, "canbo")
    expect(page).to_have_url(re.compile(r"/intake"))
    expect(page.locator("#draft-note")).to_be_visible()
    expect(page.locator("#draft-text")).to_contain_text("Đã khôi phục")
    for selector, value in (
        ("#id_number", "001199012347"),
        ("#full_name", "Lê Thị Cúc"),
        ("#date_of_birth", "04/03/1999"),
        ("#sex", "female"),
        ("#phone", "0912345678"),
        ("#email", "cuc.le@example.vn"),
        ("#address", "Số 12 phố Hàng Bạc"),
        ("#notes", "Người nộp hẹn quay lại lúc 15 giờ."),
        ("#procedure_code", "1.001193"),
    ):
        expect(page.locator(selector)).to_have_value(value)
    expect(page.locator("#proc-name")).to_have_text("Thủ tục đăng ký khai sinh")
    expect(page.locator("#doc_0")).to_be_checked()
    with page.expect_navigation(url=re.compile(r"/print/receipt")):
        page.click(SAVE)
    code = page.url.split("/dossiers/")[1].split("/")[0]
    assert rows_for(page, "le thi cuc") == [code]
    # Saved: the draft is gone, a new form starts empty.
    page.goto("/intake")
    expect(page.locator("#full_name")).to_have_value("")
    expect(page.locator("#draft-note")).to_be_hidden()
    ui.check()


def test_wrong_file_type_is_refused_before_sending(ui: UI, expect: Any) -> None:
    page = ui.page()
    fill_intake(page, "001099012348", "Đỗ Văn Dũng")
    page.set_input_files(
        "#scans", files=[{"name": "virus.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"}]
    )
    expect(page.locator("#scans-client-error")).to_contain_text("không phải PDF, JPEG hoặc PNG")
    page.click(SAVE)
    expect(page.locator("#scans")).to_be_focused()
    assert "/intake" in page.url
    assert rows_for(page, "001099012348") == []
    ui.check()
