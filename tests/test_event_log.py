"""The event log: projections rebuild identically, remote events apply once, conflicts are kept."""

from __future__ import annotations

import random
import sqlite3
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge import actions, intake, projection
from edge.box import Box, init_box, open_box
from edge.calendar import TZ
from edge.events import Event, events_of
from edge.hlc import format_hlc, parse_hlc
from edge.lifecycle import fold
from edge.queries import ListQuery, list_dossiers
from edge.replication import apply_events
from edge.store.db import write
from edge.users import User
from tests.conftest import FakeClock, dossier_body

HUB = "hub:province-01"


def rows(db_path: Path) -> list[tuple[object, ...]]:
    """Return every projection row without its local id, in code order."""
    conn = sqlite3.connect(db_path)
    try:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(dossiers)") if r[1] != "id"]
        return conn.execute(f"SELECT {', '.join(cols)} FROM dossiers ORDER BY code").fetchall()
    finally:
        conn.close()


def populate(box: Box, officer: User, leader: User, clock: FakeClock, count: int = 12) -> None:
    """Make dossiers that went through many different paths."""
    for i in range(count):
        code = intake.receive_dossier(box, officer, dossier_body(channel="online" if i % 6 == 4 else "counter"))["code"]
        clock.advance(minutes=7)
        path = [
            [],
            [("transfer", {"assignee": "canbo2"})],
            [("request-supplement", {"reason": "Thiếu giấy tờ"}), ("supplement-received", {})],
            [("transfer", {"assignee": "canbo2"}), ("approve", {}), ("return-result", {})],
            [("receive", {}), ("refuse", {"reason": "Sai thẩm quyền"})],
            [("withdraw", {"reason": "Công dân rút"})],
        ][i % 6]
        for action, body in path:
            actions.act(box, leader if action == "approve" else officer, code, action, body)
            clock.advance(minutes=3)


def test_rebuild_gives_identical_rows(box: Box, officer: User, leader: User, clock: FakeClock) -> None:
    populate(box, officer, leader, clock)
    before = rows(box.settings.db_path)
    db = box.db()
    with write(db):
        assert projection.rebuild_all(db) == 12
    assert rows(box.settings.db_path) == before
    found = list_dossiers(db, ListQuery(q="nguyen van an"), clock())
    assert len(found["items"]) == 12  # the search index was rebuilt too


def test_rebuild_from_shuffled_log_in_another_box(
    box: Box, officer: User, leader: User, clock: FakeClock, tmp_path: Path
) -> None:
    populate(box, officer, leader, clock)
    conn = sqlite3.connect(box.settings.db_path)
    events = conn.execute(
        "SELECT event_id, dossier_id, kind, payload, actor, origin, wall_time, hlc FROM dossier_events"
    ).fetchall()
    conn.close()
    random.Random(7).shuffle(events)
    other = open_box(init_box(tmp_path / "other", "00002", "000.00.00.H30", "UBND xã Khác").data_dir)
    db = other.db()
    with write(db):
        db.conn.executemany(
            "INSERT INTO dossier_events (event_id, dossier_id, kind, payload, actor, origin, wall_time, hlc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            events,
        )
        projection.rebuild_all(db)
    assert rows(other.settings.db_path) == rows(box.settings.db_path)
    other.close()


def test_fold_is_order_independent(box: Box, officer: User, leader: User, clock: FakeClock) -> None:
    populate(box, officer, leader, clock, count=6)
    db = box.db()
    for (dossier_id,) in db.execute("SELECT dossier_id FROM dossiers").fetchall():
        check_any_order(events_of(db, dossier_id))


def check_any_order(log: list[Event]) -> None:
    """Fold the log in many orders and compare with the stored order."""
    expected = fold(log)

    @settings(max_examples=30, deadline=None)
    @given(st.permutations(log))
    def check(order: list[Event]) -> None:
        assert fold(order) == expected

    check()


def remote(dossier_id: str, kind: str, payload: dict[str, object], hlc: str, at: str) -> dict[str, object]:
    """Return an event as the hub would send it."""
    return {
        "event_id": str(uuid.uuid4()),
        "dossier_id": dossier_id,
        "kind": kind,
        "payload": payload,
        "actor": "cong-dich-vu-cong",
        "origin": HUB,
        "wall_time": at,
        "hlc": hlc,
    }


def test_remote_events_apply_idempotently(box: Box, officer: User) -> None:
    state = intake.receive_dossier(box, officer, dossier_body())
    event = remote(
        state["dossier_id"], "transferred", {"assignee": "canbo2"}, "999999999999999.000000", state["received_at"]
    )
    first = apply_events(box, [event, event])
    again = apply_events(box, [event])
    assert (first["applied"], first["duplicates"], again["applied"]) == (1, 1, 0)
    assert len(events_of(box.db(), state["dossier_id"])) == 2
    assert actions.find_state(box, state["code"])["status"] == "processing"


def test_dossier_filed_upstream_arrives_whole(box: Box, officer: User) -> None:
    """A created event and a later one arriving in reverse order still fold into one dossier."""
    dossier_id = str(uuid.uuid4())
    local = intake.receive_dossier(box, officer, dossier_body(channel="online"))
    created = events_of(box.db(), local["dossier_id"])[0].to_dict()
    created.update(event_id=str(uuid.uuid4()), dossier_id=dossier_id, origin=HUB, hlc="000000000000001.000000")
    created["payload"] = {**created["payload"], "code": "000.00.00.H30-261125-0001"}
    withdrawn = remote(
        dossier_id, "withdrawn", {"reason": "Rút trên cổng"}, "000000000000002.000000", created["wall_time"]
    )
    apply_events(box, [withdrawn])
    assert box.db().execute("SELECT count(*) FROM dossiers WHERE dossier_id = ?", [dossier_id]).fetchone()[0] == 0
    apply_events(box, [created])
    assert actions.find_state(box, "000.00.00.H30-261125-0001")["status"] == "cancelled"


def test_conflict_is_kept_and_flagged(box: Box, officer: User, leader: User, clock: FakeClock) -> None:
    state = intake.receive_dossier(box, officer, dossier_body())
    code = state["code"]
    actions.act(box, leader, code, "approve", {})
    approved = events_of(box.db(), state["dossier_id"])[-1].hlc
    ms, counter = parse_hlc(approved)
    # Upstream, the citizen withdrew online just after the approval, before the result was returned here.
    withdrawn = remote(
        state["dossier_id"],
        "withdrawn",
        {"reason": "Rút trên cổng"},
        format_hlc(ms, counter + 1),
        "2026-11-25T09:30:00+07:00",
    )
    time.sleep(0.005)
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=TZ))
    actions.act(box, officer, code, "return-result", {})
    result = apply_events(box, [withdrawn])
    assert result["conflicts"] == 1
    state = actions.find_state(box, code)
    assert state["conflict"] is True
    assert [e.kind for e in events_of(box.db(), state["dossier_id"])].count("withdrawn") == 1  # both sides kept
    assert state["conflicts"][0]["origin"] in (HUB, box.origin)
    flagged = list_dossiers(box.db(), ListQuery(conflict=True), clock())["items"]
    assert [d["code"] for d in flagged] == [code]
    with pytest.raises(Exception) as err:
        actions.act(box, officer, code, "resolve-conflict", {"note": "Đã liên hệ công dân"})
    assert getattr(err.value, "code", "") == "forbidden"
    resolved = actions.act(
        box, leader, code, "resolve-conflict", {"note": "Công dân đã nhận kết quả", "status": "done"}
    )
    assert resolved["conflict"] is False and resolved["status"] == "done"
    assert resolved["resolutions"][0]["conflicts"]


def test_bad_remote_event_is_refused_whole(box: Box, officer: User) -> None:
    state = intake.receive_dossier(box, officer, dossier_body())
    good = remote(
        state["dossier_id"], "transferred", {"assignee": "canbo2"}, "999999999999999.000000", state["received_at"]
    )
    bad = {**good, "event_id": "not-a-uuid"}
    with pytest.raises(Exception) as err:
        apply_events(box, [good, bad])
    assert "events[1]" in str(getattr(err.value, "field", ""))
    assert len(events_of(box.db(), state["dossier_id"])) == 1
