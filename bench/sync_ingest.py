"""Hub ingest on PostgreSQL: events/s through the signed push API with many boxes at once, vs raw inserts.

The same rows go, in the same run and into the same server, (1) through `POST /sync/v1/events` of two
real `motcua hub serve` processes, pushed by N enrolled boxes at once (one thread per box, batches of
500), and (2) straight into a table of the same shape with psycopg's `executemany` (the raw
baseline), alternating for a few rounds. Targets: API ≥ 0.3 of raw, and ≥ 3,300 events/s with 200 boxes.
"""

from __future__ import annotations

import hashlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time as timer
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import requests

from edge import sample
from edge.calendar import TZ
from edge.hlc import format_hlc
from sync.hub.boxes import add_box
from sync.hub.config import open_hub
from sync.protocol import encode_batch, sign

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_RATIO = 0.3
TARGET_EPS = 3300.0
BATCH = 500


@dataclass(frozen=True)
class Enrolled:
    """A box the bench enrolled: its id, commune and secret."""

    box_id: str
    commune_code: str
    secret: bytes


def _database(name: str) -> str:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _motcua(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"motcua {' '.join(args)}: {done.stderr}")
    return done.stdout.strip()


def _events(box: Enrolled, count: int, rng: random.Random, start: datetime) -> list[dict[str, Any]]:
    """Return `count` realistic events of one box: new dossiers, each followed by a few actions."""
    out: list[dict[str, Any]] = []
    ms = int(start.timestamp() * 1000)
    n = 0
    while len(out) < count:
        dossier_id = str(uuid.uuid4())
        moment = start + timedelta(minutes=n * 7)
        payload = {
            "code": f"000.{box.commune_code}.H01-{moment:%y%m%d}-{n % 7999 + 1:04d}",
            "procedure": {"code": "1.001193.000.00.00.H56", "name": "Đăng ký khai sinh", "field": "Hộ tịch",
                          "level": "full", "processing_days": 1, "same_day_cutoff": "15:00", "fees": []},
            "applicant": sample.applicant(rng),
            "documents": [{"name": "Tờ khai đăng ký khai sinh", "kind": "original", "quantity": 1}],
            "channel": "counter", "return_method": "counter", "return_address": None, "status": "new",
            "received_at": moment.isoformat(timespec="seconds"),
            "due_at": (moment + timedelta(days=1)).isoformat(timespec="seconds"), "notes": "",
        }  # fmt: skip
        kinds = [("created", payload), ("transferred", {"assignee": "canbo2"}), ("approved", {})]
        for kind, body in kinds[: min(len(kinds), count - len(out))]:
            ms += 1000
            out.append({
                "event_id": str(uuid.uuid4()), "dossier_id": dossier_id, "kind": kind, "payload": body,
                "actor": "canbo", "origin": f"box:{box.box_id}", "wall_time": moment.isoformat(timespec="seconds"),
                "hlc": format_hlc(ms, 0),
            })  # fmt: skip
        n += 1
    return out


def _batches(box: Enrolled, events: list[dict[str, Any]]) -> list[bytes]:
    """Encode a box's events as push batches (before the clock starts: the box's CPU is not the hub's)."""
    return [
        encode_batch(events[i : i + BATCH], box_id=box.box_id, batch_id=str(uuid.uuid4()))
        for i in range(0, len(events), BATCH)
    ]


def _push(url: str, box: Enrolled, batches: list[bytes]) -> int:
    """Push one box's batches; return how many events the hub accepted."""
    accepted = 0
    session = requests.Session()
    for body in batches:
        path = "/sync/v1/events"
        headers = sign(box.secret, box.box_id, "POST", path, None, body)
        headers["Content-Type"] = "application/vnd.motcua.batch+gzip"
        resp = session.post(url + path, data=body, headers=headers, timeout=600)
        resp.raise_for_status()
        ack = resp.json()
        if ack["rejected"]:
            raise RuntimeError(f"hub refused events: {ack['rejected'][:3]}")
        accepted += len(ack["accepted"])
    session.close()
    return accepted


def _raw(database_url: str, rows: list[tuple[Any, ...]], table: str) -> float:
    """Insert the rows with executemany into a new table shaped like the hub's events; return seconds.

    Same columns, types, collation and indexes as the hub's `events` table: its unique event_id and
    the index by dossier that the hub's reads need (sync/hub/db.py).
    """
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE {table} (seq BIGSERIAL PRIMARY KEY, event_id TEXT COLLATE "C" NOT NULL UNIQUE,'
            ' dossier_id TEXT COLLATE "C" NOT NULL, commune_code TEXT COLLATE "C" NOT NULL, kind TEXT NOT NULL,'
            " payload TEXT NOT NULL, actor TEXT NOT NULL, origin TEXT NOT NULL, wall_time TEXT NOT NULL,"
            " hlc TEXT NOT NULL, from_box TEXT, received_at TEXT NOT NULL, digest TEXT NOT NULL)"
        )
        conn.execute(f"CREATE INDEX {table}_by_dossier ON {table}(dossier_id)")
        started = timer.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {table} (event_id, dossier_id, commune_code, kind, payload, actor, origin, wall_time,"
                " hlc, from_box, received_at, digest) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        return timer.perf_counter() - started


def _rows(box: Enrolled, events: list[dict[str, Any]], now: str) -> list[tuple[Any, ...]]:
    out = []
    for e in events:
        payload = json.dumps(e["payload"], ensure_ascii=False, sort_keys=True)
        digest = hashlib.sha256(json.dumps(e, sort_keys=True).encode()).hexdigest()
        out.append((e["event_id"], e["dossier_id"], box.commune_code, e["kind"], payload, e["actor"], e["origin"],
                    e["wall_time"], e["hlc"], box.box_id, now, digest))  # fmt: skip
    return out


def _round(
    urls: list[str], enrolled: list[Enrolled], work: dict[Enrolled, list[dict[str, Any]]], url: str, index: int
) -> dict[str, Any]:
    """Push one round of events through the API, then insert the same rows raw; return both timings."""
    encoded = {box: _batches(box, events) for box, events in work.items()}
    total = sum(len(v) for v in work.values())
    started = timer.perf_counter()
    with ThreadPoolExecutor(max_workers=len(enrolled)) as pool:
        jobs = [(urls[i % len(urls)], box) for i, box in enumerate(enrolled)]
        accepted = sum(pool.map(lambda job: _push(job[0], job[1], encoded[job[1]]), jobs))
    api_s = timer.perf_counter() - started
    now = datetime.now(TZ).isoformat(timespec="seconds")
    raw_s = _raw(url, [row for box, events in work.items() for row in _rows(box, events, now)], f"raw_events_{index}")
    return {"events": total, "accepted": accepted, "api_s": api_s, "raw_s": raw_s,
            "ratio": (total / api_s) / (total / raw_s)}  # fmt: skip


def measure_ingest(
    boxes: int = 200, events_per_box: int = 250, hubs: int = 2, seed: int = 2026, rounds: int = 3
) -> dict[str, Any]:
    """Run the ingest comparison and return its figures.

    The machine is shared and noisy, so the API push and the raw insert of the same rows alternate
    for `rounds` rounds (fresh events each round) and the figures are the medians; the ratio is the
    median of the rounds' own ratios, each from two runs a few seconds apart.
    """
    name = f"motcua_bench_ingest_{uuid.uuid4().hex[:8]}"
    url = _database(name)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="motcua-bench-hub-") as tmp:
        data = Path(tmp) / "hub"
        _motcua("hub", "init", "--data", str(data), "--database-url", url)
        _settings, db = open_hub(data)
        codes = []
        for i in range(boxes):
            commune = f"{10000 + i:05d}"
            codes.append((commune, add_box(db, commune, f"Xã {i}", agency_code=f"000.00.{i % 100:02d}.H01")[1]))
        db.close()
        # The province's two data centres: two hub processes on the one PostgreSQL, boxes split between them.
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "hub", "serve", "--data", str(data), "--port", "0"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for _ in range(hubs)
        ]
        try:
            urls = []
            for process in processes:
                assert process.stdout is not None
                line = process.stdout.readline()
                urls.append(line[line.index("http://") :].split()[0].rstrip("/"))
            hub_url = urls[0]
            enrolled = []
            for commune, code in codes:
                box_id = str(uuid.uuid4())
                body = {"code": code, "box_id": box_id, "commune_code": commune, "agency_code": None, "name": "x",
                        "version": "bench"}  # fmt: skip
                resp = requests.post(f"{hub_url}/sync/v1/enroll", json=body, timeout=30)
                resp.raise_for_status()
                enrolled.append(Enrolled(box_id, commune, bytes.fromhex(resp.json()["secret"])))
            done = []
            for r in range(rounds):
                start = datetime(2026, 11, 2, 8, 0, tzinfo=TZ) + timedelta(days=r)
                work = {box: _events(box, events_per_box, rng, start) for box in enrolled}
                done.append(_round(urls, enrolled, work, url, r))
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
    _drop(name)
    total = done[0]["events"]
    api_s = statistics.median(d["api_s"] for d in done)
    raw_s = statistics.median(d["raw_s"] for d in done)
    ratio = statistics.median(d["ratio"] for d in done)
    api_eps = total / api_s
    accepted = sum(d["accepted"] for d in done)
    return {
        "boxes": boxes,
        "hub_processes": hubs,
        "rounds": rounds,
        "events": total,
        "accepted": accepted,
        "api_s": round(api_s, 2),
        "raw_s": round(raw_s, 2),
        "api_events_per_s": round(api_eps),
        "raw_events_per_s": round(total / raw_s),
        "ratio": round(ratio, 3),
        "round_ratios": [round(d["ratio"], 3) for d in done],
        "ok": ratio >= TARGET_RATIO and api_eps >= TARGET_EPS and accepted == total * rounds,
    }
