"""The device screens with the real wiring: the technician's Devices page and the officer's counter devices.

The app runs with edge.appliance.Devices and a print worker, as `motcua serve` wires them, on
simulated devices (sim://printer on TCP, sim://terminal on a pseudo-terminal).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge import cashier, intake, payments, printing, ratings
from edge.appliance import Devices
from edge.box import Box, open_box
from edge.config import Settings, update_config_file
from edge.users import User
from tests.conftest import PASSWORD, FakeClock, dossier_body
from ui.app import create_app


@pytest.fixture
def wired(box_settings: Settings, clock: FakeClock) -> Iterator[tuple[Flask, Box, Devices]]:
    update_config_file(box_settings.data_dir, {"receipt_printer": "sim://printer", "card_terminal": "sim://terminal"})
    box = open_box(box_settings.data_dir, clock=clock)
    devices = Devices(box.settings)
    worker = printing.PrintWorker(box.db, devices, poll_s=0.05)
    worker.start()
    app = create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True}, devices=devices, wake_printer=worker.wake)
    yield app, box, devices
    worker.stop()
    devices.close()
    box.close()


def login(client: FlaskClient, username: str) -> None:
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302


def flashes(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r'class="flash[^"]*"[^>]*>(.*?)</', page, re.S)]


def test_only_technicians_and_admins_see_the_devices_page(wired: tuple[Flask, Box, Devices]) -> None:
    app, _, _ = wired
    officer = app.test_client()
    login(officer, "canbo")
    assert officer.get("/devices").status_code == 403
    tech = app.test_client()
    login(tech, "kythuat")
    page = tech.get("/devices").text
    assert 'data-role="receipt_printer" data-state="unknown"' in page
    assert 'data-role="rating_keypad" data-state="none"' in page


def test_the_technician_self_tests_the_printer_and_sees_the_page_it_printed(
    wired: tuple[Flask, Box, Devices],
) -> None:
    app, box, _ = wired
    tech = app.test_client()
    login(tech, "kythuat")
    page = tech.post("/devices/test/receipt_printer", follow_redirects=True).text
    assert "Đã in trang thử." in flashes(page)
    assert 'data-role="receipt_printer" data-state="ok"' in page
    [job] = printing.list_jobs(box.db())
    assert job["kind"] == "test_page" and job["pages"]
    png = tech.get(f"/devices/pages/receipt_printer/{job['pages'][0]}")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    png.close()
    assert tech.get("/devices/pages/receipt_printer/..%2Fmotcua.toml").status_code == 404


def test_the_terminal_self_test_sells_and_voids_1000_dong_on_the_simulator(
    wired: tuple[Flask, Box, Devices],
) -> None:
    app, box, devices = wired
    tech = app.test_client()
    login(tech, "kythuat")
    page = tech.post("/devices/test/card_terminal", follow_redirects=True).text
    assert any(f.startswith("Máy POS trả lời") for f in flashes(page)), flashes(page)
    assert any("Đã hủy giao dịch" in f for f in flashes(page)), flashes(page)
    [payment] = payments.list_payments(box.db())
    assert (payment["amount"], payment["state"]) == (1000, "voided")
    running = devices.simulator("card_terminal")
    assert running is not None and running.sim.charged_total() == 0  # type: ignore[attr-defined]


def test_device_addresses_are_checked_before_they_are_saved(wired: tuple[Flask, Box, Devices]) -> None:
    app, box, _ = wired
    tech = app.test_client()
    login(tech, "kythuat")
    before = (box.settings.data_dir / "motcua.toml").read_text(encoding="utf-8")
    form = {"receipt_printer": "ftp://printer", "card_terminal": "sim://terminal"}
    page = tech.post("/devices/config", data=form, follow_redirects=True).text
    assert any("không dùng được" in f for f in flashes(page))
    assert (box.settings.data_dir / "motcua.toml").read_text(encoding="utf-8") == before
    form = {"receipt_printer": "tcp://192.0.2.7:9100", "receipt_printer_profile": "generic-58",
            "ticket_printer": "", "card_terminal": "sim://terminal", "rating_keypad": ""}  # fmt: skip
    page = tech.post("/devices/config", data=form, follow_redirects=True).text
    assert "Đã lưu cấu hình thiết bị." in flashes(page)
    reloaded = open_box(box.settings.data_dir).settings
    assert (reloaded.receipt_printer, reloaded.receipt_printer_profile) == ("tcp://192.0.2.7:9100", "generic-58")
    assert reloaded.name == box.settings.name  # the other sections are kept


def test_the_officer_prints_the_receipt_once_however_often_the_form_is_sent(
    wired: tuple[Flask, Box, Devices], officer: User
) -> None:
    app, box, devices = wired
    code = intake.receive_dossier(box, officer, dossier_body())["code"]
    client = app.test_client()
    login(client, "canbo")
    page = client.get(f"/dossiers/{code}").text
    job_id = re.search(r'name="job_id" value="([^"]+)"', page)
    assert job_id and "data-print-receipt" in page
    for _ in range(2):  # a double click sends the form twice
        page = client.post(f"/dossiers/{code}/print-receipt", data={"job_id": job_id[1]}, follow_redirects=True).text
    assert "Đã in giấy tiếp nhận." in flashes(page)
    running = devices.simulator("receipt_printer")
    assert running is not None
    pages = running.sim.pages  # type: ignore[attr-defined]
    assert len(pages) == 1 and pages[0].qr == [code]
    [job] = printing.list_jobs(box.db())
    assert job["state"] == "printed" and job["pages"] == [Path(pages[0].png_path).name]


def test_the_officer_takes_a_card_payment_and_a_leader_voids_it(
    wired: tuple[Flask, Box, Devices], officer: User
) -> None:
    app, box, devices = wired
    code = intake.receive_dossier(box, officer, dossier_body())["code"]  # 16.000 ₫ due
    client = signed_in_card(app, "canbo")
    page = client.post(f"/dossiers/{code}/payments", data={"method": "card", "amount": "16.000"}, follow_redirects=True)
    assert "Đã thu 16.000 ₫, biên lai số 0000001." in flashes(page.text)
    [payment] = payments.list_payments(box.db())
    page = client.get(f"/dossiers/{code}")
    assert payment["amount"] == 16_000 and 'data-payment-state="approved"' in page.text
    running = devices.simulator("card_terminal")
    assert running is not None and running.sim.charged_total() == 16_000  # type: ignore[attr-defined]
    voided = client.post(f"/dossiers/{code}/card-payments/{payment['id']}/void", follow_redirects=True).text
    assert any("hủy ở trang khoản thu" in f for f in flashes(voided))  # the receipt must be voided with it
    assert running.sim.charged_total() == 16_000  # type: ignore[attr-defined]
    [fee] = cashier.list_payments(box.db())
    leader = signed_in_card(app, "lanhdao")
    leader.post(f"/payments/{fee['id']}/cancel", data={"reason": "Quẹt nhầm thẻ"})
    assert 'data-payment-state="voided"' in leader.get(f"/dossiers/{code}").text
    assert running.sim.charged_total() == 0  # type: ignore[attr-defined]
    page = client.post(f"/dossiers/{code}/payments", data={"method": "card", "amount": "năm mươi"})
    assert page.status_code == 422 and "Số tiền phải là số nguyên đồng" in page.text


def signed_in_card(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login(client, username)
    return client


def test_asking_for_a_rating_ties_the_keypad_to_this_dossier(wired: tuple[Flask, Box, Devices], officer: User) -> None:
    app, box, _ = wired
    dossier = intake.receive_dossier(box, officer, dossier_body())
    client = app.test_client()
    login(client, "canbo")
    client.post(f"/dossiers/{dossier['code']}/rating")
    rating = ratings.record_rating(box.db(), box.settings.keypad_counter, 1, 5, "keypad")
    assert (rating["dossier_id"], rating["officer"], rating["label_vi"]) == (dossier["dossier_id"], "canbo",
                                                                           "Rất hài lòng")  # fmt: skip


def test_a_leader_settles_by_hand_what_the_terminal_cannot_tell(
    wired: tuple[Flask, Box, Devices], officer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    import edge.appliance

    monkeypatch.setattr(edge.appliance, "TERMINAL_ANSWER_S", 1.0)
    app, box, devices = wired
    code = intake.receive_dossier(box, officer, dossier_body())["code"]
    devices.terminal().close()  # starts the simulator, to set it up like a real Concert terminal
    running = devices.simulator("card_terminal")
    assert running is not None
    running.sim.supports_last_transaction = False  # type: ignore[attr-defined]
    running.sim.mode = "timeout"  # type: ignore[attr-defined]  # charges, never answers
    client = app.test_client()
    login(client, "canbo")
    client.post(f"/dossiers/{code}/payments", data={"method": "card", "amount": "8000"})
    page = client.get(f"/dossiers/{code}").text
    assert 'data-payment-state="unknown"' in page and "data-settle" not in page  # an officer cannot settle
    running.sim.mode = "approve"  # type: ignore[attr-defined]
    page = client.post(f"/dossiers/{code}/payments", data={"method": "card", "amount": "8000"},
                       follow_redirects=True).text  # fmt: skip
    assert any("chưa rõ kết quả" in f for f in flashes(page))  # blocked: no second charge
    assert running.sim.charged_total() == 8_000  # type: ignore[attr-defined]
    [payment] = payments.list_payments(box.db())
    leader = app.test_client()
    login(leader, "lanhdao")
    form = {"outcome": "approved", "note": "Nhật ký máy POS: giao dịch 8.000 đ lúc 09:00"}
    page = leader.post(f"/dossiers/{code}/card-payments/{payment['id']}/settle", data=form, follow_redirects=True).text
    assert 'data-payment-state="approved"' in page
    [fee] = cashier.list_payments(box.db())  # the fee payment follows: paid, with its receipt
    assert (fee["status"], fee["receipt_number"]) == ("approved", "0000001")
    assert client.post(f"/dossiers/{code}/card-payments/{payment['id']}/settle", data=form).status_code == 403
