"""The UI list/search bench runs end to end on tiny boxes and reports well-formed figures.

Never asserts times: only that the bench signs in, measures every filter and search kind, and
computes what it claims.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.searches import GROUPS, VERDICT_GROUPS
from bench.ui import csrf_token, next_page, rows

ROOT = Path(__file__).resolve().parents[1]
LIST_KINDS = ["all", "status", "procedure", "assignee", "page2", "overdue", "due_soon", "received"]


def check_figures(part: dict[str, Any], n: int) -> None:
    for label in ("small", "large"):
        figures = part[label]
        assert figures["n"] == n
        assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"]
    assert part["ratio_p50"] == pytest.approx(part["large"]["p50"] / part["small"]["p50"], abs=0.01)
    assert part["ratio_p95"] == pytest.approx(part["large"]["p95"] / part["small"]["p95"], abs=0.01)
    assert part["flat"] == (part["ratio_p50"] < 1.5 and part["ratio_p95"] < 1.5)
    assert part["fast"] == (max(part["small"]["p95"], part["large"]["p95"]) < 100.0)
    assert part["items_small"] >= 0 and part["items_large"] >= 0


def test_bench_ui_reports_list_and_search(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ui.py"), "--small", "40", "--large", "120", "--requests", "4",
         "--warmup", "1", "--json", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout)

    assert result["boxes"]["small"]["dossiers"] == 40
    assert result["boxes"]["large"]["dossiers"] == 120
    assert result["user"] == "canbo"
    assert result["targets"] == {"ratio": 1.5, "p95_ms": 100.0}

    kinds = result["list_kinds"]
    assert list(kinds) == LIST_KINDS
    for name, figures in kinds.items():
        check_figures(figures, 4)
        assert figures["in_verdict"] == (name in LIST_KINDS[:5]), name
    # The pages are the real list: the small box shows all its 40 dossiers, the large one a full page
    # and a second page through the "Trang sau" cursor.
    assert kinds["all"]["items_small"] == 40.0 and kinds["all"]["items_large"] == 50.0
    assert "cursor" in kinds["page2"]["params_large"] and kinds["page2"]["items_large"] == 50.0
    assert kinds["page2"]["params_small"] == {}  # 40 dossiers: one page, no "Trang sau"
    assert kinds["status"]["params_small"] == kinds["status"]["params_large"] == {"status": "done"}
    verdict = result["list"]
    check_figures(verdict, 4 * 5)
    assert verdict["kinds"] == LIST_KINDS[:5]

    groups = result["search_groups"]
    assert list(groups) == list(GROUPS)
    for group, part in groups.items():
        check_figures(part, 4)
        assert set(part["kinds"]) == set(GROUPS[group])
        assert part["in_verdict"] == (group in VERDICT_GROUPS)
    for kind, figures in groups["selective"]["kinds"].items():
        assert figures["items_small"] == figures["items_large"] == 1.0, kind
    check_figures(result["search"], 8)
    assert result["search"]["groups"] == ["selective", "broad"]
    # Tiny boxes cannot fill a page with the broad searches: the bench says it is not like-for-like.
    assert any(w.startswith("search broad:") and "not like-for-like" in w for w in result["warnings"])
    assert result["like_for_like"] is False
    assert result["ok"] == (verdict["ok"] and result["search"]["ok"])
    # The small box is scratch; the large one is cached for the next run.
    assert not any(p.name.startswith("small-ui-") for p in tmp_path.iterdir())
    assert (tmp_path / "box-v1-120-s2027" / "bench.json").exists()


def test_page_parsing() -> None:
    page = (
        '<form><input type="hidden" name="csrf_token" value="abc&amp;1"></form>'
        '<table><tbody><tr class="" data-code="A-1"><td></td></tr><tr class="overdue" data-code="A-2"></tr></tbody></table>'
        '<a class="button" href="/dossiers">Trang đầu</a>'
        '<a class="button primary" href="/dossiers?status=done&amp;cursor=42&amp;page=2" rel="next">Trang sau</a>'
    )
    assert csrf_token(page) == "abc&1"
    assert rows(page) == 2
    assert next_page(page) == {"status": "done", "cursor": "42", "page": "2"}
    with pytest.raises(RuntimeError):
        next_page("<a href='/x'>x</a>")
