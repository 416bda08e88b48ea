"""What the box knows about its link to the hub, for the status strip, the sync page and /metrics."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from edge import audit, outbox, syncstate
from edge.box import Box
from edge.calendar import TZ
from edge.errors import ConfigError
from edge.events import iso
from edge.store.db import write
from sync.client.config import SYNC_FILE, load_sync_config
from sync.client.pull import CURSOR_KEY
from sync.client.transport import OFFSET_KEY, STATE_PREFIX, UrlHealth

SYNC_NOW_KEY = "sync_now"
STATE_LABELS = {
    "ok": ("Có kết nối", "Online"),
    "backing_off": ("Tạm ngừng, sẽ thử lại", "Backing off"),
    "down": ("Mất kết nối", "Down"),
    "unknown": ("Chưa thử kết nối", "Not tried yet"),
}

# What a refusal means, for the sync page (the hub's own message, in English, is shown beside it).
REFUSAL_LABELS = {
    "wrong_commune": (
        "Hồ sơ này thuộc một xã khác ở máy chủ tỉnh.",
        "The dossier belongs to another commune at the hub.",
    ),
    "event_id_conflict": (
        "Máy chủ tỉnh đã có một sự kiện khác mang cùng mã.",
        "The hub holds another event with the same id.",
    ),
    "malformed_event": ("Sự kiện sai định dạng.", "The event is malformed."),
    "malformed_batch": ("Máy chủ tỉnh không đọc được sự kiện này.", "The hub cannot read this event."),
    "batch_too_large": ("Sự kiện quá lớn để gửi.", "The event is too large to send."),
}
DEFAULT_REFUSAL = ("Máy chủ tỉnh từ chối sự kiện này.", "The hub refused this event.")

__all__ = ["DEFAULT_REFUSAL", "REFUSAL_LABELS", "STATE_LABELS", "SYNC_FILE", "hub_health", "request_sync_now", "status"]


def hub_health(box: Box, hubs: tuple[str, ...], now: float | None = None) -> list[dict[str, Any]]:
    """Return each hub URL's state, last success, last error (Vietnamese and English) and next attempt."""
    now = time.time() if now is None else now
    db = box.db()
    out = []
    for url in hubs:
        health = UrlHealth.from_state(url, syncstate.get(db, STATE_PREFIX + url))
        state = health.state(now)
        out.append(
            {
                "url": url,
                "state": state,
                "label": STATE_LABELS[state][0],
                "label_en": STATE_LABELS[state][1],
                "failures": health.failures,
                "last_success": health.last_success,
                "last_failure": health.last_failure,
                "last_error": health.last_error if health.failures else None,
                "last_error_en": health.last_error_en if health.failures else None,
                "next_attempt": (
                    datetime.fromtimestamp(health.next_attempt, TZ).isoformat(timespec="seconds")
                    if state == "backing_off"
                    else None
                ),
            }
        )
    return out


def status(box: Box, *, detail: bool = False) -> dict[str, Any]:
    """Return the sync status of the box: {"configured": False} until it is provisioned.

    With detail=True the refused events (with the hub's reasons) are listed too (the sync page).
    """
    try:
        config = load_sync_config(box.settings)
    except ConfigError as err:
        message = {"message": err.vi, "message_en": err.en}
        return {"configured": True, "online": False, "last_sync": None, "waiting": 0, "config_error": err.vi,
                "config_error_en": err.en, "hubs": [], "errors": [message]}  # fmt: skip
    if config is None:
        return {"configured": False}
    db = box.db()
    queued = outbox.status(db)
    hubs = hub_health(box, config.hubs)
    values = {key: syncstate.get(db, key) for key in (
        "last_sync_at", "last_push_at", "last_push_error", "last_push_error_en", "last_pull_at", "last_pull_error",
        "last_pull_error_en", "last_cycle", SYNC_NOW_KEY, OFFSET_KEY, CURSOR_KEY)}  # fmt: skip
    errors = [
        {"message": values[f"last_{phase}_error"], "message_en": values[f"last_{phase}_error_en"] or ""}
        for phase in ("push", "pull")
        if values[f"last_{phase}_error"]
    ]
    result: dict[str, Any] = {
        "configured": True,
        "box_id": config.box_id,
        "commune_code": config.commune_code,
        "online": any(h["state"] == "ok" for h in hubs),
        "last_sync": values["last_sync_at"],
        "last_push_at": values["last_push_at"],
        "last_pull_at": values["last_pull_at"],
        "last_push_error": values["last_push_error"],
        "last_pull_error": values["last_pull_error"],
        "errors": errors,
        "last_cycle": values["last_cycle"],
        "waiting": queued.events + queued.blobs,
        "waiting_events": queued.events - queued.refused,
        "waiting_blobs": queued.blobs,
        "waiting_bytes": queued.bytes,
        "oldest_unsent": queued.oldest_queued_at,
        "refused": queued.refused,
        "hubs": hubs,
        "clock_offset_ms": values[OFFSET_KEY],
        "cursor": values[CURSOR_KEY] or 0,
        "sync_now_requested": values[SYNC_NOW_KEY],
        "heartbeats_waiting": syncstate.heartbeat_backlog(db),
    }
    if detail:
        result["refused_events"] = [
            {**item, "label": REFUSAL_LABELS.get(str(item["code"]), DEFAULT_REFUSAL)[0],
             "label_en": REFUSAL_LABELS.get(str(item["code"]), DEFAULT_REFUSAL)[1]}
            for item in outbox.refused(db)
        ]  # fmt: skip
    return result


def request_sync_now(box: Box, actor: str = "cli", source: str = "") -> str:
    """Ask the sync worker to run a cycle now (it looks every second); return when it was asked."""
    db = box.db()
    at = iso(box.now())
    with write(db):
        syncstate.put(db, SYNC_NOW_KEY, {"at": at, "by": actor, "stamp": time.time()})
        audit.record(db, actor, "sync_now_requested", source=source)
    return at
