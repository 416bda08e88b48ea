"""The intake/search bench runs end to end on small boxes and reports well-formed figures.

Never asserts absolute times: only that the bench works, compares search like for like and computes
what it claims.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from bench.generate import AGENCY, prepare
from bench.report import items_differ
from bench.searches import GROUPS, KINDS, VERDICT_GROUPS, pick
from edge import queries
from edge.box import open_box
from edge.calendar import TZ
from edge.intake import receive_dossier
from edge.users import User

ROOT = Path(__file__).resolve().parents[1]


def run_bench(out: Path, small: int, large: int, requests: int, warmup: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "intake.py"), "--small", str(small), "--large", str(large),
         "--requests", str(requests), "--warmup", str(warmup), "--json", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def check_figures(part: dict[str, Any], n: int) -> None:
    for label in ("small", "large"):
        figures = part[label]
        assert figures["n"] == n
        assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"]
    assert part["ratio_p50"] == pytest.approx(part["large"]["p50"] / part["small"]["p50"], abs=0.01)
    assert part["ratio_p95"] == pytest.approx(part["large"]["p95"] / part["small"]["p95"], abs=0.01)
    assert part["flat"] == (part["ratio_p50"] < 1.5 and part["ratio_p95"] < 1.5)


def test_bench_compares_search_like_for_like(tmp_path: Path) -> None:
    """At 1,000 dossiers the broad queries fill a page: the verdict groups return equal item counts."""
    result = run_bench(tmp_path, 1000, 1500, requests=8, warmup=2)

    assert result["boxes"]["small"]["dossiers"] == 1000
    assert result["boxes"]["large"]["dossiers"] == 1500
    check_figures(result["intake"], 8)
    assert result["intake"]["ok"] == (result["intake"]["flat"] and result["intake"]["fast"])

    groups = result["search_groups"]
    assert list(groups) == list(GROUPS) == ["selective", "broad", "informational"]
    for group, part in groups.items():
        check_figures(part, 8)  # one search of each group per round and box
        assert set(part["kinds"]) == set(GROUPS[group])
        assert sum(k["small"]["n"] for k in part["kinds"].values()) == 8
        assert part["in_verdict"] == (group in VERDICT_GROUPS)
        for kind, figures in part["kinds"].items():
            assert figures["items_small"] >= 0 and figures["items_large"] >= 0, kind
            assert figures["queries_small"] >= 1 and figures["queries_large"] >= 1, kind
    # Selective queries name one dossier in either box; broad ones fill a page of 50 in both
    # (or the bench says they do not).
    for kind, figures in groups["selective"]["kinds"].items():
        assert figures["items_small"] == figures["items_large"] == 1.0, kind
        assert figures["matches_small"] == figures["matches_large"] == 1.0, kind
    for kind, figures in groups["broad"]["kinds"].items():
        if figures["items_small"] != 50.0 or figures["items_large"] != 50.0:
            assert any(w.startswith(f"{kind}:") for w in result["warnings"]), kind
        assert figures["per_1k_small"] > 0 and figures["per_1k_large"] > 0, kind
    # The verdict: selective + broad only, their samples combined.
    verdict = result["search"]
    check_figures(verdict, 16)
    assert verdict["groups"] == ["selective", "broad"]
    assert verdict["ok"] == (
        verdict["flat"] and verdict["fast"] and groups["selective"]["ok"] and groups["broad"]["ok"]
    )
    assert verdict["like_for_like"] == (not result["warnings"])
    assert {o["kind"] for o in verdict["kinds_over_target"]} == {
        k for g in VERDICT_GROUPS for k, f in groups[g]["kinds"].items() if not f["flat"]
    }
    assert groups["informational"]["excluded"].startswith("excluded from the verdict")
    check_figures(result["search_all"], 24)
    assert result["ok"] == (result["intake"]["ok"] and verdict["ok"])

    diagnosis = result["diagnosis"]
    assert diagnosis["fts_prefix"] == "1 2 3 4 5 6" and diagnosis["same_fts_table"]
    assert set(diagnosis["kinds"]) == set(KINDS)
    for kind, diag in diagnosis["kinds"].items():
        for label in ("small", "large"):
            assert diag[label]["ms"] > 0 and diag[label]["statements"], kind
        assert diag["same_plan"], kind
        plans = " | ".join(step for s in diag["large"]["statements"] for step in s["plan"])
        if kind == "code":  # a whole code is looked up by dossiers.code, never in the search index
            assert "dossier_search" not in plans and "(code=?)" in plans
            assert diag["large"]["ms_asc"] is None
        elif kind in ("cccd", "name_cccd"):  # a whole CCCD goes through its own index (edge.search)
            assert "(applicant_id_number=?)" in plans, kind
            assert diag["large"]["ms_asc"] is None
        else:
            assert "dossier_search VIRTUAL TABLE" in plans, kind
            assert diag["large"]["ms_asc"] > 0, kind
    # The small box is scratch; the large one is cached for the next run.
    assert not any(p.name.startswith("small-") for p in tmp_path.iterdir())
    assert (tmp_path / "box-v1-1500-s2027" / "bench.json").exists()


def test_bench_reports_unequal_items_at_tiny_sizes(tmp_path: Path) -> None:
    """At 40 dossiers the broad queries cannot fill a page: the counts are reported and a warning says so."""
    result = run_bench(tmp_path, 40, 200, requests=4, warmup=1)
    broad = result["search_groups"]["broad"]
    assert broad["items_small"] < 50.0 and broad["items_differ"]
    assert any(w.startswith("broad:") and "not like-for-like" in w for w in result["warnings"])
    assert not result["search"]["like_for_like"]
    for figures in result["search_groups"]["selective"]["kinds"].values():
        assert figures["items_small"] == figures["items_large"] == 1.0


def test_items_tolerance() -> None:
    assert not items_differ(50.0, 50.0)
    assert not items_differ(1.0, 1.05)
    assert items_differ(1.0, 1.2)
    assert items_differ(3.0, 50.0)
    assert not items_differ(0.0, 0.0)


def test_selective_queries_name_one_dossier(tmp_path: Path) -> None:
    """pick() keeps only selective strings that find exactly one dossier through the real search."""
    prepared = prepare("t", 300, 11, tmp_path, cache=True, rebuild=False, log=lambda _: None)
    picked = pick(prepared.data_dir, random.Random(5), size=10)
    assert all(len(picked.queries[k]) == 10 for k in GROUPS["selective"])
    conn = sqlite3.connect(str(prepared.data_dir / "motcua.db"), check_same_thread=False)
    db = sqlite_utils.Database(conn)
    now = datetime.now(TZ)
    for kind in GROUPS["selective"]:
        for q in picked.queries[kind]:
            assert len(queries.list_dossiers(db, queries.ListQuery(q=q), now)["items"]) == 1, (kind, q)
    conn.close()


def test_generated_box_is_what_the_real_code_writes(tmp_path: Path) -> None:
    """Every generated dossier refolds from its events to its projection row and search row."""
    prepared = prepare("t", 300, 7, tmp_path, cache=True, rebuild=False, log=lambda _: None)
    assert prepared.dossiers == 300
    # prepare() already refolds every dossier of a box this small; check the day sequences too.
    box = open_box(prepared.data_dir)
    db = box.db()
    days = dict(db.execute("SELECT day, last FROM code_sequences").fetchall())
    for day, last in days.items():
        numbers = [
            int(code.rsplit("-", 1)[1])
            for (code,) in db.execute("SELECT code FROM dossiers WHERE code LIKE ?", [f"%-{day}-%"]).fetchall()
        ]
        assert sorted(numbers) == list(range(1, last + 1))
    statuses = {s for (s,) in db.execute("SELECT DISTINCT status FROM dossiers").fetchall()}
    assert "done" in statuses and len(statuses) >= 2
    box.close()

    # A dossier received later on the last generated day continues that day's sequence.
    day = max(days)
    moment = datetime.strptime(day, "%y%m%d").replace(hour=17, minute=30, tzinfo=TZ)
    box = open_box(prepared.data_dir, clock=lambda: moment)
    body = {
        "procedure_code": "1.001193",
        "applicant": {"full_name": "Nguyễn Văn An", "id_number": "001099012345", "date_of_birth": "1999-03-04",
                      "sex": "male"},
    }  # fmt: skip
    state = receive_dossier(box, User("canbo", "officer"), body)
    assert state["code"] == f"{AGENCY}-{day}-{days[day] + 1:04d}"
    fenced = box.db().execute("SELECT count(*) FROM audit_log WHERE action = 'sequence_fenced'").fetchone()[0]
    assert fenced == 0
    box.close()
