"""Forwarding dossiers to the national portal (DVCQG) as DongBoHoSoMC records.

A dossier is due when `forwards.wanted_version > sent_version` and its `next_attempt_at` has
passed. A process claims it with one conditional UPDATE (which moves `next_attempt_at` a lease
ahead), so two hub processes never send the same row at once. The record is POSTed as JSON with
the forward token as bearer; a 2xx answer records the version sent, anything else records the
attempt, the error and the next attempt after a capped exponential backoff with jitter. A dossier
that keeps failing stays queued (and shows on the fleet page) — it is never dropped.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sync.hub.context import HubContext
from sync.hub.dvcqg import envelope, to_dongbo
from sync.hub.records import find_dossier

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
LEASE_S = 120.0  # a claimed row is left alone this long (a crashed sender's claim expires)
BATCH = 50
TIMEOUT_S = 20.0


def stamp(moment: float) -> str:
    """Return a Unix time as a sortable UTC ISO string (fixed width, so text order is time order)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


def backoff_s(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Return the wait after the n-th failure: base·2^(n−1) capped, times a jitter in [0.5, 1)."""
    raw = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** max(0, attempts - 1))
    return float(raw * (0.5 + rng() / 2))


def _claim(ctx: HubContext, dossier_id: str, now: float) -> bool:
    # The WHERE repeats the due test: of two processes racing, only one sees its UPDATE match.
    changed = ctx.db.execute(
        "UPDATE forwards SET next_attempt_at = ? WHERE dossier_id = ? AND wanted_version > sent_version"
        " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
        [stamp(now + LEASE_S), dossier_id, stamp(now)],
    )
    return changed == 1


def _post(url: str, token: str | None, body: dict[str, Any]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as answer:
        answer.read()


def _describe(err: Exception) -> str:
    if isinstance(err, urllib.error.HTTPError):
        detail = err.read(300).decode("utf-8", "replace").strip()
        return f"HTTP {err.code}: {detail}" if detail else f"HTTP {err.code}"
    if isinstance(err, urllib.error.URLError):
        return f"network: {err.reason}"
    return f"{type(err).__name__}: {err}"


def _send_one(ctx: HubContext, dossier_id: str, code: str, now: float) -> bool:
    """Send one claimed dossier; record the outcome; return whether it was delivered."""
    db = ctx.db
    version: int | None = None
    try:
        found = find_dossier(db, code)
        if found is None:
            raise LookupError(f"dossier {code} is not held by the hub")
        version = int(found["version"])
        _post(str(ctx.settings.forward_url), ctx.settings.forward_token, envelope([to_dongbo(found, found["events"])]))
    except Exception as err:  # any failure is recorded on the row and retried later, never lost
        attempts = int(db.scalar("SELECT attempts FROM forwards WHERE dossier_id = ?", [dossier_id]) or 0) + 1
        db.execute(
            "UPDATE forwards SET attempts = ?, last_error = ?, last_attempt_at = ?, next_attempt_at = ?"
            " WHERE dossier_id = ?",
            [attempts, _describe(err)[:500], stamp(now), stamp(now + backoff_s(attempts)), dossier_id],
        )
        log.warning("forward of %s failed (attempt %d): %s", code, attempts, _describe(err))
        return False
    db.execute(
        "UPDATE forwards SET sent_version = CASE WHEN sent_version > ? THEN sent_version ELSE ? END,"
        " attempts = 0, last_error = NULL, last_attempt_at = ?, forwarded_at = ?, next_attempt_at = NULL"
        " WHERE dossier_id = ?",
        [version, version, stamp(now), stamp(now), dossier_id],
    )
    return True


def forward_once(ctx: HubContext) -> dict[str, Any]:
    """Send every due dossier once; return counts {"sent", "failed", "pending", "skipped"}."""
    if not ctx.settings.forward_url:
        return {"sent": 0, "failed": 0, "pending": 0, "skipped": True}
    now = ctx.clock()
    due = ctx.db.query(
        "SELECT dossier_id, code FROM forwards WHERE wanted_version > sent_version"
        " AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY next_attempt_at, dossier_id LIMIT ?",
        [stamp(now), BATCH],
    )
    sent = failed = 0
    for dossier_id, code in due:
        if not _claim(ctx, dossier_id, now):
            continue  # another hub process took it
        if _send_one(ctx, dossier_id, code, now):
            sent += 1
        else:
            failed += 1
    pending = int(ctx.db.scalar("SELECT count(*) FROM forwards WHERE wanted_version > sent_version") or 0)
    return {"sent": sent, "failed": failed, "pending": pending, "skipped": False}


def failing_forwards(ctx: HubContext, min_attempts: int = 1) -> list[dict[str, Any]]:
    """Return the queued forwards that failed at least min_attempts times, most attempts first."""
    rows = ctx.db.query(
        "SELECT f.dossier_id, f.code, d.commune_code, f.wanted_version, f.sent_version, f.attempts, f.last_error,"
        " f.last_attempt_at, f.next_attempt_at FROM forwards f LEFT JOIN dossiers d ON d.dossier_id = f.dossier_id"
        " WHERE f.wanted_version > f.sent_version AND f.attempts >= ? ORDER BY f.attempts DESC, f.code",
        [min_attempts],
    )
    keys = (
        "dossier_id",
        "code",
        "commune_code",
        "wanted_version",
        "sent_version",
        "attempts",
        "last_error",
        "last_attempt_at",
        "next_attempt_at",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


def start_forwarder(ctx: HubContext) -> Callable[[], None]:
    """Run forward_once every settings.forward_interval_s on a daemon thread; return a stop function."""
    stop = threading.Event()
    if not ctx.settings.forward_url:
        return stop.set  # nothing to forward to: no thread

    def run() -> None:
        while not stop.is_set():
            try:
                forward_once(ctx)
            except Exception:  # a database hiccup must not end the thread; the next round retries
                log.exception("forwarding round failed")
            stop.wait(ctx.settings.forward_interval_s)
        ctx.db.close()

    thread = threading.Thread(target=run, name="motcua-hub-forwarder", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=TIMEOUT_S + 5)

    return halt
