"""In-process diagnosis of the search: edge.queries.list_dossiers timed per kind in both boxes, with
the SQL it ran (captured with a trace callback) and the plan SQLite picks for each statement.

For statements driven by the search index (newest first: ORDER BY dossier_search.rowid DESC) the
same statement is also timed oldest first (ASC): the difference is what walking FTS5 doclists
backwards costs, which grows with the doclists of the common words in the query.
"""

from __future__ import annotations

import re
import statistics
import time as timer
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import sqlite_utils

from bench.generate import Prepared
from bench.searches import KINDS
from edge import queries
from edge.box import open_box

_DESC = "ORDER BY dossier_search.rowid DESC"
_COLUMNS = re.compile(r"^SELECT dossiers\.\w+(?:, dossiers\.\w+)+ FROM")


def _best_ms(call: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = timer.perf_counter()
        call()
        best = min(best, (timer.perf_counter() - start) * 1000)
    return best


def _fetch_all(db: sqlite_utils.Database, sql: str) -> list[Any]:
    return db.conn.execute(sql).fetchall()


def _plans(db: sqlite_utils.Database, statements: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for sql in statements:
        rows = db.conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        out.append({"sql": _COLUMNS.sub("SELECT dossiers.<list columns> FROM", sql), "plan": [str(r[3]) for r in rows]})
    return out


def diagnose_box(prepared: Prepared, picked: Mapping[str, Sequence[str]], per_kind: int, repeat: int) -> dict[str, Any]:
    """Time list_dossiers per kind (median over up to per_kind queries, best of `repeat` each)."""
    box = open_box(prepared.data_dir)
    db = box.db()
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    out: dict[str, Any] = {}
    try:
        now = box.now()
        for kind in KINDS:
            times, asc_times, items = [], [], []
            plans: list[dict[str, Any]] = []
            for q in picked[kind][:per_kind]:
                statements.clear()
                page = queries.list_dossiers(db, queries.ListQuery(q=q), now)
                # FTS5 reads its own tables through statements naming 'main'.'dossier_search_...'
                selects = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "'main'." not in s]
                items.append(len(page["items"]))
                times.append(_best_ms(partial(queries.list_dossiers, db, queries.ListQuery(q=q), now), repeat))
                fts = [s for s in selects if _DESC in s]
                if fts:
                    asc = fts[-1].replace(_DESC, "ORDER BY dossier_search.rowid ASC")
                    asc_times.append(_best_ms(partial(_fetch_all, db, asc), repeat))
                plans = plans or _plans(db, selects)
            out[kind] = {
                "q": picked[kind][0],
                "ms": round(statistics.median(times), 3),
                "ms_asc": round(statistics.median(asc_times), 3) if asc_times else None,
                "items": round(statistics.fmean(items), 1),
                "statements": plans,
            }
        fts_table = db.execute("SELECT sql FROM sqlite_master WHERE name = 'dossier_search'").fetchone()[0]
    finally:
        db.conn.set_trace_callback(None)
        box.close()
    return {"fts_table": str(fts_table), "kinds": out}


def diagnose(
    boxes: Sequence[tuple[Prepared, Mapping[str, Sequence[str]]]], per_kind: int = 5, repeat: int = 3
) -> dict[str, Any]:
    """Return the in-process figures of both boxes per kind, and whether their plans are the same."""
    small, large = (diagnose_box(prepared, picked, per_kind, repeat) for prepared, picked in boxes)
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        a, b = small["kinds"][kind], large["kinds"][kind]
        same_plan = [s["plan"] for s in a["statements"]] == [s["plan"] for s in b["statements"]]
        kinds[kind] = {
            "small": a,
            "large": b,
            "ratio": round(b["ms"] / a["ms"], 2) if a["ms"] else None,
            "same_plan": same_plan,
        }
    fts_table = large["fts_table"]
    prefix = re.search(r"prefix\s*=\s*'([^']*)'", fts_table)
    return {
        "fts_table": fts_table,
        "fts_prefix": prefix.group(1) if prefix else None,
        "same_fts_table": small["fts_table"] == fts_table,
        "repeat": repeat,
        "per_kind": per_kind,
        "kinds": kinds,
    }
