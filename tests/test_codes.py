"""Dossier codes never repeat: across restarts, a clock set backwards, and a restored backup."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge import audit, intake
from edge.box import Box, open_box
from edge.calendar import TZ
from edge.codes import allocate_code
from edge.config import Settings
from edge.store.db import write
from edge.users import User
from tests.conftest import FakeClock, dossier_body

CODE = re.compile(r"^000\.17\.22\.H56-(\d{6})-(\d{4,})$")


def receive(box: Box, officer: User) -> str:
    code: str = intake.receive_dossier(box, officer, dossier_body())["code"]
    return code


def test_sequence_per_day(box: Box, officer: User, clock: FakeClock) -> None:
    first = [receive(box, officer) for _ in range(3)]
    assert [c[-4:] for c in first] == ["0001", "0002", "0003"]
    clock.advance(days=1)
    assert receive(box, officer) == "000.17.22.H56-261126-0001"
    assert all(CODE.match(c) for c in first)


def test_codes_survive_a_restart(box_settings: Settings, officer: User, clock: FakeClock) -> None:
    box = open_box(box_settings.data_dir, clock=clock)
    a = receive(box, officer)
    box.close()
    box = open_box(box_settings.data_dir, clock=clock)
    b = receive(box, officer)
    box.close()
    assert (a[-4:], b[-4:]) == ("0001", "0002")


def test_clock_set_backwards_continues_the_sequence(box: Box, officer: User, clock: FakeClock) -> None:
    seen = {receive(box, officer)}
    clock.advance(days=1)
    seen.add(receive(box, officer))
    clock.advance(days=-1)  # someone set the clock back a day
    again = receive(box, officer)
    assert again not in seen and again.endswith("-261125-0002")


def test_restore_of_an_older_db_does_not_reuse_codes(
    box_settings: Settings, officer: User, clock: FakeClock, tmp_path: Path
) -> None:
    box = open_box(box_settings.data_dir, clock=clock)
    receive(box, officer)
    box.close()
    backup = tmp_path / "backup.db"
    shutil.copy(box_settings.db_path, backup)  # the box is closed: WAL checkpointed into the file
    box = open_box(box_settings.data_dir, clock=clock)
    issued = {receive(box, officer) for _ in range(3)}
    box.close()
    for suffix in ("-wal", "-shm"):
        Path(str(box_settings.db_path) + suffix).unlink(missing_ok=True)
    shutil.copy(backup, box_settings.db_path)  # the technician restores yesterday's backup
    box = open_box(box_settings.data_dir, clock=clock)
    after = receive(box, officer)
    assert after not in issued and after.endswith("-0005")
    assert any(e["action"] == "sequence_fenced" for e in audit.entries(box.db()))
    box.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=-3, max_value=3), min_size=1, max_size=30))
def test_codes_never_repeat_whatever_the_clock_does(box: Box, moves: list[int]) -> None:
    db = box.db()
    earlier = {r[0] for r in db.execute("SELECT code FROM dossiers")}
    moment = datetime(2026, 11, 25, 9, 0, tzinfo=TZ)
    issued: list[str] = []
    for days in moves:
        moment += timedelta(days=days)
        with write(db):
            issued.append(allocate_code(db, "000.17.22.H56", box.settings.state_dir, moment))
    assert len(issued) == len(set(issued))
    assert not earlier & set(issued)
