"""Set-at-a-time SQL for the hub: many rows in one statement, never one round trip per row.

On PostgreSQL a list travels as one binary array (`= ANY(…)`, `unnest(…)`) or through COPY, so
the statement text stays fixed (prepared once by the driver) and nothing is escaped row by row.
SQLite runs in process, so executemany and `IN (?, …)` chunks cost little there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

from sync.hub.db import HubDB

SQLITE_CHUNK = 500  # well under SQLite's limit on bound parameters

# json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) builds a JSONEncoder and
# its C encoder on every call, which costs more than encoding a small payload; this one is built once.
# Same C encoder, same output (no check for circular references: what the hub stores came from JSON).
_ENCODE = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ":", ",", True, False, True
)


_PLAIN_MAX_CONTAINERS = 100_000


def _plain(data: Any) -> bool:
    """Return whether data is made of dicts, lists, str, int, bool and None alone (no float, no other type).

    orjson writes those exactly as json.dumps does (sorted keys, same escapes), but not floats (0.00001
    where json writes 1e-05), so a value holding anything else goes to json. Stops on a cycle.
    """
    kind = data.__class__
    if kind is not dict and kind is not list:
        return kind is str or kind is int or kind is bool or data is None
    stack = [data]
    containers = 0
    while stack:
        value = stack.pop()
        for item in value.values() if value.__class__ is dict else value:
            kind = item.__class__
            if kind is str or kind is int or kind is bool or item is None:
                continue
            if kind is not dict and kind is not list:
                return False
            stack.append(item)
            containers += 1
            if containers > _PLAIN_MAX_CONTAINERS:
                return False
    return True


def dumps(data: Any) -> str:
    """Return compact UTF-8 JSON with sorted keys (the form stored in the hub's text columns).

    The text must never change (event digests are computed over it): orjson writes it when it gives
    the same text as json.dumps, which does it otherwise.
    """
    if _plain(data):
        try:
            return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONEncodeError:  # a key that is not text, an int over 64 bits, a lone surrogate, deep nesting
            pass
    if _ENCODE is None:  # an interpreter without the C accelerator
        return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "".join(_ENCODE(data, 0))


def pg_array(values: Sequence[Any]) -> str | list[Any]:
    """Return values as a PostgreSQL array literal ('{"a","b",NULL,3}') for a `%t::type[]` parameter.

    psycopg dumps a list element by element in Python; one string made by join costs a fraction of
    that, and the server parses it as fast. Text, integers and None only: any other value gives the
    list back, which psycopg then dumps itself.
    """
    if all(value.__class__ is str for value in values):
        text = '","'.join(values)
        if "\\" in text or '"' in text:
            text = '","'.join(v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
        return '{"' + text + '"}' if values else "{}"
    parts: list[str] = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif value.__class__ is int:
            parts.append(str(value))
        elif value.__class__ is str:
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            return list(values)
    return "{" + ",".join(parts) + "}"


def marks(count: int) -> str:
    """Return "?, ?, …" with count placeholders."""
    return ", ".join("?" * count)


def select_in(db: HubDB, query: str, values: Sequence[Any], kind: str = "text") -> list[tuple[Any, ...]]:
    """Run `query` ending in a column name, completed by "in values"; return every row."""
    if not values:
        return []
    if db.kind == "postgresql":
        return db.query(f"{query} = ANY(%t::{kind}[])", [pg_array(values)])  # one array literal
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(values), SQLITE_CHUNK):
        part = values[i : i + SQLITE_CHUNK]
        rows += db.query(f"{query} IN ({marks(len(part))})", part)
    return rows


def insert_many(
    db: HubDB, table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]], tail: str = ""
) -> None:
    """Insert many rows into a table, then `tail` (an ON CONFLICT clause); columns are (name, SQL type).

    PostgreSQL gets COPY for plain inserts and one `unnest` of binary arrays for upserts, both
    several times faster than a row-by-row executemany; SQLite gets executemany.
    """
    if not rows:
        return
    names = ", ".join(name for name, _ in columns)
    if db.kind != "postgresql":
        db.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks(len(columns))}) {tail}".rstrip(), rows)
    elif not tail:
        text = copy_text(rows)
        with db.connection().cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            if text is not None:
                copy.write(text)
            else:
                for row in rows:
                    copy.write_row(row)
    else:
        arrays = ", ".join(f"%t::{kind}[]" for _, kind in columns)
        values = [pg_array([row[i] for row in rows]) for i in range(len(columns))]
        db.execute(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {tail}", values)


def _copy_escape(value: str) -> str:
    """Return text in COPY's text format: backslash, tab, newline and carriage return escaped."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_text(rows: Sequence[Sequence[Any]]) -> str | None:
    """Return rows made only of text as COPY text data (tab-separated lines); None when a value is not text.

    psycopg's write_row formats value by value (fast for numbers and NULLs); rows of text alone cost
    several times less joined, escaping only the rare row with a backslash, tab, newline or carriage return.
    """
    lines: list[str] = []
    for row in rows:
        try:
            line = "\t".join(row)
        except TypeError:  # a NULL or a number: psycopg formats the rows
            return None
        if "\\" in line or "\n" in line or "\r" in line or line.count("\t") != len(row) - 1:
            line = "\t".join(map(_copy_escape, row))
        lines.append(line)
    lines.append("")
    return "\n".join(lines)
