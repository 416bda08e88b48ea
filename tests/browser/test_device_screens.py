"""Device screens in Chromium: the technician's Devices page, the officer's counter devices, the rating tablet."""

from __future__ import annotations

import re
from typing import Any

from edge.box import open_box
from edge.config import update_config_file
from tests.browser.conftest import UI
from tests.conftest import dossier_body

DEVICES = {"receipt_printer": "sim://printer", "card_terminal": "sim://terminal"}


def test_the_technician_self_tests_a_printer_and_opens_the_page_it_printed(ui: UI, expect: Any) -> None:
    update_config_file(ui.settings.data_dir, DEVICES)  # the running server reads the change at once
    page = ui.page("kythuat")
    page.goto("/devices")
    expect(page.locator('[data-role="receipt_printer"]')).to_have_attribute("data-state", "unknown")
    page.locator('[data-self-test="receipt_printer"]').click()
    expect(page.locator(".flash").first).to_have_text("Đã in trang thử.")
    expect(page.locator('[data-role="receipt_printer"]')).to_have_attribute("data-state", "ok")
    link = page.locator("[data-page-link]").first
    expect(link).to_be_visible()
    ui.shot(page, "30-devices")
    printed = page.request.get(ui.url + str(link.get_attribute("href")))
    assert printed.ok and printed.body().startswith(b"\x89PNG")


def test_the_officer_prints_charges_and_the_citizen_rates_with_a_keypad_digit(ui: UI, expect: Any) -> None:
    update_config_file(ui.settings.data_dir, DEVICES)
    created = ui.api("POST", "/dossiers", json=dossier_body())
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    page = ui.page("canbo")
    page.goto(f"/dossiers/{code}")
    page.locator("[data-print-receipt]").click()
    expect(page.locator(".flash").first).to_have_text("Đã in giấy tiếp nhận.")
    page.locator("[data-card-pay]").click()  # the fee payment form, card ticked, what is due filled in
    page.locator("[data-pay]").click()
    expect(page.locator(".flash").first).to_have_text("Đã thu 16.000 ₫, biên lai số 0000001.")
    page.goto(f"/dossiers/{code}")
    expect(page.locator('[data-dossier-payments] [data-payment-state="approved"]')).to_have_count(1)
    page.locator("[data-ask-rating]").click()
    expect(page.locator(".flash").first).to_contain_text("Mời công dân bấm nút đánh giá")
    ui.shot(page, "31-counter-devices")

    tablet = ui.page("canbo", tablet=True)
    tablet.goto("/rate")
    expect(tablet.locator("[data-rate]")).to_contain_text(code)
    tablet.keyboard.press("1")  # a USB-HID keypad types the digit
    expect(tablet.locator("[data-thanks]")).to_be_visible()
    tablet.locator('button[data-level="4"]').click()  # and a touch on the screen
    expect(tablet.locator("[data-thanks]")).to_be_visible()
    ui.shot(tablet, "32-rating-tablet")
    box = open_box(ui.settings.data_dir)
    rows = box.db().execute("SELECT level, source, officer FROM ratings ORDER BY at, rowid").fetchall()
    dossier = box.db().execute("SELECT DISTINCT dossier_id FROM ratings").fetchall()
    box.close()
    assert rows == [(1, "keyboard", "canbo"), (4, "tablet", "canbo")]
    assert len(dossier) == 1 and dossier[0][0] is not None
    assert re.fullmatch(r"[0-9a-f-]{36}", dossier[0][0])
