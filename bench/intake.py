"""Does intake and search stay flat as the box fills up?

Times `POST /api/v1/dossiers` and search (`GET /api/v1/dossiers?q=...`) against a real `motcua serve`
process for a small box (1,000 dossiers) and a large one (1,000,000), in the same run and alternating
between the two so machine noise hits both, and prints p50/p95/p99 per box and the ratio large/small.

Search is compared like for like: the verdict only uses queries that return the same number of items
in both boxes (selective ones naming one dossier, broad ones filling a page of 50), because a page of
50 items costs more than a page of 1 at any box size. Full-name searches, which return a few items
in the small box and a full page in the large one, are reported apart (bench/searches.py).

Targets: ratio large/small under 1.5 for p50 and p95 (cost flat as the box fills up) and p95 under
50 ms (2-core box).

Modules: bench/templates.py and bench/generate.py make the boxes (the large one cached under
bench/out/, named after GEN_VERSION; `--rebuild` forces a new one), bench/searches.py picks the
search strings, bench/measure.py runs the servers and the request loop, bench/diagnose.py times the
search in-process with its query plans, bench/report.py builds the figures and the report.
See bench/README.md.

Run: .venv/bin/python bench/intake.py [--small N] [--large N] [--requests N] [--warmup N] [--json]
                                      [--rebuild] [--out DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time as timer
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/intake.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from bench.diagnose import diagnose
from bench.generate import GEN_VERSION, prepare
from bench.measure import (
    TARGET_P95_MS,
    TARGET_RATIO,
    Served,
    box_size_parser,
    compare,
    parse_box_sizes,
    prewarm,
    run,
    serve,
    stop,
)
from bench.report import summarise, table
from bench.searches import pick


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = box_size_parser(
        __doc__.splitlines()[0] if __doc__ else None,
        300,
        "measured rounds (default 300): per box, that many POSTs and that many searches of each group",
    )
    parser.add_argument("--rebuild", action="store_true", help="regenerate the cached large box")
    return parse_box_sizes(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    started = timer.perf_counter()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="small-", dir=out))
    processes: list[subprocess.Popen[str]] = []
    try:
        # The small box is made fresh every run (cheap); the large one is cached between runs.
        small = prepare("small", args.small, args.seed, scratch, cache=False, rebuild=True, log=log)
        large = prepare("large", args.large, args.seed + 1, out, cache=True, rebuild=args.rebuild, log=log)
        rng = random.Random(args.seed)
        picks = [pick(prepared.data_dir, rng) for prepared in (small, large)]
        served = []
        for prepared, picked in zip((small, large), picks, strict=True):
            prewarm(prepared.data_dir / "motcua.db")
            process, url = serve(prepared, scratch / f"serve-{prepared.label}.log")
            processes.append(process)
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {prepared.token}"
            served.append(Served(prepared, process, url, session, picked.queries))
        log(f"measuring: {args.requests} rounds (+{args.warmup} warm-up) of 1 POST + 1 search per group, per box")
        run_start = timer.perf_counter()
        run(served, args.requests, args.warmup, args.seed)
        run_seconds = timer.perf_counter() - run_start
        for process in processes:
            stop(process)
        processes.clear()
        log("diagnosing the search in-process")
        result: dict[str, Any] = {
            "version": GEN_VERSION,
            "sqlite": sqlite3.sqlite_version,
            "requests": args.requests,
            "warmup": args.warmup,
            "seconds": round(run_seconds, 1),
            "boxes": {
                p.label: {"dossiers": p.dossiers, "path": str(p.data_dir), "generation": p.generation}
                for p in (small, large)
            },
            "intake": compare(served[0].intake_ms, served[1].intake_ms),
            **summarise(served, picks),
            "diagnosis": diagnose([(small, picks[0].queries), (large, picks[1].queries)]),
            "targets": {"ratio": TARGET_RATIO, "p95_ms": TARGET_P95_MS},
        }
        result["wall_seconds"] = round(timer.perf_counter() - started, 1)
        result["ok"] = result["intake"]["ok"] and result["search"]["ok"]
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False, indent=1) if args.json else table(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
