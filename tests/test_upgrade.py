"""Upgrades: pending migrations run at start; one that fails leaves the DB file as it was and says which.

A broken migration is registered for one test only (the fixture takes it out again), on a box in
service holding a dossier; the DB's full logical dump (schema and every row) is compared before and
after the failed start.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import sqlite_utils

from edge import __version__, intake
from edge.box import open_box
from edge.cli import main
from edge.config import Settings
from edge.errors import StorageError
from edge.store.migrations import latest_version, migrations, schema_version
from edge.users import User, create_token
from tests.conftest import dossier_body, read_url, stop_server

Migration = Callable[[sqlite_utils.Database], None]


def dump(db_path: Path) -> list[str]:
    """Return the DB's schema and rows as SQL, in a stable order."""
    conn = sqlite3.connect(db_path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture
def register() -> Iterator[Callable[[str, Migration], None]]:
    """Register migrations for this test only."""
    names: list[str] = []

    def add(name: str, fn: Migration) -> None:
        migrations(name=name)(fn)
        names.append(name)

    yield add
    migrations._migrations = [m for m in migrations._migrations if m.name not in names]


def works(db: sqlite_utils.Database) -> None:
    """A migration that goes in whole."""
    db.execute("CREATE TABLE upgrade_ok (x INTEGER)")


def half_script(db: sqlite_utils.Database) -> None:
    """A migration whose script breaks after it created a table and changed rows."""
    db.executescript(
        """
        CREATE TABLE upgrade_half (x INTEGER);
        UPDATE box_meta SET value = 'đổi' WHERE key = 'name';
        DELETE FROM code_sequences;
        CREATE TABLE upgrade_broken (;
        """
    )


def raises_late(db: sqlite_utils.Database) -> None:
    """A migration whose Python code fails after its SQL ran."""
    db.execute("ALTER TABLE dossiers ADD COLUMN upgrade_note TEXT")
    db.execute("UPDATE dossiers SET upgrade_note = 'x'")
    raise RuntimeError("không đọc được tệp dữ liệu mẫu")


@pytest.mark.parametrize(("name", "fn", "reason"), [
    ("9990_half_script", half_script, "syntax error"),
    ("9991_raises_late", raises_late, "không đọc được tệp dữ liệu mẫu"),
])  # fmt: skip
def test_a_failed_migration_leaves_the_db_as_it_was_and_is_named(
    box_settings: Settings,
    officer: User,
    register: Callable[[str, Migration], None],
    name: str,
    fn: Migration,
    reason: str,
) -> None:
    box = open_box(box_settings.data_dir)
    held = intake.receive_dossier(box, officer, dossier_body())["code"]
    box.close()
    before = dump(box_settings.db_path)
    version = latest_version()
    register("9989_works", works)
    register(name, fn)

    with pytest.raises(StorageError) as caught:
        open_box(box_settings.data_dir)
    err = caught.value
    assert (err.code, err.details["migration"]) == ("migration_failed", name)
    assert name in err.message("vi") and reason in err.message("vi")
    assert err.message("vi").startswith("Không nâng cấp được cơ sở dữ liệu: bước ")
    assert err.message("en").startswith(f"The database upgrade failed at migration {name}")
    after = dump(box_settings.db_path)
    # The migration before it went in whole; the failed one left nothing at all.
    added = sorted(line for line in after if line not in before)
    assert len(added) == 2 and added[0] == "CREATE TABLE upgrade_ok (x INTEGER);", added
    assert added[1].startswith('INSERT INTO "_sqlite_migrations"') and "'9989_works'" in added[1]
    assert [line for line in before if line not in after] == []
    conn = sqlite_utils.Database(sqlite3.connect(box_settings.db_path))
    assert schema_version(conn) == version + 1
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("SELECT code FROM dossiers").fetchall() == [(held,)]
    conn.conn.close()


def test_the_command_line_refuses_to_start_naming_the_migration(
    box_settings: Settings,
    register: Callable[[str, Migration], None],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = dump(box_settings.db_path)
    register("9992_raises_late", raises_late)
    assert main(["serve", "--data", str(box_settings.data_dir), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("motcua: Không nâng cấp được cơ sở dữ liệu: bước 9992_raises_late bị lỗi")
    assert err.count("\n") == 1 and "Traceback" not in err
    monkeypatch.setenv("MOTCUA_LANG", "en")
    assert main(["version", "--data", str(box_settings.data_dir)]) == 2
    assert "The database upgrade failed at migration 9992_raises_late" in capsys.readouterr().err
    assert dump(box_settings.db_path) == before


def test_a_start_after_the_fix_runs_the_migration(
    box_settings: Settings, register: Callable[[str, Migration], None]
) -> None:
    fixed = {"broken": True}

    def flaky(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE upgrade_later (x INTEGER)")
        if fixed["broken"]:
            raise RuntimeError("chưa sửa")

    register("9993_flaky", flaky)
    with pytest.raises(StorageError):
        open_box(box_settings.data_dir)
    fixed["broken"] = False
    box = open_box(box_settings.data_dir)
    assert schema_version(box.db()) == latest_version()
    assert box.db().execute("SELECT count(*) FROM upgrade_later").fetchone() == (0,)
    box.close()


def test_motcua_version_shows_the_app_and_schema_versions(box_settings: Settings, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "version", "--data", str(box_settings.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == f"motcua {__version__}"
    assert f"schema {latest_version()}" in lines
    assert f"box schema {latest_version()}" in lines
    # Without a box, only the app's own versions.
    bare = subprocess.run(
        [sys.executable, "-m", "edge.cli", "version"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert bare.returncode == 0 and "box schema" not in bare.stdout and f"motcua {__version__}" in bare.stdout


# A newer wheel: the same code plus one more migration, started the way systemd starts it.
NEWER = """
import sys
from edge.store.migrations import migrations

@migrations(name="9994_newer_wheel")
def newer(db):
    db.execute("CREATE TABLE newer_wheel (dossiers INTEGER)")
    db.execute("INSERT INTO newer_wheel SELECT count(*) FROM dossiers")

from edge.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_a_newer_version_migrates_at_start_and_keeps_the_data(box_settings: Settings, officer: User) -> None:
    box = open_box(box_settings.data_dir)
    held = intake.receive_dossier(box, officer, dossier_body())["code"]
    token = create_token(box.db(), "canbo")
    box.close()
    data = str(box_settings.data_dir)
    process = subprocess.Popen(
        [sys.executable, "-c", NEWER, "serve", "--data", data, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = read_url(process)
        with requests.get(
            f"{url}/api/v1/dossiers/{held}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as resp:
            assert resp.status_code == 200, resp.text
    finally:
        stop_server(process)
    conn = sqlite3.connect(box_settings.db_path)
    assert conn.execute("SELECT dossiers FROM newer_wheel").fetchall() == [(1,)]
    conn.close()
    done = subprocess.run(
        [sys.executable, "-c", NEWER, "version", "--data", data], capture_output=True, text=True, timeout=60
    )
    assert f"box schema {latest_version() + 1}" in done.stdout.splitlines(), done.stdout + done.stderr
