"""Changes made upstream: a citizen withdraws a dossier at the provincial portal.

The hub makes the event itself (origin `hub:<hub_id>`), checks it against the dossier as the hub
holds it by the same lifecycle rules as the box (edge.lifecycle), and stores it through
`ingest_events`, so it flows down the commune's feed. If the box has meanwhile moved the dossier
on (say, returned the result while offline), the fold on both sides keeps both events and flags
the dossier for a person: a real conflict is never resolved silently.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from edge.calendar import TZ
from edge.errors import NotFoundError, TransitionError, ValidationError
from edge.events import Event
from edge.hlc import next_hlc
from edge.lifecycle import STATUSES, TRANSITIONS
from edge.text import clean_free_text
from sync.hub.context import hub_context
from sync.hub.db import HubDB
from sync.hub.ingest import ingest_events
from sync.hub.records import find_dossier
from sync.hub.users import require_user

bp = Blueprint("upstream", __name__, url_prefix="/api/v1")


def withdraw_upstream(
    db: HubDB, *, hub_id: str, code: str, reason: object, actor: str, now: datetime
) -> dict[str, Any]:
    """Record that the citizen withdrew the dossier at the portal; return the dossier as the hub now holds it."""
    text = clean_free_text(reason, "reason")
    found = find_dossier(db, code)
    if found is None:
        raise NotFoundError(
            f"Máy chủ tỉnh không có hồ sơ mã “{code}”.", f"The hub holds no dossier “{code}”.", code="dossier_not_found"
        )
    status = str(found["status"])
    if status not in TRANSITIONS["withdrawn"][0]:
        vi, en = STATUSES[status][1], STATUSES[status][2]
        raise TransitionError(
            f"Không thể rút hồ sơ đang ở trạng thái “{vi}”.",
            f"A dossier that is “{en}” cannot be withdrawn.",
            code="illegal_transition",
            status=status,
        )
    last = max((e["hlc"] for e in found["events"]), default=None)
    wall = now.astimezone(TZ)
    event = Event(
        event_id=str(uuid.uuid4()),
        dossier_id=str(found["dossier_id"]),
        kind="withdrawn",
        payload={"reason": text},
        actor=actor,
        origin=f"hub:{hub_id}",
        wall_time=wall.isoformat(timespec="seconds"),
        hlc=next_hlc(last, int(wall.timestamp() * 1000)),
    )
    result = ingest_events(db, [event], commune_code=str(found["commune_code"]), from_box=None, now_iso=event.wall_time)
    if result.rejected:
        raise ValidationError(result.rejected[0].message, result.rejected[0].message, code=result.rejected[0].code)
    again = find_dossier(db, code)
    assert again is not None
    return again


@bp.post("/dossiers/<code>/withdraw")
@require_user("admin")
def withdraw(code: str) -> Response:
    """The citizen withdrew the dossier at the provincial portal (JSON {"reason"}); it flows down to the box."""
    ctx = hub_context()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError(
            "Nội dung gửi lên phải là đối tượng JSON có trường reason.",
            "The body must be a JSON object with a reason.",
            code="invalid_body",
        )
    now = ctx.now()
    state = withdraw_upstream(
        ctx.db, hub_id=ctx.settings.hub_id, code=code, reason=body.get("reason"), actor=g.hub_user["username"], now=now
    )
    return jsonify({"code": code, "status": state["status"], "conflict": state["conflict"]})
