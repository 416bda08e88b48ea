"""Chaos: a commune box and its hub, faults injected while officers work, then a count of what was lost.

Real processes throughout: `motcua serve` (the box's web service), `motcua sync-worker` and `motcua
hub serve` (a hub on SQLite). Officer threads receive dossiers over the API (each with its own
Idempotency-Key, retried with the same key when the answer was lost), attach a scan and take a cash
payment. At random moments one fault is injected:

- kill -9 of the web service, of the sync worker or of the hub (then it is restarted);
- a power cut: the web service and the worker are stopped with SIGSTOP, the box's DB files (db,
  -wal, -shm) are copied as they are on disk at that moment, both are SIGKILLed, and the copy must
  open, pass `PRAGMA integrity_check` and hold every dossier and payment whose 201 (its receipt) had
  been sent.

After every fault both DB files pass `PRAGMA integrity_check`. At the end the box syncs until nothing
is left to send and every item the officers got a 201 for is looked for: dossiers, scans (blob
files whose hash matches), payments, and at the hub every event and blob of the box. An item missing
is lost; an item found twice (two dossiers for one form, two payments taken once) is duplicated.

Usage: python -m bench.chaos [--soak] [--rounds N] [--seed N]
Prints operations attempted, faults injected, items lost, items duplicated (targets: 0 and 0).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from edge import catalogue
from edge.box import init_box, open_box
from edge.config import Settings
from edge.procedures import upsert_procedures
from edge.users import add_user, create_token

QUICK_ROUNDS, SOAK_ROUNDS = 6, 120
KINDS = ("serve", "worker", "hub", "power")
FAST_WORKER = {"MOTCUA_SYNC_INTERVAL_S": "1", "MOTCUA_SYNC_CHECK_S": "0.2"}
PNG_HEAD = b"\x89PNG\r\n\x1a\n"
CASH = {"method": "cash", "amount": 5_000, "received": 5_000}


def motcua(*args: str) -> str:
    """Run `motcua ARGS` and return its stdout; raise with its stderr when it fails."""
    done = subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"motcua {' '.join(args)}: {done.stderr}{done.stdout}")
    return done.stdout.strip()


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def integrity(db_path: Path) -> bool:
    """Return whether a SQLite file passes `PRAGMA integrity_check` (read by a connection of its own)."""
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


class Service:
    """One `motcua` process on a fixed port, started again after each fault."""

    def __init__(self, name: str, args: list[str], log: Path, banner: str | None) -> None:
        self.name, self.args, self.log, self.banner = name, args, log, banner
        self.process: subprocess.Popen[bytes] | None = None
        self.up = threading.Event()

    def start(self, timeout: float = 60) -> None:
        """Start the process and wait until it says it serves (a worker is up once started)."""
        start = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **FAST_WORKER},
            )
        deadline = time.monotonic() + timeout
        while self.banner is not None:
            if self.banner.encode() in self.log.read_bytes()[start:]:
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        self.up.set()

    def signal(self, sig: int) -> None:
        """Send a signal to the process."""
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        """kill -9 the process and reap it."""
        self.up.clear()
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a while."""
        self.up.clear()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


class Unexpected(Exception):
    """The service answered, but not with what a healthy box answers."""


@dataclass
class Ledger:
    """What the officers were promised (a 201) and what is still in doubt (no answer came)."""

    attempted: int = 0
    dossiers: dict[str, str] = field(default_factory=dict)  # Idempotency-Key → code
    doubtful: dict[str, dict[str, Any]] = field(default_factory=dict)  # Idempotency-Key → body
    scans: dict[str, str] = field(default_factory=dict)  # sha256 → code
    payments: dict[str, str] = field(default_factory=dict)  # payment id → code
    paid_once: set[str] = field(default_factory=set)  # codes a payment was sent for (at most once each)
    unexpected: list[str] = field(default_factory=list)  # answers other than 201, with their bodies
    lock: threading.Lock = field(default_factory=threading.Lock)
    serial: int = 0

    def next_body(self) -> tuple[str, dict[str, Any]]:
        """Return a fresh Idempotency-Key and a form with an ID number no other form has."""
        with self.lock:
            self.serial += 1
            number = self.serial
        body = {
            "procedure_code": "1.001193",
            "applicant": {
                "full_name": "Nguyễn Văn An", "id_type": "cccd", "id_number": f"001099{number:06d}",
                "date_of_birth": "1999-03-04", "sex": "male", "phone": "0912345678", "address": "Số 12 phố Hàng Bạc",
            },
            "documents": [{"name": "Tờ khai đăng ký khai sinh", "kind": "original", "quantity": 1}],
            "channel": "counter",
            "return_method": "counter",
        }  # fmt: skip
        return str(uuid.uuid4()), body


class Officer(threading.Thread):
    """Receives dossiers, attaches a scan and takes cash, round after round, through the API."""

    def __init__(self, url: str, token: str, web: Service, ledger: Ledger, stop: threading.Event, seed: int) -> None:
        super().__init__(daemon=True)
        self.url, self.web, self.ledger, self.stop_event = url, web, ledger, stop
        self.rng = random.Random(seed)
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def run(self) -> None:
        while not self.stop_event.is_set():
            if not self.web.up.wait(timeout=0.2):
                continue
            try:
                self.retry_doubtful()
                self.one_citizen()
            except (requests.RequestException, ValueError):
                time.sleep(0.05)  # the service is gone: wait for it to come back
            except Unexpected as err:
                with self.ledger.lock:
                    self.ledger.unexpected.append(str(err))
        self.http.close()

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        with self.ledger.lock:
            self.ledger.attempted += 1
        return self.http.post(f"{self.url}{path}", timeout=30, **kwargs)

    def receive(self, key: str, body: dict[str, Any]) -> str:
        """POST the form; a lost answer leaves the key in doubt, retried with the same key later."""
        with self.ledger.lock:
            self.ledger.doubtful[key] = body
        resp = self.post("/api/v1/dossiers", json=body, headers={"Idempotency-Key": key})
        if resp.status_code != 201:
            raise Unexpected(f"intake answered {resp.status_code}: {resp.text}")
        code = str(resp.json()["code"])
        with self.ledger.lock:
            self.ledger.dossiers[key] = code
            self.ledger.doubtful.pop(key, None)
        return code

    def retry_doubtful(self) -> None:
        """Send one form whose answer was lost once more with the same key (this officer takes it)."""
        with self.ledger.lock:
            if not self.ledger.doubtful:
                return
            key, body = self.ledger.doubtful.popitem()
        self.receive(key, body)

    def retry_all(self) -> None:
        """Send every form still in doubt once more with its key (at the end of the run)."""
        with self.ledger.lock:
            pending = list(self.ledger.doubtful.items())
        for key, body in pending:
            self.receive(key, body)
        self.http.close()

    def one_citizen(self) -> None:
        key, body = self.ledger.next_body()
        code = self.receive(key, body)
        scan = PNG_HEAD + self.rng.randbytes(self.rng.randint(400, 4000))
        resp = self.post(f"/api/v1/dossiers/{code}/attachments", files={"file": ("scan.png", io.BytesIO(scan))})
        if resp.status_code != 201:
            raise Unexpected(f"attach answered {resp.status_code}: {resp.text}")
        with self.ledger.lock:
            self.ledger.scans[hashlib.sha256(scan).hexdigest()] = code
            self.ledger.paid_once.add(code)
        # A payment whose answer is lost is not sent again: the officer checks the dossier first.
        resp = self.post(f"/api/v1/dossiers/{code}/payments", json=CASH)
        if resp.status_code != 201:
            raise Unexpected(f"payment answered {resp.status_code}: {resp.text}")
        with self.ledger.lock:
            self.ledger.payments[str(resp.json()["id"])] = code


@dataclass
class Report:
    """The chaos run's figures."""

    attempted: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    duplicated: Counter[str] = field(default_factory=Counter)
    integrity_failures: int = 0
    checked: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    seed: int = 0

    def lines(self) -> list[str]:
        """Return the report as printed."""

        def parts(counter: Counter[str]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counter.items()) if v) or "none"

        return [
            f"seed: {self.seed}",
            f"operations attempted: {self.attempted}",
            f"faults injected: {sum(self.faults.values())} ({parts(self.faults)})",
            f"items checked: {sum(self.checked.values())} ({parts(self.checked)})",
            f"integrity check failures: {self.integrity_failures}",
            f"unexpected answers: {len(self.unexpected)}" + "".join(f"\n  {u}" for u in self.unexpected[:5]),
            f"items lost: {sum(self.lost.values())} ({parts(self.lost)})",
            f"items duplicated: {sum(self.duplicated.values())} ({parts(self.duplicated)})",
        ]


class Office:
    """A provisioned box and its hub in a scratch directory, with their three processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.settings = self._make_box(root / "box")
        self.hub_dir = root / "hub"
        hub_port = free_port()
        motcua("hub", "init", "--data", str(self.hub_dir))
        code = motcua("hub", "box", "add", "--data", str(self.hub_dir), "--commune-code", "00001", "--name", "UBND xã")
        self.hub = Service("hub", ["hub", "serve", "--data", str(self.hub_dir), "--port", str(hub_port)],
                           root / "hub.log", "http://")  # fmt: skip
        self.hub.start()
        motcua(
            "provision", "--data", str(self.settings.data_dir), "--hub", f"http://127.0.0.1:{hub_port}", "--code", code
        )
        data = str(self.settings.data_dir)
        self.port = free_port()
        self.web = Service("serve", ["serve", "--data", data, "--port", str(self.port)], root / "serve.log", "http://")
        self.worker = Service("worker", ["sync-worker", "--data", data], root / "worker.log", None)
        self.web.start()
        self.worker.start()

    @staticmethod
    def _make_box(data: Path) -> Settings:
        settings = init_box(data, "00001", "000.17.22.H56", "UBND xã Thử Nghiệm")
        box = open_box(settings.data_dir)
        upsert_procedures(box.db(), catalogue.sample_catalogue())
        add_user(box.db(), "canbo", "officer", "matkhau-2026")
        box.close()
        return settings

    def token(self) -> str:
        box = open_box(self.settings.data_dir)
        try:
            return create_token(box.db(), "canbo")
        finally:
            box.close()

    def services(self) -> dict[str, Service]:
        return {"serve": self.web, "worker": self.worker, "hub": self.hub}

    def close(self) -> None:
        for service in self.services().values():
            service.stop()


def power_cut(office: Office, ledger: Ledger, copy_dir: Path) -> list[str]:
    """Stop the box's processes, copy its files as they are on disk, kill them; return what the copy lacks.

    What the copy must hold: every dossier and every payment the officers got a 201 (a receipt) for.
    """
    office.web.signal(signal.SIGSTOP)
    office.worker.signal(signal.SIGSTOP)
    shutil.rmtree(copy_dir, ignore_errors=True)
    shutil.copytree(office.settings.data_dir, copy_dir)  # db, -wal, -shm and the rest, as on disk now
    office.web.kill()
    office.worker.kill()
    time.sleep(0.3)  # answers already in the sockets' buffers reach the officers
    with ledger.lock:
        promised = set(ledger.dossiers.values()) | set(ledger.payments)
    box = open_box(copy_dir)  # the box opens (its start runs no migration)
    try:
        held = {c for (c,) in box.db().execute("SELECT code FROM dossiers UNION ALL SELECT id FROM fee_payments")}
    finally:
        box.close()
    return sorted(promised - held)


def run(rounds: int, seed: int, root: Path, officers: int = 2) -> Report:
    """Run the chaos rounds in root and return the figures."""
    return run_office(rounds, seed, root, officers)[0]


def run_office(rounds: int, seed: int, root: Path, officers: int = 2) -> tuple[Report, Office, Ledger]:
    """Run the chaos rounds in root; return the figures, the (stopped) office and what was promised."""
    rng = random.Random(seed)
    report = Report(seed=seed)
    office = Office(root)
    ledger = Ledger()
    stop = threading.Event()
    url = f"http://127.0.0.1:{office.port}"
    token = office.token()
    team = [Officer(url, token, office.web, ledger, stop, seed + n) for n in range(officers)]
    try:
        for officer in team:
            officer.start()
        for n in range(rounds):
            time.sleep(rng.uniform(0.3, 1.5))
            kind = KINDS[n % len(KINDS)] if n < len(KINDS) else rng.choice(KINDS)
            report.faults[kind] += 1
            if kind == "power":
                missing = power_cut(office, ledger, root / "power-cut-copy")
                report.lost["receipt (power cut copy)"] += len(missing)
                if not integrity(root / "power-cut-copy" / office.settings.db_path.name):
                    report.integrity_failures += 1
                victims = [office.web, office.worker]
            else:
                victims = [office.services()[kind]]
                victims[0].kill()
            report.integrity_failures += not integrity(office.settings.db_path)
            report.integrity_failures += not integrity(office.hub_dir / "hub.db")
            time.sleep(rng.uniform(0.0, 0.5))
            for victim in victims:
                victim.start()
        stop.set()
        for officer in team:
            officer.join(timeout=60)
        # The forms whose answer was lost at the very end are sent once more with their key.
        Officer(url, token, office.web, ledger, stop, seed).retry_all()
        office.worker.stop()
        sync_until_done(office.settings)
    finally:
        stop.set()
        office.close()
    report.attempted = ledger.attempted
    report.unexpected = list(ledger.unexpected)
    count(report, office, ledger)
    return report, office, ledger


def sync_until_done(settings: Settings, attempts: int = 60) -> None:
    """Run `motcua sync once` until it exits 0 (nothing left to send)."""
    for _ in range(attempts):
        done = subprocess.run(
            [sys.executable, "-m", "edge.cli", "sync", "once", "--data", str(settings.data_dir)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode == 0:
            return
    raise RuntimeError(f"sync once never finished: {done.stdout} {done.stderr}")


def count(report: Report, office: Office, ledger: Ledger) -> None:
    """Look for every promised item in the box and at the hub; count the missing and the doubled."""
    report.integrity_failures += not integrity(office.settings.db_path)
    report.integrity_failures += not integrity(office.hub_dir / "hub.db")
    box = open_box(office.settings.data_dir)
    db = box.db()
    try:
        codes = {c for (c,) in db.execute("SELECT code FROM dossiers")}
        report.lost["dossier"] += len(set(ledger.dossiers.values()) - codes)
        keys = dict(db.execute("SELECT key, dossier_id FROM intake_keys").fetchall())
        report.lost["dossier"] += sum(1 for k in ledger.dossiers if k not in keys)
        ids = Counter(i for (i,) in db.execute("SELECT applicant_id_number FROM dossiers"))
        report.duplicated["dossier"] += sum(n - 1 for n in ids.values())
        blobs = {s for (s,) in db.execute("SELECT sha256 FROM blobs")}
        for sha in ledger.scans:
            path = box.settings.blob_dir / sha[:2] / sha
            if sha not in blobs or not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != sha:
                report.lost["scan"] += 1
        paid = dict(db.execute("SELECT id, status FROM fee_payments").fetchall())
        report.lost["payment"] += sum(1 for p in ledger.payments if paid.get(p) != "approved")
        per_dossier = Counter(c for (c,) in db.execute("SELECT dossier_code FROM fee_payments"))
        report.duplicated["payment"] += sum(n - 1 for n in per_dossier.values())
        events = {e for (e,) in db.execute("SELECT event_id FROM dossier_events WHERE origin = ?", [box.origin])}
        pending = db.execute("SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM blob_outbox)").fetchone()[0]
        report.lost["unsent at the end"] += int(pending)
    finally:
        box.close()
    hub = sqlite3.connect(office.hub_dir / "hub.db", timeout=30)
    try:
        stored = Counter(e for (e,) in hub.execute("SELECT event_id FROM events"))
        hub_blobs = {s for (s,) in hub.execute("SELECT sha256 FROM blobs WHERE complete = 1")}
        hub_codes = {c for (c,) in hub.execute("SELECT code FROM dossiers")}
    finally:
        hub.close()
    report.checked.update({"dossier": len(ledger.dossiers), "scan": len(ledger.scans)})
    report.checked.update({"payment": len(ledger.payments), "event at the hub": len(events)})
    report.checked.update({"blob at the hub": len(blobs)})
    report.lost["event at the hub"] += len(events - set(stored))
    report.duplicated["event at the hub"] += sum(n - 1 for n in stored.values())
    report.lost["blob at the hub"] += len(blobs - hub_blobs)
    report.lost["dossier at the hub"] += len(set(ledger.dossiers.values()) - hub_codes)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chaos bench and print its figures; exit 1 when anything was lost, doubled or broken."""
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--soak", action="store_true", help=f"{SOAK_ROUNDS} faults instead of {QUICK_ROUNDS}")
    parser.add_argument("--rounds", type=int, help="number of faults to inject")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", help="run in this directory and keep it")
    args = parser.parse_args(argv)
    rounds = args.rounds or (SOAK_ROUNDS if args.soak else QUICK_ROUNDS)
    seed = random.randrange(10**6) if args.seed is None else args.seed
    started = time.monotonic()
    if args.keep:
        report = run(rounds, seed, Path(args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="motcua-chaos-") as tmp:
            report = run(rounds, seed, Path(tmp))
    for line in report.lines():
        print(line)
    print(f"time: {time.monotonic() - started:.1f} s")
    bad = sum(report.lost.values()) + sum(report.duplicated.values()) + report.integrity_failures
    bad += len(report.unexpected)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
