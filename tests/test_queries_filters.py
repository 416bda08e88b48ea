"""The dossier list's filters: received dates, due today, due soon, and every plan giving the same rows."""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import statistics
import time
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from edge import actions, intake, queries
from edge.box import Box
from edge.calendar import TZ
from edge.events import events_of
from edge.hlc import format_hlc, parse_hlc
from edge.lifecycle import finished_late
from edge.queries import ListQuery, is_due_soon, list_dossiers
from edge.replication import apply_events
from edge.text import fold
from edge.users import User
from tests.conftest import FakeClock, applicant, dossier_body

BIG_BOX = Path(__file__).resolve().parent.parent / "bench" / "out" / "box-v1-1000000-s2027" / "motcua.db"
NAMES = ("Nguyễn Văn An", "Trần Thị Bình", "Lê Đức Cường", "Phạm Thu Hà", "Đỗ Minh Đức")


def codes(box: Box, clock: FakeClock, **filters: Any) -> list[str]:
    return [d["code"] for d in list_dossiers(box.db(), ListQuery(**filters), clock())["items"]]


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    """Return a moment in November 2026, Vietnam time."""
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ)


def test_received_date_range_is_inclusive_by_vietnam_day(box: Box, officer: User, clock: FakeClock) -> None:
    made = {}
    for day, hour in ((23, 8), (24, 7), (24, 16), (25, 9), (26, 10)):
        clock.set(at(day, hour))
        made[(day, hour)] = intake.receive_dossier(box, officer, dossier_body())["code"]
    clock.set(at(26, 11))
    assert codes(box, clock, received_from=date(2026, 11, 24), received_to=date(2026, 11, 24)) == [
        made[(24, 16)],
        made[(24, 7)],
    ]
    assert codes(box, clock, received_from=date(2026, 11, 25)) == [made[(26, 10)], made[(25, 9)]]
    assert codes(box, clock, received_to=date(2026, 11, 23)) == [made[(23, 8)]]
    assert codes(box, clock, received_from=date(2026, 11, 27)) == []
    assert codes(box, clock, received_from=date(2026, 11, 26), received_to=date(2026, 11, 24)) == []


def test_received_filter_orders_by_receipt_and_pages_by_cursor(box: Box, officer: User, clock: FakeClock) -> None:
    clock.set(at(23))
    online = intake.receive_dossier(box, officer, dossier_body(channel="online"))["code"]  # not received yet
    assert codes(box, clock, received_from=date(2026, 11, 1)) == []
    clock.set(at(24))
    counter = [intake.receive_dossier(box, officer, dossier_body())["code"] for _ in range(3)]
    clock.set(at(25))
    actions.act(box, officer, online, "receive", {})  # received after the others, made before them
    expected = [online, *reversed(counter)]
    assert codes(box, clock, received_from=date(2026, 11, 24)) == expected
    assert codes(box, clock)[-1] == online  # without the filter: the order dossiers reached the box
    seen, cursor = [], None
    while True:
        page = list_dossiers(box.db(), ListQuery(received_from=date(2026, 11, 24), limit=1, cursor=cursor), clock())
        seen += [d["code"] for d in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = int(page["next_cursor"])
    assert seen == expected


def test_due_on_a_day_counts_only_running_clocks(box: Box, officer: User, leader: User, clock: FakeClock) -> None:
    clock.set(at(25, 9))
    # 3 working days: due Monday 30/11 (weekend skipped); same-day procedure: due today.
    three = [intake.receive_dossier(box, officer, dossier_body("1.001022"))["code"] for _ in range(3)]
    same_day = intake.receive_dossier(box, officer, dossier_body("1.001193"))["code"]
    due = actions.find_state(box, three[0])["due_at"]
    assert due.startswith("2026-11-30"), due
    actions.act(box, leader, three[1], "approve", {})  # finished: no longer "due"
    actions.act(box, officer, three[2], "request-supplement", {"reason": "Thiếu giấy tờ"})  # clock paused
    assert codes(box, clock, due_on=date(2026, 11, 30)) == [three[0]]
    assert codes(box, clock, due_on=date(2026, 11, 25)) == [same_day]
    clock.set(at(25, 18))  # past due: still due today (and overdue)
    assert codes(box, clock, due_on=date(2026, 11, 25)) == [same_day]
    assert codes(box, clock, due_on=date(2026, 11, 25), overdue=True) == [same_day]
    assert codes(box, clock, due_on=date(2026, 11, 26)) == []


def test_due_soon_matches_the_row_colour(box: Box, officer: User, clock: FakeClock) -> None:
    clock.set(at(25, 9))
    soon = intake.receive_dossier(box, officer, dossier_body("2.001035"))["code"]  # 2 working days
    later = intake.receive_dossier(box, officer, dossier_body("1.000419"))["code"]  # 5 working days
    page = list_dossiers(box.db(), ListQuery(due_within_days=2), clock())["items"]
    assert [d["code"] for d in page] == [soon]
    every = {d["code"]: d for d in list_dossiers(box.db(), ListQuery(), clock())["items"]}
    assert is_due_soon(every[soon]["status"], every[soon]["due_at"], clock())
    assert not is_due_soon(every[later]["status"], every[later]["due_at"], clock())
    clock.set(at(30, 9))  # both past due or beyond: overdue is not "soon"
    assert not is_due_soon(every[soon]["status"], every[soon]["due_at"], clock())


# --- every plan gives the rows a plain reading of the filters gives -----------------------------


def populate(box: Box, officer: User, leader: User, clock: FakeClock) -> None:
    """Dossiers over a week, in every status, two assignees, procedures, an online one, a conflict."""
    procedures = ("1.001193", "1.001022", "2.001035", "1.000419")
    n = 0
    for day in (19, 20, 23, 24, 25):
        for hour in (8, 10, 14, 16):
            clock.set(at(day, hour, n % 50))
            person = applicant(full_name=NAMES[n % len(NAMES)], id_number=f"0010990{n:05d}")
            body = dossier_body(procedures[n % 4], applicant=person, channel="online" if n % 9 == 4 else "counter")
            code = intake.receive_dossier(box, officer, body)["code"]
            clock.advance(minutes=5)
            path = [
                [],
                [("transfer", {"assignee": "canbo2"})],
                [("transfer", {"assignee": "lanhdao"}), ("approve", {})],
                [("request-supplement", {"reason": "Thiếu"})],
                [("receive", {})],
                [("approve", {}), ("return-result", {})],
                [("withdraw", {"reason": "Rút"})],
                [("request-payment", {})],
            ][n % 8]
            for action, action_body in path:
                state = actions.find_state(box, code)
                if action == "receive" and state["status"] != "receiving":
                    continue
                if state["status"] == "receiving" and action not in ("receive", "withdraw"):
                    actions.act(box, officer, code, "receive", {})
                actions.act(box, leader if action == "approve" else officer, code, action, action_body)
            n += 1
    clock.set(at(25, 17))
    late = intake.receive_dossier(box, officer, dossier_body("1.001193"))  # same day: due 26/11
    actions.act(box, leader, late["code"], "approve", {})
    ms, counter = parse_hlc(events_of(box.db(), late["dossier_id"])[-1].hlc)
    # Upstream the citizen withdrew just after the result was ready here: a conflict.
    assert apply_events(box, [_remote_withdrawal(late, format_hlc(ms, counter + 1))])["conflicts"] == 1
    clock.set(at(26, 9, 30))


def _remote_withdrawal(state: dict[str, Any], hlc: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "dossier_id": state["dossier_id"],
        "kind": "withdrawn",
        "payload": {"reason": "Rút trên cổng"},
        "actor": "cong-dich-vu-cong",
        "origin": "hub:province-01",
        "wall_time": "2026-11-25T17:30:00+07:00",
        "hlc": hlc,
    }


def reference(db: sqlite_utils.Database, query: ListQuery, now: datetime) -> list[str]:
    """Return the codes the query must list, filtering every row in Python."""
    rows = db.execute("SELECT d.id, d.state, s.text FROM dossiers d JOIN dossier_search s ON s.rowid = d.id").fetchall()
    words = re.findall(r"\w+", fold(query.q)) if query.q else []
    out = []
    for row_id, text, search in rows:
        st = json.loads(text)
        status, due = st["status"], st["due_at"]
        due_dt = datetime.fromisoformat(due) if due else None
        late = finished_late(st)
        running = status in queries.OVERDUE_STATUSES
        received = datetime.fromisoformat(st["received_at"]).date() if st["received_at"] else None
        checks = [
            not query.status or status in query.status,
            query.overdue is None or queries.is_overdue(status, due, late, now) == query.overdue,
            query.due_within_days is None
            or (running and due_dt is not None and now <= due_dt <= now + timedelta(days=query.due_within_days)),
            query.due_on is None or (running and due_dt is not None and due_dt.date() == query.due_on),
            not query.procedure_code or st["procedure"]["code"] == query.procedure_code,
            not query.assignee or st["assignee"] == query.assignee,
            query.conflict is None or st["conflict"] == query.conflict,
            query.received_from is None or (received is not None and received >= query.received_from),
            query.received_to is None or (received is not None and received <= query.received_to),
            all(any(token.startswith(w) for token in search.split()) for w in words),
        ]
        if all(checks):
            out.append((st["received_at"] or "", row_id, st["code"]))
    by_received = (query.received_from or query.received_to) and not query.q
    out.sort(key=(lambda r: (r[0], r[1])) if by_received else (lambda r: r[1]), reverse=True)
    return [code for _, _, code in out]


def all_pages(db: sqlite_utils.Database, query: ListQuery, now: datetime) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        page = list_dossiers(db, replace(query, cursor=cursor), now)
        seen += [d["code"] for d in page["items"]]
        if not page["next_cursor"]:
            return seen
        cursor = int(page["next_cursor"])
    raise AssertionError("paging does not end")


QUERIES = [
    {},
    {"status": ("new",)},
    {"status": ("processing", "paying")},
    {"status": ("done",)},
    {"status": ("waiting",)},
    {"overdue": True},
    {"overdue": False},
    {"due_within_days": 2},
    {"due_on": date(2026, 11, 27)},
    {"due_on": date(2026, 11, 30)},
    {"procedure_code": "1.001022"},
    {"assignee": "canbo2"},
    {"conflict": True},
    {"conflict": False},
    {"received_from": date(2026, 11, 23)},
    {"received_to": date(2026, 11, 20)},
    {"received_from": date(2026, 11, 20), "received_to": date(2026, 11, 24)},
    {"q": "nguyen"},
    {"q": "tran thi"},
    {"q": "0010990"},
]


def combos() -> list[ListQuery]:
    out = [ListQuery(**q) for q in QUERIES]  # type: ignore[arg-type]
    for a, b in itertools.combinations(QUERIES[1:], 2):
        if set(a) & set(b):
            continue
        out.append(ListQuery(**a, **b))  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize("probe", [1, 3, 5000, 10**9])
def test_every_plan_lists_the_same_rows(
    box: Box, officer: User, leader: User, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, probe: int
) -> None:
    """Whichever index drives (a small filter, or a walk in page order), the rows and pages agree."""
    populate(box, officer, leader, clock)
    monkeypatch.setattr(queries, "PROBE_LIMIT", probe)
    monkeypatch.setattr(queries, "SEARCH_PROBE_LIMIT", probe)
    db, now = box.db(), clock()
    checked = 0
    for query in combos():
        expected = reference(db, query, now)
        assert all_pages(db, replace(query, limit=4), now) == expected, query
        checked += bool(expected)
    assert checked > 60  # the data set makes most combinations non-empty


def test_the_data_set_covers_the_filters(box: Box, officer: User, leader: User, clock: FakeClock) -> None:
    populate(box, officer, leader, clock)
    db, now = box.db(), clock()
    for query in QUERIES:
        assert reference(db, ListQuery(**query), now), query  # type: ignore[arg-type]


def test_api_parameters_are_unchanged() -> None:
    fields = [f for f in ListQuery.__dataclass_fields__]
    assert fields[:9] == [
        "status", "overdue", "q", "procedure_code", "assignee", "conflict", "due_within_days", "limit", "cursor",
    ]  # fmt: skip


def _plans(db: sqlite_utils.Database, query: ListQuery, now: datetime) -> list[str]:
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        list_dossiers(db, query, now)
    finally:
        db.conn.set_trace_callback(None)
    details = []
    for sql in statements:
        details += [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
    return details


@pytest.mark.parametrize(
    "filters",
    [
        {"status": ("new",)},
        {"due_on": date(2026, 11, 27)},
        {"due_within_days": 2},
        {"received_from": date(2026, 11, 25)},
        {"overdue": True},
        {"conflict": True},
        {"procedure_code": "1.001022"},
        {"assignee": "canbo2"},
    ],
)
def test_selective_filters_never_scan_the_table_unordered(
    box: Box, officer: User, leader: User, clock: FakeClock, filters: dict[str, Any]
) -> None:
    """Each filter reads through an index (or walks the table newest first and stops at the page)."""
    populate(box, officer, leader, clock)
    details = _plans(box.db(), ListQuery(**filters), clock())
    assert not any(d.startswith("SCAN dossiers") and "INDEX" not in d for d in details), details
    assert any("INDEX" in d for d in details), details


@pytest.mark.skipif(not BIG_BOX.exists(), reason="the cached 1,000,000-dossier bench box is not here")
def test_new_filters_are_fast_on_a_million_dossiers() -> None:
    conn = sqlite3.connect(f"file:{BIG_BOX}?mode=ro", uri=True)
    db = sqlite_utils.Database(conn)
    now = datetime.fromisoformat(db.execute("SELECT max(created_at) FROM dossiers").fetchone()[0])
    today = now.date()
    cases = [
        ListQuery(received_from=today),
        ListQuery(received_from=today - timedelta(days=365), received_to=today - timedelta(days=300)),
        ListQuery(received_to=today - timedelta(days=600)),
        ListQuery(due_on=today),
        ListQuery(due_on=today + timedelta(days=3)),
        ListQuery(due_within_days=2),
        ListQuery(status=("done",)),
        ListQuery(status=("releasing",)),
        ListQuery(overdue=True),
        ListQuery(received_from=today - timedelta(days=365), status=("waiting",)),
        ListQuery(q="nguyen", status=("receiving",)),
    ]
    try:
        for query in cases:
            list_dossiers(db, query, now)  # warm the pages this query reads
            times = []
            for _ in range(5):
                start = time.perf_counter()
                page = list_dossiers(db, query, now)
                if page["next_cursor"]:
                    list_dossiers(db, replace(query, cursor=int(page["next_cursor"])), now)
                times.append(time.perf_counter() - start)
            assert statistics.median(times) < 0.1, (query, times)
    finally:
        conn.close()
