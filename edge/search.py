"""Turning what an officer types into the cheapest exact query for it.

Accent-insensitive: the search index holds folded text ("Nguyễn" → "nguyen"), and so does
the query. Three shapes, from the most to the least selective:
- a whole dossier code (typed, or scanned from the receipt's QR) → the code's unique index;
- a whole 12-digit citizen ID among the words → the ID's index, the other words checked on
  that person's few dossiers;
- anything else → the FTS5 index, every word as a prefix, newest first.
The last one alone would give the same rows for the first two, but newest-first FTS5 over a
common word ("nguyen") with a rare one walks far into a large box; the indexes do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from edge.text import fold

_CODE = re.compile(r"[0-9A-Z.]+-[0-9]{6}-[0-9]{4,}", re.ASCII)
_DAY_AND_NUMBER = re.compile(r"[0-9]{6}-[0-9]{4,}", re.ASCII)
_MAX_WORDS = 8
FTS_TABLE = "dossier_search JOIN dossiers ON dossiers.id = dossier_search.rowid"


@dataclass(frozen=True)
class SearchPlan:
    """Where to read (table), in which order, and the conditions of a search."""

    table: str = "dossiers"
    order: str = "dossiers.id"
    where: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)


def match_query(words: list[str]) -> str:
    """Return an FTS5 query where every (folded) word must match as a prefix."""
    return " AND ".join(f'"{w}"*' for w in words)


def search_words(q: str) -> list[str]:
    """Return the folded words of a query, as the index holds them."""
    return re.findall(r"\w+", fold(q))[:_MAX_WORDS]


def _code_candidates(db: sqlite_utils.Database, text: str) -> list[str]:
    compact = re.sub(r"\s*-\s*", "-", text).upper()
    if _CODE.fullmatch(compact):
        return [compact]
    if _DAY_AND_NUMBER.fullmatch(compact):
        # "261125-0001": this box's own agency code is implied.
        row = db.execute("SELECT value FROM box_meta WHERE key = 'agency_code'").fetchone()
        return [f"{row[0]}-{compact}"] if row else []
    return []


def plan_search(db: sqlite_utils.Database, q: str) -> SearchPlan | None:
    """Return the plan for a free-text search, or None when q holds nothing to search for."""
    text = q.strip()
    candidates = _code_candidates(db, text)
    if candidates:
        row = db.execute("SELECT id FROM dossiers WHERE code = ?", [candidates[0]]).fetchone()
        if row:
            return SearchPlan(where=["dossiers.id = ?"], args=[row[0]])
    words = search_words(text)
    if not words:
        return None
    anchor = next((w for w in words if len(w) == 12 and w.isdigit()), None)
    if anchor is None:
        return SearchPlan(FTS_TABLE, "dossier_search.rowid", ["dossier_search MATCH ?"], [match_query(words)])
    # No other token of the index has 12 digits or more, so the ID's own index finds exactly
    # the rows the FTS prefix would.
    where = ["dossiers.applicant_id_number = ?"]
    args: list[Any] = [anchor]
    rest = [w for w in words if w != anchor]
    if rest:
        where.append(
            "EXISTS (SELECT 1 FROM dossier_search WHERE dossier_search MATCH ? AND dossier_search.rowid = dossiers.id)"
        )
        args.append(match_query(rest))
    return SearchPlan(where=where, args=args)
