"""The other screens: reports with the Excel export, administration, roles, the tablet, the language switch."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import load_workbook

from tests.browser.conftest import UI
from tests.conftest import applicant, dossier_body

if TYPE_CHECKING:
    from playwright.sync_api import Page

EXCEL = re.compile(r"Excel|xlsx", re.IGNORECASE)


def no_sideways_scroll(page: Page) -> None:
    """Fail if the page is wider than the screen (the officer would have to scroll sideways)."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url}: page {widths[0]} px wide on a {widths[1]} px screen"


def seed(ui: UI, count: int = 3) -> list[str]:
    """Receive `count` dossiers through the API; return the first one's result to the applicant."""
    codes = []
    for i in range(count):
        person = applicant(full_name=f"Nguyễn Văn Thử {chr(65 + i)}", id_number=f"00109901234{i}")
        created = ui.api("POST", "/dossiers", json=dossier_body(applicant=person))
        assert created.status_code == 201, created.text
        codes.append(created.json()["code"])
    for action in ("approve", "return-result"):
        done = ui.api("POST", f"/dossiers/{codes[0]}/actions/{action}", json={})
        assert done.status_code == 200, done.text
    return codes


def test_reports_export_excel(ui: UI, expect: Any) -> None:
    seed(ui)
    page = ui.page("lanhdao")
    page.get_by_role("link", name="Báo cáo, thống kê").click()
    expect(page).to_have_url(re.compile(r"/reports"))
    expect(page.locator("h1")).to_contain_text("Báo cáo, thống kê")
    expect(page.locator("main")).to_contain_text("Tổng cộng")
    no_sideways_scroll(page)
    ui.shot(page, "07-reports")

    export = page.locator("a, button").filter(has_text=EXCEL).first
    with page.expect_download() as info:
        export.click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx"), download.suggested_filename
    workbook = load_workbook(BytesIO(Path(download.path()).read_bytes()), read_only=True)
    rows = [[cell for cell in row] for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    header = next((r for r in rows if "Tiếp nhận" in r), None)
    assert header is not None, rows[:5]
    total = next((r for r in rows if "Tổng cộng" in r), None)
    assert total is not None, rows
    assert total[header.index("Tiếp nhận")] == 3, (header, total)
    assert total[header.index("Đã giải quyết")] == 1, (header, total)
    ui.check()


def test_admin_devices_sync_and_roles(ui: UI, expect: Any) -> None:
    ui.allow_console(r"status of 403 \(FORBIDDEN\) \[\S*/(admin|intake)\]$")
    admin = ui.page("quantri")
    admin.goto("/admin")
    expect(admin.locator("h1")).to_contain_text("Quản trị")
    expect(admin.locator("main")).to_contain_text("canbo")
    no_sideways_scroll(admin)
    ui.shot(admin, "08-admin")

    technician = ui.page("kythuat")
    technician.goto("/devices")
    expect(technician.locator("h1")).to_contain_text("Thiết bị")
    ui.shot(technician, "11-devices")
    technician.goto("/intake")  # a technician does not receive dossiers
    expect(technician.locator("h1")).to_have_text("Không có quyền")
    nav = technician.locator("nav.mainnav")
    expect(nav.get_by_role("link", name="Tiếp nhận hồ sơ")).to_have_count(0)

    officer = ui.page("canbo")
    officer.goto("/admin")
    expect(officer.locator("h1")).to_have_text("Không có quyền")
    officer.goto("/sync")
    expect(officer.locator("h1")).to_contain_text("Đồng bộ")
    ui.shot(officer, "12-sync")
    ui.check()


def test_tablet_and_language(ui: UI, expect: Any) -> None:
    seed(ui, 2)
    page = ui.page("canbo", tablet=True)  # 1280x800, touch
    for path in ("/", "/dossiers", "/intake"):
        page.goto(path)
        no_sideways_scroll(page)
    page.locator("#proc-q").tap()
    page.keyboard.type("dang ky ket hon")
    page.locator("#proc-select option[value='1.000894']").tap()
    expect(page.locator("#proc-name")).to_have_text("Thủ tục đăng ký kết hôn")
    page.locator("#tick-all").tap()
    expect(page.locator("#doc_0")).to_be_checked()
    no_sideways_scroll(page)
    ui.shot(page, "09-tablet-intake", full_page=False)
    page.goto("/dossiers")
    ui.shot(page, "09-tablet-dossier-list", full_page=False)

    # English is one click away and keeps the page; Vietnamese comes back the same way.
    page.get_by_role("link", name="English").tap()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/dossiers$"))
    assert page.locator("h1").inner_text() != "Danh sách hồ sơ"
    ui.shot(page, "13-tablet-dossier-list-en", full_page=False)
    page.get_by_role("link", name="Tiếng Việt").tap()
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("h1")).to_have_text("Danh sách hồ sơ")
    ui.check()
