"""Reports on real boxes: today's counts, the report by period/procedure/officer, the logbook."""

from __future__ import annotations

import heapq
import json
import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from edge import actions, events, intake, projection, reports
from edge.box import Box
from edge.calendar import TZ
from edge.errors import ValidationError
from edge.lifecycle import STATUSES
from edge.queries import ListQuery, list_dossiers
from edge.store.db import write
from edge.users import User
from tests.conftest import FakeClock, applicant, dossier_body

FIVE_DAY = "1.001731"  # 5 working days
THREE_DAY = "1.004194"  # 3 working days
SAME_DAY = "1.001193"  # same day, cut-off 15:00
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=TZ)
OFFICER2 = User("canbo2", "officer")
LEADER = User("lanhdao", "leader")
BINH = "Trần Thị Bình"  # canbo2's full name in these tests
COUNTS = ("received", "on_time", "late", "in_progress", "overdue", "refused", "withdrawn", "stopped", "online", "post")


def at(clock: FakeClock, month: int, day: int, hour: int, minute: int = 0) -> None:
    clock.set(datetime(2026, month, day, hour, minute, tzinfo=TZ))


def receive(box: Box, user: User, procedure: str, **changes: object) -> str:
    return str(intake.receive_dossier(box, user, dossier_body(procedure, **changes))["code"])


def build_scenario(box: Box, clock: FakeClock, officer: User) -> dict[str, str]:
    """Eleven received dossiers and one waiting online, from September to 25/11/2026 09:00 (see each line)."""
    box.db().execute("UPDATE users SET full_name = ? WHERE username = 'canbo2'", [BINH])
    c: dict[str, str] = {}
    act = actions.act
    # A: Q3, received by canbo, two documents (2 + 1 sets), returned by post, on time.
    at(clock, 9, 14, 9)
    docs = [
        {"name": "Tờ khai", "kind": "original", "quantity": 2},
        {"name": "Sổ hộ khẩu", "kind": "photocopy", "quantity": 1},
    ]
    c["A"] = receive(box, officer, FIVE_DAY, documents=docs, return_method="post")
    at(clock, 9, 14, 10)
    act(box, officer, c["A"], "transfer", {"assignee": "canbo2"})
    # B: Q3, received by canbo2 (three days: due 18/09 10:00), result ready late on 22/09.
    at(clock, 9, 15, 10)
    c["B"] = receive(box, OFFICER2, THREE_DAY)
    at(clock, 9, 16, 9)
    act(box, LEADER, c["A"], "approve", {})
    at(clock, 9, 17, 9)
    act(box, officer, c["A"], "return-result", {})
    at(clock, 9, 22, 9)
    act(box, LEADER, c["B"], "approve", {})
    # C: refused at intake.
    at(clock, 10, 5, 9)
    c["C"] = receive(box, officer, SAME_DAY)
    at(clock, 10, 5, 9, 30)
    act(box, officer, c["C"], "refuse", {"reason": "Sai thẩm quyền giải quyết"})
    # D: filed online on 6/10, received by canbo2 on 7/10, then withdrawn.
    at(clock, 10, 6, 9)
    c["D"] = receive(box, officer, THREE_DAY, channel="online")
    at(clock, 10, 7, 8)
    act(box, OFFICER2, c["D"], "receive", {})
    at(clock, 10, 8, 9)
    act(box, officer, c["D"], "withdraw", {"reason": "Công dân xin rút"})
    # E: stopped.
    at(clock, 10, 20, 9)
    c["E"] = receive(box, officer, FIVE_DAY)
    at(clock, 10, 21, 9)
    act(box, officer, c["E"], "stop", {"reason": "Không đủ điều kiện"})
    # F: November, still new, due 9/11: overdue now.
    at(clock, 11, 2, 9)
    c["F"] = receive(box, officer, FIVE_DAY, applicant=applicant(full_name="Nguyễn Thị Ánh"))
    # G: due exactly now (25/11 09:00; 24/11 is a day off, Vietnamese Culture Day): due today, not overdue.
    at(clock, 11, 19, 9)
    c["G"] = receive(box, OFFICER2, THREE_DAY)
    # L: processing, due 27/11 08:00 (within two days).
    at(clock, 11, 23, 8)
    c["L"] = receive(box, officer, THREE_DAY)
    at(clock, 11, 23, 8, 30)
    act(box, officer, c["L"], "transfer", {"assignee": "canbo2"})
    # H: waiting for a supplement (the clock is paused).
    at(clock, 11, 23, 10)
    c["H"] = receive(box, officer, FIVE_DAY)
    at(clock, 11, 24, 8)
    act(box, officer, c["H"], "request-supplement", {"reason": "Thiếu bản sao giấy khai sinh"})
    # I: filed online on the day off, never received: not in the report, counted as receiving.
    at(clock, 11, 24, 14)
    c["I"] = receive(box, officer, THREE_DAY, channel="online")
    # J: received and returned this morning.
    at(clock, 11, 25, 8)
    c["J"] = receive(box, officer, SAME_DAY)
    at(clock, 11, 25, 8, 30)
    act(box, officer, c["J"], "approve", {})
    at(clock, 11, 25, 8, 45)
    act(box, officer, c["J"], "return-result", {"method": "counter"})
    # K: received this morning, due today 17:00.
    at(clock, 11, 25, 8, 50)
    c["K"] = receive(box, OFFICER2, SAME_DAY)
    # E gets an approval from another box that its status no longer allows: a conflict.
    clock.set(NOW)
    db = box.db()
    with write(db):
        state = actions.find_state(box, c["E"])
        event = events.new_event(
            db, state["dossier_id"], "approved", {}, actor="canbo", origin="box:other", wall_time=events.iso(NOW)
        )
        events.append(db, event)
        projection.refold(db, state["dossier_id"])
    return c


@pytest.fixture
def scenario(box: Box, clock: FakeClock, officer: User) -> dict[str, str]:
    return build_scenario(box, clock, officer)


def states(box: Box) -> list[dict[str, Any]]:
    return [json.loads(s) for (s,) in box.db().execute("SELECT state FROM dossiers")]


def group_key(state: dict[str, Any], group_by: str) -> str:
    """The group of a dossier, computed from its state with datetime (not text)."""
    received = datetime.fromisoformat(state["received_at"]).astimezone(TZ)
    return {
        "day": received.date().isoformat(),
        "month": f"{received.year}-{received.month:02d}",
        "quarter": f"{received.year}-Q{(received.month - 1) // 3 + 1}",
        "procedure": state["procedure"]["code"],
        "officer": state["received_by"] or "",
    }[group_by]


def expected(box: Box, start: date, end: date, group_by: str, now: datetime) -> dict[str, Counter[str]]:
    """Count each group in Python from the folded states, independently of the SQL."""
    out: dict[str, Counter[str]] = {}
    for s in states(box):
        if not s["received_at"] or not start <= datetime.fromisoformat(s["received_at"]).astimezone(TZ).date() <= end:
            continue
        n = out.setdefault(group_key(s, group_by), Counter())
        n["received"] += 1
        status = s["status"]
        if status in ("releasing", "done"):
            late = datetime.fromisoformat(s["finished_at"]) > datetime.fromisoformat(s["due_at"])
            n["late" if late else "on_time"] += 1
        elif status in ("new", "processing", "waiting", "paying", "receiving"):
            n["in_progress"] += 1
            if status != "waiting" and status != "receiving" and now > datetime.fromisoformat(s["due_at"]):
                n["overdue"] += 1
        else:
            n[{"denied": "refused", "cancelled": "withdrawn", "unresolved": "stopped"}[status]] += 1
        n["online"] += s["channel"] == "online"
        n["post"] += s["return_method"] == "post"
    return out


def counts_of(row: reports.Row) -> Counter[str]:
    return Counter({name: getattr(row, name) for name in COUNTS if getattr(row, name)})


def check_against_python(box: Box, start: date, end: date, group_by: str, now: datetime) -> list[reports.Row]:
    """Run the report and compare every row, and the total, with the Python count."""
    rows = reports.summary(box.db(), start, end, group_by, now=now)
    *body, total = rows
    want = expected(box, start, end, group_by, now)
    assert total.is_total and total.key == reports.TOTAL_KEY and total.label == "Tổng cộng"
    assert not any(r.is_total for r in body)
    assert {r.key: counts_of(r) for r in body if r.received} == want
    assert len({r.key for r in body}) == len(body)
    assert counts_of(total) == sum(want.values(), Counter())
    for row in rows:
        assert row.received == row.on_time + row.late + row.in_progress + row.refused + row.withdrawn + row.stopped
        assert row.finished == row.on_time + row.late
        assert row.on_time_rate == (row.on_time / row.finished if row.finished else None)
        assert row.online_share == (row.online / row.received if row.received else None)
        assert row.post_share == (row.post / row.received if row.received else None)
    return rows


# --- Today ------------------------------------------------------------------------------------


def test_today_counts(box: Box, scenario: dict[str, str]) -> None:
    counts = reports.today_counts(box.db(), NOW)
    assert counts == {
        "received_today": 2,  # J, K
        "due_today": 2,  # G (09:00, not yet past), K (17:00)
        "due_in_2_days": 3,  # G, K, L (27/11 08:00)
        "overdue": 1,  # F; B is finished late, H waits for a supplement
        "waiting": 1,  # H
        "receiving": 1,  # I
        "conflicts": 1,  # E
        "returned_today": 1,  # J
    }


def test_today_counts_agree_with_the_dossier_list(box: Box, scenario: dict[str, str]) -> None:
    def listed(query: ListQuery, now: datetime) -> list[dict[str, Any]]:
        return list(list_dossiers(box.db(), replace(query, limit=500), now)["items"])

    for now in (NOW, NOW + timedelta(minutes=1), NOW + timedelta(days=2, hours=9), NOW - timedelta(days=14)):
        counts = reports.today_counts(box.db(), now)
        # The dossier list's filters: "due within 2 days" and "overdue" (which adds the finished late ones).
        assert counts["due_in_2_days"] == len(listed(ListQuery(due_within_days=2), now))
        open_overdue = [d for d in listed(ListQuery(overdue=True), now) if d["finished_at"] is None]
        assert counts["overdue"] == len(open_overdue)
        assert counts["conflicts"] == len(listed(ListQuery(conflict=True), now))
        every = listed(ListQuery(), now)
        today = now.date().isoformat()
        assert counts["received_today"] == sum((d["received_at"] or "").startswith(today) for d in every)
        assert counts["returned_today"] == sum((d["returned_at"] or "").startswith(today) for d in every)
        assert counts["waiting"] == sum(d["status"] == "waiting" for d in every)
        running = [d for d in every if d["status"] in ("new", "processing", "paying")]
        assert counts["due_today"] == sum(d["due_at"].startswith(today) for d in running)


def test_the_overdue_moment_is_exact(box: Box, scenario: dict[str, str]) -> None:
    # G is due at 09:00 on 25/11: not overdue at 09:00, overdue one second later.
    assert reports.today_counts(box.db(), NOW)["overdue"] == 1
    assert reports.today_counts(box.db(), NOW + timedelta(seconds=1))["overdue"] == 2
    # A naive moment is Vietnam time; another offset is converted.
    assert reports.today_counts(box.db(), NOW.replace(tzinfo=None)) == reports.today_counts(box.db(), NOW)
    assert reports.today_counts(box.db(), NOW.astimezone(UTC)) == reports.today_counts(box.db(), NOW)
    # 25/11 23:30 in UTC is already 26/11 in Vietnam: nothing received "today" there.
    assert reports.today_counts(box.db(), datetime(2026, 11, 25, 23, 30, tzinfo=UTC))["received_today"] == 0


def test_today_on_an_empty_box(box: Box) -> None:
    assert set(reports.today_counts(box.db(), NOW).values()) == {0}


# --- Summary ------------------------------------------------------------------------------------


def test_summary_by_month(box: Box, scenario: dict[str, str]) -> None:
    rows = check_against_python(box, date(2026, 9, 1), date(2026, 11, 30), "month", NOW)
    assert [(r.key, r.label) for r in rows] == [
        ("2026-09", "Tháng 09/2026"),
        ("2026-10", "Tháng 10/2026"),
        ("2026-11", "Tháng 11/2026"),
        ("total", "Tổng cộng"),
    ]
    sep, oct_, nov, total = rows
    assert (sep.received, sep.on_time, sep.late, sep.post, sep.on_time_rate, sep.post_share) == (2, 1, 1, 1, 0.5, 0.5)
    assert (oct_.received, oct_.refused, oct_.withdrawn, oct_.stopped, oct_.online) == (3, 1, 1, 1, 1)
    assert oct_.on_time_rate is None and oct_.online_share == pytest.approx(1 / 3)
    assert (nov.received, nov.on_time, nov.in_progress, nov.overdue) == (6, 1, 5, 1)
    assert (total.received, total.on_time, total.late, total.in_progress, total.overdue) == (11, 2, 1, 5, 1)
    assert total.on_time_rate == pytest.approx(2 / 3)
    assert all(r.group == "month" for r in rows)


def test_summary_by_quarter_and_day(box: Box, scenario: dict[str, str]) -> None:
    rows = check_against_python(box, date(2026, 8, 15), date(2026, 12, 31), "quarter", NOW)
    assert [(r.key, r.label, r.received) for r in rows] == [
        ("2026-Q3", "Quý 3/2026", 2),
        ("2026-Q4", "Quý 4/2026", 9),
        ("total", "Tổng cộng", 11),
    ]
    days = check_against_python(box, date(2026, 11, 1), date(2026, 11, 30), "day", NOW)
    assert len(days) == 31 and days[0].key == "2026-11-01" and days[0].label == "01/11/2026"
    assert {r.key: r.received for r in days if r.received and not r.is_total} == {
        "2026-11-02": 1,
        "2026-11-19": 1,
        "2026-11-23": 2,
        "2026-11-25": 2,  # I, filed on 24/11, was never received
    }
    # A range of one day; the edges of a range are inclusive.
    one = check_against_python(box, date(2026, 9, 15), date(2026, 9, 15), "day", NOW)
    assert [(r.key, r.received, r.late) for r in one] == [("2026-09-15", 1, 1), ("total", 1, 1)]


def test_periods_cross_the_year_and_empty_ones_are_listed(box: Box, scenario: dict[str, str]) -> None:
    rows = reports.summary(box.db(), date(2025, 11, 20), date(2027, 2, 3), "quarter", now=NOW)
    assert [r.key for r in rows] == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1", "total"]
    months = reports.summary(box.db(), date(2025, 12, 31), date(2026, 1, 1), "month", now=NOW)
    assert [(r.key, r.label, r.received) for r in months] == [
        ("2025-12", "Tháng 12/2025", 0),
        ("2026-01", "Tháng 01/2026", 0),
        ("total", "Tổng cộng", 0),
    ]
    assert months[-1].on_time_rate is None and months[-1].online_share is None


def test_summary_by_procedure(box: Box, scenario: dict[str, str]) -> None:
    rows = check_against_python(box, date(2026, 1, 1), date(2026, 12, 31), "procedure", NOW)
    names = dict(box.db().execute("SELECT code, name FROM procedures").fetchall())
    # Most received first; ties by code.
    assert [(r.key, r.received) for r in rows] == [(FIVE_DAY, 4), (THREE_DAY, 4), (SAME_DAY, 3), ("total", 11)]
    assert [r.label for r in rows[:-1]] == [names[FIVE_DAY], names[THREE_DAY], names[SAME_DAY]]
    assert rows[2].label == "Thủ tục đăng ký khai sinh"


def test_a_procedure_gone_from_the_catalogue_keeps_the_name_its_dossiers_kept(
    box: Box, scenario: dict[str, str]
) -> None:
    box.db().execute("DELETE FROM procedures WHERE code = ?", [SAME_DAY])
    rows = reports.summary(box.db(), date(2026, 1, 1), date(2026, 12, 31), "procedure", now=NOW)
    assert {r.key: r.label for r in rows}[SAME_DAY] == "Thủ tục đăng ký khai sinh"


def test_summary_by_officer(box: Box, scenario: dict[str, str]) -> None:
    rows = check_against_python(box, date(2026, 1, 1), date(2026, 12, 31), "officer", NOW)
    # canbo2 received B, G, K and D (received online by canbo2 although canbo created it).
    assert [(r.key, r.label, r.received) for r in rows] == [
        ("canbo", "canbo", 7),
        ("canbo2", BINH, 4),
        ("total", "Tổng cộng", 11),
    ]


def test_overdue_depends_on_now(box: Box, scenario: dict[str, str]) -> None:
    start, end = date(2026, 9, 1), date(2026, 11, 30)
    for now in (NOW - timedelta(days=30), NOW, NOW + timedelta(seconds=1), NOW + timedelta(days=40)):
        for group_by in reports.GROUPS:
            check_against_python(box, start, end, group_by, now)
    late = reports.summary(box.db(), start, end, "month", now=NOW + timedelta(days=40))[-1]
    assert late.overdue == 4  # F, G, K, L: H waits for a supplement, the clock is paused


def test_the_report_table_follows_every_write(box: Box, scenario: dict[str, str]) -> None:
    db = box.db()
    columns = "received_at, id, received_by, procedure_code, status, finished_late, due_at, channel, return_method"

    def copy() -> list[tuple[Any, ...]]:
        return db.execute(f"SELECT {columns} FROM dossiers_by_received ORDER BY received_at, id").fetchall()

    def truth() -> list[tuple[Any, ...]]:
        derived = columns.replace("received_by", "json_extract(state, '$.received_by')")
        rows = db.execute(
            f"SELECT {derived} FROM dossiers WHERE received_at IS NOT NULL ORDER BY received_at, id"
        ).fetchall()
        return list(rows)

    assert copy() == truth() and len(copy()) == 11
    assert {r[2] for r in copy()} == {"canbo", "canbo2"}
    with write(db):
        projection.rebuild_all(db)
    assert copy() == truth() and len(copy()) == 11


# --- Validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "group_by", "code", "field"),
    [
        (date(2026, 11, 2), date(2026, 11, 1), "month", "invalid_range", "start"),
        (date(2025, 1, 1), date(2026, 1, 2), "day", "range_too_long", "end"),  # 366 days is the most
        (date(2016, 1, 1), date(2026, 1, 1), "month", "range_too_long", "end"),  # 10 years is the most
        (date(2016, 2, 29), date(2026, 2, 28), "quarter", "range_too_long", "end"),
        (date(2026, 1, 1), date(2026, 1, 31), "week", "invalid_group_by", "group_by"),
        (datetime(2026, 1, 1, tzinfo=TZ), date(2026, 1, 31), "month", "invalid_date", "start"),
        (date(2026, 1, 1), "2026-01-31", "month", "invalid_date", "end"),
        (date(1999, 12, 31), date(2000, 1, 2), "day", "date_out_of_range", "start"),
    ],
)
def test_summary_rejects_bad_ranges(box: Box, start: Any, end: Any, group_by: str, code: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        reports.summary(box.db(), start, end, group_by, now=NOW)
    err = caught.value
    assert (err.code, err.field, err.status) == (code, field, 422)
    assert err.vi and err.en and err.vi != err.en


def test_the_longest_ranges_allowed(box: Box, scenario: dict[str, str]) -> None:
    assert len(reports.summary(box.db(), date(2024, 1, 1), date(2024, 12, 31), "day", now=NOW)) == 367
    assert len(reports.summary(box.db(), date(2016, 1, 1), date(2025, 12, 31), "month", now=NOW)) == 121
    assert len(reports.summary(box.db(), date(2016, 2, 29), date(2026, 2, 27), "quarter", now=NOW)) == 42
    assert len(reports.logbook(box.db(), date(2025, 11, 26), date(2026, 11, 25))) == 11
    with pytest.raises(ValidationError) as caught:
        reports.logbook(box.db(), date(2025, 11, 24), date(2026, 11, 25))
    assert caught.value.code == "range_too_long"
    assert "366" in caught.value.vi and "366" in caught.value.en
    with pytest.raises(ValidationError):
        reports.logbook(box.db(), date(2026, 11, 25), date(2026, 11, 24))


# --- Logbook -----------------------------------------------------------------------------------


def moment(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


def test_logbook_lines_in_receipt_order(box: Box, scenario: dict[str, str]) -> None:
    lines = reports.logbook(box.db(), date(2026, 9, 1), date(2026, 11, 30))
    c = scenario
    assert [x.code for x in lines] == [c[k] for k in "ABCDEFGLHJK"]
    assert [x.no for x in lines] == list(range(1, 12))
    assert [x.received_at for x in lines] == sorted(x.received_at for x in lines)
    assert {x.agency for x in lines} == {"UBND xã Thử Nghiệm"}
    a, b, c_, d, e, f, *_ = lines
    assert (a.procedure_code, a.quantity, a.applicant_name) == (FIVE_DAY, 3, "Nguyễn Văn An")
    assert a.procedure_name.startswith("Hỗ trợ chi phí mai táng")
    assert (a.address, a.phone) == ("Số 12 phố Hàng Bạc", "0912345678")
    assert (a.received_at, a.due_at) == (moment(9, 14, 9), moment(9, 21, 9))
    assert (a.transferred_at, a.transferred_to) == (moment(9, 14, 10), BINH)
    assert (a.result_at, a.returned_at, a.returned_via) == (moment(9, 16, 9), moment(9, 17, 9), "Qua bưu chính")
    assert (a.status, a.note) == ("done", "Đã trả kết quả")
    assert (b.due_at, b.result_at, b.returned_at, b.returned_via) == (moment(9, 18, 10), moment(9, 22, 9), None, "")
    assert (b.transferred_at, b.transferred_to) == (None, "")
    assert b.note == "Đã có kết quả, chờ trả; trễ hạn"
    assert (c_.status, c_.note, c_.result_at) == ("denied", "Từ chối tiếp nhận: Sai thẩm quyền giải quyết", None)
    assert d.received_at == moment(10, 7, 8)  # when canbo2 received it, not when it was filed
    assert d.note == "Đã rút hồ sơ: Công dân xin rút"
    assert e.note == "Dừng xử lý: Không đủ điều kiện"
    assert f.applicant_name == "Nguyễn Thị Ánh" and f.note == "Đã tiếp nhận"
    j = lines[9]
    assert (j.returned_at, j.returned_via, j.quantity) == (moment(11, 25, 8, 45), "Trực tiếp", 1)


def test_logbook_range_is_by_local_date(box: Box, scenario: dict[str, str]) -> None:
    assert [x.code for x in reports.logbook(box.db(), date(2026, 11, 25), date(2026, 11, 25))] == [
        scenario["J"],
        scenario["K"],
    ]
    assert reports.logbook(box.db(), date(2026, 11, 26), date(2026, 12, 31)) == []
    assert [x.code for x in reports.logbook(box.db(), date(2026, 11, 23), date(2026, 11, 24))] == [
        scenario["L"],
        scenario["H"],
    ]  # I, filed on 24/11, was never received


def test_logbook_status_notes_cover_every_status() -> None:
    for status, (_, label, _) in STATUSES.items():
        state = {"status": status, "outcome": None, "due_at": None, "finished_at": None}
        assert reports._note(state) == label


# --- A box with a few thousand dossiers ---------------------------------------------------------

PLANS: list[tuple[str, ...]] = [
    ("transfer", "approve", "return-result"),
    ("approve", "return-result"),
    ("transfer", "approve"),
    (),
    ("transfer",),
    ("refuse",),
    ("withdraw",),
    ("transfer", "stop"),
    ("request-supplement",),
    ("request-supplement", "supplement-received", "approve"),
    ("request-payment",),
]
BODIES: dict[str, dict[str, Any]] = {
    "transfer": {"assignee": "canbo2"},
    "refuse": {"reason": "Sai thẩm quyền"},
    "withdraw": {"reason": "Công dân rút"},
    "stop": {"reason": "Dừng"},
    "request-supplement": {"reason": "Thiếu giấy tờ"},
}


def fill(box: Box, clock: FakeClock, first: date, last: date, count: int, end: datetime, seed: int = 7) -> None:
    """Receive `count` dossiers over the working days first..last and act on them, in clock order, until end."""
    rng = random.Random(seed)
    cal = box.calendar()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    days = [d for d in days if cal.is_working_day(d)]
    users = [User("canbo", "officer"), OFFICER2, LEADER]
    procedures = [FIVE_DAY, THREE_DAY, SAME_DAY, "1.004873", "2.000815", "1.012812"]
    queue: list[tuple[datetime, int, str, Any]] = []
    for n in range(count):
        received = datetime.combine(rng.choice(days), datetime.min.time(), TZ) + timedelta(
            minutes=rng.randrange(420, 1020)
        )
        queue.append((received, n, "new", None))
    heapq.heapify(queue)
    seq = count
    while queue:
        when, _, what, data = heapq.heappop(queue)
        if when > end:
            continue
        clock.set(when)
        user = rng.choice(users)
        if what == "new":
            channel = rng.choices(["counter", "online", "post"], [6, 3, 1])[0]
            body = dossier_body(rng.choice(procedures), channel=channel, return_method=rng.choice(["counter", "post"]))
            code = intake.receive_dossier(box, user, body)["code"]
            steps = list(rng.choice(PLANS))
            if channel == "online":  # received first, or refused or withdrawn while waiting, or left waiting
                steps = (
                    ["receive", *steps] if rng.random() < 0.9 else list(rng.choice([(), ("refuse",), ("withdraw",)]))
                )
            data, what = (code, steps), "next"
        code, steps = data
        if what == "act":
            action = steps.pop(0)
            actions.act(box, user, code, action, BODIES.get(action, {}))
        if steps:
            seq += 1
            hours = rng.choice([0.5, 2, 20, 50, 90, 200])
            heapq.heappush(queue, (clock.now + timedelta(hours=hours), seq, "act", (code, steps)))


@pytest.mark.slow
def test_a_few_thousand_dossiers_add_up(box: Box, clock: FakeClock) -> None:
    box.db().execute("PRAGMA synchronous=OFF")  # this test's box needs no durability
    end = datetime(2026, 11, 25, 12, 0, tzinfo=TZ)
    fill(box, clock, date(2026, 5, 4), date(2026, 11, 24), 2500, end)
    db = box.db()
    assert db.execute("SELECT count(*) FROM dossiers").fetchone()[0] == 2500
    start, stop = date(2026, 5, 1), date(2026, 11, 30)
    totals = []
    for group_by in reports.GROUPS:
        rows = check_against_python(box, start, stop, group_by, end)
        *body, total = rows
        assert counts_of(total) == sum((counts_of(r) for r in body), Counter())
        totals.append(total)
    assert len({tuple(counts_of(t).items()) for t in totals}) == 1  # every grouping sums to the same total
    total = totals[0]
    statuses = Counter(s["status"] for s in states(box))
    never_received = db.execute("SELECT count(*) FROM dossiers WHERE received_at IS NULL").fetchone()[0]
    assert total.received == 2500 - never_received and never_received > statuses["receiving"]
    assert min(total.on_time, total.late, total.in_progress, total.overdue, total.refused) > 0
    assert min(total.withdrawn, total.stopped, total.online, total.post) > 0
    # A narrower window (a quarter, days inside it) against Python too.
    check_against_python(box, date(2026, 7, 1), date(2026, 9, 30), "day", end)
    lines = reports.logbook(db, start, stop)
    assert len(lines) == total.received
    assert [(x.received_at, x.no) for x in lines] == sorted((x.received_at, x.no) for x in lines)
    today = reports.today_counts(db, end)
    assert today["receiving"] == statuses["receiving"] and today["waiting"] == statuses["waiting"]
    assert today["overdue"] == sum(
        r.overdue for r in reports.summary(db, date(2026, 1, 1), stop, "month", now=end)[:-1]
    )
