"""The /sync/v1 endpoints boxes talk to (PROTOCOL.md): enroll, push events and blobs, pull, heartbeat."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from edge.calendar import TZ
from edge.events import Event, iso
from sync.hub.auth import verified_box
from sync.hub.blobs import (
    MAX_STATUS_BLOBS,
    BlobNameError,
    BlobSizeError,
    blob_state,
    blob_states,
    check_sha256,
    decode_pack,
    put_chunk,
    store_pack,
)
from sync.hub.boxes import enroll
from sync.hub.context import hub_context
from sync.hub.feed import DEFAULT_FEED_LIMIT, MAX_FEED_LIMIT, check_commune_code, read_feed
from sync.hub.ingest import ingest_events
from sync.hub.office import store_office_events
from sync.protocol import SyncError, check_commune, decode_batch, encode_ack
from sync.protocol.office import decode_office_batch

bp = Blueprint("syncapi", __name__, url_prefix="/sync/v1")

MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_BATCH_EVENTS = 2000
MAX_JSON_BYTES = 256 * 1024
BATCH_TYPE = "application/vnd.motcua.batch+gzip"
_DIGITS = re.compile(r"[0-9]{1,15}", re.ASCII)
_HEARTBEAT_NUMBERS = (
    "uptime_s", "clock_offset_ms", "disk_free_bytes", "disk_total_bytes", "db_bytes", "outbox_events",
    "outbox_bytes", "oldest_unsent_age_s", "refused_events", "open_conflicts",
)  # fmt: skip
_HEARTBEAT_TEXTS = ("version", "last_push_at", "last_push_error", "last_pull_at", "last_pull_error", "hub_url")


class MalformedJSONError(SyncError):
    """A JSON body that cannot be read, or is not an object."""

    status = 400
    default_code = "malformed_json"


class InvalidFieldError(SyncError):
    """A field of a JSON body or query with the wrong type or form."""

    status = 422
    default_code = "invalid_field"


class WrongBoxError(SyncError):
    """A batch that names another box than the one that signed it."""

    status = 403
    default_code = "wrong_box"


def _invalid(name: str, vi: str, en: str) -> InvalidFieldError:
    return InvalidFieldError(f"Trường “{name}” {vi}.", f"Field “{name}” {en}.", field=name)


def _json_object() -> dict[str, Any]:
    """Return the request body as a JSON object, or raise MalformedJSONError."""
    body = request.get_data(cache=True)
    if len(body) > MAX_JSON_BYTES:
        raise MalformedJSONError(
            f"Nội dung JSON vượt quá {MAX_JSON_BYTES} byte.", f"The JSON body is over {MAX_JSON_BYTES} bytes."
        )
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise MalformedJSONError(
            f"Nội dung không phải JSON hợp lệ ({err}).", f"The body is not valid JSON ({err})."
        ) from err
    if not isinstance(data, dict):
        raise MalformedJSONError("Nội dung phải là một đối tượng JSON.", "The body must be a JSON object.")
    return data


def _text(data: dict[str, Any], name: str, *, required: bool = True, max_len: int = 500) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise _invalid(name, f"phải là chuỗi ký tự 1–{max_len} ký tự", f"must be a string of 1–{max_len} characters")
    return value


def _query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        raise _invalid(name, f"phải là số nguyên từ {low} đến {high}", f"must be a whole number from {low} to {high}")
    return int(raw)


@bp.post("/enroll")
def enroll_box() -> Response:
    """Use a one-time enrollment code; answer the box's secret and the hub's identity."""
    ctx = hub_context()
    data = _json_object()
    result = enroll(
        ctx.db,
        str(_text(data, "code", max_len=64)),
        str(_text(data, "box_id", max_len=128)),
        str(_text(data, "commune_code", max_len=5)),
        _text(data, "agency_code", required=False, max_len=64),
        str(_text(data, "name", max_len=200)),
        str(_text(data, "version", max_len=64)),
        ctx.now(),
    )
    return jsonify({**result, "hub_id": ctx.settings.hub_id, "hubs": list(ctx.settings.public_urls)})


@bp.post("/events")
def push_events() -> Response:
    """Store a signed gzip batch of events; answer the acknowledgement."""
    key = verified_box()
    ctx = hub_context()
    batch = decode_batch(request.get_data(cache=True), MAX_BATCH_BYTES, MAX_BATCH_EVENTS, strict=False)
    if batch.box_id != key.box_id:
        raise WrongBoxError(
            f"Lô này ghi hộp {batch.box_id} nhưng được ký bởi hộp {key.box_id}.",
            f"The batch names box {batch.box_id} but was signed by box {key.box_id}.",
        )
    # decode_batch checked every event's fields, types, UUID, clock and time: build them, not check again.
    checked = [
        Event(
            e["event_id"], e["dossier_id"], e["kind"], e["payload"], e["actor"], e["origin"], e["wall_time"], e["hlc"]
        )
        for e in batch.events
    ]
    result = ingest_events(ctx.db, checked, commune_code=key.commune_code, from_box=key.box_id, now_iso=ctx.now_iso())
    ack = encode_ack(
        batch_id=batch.batch_id,
        accepted=result.accepted,
        already_held=result.already_held,
        rejected=[*batch.rejected, *result.rejected],
    )
    return Response(ack, mimetype="application/json")


@bp.post("/office-events")
def push_office_events() -> Response:
    """Store a signed gzip batch of office events (closed tickets, ratings); answer the acknowledgement."""
    key = verified_box()
    ctx = hub_context()
    batch = decode_office_batch(request.get_data(cache=True), MAX_BATCH_BYTES, MAX_BATCH_EVENTS)
    if batch.box_id != key.box_id:
        raise WrongBoxError(
            f"Lô này ghi hộp {batch.box_id} nhưng được ký bởi hộp {key.box_id}.",
            f"The batch names box {batch.box_id} but was signed by box {key.box_id}.",
        )
    check_commune(key, batch.commune_code)
    result = store_office_events(
        ctx.db, batch.events, commune_code=key.commune_code, box_id=key.box_id, now_iso=ctx.now_iso()
    )
    ack = encode_ack(
        batch_id=batch.batch_id,
        accepted=result.accepted,
        already_held=result.already_held,
        rejected=[*batch.rejected, *result.rejected],
    )
    return Response(ack, mimetype="application/json")


def _blob_headers(offset: int, complete: bool) -> dict[str, str]:
    return {"X-Motcua-Blob-Offset": str(offset), "X-Motcua-Blob-Complete": "1" if complete else "0"}


@bp.route("/blobs/<sha256>", methods=["HEAD", "PUT"])
def blob(sha256: str) -> Response:
    """HEAD: how much of a blob the hub holds. PUT: one chunk at ?offset=O&size=S."""
    verified_box()
    ctx = hub_context()
    check_sha256(sha256)
    if request.method == "HEAD":
        state = blob_state(ctx.db, sha256)
        return Response(status=200, headers=_blob_headers(state.offset, state.complete))
    offset, size = request.args.get("offset", ""), request.args.get("size", "")
    if not _DIGITS.fullmatch(offset) or not _DIGITS.fullmatch(size):
        raise BlobSizeError(
            "Cần tham số offset và size là số nguyên không âm.",
            "The offset and size parameters must be non-negative whole numbers.",
        )
    state = put_chunk(
        ctx.db,
        sha256,
        int(offset),
        int(size),
        request.get_data(cache=True),
        now_iso=ctx.now_iso(),
        max_chunk_bytes=ctx.settings.max_chunk_bytes,
    )
    response = jsonify({"offset": state.offset, "complete": state.complete})
    response.headers.update(_blob_headers(state.offset, state.complete))
    return response


@bp.post("/blobs/status")
def blobs_status() -> Response:
    """Answer how much of each named blob the hub holds: {"sha256": [names]} → {"blobs": {name: state}}.

    Only the blobs the hub holds some of are answered (most names are of new scans: a short answer).
    """
    verified_box()
    ctx = hub_context()
    names = _json_object().get("sha256")
    if (
        not isinstance(names, list)
        or not 1 <= len(names) <= MAX_STATUS_BLOBS
        or not all(isinstance(n, str) for n in names)
    ):
        raise _invalid(
            "sha256",
            f"phải là danh sách 1–{MAX_STATUS_BLOBS} mã SHA-256",
            f"must be a list of 1–{MAX_STATUS_BLOBS} SHA-256 names",
        )
    try:
        states = blob_states(ctx.db, names)
    except BlobNameError as err:
        raise _invalid("sha256", "chứa một tên không phải mã SHA-256", "holds a name that is not a SHA-256") from err
    held = {n: {"offset": s.offset, "complete": s.complete} for n, s in states.items() if s.offset or s.complete}
    return jsonify({"blobs": held})  # a name the hub holds no byte of is left out: 0, not complete


@bp.post("/blobs/pack")
def blobs_pack() -> Response:
    """Store a pack of whole small blobs; answer which were stored, already held, or refused."""
    verified_box()
    ctx = hub_context()
    blobs = decode_pack(request.get_data(cache=True))
    result = store_pack(ctx.db, blobs, now_iso=ctx.now_iso(), max_chunk_bytes=ctx.settings.max_chunk_bytes)
    return jsonify(result.to_dict())


@bp.get("/communes/<commune_code>/feed")
def feed(commune_code: str) -> Response:
    """Answer a page of the box's own commune's change feed."""
    key = verified_box()
    check_commune(key, commune_code)
    check_commune_code(commune_code)
    after = _query_int("after", 0, 0, 10**15)
    limit = _query_int("limit", DEFAULT_FEED_LIMIT, 1, MAX_FEED_LIMIT)
    own = request.args.get("own", "stub")
    if own not in ("stub", "full"):
        raise _invalid("own", "own phải là stub hoặc full", "own must be stub or full")
    return jsonify(read_feed(hub_context().db, commune_code, after, limit, key.box_id, own_bodies=own == "full"))


def _moment(data: dict[str, Any], name: str) -> datetime:
    value = _text(data, name, max_len=40)
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise _invalid(name, "phải là thời điểm ISO 8601 có múi giờ", "must be an ISO 8601 moment with an offset")
    return moment


def _check_heartbeat(data: dict[str, Any]) -> datetime:
    """Check the types of a heartbeat's fields; return when it was taken."""
    taken = _moment(data, "taken_at")
    for name in _HEARTBEAT_NUMBERS:
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _invalid(name, "phải là một số", "must be a number")
    for name in _HEARTBEAT_TEXTS:
        _text(data, name, required=name == "version", max_len=2000)
    devices = data.get("devices", [])
    if not isinstance(devices, list) or not all(
        isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("ok"), bool) for d in devices
    ):
        raise _invalid("devices", "phải là danh sách {name, kind, ok, …}", "must be a list of {name, kind, ok, …}")
    return taken


@bp.post("/heartbeat")
def heartbeat() -> Response:
    """Record a box's heartbeat; the fleet view keeps the newest by taken_at."""
    key = verified_box()
    ctx = hub_context()
    data = _json_object()
    taken_at = iso(_check_heartbeat(data).astimezone(TZ))
    body = json.dumps(data, ensure_ascii=False, sort_keys=True)
    with ctx.db.transaction():
        ctx.db.execute(
            "INSERT INTO heartbeats (box_id, taken_at, received_at, body) VALUES (?, ?, ?, ?)",
            [key.box_id, taken_at, ctx.now_iso(), body],
        )
        ctx.db.execute(
            "UPDATE boxes SET last_heartbeat = ?, last_heartbeat_at = ?, version = ?"
            " WHERE box_id = ? AND revoked_at IS NULL AND (last_heartbeat_at IS NULL OR last_heartbeat_at <= ?)",
            [body, taken_at, data["version"], key.box_id, taken_at],
        )
    return jsonify({"hub_time": ctx.now_ms()})
