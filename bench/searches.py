"""What the bench searches for, grouped so that both boxes are compared like for like.

A search page costs more the more items it returns (rows fetched, JSON, the walk to the limit), at
any box size. So the verdict only compares queries that return the same number of items in the
1,000- and the 1,000,000-dossier box:

- selective: queries that name one dossier in either box (exact phone, whole CCCD, whole code,
  full name plus whole CCCD). Picked from each box's own rows and kept only if they match exactly
  one dossier there (counted in the index before the run).
- broad: queries that fill a page (50 items) in both boxes: a common surname, a middle name, a
  CCCD prefix, a phone prefix. The same strings in both boxes; each matches more than 50 of every
  1,000 dossiers.

Accent-insensitive names ("nguyen van an", "tran thi", the folded names of random dossiers) are
still measured, as an informational group outside the verdict: they return a few items in the small
box and a full page in the large one, so their ratio shows result size, not box size.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from edge.search import plan_search
from edge.text import fold as fold_text

GROUPS: dict[str, tuple[str, ...]] = {
    "selective": ("phone", "cccd", "code", "name_cccd"),
    "broad": ("surname", "middle_name", "cccd_prefix", "phone_prefix"),
    "informational": ("name", "name_partial", "name_random"),
}
VERDICT_GROUPS = ("selective", "broad")
KINDS = tuple(kind for kinds in GROUPS.values() for kind in kinds)
GROUP_TITLES = {
    "selective": "selective: one dossier in either box",
    "broad": "broad: a full page of 50 in both boxes",
    "informational": "informational: full names, unequal pages",
}
KIND_TITLES = {
    "phone": "exact phone number",
    "cccd": "whole CCCD",
    "code": "whole code (dossiers.code)",
    "name_cccd": "full name + whole CCCD",
    "surname": "common surname",
    "middle_name": "middle name",
    "cccd_prefix": "CCCD prefix (prov. 030-038)",
    "phone_prefix": "phone prefix",
    "name": "common full names",
    "name_partial": "surname + middle name/initial",
    "name_random": "a random dossier's name",
}
# The same strings in both boxes, each filling a page in a 1,000-dossier box (matches per 1,000
# dossiers in the 1,000 / 1,000,000 boxes of 2026-11-26: nguyen 226/168, thi 97/98, van 81/86,
# 03 134/193, 098 105/107, 091 124/121; over 200 simulated applicant pools of a 1,000-dossier box
# "van" never fell under 52). In the large box "03" also matches the sequence numbers 0300-0399 of
# each day's codes. Two-word names do not fill a page at 1,000 dossiers ("tran thi" 22, "nguyen t"
# under 51 for 28 % of pools) and a CCCD province ("001": 5) neither: they are in the informational group.
BROAD_QUERIES: dict[str, tuple[str, ...]] = {
    "surname": ("nguyen",),
    "middle_name": ("thi", "van"),
    "cccd_prefix": ("03",),
    "phone_prefix": ("098", "091"),
}
COMMON_NAMES = ("nguyen van an", "tran thi lan", "le van hung", "pham thi mai")
PARTIAL_NAMES = ("tran thi", "nguyen van", "nguyen t", "le thi")
SELECTIVE_ATTEMPTS = 20  # random rows drawn per selective query wanted, at most


@dataclass
class Picked:
    """Search strings for one box, per kind, with how many dossiers each matches in that box."""

    dossiers: int
    queries: dict[str, list[str]] = field(default_factory=dict)
    matches: dict[str, list[int]] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)  # selective candidates matching > 1 dossier


def count_matches(conn: sqlite3.Connection, kind: str, q: str) -> int:
    """Return how many dossiers of the box a search for q finds (all pages), as the API would search."""
    plan = plan_search(sqlite_utils.Database(conn), q)
    if plan is None:
        return 0
    sql = f"SELECT count(*) FROM {plan.table} WHERE {' AND '.join(plan.where)}"
    return int(conn.execute(sql, plan.args).fetchone()[0])


def pick(data_dir: Path, rng: random.Random, size: int = 40) -> Picked:
    """Pick the search strings for a box from its own rows; selective ones must match one dossier."""
    conn = sqlite3.connect(f"file:{data_dir / 'motcua.db'}?mode=ro", uri=True)
    try:
        dossiers, top = conn.execute("SELECT count(*), max(id) FROM dossiers").fetchone()
        picked = Picked(dossiers, {k: [] for k in KINDS}, {k: [] for k in KINDS}, dict.fromkeys(GROUPS["selective"], 0))
        builders: dict[str, Callable[[Sequence[str]], str]] = {
            "phone": lambda r: r[2],
            "cccd": lambda r: r[1],
            "code": lambda r: r[3],
            "name_cccd": lambda r: f"{r[0]} {r[1]}",
        }
        for _ in range(size * SELECTIVE_ATTEMPTS):
            wanted = [k for k in builders if len(picked.queries[k]) < size]
            if not wanted and len(picked.queries["name_random"]) >= size:
                break
            row = conn.execute(
                "SELECT applicant_name, applicant_id_number, applicant_phone, code FROM dossiers WHERE id = ?",
                [rng.randint(1, top)],
            ).fetchone()
            if row is None or not row[2]:
                continue
            if len(picked.queries["name_random"]) < size:
                picked.queries["name_random"].append(fold_text(row[0]))
            for kind in wanted:
                q = builders[kind](row)
                found = count_matches(conn, kind, q)
                if found == 1:
                    picked.queries[kind].append(q)
                else:
                    picked.rejected[kind] += 1
        picked.queries["name"] = list(COMMON_NAMES)
        picked.queries["name_partial"] = list(PARTIAL_NAMES)
        for kind, strings in BROAD_QUERIES.items():
            picked.queries[kind] = list(strings)
        for kind in KINDS:
            if not picked.queries[kind]:
                raise RuntimeError(f"no search string of kind {kind} found in {data_dir}")
            if kind in builders:
                picked.matches[kind] = [1] * len(picked.queries[kind])  # checked when picked
            else:
                picked.matches[kind] = [count_matches(conn, kind, q) for q in picked.queries[kind]]
    finally:
        conn.close()
    return picked
