"""The printing bench runs (--quick) and reports figures that agree with each other and with the encoder.

Never asserts absolute times: only that the bench works and computes what it claims.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devices.printer.encode import encode_document, encode_naive
from devices.printer.profiles import get_profile

ROOT = Path(__file__).resolve().parents[1]


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "print.py"), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    proc = run_bench("--json")
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def test_rows_cover_both_documents_on_both_widths(result: dict[str, Any]) -> None:
    assert {(r["doc"], r["profile"]) for r in result["rows"]} == {
        (doc, profile) for doc in ("ticket", "receipt") for profile in ("generic-80", "generic-58")
    }
    assert result["bauds"] == [115200, 38400]


def test_figures_are_consistent(result: dict[str, Any]) -> None:
    from bench.print import DOCS

    for row in result["rows"]:
        profile = get_profile(row["profile"])
        assert row["bytes_efficient"] == len(encode_document(DOCS[row["doc"]], profile))
        assert row["bytes_naive"] == len(encode_naive(DOCS[row["doc"]], profile))
        assert row["ratio"] == pytest.approx(row["bytes_naive"] / row["bytes_efficient"], abs=1e-3)
        for baud in ("115200", "38400"):
            assert row["computed_s"][baud] == pytest.approx(row["bytes_efficient"] * 10 / int(baud), abs=1e-4)
            assert row["computed_naive_s"][baud] == pytest.approx(row["bytes_naive"] * 10 / int(baud), abs=1e-4)
            assert row["pty_s"][baud] > 0
        assert row["computed_s"]["38400"] == pytest.approx(row["computed_s"]["115200"] * 3, rel=1e-3)
        assert row["text_rows"] > 3
        assert row["qr"] == ("none" if row["doc"] == "ticket" else "native" if profile.native_qr else "raster")


def test_verdicts_follow_the_figures(result: dict[str, Any]) -> None:
    checks = result["targets"]
    assert len(checks) == 4 * len(result["rows"])
    for row in result["rows"]:
        label = f"{row['doc']} {row['profile']}"
        mine = [c for c in checks if c["target"].startswith(label + ":")]
        limit = 1.0 if row["doc"] == "ticket" else 3.0
        assert mine[0]["ok"] == (row["computed_s"]["115200"] < limit)
        assert mine[1]["ok"] == (row["ratio"] >= 2)
        assert mine[2]["ok"] == row["text_identical"]
        assert mine[3]["ok"] == row["qr_ok"]
    assert result["ok"] == all(c["ok"] for c in checks)


def test_table_output() -> None:
    proc = run_bench()
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("doc") and "s@115200 pty" in lines[0]
    verdicts = [line for line in lines if line.startswith(("OK", "MISSED"))]
    assert len(verdicts) == 16
    assert "pseudo-terminal" in proc.stdout
