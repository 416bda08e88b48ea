"""A crash (kill -9) in the middle of receiving leaves either the whole dossier or nothing.

A real child process receives dossiers in a tight loop and is killed with SIGKILL at a random
moment; a real `motcua serve` is killed while HTTP clients post. After each kill the box must be
whole: the file intact, every dossier with its event, search entry and audit entry, every code
that was promised to somebody present, and the next code a fresh one. A power cut is a process
stopped with SIGSTOP whose DB files are copied as they are on disk before it is killed.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from edge import intake
from edge.box import open_box
from edge.config import Settings
from edge.projection import rebuild_all
from edge.store.db import connect, write
from edge.users import User, create_token
from tests.conftest import dossier_body, read_url, start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
OFFICER = User("canbo", "officer")

# The child prints a code only after receive_dossier returned, i.e. after COMMIT.
CHILD = """
import json, sys
from edge.box import open_box
from edge.intake import receive_dossier
from edge.users import User

box = open_box(sys.argv[1])
body = json.loads(sys.argv[2])
user = User("canbo", "officer")
print("ready", flush=True)
while True:
    print(receive_dossier(box, user, body, "crash-test")["code"], flush=True)
"""


def _split(code: str) -> tuple[str, int]:
    """Return (yyMMdd, number) of a dossier code `<agency>-<yyMMdd>-<NNNN>`."""
    _, day, number = code.rsplit("-", 2)
    return day, int(number)


def dossier_rows(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    """Return every dossiers column but id, ordered by code."""
    columns = [r[1] for r in conn.execute("PRAGMA table_info(dossiers)") if r[1] != "id"]
    return conn.execute(f"SELECT {', '.join(columns)} FROM dossiers ORDER BY code").fetchall()


def check_box(db_path: Path, promised: list[str]) -> list[str]:
    """Assert the box's invariants after a crash; return the dossier codes it holds."""
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = {d: c for d, c in conn.execute("SELECT dossier_id, code FROM dossiers")}
        created = {d for (d,) in conn.execute("SELECT dossier_id FROM dossier_events WHERE kind = 'created'")}
        assert set(rows) == created, "a dossier row without its created event, or the reverse"
        ids = [i for (i,) in conn.execute("SELECT id FROM dossiers ORDER BY id")]
        assert [r for (r,) in conn.execute("SELECT rowid FROM dossier_search ORDER BY rowid")] == ids
        # fts5's own check that its index matches its content.
        conn.execute("INSERT INTO dossier_search (dossier_search) VALUES ('integrity-check')")
        codes = sorted(rows.values())
        assert not set(promised) - set(codes), "a code handed out after commit is missing"
        received = dict(
            conn.execute("SELECT target, count(*) FROM audit_log WHERE action = 'dossier_received' GROUP BY target")
        )
        assert received == dict.fromkeys(codes, 1)
        for day, last in conn.execute("SELECT day, last FROM code_sequences"):
            assert all(n <= last for d, n in map(_split, codes) if d == day), "sequence behind a used code"
        before = dossier_rows(conn)
    finally:
        conn.close()
    db = connect(db_path)
    try:
        with write(db):
            rebuild_all(db)
        assert dossier_rows(db.conn) == before
    finally:
        db.conn.close()
    return codes


def receive_one(settings: Settings) -> str:
    """Open the box as after a restart and receive one dossier; return its code."""
    box = open_box(settings.data_dir)
    try:
        return str(intake.receive_dossier(box, OFFICER, dossier_body(), "after-crash")["code"])
    finally:
        box.close()


def assert_fresh(code: str, codes: list[str]) -> None:
    """Assert a new code repeats none and comes after every code of its day."""
    assert code not in codes
    day, number = _split(code)
    assert all(n < number for d, n in map(_split, codes) if d == day)


def test_kill_while_receiving_leaves_whole_dossiers(box_settings: Settings) -> None:
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    body = json.dumps(dossier_body(), ensure_ascii=False)
    promised: list[str] = []
    for _ in range(5):
        delay = rng.uniform(0.02, 0.6)
        with subprocess.Popen(
            [sys.executable, "-c", CHILD, str(box_settings.data_dir), body],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        ) as child:
            try:
                assert child.stdout is not None
                ready = child.stdout.readline()
                time.sleep(delay)
            finally:
                child.send_signal(signal.SIGKILL)
            out, err = child.communicate(timeout=10)
        assert ready == "ready\n", err
        assert child.returncode == -signal.SIGKILL, err
        printed = out.split("\n")[:-1]  # the last piece has no newline: a code cut short, or empty
        assert len(printed) == len(set(printed)), f"seed {seed}: a code printed twice"
        promised += printed
        codes = check_box(box_settings.db_path, promised)
        code = receive_one(box_settings)
        assert_fresh(code, codes)
        promised.append(code)
    assert len(promised) > 10, f"seed {seed}: the child hardly received anything"
    assert len(set(promised)) == len(promised)
    # The box may hold more than was printed: a kill between COMMIT and print loses only the print.
    assert set(check_box(box_settings.db_path, promised)) >= set(promised)


def _post_until_refused(url: str, token: str, stop: threading.Event, codes: list[str], statuses: list[int]) -> None:
    body = dossier_body()
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        while not stop.is_set():
            try:
                resp = http.post(f"{url}/api/v1/dossiers", json=body, timeout=10)
                status, data = resp.status_code, resp.json()
            except (requests.RequestException, ValueError):
                return  # the server is gone
            statuses.append(status)
            if status == 201:
                codes.append(data["code"])


def test_kill_serve_while_clients_post(box_settings: Settings) -> None:
    box = open_box(box_settings.data_dir)
    token = create_token(box.db(), "canbo")
    box.close()
    codes: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()
    process = start_server(box_settings)
    try:
        url = read_url(process)
        clients = [
            threading.Thread(target=_post_until_refused, args=(url, token, stop, codes, statuses)) for _ in range(4)
        ]
        for client in clients:
            client.start()
        deadline = time.monotonic() + 10
        while len(codes) < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(random.uniform(0.05, 0.4))
        process.kill()
        process.wait(timeout=10)
        stop.set()
        for client in clients:
            client.join(timeout=15)
        assert not any(client.is_alive() for client in clients)
    finally:
        stop.set()
        stop_server(process)
    assert process.returncode == -signal.SIGKILL
    assert len(codes) >= 8 and set(statuses) == {201}, statuses
    assert len(set(codes)) == len(codes)
    held = check_box(box_settings.db_path, codes)
    # Restarted, the server hands out a fresh code.
    process = start_server(box_settings)
    try:
        url = read_url(process)
        with requests.post(
            f"{url}/api/v1/dossiers", json=dossier_body(), headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as resp:
            assert resp.status_code == 201, resp.text
            assert_fresh(resp.json()["code"], held)
    finally:
        stop_server(process)
    check_box(box_settings.db_path, [*codes, resp.json()["code"]])


def test_power_cut_mid_transaction_keeps_every_printed_receipt(box_settings: Settings, tmp_path: Path) -> None:
    """Stop the receiving process with SIGSTOP, copy the DB files as they are on disk, SIGKILL it.

    The copy is the disk after a power cut at that moment: it opens, its integrity holds, and every
    dossier whose code was printed (its receipt) is in it.
    """
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    body = json.dumps(dossier_body(), ensure_ascii=False)
    promised: list[str] = []
    for cut in range(3):
        with subprocess.Popen(
            [sys.executable, "-c", CHILD, str(box_settings.data_dir), body],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        ) as child:
            try:
                assert child.stdout is not None
                ready = child.stdout.readline()
                first = child.stdout.readline()  # one receipt printed: the loop runs
                time.sleep(rng.uniform(0.0, 0.4))
                child.send_signal(signal.SIGSTOP)
                copy = tmp_path / f"cut-{cut}"
                files = [Path(str(box_settings.db_path) + s) for s in ("", "-wal", "-shm")]
                copy.mkdir()
                for file in files:
                    if file.exists():
                        shutil.copy2(file, copy / file.name)
            finally:
                child.send_signal(signal.SIGKILL)
            out, err = child.communicate(timeout=10)
        assert ready == "ready\n", err
        printed = (first + out).split("\n")[:-1]  # the last piece has no newline: a code cut short, or empty
        promised += printed
        # The copy opens as a box would after the power came back.
        held = check_box(copy / box_settings.db_path.name, promised)
        assert set(promised) <= set(held), f"seed {seed}: a printed receipt's dossier is missing"
        check_box(box_settings.db_path, promised)
