"""Sync screens in Chromium: the box's Đồng bộ page, and the hub's fleet dashboard for provincial IT."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from edge.box import open_box
from sync.client.cycle import sync_once
from tests.browser.conftest import UI
from tests.conftest import applicant, dossier_body
from tests.hubproc import ADMIN_PASSWORD, Hub, provision

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def test_the_box_sync_page_and_the_hub_fleet_dashboard(ui: UI, hub: Hub, browser: Browser, expect: Any) -> None:
    provision(ui.settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    for n in range(3):
        body = dossier_body(applicant=applicant(id_number=f"00109900000{n}"))
        assert ui.api("POST", "/dossiers", json=body).status_code == 201
    box = open_box(ui.settings.data_dir)
    assert sync_once(box).done
    box.close()

    page = ui.page("canbo")
    page.goto("/sync")
    expect(page.locator("[data-sync-online]")).to_have_text("Có kết nối")
    expect(page.locator("[data-waiting-events]")).to_have_text("0")
    expect(page.locator("[data-hubs] tbody tr")).to_have_count(1)
    expect(page.locator("[data-hubs]")).to_contain_text(hub.url)
    ui.shot(page, "20-box-sync")
    page.get_by_role("button", name="Đồng bộ ngay").click()
    expect(page.locator(".flash").first).to_be_visible()

    # The provincial dashboard, in its own browser context (another person, another site).
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    try:
        fleet = context.new_page()
        ui.watch(fleet)
        fleet.goto(f"{hub.url}/fleet")
        expect(fleet).to_have_url(re.compile(r"/login"))
        fleet.get_by_label("Tên đăng nhập").fill("quantri")
        fleet.get_by_label("Mật khẩu").fill(ADMIN_PASSWORD)
        fleet.get_by_role("button", name="Đăng nhập").click()
        expect(fleet).to_have_url(re.compile(r"/fleet"))
        row = fleet.locator("table.fleet tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Trực tuyến")
        expect(row).to_contain_text("00001")
        ui.shot(fleet, "21-hub-fleet")
        fleet.select_option("select[name=state]", "offline")
        fleet.get_by_role("button", name="Lọc").click()
        expect(fleet.locator("table.fleet tbody tr")).to_have_count(0)
        fleet.goto(f"{hub.url}/fleet?lang=en")
        expect(fleet.locator("table.fleet tbody tr")).to_contain_text("Online")
        fleet.locator("table.fleet tbody tr a").first.click()
        expect(fleet).to_have_url(re.compile(r"/fleet/"))
        expect(fleet.locator("main")).to_contain_text("00001")
        ui.shot(fleet, "22-hub-box")
    finally:
        context.close()
