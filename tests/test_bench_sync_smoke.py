"""The sync bench runs end to end at small sizes and reports well-formed figures.

Never asserts times against a clock: only that every part measured what it claims (ratios are the
quotients of the figures printed, the link really reset, the targets match the verdicts).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from bench.sync import QUICK, plan_scans
from bench.sync_links import LinkProxy, Sink

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def require_postgres() -> None:
    """The ingest part needs PostgreSQL; skip without it, except in CI where it must run."""
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=5).close()
    except psycopg.OperationalError as err:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL is not reachable: {err}")


def test_bench_sync_quick_reports_every_part() -> None:
    require_postgres()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sync.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    assert result["quick"] is True

    goodput = result["goodput"]
    assert goodput["target"] == {"ratio_min": 0.9}
    assert list(goodput["profiles"]) == ["512k", "8M"]
    for name, p in goodput["profiles"].items():
        assert (p["bandwidth_bps"], p["latency_ms"]) == {"512k": (512_000, 300), "8M": (8_000_000, 50)}[name]
        assert p["payload_bytes"] == p["scan_bytes"] + p["event_bytes"]
        assert p["scan_bytes"] <= QUICK.goodput[name] and p["scans"] >= 2 and p["events"] > p["scans"]
        assert p["event_bytes"] > 0 and p["dossiers"] >= 1
        assert p["ratio"] == pytest.approx(p["baseline_s"] / p["push_s"], abs=0.01)
        assert p["ok"] == (p["ratio"] >= 0.9)
        # The baseline sent the payload (plus one request's headers); our push at least the payload's scans.
        assert p["payload_bytes"] <= p["baseline_bytes_up"] < p["payload_bytes"] + 1000
        assert p["push_bytes_up"] >= p["scan_bytes"]
        # Neither can beat the link: the payload needs payload*8/bps seconds.
        assert p["link_s"] == pytest.approx(p["payload_bytes"] * 8 / p["bandwidth_bps"], abs=0.01)
        assert p["baseline_s"] >= p["link_s"] and p["push_s"] >= p["link_s"]
        assert p["cycles"] >= 1
    assert goodput["ok"] == all(p["ok"] for p in goodput["profiles"].values())

    resume = result["resume"]
    assert resume["target"] == {"waste_max_bytes": 256 * 1024}
    assert resume["scan_bytes"] == QUICK.resume_scan
    assert resume["reset"]["resets"] == 1 and resume["clean"]["resets"] == 0  # the link really reset once
    assert resume["clean"]["scan_bytes_sent"] == resume["scan_bytes"] and resume["clean"]["scan_bytes_resent"] == 0
    assert resume["waste_bytes"] == resume["reset"]["scan_bytes_sent"] - resume["scan_bytes"] >= 0
    assert resume["reset"]["scan_bytes_resent"] <= resume["waste_bytes"]
    assert resume["link_waste_bytes"] == resume["reset"]["bytes_up"] - resume["clean"]["bytes_up"]
    assert resume["reset"]["cycles"] >= 2  # the reset ended a cycle; the next one resumed
    assert resume["ok"] == (resume["waste_bytes"] <= 256 * 1024)

    reconnect = result["reconnect"]
    assert reconnect["target"] == {"max_s": 10.0}
    assert len(reconnect["seconds"]) == reconnect["repeats"] == QUICK.repeats
    assert all(s > 0 for s in reconnect["seconds"])
    assert reconnect["max_s"] == max(reconnect["seconds"])
    assert reconnect["ok"] == (reconnect["max_s"] <= 10.0)

    ingest = result["ingest"]
    assert ingest["target"] == {"ratio_min": 0.3, "events_per_s_min": 3300.0}
    assert ingest["boxes"] == QUICK.ingest_boxes and ingest["hub_processes"] == 2
    assert ingest["events"] == ingest["accepted"] == QUICK.ingest_boxes * QUICK.ingest_events
    assert ingest["ratio"] == pytest.approx(ingest["api_events_per_s"] / ingest["raw_events_per_s"], abs=0.01)
    assert ingest["ok"] == (ingest["ratio"] >= 0.3 and ingest["api_events_per_s"] >= 3300)

    assert result["ok"] == all(result[part]["ok"] for part in ("goodput", "resume", "reconnect", "ingest"))


def test_scan_plan_mixes_sizes() -> None:
    sizes = plan_scans(random.Random(1), 2 * 1024 * 1024, (20_000, 200_000), (1_000_000, 2_000_000))
    assert 2 * 1024 * 1024 - 20_000 < sum(sizes) <= 2 * 1024 * 1024
    assert 1_000_000 <= sizes[0] <= 1024 * 1024  # one big scan, at most half the payload
    assert all(20_000 <= s <= 200_000 for s in sizes[1:-1])


def test_link_proxy_counts_resets_once_and_goes_down() -> None:
    with Sink() as sink, LinkProxy(sink.port) as proxy:
        url = f"http://127.0.0.1:{proxy.port}/x"
        assert requests.post(url, data=b"a" * 5000, timeout=10).text == "ok"
        assert proxy.stats().bytes_up > 5000 and proxy.stats().connections == 1
        proxy.reset_once_after(100_000)
        with pytest.raises(requests.ConnectionError):
            requests.post(url, data=b"b" * 1_000_000, timeout=10)
        assert proxy.stats().resets == 1
        assert requests.post(url, data=b"c" * 200_000, timeout=10).text == "ok"  # once only
        proxy.down()
        with pytest.raises(requests.ConnectionError):
            requests.post(url, data=b"d", timeout=10)
        proxy.up()
        assert requests.post(url, data=b"e", timeout=10).text == "ok"
