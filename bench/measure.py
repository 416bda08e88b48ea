"""Measuring over HTTP: `motcua serve` processes, the request loop, percentiles and ratios.

Every round sends one POST /api/v1/dossiers to each box, then one search of each search group
(bench/searches.py) to each box, alternating which box goes first, so machine noise hits both.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time as timer
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import requests

from bench.generate import OUT_DIR, Prepared
from bench.searches import GROUPS, KINDS
from edge import catalogue, sample
from edge.processes import stop_process

TARGET_RATIO = 1.5
TARGET_P95_MS = 50.0


@dataclass
class Served:
    """A running `motcua serve` process, a session to it and what it measured."""

    prepared: Prepared
    process: subprocess.Popen[str]
    url: str
    session: requests.Session
    queries: Mapping[str, Sequence[str]]
    intake_ms: list[float] = field(default_factory=list)
    search_ms: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    search_items: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in KINDS})


def serve(prepared: Prepared, log_path: Path) -> tuple[subprocess.Popen[str], str]:
    """Start `motcua serve --port 0` on the box and return it with its URL."""
    with open(log_path, "w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "serve", "--data", str(prepared.data_dir), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        process.wait()
        raise RuntimeError(f"server for {prepared.label} did not start: {line!r}, see {log_path}")
    return process, line[line.index("http://") :].split()[0].rstrip("/")


def stop(process: subprocess.Popen[str]) -> None:
    """Stop a server process started by this bench."""
    stop_process(process)


def prewarm(path: Path) -> None:
    """Read the DB file once, as a box that has been serving for a while has it in the page cache."""
    with open(path, "rb") as db_file:
        while db_file.read(8 << 20):
            pass


def timed(call: Callable[[], requests.Response], expect: int) -> tuple[float, requests.Response]:
    """Return the milliseconds a request took and its response; fail loudly on an unexpected status."""
    start = timer.perf_counter()
    resp = call()
    elapsed = (timer.perf_counter() - start) * 1000
    if resp.status_code != expect:
        raise RuntimeError(f"{resp.request.method} {resp.url} -> {resp.status_code}: {resp.text[:300]}")
    return elapsed, resp


def bodies(seed: int) -> Iterator[dict[str, Any]]:
    """Yield realistic POST /dossiers bodies (the same sequence for both boxes)."""
    rng = random.Random(seed)
    procs = catalogue.sample_catalogue()
    while True:
        proc = rng.choice(procs)
        yield {
            "procedure_code": proc.code,
            "applicant": sample.applicant(rng),
            "documents": [{"name": d.name, "kind": d.kind, "quantity": d.quantity} for d in proc.documents],
            "channel": "counter",
            "return_method": "post" if rng.random() < 0.1 else "counter",
        }


def run(boxes: Sequence[Served], rounds: int, warmup: int, seed: int) -> None:
    """Alternate POSTs and searches between the boxes; the order flips every round.

    Each round: one POST to each box, then for each search group one search to each box; the group's
    kind cycles with the round, and each kind cycles through its own queries.
    """
    streams = [bodies(seed) for _ in boxes]
    visits = [dict.fromkeys(KINDS, 0) for _ in boxes]
    for round_no in range(warmup + rounds):
        record = round_no >= warmup
        order = list(enumerate(boxes)) if round_no % 2 == 0 else list(reversed(list(enumerate(boxes))))
        for i, served in order:
            body = next(streams[i])
            ms, _ = timed(partial(served.session.post, f"{served.url}/api/v1/dossiers", json=body, timeout=60), 201)
            if record:
                served.intake_ms.append(ms)
        for kinds in GROUPS.values():
            kind = kinds[round_no % len(kinds)]
            for i, served in order:
                choices = served.queries[kind]
                q = choices[visits[i][kind] % len(choices)]
                visits[i][kind] += 1
                url = f"{served.url}/api/v1/dossiers"
                ms, resp = timed(partial(served.session.get, url, params={"q": q}, timeout=60), 200)
                if record:
                    served.search_ms[kind].append(ms)
                    served.search_items[kind].append(len(resp.json()["items"]))


def stats(samples: Sequence[float]) -> dict[str, float]:
    """Return n and p50/p95/p99/mean in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 else [samples[0]] * 99
    return {
        "n": len(samples),
        "p50": round(statistics.median(samples), 2),
        "p95": round(cuts[94], 2),
        "p99": round(cuts[98], 2),
        "mean": round(statistics.fmean(samples), 2),
    }


def compare(small: Sequence[float], large: Sequence[float], p95_target: float = TARGET_P95_MS) -> dict[str, Any]:
    """Return both boxes' figures, the ratios large/small and whether the targets are met."""
    a, b = stats(small), stats(large)
    ratio_p50 = round(b["p50"] / a["p50"], 2)
    ratio_p95 = round(b["p95"] / a["p95"], 2)
    flat = ratio_p50 < TARGET_RATIO and ratio_p95 < TARGET_RATIO
    fast = max(a["p95"], b["p95"]) < p95_target
    return {"small": a, "large": b, "ratio_p50": ratio_p50, "ratio_p95": ratio_p95, "flat": flat, "fast": fast,
            "ok": flat and fast}  # fmt: skip


def box_size_parser(description: str | None, requests: int, requests_help: str) -> argparse.ArgumentParser:
    """Return the options both benches share: box sizes, rounds, warm-up, output, seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--small", type=int, default=1000, help="dossiers in the small box (default 1000)")
    parser.add_argument("--large", type=int, default=1_000_000, help="dossiers in the large box (default 1000000)")
    parser.add_argument("--requests", type=int, default=requests, help=requests_help)
    parser.add_argument("--warmup", type=int, default=20, help="unrecorded rounds first (default 20)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON only")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where boxes are kept (default bench/out)")
    parser.add_argument("--seed", type=int, default=2026)
    return parser


def parse_box_sizes(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the arguments and refuse sizes and rounds a bench cannot run with."""
    args = parser.parse_args(argv)
    if args.small < 1 or args.large < 1 or args.requests < 2 or args.warmup < 0:
        parser.error("--small/--large must be >= 1, --requests >= 2, --warmup >= 0")
    return args
