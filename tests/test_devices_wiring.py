"""The box's device wiring end to end: edge.appliance.Devices driving the REAL simulators.

Print jobs go through the queue to the ESC/POS simulator on a real TCP socket (sim://printer)
or a real pseudo-terminal (serial://), card payments through the Concert simulator on a pty
(sim://terminal or serial://), keypad presses from the keypad simulator on a pty. Faults are set
on the simulators and on their links, never on the code under test; money is checked on the
simulated terminal's own ledger (`charged_total`), paper on the simulated printer's own pages.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devices.keypad import KeypadSimulator, serve_keypad
from devices.printer import transport
from devices.printer.simulator import PrinterPtyServer, PrinterSimulator, serve_printer
from devices.simio import PtyServer
from devices.simulate import Running
from devices.terminal.simulator import TerminalSimulator, serve_terminal
from devices.vietqr import check_payload, vietqr_payload
from edge import appliance, devicehealth, payments, printing, ratings
from edge.appliance import Devices, prints_dir
from edge.box import Box, init_box
from edge.calendar import TZ
from edge.config import Settings, load_settings, update_config_file
from edge.errors import ConflictError
from edge.ports import Document, NotReady
from edge.store.db import write
from tests.conftest import AGENCY

OFFICE = "UBND xã Thử Nghiệm"
CODE = "000.17.22.H56-261125-0001"
RECEIPT = Document(
    "dossier_receipt",
    {
        "office": OFFICE,
        "code": CODE,
        "procedure": "Đăng ký khai sinh",
        "applicant": "Nguyễn Văn An",
        "received_at": "25/11/2026 09:00",
        "due_at": "26/11/2026 09:00",
    },
)
TICKET = Document(
    "ticket", {"office": OFFICE, "number": "A012", "service": "Hộ tịch", "issued_at": "25/11/2026 09:05", "ahead": 3}
)
VIETQR = vietqr_payload("970436", "0011001234567", amount=58000, purpose="Phí hồ sơ")
FEE = Document(
    "fee_receipt",
    {
        "office": OFFICE,
        "form_number": "01BLP2-001",
        "series": "AA/26P",
        "receipt_number": "0000123",
        "dossier_code": CODE,
        "lines": [
            {"name": "Lệ phí đăng ký khai sinh", "amount": 8000},
            {"name": "Phí sao y bản chính", "amount": 50000},
        ],
        "total": 58000,
        "method": "transfer",
        "paid_at": "25/11/2026 09:10",
        "cashier": "Trần Thị Bình",
        "vietqr": VIETQR,
    },
)


# -- helpers ---------------------------------------------------------------------------------------


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll check() until it holds or the time is up; return whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def later(minutes: int) -> datetime:
    """A moment `minutes` from now: waiting jobs are due again by then."""
    return datetime.now(TZ) + timedelta(minutes=minutes)


def configure(box: Box, **urls: str) -> Devices:
    """Set device addresses in the box's motcua.toml and return the box's Devices for them."""
    update_config_file(box.settings.data_dir, urls)
    return Devices(load_settings(box.settings.data_dir))


def health_of(box: Box, devices: Devices, role: str) -> dict[str, Any]:
    return next(h for h in devicehealth.health(box.db(), devices.urls()) if h["role"] == role)


def approved_total(box: Box) -> int:
    """The đồng edge says were charged: its approved card payments."""
    return sum(p["amount"] for p in payments.list_payments(box.db(), 1000, states=("approved",)))


def printer_sim(devices: Devices, role: str = "receipt_printer") -> tuple[Running, PrinterSimulator]:
    """The role's simulated printer (started by opening the printer once)."""
    if devices.simulator(role) is None:
        devices.printer(role).close()
    running = devices.simulator(role)
    assert running is not None and isinstance(running.sim, PrinterSimulator)
    return running, running.sim


def terminal_sim(devices: Devices) -> tuple[Running, TerminalSimulator]:
    """The simulated card terminal (started by opening the terminal once)."""
    if devices.simulator("card_terminal") is None:
        devices.terminal().close()
    running = devices.simulator("card_terminal")
    assert running is not None and isinstance(running.sim, TerminalSimulator)
    return running, running.sim


def pay_in_thread(
    box: Box, devices: Devices, amount: int, now: datetime | None = None
) -> tuple[threading.Thread, dict[str, Any]]:
    """Start pay_by_card on its own thread (its own DB connection); the result lands in the dict."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["payment"] = payments.pay_by_card(box.db(), devices, amount, "canbo", now=now)
        except Exception as err:  # handed to the test, which asserts on it
            out["error"] = err
        finally:
            box.close()  # this thread's connection

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


@pytest.fixture
def box_settings(tmp_path: Path) -> Settings:
    """A bare box (no catalogue, no users: devices need neither); conftest's `box` opens it."""
    return init_box(tmp_path / "box", "00001", AGENCY, OFFICE)


@pytest.fixture(autouse=True)
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal answers within 1 s here, and a printer's status within 1 s (loopback, simulators)."""
    monkeypatch.setattr(appliance, "TERMINAL_ANSWER_S", 1.0)
    monkeypatch.setattr(transport, "open_printer", functools.partial(transport.open_printer, timeout=1.0))


@pytest.fixture
def sim_devices(box: Box) -> Iterator[Devices]:
    """The box with both printers and the card terminal on sim:// addresses."""
    devices = configure(
        box, receipt_printer="sim://printer", ticket_printer="sim://printer", card_terminal="sim://terminal"
    )
    yield devices
    devices.close()


# -- printing --------------------------------------------------------------------------------------


def test_receipt_ticket_and_fee_receipt_print_on_the_simulated_printers(box: Box, sim_devices: Devices) -> None:
    db = box.db()
    receipt = printing.enqueue(db, "receipt_printer", RECEIPT, "canbo")
    fee = printing.enqueue(db, "receipt_printer", FEE, "canbo")
    ticket = printing.enqueue(db, "ticket_printer", TICKET, "kiosk")
    processed = 0
    while printing.process_one(db, sim_devices):
        processed += 1
    assert processed == 3

    _, receipt_sim = printer_sim(sim_devices, "receipt_printer")
    _, ticket_sim = printer_sim(sim_devices, "ticket_printer")
    assert len(receipt_sim.pages) == 2 and len(ticket_sim.pages) == 1
    for job_id, page, role in (
        (receipt, receipt_sim.pages[0], "receipt_printer"),
        (fee, receipt_sim.pages[1], "receipt_printer"),
        (ticket, ticket_sim.pages[0], "ticket_printer"),
    ):
        job = printing.get_job(db, job_id)
        assert job["state"] == "printed" and job["printed_at"] and job["device_url"] == "sim://printer"
        assert job["bytes_sent"] > 1000  # raster Vietnamese text, not a stub
        assert page.cut and page.png_path is not None
        assert page.png_path.parent == prints_dir(box.settings.data_dir, role)
        assert page.png_path.read_bytes().startswith(b"\x89PNG")
        assert job["pages"] == [page.png_path.name]
        assert sim_devices.page_file(role, page.png_path.name) == page.png_path
    assert receipt_sim.pages[0].qr == [CODE]  # a native QR payload: the dossier code
    assert receipt_sim.pages[1].qr == [VIETQR]
    check_payload(receipt_sim.pages[1].qr[0])
    assert ticket_sim.pages[0].qr == []
    assert receipt_sim.pages[0].image.height > 400 and ticket_sim.pages[0].image.height > 200
    for role in ("receipt_printer", "ticket_printer"):
        assert health_of(box, sim_devices, role)["state"] == "ok"
    assert devicehealth.recent_errors(db) == []


def test_the_print_worker_prints_a_queued_job(box: Box, sim_devices: Devices) -> None:
    _, sim = printer_sim(sim_devices)
    worker = printing.PrintWorker(box.db, sim_devices, poll_s=0.05)
    worker.start()
    try:
        job = printing.enqueue(box.db(), "receipt_printer", RECEIPT, "canbo")
        worker.wake()
        done = printing.wait_for(box.db(), job, 10)
    finally:
        worker.stop()
    assert done["state"] == "printed"
    assert [p.qr for p in sim.pages] == [[CODE]]


@pytest.mark.parametrize(("fault", "words"), [("paper_out", "hết giấy"), ("cover_open", "nắp")])
def test_a_stopped_printer_keeps_the_job_waiting_then_prints_it_once(
    box: Box, sim_devices: Devices, fault: str, words: str
) -> None:
    db = box.db()
    _, sim = printer_sim(sim_devices)
    setattr(sim, fault, True)
    job_id = printing.enqueue(db, "receipt_printer", RECEIPT, "canbo")
    assert printing.process_one(db, sim_devices)
    job = printing.get_job(db, job_id)
    assert job["state"] == "waiting" and fault in job["reason_code"]
    assert words in job["reason_vi"].lower()
    assert sim.pages == [] and sim.dropped_bytes == 0  # refused before a byte of the job went out
    assert health_of(box, sim_devices, "receipt_printer")["state"] == "error"
    errors = devicehealth.recent_errors(db)
    assert [(e["role"], e["url"]) for e in errors] == [("receipt_printer", "sim://printer")]
    assert fault in errors[0]["code"]

    assert not printing.process_one(db, sim_devices)  # not due again yet: nothing tried
    assert printing.process_one(db, sim_devices, now=later(1))  # still stopped: waits again
    assert printing.get_job(db, job_id)["state"] == "waiting" and sim.pages == []

    setattr(sim, fault, False)
    assert printing.process_one(db, sim_devices, now=later(5))
    job = printing.get_job(db, job_id)
    assert job["state"] == "printed" and job["attempts"] == 3 and job["reason_code"] is None
    assert not printing.process_one(db, sim_devices, now=later(60))  # nothing left to print
    assert len(sim.pages) == 1 and sim.pages[0].qr == [CODE]
    assert health_of(box, sim_devices, "receipt_printer")["state"] == "ok"


@pytest.mark.parametrize(("where", "fault", "code"), [
    ("server", "refuse", "device_unavailable"),  # the network printer is switched off
    ("server", "silent", "device_timeout"),  # the link swallows everything
    ("sim", "busy", "device_timeout"),  # the printer itself answers nothing
])  # fmt: skip
def test_an_unreachable_printer_keeps_the_job_waiting_then_prints_it_once(
    box: Box, sim_devices: Devices, where: str, fault: str, code: str
) -> None:
    db = box.db()
    running, sim = printer_sim(sim_devices)
    target = running.server if where == "server" else sim
    received = sim.received_bytes
    setattr(target, fault, True)
    job_id = printing.enqueue(db, "receipt_printer", RECEIPT, "canbo")
    assert printing.process_one(db, sim_devices)
    job = printing.get_job(db, job_id)
    assert (job["state"], job["reason_code"]) == ("waiting", code)
    assert job["reason_vi"] and job["reason_en"]
    assert sim.pages == []
    if where == "server":
        assert sim.received_bytes == received  # not a byte reached the printer
    assert devicehealth.recent_errors(db)[0]["code"] == code

    setattr(target, fault, False)
    assert printing.process_one(db, sim_devices, now=later(1))
    assert printing.get_job(db, job_id)["state"] == "printed"
    assert not printing.process_one(db, sim_devices, now=later(60))
    assert [p.qr for p in sim.pages] == [[CODE]]  # printed exactly once


def test_a_nearly_empty_roll_prints_and_warns(box: Box, sim_devices: Devices) -> None:
    db = box.db()
    _, sim = printer_sim(sim_devices)
    sim.paper_near_end = True
    job_id = printing.enqueue(db, "receipt_printer", TICKET, "kiosk")
    printing.process_one(db, sim_devices)
    job = printing.get_job(db, job_id)
    assert (job["state"], job["reason_code"]) == ("printed", "paper_near_end")
    assert len(sim.pages) == 1


def test_a_job_left_printing_fails_at_start_and_is_never_printed_by_itself(box: Box, sim_devices: Devices) -> None:
    db = box.db()
    _, sim = printer_sim(sim_devices)
    job_id = printing.enqueue(db, "receipt_printer", RECEIPT, "canbo")
    with write(db):  # the state a worker leaves behind when the box stops after claiming a job
        db.execute("UPDATE print_jobs SET state = 'printing', attempts = attempts + 1 WHERE id = ?", [job_id])

    worker = printing.PrintWorker(box.db, sim_devices, poll_s=0.05)
    worker.start()  # recovers interrupted jobs first
    try:
        job = printing.get_job(db, job_id)
        assert (job["state"], job["reason_code"]) == ("failed", "interrupted")
        fresh = printing.enqueue(db, "receipt_printer", TICKET, "kiosk")
        worker.wake()
        assert printing.wait_for(db, fresh, 10)["state"] == "printed"
        time.sleep(0.2)  # a few more worker rounds: the failed job stays failed
    finally:
        worker.stop()
    assert printing.get_job(db, job_id)["state"] == "failed"
    assert len(sim.pages) == 1 and sim.pages[0].qr == []  # only the ticket

    again = printing.reprint(db, job_id, "canbo")
    assert printing.process_one(db, sim_devices)
    assert printing.get_job(db, again)["state"] == "printed"
    assert printing.get_job(db, again)["reprint_of"] == job_id
    assert [p.qr for p in sim.pages] == [[], [CODE]]
    assert printing.recover_interrupted(db) == 0


def test_a_printer_on_a_real_pseudo_terminal(box: Box, tmp_path: Path) -> None:
    server = serve_printer("pty", tmp_path / "pty-pages")
    assert isinstance(server, PrinterPtyServer)
    devices = configure(box, receipt_printer=f"serial://{server.path}?baudrate=115200")
    db = box.db()
    try:
        job_id = printing.enqueue(db, "receipt_printer", RECEIPT, "canbo")
        assert printing.process_one(db, devices)
        job = printing.get_job(db, job_id)
        assert job["state"] == "printed" and job["device_url"] == f"serial://{server.path}?baudrate=115200"
        assert wait_until(lambda: len(server.sim.pages) == 1)
        page = server.sim.pages[0]
        assert page.qr == [CODE] and page.cut
        assert server.sim.received_bytes >= job["bytes_sent"]

        server.sim.paper_out = True
        second = printing.enqueue(db, "receipt_printer", FEE, "canbo")
        printing.process_one(db, devices)
        assert printing.get_job(db, second)["state"] == "waiting"
        server.sim.paper_out = False
        printing.process_one(db, devices, now=later(1))
        assert printing.get_job(db, second)["state"] == "printed"
        assert wait_until(lambda: len(server.sim.pages) == 2)
        time.sleep(0.1)
        assert [p.qr for p in server.sim.pages] == [[CODE], [VIETQR]]
        assert health_of(box, devices, "receipt_printer")["state"] == "ok"
    finally:
        devices.close()
        server.stop()


@pytest.mark.parametrize("fault", ["paper_out", "cover_open"])
def test_paper_out_and_cover_open_are_not_ready(sim_devices: Devices, fault: str) -> None:
    _, sim = printer_sim(sim_devices)
    setattr(sim, fault, True)
    printer = sim_devices.printer("receipt_printer")
    try:
        with pytest.raises(NotReady):
            printer.print(RECEIPT)
    finally:
        printer.close()


def test_a_job_with_fields_missing_fails_instead_of_stopping_the_queue(box: Box, sim_devices: Devices) -> None:
    db = box.db()
    _, sim = printer_sim(sim_devices)
    broken = printing.enqueue(db, "receipt_printer", Document("ticket", {"office": OFFICE, "number": "A1"}), "kiosk")
    good = printing.enqueue(db, "receipt_printer", TICKET, "kiosk")
    printing.process_one(db, sim_devices)
    printing.process_one(db, sim_devices)
    assert printing.get_job(db, broken)["state"] == "failed"
    assert printing.get_job(db, good)["state"] == "printed" and len(sim.pages) == 1


# -- card payments ---------------------------------------------------------------------------------


def test_card_sales_approved_declined_cancelled_on_the_simulated_terminal(box: Box, sim_devices: Devices) -> None:
    db = box.db()
    _, sim = terminal_sim(sim_devices)
    approved = payments.pay_by_card(db, sim_devices, 50_000, "canbo", dossier_id="D-1")
    assert approved["state"] == "approved" and approved["authorization"] and approved["card"].endswith("1234")
    assert approved["terminal_url"] == "sim://terminal" and approved["dossier_id"] == "D-1"
    assert sim.charged_total() == 50_000

    sim.mode = "decline"
    assert payments.pay_by_card(db, sim_devices, 20_000, "canbo")["state"] == "declined"
    sim.mode = "cancel"
    cancelled = payments.pay_by_card(db, sim_devices, 30_000, "canbo")
    assert cancelled["state"] == "cancelled" and "hủy" in cancelled["message_vi"]
    sim.mode = "nak_once"  # a frame garbled once on the line is sent again, charged once
    assert payments.pay_by_card(db, sim_devices, 40_000, "canbo")["state"] == "approved"

    assert sim.charged_total() == 90_000 == approved_total(box)
    references = [t.reference for t in sim.transactions]
    assert references == [p["reference"] for p in reversed(payments.list_payments(db))]
    assert health_of(box, sim_devices, "card_terminal")["state"] == "ok"
    assert devicehealth.recent_errors(db) == []


def test_a_void_gives_the_money_back(box: Box, sim_devices: Devices) -> None:
    db = box.db()
    _, sim = terminal_sim(sim_devices)
    kept = payments.pay_by_card(db, sim_devices, 10_000, "canbo")
    wrong = payments.pay_by_card(db, sim_devices, 30_000, "canbo")
    assert sim.charged_total() == 40_000
    voided = payments.void(db, sim_devices, wrong["id"], "lanhdao")
    assert voided["state"] == "voided"
    assert sim.charged_total() == 10_000 == approved_total(box)
    with pytest.raises(ConflictError) as refused:
        payments.void(db, sim_devices, wrong["id"], "lanhdao")
    assert refused.value.code == "payment_not_voidable"
    assert sim.charged_total() == 10_000
    assert payments.get_payment(db, kept["id"])["state"] == "approved"


def test_an_answer_lost_after_the_charge_is_reconciled_as_approved(box: Box, sim_devices: Devices) -> None:
    db = box.db()
    _, sim = terminal_sim(sim_devices)
    sim.mode = "timeout"  # the terminal charges the card, its answer never comes
    thread, out = pay_in_thread(box, sim_devices, 70_000)
    assert wait_until(lambda: len(sim.transactions) == 1)
    sim.mode = "approve"  # the terminal answers again, for the last-transaction query
    thread.join(15)
    payment = out["payment"]
    assert payment["state"] == "approved" and payment["reconciled_at"]
    assert payment["authorization"] == sim.transactions[0].authorization
    assert sim.charged_total() == 70_000 == approved_total(box)
    assert [e["code"] for e in devicehealth.recent_errors(db)] == ["terminal_outcome_unknown"]

    second = payments.pay_by_card(db, sim_devices, 15_000, "canbo")
    assert second["state"] == "approved" and second["reconciled_at"] is None
    assert sim.charged_total() == 85_000 == approved_total(box)
    assert [t.reference for t in sim.transactions] == [payment["reference"], second["reference"]]


def test_timeout_mode_is_reconciled_without_changing_the_mode(box: Box, sim_devices: Devices) -> None:
    _, sim = terminal_sim(sim_devices)
    sim.mode = "timeout"
    payment = payments.pay_by_card(box.db(), sim_devices, 70_000, "canbo")
    assert payment["state"] == "approved"
    assert sim.charged_total() == 70_000


@pytest.mark.parametrize("mode", ["silent_mid", "garbage"])
def test_a_terminal_that_breaks_off_mid_answer_never_charges_twice(box: Box, sim_devices: Devices, mode: str) -> None:
    db = box.db()
    _, sim = terminal_sim(sim_devices)
    first = payments.pay_by_card(db, sim_devices, 10_000, "canbo")
    assert first["state"] == "approved"

    sim.mode = mode
    lost = payments.pay_by_card(db, sim_devices, 20_000, "canbo")
    assert lost["state"] == "unknown"  # the terminal charged, but the box could not hear it
    assert sim.charged_total() == 30_000 and approved_total(box) == 10_000
    with pytest.raises(ConflictError) as refused:
        payments.pay_by_card(db, sim_devices, 20_000, "canbo")  # the officer tries again at once
    assert refused.value.code == "payment_unreconciled" and lost["reference"] in refused.value.vi
    assert len(sim.transactions) == 2  # the second try never reached the terminal

    sim.mode = "approve"
    third = payments.pay_by_card(db, sim_devices, 40_000, "canbo")  # reconciles the lost one first
    assert third["state"] == "approved"
    assert payments.get_payment(db, lost["id"])["state"] == "approved"
    assert sim.charged_total() == 70_000 == approved_total(box)
    references = [t.reference for t in sim.transactions]
    assert references == [first["reference"], lost["reference"], third["reference"]]
    assert {e["role"] for e in devicehealth.recent_errors(db)} == {"card_terminal"}


def test_a_terminal_port_that_disappears_charges_nothing(box: Box, sim_devices: Devices) -> None:
    db = box.db()
    running, sim = terminal_sim(sim_devices)
    assert payments.pay_by_card(db, sim_devices, 10_000, "canbo")["state"] == "approved"
    running.stop()  # the USB-serial adapter is pulled out
    gone = payments.pay_by_card(db, sim_devices, 20_000, "canbo")
    assert gone["state"] == "not_charged" and gone["message_vi"]
    assert sim.charged_total() == 10_000 == approved_total(box) and len(sim.transactions) == 1
    again = payments.pay_by_card(db, sim_devices, 20_000, "canbo")  # not_charged blocks nothing
    assert again["state"] == "not_charged"
    card = health_of(box, sim_devices, "card_terminal")
    assert card["state"] == "error" and card["last_error_code"] == "device_unavailable"
    errors = devicehealth.recent_errors(db)
    assert [e["role"] for e in errors] == ["card_terminal", "card_terminal"]


def test_a_terminal_that_disappears_mid_sale_blocks_new_sales(
    box: Box, sim_devices: Devices, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = box.db()
    monkeypatch.setattr(appliance, "TERMINAL_ANSWER_S", 10.0)
    running, sim = terminal_sim(sim_devices)
    sim.delay_s = 0.2
    thread, out = pay_in_thread(box, sim_devices, 25_000)
    assert wait_until(lambda: len(sim.requests) == 1)  # the sale request is on the terminal
    running.stop()  # ... and the terminal is gone before it answers
    thread.join(15)
    lost = out["payment"]
    assert lost["state"] == "unknown"
    with pytest.raises(ConflictError) as refused:
        payments.pay_by_card(db, sim_devices, 25_000, "canbo")
    assert refused.value.code == "payment_unreconciled"
    assert approved_total(box) == 0
    assert len([t for t in sim.transactions if t.kind == "sale"]) <= 1  # never a second sale
    assert [p["state"] for p in payments.list_payments(db)] == ["unknown"]
    assert health_of(box, sim_devices, "card_terminal")["state"] == "error"


CHILD = textwrap.dedent(
    """
    import sys
    from edge import appliance, payments
    from edge.box import open_box

    appliance.TERMINAL_ANSWER_S = 60.0
    box = open_box(sys.argv[1])
    payments.pay_by_card(box.db(), appliance.Devices(box.settings), int(sys.argv[2]), "canbo")
    print("finished", flush=True)
    """
)


def test_a_box_killed_mid_sale_is_reconciled_before_the_next_sale(box: Box) -> None:
    server: PtyServer = serve_terminal("pty", TerminalSimulator(mode="timeout"))
    sim = server.sim
    assert isinstance(sim, TerminalSimulator)
    devices = configure(box, card_terminal=f"serial://{server.path}?baudrate=9600")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(box.settings.data_dir), "30000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if not wait_until(lambda: len(sim.transactions) == 1, 20):
            child.kill()
            pytest.fail(f"the child box never reached the terminal: {child.communicate()}")
        assert child.poll() is None  # charged, and the box waits for an answer that will not come
        child.kill()  # kill -9
        child.wait(10)
        assert child.stdout is not None and child.stdout.read() == ""
        pending = payments.list_payments(box.db())
        assert [(p["state"], p["amount"]) for p in pending] == [("pending", 30_000)]
        assert pending[0]["reference"] == sim.transactions[0].reference

        sim.mode = "approve"
        second = payments.pay_by_card(box.db(), devices, 20_000, "canbo")
        assert second["state"] == "approved"
        first = payments.get_payment(box.db(), pending[0]["id"])
        assert first["state"] == "approved" and first["reconciled_at"]
        assert sim.charged_total() == 50_000 == approved_total(box)
        sales = [t.reference for t in sim.transactions if t.kind == "sale"]
        assert sales == [first["reference"], second["reference"]]
        assert len(payments.list_payments(box.db())) == 2
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
        devices.close()
        server.stop()


def test_a_terminal_reconciled_in_the_same_second_is_healthy(box: Box, sim_devices: Devices) -> None:
    _, sim = terminal_sim(sim_devices)
    sim.mode = "timeout"
    moment = datetime(2026, 11, 25, 9, 30, tzinfo=TZ)  # the box's clock, as a page passes it
    thread, out = pay_in_thread(box, sim_devices, 5_000, now=moment)
    assert wait_until(lambda: len(sim.transactions) == 1)
    sim.mode = "approve"
    thread.join(15)
    assert out["payment"]["state"] == "approved"  # the terminal answered the last-transaction query
    assert health_of(box, sim_devices, "card_terminal")["state"] == "ok"


# -- keypad ----------------------------------------------------------------------------------------


def test_keypad_presses_become_ratings_of_what_the_counter_serves(box: Box) -> None:
    pad = KeypadSimulator()
    server = serve_keypad("pty", sim=pad)
    devices = configure(box, rating_keypad=f"serial://{server.path}?baudrate=9600")
    db = box.db()
    ratings.set_counter_subject(db, 1, dossier_id="D-42", ticket="A012", officer="canbo")
    listener = ratings.KeypadListener(box.db, devices, counter=1, retry_s=0.2)
    listener.start()
    try:
        assert wait_until(lambda: health_of(box, devices, "rating_keypad")["detail"] == "opened")
        pad.press(2)
        assert wait_until(lambda: len(ratings.recent_ratings(db)) == 1)
        rating = ratings.recent_ratings(db)[0]
        assert (rating["level"], rating["scale"], rating["counter"]) == (2, 5, 1)
        assert (rating["dossier_id"], rating["ticket"], rating["officer"]) == ("D-42", "A012", "canbo")
        assert rating["source"] == "keypad" and rating["label_vi"] == "Hài lòng"

        time.sleep(0.35)  # past the de-bounce window of the last press
        pad.chatter(1, times=4)  # bouncing contacts: one press
        assert wait_until(lambda: len(ratings.recent_ratings(db)) == 2)
        pad.garbage()
        time.sleep(0.5)
        assert len(ratings.recent_ratings(db)) == 2
        assert ratings.recent_ratings(db)[0]["level"] == 1

        ratings.set_counter_subject(db, 1)  # the counter serves nobody now: the press is kept all the same
        pad.press(5)
        assert wait_until(lambda: len(ratings.recent_ratings(db)) == 3)
        latest = ratings.recent_ratings(db)[0]
        assert (latest["level"], latest["dossier_id"], latest["ticket"]) == (5, None, None)
        assert latest["label_vi"] == "Rất không hài lòng"
        keypad = health_of(box, devices, "rating_keypad")
        assert keypad["state"] == "ok" and keypad["detail"] == "button 5"
    finally:
        listener.stop()
        devices.close()
        server.stop()


def test_a_missing_keypad_is_reported_and_picked_up_when_it_appears(box: Box) -> None:
    server = serve_keypad("pty")
    path = server.path
    server.stop()  # configured, but not plugged in
    devices = configure(box, rating_keypad=f"serial://{path}?baudrate=9600")
    listener = ratings.KeypadListener(box.db, devices, counter=2, retry_s=0.1)
    listener.start()
    try:
        assert wait_until(lambda: health_of(box, devices, "rating_keypad")["state"] == "error")
        assert devicehealth.recent_errors(box.db())[0]["role"] == "rating_keypad"
        pad = KeypadSimulator()
        plugged = serve_keypad("pty", sim=pad)
        try:
            update_config_file(box.settings.data_dir, {"rating_keypad": f"serial://{plugged.path}?baudrate=9600"})
            assert wait_until(lambda: health_of(box, devices, "rating_keypad")["detail"] == "opened")
            pad.press(3)
            assert wait_until(lambda: len(ratings.recent_ratings(box.db())) == 1)
            assert ratings.recent_ratings(box.db())[0]["counter"] == 2
            assert health_of(box, devices, "rating_keypad")["detail"] == "button 3"
        finally:
            plugged.stop()
    finally:
        listener.stop()
        devices.close()


# -- health over everything --------------------------------------------------------------------------


def test_device_health_after_a_day_of_faults(box: Box, sim_devices: Devices) -> None:
    db = box.db()
    _, printer = printer_sim(sim_devices)
    printer.paper_out = True
    job = printing.enqueue(db, "receipt_printer", RECEIPT, "canbo")
    printing.process_one(db, sim_devices)
    running, _ = terminal_sim(sim_devices)
    assert payments.pay_by_card(db, sim_devices, 5_000, "canbo")["state"] == "approved"
    printer.paper_out = False
    printing.process_one(db, sim_devices, now=later(1))
    assert printing.get_job(db, job)["state"] == "printed"
    running.stop()
    assert payments.pay_by_card(db, sim_devices, 5_000, "canbo")["state"] == "not_charged"

    states = {h["role"]: h["state"] for h in devicehealth.health(db, sim_devices.urls())}
    assert states == {"receipt_printer": "ok", "ticket_printer": "unknown", "card_terminal": "error",
                      "rating_keypad": "none"}  # fmt: skip
    errors = devicehealth.recent_errors(db)
    assert [e["role"] for e in errors] == ["card_terminal", "receipt_printer"]
    assert all(e["vi"] and e["en"] and e["url"] for e in errors)
