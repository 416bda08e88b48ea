"""The kiosk page: a ticket is issued, printed on the ticket printer, and shown even when the printer fails."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge import printing, queue
from edge.appliance import Devices
from edge.box import Box, open_box
from edge.config import Settings, update_config_file
from edge.users import add_user
from tests.conftest import PASSWORD, FakeClock
from ui.app import create_app


@pytest.fixture
def kiosk_app(box_settings: Settings, clock: FakeClock) -> Iterator[tuple[Flask, Box, Devices]]:
    update_config_file(box_settings.data_dir, {"ticket_printer": "sim://printer"})
    box = open_box(box_settings.data_dir, clock=clock)
    add_user(box.db(), "kiosk1", "kiosk", PASSWORD, "Kiosk sảnh")
    devices = Devices(box.settings)
    worker = printing.PrintWorker(box.db, devices, poll_s=0.05)
    worker.start()
    yield (
        create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True}, devices=devices, wake_printer=worker.wake),
        box,
        devices,
    )
    worker.stop()
    devices.close()
    box.close()


def kiosk(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", data={"username": "kiosk1", "password": PASSWORD}).status_code == 302
    return client


def test_the_kiosk_account_sees_only_the_kiosk(kiosk_app: tuple[Flask, Box, Devices]) -> None:
    app, _, _ = kiosk_app
    client = kiosk(app)
    assert client.get("/").headers["Location"] == "/kiosk"
    page = client.get("/kiosk").text
    assert page.count("data-service=") == 4 and "Người cao tuổi" in page and "Hộ tịch" in page
    for path in ("/dossiers", "/intake", "/devices", "/sync", "/reports"):
        assert client.get(path).status_code == 403, path


def test_a_pressed_button_prints_a_ticket_with_the_number(kiosk_app: tuple[Flask, Box, Devices]) -> None:
    app, box, devices = kiosk_app
    client = kiosk(app)
    first = client.post("/kiosk/ticket", data={"service": "HT"})
    assert first.status_code == 201 and 'data-ticket="A001"' in first.text and 'data-printed="1"' in first.text
    second = client.post("/kiosk/ticket", data={"service": "HT", "priority": "pregnant"})
    assert 'data-ticket="A002"' in second.text and "Mời ông/bà nhận phiếu." in second.text
    running = devices.simulator("ticket_printer")
    assert running is not None
    pages = running.sim.pages  # type: ignore[attr-defined]
    assert len(pages) == 2 and pages[0].png_path is not None
    assert [t["priority"] for t in queue.waiting(box.db(), box.now())] == ["pregnant", None]


def test_with_the_printer_out_of_paper_the_ticket_is_still_issued_and_shown(
    kiosk_app: tuple[Flask, Box, Devices],
) -> None:
    app, box, devices = kiosk_app
    client = kiosk(app)
    client.post("/kiosk/ticket", data={"service": "CT"})  # starts the simulated printer
    running = devices.simulator("ticket_printer")
    assert running is not None
    running.sim.paper_out = True  # type: ignore[attr-defined]
    page = client.post("/kiosk/ticket", data={"service": "CT"})
    assert page.status_code == 201 and 'data-ticket="B002"' in page.text and 'data-printed="0"' in page.text
    assert "xin ghi nhớ số" in page.text and "hết giấy" in page.text
    assert [t["number"] for t in queue.waiting(box.db(), box.now())] == ["B001", "B002"]
    job = printing.list_jobs(box.db(), 1)[0]
    assert (job["state"], job["fields"]["number"]) == ("waiting", "B002")  # it prints when paper is back


def test_a_wrong_service_says_so_and_takes_no_number(kiosk_app: tuple[Flask, Box, Devices]) -> None:
    app, box, _ = kiosk_app
    page = kiosk(app).post("/kiosk/ticket", data={"service": "ZZ"})
    assert page.status_code == 422 and re.search(r"Không có dịch vụ “ZZ”", page.text)
    assert queue.waiting(box.db(), box.now()) == []


def test_a_citizen_looks_up_a_dossier_by_code_and_phone_or_by_the_receipt_qr(
    kiosk_app: tuple[Flask, Box, Devices],
) -> None:
    from edge import actions, intake
    from edge.users import get_user
    from tests.conftest import dossier_body

    app, box, _ = kiosk_app
    officer = get_user(box.db(), "canbo")
    code = intake.receive_dossier(box, officer, dossier_body())["code"]  # phone 0912345678
    missing = [{"name": "Bản sao CCCD", "kind": "photocopy", "quantity": 1}]
    actions.act(box, officer, code, "request-supplement", {"reason": "Thiếu bản sao", "missing_documents": missing})
    client = kiosk(app)
    assert "Tra cứu hồ sơ" in client.get("/kiosk/lookup").text
    found = client.post("/kiosk/lookup", data={"code": code, "phone_last4": "5678"})
    assert found.status_code == 200 and f'data-lookup="{code}"' in found.text
    assert "Bản sao CCCD" in found.text and "0912345678" not in found.text and "Nguyễn" not in found.text
    scanned = client.post("/kiosk/lookup", data={"code": code, "mode": "scan"})
    assert f'data-lookup="{code}"' in scanned.text
    for wrong in ({"code": code, "phone_last4": "1111"}, {"code": code + "9", "phone_last4": "5678"}):
        refused = client.post("/kiosk/lookup", data=wrong)
        assert refused.status_code == 404 and "Không tìm thấy hồ sơ với mã và số điện thoại này." in refused.text
    bad = client.post("/kiosk/lookup", data={"code": code, "phone_last4": "12a4"})
    assert bad.status_code == 422 and "4 số cuối" in bad.text
