"""The box side of sync in edge: migration 0007, the sync state table, feed pages applied in one transaction."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from edge import audit, intake, outbox, syncstate
from edge.box import Box, open_box
from edge.config import Settings
from edge.errors import ValidationError
from edge.procedures import get_procedure
from edge.replication import apply_feed, missing_events, reset_feed
from edge.store.db import connect
from edge.store.migrations import latest_version, migrations, schema_version
from edge.users import User
from tests.conftest import FakeClock, dossier_body


def _downgrade_to_0006(settings: Settings) -> None:
    """Rebuild the box's DB as schema 0006 left it, holding the same rows."""
    old = settings.data_dir / "old.db"
    old_db = connect(old)
    migrations.apply(old_db, stop_before="0007_sync_state")
    src = sqlite3.connect(settings.db_path)
    tables = [r[0] for r in old_db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in ("box_meta", "users", "procedures", "dossier_events", "dossiers", "outbox", "code_sequences"):
        assert table in tables
        cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
        rows = src.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
        old_db.conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
    src.close()
    assert schema_version(old_db) == 6 and "sync_state" not in tables
    old_db.conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(settings.db_path) + suffix).unlink(missing_ok=True)
    old.rename(settings.db_path)
    for suffix in ("-wal", "-shm"):
        Path(str(old) + suffix).unlink(missing_ok=True)


def test_a_box_at_0006_upgrades_to_sync_state(box_settings: Settings, officer: User, clock: FakeClock) -> None:
    box = open_box(box_settings.data_dir, clock=clock)
    state = intake.receive_dossier(box, officer, dossier_body())
    box.close()
    _downgrade_to_0006(box_settings)
    box = open_box(box_settings.data_dir, clock=clock)
    db = box.db()
    assert schema_version(db) == latest_version() >= 7
    assert [e.dossier_id for e in outbox.pending_events(db)] == [state["dossier_id"]]
    syncstate.set_value(db, "feed_cursor", 12)
    assert syncstate.get(db, "feed_cursor") == 12
    box.close()


def test_sync_state_holds_json_values(box: Box) -> None:
    db = box.db()
    assert syncstate.get(db, "missing", {"x": 1}) == {"x": 1}
    syncstate.update(db, {"hub:https://a": {"failures": 2}, "hub:https://b": {"failures": 0}, "other": "vi ệ"})
    syncstate.set_value(db, "hub:https://a", {"failures": 3, "last_error": "Mất kết nối"})
    assert syncstate.get_prefix(db, "hub:") == {
        "hub:https://a": {"failures": 3, "last_error": "Mất kết nối"},
        "hub:https://b": {"failures": 0},
    }
    assert syncstate.get(db, "other") == "vi ệ"


def test_heartbeat_buffer_keeps_the_newest_and_sends_oldest_first(box: Box) -> None:
    db = box.db()
    for i in range(7):
        syncstate.buffer_heartbeat(db, f"2026-11-25T09:0{i}:00+07:00", {"n": i}, keep=5)
    waiting = syncstate.buffered_heartbeats(db)
    assert [body["n"] for _, body in waiting] == [2, 3, 4, 5, 6]
    syncstate.drop_heartbeat(db, waiting[0][0])
    assert syncstate.heartbeat_backlog(db) == 4


def _remote_event(dossier_id: str, kind: str = "created", **payload: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "dossier_id": dossier_id,
        "kind": kind,
        "payload": payload,
        "actor": "huyen",
        "origin": "hub:province",
        "wall_time": "2026-11-25T09:00:00+07:00",
        "hlc": "999999999999999.000000",
    }


def test_a_feed_page_applies_events_catalogue_and_calendar_and_moves_the_cursor(box: Box, officer: User) -> None:
    state = intake.receive_dossier(box, officer, dossier_body())
    db = box.db()
    proc = get_procedure(db, "1.001193").to_dict()
    renamed = {**proc, "name": proc["name"] + " (tỉnh cập nhật)"}
    transfer = _remote_event(state["dossier_id"], "transferred", assignee="canbo2")
    items = [
        {"seq": 1, "type": "catalogue", "procedures": [renamed]},
        {"seq": 2, "type": "calendar", "days": [{"day": "2026-12-05", "working": True, "note": "Làm bù"}]},
        {"seq": 3, "type": "event", "event": transfer},
        {"seq": 4, "type": "own_event", "event_id": outbox.pending_events(db)[0].event_id, "dossier_id": "x"},
    ]
    counts = apply_feed(box, items, cursor_key="feed_cursor", new_cursor=4)
    assert counts["applied"] == 1 and counts["procedures"] == 1 and counts["calendar_days"] == 1
    assert syncstate.get(db, "feed_cursor") == 4
    assert get_procedure(db, "1.001193").name.endswith("(tỉnh cập nhật)")
    assert next(o for o in box.overrides() if o["day"] == "2026-12-05")["source"] == "hub"
    assert db.execute("SELECT assignee FROM dossiers WHERE dossier_id = ?", [state["dossier_id"]]).fetchone() == (
        "canbo2",
    )
    # Applying the same page again changes nothing (a re-read after a crash is harmless).
    again = apply_feed(box, items, cursor_key="feed_cursor", new_cursor=4)
    assert again["applied"] == 0 and again["duplicates"] == 1
    assert outbox.pending_events(db)[0].kind == "created"  # the hub's event is not queued back


def test_a_bad_item_writes_nothing_not_even_the_cursor(box: Box) -> None:
    db = box.db()
    syncstate.set_value(db, "feed_cursor", 3)
    good = _remote_event(str(uuid.uuid4()), "created")
    items = [{"seq": 4, "type": "event", "event": good}, {"seq": 5, "type": "calendar", "days": [{"day": "x"}]}]
    with pytest.raises(ValidationError):
        apply_feed(box, items, cursor_key="feed_cursor", new_cursor=5)
    assert syncstate.get(db, "feed_cursor") == 3
    assert missing_events(box, [good["event_id"]]) == [good["event_id"]]


def test_feed_reset_is_audited_and_sets_the_cursor_to_zero(box: Box) -> None:
    db = box.db()
    syncstate.set_value(db, "feed_cursor", 40)
    reset_feed(box, "feed_cursor", {"reason": "gap", "expected": 41, "got": 43})
    assert syncstate.get(db, "feed_cursor") == 0
    entry = audit.entries(db, limit=1)[0]
    assert entry["action"] == "feed_repair" and "gap" in str(entry["detail"])
