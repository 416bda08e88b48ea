"""Signed-request checks for /sync/v1: which box sent a request, against keys and nonces in the hub DB.

Nonces live in the `nonces` table so that every hub process sharing one database refuses a replay
that another process saw. Entries older than twice the signature window are pruned now and then;
a request that old is refused as stale before its nonce is looked at.
"""

from __future__ import annotations

import threading
import time

from flask import request

from sync.hub.context import HubContext, hub_context
from sync.hub.db import HubDB
from sync.protocol import BoxKey, verify

PRUNE_EVERY_S = 60.0
_last_prune: dict[str, float] = {}
_prune_lock = threading.Lock()


_ADD_NONCE = "INSERT INTO nonces (box_id, nonce, seen_at) VALUES (?, ?, ?) ON CONFLICT (box_id, nonce) DO NOTHING"
_SEEN = "UPDATE boxes SET last_seen_at = ? WHERE box_id = ? AND revoked_at IS NULL"
# PostgreSQL: both in one statement (one round trip, one commit); the box is marked seen only if the nonce is new.
_PG_ADD_NONCE_AND_SEEN = (
    f"WITH n AS ({_ADD_NONCE} RETURNING 1),"
    " s AS (UPDATE boxes SET last_seen_at = ? WHERE box_id = ? AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM n))"
    " SELECT count(*) FROM n"
)


class DBNonceStore:
    """A NonceStore over the hub's `nonces` table (shared by every hub process).

    With `seen_at_iso`, recording a new nonce also records when the box was last seen: the nonce is
    the last check a request passes, so a box is marked seen only for a request that passed them all.
    """

    def __init__(self, db: HubDB, window: int, now: int, seen_at_iso: str | None = None) -> None:
        self.db = db
        self.window = window
        self.now = now
        self.seen_at_iso = seen_at_iso

    def seen_or_add(self, box_id: str, nonce: str, timestamp: int) -> bool:
        """Return True when the box used this nonce before; otherwise record it and return False."""
        self._prune()
        if self.seen_at_iso is not None and self.db.kind == "postgresql":
            added = self.db.scalar(_PG_ADD_NONCE_AND_SEEN, [box_id, nonce, timestamp, self.seen_at_iso, box_id])
            return not added
        added = self.db.execute(_ADD_NONCE, [box_id, nonce, timestamp])
        if added and self.seen_at_iso is not None:
            self.db.execute(_SEEN, [self.seen_at_iso, box_id])
        return added == 0

    def _prune(self) -> None:
        """Forget nonces older than 2×window, at most once a minute per process and database."""
        with _prune_lock:
            last = _last_prune.get(self.db.url, 0.0)
            if time.monotonic() - last < PRUNE_EVERY_S:
                return
            _last_prune[self.db.url] = time.monotonic()
        self.db.execute("DELETE FROM nonces WHERE seen_at < ?", [self.now - 2 * self.window])


def key_for(db: HubDB, box_id: str) -> BoxKey | None:
    """Return the key of a box's active record, a revoked key if it only has revoked ones, or None."""
    row = db.one(
        "SELECT commune_code, secret FROM boxes WHERE box_id = ? AND revoked_at IS NULL AND secret IS NOT NULL",
        [box_id],
    )
    if row is not None:
        return BoxKey(box_id, row[0], bytes.fromhex(row[1]))
    revoked = db.one("SELECT commune_code FROM boxes WHERE box_id = ? AND revoked_at IS NOT NULL", [box_id])
    return BoxKey(box_id, revoked[0], b"", revoked=True) if revoked else None


def signed_path() -> str:
    """Return the path exactly as sent on the request line (what the box signed), without the query."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return request.path
    if raw.startswith(("http://", "https://")):  # absolute-form request line
        rest = raw.split("://", 1)[1]
        raw = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return str(raw).split("?", 1)[0]


def verify_request(ctx: HubContext) -> BoxKey:
    """Check the current request's signature and return the key of the box that sent it."""
    now = int(ctx.clock())
    window = ctx.settings.signature_window_s
    return verify(
        dict(request.headers),
        request.method,
        signed_path(),
        request.query_string.decode("utf-8", "replace"),
        request.get_data(cache=True),
        secret_for=lambda box_id: key_for(ctx.db, box_id),
        nonces=DBNonceStore(ctx.db, window, now, seen_at_iso=ctx.now_iso()),  # also marks the box seen
        now=now,
        window=window,
    )


def verified_box() -> BoxKey:
    """Return the key of the box that signed the current request, or raise a SyncError."""
    return verify_request(hub_context())
