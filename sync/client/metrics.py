"""The box's sync health as Prometheus text (served at GET /metrics on the box's web app)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from edge.box import Box
from sync.client.status import status

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _metric(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{text}}} {value:g}" if text else f"{name} {value:g}")
    return lines


def _age(box: Box, moment: Any) -> float | None:
    if not moment:
        return None
    return max(0.0, (box.now() - datetime.fromisoformat(str(moment))).total_seconds())


def render_metrics(box: Box) -> str:
    """Return the box's sync metrics in the Prometheus text format."""
    info = status(box)
    configured = bool(info.get("configured"))
    lines = _metric("motcua_box_sync_configured", "gauge", "1 when the box is enrolled with a hub.",
                    [({}, 1.0 if configured else 0.0)])  # fmt: skip
    if configured and "config_error" not in info:
        gauges: list[tuple[str, str, float | None]] = [
            ("motcua_box_outbox_events", "Events waiting for the hub (refused ones included).",
             float(info["waiting_events"] + info["refused"])),
            ("motcua_box_outbox_bytes", "Bytes of event payload waiting for the hub.", float(info["waiting_bytes"])),
            ("motcua_box_outbox_blobs", "Scans waiting for the hub.", float(info["waiting_blobs"])),
            ("motcua_box_oldest_unsent_age_seconds", "Age of the oldest event waiting for the hub.",
             _age(box, info["oldest_unsent"])),
            ("motcua_box_refused_events", "Events the hub refused, waiting for a fix.", float(info["refused"])),
            ("motcua_box_last_push_age_seconds", "Seconds since the last successful push.",
             _age(box, info["last_push_at"])),
            ("motcua_box_last_pull_age_seconds", "Seconds since the last successful pull.",
             _age(box, info["last_pull_at"])),
            ("motcua_box_clock_offset_seconds", "Hub clock minus box clock, as last measured.",
             None if info["clock_offset_ms"] is None else info["clock_offset_ms"] / 1000),
            ("motcua_box_feed_cursor", "The last feed item applied.", float(info["cursor"])),
            ("motcua_box_heartbeats_buffered", "Heartbeats waiting to be sent.", float(info["heartbeats_waiting"])),
        ]  # fmt: skip
        for name, help_text, value in gauges:
            if value is not None:
                lines += _metric(name, "gauge", help_text, [({}, value)])
        lines += _metric("motcua_box_hub_up", "gauge", "1 when the hub URL answered the last request.",
                         [({"url": h["url"]}, 1.0 if h["state"] == "ok" else 0.0) for h in info["hubs"]])  # fmt: skip
        lines += _metric("motcua_box_hub_failures", "gauge", "Failures in a row of the hub URL.",
                         [({"url": h["url"]}, float(h["failures"])) for h in info["hubs"]])  # fmt: skip
    return "\n".join(lines) + "\n"
