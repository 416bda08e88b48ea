"""The officer's fee screens on a real box file, CSRF on, with the simulated printer and card terminal.

The app runs with edge.appliance.Devices and a print worker as `motcua serve` wires them
(sim://printer on TCP, sim://terminal on a pseudo-terminal); VietQR is set up in motcua.toml.
Every form is sent with its CSRF token, as a browser sends it; a refused form changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge import appliance, cashier, intake, printing
from edge.appliance import Devices
from edge.box import Box, open_box
from edge.config import Settings, update_config_file
from edge.users import User
from tests.conftest import PASSWORD, FakeClock, dossier_body
from ui.app import create_app

OFFICER = User("canbo", "officer")
OFFICER2 = User("canbo2", "officer")
LEADER = User("lanhdao", "leader")
VIETQR = {"vietqr_bank_bin": "970436", "vietqr_account": "0011001234567", "vietqr_account_name": "UBND XA THU NGHIEM"}


@pytest.fixture
def wired(
    box_settings: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Flask, Box, Devices]]:
    """The real app with CSRF on, its devices simulated, a print worker, VietQR set up."""
    monkeypatch.setattr(appliance, "TERMINAL_ANSWER_S", 1.0)
    update_config_file(
        box_settings.data_dir, {"receipt_printer": "sim://printer", "card_terminal": "sim://terminal", **VIETQR}
    )
    box = open_box(box_settings.data_dir, clock=clock)
    devices = Devices(box.settings)
    worker = printing.PrintWorker(box.db, devices, poll_s=0.05)
    worker.start()
    app = create_app(box, {"TESTING": True}, devices=devices, wake_printer=worker.wake)
    yield app, box, devices
    worker.stop()
    devices.close()
    box.close()


def token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login = client.get("/login").text
    sent = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token(login)})
    assert sent.status_code == 302
    return client


def send(client: FlaskClient, page_path: str, action: str, data: dict[str, str]) -> tuple[int, str]:
    """Open the page that holds the form, then send the form with that page's CSRF token."""
    page = client.get(page_path)
    assert page.status_code == 200, page_path
    sent = client.post(action, data={**data, "csrf_token": token(page.text)}, follow_redirects=True)
    return sent.status_code, sent.text


def flashes(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r'class="flash[^"]*"[^>]*>(.*?)</p>', page, re.S)]


def error_of(page: str, name: str) -> str:
    found = re.search(rf'data-error="{name}">(.*?)</p>', page, re.S)
    return found.group(1).strip() if found else ""


def form_id(page: str) -> str:
    found = re.search(r'name="form_id" value="([^"]+)"', page)
    assert found
    return found.group(1)


def new_code(box: Box) -> str:
    """Receive a dossier (1.001193: two lines of 8.000 ₫, 16.000 ₫ due)."""
    code: str = intake.receive_dossier(box, OFFICER, dossier_body())["code"]
    return code


def paid(box: Box) -> list[dict[str, Any]]:
    return cashier.list_payments(box.db())


def simulator(devices: Devices) -> Any:
    """Return the Concert terminal simulator the box talks to (started on first use)."""
    if devices.simulator("card_terminal") is None:
        devices.terminal().close()
    running = devices.simulator("card_terminal")
    assert running is not None
    return running.sim


def printed_pages(devices: Devices) -> list[Any]:
    running = devices.simulator("receipt_printer")
    return [] if running is None else list(running.sim.pages)  # type: ignore[attr-defined]


# -- the dossier page -------------------------------------------------------------------------------


def test_the_dossier_page_shows_the_fee_lines_totals_and_the_payment_form(wired: tuple[Flask, Box, Devices]) -> None:
    app, box, _ = wired
    code = new_code(box)
    page = signed_in(app, "canbo").get(f"/dossiers/{code}").text
    section = page[page.index('id="fees"') : page.index('id="h-counter"')]
    assert "Thu phí, lệ phí" in section and "Lệ phí đăng ký khai sinh" in section and "Phí cấp bản sao" in section
    assert re.search(r'data-fee="total">16\.000 ₫<', section) and re.search(
        r'data-fee="due"><strong>16\.000 ₫', section
    )
    assert 'name="amount" inputmode="numeric" maxlength="20" value="16000"' in section  # prefilled with what is due
    assert "data-adjust-fees" not in section  # only a leader adjusts
    assert 'href="#action-request-payment"' in section  # the lifecycle's request-payment action, linked
    assert "data-adjust-fees" in signed_in(app, "lanhdao").get(f"/dossiers/{code}").text
    assert "data-fees" not in signed_in(app, "kythuat").get("/").text


# -- cash ---------------------------------------------------------------------------------------------


def test_cash_gives_change_a_numbered_receipt_once_and_prints_it_once(wired: tuple[Flask, Box, Devices]) -> None:
    app, box, devices = wired
    code = new_code(box)
    client = signed_in(app, "canbo")
    page = client.get(f"/dossiers/{code}").text
    form = {"method": "cash", "amount": "16.000", "received": "20.000", "form_id": form_id(page)}
    for _ in range(2):  # a double click without JavaScript sends the form twice
        sent = client.post(
            f"/dossiers/{code}/payments", data={**form, "csrf_token": token(page)}, follow_redirects=True
        )
    assert sent.status_code == 200
    assert flashes(sent.text)[-2:] == ["Đã thu 16.000 ₫, biên lai số 0000001.", "Tiền trả lại khách: 4.000 ₫."]
    [payment] = paid(box)
    assert (payment["status"], payment["amount"], payment["change"]) == ("approved", 16_000, 4_000)
    assert 'data-outcome="approved"' in sent.text and "Khách đưa 20.000 ₫, trả lại 4.000 ₫." in sent.text
    assert re.search(r'data-fee="due"><strong>0 ₫', client.get(f"/dossiers/{code}").text)

    job = re.search(r'name="job_id" value="([^"]+)"', sent.text)
    assert job
    for _ in range(2):
        _, printed = send(client, f"/payments/{payment['id']}", f"/payments/{payment['id']}/print",
                               {"job_id": job[1]})  # fmt: skip
    assert "Đã in biên lai." in flashes(printed)
    [slip] = printed_pages(devices)
    assert slip.cut and slip.qr == []  # a paid receipt has no QR to scan
    [queued] = printing.list_jobs(box.db())
    assert queued["kind"] == "fee_receipt" and queued["fields"]["receipt_number"] == "0000001"
    assert queued["fields"]["total"] == 16_000 and len(queued["fields"]["lines"]) == 2

    a5 = client.get(f"/payments/{payment['id']}/receipt")
    assert a5.status_code == 200
    for field, value in (("form_number", "01BLP0-001"), ("series", "BL26"), ("receipt_number", "0000001"),
                         ("code", code), ("payer", "Nguyễn Văn An"), ("total", "16.000 ₫"), ("method", "Tiền mặt"),
                         ("paid_at", "25/11/2026 09:00")):  # fmt: skip
        assert re.search(rf'data-field="{field}">{re.escape(value)}<', a5.text), field
    assert "BIÊN LAI THU PHÍ, LỆ PHÍ" in a5.text and "NGƯỜI THU TIỀN" in a5.text and "ĐÃ HỦY" not in a5.text


def test_wrong_payment_input_says_why_by_its_field_and_stores_nothing(wired: tuple[Flask, Box, Devices]) -> None:
    app, box, _ = wired
    code = new_code(box)
    client = signed_in(app, "canbo")
    path = f"/dossiers/{code}/payments/new"
    for data, field, message in (
        ({"method": "cash", "amount": "năm mươi", "received": "50000"}, "amount", "Số tiền phải là số nguyên đồng"),
        ({"method": "cash", "amount": "-5", "received": "5"}, "amount", "Số tiền phải là số nguyên đồng"),
        ({"method": "cash", "amount": "", "received": "5"}, "amount", "Số tiền phải là số nguyên đồng từ 1"),
        ({"method": "cash", "amount": "20.000", "received": "20.000"}, "amount", "lớn hơn số còn phải nộp: 16.000 ₫"),
        ({"method": "cash", "amount": "16.000", "received": "10.000"}, "received", "Tiền khách đưa phải là"),
        ({"method": "cash", "amount": "16.000", "received": ""}, "received", "Tiền khách đưa phải là"),
        ({"method": "séc", "amount": "16.000"}, "method", "Cách thu phải là tiền mặt"),
    ):
        form = client.get(path).text
        sent = client.post(f"/dossiers/{code}/payments", data={**data, "form_id": form_id(form),
                                                               "csrf_token": token(form)})  # fmt: skip
        assert sent.status_code == 422, data
        assert message in error_of(sent.text, field), (data, error_of(sent.text, field), error_of(sent.text, "form"))
        assert f'value="{data["amount"]}"' in sent.text  # what was typed stays
    assert (
        client.post(f"/dossiers/{code}/payments", data={"method": "cash", "amount": "1", "received": "1"}).status_code
        == 400
    )
    tech = signed_in(app, "kythuat")
    assert tech.get(path).status_code == 403
    assert paid(box) == []


# -- VietQR ---------------------------------------------------------------------------------------


def test_vietqr_shows_the_qr_prints_it_then_is_confirmed_or_cancelled(wired: tuple[Flask, Box, Devices]) -> None:
    app, box, devices = wired
    code = new_code(box)
    client = signed_in(app, "canbo")
    _, page = send(client, f"/dossiers/{code}", f"/dossiers/{code}/payments",
                        {"method": "vietqr", "amount": "16.000", "form_id": "qr-1"})  # fmt: skip
    [payment] = paid(box)
    assert payment["status"] == "pending" and payment["vietqr_payload"].startswith("000201")
    assert 'data-outcome="pending"' in page and '<svg class="qr-code"' in page
    assert re.search(r"data-qr-amount><strong>16\.000 ₫<", page) and f"data-qr-code><strong>{code}<" in page
    assert "data-confirm" in page and "data-cancel-form" in page

    _, printed = send(client, f"/payments/{payment['id']}", f"/payments/{payment['id']}/print", {"job_id": "qr"})
    assert "Đã in mã VietQR." in flashes(printed)
    [slip] = printed_pages(devices)
    assert slip.qr == [payment["vietqr_payload"]]  # the citizen can scan the slip too

    _, done = send(client, f"/payments/{payment['id']}", f"/payments/{payment['id']}/confirm", {})
    assert "Đã thu 16.000 ₫, biên lai số 0000001." in flashes(done) and 'data-outcome="approved"' in done
    assert "<svg" not in done
    again = client.post(f"/payments/{payment['id']}/confirm", data={"csrf_token": token(done)})
    assert again.status_code == 409 and "Chỉ xác nhận được khoản chuyển khoản VietQR đang chờ" in again.text

    other = new_code(box)
    send(client, f"/dossiers/{other}", f"/dossiers/{other}/payments", {"method": "vietqr", "amount": "8000",
                                                                        "form_id": "qr-2"})  # fmt: skip
    waiting = paid(box)[-1]
    page = client.get(f"/payments/{waiting['id']}").text
    refused = client.post(f"/payments/{waiting['id']}/cancel", data={"reason": "x", "csrf_token": token(page)})
    assert refused.status_code == 422 and "Ghi rõ lý do hủy khoản thu" in error_of(refused.text, "cancel-reason")
    assert cashier.get_payment(box.db(), waiting["id"])["status"] == "pending"
    _, page = send(client, f"/payments/{waiting['id']}", f"/payments/{waiting['id']}/cancel",
                        {"reason": "Công dân đổi sang nộp tiền mặt"})  # fmt: skip
    assert "Đã hủy khoản thu." in flashes(page) and 'data-outcome="cancelled"' in page
    assert client.get(f"/payments/{waiting['id']}/receipt").status_code == 409  # no receipt was ever issued


# -- card --------------------------------------------------------------------------------------------


def test_card_goes_through_the_terminal_once_and_says_each_outcome(wired: tuple[Flask, Box, Devices]) -> None:
    app, box, devices = wired
    sim = simulator(devices)
    code = new_code(box)
    client = signed_in(app, "canbo")
    page = client.get(f"/dossiers/{code}/payments/new?method=card").text
    assert re.search(r'value="card" checked', page)
    form = {"method": "card", "amount": "16.000", "form_id": form_id(page), "csrf_token": token(page)}
    for _ in range(2):  # the second sending of the same form is the same payment
        sent = client.post(f"/dossiers/{code}/payments", data=form, follow_redirects=True)
    assert "Đã thu 16.000 ₫, biên lai số 0000001." in flashes(sent.text)
    assert sim.charged_total() == 16_000 and len(sim.transactions) == 1
    [payment] = paid(box)
    assert payment["method"] == "card" and payment["status"] == "approved"
    detail = client.get(f"/dossiers/{code}").text
    assert f'href="/payments/{payment["id"]}">Xem khoản thu' in detail  # the counter's card list points here

    declined = new_code(box)
    sim.mode = "decline"
    _, page = send(client, f"/dossiers/{declined}", f"/dossiers/{declined}/payments",
                        {"method": "card", "amount": "16000", "form_id": "card-2"})  # fmt: skip
    assert (
        "Máy POS báo giao dịch bị từ chối; chưa thu được tiền." in flashes(page) and 'data-outcome="declined"' in page
    )

    lost = new_code(box)
    sim.mode = "silent_mid"  # the terminal charges, its answer breaks off
    _, page = send(client, f"/dossiers/{lost}", f"/dossiers/{lost}/payments",
                        {"method": "card", "amount": "16000", "form_id": "card-3"})  # fmt: skip
    assert 'data-outcome="unknown"' in page and "Chưa rõ kết quả — cần đối soát" in page and "data-reconcile" in page
    sim.mode = "approve"
    unknown = paid(box)[-1]
    _, page = send(client, f"/payments/{unknown['id']}", f"/payments/{unknown['id']}/reconcile", {})
    assert 'data-outcome="approved"' in page and "biên lai số 0000002" in " ".join(flashes(page))
    assert sim.charged_total() == 32_000 and len(sim.transactions) == 3


# -- refund, cancel, adjust ------------------------------------------------------------------------


def test_refund_and_cancel_follow_the_roles_and_refuse_wrong_input(wired: tuple[Flask, Box, Devices]) -> None:
    app, box, _ = wired
    code = new_code(box)
    payment = cashier.take_payment(box, None, code, "cash", 16_000, OFFICER, received=16_000)
    officer, leader = signed_in(app, "canbo"), signed_in(app, "lanhdao")
    path = f"/payments/{payment['id']}"
    page = officer.get(path).text
    assert "data-refund-form" not in page and "data-cancel-form" not in page  # a leader's
    refused = officer.post(f"{path}/refund", data={"amount": "1000", "reason": "Thu thừa", "csrf_token": token(page)})
    assert refused.status_code == 403

    page = leader.get(path).text
    assert "data-refund-form" in page and "data-cancel-form" in page
    for data, field, message in (
        ({"amount": "16.001", "reason": "Thu thừa tiền"}, "refund-amount", "lớn hơn số đã thu còn lại"),
        ({"amount": "mười", "reason": "Thu thừa tiền"}, "refund-amount", "Số tiền phải là số nguyên đồng"),
        ({"amount": "1000", "reason": ""}, "refund-reason", "Ghi rõ lý do hoàn tiền"),
    ):
        sent = leader.post(f"{path}/refund", data={**data, "csrf_token": token(page)})
        assert sent.status_code == 422 and message in error_of(sent.text, field), (data, sent.text[-500:])
    assert cashier.get_payment(box.db(), payment["id"])["refunded"] == 0
    _, page = send(leader, path, f"{path}/refund", {"amount": "6.000", "reason": "Miễn phí bản sao"})
    assert "Đã hoàn 6.000 ₫ cho công dân." in flashes(page) and re.search(r"data-refunded>6\.000 ₫<", page)
    assert "data-cancel-form" not in page  # part of it was given back: no cancelling any more

    other = cashier.take_payment(box, None, new_code(box), "cash", 16_000, OFFICER, received=20_000)
    path = f"/payments/{other['id']}"
    sent = leader.post(f"{path}/cancel", data={"reason": "", "csrf_token": token(leader.get(path).text)})
    assert sent.status_code == 422 and "Ghi rõ lý do hủy khoản thu" in error_of(sent.text, "cancel-reason")
    assert cashier.get_payment(box.db(), other["id"])["status"] == "approved"
    _, page = send(leader, path, f"{path}/cancel", {"reason": "Thu nhầm hồ sơ"})
    assert 'data-outcome="cancelled"' in page
    a5 = leader.get(f"{path}/receipt").text
    assert 'data-field="void">ĐÃ HỦY<' in a5 and 'data-field="receipt_number">0000002<' in a5
    assert "Thu nhầm hồ sơ" in a5


def test_a_leader_adjusts_the_fee_lines_with_a_reason(wired: tuple[Flask, Box, Devices]) -> None:
    app, box, _ = wired
    code = new_code(box)
    path = f"/dossiers/{code}/fees/adjust"
    assert signed_in(app, "canbo").get(path).status_code == 403
    leader = signed_in(app, "lanhdao")
    page = leader.get(path).text
    rows = {"name_0": "Lệ phí đăng ký khai sinh", "kind_0": "charge", "amount_0": "8.000",
            "name_1": "Phí cấp bản sao", "kind_1": "fee", "amount_1": "tám nghìn",
            "name_2": "", "kind_2": "fee", "amount_2": "", "name_3": "", "kind_3": "fee", "amount_3": ""}  # fmt: skip
    sent = leader.post(path, data={**rows, "reason": "Không cấp bản sao", "csrf_token": token(page)})
    assert sent.status_code == 422 and "Số tiền phải là số nguyên đồng" in error_of(sent.text, "amount_1")
    sent = leader.post(path, data={**rows, "amount_1": "0", "reason": "", "csrf_token": token(page)})
    assert sent.status_code == 422 and "Ghi rõ lý do điều chỉnh phí" in error_of(sent.text, "reason")
    assert re.search(r'data-fee="total">16\.000 ₫<', leader.get(f"/dossiers/{code}").text)
    _, done = send(leader, path, path, {**rows, "amount_1": "0", "reason": "Công dân không xin bản sao"})
    assert "Đã điều chỉnh phí, lệ phí của hồ sơ." in flashes(done)
    assert re.search(r'data-fee="total">8\.000 ₫<', done) and "Công dân không xin bản sao" in done
