"""XSS attempts in the text fields: refused or stored, they are always shown as text and never run.

A payload that ran would open an alert: the `ui` fixture fails the test on any dialog, console error
or uncaught exception. Each check also looks for the payload's elements in the DOM and for the
text itself, shown literally.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tests.browser.conftest import UI, png
from tests.conftest import dossier_body

if TYPE_CHECKING:
    from playwright.sync_api import Page

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = '"><script>alert(1)</script>'
PAYLOADS = (IMG, SCRIPT)
# Text the validation accepts ("<" before a space, quotes, ">"): stored, printed and shown as text.
ACCEPTED = """Ghi chú: 1 < 2 & "x" > 'y' onmouseover="alert(1)" < img src=x onerror=alert(1)>"""


def inert(page: Page) -> None:
    """Fail if the page holds an element or handler a payload would have made."""
    page.wait_for_load_state("load")  # an <img src=x> would have failed to load by now
    made = page.evaluate(
        """() => ({
            img: document.querySelectorAll('img[src="x"]').length,
            handlers: document.querySelectorAll('[onerror], [onmouseover], [onload]').length,
            scripts: [...document.scripts].filter((s) => s.textContent.includes('alert(1)')).length,
        })"""
    )
    assert made == {"img": 0, "handlers": 0, "scripts": 0}, made


def test_login_form_shows_a_payload_as_text(ui: UI, expect: Any) -> None:
    # Only the answer to the login form itself may be an error status; a payload's <img src=x> may not.
    ui.allow_console(r"status of 400 \(BAD REQUEST\) \[\S*/login(\?next=\S*)?\]$")
    page = ui.page(user=None)
    page.goto("/login?next=" + quote(SCRIPT))
    inert(page)
    page.fill("#username", IMG)
    page.fill("#password", "x")
    page.press("#password", "Enter")
    expect(page.locator("[role=alert]")).to_contain_text("Sai tên đăng nhập hoặc mật khẩu")
    expect(page.locator("#username")).to_have_value(IMG)
    inert(page)
    ui.login(page, "canbo")  # the hostile ?next= is not followed off the site
    assert page.url.startswith(ui.url), page.url
    ui.check()


def test_intake_refuses_markup_and_shows_it_inert(ui: UI, expect: Any) -> None:
    ui.allow_console(r"status of 422 \(UNPROCESSABLE ENTITY\) \[\S*/intake\]$")
    page = ui.page()
    page.goto("/intake?q=" + quote(IMG))
    expect(page.locator("#proc-q")).to_have_value(IMG)
    expect(page.locator("#proc-count")).to_contain_text("Không có thủ tục nào khớp")
    inert(page)

    page.goto("/intake?procedure=1.001193")
    page.click("#tick-all")
    page.fill("#id_number", "001099012345")
    page.fill("#full_name", IMG)  # a name is letters only: refused
    page.fill("#address", SCRIPT)  # an address allows , / - ( ) ' # : . only: refused
    page.fill("#notes", SCRIPT)  # free text refuses markup ("<" before a letter or /)
    page.fill("#extra_name", IMG)
    with page.expect_navigation():
        page.click(".intake-savebar button[type=submit]")
    expect(page.locator("#error-summary")).to_be_visible()
    for selector in ("#full_name", "#address", "#notes", "#extra_name"):
        expect(page.locator(f"{selector}-error")).to_be_visible()
    expect(page.locator("#full_name")).to_have_value(IMG)
    expect(page.locator("#address")).to_have_value(SCRIPT)
    expect(page.locator("#notes")).to_have_value(SCRIPT)
    expect(page.locator("#extra_name")).to_have_value(IMG)
    inert(page)

    # What the rules accept is stored, then shown as text on the dossier page and the receipt.
    page.fill("#full_name", "H'Hen Niê")
    page.fill("#address", "Buôn Ko'Sier (thôn 3), xã Thử Nghiệm")
    page.fill("#notes", ACCEPTED)
    page.fill("#extra_name", ACCEPTED)
    page.set_input_files("#scans", files=[{"name": IMG + ".png", "mimeType": "image/png", "buffer": png()}])
    with page.expect_navigation(url=re.compile(r"/print/receipt")):
        page.click(".intake-savebar button[type=submit]")
    code = page.url.split("/dossiers/")[1].split("/")[0]
    expect(page.locator("[data-field=applicant]")).to_have_text("H'Hen Niê")
    expect(page.locator(".paper")).to_contain_text(ACCEPTED)
    inert(page)

    page.goto(f"/dossiers/{code}")
    expect(page.locator("#h-notes + ul")).to_contain_text(ACCEPTED)
    expect(page.locator("#h-documents + table")).to_contain_text(ACCEPTED)
    expect(page.locator(".attachments .name")).to_have_count(1)  # the file name is cleaned, shown as text
    assert "<" not in page.locator(".attachments .name").inner_text()
    inert(page)
    ui.check()


def test_dossier_actions_and_search_show_payloads_as_text(ui: UI, expect: Any) -> None:
    ui.allow_console(r"status of 422 \(UNPROCESSABLE ENTITY\) \[\S*/actions/request-supplement\]$")
    ui.allow_console(r"status of 404 \(NOT FOUND\) \[\S*/dossiers/%(3C|22)\S*\]$")
    created = ui.api("POST", "/dossiers", json=dossier_body())
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    page = ui.page()

    page.goto(f"/dossiers/{code}")
    details = page.locator("#action-request-supplement")
    details.locator("summary").click()
    details.locator("textarea[name=reason]").fill(IMG)
    details.locator("#doc_name_0").fill(SCRIPT)
    with page.expect_navigation():
        details.locator("button[type=submit]").last.click()
    details = page.locator("#action-request-supplement")
    expect(details).to_have_attribute("open", "")
    expect(details.locator("textarea[name=reason]")).to_have_value(IMG)
    expect(details.locator(".field-error").first).to_be_visible()
    inert(page)

    details.locator("textarea[name=reason]").fill(ACCEPTED)
    details.locator("#doc_name_0").fill("Sổ hộ khẩu (bản sao) > 1 bản")
    with page.expect_navigation():
        details.locator("button[type=submit]").last.click()
    expect(page.locator("#h-supplement + dl")).to_contain_text(ACCEPTED)
    expect(page.locator("#timeline")).to_contain_text(ACCEPTED)
    inert(page)
    page.goto(f"/dossiers/{code}/print/supplement")
    expect(page.locator(".paper")).to_contain_text(ACCEPTED)
    inert(page)

    for payload in PAYLOADS:
        page.goto("/dossiers?q=" + quote(payload))
        expect(page.locator("#q")).to_have_value(payload)
        inert(page)
        page.goto("/dossiers/" + quote(payload, safe=""))  # an unknown code: the not-found page
        expect(page.locator("h1")).to_contain_text("Không tìm thấy")
        inert(page)
    ui.check()
