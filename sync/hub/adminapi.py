"""The hub's API for provincial IT and the provincial portal (`/api/v1`, bearer token).

Errors are JSON `{"code", "message" (vi), "message_en", "field"}` with the error's status.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from edge.errors import EdgeError, NotFoundError, ValidationError
from sync.hub.blobs import read_blob
from sync.hub.context import hub_context
from sync.hub.counterreport import counter_report, parse_range
from sync.hub.dvcqg import to_dongbo
from sync.hub.filing import file_online
from sync.hub.fleet import STATES, Thresholds, fleet_row, heartbeat_history, load_fleet
from sync.hub.records import find_dossier
from sync.hub.users import require_user

_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
MAX_HEARTBEATS = 500

bp = Blueprint("adminapi", __name__, url_prefix="/api/v1")


@bp.errorhandler(EdgeError)
def _edge_error(err: EdgeError) -> tuple[Response, int]:
    body = {"code": err.code, "message": err.vi, "message_en": err.en, "field": err.field, **err.details}
    return jsonify(body), err.status


def _not_found(vi: str, en: str, code: str) -> NotFoundError:
    return NotFoundError(vi, en, code=code)


@bp.get("/fleet")
@require_user("viewer")
def fleet() -> Response:
    """Return every box's fleet row (optionally only those in ?state=)."""
    ctx = hub_context()
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        raise ValidationError(
            f"Trạng thái phải là một trong: {', '.join(STATES)}.",
            f"The state must be one of: {', '.join(STATES)}.",
            code="invalid_state",
            field="state",
        )
    rows = load_fleet(ctx.db, ctx.clock(), Thresholds.of(ctx.settings))
    return jsonify([r.to_dict() for r in rows if state is None or r.state == state])


@bp.get("/boxes/<box_id>/heartbeats")
@require_user("viewer")
def heartbeats(box_id: str) -> Response:
    """Return a box's heartbeat history, newest first (?limit=, at most 500)."""
    ctx = hub_context()
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_HEARTBEATS:
        raise ValidationError(
            f"limit phải là số nguyên từ 1 đến {MAX_HEARTBEATS}.",
            f"limit must be a whole number from 1 to {MAX_HEARTBEATS}.",
            code="invalid_limit",
            field="limit",
        )
    row = fleet_row(ctx.db, box_id, ctx.clock(), Thresholds.of(ctx.settings))
    if row is None:
        raise _not_found(f"Không có thiết bị “{box_id}”.", f"No box “{box_id}”.", "unknown_box")
    return jsonify({"box": row.to_dict(), "heartbeats": heartbeat_history(ctx.db, box_id, int(raw))})


def _dossier_or_404(code: str) -> dict[str, Any]:
    found = find_dossier(hub_context().db, code)
    if found is None:
        raise _not_found(
            f"Máy chủ tỉnh không có hồ sơ mã “{code}”.", f"The hub holds no dossier “{code}”.", "dossier_not_found"
        )
    return found


@bp.get("/reports/counter")
@require_user("viewer")
def counter() -> Response:
    """Return each commune's queue tickets, ratings and fee payments from ?from= to ?to= (YYYY-MM-DD)."""
    ctx = hub_context()
    first, last = parse_range(request.args.get("from"), request.args.get("to"), ctx.now().date())
    return jsonify(counter_report(ctx.db, first, last))


@bp.get("/dossiers/<code>")
@require_user("viewer")
def dossier(code: str) -> Response:
    """Return a dossier as the hub holds it, with its events and attachments."""
    return jsonify(_dossier_or_404(code))


@bp.get("/dossiers/<code>/dvcqg")
@require_user("viewer")
def dossier_dvcqg(code: str) -> Response:
    """Return the dossier as the national portal's DongBoHoSoMC record."""
    found = _dossier_or_404(code)
    return jsonify(to_dongbo(found, found["events"]))


@bp.get("/blobs/<sha256>")
@require_user("viewer")
def blob(sha256: str) -> Response:
    """Return the bytes of a complete blob."""
    if not _SHA256.fullmatch(sha256):
        raise ValidationError(
            "Mã tệp phải là 64 chữ số hex thường (SHA-256).",
            "A blob name is 64 lower-case hex digits (SHA-256).",
            code="invalid_hash",
            field="sha256",
        )
    data = read_blob(hub_context().db, sha256)
    if data is None:
        raise _not_found("Máy chủ tỉnh chưa có đủ tệp này.", "The hub does not hold this whole file.", "blob_not_found")
    return Response(data, mimetype="application/octet-stream", headers={"Cache-Control": "private, max-age=86400"})


@bp.post("/communes/<commune_code>/dossiers")
@require_user("admin")
def file_dossier(commune_code: str) -> tuple[Response, int]:
    """File a dossier online for a commune; 201 with its code (200 when the Idempotency-Key repeats)."""
    ctx = hub_context()
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationError(
            "Nội dung gửi lên phải là JSON (Content-Type: application/json).",
            "The body must be JSON (Content-Type: application/json).",
            code="invalid_body",
        )
    now = ctx.now()
    filed = file_online(
        ctx.db,
        hub_id=ctx.settings.hub_id,
        commune_code=commune_code,
        data=data,
        actor=g.hub_user["username"],
        now=now,
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return jsonify(filed.to_dict()), 201 if filed.created else 200
