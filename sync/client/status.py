"""What the box knows about its link to the hub, for the status strip, the sync page and /metrics."""

from __future__ import annotations

from typing import Any

from edge.box import Box

SYNC_FILE = "sync.toml"


def status(box: Box) -> dict[str, Any]:
    """Return the sync status of the box: {"configured": False} until it is provisioned."""
    if not (box.settings.data_dir / SYNC_FILE).exists():
        return {"configured": False}
    return {"configured": True, "online": False, "last_sync": None, "waiting": 0}
