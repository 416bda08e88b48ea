"""Migrations: a box made by an older version upgrades in place, and a failed one changes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from edge import intake, outbox, projection
from edge.box import open_box
from edge.config import Settings
from edge.store.db import connect, write
from edge.store.migrations import latest_version, migrate, migrations, schema_version
from edge.users import User
from tests.conftest import FakeClock, dossier_body


def test_fresh_box_is_at_the_latest_schema(box_settings: Settings) -> None:
    db = connect(box_settings.db_path)
    assert schema_version(db) == latest_version() >= 2
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    db.conn.close()


def test_box_made_by_the_first_migration_upgrades_in_place(
    box_settings: Settings, officer: User, clock: FakeClock, tmp_path: Path
) -> None:
    # Build a box as version 1 of the schema left it: the first migration only, holding a dossier.
    box = open_box(box_settings.data_dir, clock=clock)
    state = intake.receive_dossier(box, officer, dossier_body())
    box.close()
    old = tmp_path / "old.db"
    old_db = connect(old)
    migrations.apply(old_db, stop_before="0002_list_filter_indexes")
    assert schema_version(old_db) == 1
    src = sqlite3.connect(box_settings.db_path)
    for table in ("box_meta", "users", "procedures", "dossier_events", "code_sequences", "audit_log"):
        cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
        rows = src.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
        old_db.conn.executemany(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", rows
        )
    src.close()
    with write(old_db):
        projection.rebuild_all(old_db)
    old_db.conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(box_settings.db_path) + suffix).unlink(missing_ok=True)
    old.rename(box_settings.db_path)
    Path(str(old) + "-wal").unlink(missing_ok=True)
    Path(str(old) + "-shm").unlink(missing_ok=True)

    box = open_box(box_settings.data_dir, clock=clock)  # runs the pending migrations
    db = box.db()
    assert schema_version(db) == latest_version()
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"dossiers_procedure", "dossiers_assignee", "dossiers_finished_late"} <= indexes
    assert db.execute("SELECT code FROM dossiers").fetchall() == [(state["code"],)]
    # The box's own events made before the outbox existed are queued for the hub by the upgrade.
    assert [e.dossier_id for e in outbox.pending_events(db)] == [state["dossier_id"]]
    second = intake.receive_dossier(box, officer, dossier_body())
    assert second["code"].endswith("-0002")
    box.close()


def test_a_failing_migration_leaves_the_db_as_it_was(box_settings: Settings) -> None:
    db = connect(box_settings.db_path)
    before = db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()

    @migrations(name="9999_broken")
    def broken(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("migration failed half way")

    try:
        with pytest.raises(RuntimeError):
            migrate(db)
        assert db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before
        assert "9999_broken" not in {m.name for m in migrations.applied(db)}
    finally:
        migrations._migrations = [m for m in migrations._migrations if m.name != "9999_broken"]
        db.conn.close()


def test_a_box_before_the_devices_migration_upgrades_with_its_rows(tmp_path: Path) -> None:
    """0008 adds the device tables to a box in service: its dossiers and settings stay as they were."""
    from edge.store.db import connect
    from edge.store.migrations import migrations, schema_version

    db = connect(tmp_path / "old.db")
    migrations.apply(db, stop_before="0008_devices")
    assert schema_version(db) == 7
    db.execute("INSERT INTO sync_state (key, value) VALUES ('feed_cursor', '12')")
    migrations.apply(db)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"print_jobs", "device_health", "device_errors", "card_payments", "ratings", "counter_subjects"} <= tables
    assert db.execute("SELECT value FROM sync_state WHERE key = 'feed_cursor'").fetchone() == ("12",)
    db.conn.close()
