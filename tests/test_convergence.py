"""Two origins acting on the same dossier converge once they have exchanged their events."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge import actions, intake
from edge.box import Box, init_box, open_box
from edge.events import events_of
from edge.lifecycle import allowed_actions
from edge.replication import apply_events
from edge.users import User, add_user
from tests.conftest import FakeClock, dossier_body

STEPS = [
    ("transfer", {"assignee": "canbo"}),
    ("request-supplement", {"reason": "Thiếu giấy tờ"}),
    ("supplement-received", {}),
    ("request-payment", {}),
    ("approve", {}),
    ("return-result", {}),
    ("withdraw", {"reason": "Công dân rút"}),
    ("stop", {"reason": "Dừng"}),
    ("refuse", {"reason": "Sai thẩm quyền"}),
]
OFFICER = User("canbo", "officer")


def projection(box: Box, dossier_id: str) -> tuple[object, ...]:
    conn = sqlite3.connect(box.settings.db_path)
    try:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(dossiers)") if r[1] != "id"]
        row: tuple[object, ...] = conn.execute(
            f"SELECT {', '.join(cols)} FROM dossiers WHERE dossier_id = ?", [dossier_id]
        ).fetchone()
        return row
    finally:
        conn.close()


def try_steps(box: Box, code: str, picks: list[int], clock: FakeClock) -> None:
    for pick in picks:
        action, body = STEPS[pick]
        clock.advance(minutes=5)
        state = actions.find_state(box, code)
        if action in allowed_actions(state["status"], state):  # the buttons the officer sees
            actions.act(box, OFFICER, code, action, body)


def make_box(root: Path, name: str, clock: FakeClock) -> Box:
    settings = init_box(root / name, "00001", "000.17.22.H56", f"UBND xã {name.title()}")
    box = open_box(settings.data_dir, clock=clock)
    add_user(box.db(), "canbo", "officer", "matkhau-2026")
    return box


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    here=st.lists(st.integers(0, len(STEPS) - 1), max_size=6),
    there=st.lists(st.integers(0, len(STEPS) - 1), max_size=6),
)
def test_replicas_converge(
    box: Box, clock: FakeClock, tmp_path_factory: object, here: list[int], there: list[int]
) -> None:
    state = intake.receive_dossier(box, OFFICER, dossier_body())
    code, dossier_id = state["code"], state["dossier_id"]
    root = tmp_path_factory.mktemp("replica")  # type: ignore[attr-defined]
    other = make_box(root, "khac", clock)
    other.db().conn.execute("ATTACH DATABASE ? AS src", [str(box.settings.db_path)])
    other.db().conn.execute("INSERT INTO procedures SELECT * FROM src.procedures")
    other.db().conn.execute("DETACH DATABASE src")
    apply_events(other, [e.to_dict() for e in events_of(box.db(), dossier_id)])

    try_steps(box, code, here, clock)  # both sides act while the link is down
    try_steps(other, code, there, clock)

    mine = [e.to_dict() for e in events_of(box.db(), dossier_id)]
    theirs = [e.to_dict() for e in events_of(other.db(), dossier_id)]
    apply_events(box, theirs)  # the link comes back: each side gets what it lacks, in any order
    apply_events(other, list(reversed(mine)))

    assert events_of(box.db(), dossier_id) == events_of(other.db(), dossier_id)
    assert projection(box, dossier_id) == projection(other, dossier_id)
    final = actions.find_state(box, code)
    logged = {e.event_id for e in events_of(box.db(), dossier_id)}
    for conflict in final["conflicts"]:  # every conflicting event is kept in the log, never dropped
        assert conflict["event_id"] in logged and conflict["origin"] in (box.origin, other.origin)
    other.close()
