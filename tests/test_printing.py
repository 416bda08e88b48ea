"""The print-job queue: jobs survive restarts, end in a state the officer sees, never print twice.

A scripted printer counts the pages it really printed; tests/test_devices_wiring.py runs the
queue against the ESC/POS simulator on a real socket and pseudo-terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from edge import devicehealth, printing
from edge.box import Box
from edge.errors import ValidationError
from edge.ports import Document, NotConfigured, NotDelivered, NotReady, OutcomeUnknown, PrinterState, PrintOutcome
from tests.conftest import FakeClock

URL = "tcp://192.0.2.10:9100"
RECEIPT = Document("dossier_receipt", {"office": "UBND xã Thử Nghiệm", "code": "000.17.22.H56-261125-0001"})


@dataclass
class ScriptedPrinter:
    """A printer whose state the test sets; `printed` is what came out on paper."""

    url: str = URL
    mode: str = "ok"  # ok | paper_out | cover_open | unplugged | stall | runs_out | near_end
    printed: list[Document] = field(default_factory=list)
    opened: int = 0

    def status(self) -> PrinterState | None:
        out = self.mode in ("paper_out", "runs_out_after")
        near = self.mode == "near_end"
        return PrinterState(online=not out, paper_near_end=near, paper_out=out, cover_open=self.mode == "cover_open")

    def print(self, document: Document) -> PrintOutcome:
        if self.mode == "unplugged":
            raise NotDelivered("Không kết nối được máy in.", "Cannot reach the printer.")
        if self.mode == "paper_out":
            raise NotReady("Máy in hết giấy.", "The printer is out of paper.", code="paper_out")
        if self.mode == "cover_open":
            raise NotReady("Nắp máy in đang mở.", "The printer cover is open.", code="cover_open")
        if self.mode == "stall":
            raise OutcomeUnknown("Máy in ngừng giữa chừng.", "The printer stalled mid-job.")
        self.printed.append(document)
        if self.mode == "runs_out":
            self.mode = "runs_out_after"
        return PrintOutcome(bytes_sent=1234)

    def close(self) -> None:
        pass


@dataclass
class Opener:
    printer_: ScriptedPrinter | None

    def url(self, role: str) -> str:
        return URL if self.printer_ else ""

    def printer(self, role: str) -> ScriptedPrinter:
        if self.printer_ is None:
            raise NotConfigured("Chưa cấu hình máy in.", "No printer is set up.")
        self.printer_.opened += 1
        return self.printer_

    def terminal(self) -> Any:
        raise NotConfigured("x", "x")

    def keypad(self) -> Any:
        raise NotConfigured("x", "x")


@pytest.fixture
def printer() -> ScriptedPrinter:
    return ScriptedPrinter()


def run(box: Box, opener: Opener, clock: FakeClock) -> bool:
    return printing.process_one(box.db(), opener, now=clock())


def test_a_job_prints_once_and_says_so(box: Box, printer: ScriptedPrinter, clock: FakeClock) -> None:
    job = printing.enqueue(box.db(), "receipt_printer", RECEIPT, "canbo", dossier_id="d1", now=clock())
    assert run(box, Opener(printer), clock) and not run(box, Opener(printer), clock)
    done = printing.get_job(box.db(), job)
    assert (done["state"], done["bytes_sent"], done["attempts"], done["device_url"]) == ("printed", 1234, 1, URL)
    assert done["state_vi"] == "Đã in" and printer.printed == [RECEIPT]
    assert devicehealth.health(box.db(), {"receipt_printer": URL})[0]["state"] == "ok"


def test_the_same_job_id_twice_is_one_job(box: Box, printer: ScriptedPrinter, clock: FakeClock) -> None:
    first = printing.enqueue(box.db(), "receipt_printer", RECEIPT, "canbo", job_id="bn-0001")
    again = printing.enqueue(box.db(), "receipt_printer", RECEIPT, "canbo", job_id="bn-0001")
    assert first == again == "bn-0001"
    while run(box, Opener(printer), clock):
        pass
    assert len(printer.printed) == 1


@pytest.mark.parametrize(("mode", "code"), [("paper_out", "paper_out"), ("cover_open", "cover_open"),
                                            ("unplugged", "device_unavailable")])  # fmt: skip
def test_a_printer_that_cannot_print_keeps_the_job_waiting_and_it_prints_when_fixed(
    box: Box, printer: ScriptedPrinter, clock: FakeClock, mode: str, code: str
) -> None:
    printer.mode = mode
    job = printing.enqueue(box.db(), "receipt_printer", RECEIPT, "canbo", now=clock())
    run(box, Opener(printer), clock)
    waiting = printing.get_job(box.db(), job)
    assert (waiting["state"], waiting["reason_code"]) == ("waiting", code)
    assert waiting["reason_vi"] and printer.printed == []
    assert not run(box, Opener(printer), clock)  # not due yet: the retry waits a little
    clock.advance(days=30)  # a month later: still there, still waiting, never dropped for being old
    run(box, Opener(printer), clock)
    assert printing.get_job(box.db(), job)["state"] == "waiting"
    printer.mode = "ok"
    clock.advance(seconds=30)
    run(box, Opener(printer), clock)
    assert printing.get_job(box.db(), job)["state"] == "printed" and printer.printed == [RECEIPT]
    health = devicehealth.health(box.db(), {"receipt_printer": URL})[0]
    assert health["state"] == "ok" and health["last_error_code"] == code


def test_a_stall_mid_job_fails_and_is_not_repeated_by_itself(
    box: Box, printer: ScriptedPrinter, clock: FakeClock
) -> None:
    printer.mode = "stall"
    job = printing.enqueue(box.db(), "receipt_printer", RECEIPT, "canbo", now=clock())
    run(box, Opener(printer), clock)
    printer.mode = "ok"
    clock.advance(hours=1)
    assert not run(box, Opener(printer), clock)
    failed = printing.get_job(box.db(), job)
    assert failed["state"] == "failed" and failed["reason_code"] == "outcome_unknown" and printer.printed == []
    again = printing.reprint(box.db(), job, "canbo", now=clock())
    run(box, Opener(printer), clock)
    assert printing.get_job(box.db(), again)["reprint_of"] == job and printer.printed == [RECEIPT]


def test_paper_running_out_during_the_job_fails_it_for_a_reprint(
    box: Box, printer: ScriptedPrinter, clock: FakeClock
) -> None:
    printer.mode = "runs_out"
    job = printing.enqueue(box.db(), "receipt_printer", RECEIPT, "canbo", now=clock())
    run(box, Opener(printer), clock)
    failed = printing.get_job(box.db(), job)
    assert (failed["state"], failed["reason_code"]) == ("failed", "paper_out_during_print")
    assert "In lại" in failed["reason_vi"]


def test_a_job_left_printing_by_a_stop_is_failed_at_start_never_printed_again(
    box: Box, printer: ScriptedPrinter, clock: FakeClock
) -> None:
    job = printing.enqueue(box.db(), "receipt_printer", RECEIPT, "canbo", now=clock())
    box.db().execute("UPDATE print_jobs SET state = 'printing' WHERE id = ?", [job])  # the box died mid-job
    assert printing.recover_interrupted(box.db(), now=clock()) == 1
    assert not run(box, Opener(printer), clock)
    assert printing.get_job(box.db(), job)["reason_code"] == "interrupted" and printer.printed == []


def test_no_printer_configured_keeps_the_job(box: Box, clock: FakeClock) -> None:
    job = printing.enqueue(box.db(), "ticket_printer", Document("ticket", {"number": "A001"}), "kiosk", now=clock())
    run(box, Opener(None), clock)
    assert printing.get_job(box.db(), job)["reason_code"] == "device_not_configured"
    printer = ScriptedPrinter()
    clock.advance(seconds=10)
    run(box, Opener(printer), clock)
    assert printing.get_job(box.db(), job)["state"] == "printed"


def test_jobs_print_in_order_and_survive_a_new_connection(box: Box, printer: ScriptedPrinter, clock: FakeClock) -> None:
    ids = [
        printing.enqueue(box.db(), "receipt_printer", Document("ticket", {"number": f"A{i:03d}"}), "kiosk",
                         now=clock() + timedelta(seconds=i))
        for i in range(1, 4)
    ]  # fmt: skip
    restarted = Box(box.settings, clock=box.clock)  # a restart: a new process opens the same file
    while printing.process_one(restarted.db(), Opener(printer), now=clock() + timedelta(seconds=5)):
        pass
    assert [d.fields["number"] for d in printer.printed] == ["A001", "A002", "A003"]
    assert [j["id"] for j in printing.list_jobs(box.db())] == ids[::-1]


@pytest.mark.parametrize(("role", "kind"), [("fax", "ticket"), ("receipt_printer", "poster")])
def test_a_wrong_role_or_kind_is_refused(box: Box, role: str, kind: str) -> None:
    with pytest.raises(ValidationError):
        printing.enqueue(box.db(), role, Document(kind, {}), "canbo")


def test_the_worker_thread_prints_what_is_queued(box: Box, printer: ScriptedPrinter) -> None:
    worker = printing.PrintWorker(box.db, Opener(printer), poll_s=0.05)
    worker.start()
    try:
        job = printing.enqueue(box.db(), "receipt_printer", RECEIPT, "canbo")
        worker.wake()
        assert printing.wait_for(box.db(), job, timeout_s=10)["state"] == "printed"
    finally:
        worker.stop()


def test_paper_near_end_prints_and_warns(box: Box, printer: ScriptedPrinter, clock: FakeClock) -> None:
    printer.mode = "near_end"
    job = printing.enqueue(box.db(), "receipt_printer", RECEIPT, "canbo", now=clock())
    run(box, Opener(printer), clock)
    done = printing.get_job(box.db(), job)
    assert (done["state"], done["reason_code"]) == ("printed", "paper_near_end") and printer.printed == [RECEIPT]
    assert "sắp hết giấy" in done["reason_vi"]
