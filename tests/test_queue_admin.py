"""What an admin configures of the queue: priority weights, services, counters — checked, audited, at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edge import audit, queue
from edge import queueconfig as config
from edge.box import Box
from edge.errors import ConflictError, NotFoundError, ValidationError
from tests.conftest import FakeClock


def test_a_new_box_has_the_three_priority_groups_of_weight_2(box: Box) -> None:
    assert queue.priorities(box.db()) == {
        "elderly": ("Người cao tuổi", "Elderly", 2),
        "disabled": ("Người khuyết tật", "Person with a disability", 2),
        "pregnant": ("Phụ nữ mang thai", "Pregnant woman", 2),
    }


def test_a_heavier_priority_group_changes_the_call_order_and_issued_tickets_keep_their_weight(
    box: Box, clock: FakeClock
) -> None:
    db = box.db()
    elderly = queue.issue_ticket(db, "HT", clock(), "elderly")
    clock.advance(minutes=1)
    pregnant = queue.issue_ticket(db, "HT", clock(), "pregnant")
    config.save_priority(db, "pregnant", "Phụ nữ mang thai", "Pregnant woman", "5", actor="quantri")
    clock.advance(minutes=1)
    later = queue.issue_ticket(db, "HT", clock(), "pregnant")
    assert (pregnant["weight"], later["weight"]) == (2, 5) and later["waiting_ahead"] == 0
    config.save_priority(db, "veteran", "Người có công", "Veteran", 9, sort=4, actor="quantri", new=True)
    clock.advance(minutes=1)
    veteran = queue.issue_ticket(db, "HT", clock(), "veteran")
    order = [(queue.call_next(db, 1, "canbo", clock()) or {}).get("number") for _ in range(4)]
    assert order == [veteran["number"], later["number"], elderly["number"], pregnant["number"]]
    config.save_priority(db, "veteran", "Người có công", "Veteran", 9, active=False, actor="quantri")
    with pytest.raises(ValidationError):
        queue.issue_ticket(db, "HT", clock(), "veteran")
    assert "veteran" not in queue.priorities(db)
    assert [e["action"] for e in audit.entries(db, 3)] == ["queue_priority_saved"] * 3


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("vip-1", "Người cao tuổi", "Elderly", 3), "code"),
        (("new", "Người cao tuổi", "Elderly", 3), "code"),
        (("elderly", "", "Elderly", 3), "name_vi"),
        (("elderly", "Người cao tuổi", " ", 3), "name_en"),
        (("elderly", "Người cao tuổi", "Elderly", 0), "weight"),
        (("elderly", "Người cao tuổi", "Elderly", "10"), "weight"),
        (("elderly", "Người cao tuổi", "Elderly", "hai"), "weight"),
        (("elderly", "Người cao tuổi", "Elderly", True), "weight"),
    ],
)
def test_a_wrong_priority_group_is_refused_and_nothing_changes(box: Box, args: tuple[object, ...], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        config.save_priority(box.db(), *args, actor="quantri")
    assert refused.value.field == field and refused.value.vi
    assert queue.priorities(box.db())["elderly"] == ("Người cao tuổi", "Elderly", 2)
    assert not [e for e in audit.entries(box.db()) if e["action"] == "queue_priority_saved"]


def test_adding_an_existing_priority_or_changing_a_missing_one_is_refused(box: Box) -> None:
    with pytest.raises(ConflictError):
        config.save_priority(box.db(), "elderly", "Người già", "Old", 3, actor="quantri", new=True)
    with pytest.raises(NotFoundError):
        config.save_priority(box.db(), "nobody", "Không ai", "Nobody", 3, actor="quantri")
    assert queue.priorities(box.db())["elderly"][0] == "Người cao tuổi"


def test_a_service_with_waiting_tickets_today_cannot_close(box: Box, clock: FakeClock) -> None:
    db = box.db()
    queue.issue_ticket(db, "CT", clock())
    with pytest.raises(ConflictError) as refused:
        config.save_service(db, "CT", "Chứng thực", "B", active=False, actor="quantri", now=clock())
    assert refused.value.code == "service_has_waiting" and "còn 1 số đang chờ" in refused.value.vi
    assert "CT" in [s["code"] for s in queue.list_services(db)]
    ticket = queue.call_next(db, 1, "canbo", clock())
    assert ticket is not None
    config.save_service(db, "CT", "Chứng thực", "B", active=False, actor="quantri", now=clock())
    assert "CT" not in [s["code"] for s in queue.list_services(db)]
    entry = audit.entries(db, 1)[0]
    assert (entry["actor"], entry["action"], entry["target"]) == ("quantri", "queue_service_saved", "queue_service:CT")
    assert entry["detail"]["active"] is False


def test_a_letter_is_unique_among_active_services_and_never_repeats_a_number_of_the_day(
    box: Box, clock: FakeClock
) -> None:
    db = box.db()
    queue.issue_ticket(db, "KH", clock())  # D001 today
    queue.call_next(db, 1, "canbo", clock())
    config.save_service(db, "KH", "Lĩnh vực khác", "D", active=False, position=4, actor="quantri", now=clock())
    with pytest.raises(ConflictError) as refused:  # D is free, but D001 was issued today
        config.save_service(db, "TP", "Tư pháp", "D", actor="quantri", now=clock(), new=True)
    assert refused.value.code == "prefix_used_today" and refused.value.field == "prefix"
    assert [s["code"] for s in queue.list_services(db, active_only=False)] == ["HT", "CT", "DD", "KH"]
    tomorrow = clock() + timedelta(days=1)
    config.save_service(db, "TP", "Tư pháp", "D", position=5, actor="quantri", now=tomorrow, new=True)
    assert queue.issue_ticket(db, "TP", tomorrow)["number"] == "D001"
    with pytest.raises(ConflictError) as taken:  # KH cannot come back with D while TP holds it
        config.save_service(db, "KH", "Lĩnh vực khác", "D", actor="quantri", now=tomorrow)
    assert taken.value.code == "prefix_taken"
    config.save_service(db, "KH", "Lĩnh vực khác", "E", actor="quantri", now=tomorrow)
    assert queue.issue_ticket(db, "KH", tomorrow)["number"] == "E001"


def test_a_closed_counter_cannot_call_and_a_busy_one_cannot_close(box: Box, clock: FakeClock) -> None:
    db = box.db()
    queue.issue_ticket(db, "HT", clock())
    queue.issue_ticket(db, "HT", clock())
    called = queue.call_next(db, 2, "canbo", clock())
    assert called is not None
    with pytest.raises(ConflictError) as busy:
        config.save_counter(db, 2, "Quầy số 2", ["HT"], active=False, actor="quantri", now=clock())
    assert busy.value.code == "counter_busy" and called["number"] in busy.value.vi
    queue.finish(db, called["id"], clock())
    config.save_counter(db, 2, "Quầy số 2", ["HT"], active=False, actor="quantri", now=clock())
    with pytest.raises(ConflictError) as closed:
        queue.call_next(db, 2, "canbo", clock())
    assert closed.value.code == "counter_inactive" and "tạm ngừng" in closed.value.vi
    assert [c["number"] for c in queue.list_counters(db, active_only=True)] == [1, 3]
    assert len(queue.waiting(db, clock())) == 1  # nobody was called by the closed counter


def test_a_counter_serves_only_the_ticked_services(box: Box, clock: FakeClock) -> None:
    db = box.db()
    saved = config.save_counter(db, "4", " Quầy  số 4 ", ["DD", "CT"], actor="quantri", now=clock(), new=True)
    assert saved == {"number": 4, "name": "Quầy số 4", "services": ["CT", "DD"], "active": True}
    queue.issue_ticket(db, "HT", clock())
    assert queue.call_next(db, 4, "canbo", clock()) is None
    clock.advance(minutes=1)
    b = queue.issue_ticket(db, "CT", clock())
    assert (queue.call_next(db, 4, "canbo", clock()) or {}).get("number") == b["number"]


@pytest.mark.parametrize(
    ("number", "name", "services", "field"),
    [
        ("0", "Quầy 0", ["HT"], "number"),
        ("100", "Quầy 100", ["HT"], "number"),
        ("a", "Quầy", ["HT"], "number"),
        ("5", "", ["HT"], "name"),
        ("5", "Quầy số 5", [], "services"),
        ("5", "Quầy số 5", ["ZZ"], "services"),
    ],
)
def test_a_wrong_counter_is_refused_and_nothing_changes(
    box: Box, clock: FakeClock, number: str, name: str, services: list[str], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        config.save_counter(box.db(), number, name, services, actor="quantri", now=clock(), new=True)
    assert refused.value.field == field
    assert [c["number"] for c in queue.list_counters(box.db())] == [1, 2, 3]


def test_a_counter_with_tickets_sent_to_it_cannot_close(box: Box, clock: FakeClock) -> None:
    db = box.db()
    queue.issue_ticket(db, "HT", clock())
    called = queue.call_next(db, 1, "canbo", clock())
    assert called is not None
    queue.transfer(db, called["id"], counter=3)
    with pytest.raises(ConflictError) as refused:
        config.save_counter(db, 3, "Quầy số 3", ["HT"], active=False, actor="quantri", now=clock())
    assert refused.value.code == "counter_has_waiting"
    with pytest.raises(ConflictError):
        config.save_counter(db, 3, "Quầy số 3", ["HT"], actor="quantri", now=clock(), new=True)
    with pytest.raises(NotFoundError):
        config.save_counter(db, 7, "Quầy số 7", ["HT"], actor="quantri", now=clock())
