"""bench/queue_bench.py runs as a script (bench/ first on sys.path) and its figures add up (no absolute times asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_queue_quick_figures_add_up() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "queue_bench.py"), "--tickets", "40", "--json"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["issued"] == result["unique_numbers"] == result["called"] == result["display_received"] == 40
    assert result["api_tickets_per_s"] > 0 and result["baseline_tickets_per_s"] > 0 and result["ratio"] > 0
    assert 0 < result["latency_median_ms"] <= result["latency_p95_ms"]
