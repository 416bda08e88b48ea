"""The chaos suite: kill -9 of every process, power cuts and a full disk, with nothing lost or doubled.

The engine is bench/chaos.py (real `motcua serve`, `motcua sync-worker` and `motcua hub serve`
processes, officers working over the API while faults land at random moments). CI runs a few faults
of each kind; `pytest -m soak` runs the bench's soak size. tests/test_crash.py covers the kill of a
receiving process in detail; tests/test_storage_faults.py the full disk for intake over HTTP (tmpfs).
"""

from __future__ import annotations

import io
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bench import chaos
from edge import cashier, intake
from edge.attachments import attach
from edge.box import Box, open_box
from edge.errors import StorageError
from edge.users import User
from tests.conftest import applicant, dossier_body
from tests.test_crash import check_box
from tests.test_storage_faults import DISK_FULL_VI, NO_LIMIT, dump

ROOT = Path(__file__).resolve().parents[1]


def test_kill_9_and_power_cuts_of_box_and_hub_lose_and_double_nothing(tmp_path: Path) -> None:
    seed = random.randrange(10**6)
    report, office, ledger = chaos.run_office(len(chaos.KINDS) + 1, seed, tmp_path)
    lines = "\n".join(report.lines())
    assert set(report.faults) == set(chaos.KINDS), lines
    assert report.unexpected == [], lines
    assert report.integrity_failures == 0, lines
    assert sum(report.lost.values()) == 0, lines
    assert sum(report.duplicated.values()) == 0, lines
    assert report.checked["dossier"] >= 10 and report.checked["payment"] >= 5, lines
    assert report.checked["event at the hub"] >= report.checked["dossier"] + report.checked["payment"], lines
    # The count has teeth: a promised dossier and scan that are not there, and a form received twice.
    ledger.dossiers["forged-key"] = "000.17.22.H56-000000-9999"
    ledger.scans["0" * 64] = "000.17.22.H56-000000-9999"
    box = open_box(office.settings.data_dir)
    twice = next(iter(ledger.dossiers.values()))
    number = box.db().execute("SELECT applicant_id_number FROM dossiers WHERE code = ?", [twice]).fetchone()[0]
    intake.receive_dossier(box, User("canbo", "officer"), dossier_body(applicant=applicant(id_number=number)))
    box.close()
    again = chaos.Report()
    chaos.count(again, office, ledger)
    assert (again.lost["dossier"], again.lost["scan"], again.duplicated["dossier"]) == (2, 1, 1)


@pytest.mark.soak
def test_soak_chaos(tmp_path: Path) -> None:
    report, _, _ = chaos.run_office(chaos.SOAK_ROUNDS, random.randrange(10**6), tmp_path)
    lines = "\n".join(report.lines())
    assert (sum(report.lost.values()), sum(report.duplicated.values())) == (0, 0), lines
    assert (report.integrity_failures, report.unexpected) == (0, []), lines


def test_bench_chaos_prints_its_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--rounds", "1", "--seed", "7", "--keep", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert int(figures["operations attempted"]) > 0
    assert figures["faults injected"] == "1 (serve 1)"
    assert figures["items lost"] == "0 (none)" and figures["items duplicated"] == "0 (none)"
    assert int(figures["items checked"].split()[0]) > 0


# --- a full disk at random points of a working day (SQLite's max_page_count stands in for the disk) ---


def test_a_full_disk_refuses_clearly_corrupts_nothing_and_recovers(box: Box, officer: User) -> None:
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    db = box.db()
    made: list[str] = []
    paid: list[str] = []

    def receive() -> None:
        person = applicant(id_number=f"001099{len(made):06d}")
        made.append(intake.receive_dossier(box, officer, dossier_body(applicant=person))["code"])

    def scan() -> None:
        body = b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(200, 3000))
        attach(box, officer, rng.choice(made), io.BytesIO(body), "scan.png")

    def pay() -> None:
        unpaid = [code for code in made if code not in paid]
        if not unpaid:
            return receive()
        cashier.take_payment(box, None, unpaid[0], "cash", 1_000, officer, box.now(), 1_000)
        paid.append(unpaid[0])

    receive()
    fills = 0
    for _ in range(5):
        db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0] + rng.randint(0, 2)}")
        for _ in range(300):
            operation = rng.choice((receive, receive, scan, pay))
            before = dump(box.settings.db_path)
            held, held_paid = list(made), list(paid)
            try:
                operation()
            except StorageError as err:
                assert (err.code, err.status, err.message("vi")) == ("disk_full", 503, DISK_FULL_VI), seed
                assert not db.conn.in_transaction
                assert dump(box.settings.db_path) == before, f"seed {seed}: a refused write changed the DB"
                made[:], paid[:] = held, held_paid
                fills += 1
                break
        else:
            pytest.fail(f"seed {seed}: the database never filled up")
        conn = sqlite3.connect(box.settings.db_path)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.close()
        db.execute(f"PRAGMA max_page_count = {NO_LIMIT}")
        operation()  # space is back: the same work goes through
    assert fills == 5
    for operation in (receive, scan, pay):
        operation()
    check_box(box.settings.db_path, made)
    paid = db.execute("SELECT count(*), count(DISTINCT receipt_number) FROM fee_payments").fetchone()
    assert paid[0] == paid[1]
