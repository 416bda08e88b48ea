"""GET /metrics: the box's sync health in the Prometheus text format.

No session or token: it answers only requests from the box itself (127.0.0.1 or ::1), where a
Prometheus node agent or the technician's curl runs; any other address gets 404, as if it did not exist.
"""

from __future__ import annotations

import ipaddress

from flask import Blueprint, Response, abort, request

from sync.client.metrics import CONTENT_TYPE, render_metrics
from ui.web.common import box

bp = Blueprint("metrics", __name__)


def _from_loopback() -> bool:
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def metrics() -> Response:
    """Return the sync metrics of this box."""
    if not _from_loopback():
        abort(404)
    return Response(render_metrics(box()), content_type=CONTENT_TYPE)
