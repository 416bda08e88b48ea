"""`GET /metrics`: the fleet and the hub in Prometheus text format (0.0.4).

Needs a bearer token of any hub user (Prometheus: `authorization: {credentials: <token>}`), like
the rest of the provincial API: the labels name every commune's box, which is not public.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, Response

from sync.hub.context import hub_context
from sync.hub.fleet import FORWARD_ALERT_ATTEMPTS, STATES, FleetRow, Thresholds, load_fleet
from sync.hub.users import require_user

bp = Blueprint("metrics", __name__)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value:g}" for labels, value in samples]
    return lines


def _box_labels(row: FleetRow) -> str:
    return f'{{box_id="{_label(row.box_id or row.record_id)}",commune="{_label(row.commune_code)}"}}'


def _per_box(rows: list[FleetRow], attr: str) -> list[tuple[str, float]]:
    out = []
    for row in rows:
        value = getattr(row, attr)
        if value is not None:
            out.append((_box_labels(row), float(value)))
    return out


def render_metrics(rows: list[FleetRow], counts: dict[str, float]) -> str:
    """Return the exposition text for the fleet rows and the hub's counters."""
    lines: list[str] = []
    by_state = {s: sum(1 for r in rows if r.state == s) for s in STATES}
    lines += _family(
        "motcua_hub_boxes", "gauge", "Boxes by state.", [(f'{{state="{s}"}}', float(n)) for s, n in by_state.items()]
    )
    lines += _family(
        "motcua_box_up", "gauge", "1 when the box's newest heartbeat is recent (online).",
        [(_box_labels(r), 1.0 if r.state == "online" else 0.0) for r in rows],
    )  # fmt: skip
    per_box = (
        ("motcua_box_outbox_events", "outbox_events", "Events waiting on the box to be sent."),
        ("motcua_box_outbox_bytes", "outbox_bytes", "Bytes waiting on the box to be sent."),
        ("motcua_box_oldest_unsent_age_seconds", "oldest_unsent_age_s", "Age of the oldest unsent event."),
        ("motcua_box_heartbeat_age_seconds", "heartbeat_age_s", "Age of the newest heartbeat."),
        ("motcua_box_clock_offset_milliseconds", "clock_offset_ms", "Box clock minus hub clock."),
        ("motcua_box_disk_free_percent", "disk_free_pct", "Free disk space on the box."),
    )
    for name, attr, help_text in per_box:
        lines += _family(name, "gauge", help_text, _per_box(rows, attr))
    lines += _family(
        "motcua_box_alerts", "gauge", "Open alerts of the box.", [(_box_labels(r), float(len(r.alerts))) for r in rows]
    )
    hub = (
        ("motcua_hub_events_stored", "events", "Events held by the hub."),
        ("motcua_hub_dossiers_stored", "dossiers", "Dossiers held by the hub."),
        ("motcua_hub_blobs_stored", "blobs", "Complete blobs held by the hub."),
        ("motcua_hub_blob_bytes", "blob_bytes", "Bytes of complete blobs held by the hub."),
        ("motcua_hub_forwards_pending", "forwards_pending", "Dossiers waiting to be sent to the national portal."),
        ("motcua_hub_forwards_failing", "forwards_failing", "Queued forwards that failed 3 or more times."),
    )
    for name, key, help_text in hub:
        lines += _family(name, "gauge", help_text, [("", counts[key])])
    return "\n".join(lines) + "\n"


def hub_counts() -> dict[str, float]:
    """Return the hub-wide counters from the database."""
    db = hub_context().db

    def count(sql: str, params: list[object] | None = None) -> float:
        return float(db.scalar(sql, params or []) or 0)

    return {
        "events": count("SELECT count(*) FROM events"),
        "dossiers": count("SELECT count(*) FROM dossiers"),
        "blobs": count("SELECT count(*) FROM blobs WHERE complete = 1"),
        "blob_bytes": count("SELECT coalesce(sum(size), 0) FROM blobs WHERE complete = 1"),
        "forwards_pending": count("SELECT count(*) FROM forwards WHERE wanted_version > sent_version"),
        "forwards_failing": count(
            "SELECT count(*) FROM forwards WHERE wanted_version > sent_version AND attempts >= ?",
            [FORWARD_ALERT_ATTEMPTS],
        ),
    }


@bp.get("/metrics")
@require_user("viewer")
def metrics() -> Response:
    """Return the metrics exposition."""
    ctx = hub_context()
    rows = load_fleet(ctx.db, ctx.clock(), Thresholds.of(ctx.settings))
    return Response(render_metrics(rows, hub_counts()), content_type="text/plain; version=0.0.4; charset=utf-8")
