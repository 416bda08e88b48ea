"""The queue in Chromium: a citizen takes a number at the kiosk, the display board shows the call live."""

from __future__ import annotations

from typing import Any

from edge.box import open_box
from edge.users import add_user
from tests.browser.conftest import UI
from tests.conftest import PASSWORD


def test_kiosk_ticket_then_the_display_board_shows_the_call(ui: UI, expect: Any) -> None:
    box = open_box(ui.settings.data_dir)
    add_user(box.db(), "kiosk1", "kiosk", PASSWORD, "Kiosk sảnh")
    box.close()
    kiosk = ui.page("kiosk1", tablet=True)
    kiosk.goto("/kiosk")
    kiosk.locator("input[name=priority][value=elderly]").check()
    kiosk.locator('[data-service="HT"]').click()
    expect(kiosk.locator("[data-ticket]")).to_have_attribute("data-ticket", "A001")
    expect(kiosk.locator("[data-print-state]")).to_contain_text("xin ghi nhớ số")  # no ticket printer set up
    ui.shot(kiosk, "40-kiosk-ticket")

    board = ui.page("kiosk1")
    board.goto("/display")
    expect(board.locator("[data-link-state]")).to_have_text("Đã kết nối")
    called = ui.api("POST", "/counters/2/call-next").json()
    assert called["number"] == "A001"
    expect(board.locator('[data-counter="2"] [data-number]')).to_have_text("A001")
    expect(board.locator("[data-recent] li").first).to_contain_text("A001")
    expect(board.locator("[data-display]")).to_have_attribute("data-last-call", "A001@2")
    ui.shot(board, "41-display-board")
