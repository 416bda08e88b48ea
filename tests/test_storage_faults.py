"""A full disk or a read-only database gives a clear error, never a half-written or corrupted file.

In-process, SQLite's own limits stand in for the fault (`PRAGMA max_page_count` gives SQLITE_FULL,
`PRAGMA query_only` gives SQLITE_READONLY). Over HTTP the faults are real: a small tmpfs filled
to the last byte (ENOSPC) and an immutable database file (`chattr +i`; tests run as root, so
chmod would not stop a write). Those need mount and chattr and are skipped where they cannot run.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from edge import actions, catalogue, intake
from edge.box import Box, init_box, open_box
from edge.config import Settings
from edge.errors import StorageError
from edge.procedures import list_procedures, upsert_procedures
from edge.store.db import translate
from edge.users import User, add_user, create_token
from tests.conftest import AGENCY, PASSWORD, Server, dossier_body, read_url, start_server, stop_server
from tests.test_crash import check_box

NO_LIMIT = 1073741823  # SQLite's default max_page_count
DISK_FULL_VI = "Ổ đĩa của máy đã đầy; chưa lưu được. Báo kỹ thuật viên giải phóng dung lượng."
READ_ONLY_VI = "Cơ sở dữ liệu đang ở chế độ chỉ đọc; chưa lưu được. Báo kỹ thuật viên."


def dump(db_path: Path) -> list[str]:
    """Return the whole database as SQL, read on a fresh connection."""
    conn = sqlite3.connect(db_path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def integrity(db_path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()


def codes(box: Box) -> list[str]:
    return [c for (c,) in box.db().execute("SELECT code FROM dossiers ORDER BY code")]


# --- a full disk, in-process ----------------------------------------------------------------------


def test_disk_full_while_receiving(box: Box, officer: User) -> None:
    intake.receive_dossier(box, officer, dossier_body())
    db = box.db()
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    for _ in range(300):
        before = dump(box.settings.db_path)
        try:
            intake.receive_dossier(box, officer, dossier_body())
        except StorageError as err:
            error = err
            break
    else:
        pytest.fail("the database never filled up")
    assert (error.code, error.status, error.message("vi")) == ("disk_full", 503, DISK_FULL_VI)
    assert error.message("en").startswith("The box's disk is full")
    assert not db.conn.in_transaction
    assert dump(box.settings.db_path) == before
    assert integrity(box.settings.db_path) == [("ok",)]
    held = codes(box)
    db.execute(f"PRAGMA max_page_count = {NO_LIMIT}")
    state = intake.receive_dossier(box, officer, dossier_body())
    assert state["code"] not in held and state["code"] > max(held)
    check_box(box.settings.db_path, [*held, state["code"]])


def test_disk_full_while_importing_the_catalogue(box: Box) -> None:
    many = [
        {"code": f"X.{i:04d}", "name": f"Thủ tục thử số {i} " + "rất dài " * 60, "field": "Khác", "processing_days": 3}
        for i in range(200)
    ]
    procs = catalogue.load_json(catalogue.dump_json([catalogue.parse_procedure(p) for p in many]))
    db = box.db()
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    before = dump(box.settings.db_path)
    with pytest.raises(StorageError) as err:
        upsert_procedures(db, procs)
    assert err.value.code == "disk_full"
    assert dump(box.settings.db_path) == before
    db.execute(f"PRAGMA max_page_count = {NO_LIMIT}")
    assert upsert_procedures(db, procs) == 200
    assert len(list_procedures(db)) == len(catalogue.sample_catalogue()) + 200


# --- a read-only database, in-process -------------------------------------------------------------


def _receive(box: Box) -> object:
    return intake.receive_dossier(box, User("canbo", "officer"), dossier_body())


def _transfer(box: Box) -> object:
    return actions.act(box, User("canbo", "officer"), codes(box)[0], "transfer", {"assignee": "canbo2"})


WRITES: dict[str, Callable[[Box], object]] = {
    "receive": _receive,
    "act": _transfer,
    "add-user": lambda box: add_user(box.db(), "nguoimoi", "officer", PASSWORD),
    "token": lambda box: create_token(box.db(), "canbo"),
    "catalogue": lambda box: upsert_procedures(box.db(), catalogue.sample_catalogue()[:2]),
    "calendar": lambda box: box.set_override(date(2026, 12, 1), False, "Nghỉ bù", "quantri"),
}


@pytest.mark.parametrize("write", WRITES, ids=list(WRITES))
def test_read_only_database_refuses_every_write(box: Box, write: str) -> None:
    _receive(box)
    db = box.db()
    db.execute("PRAGMA query_only = 1")
    before = dump(box.settings.db_path)
    with pytest.raises(StorageError) as err:
        WRITES[write](box)
    assert (err.value.code, err.value.status, err.value.message("vi")) == ("read_only", 503, READ_ONLY_VI)
    assert not db.conn.in_transaction
    assert dump(box.settings.db_path) == before
    db.execute("PRAGMA query_only = 0")
    WRITES[write](box)
    assert dump(box.settings.db_path) != before
    assert integrity(box.settings.db_path) == [("ok",)]


# --- an immutable database file -------------------------------------------------------------------


def chattr(path: Path, flag: str) -> None:
    """Set or clear a file attribute, skipping the test where the file system does not allow it."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True, text=True, check=False)
    if done.returncode:
        pytest.skip(f"cannot make the database immutable here: {done.stderr.strip()}")


@pytest.fixture
def immutable(box_settings: Settings) -> Iterator[Callable[[], None]]:
    """Yield a function that makes the box's DB file immutable; always undone at the end."""
    path = box_settings.db_path
    yield lambda: chattr(path, "+i")
    subprocess.run(["chattr", "-i", str(path)], capture_output=True, check=False)


def test_immutable_database_over_http(server: Server, immutable: Callable[[], None]) -> None:
    before = dump(server.settings.db_path)
    immutable()
    url = f"{server.url}/api/v1/dossiers"
    with requests.Session() as http:
        refused = http.post(url, json=dossier_body(), headers=server.headers(), timeout=10)
        english = http.post(url, json=dossier_body(), headers=server.headers(lang="en"), timeout=10)
        listed = http.get(url, headers=server.headers(), timeout=10)
    assert refused.status_code == 503, refused.text
    assert refused.json() == {"error": {"code": "read_only", "message": READ_ONLY_VI}}
    assert english.json()["error"]["message"].startswith("The database is read-only")
    assert listed.status_code == 200  # reading goes on
    subprocess.run(["chattr", "-i", str(server.settings.db_path)], check=True)
    stop_server(server.process)
    assert dump(server.settings.db_path) == before
    assert integrity(server.settings.db_path) == [("ok",)]
    # Restarted on a writable file, the box receives again.
    process = start_server(server.settings)
    try:
        with requests.post(
            f"{read_url(process)}/api/v1/dossiers", json=dossier_body(), headers=server.headers(), timeout=10
        ) as resp:
            assert resp.status_code == 201, resp.text
    finally:
        stop_server(process)


def test_box_writes_again_once_the_file_is_writable(box: Box, officer: User, immutable: Callable[[], None]) -> None:
    immutable()
    with pytest.raises(StorageError) as err:
        intake.receive_dossier(box, officer, dossier_body())
    assert err.value.code == "read_only"
    subprocess.run(["chattr", "-i", str(box.settings.db_path)], check=True)
    intake.receive_dossier(box, officer, dossier_body())


def _receive_on_a_frozen_file(box: Box, officer: User, immutable: Callable[[], None]) -> StorageError:
    """Freeze the DB and its WAL under an open connection (a disk gone read-only), try to receive, thaw."""
    intake.receive_dossier(box, officer, dossier_body())  # the connection and its WAL are open
    before = dump(box.settings.db_path)
    wal = Path(f"{box.settings.db_path}-wal")
    immutable()
    chattr(wal, "+i")  # not -shm: SQLite maps it, and a write to a frozen mapping is SIGBUS
    try:
        with pytest.raises(StorageError) as err:
            intake.receive_dossier(box, officer, dossier_body())
    finally:
        subprocess.run(["chattr", "-i", str(wal), str(box.settings.db_path)], check=True)
    assert not box.db().conn.in_transaction
    assert dump(box.settings.db_path) == before
    return err.value


def test_write_error_under_an_open_connection(box: Box, officer: User, immutable: Callable[[], None]) -> None:
    error = _receive_on_a_frozen_file(box, officer, immutable)
    assert error.status == 503
    held = codes(box)
    code = intake.receive_dossier(box, officer, dossier_body())["code"]  # the same connection writes again
    check_box(box.settings.db_path, [*held, code])


def test_write_error_says_what_happened_in_vietnamese(box: Box, officer: User, immutable: Callable[[], None]) -> None:
    error = _receive_on_a_frozen_file(box, officer, immutable)
    assert error.code in ("read_only", "io_error")
    assert "disk I/O error" not in error.message("vi")


def test_busy_database_says_try_again(box: Box, officer: User) -> None:
    other = sqlite3.connect(box.settings.db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        box.db().execute("PRAGMA busy_timeout = 50")
        with pytest.raises(StorageError) as err:
            intake.receive_dossier(box, officer, dossier_body())
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert err.value.code == "busy" and "thử lại" in err.value.message("vi")
    box.db().execute("PRAGMA busy_timeout = 30000")
    intake.receive_dossier(box, officer, dossier_body())


def test_a_programming_error_is_not_a_full_disk(box: Box) -> None:
    with pytest.raises(sqlite3.OperationalError) as err:
        box.db().execute("SELECT full_name FROM dossiers")
    assert translate(err.value).code != "disk_full"


# --- a full disk over HTTP ------------------------------------------------------------------------


@dataclass
class SmallBox:
    """A served box whose data dir is a 4 MB tmpfs."""

    mount: Path
    settings: Settings
    url: str
    token: str

    def post(self) -> requests.Response:
        with requests.post(
            f"{self.url}/api/v1/dossiers",
            json=dossier_body(),
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        ) as resp:
            return resp

    def fill(self, leave: int = 0) -> Path:
        """Fill the disk to the last byte, then free `leave` bytes; return the filler file."""
        filler = self.mount / "filler"
        with open(filler, "ab", buffering=0) as out:
            for size in (1 << 20, 4096, 1):
                try:
                    while True:
                        out.write(b"\0" * size)
                except OSError as err:
                    assert err.errno == errno.ENOSPC, err
        if leave:
            os.truncate(filler, filler.stat().st_size - leave)
        return filler


@pytest.fixture
def small_box(tmp_path: Path) -> Iterator[SmallBox]:
    """Serve a box from a small tmpfs; skipped where tmpfs cannot be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("mount is not installed")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    process = None
    try:
        settings = init_box(mount / "box", "00001", AGENCY, "UBND xã Đĩa Nhỏ")
        box = open_box(settings.data_dir)
        try:
            upsert_procedures(box.db(), catalogue.sample_catalogue())
            add_user(box.db(), "canbo", "officer", PASSWORD)
            token = create_token(box.db(), "canbo")
        finally:
            box.close()
        process = start_server(settings)
        small = SmallBox(mount, settings, read_url(process), token)
        assert small.post().status_code == 201  # the WAL and shared-memory files exist before the disk fills
        yield small
    finally:
        if process is not None:
            stop_server(process)
        if subprocess.run(["umount", str(mount)], check=False).returncode:
            subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill_and_post(small: SmallBox, leave: int) -> None:
    held = check_box(small.settings.db_path, [])
    filler = small.fill(leave=leave)
    received = []
    for _ in range(20):
        resp = small.post()
        if resp.status_code != 201:
            break
        received.append(resp.json()["code"])
    assert resp.status_code == 503, resp.text
    assert resp.json() == {"error": {"code": "disk_full", "message": DISK_FULL_VI}}
    filler.unlink()
    assert sorted(check_box(small.settings.db_path, received)) == sorted([*held, *received])
    resp = small.post()
    assert resp.status_code == 201, resp.text
    assert resp.json()["code"] not in held + received


def test_disk_full_over_http(small_box: SmallBox) -> None:
    _fill_and_post(small_box, leave=16384)  # room for the code's high-water file, none for the WAL


def test_disk_full_to_the_last_byte_over_http(small_box: SmallBox) -> None:
    _fill_and_post(small_box, leave=0)  # the code's high-water file is the first write to fail
