"""Ratings in Chromium: the admin switches to 3 levels, the tablet shows 3 buttons, the citizen answers the
nine indicators with touches, and the leader reads the satisfaction page."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import UI
from tests.conftest import dossier_body


def test_three_levels_the_nine_indicators_and_the_satisfaction_page(ui: UI, expect: Any) -> None:
    admin = ui.page("quantri")
    admin.goto("/admin")
    admin.select_option("#rating-scale", "3")
    admin.locator("[data-rating-scale] button[type=submit]").click()
    expect(admin.locator(".flash").first).to_have_text("Đã đặt thang đánh giá 3 mức.")
    expect(admin.locator("[data-rating-scale]")).to_have_attribute("data-rating-scale", "3")

    created = ui.api("POST", "/dossiers", json=dossier_body())
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    officer = ui.page("canbo")
    officer.goto(f"/dossiers/{code}")
    officer.locator("[data-ask-rating]").click()

    tablet = ui.page("canbo", tablet=True)
    tablet.goto("/rate")
    expect(tablet.locator("[data-level]")).to_have_count(3)
    tablet.locator('button[data-level="1"]').tap()
    expect(tablet.locator("[data-thanks]")).to_be_visible()
    ui.shot(tablet, "33-rating-tablet-3-levels")
    tablet.locator("[data-evaluate]").tap()
    expect(tablet.locator("fieldset[data-indicator]")).to_have_count(9)
    for index in range(9):  # the best answer everywhere but the officers' attitude
        fieldset = tablet.locator("fieldset[data-indicator]").nth(index)
        fieldset.locator("label").nth(1 if index == 6 else 0).tap()
    ui.shot(tablet, "34-evaluation-form")
    tablet.locator(".eval-send button").tap()
    expect(tablet.locator("[data-evaluated]")).to_have_attribute("data-evaluated", "17")

    leader = ui.page("lanhdao")
    leader.goto("/reports")
    leader.locator("[data-satisfaction-link]").click()
    expect(leader.locator('table[data-group="officer"] tr[data-key="canbo"] [data-col="rate"]')).to_have_text("100,0 %")
    expect(leader.locator('tr[data-indicator="attitude"] [data-col="mean"]')).to_have_text("1,00")
    ui.shot(leader, "35-satisfaction")
    with leader.expect_download() as download:
        leader.locator('[data-export="xlsx"]').click()
    assert download.value.suggested_filename.startswith("hài-lòng-") or download.value.suggested_filename.startswith(
        "hai-long-"
    )
