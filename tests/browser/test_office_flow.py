"""The whole counter-services flow in Chromium, as a citizen meets it: kiosk → display → counter →
intake linked to the ticket → fee paid in cash → rating on the tablet, every step tied together."""

from __future__ import annotations

import re
from typing import Any

from edge.box import open_box
from edge.users import add_user
from tests.browser.conftest import UI
from tests.conftest import PASSWORD


def test_a_citizen_from_ticket_to_rating(ui: UI, expect: Any) -> None:
    box = open_box(ui.settings.data_dir)
    add_user(box.db(), "kiosk1", "kiosk", PASSWORD, "Kiosk sảnh")
    box.close()

    # --- the kiosk: a number for Hộ tịch --------------------------------------------------------
    kiosk = ui.page("kiosk1", tablet=True)
    kiosk.goto("/kiosk")
    kiosk.locator('[data-service="HT"]').click()
    expect(kiosk.locator("[data-ticket]")).to_have_attribute("data-ticket", "A001")
    ui.shot(kiosk, "50-flow-kiosk")

    # --- the hall's display board, live -----------------------------------------------------------
    board = ui.page("kiosk1")
    board.goto("/display")
    expect(board.locator("[data-link-state]")).to_have_text("Đã kết nối")

    # --- the officer at counter 1 calls the number; the board shows it ----------------------------
    desk = ui.page("canbo")
    desk.goto("/counter?n=1")
    desk.locator("[data-call-next]").click()
    expect(desk.locator(".flash").first).to_have_text("Mời số A001 đến quầy số 1.")
    expect(board.locator('[data-counter="1"] [data-number]')).to_have_text("A001")
    expect(board.locator("[data-display]")).to_have_attribute("data-last-call", "A001@1")
    ui.shot(board, "51-flow-display")
    desk.locator('[data-action="start"]').click()
    expect(desk.locator("[data-current]")).to_have_attribute("data-state", "serving")
    ui.shot(desk, "52-flow-counter")

    # --- intake opened from the counter: the dossier is linked to the ticket ----------------------
    desk.locator("[data-intake]").click()
    expect(desk.locator("h1")).to_have_text("Tiếp nhận hồ sơ")
    desk.fill("#proc-q", "1.001193")
    expect(desk.locator("#proc-count")).to_have_text("1 thủ tục khớp")
    desk.keyboard.press("Enter")
    expect(desk.locator("#proc-name")).to_have_text("Thủ tục đăng ký khai sinh")
    boxes = desk.locator("#doc-rows input[type=checkbox]")
    for i in range(boxes.count()):
        boxes.nth(i).check()
    desk.fill("#id_number", "001190012345")  # Hà Nội, a woman born in 1990
    desk.fill("#full_name", "Trần Thị Bích Ngọc")
    desk.fill("#date_of_birth", "12/08/1990")
    desk.select_option("#sex", "female")
    desk.fill("#phone", "0987654321")
    desk.fill("#address", "Thôn Đông, xã Thử Nghiệm")
    with desk.expect_navigation(url=re.compile(r"/print/receipt")):
        desk.locator("#intake-form button.primary[type=submit]").click()
    found = re.search(r"/dossiers/([^/]+)/print/receipt", desk.url)
    assert found, desk.url
    code = found.group(1)
    desk.goto("/counter?n=1")
    expect(desk.locator("[data-linked]")).to_have_attribute("data-linked", code)

    # --- the fee, in cash, with change --------------------------------------------------------------
    desk.goto(f"/dossiers/{code}")
    fees = desk.locator("[data-fees]")
    expect(fees.locator('[data-fee="due"]')).to_have_text("16.000 ₫")
    form = fees.locator("form[data-take-payment]")
    form.locator('input[value="cash"]').check()
    form.locator("[data-received]").fill("20.000")
    expect(form.locator("[data-change]")).to_have_text("4.000 ₫")
    form.locator("[data-pay]").click()
    expect(desk.locator(".flash").nth(0)).to_have_text("Đã thu 16.000 ₫, biên lai số 0000001.")
    ui.shot(desk, "53-flow-paid")
    desk.goto(f"/dossiers/{code}")
    expect(desk.locator('[data-fees] [data-fee="due"]')).to_have_text("0 ₫")

    # --- the citizen rates the service on the counter's tablet --------------------------------------
    tablet = ui.page("canbo", tablet=True)
    tablet.goto("/rate")
    expect(tablet.locator("[data-rate]")).to_contain_text(code)
    tablet.locator('button[data-level="1"]').click()
    expect(tablet.locator("[data-thanks]")).to_be_visible()
    ui.shot(tablet, "54-flow-rating")

    desk.goto("/counter?n=1")
    desk.locator('[data-action="finish"]').click()
    expect(desk.locator("[data-current]")).to_have_count(0)

    # --- everything is tied together in the box -----------------------------------------------------
    box = open_box(ui.settings.data_dir)
    db = box.db()
    dossier_id = db.execute("SELECT dossier_id FROM dossiers WHERE code = ?", [code]).fetchone()[0]
    ticket = db.execute("SELECT id, state, dossier_id, officer FROM queue_tickets").fetchall()
    rating = db.execute("SELECT level, ticket, dossier_id, officer, source FROM ratings").fetchall()
    paid = db.execute("SELECT method, amount, status, collected_by FROM fee_payments").fetchall()
    kinds = [r[0] for r in db.execute("SELECT kind FROM dossier_events WHERE dossier_id = ?", [dossier_id])]
    box.close()
    assert [(t[1], t[2], t[3]) for t in ticket] == [("done", dossier_id, "canbo")]
    assert rating == [(1, ticket[0][0], dossier_id, "canbo", "tablet")]
    assert paid == [("cash", 16000, "approved", "canbo")]
    assert "fee_paid" in kinds
