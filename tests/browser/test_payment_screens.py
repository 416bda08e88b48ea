"""Payment screens in Chromium: cash with the change shown live, VietQR shown and confirmed, card on the
simulated terminal, receipts printed and on A5, and the end-of-day cash-up closed."""

from __future__ import annotations

import re
from typing import Any

import pytest

from edge.config import Settings, update_config_file
from tests.browser.conftest import UI
from tests.conftest import dossier_body

DEVICES = {
    "receipt_printer": "sim://printer",
    "card_terminal": "sim://terminal",
    "vietqr_bank_bin": "970436",
    "vietqr_account": "0011001234567",
    "vietqr_account_name": "UBND XA THU NGHIEM",
}


@pytest.fixture
def configured(box_settings: Settings) -> None:
    """Set up the printer, the terminal and the VietQR account before the server starts."""
    update_config_file(box_settings.data_dir, DEVICES)


def test_the_officer_takes_cash_vietqr_and_card_prints_and_closes_the_day(
    configured: None, ui: UI, expect: Any
) -> None:
    code = ui.api("POST", "/dossiers", json=dossier_body()).json()["code"]  # 16.000 ₫ due
    page = ui.page("canbo")
    page.goto(f"/dossiers/{code}")
    fees = page.locator("[data-fees]")
    expect(fees.locator('[data-fee="due"]')).to_have_text("16.000 ₫")
    form = fees.locator("form[data-take-payment]")
    form.locator("[data-amount]").fill("8.000")
    form.locator("[data-received]").fill("10.000")
    expect(form.locator("[data-change]")).to_have_text("2.000 ₫")  # live, before saving
    form.locator('input[value="card"]').check()
    expect(form.locator("[data-received]")).to_be_hidden()  # cash only
    form.locator('input[value="cash"]').check()
    fees.scroll_into_view_if_needed()
    ui.shot(page, "36-fees-cash-form")
    form.locator("[data-pay]").click()
    expect(page.locator(".flash").nth(0)).to_have_text("Đã thu 8.000 ₫, biên lai số 0000001.")
    expect(page.locator(".flash").nth(1)).to_have_text("Tiền trả lại khách: 2.000 ₫.")
    page.locator("[data-print-fee]").click()
    expect(page.locator(".flash").first).to_have_text("Đã in biên lai.")
    page.locator("[data-receipt-a5]").click()
    expect(page.locator('[data-field="receipt_number"]')).to_have_text("0000001")
    expect(page.locator('[data-field="total"]')).to_have_text("8.000 ₫")
    expect(page.locator('[data-field="payer"]')).to_have_text("Nguyễn Văn An")
    ui.shot(page, "37-fee-receipt-a5")

    page.goto(f"/dossiers/{code}")
    form = page.locator("form[data-take-payment]")
    expect(form.locator("[data-amount]")).to_have_value("8000")  # what is still due
    form.locator('input[value="vietqr"]').check()
    form.locator("[data-pay]").click()
    expect(page.locator("[data-vietqr] svg.qr-code")).to_be_visible()
    expect(page.locator("[data-qr-amount]")).to_have_text("8.000 ₫")
    expect(page.locator("[data-qr-code]")).to_have_text(code)
    page.locator("[data-print-fee]").click()
    expect(page.locator(".flash").first).to_have_text("Đã in mã VietQR.")
    ui.shot(page, "38-vietqr-waiting")
    page.locator("[data-confirm]").click()
    expect(page.locator(".flash").first).to_have_text("Đã thu 8.000 ₫, biên lai số 0000002.")
    expect(page.locator('[data-outcome="approved"]')).to_be_visible()

    other = ui.api("POST", "/dossiers", json=dossier_body()).json()["code"]
    page.goto(f"/dossiers/{other}")
    page.locator("[data-card-pay]").click()  # from the counter's devices: the same payment form, card ticked
    expect(page.locator('input[value="card"]')).to_be_checked()
    page.locator("[data-pay]").click()
    expect(page.locator(".flash").first).to_have_text("Đã thu 16.000 ₫, biên lai số 0000003.")
    ui.shot(page, "39-card-approved")

    page.goto("/payments/cashup")
    expect(page.locator('[data-method="cash"] td.num')).to_have_text("8.000 ₫")
    expect(page.locator('[data-method="card"] td.num')).to_have_text("16.000 ₫")
    expect(page.locator('[data-method="vietqr"] td.num')).to_have_text("8.000 ₫")
    expect(page.locator("[data-net]")).to_have_text("32.000 ₫")
    counted = page.locator('[data-count-row="canbo"]')
    counted.locator("[data-counted-input]").fill("7.000")
    expect(counted.locator("[data-difference]")).to_have_text("−1.000 ₫")
    counted.locator("[data-counted-input]").fill("8.000")
    expect(counted.locator("[data-difference]")).to_have_text("0 ₫")
    ui.shot(page, "40-cashup")
    page.locator("[data-close]").click()
    expect(page.locator(".flash").first).to_contain_text("Đã kết sổ ngày")
    expect(page.locator("[data-cashup]")).to_have_attribute("data-closed", "yes")
    assert re.search(r"[0-9]{2}/[0-9]{2}/[0-9]{4}", page.locator("[data-closed-by]").inner_text())
    ui.shot(page, "41-cashup-closed")
