"""The box's heartbeat (PROTOCOL.md): its health for the hub's fleet view, kept while offline.

Every heartbeat is first put in heartbeat_buffer (at most 500, the oldest dropped), then the buffer
is sent oldest first; one the hub received is dropped from it. So nothing taken while the link was
down is lost, and the hub sees them in the order they were taken.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from edge import __version__, devicehealth, outbox, syncstate
from edge.box import Box
from edge.config import load_settings
from edge.events import iso
from edge.ports import ROLES
from sync.client.transport import Transport

_STARTED = time.monotonic()


def uptime_s() -> float:
    """Return how long the machine has run (or this process, where /proc is absent)."""
    try:
        return float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _STARTED


def _db_bytes(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            total += os.stat(str(path) + suffix).st_size
    return total


def _age_s(since: str | None, now: datetime) -> float | None:
    if not since:
        return None
    return max(0.0, (now - datetime.fromisoformat(since)).total_seconds())


def device_report(box: Box) -> list[dict[str, Any]]:
    """Return each configured device's health as the heartbeat carries it (PROTOCOL.md)."""
    settings = load_settings(box.settings.data_dir)  # the technician may have changed a device since start
    urls = {role: str(getattr(settings, role, "") or "") for role in ROLES}
    return [
        {
            "name": entry["name_vi"],
            "kind": entry["role"],
            "ok": entry["state"] != "error",
            "last_ok_at": entry["last_ok_at"],
            "last_error": entry["last_error_vi"] if entry["state"] == "error" else None,
        }
        for entry in devicehealth.health(box.db(), urls)
        if entry["state"] != "none"
    ]


def build_heartbeat(box: Box, clock_offset_ms: float | None = None) -> dict[str, Any]:
    """Return the heartbeat body of PROTOCOL.md for this moment (hub_url is set when it is sent)."""
    db = box.db()
    now = box.now()
    queued = outbox.status(db)
    disk = shutil.disk_usage(box.settings.data_dir)
    return {
        "taken_at": iso(now),
        "version": __version__,
        "uptime_s": round(uptime_s(), 1),
        "clock_offset_ms": None if clock_offset_ms is None else round(clock_offset_ms),
        "disk_free_bytes": disk.free,
        "disk_total_bytes": disk.total,
        "db_bytes": _db_bytes(box.settings.db_path),
        "outbox_events": queued.events,
        "outbox_bytes": queued.bytes,
        "oldest_unsent_age_s": _age_s(queued.oldest_queued_at, now),
        "refused_events": queued.refused,
        "last_push_at": syncstate.get(db, "last_push_at"),
        "last_push_error": syncstate.get(db, "last_push_error"),
        "last_pull_at": syncstate.get(db, "last_pull_at"),
        "last_pull_error": syncstate.get(db, "last_pull_error"),
        "open_conflicts": syncstate.open_conflicts(db),
        "devices": device_report(box),
        "hub_url": None,
    }


def take_heartbeat(box: Box, clock_offset_ms: float | None = None) -> dict[str, Any]:
    """Build a heartbeat and keep it in the buffer until it is sent."""
    body = build_heartbeat(box, clock_offset_ms)
    syncstate.buffer_heartbeat(box.db(), body["taken_at"], body)
    return body


def send_heartbeats(box: Box, transport: Transport) -> int:
    """Send the buffered heartbeats, oldest first; return how many the hub received.

    Stops at the first failure (the rest stay buffered) and raises it.
    """
    sent = 0
    for seq, body in syncstate.buffered_heartbeats(box.db()):
        body["hub_url"] = transport.last_url or (transport.hubs[0] if transport.hubs else None)
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        transport.request("POST", "/sync/v1/heartbeat", body=payload, content_type="application/json")
        syncstate.drop_heartbeat(box.db(), seq)
        sent += 1
    return sent
