"""The take-a-number queue: daily numbers per service, priority, counters, and many kiosks at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from edge import queue
from edge import queueconfig as queue_config
from edge.box import Box
from edge.errors import ConflictError, NotFoundError, ValidationError
from tests.conftest import FakeClock


def test_a_new_box_has_services_and_three_counters_serving_them(box: Box) -> None:
    services = queue.list_services(box.db())
    assert [(s["code"], s["prefix"], s["name"]) for s in services] == [
        ("HT", "A", "Hộ tịch"), ("CT", "B", "Chứng thực"), ("DD", "C", "Đất đai, xây dựng"), ("KH", "D", "Lĩnh vực khác"),
    ]  # fmt: skip
    counters = queue.list_counters(box.db())
    assert [c["number"] for c in counters] == [1, 2, 3]
    assert all(c["services"] == ["HT", "CT", "DD", "KH"] for c in counters)


def test_numbers_follow_each_service_and_start_again_each_day(box: Box, clock: FakeClock) -> None:
    db = box.db()
    first = [queue.issue_ticket(db, "HT", clock())["number"] for _ in range(3)]
    other = queue.issue_ticket(db, "CT", clock())
    assert first == ["A001", "A002", "A003"] and other["number"] == "B001"
    assert queue.issue_ticket(db, "HT", clock())["waiting_ahead"] == 3
    clock.advance(days=1)
    assert queue.issue_ticket(db, "HT", clock())["number"] == "A001"
    assert queue.format_number("A", 1000) == "A1000"


def test_a_priority_ticket_is_called_first_then_the_oldest(box: Box, clock: FakeClock) -> None:
    db = box.db()
    early = queue.issue_ticket(db, "HT", clock())
    clock.advance(minutes=1)
    elderly = queue.issue_ticket(db, "HT", clock(), priority="elderly")
    assert elderly["waiting_ahead"] == 0 and elderly["weight"] == 2
    called = [queue.call_next(db, 1, "canbo", clock()) for _ in range(3)]
    assert [t["number"] if t else None for t in called] == [elderly["number"], early["number"], None]
    assert called[0] is not None and (called[0]["state"], called[0]["counter"], called[0]["calls"]) == ("called", 1, 1)


def test_a_counter_calls_only_the_services_it_serves(box: Box, clock: FakeClock) -> None:
    db = box.db()
    db.execute("UPDATE queue_counters SET services = '[\"CT\"]' WHERE number = 2")
    queue.issue_ticket(db, "HT", clock())
    assert queue.call_next(db, 2, "canbo", clock()) is None
    clock.advance(minutes=1)
    b = queue.issue_ticket(db, "CT", clock())
    assert (queue.call_next(db, 2, "canbo", clock()) or {})["number"] == b["number"]
    with pytest.raises(NotFoundError):
        queue.call_next(db, 9, "canbo", clock())


@pytest.mark.parametrize(("service", "priority", "field"), [("XX", None, "service"), (None, None, "service"),
                                                            ("HT", "vip", "priority"), (7, None, "service")])  # fmt: skip
def test_wrong_input_is_refused_and_takes_no_number(
    box: Box, clock: FakeClock, service: object, priority: object, field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        queue.issue_ticket(box.db(), service, clock(), priority)
    assert refused.value.field == field and refused.value.vi
    assert queue.issue_ticket(box.db(), "HT", clock())["number"] == "A001"


def test_an_admin_changes_services_and_prefixes_stay_unique(box: Box, clock: FakeClock) -> None:
    db = box.db()
    admin = {"actor": "quantri", "now": clock()}
    queue_config.save_service(db, "tp", "Tư pháp", "e", position=5, new=True, **admin)
    assert [s["prefix"] for s in queue.list_services(db)][-1] == "E"
    with pytest.raises(ConflictError):
        queue_config.save_service(db, "XD", "Xây dựng", "A", new=True, **admin)
    for bad in (("", "Tên", "F"), ("OK", "", "F"), ("OK", "Tên", "FF"), ("quá dài quá", "Tên", "F")):
        with pytest.raises(ValidationError):
            queue_config.save_service(db, *bad, new=True, **admin)
    queue_config.save_service(db, "HT", "Hộ tịch", "A", active=False, position=1, **admin)
    assert "HT" not in [s["code"] for s in queue.list_services(db)]


def test_kiosks_and_counters_at_once_never_share_skip_or_double_call_a_number(box: Box, clock: FakeClock) -> None:
    """Two kiosks and three counters, each a thread with its own connection to the one SQLite file."""
    issued: list[str] = []
    called: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(5)

    def kiosk(service: str) -> None:
        own = Box(box.settings, clock=box.clock)
        start.wait()
        for _ in range(40):
            number = queue.issue_ticket(own.db(), service, clock())["number"]
            with lock:
                issued.append(number)
        own.close()

    def counter(number: int) -> None:
        own = Box(box.settings, clock=box.clock)
        start.wait()
        idle = 0
        while idle < 50:
            ticket = queue.call_next(own.db(), number, f"canbo{number}", clock())
            if ticket is None:
                idle += 1
                threading.Event().wait(0.005)
                continue
            idle = 0
            with lock:
                called.append(ticket["number"])
        own.close()

    threads = [threading.Thread(target=kiosk, args=(s,)) for s in ("HT", "HT")]
    threads += [threading.Thread(target=counter, args=(n,)) for n in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(issued) == [f"A{i:03d}" for i in range(1, 81)]  # no duplicate, none skipped
    left = [t["number"] for t in queue.waiting(box.db(), clock())]
    assert len(called) == len(set(called)) and sorted(called + left) == sorted(issued)  # none called twice


def test_yesterdays_waiting_tickets_are_not_called_today(box: Box, clock: FakeClock) -> None:
    db = box.db()
    queue.issue_ticket(db, "HT", clock())
    assert queue.call_next(db, 1, "canbo", clock() + timedelta(days=1)) is None


def test_the_counter_calls_again_serves_finishes_and_links_the_dossier(box: Box, clock: FakeClock) -> None:
    db = box.db()
    queue.issue_ticket(db, "HT", clock())
    ticket = queue.call_next(db, 1, "canbo", clock())
    assert ticket is not None
    clock.advance(minutes=1)
    assert queue.recall(db, ticket["id"], clock())["calls"] == 2
    assert queue.start(db, ticket["id"], clock())["state"] == "serving"
    with pytest.raises(ConflictError):
        queue.no_show(db, ticket["id"], clock())  # being served: not a no-show
    clock.advance(minutes=9)
    done = queue.finish(db, ticket["id"], clock(), dossier_id="d-1")
    assert (done["state"], done["dossier_id"], done["finished_at"]) == ("done", "d-1", "2026-11-25T09:10:00+07:00")
    with pytest.raises(ConflictError):
        queue.recall(db, ticket["id"], clock())


def test_a_no_show_ends_the_ticket(box: Box, clock: FakeClock) -> None:
    db = box.db()
    queue.issue_ticket(db, "HT", clock())
    ticket = queue.call_next(db, 1, "canbo", clock())
    assert ticket is not None and queue.no_show(db, ticket["id"], clock())["state"] == "no_show"
    assert queue.call_next(db, 1, "canbo", clock()) is None


def test_a_transfer_keeps_the_number_and_reaches_the_other_service_or_counter(box: Box, clock: FakeClock) -> None:
    db = box.db()
    first = queue.issue_ticket(db, "HT", clock())
    ticket = queue.call_next(db, 1, "canbo", clock())
    assert ticket is not None
    moved = queue.transfer(db, ticket["id"], service="CT")
    assert (moved["number"], moved["service"], moved["state"]) == (first["number"], "CT", "waiting")
    db.execute("UPDATE queue_counters SET services = '[\"HT\"]' WHERE number = 1")
    assert queue.call_next(db, 1, "canbo", clock()) is None  # counter 1 no longer serves CT
    again = queue.call_next(db, 2, "canbo2", clock())
    assert again is not None and again["number"] == first["number"]
    queue.issue_ticket(db, "HT", clock())  # someone else waits at counter 3's services
    sent = queue.transfer(db, again["id"], counter=3)
    assert sent["for_counter"] == 3
    assert (queue.call_next(db, 3, "canbo3", clock()) or {})["number"] == first["number"]  # sent to 3: first
    with pytest.raises(ValidationError):
        queue.transfer(db, again["id"])
    with pytest.raises(NotFoundError):
        queue.transfer(db, again["id"], counter=42)
