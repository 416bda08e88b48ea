"""Hybrid logical clock: timestamps that order events causally across boxes and the hub.

A timestamp is the string "<15-digit ms>.<6-digit counter>", so string order is clock order.
The clock never goes backwards, even when the wall clock does: the next stamp is taken from
the largest stamp already in the log, which survives restarts and other processes.
"""

from __future__ import annotations

import time

_COUNTER_LIMIT = 999_999


def format_hlc(ms: int, counter: int) -> str:
    """Encode a clock reading as a sortable string."""
    return f"{ms:015d}.{counter:06d}"


def parse_hlc(stamp: str) -> tuple[int, int]:
    """Decode a stamp into (milliseconds, counter); raise ValueError if malformed."""
    ms_text, _, counter_text = stamp.partition(".")
    if len(ms_text) != 15 or len(counter_text) != 6 or not (ms_text + counter_text).isdigit():
        raise ValueError(f"malformed HLC stamp: {stamp!r}")
    return int(ms_text), int(counter_text)


def now_ms() -> int:
    """Return the wall clock in milliseconds."""
    return time.time_ns() // 1_000_000


def next_hlc(last: str | None, wall_ms: int | None = None) -> str:
    """Return the stamp for a new local event that follows `last` (the log's largest)."""
    wall = now_ms() if wall_ms is None else wall_ms
    if last is None:
        return format_hlc(wall, 0)
    last_ms, counter = parse_hlc(last)
    if wall > last_ms:
        return format_hlc(wall, 0)
    if counter >= _COUNTER_LIMIT:
        return format_hlc(last_ms + 1, 0)
    return format_hlc(last_ms, counter + 1)
