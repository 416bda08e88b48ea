"""The box's JSON API under /api/v1 (described in ui/openapi.yaml)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, g, request, send_file, session

from edge import actions, attachments, intake, queries
from edge.box import Box
from edge.dates import parse_datetime
from edge.dossier_fields import procedure_snapshot
from edge.errors import AuthError, NotFoundError, TooLargeError, ValidationError
from edge.events import iso
from edge.intake import due_for
from edge.procedures import get_procedure, list_procedures
from edge.users import User, get_user, require, user_for_token
from ui.errors import BadRequestError

bp = Blueprint("api", __name__)
# Endpoints a signed-in browser may also call with its session cookie (the display board's event stream).
SESSION_ENDPOINTS = frozenset({"api.queue_events"})
# Endpoints that check their own credential instead of a user's token (the bank's payment notification).
OWN_CREDENTIAL_ENDPOINTS = frozenset({"api.bank_notification"})
JSON_LIMIT = 1024 * 1024  # JSON bodies; attachments have their own limit from the settings
MULTIPART_OVERHEAD = 64 * 1024  # room for the multipart boundaries and part headers around a file


def box() -> Box:
    """Return the Box this app serves."""
    found: Box = current_app.extensions["box"]
    return found


def user() -> User:
    """Return the user of this request."""
    found: User = g.user
    return found


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Return a JSON response with Vietnamese kept as UTF-8."""
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json", headers=headers)


def source() -> str:
    """Return where the request came from, for the audit log."""
    return request.remote_addr or ""


@bp.before_request
def authenticate() -> None:
    """Require a bearer token on every API call."""
    if request.endpoint in OWN_CREDENTIAL_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header and request.endpoint in SESSION_ENDPOINTS and session.get("user"):
        g.user = get_user(box().db(), str(session["user"]))  # a browser's EventSource cannot send a token
        return
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(
            "Cần mã truy cập: gửi tiêu đề “Authorization: Bearer <token>”.",
            "A token is required: send “Authorization: Bearer <token>”.",
            code="unauthorized",
        )
    g.user = user_for_token(box().db(), token.strip())


def _json_too_large() -> TooLargeError:
    return TooLargeError(
        "Nội dung gửi lên quá lớn (tối đa 1 MB).", "The request body is too large (1 MB at most).", code="too_large"
    )


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not allowed in JSON")


def json_body() -> object:
    """Parse the request body as JSON, with clear errors for size and syntax."""
    if (request.content_length or 0) > JSON_LIMIT:
        raise _json_too_large()  # refuse before reading a byte of it
    chunks, size = [], 0
    while chunk := request.stream.read(1 << 16):  # a chunked body announces no length: count it
        size += len(chunk)
        if size > JSON_LIMIT:
            raise _json_too_large()
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, RecursionError) as err:
        vi, en = _json_problem(err)
        raise BadRequestError(
            f"Nội dung không phải JSON hợp lệ: {vi}.", f"The body is not valid JSON: {en}.", code="malformed_json"
        ) from err


def _json_problem(err: Exception) -> tuple[str, str]:
    """Say in vi and en what is wrong with a body that json.loads refused."""
    if isinstance(err, json.JSONDecodeError):
        where = (f"dòng {err.lineno}, cột {err.colno}", f"line {err.lineno}, column {err.colno}")
        return f"lỗi cú pháp ở {where[0]} ({err.msg})", f"syntax error at {where[1]} ({err.msg})"
    if isinstance(err, UnicodeDecodeError):
        return "không được mã hóa UTF-8", "it is not encoded as UTF-8"
    if isinstance(err, RecursionError):
        return "lồng nhau quá sâu", "it is nested too deeply"
    # NaN/Infinity, or an integer too long to convert.
    return "có số không hợp lệ (NaN, Infinity hoặc quá dài)", "it has an invalid number (NaN, Infinity or too long)"


@bp.post("/dossiers")
def create_dossier() -> Response:
    """Receive a new dossier."""
    key = request.headers.get("Idempotency-Key")
    state = intake.receive_dossier(box(), user(), json_body(), source(), idempotency_key=key)
    view = queries.dossier_view(state, box().now())
    return respond(view, 201, {"Location": f"/api/v1/dossiers/{view['code']}"})


@bp.get("/dossiers")
def list_dossiers() -> Response:
    """List dossiers with filters and accent-insensitive search."""
    require(user(), "dossier.read")
    args = request.args
    query = queries.ListQuery(
        status=queries.parse_status(args.get("status", "")),
        overdue=_flag(args.get("overdue"), "overdue"),
        q=args.get("q") or None,
        procedure_code=args.get("procedure_code") or None,
        assignee=args.get("assignee") or None,
        conflict=_flag(args.get("conflict"), "conflict"),
        due_within_days=_int(args.get("due_within_days"), "due_within_days", 0, 366),
        limit=_int(args.get("limit"), "limit", 1, 200) or 50,
        cursor=_int(args.get("cursor"), "cursor", 0, 2**62),
    )
    return respond(queries.list_dossiers(box().db(), query, box().now()))


@bp.get("/dossiers/<code>")
def get_dossier(code: str) -> Response:
    """Return one dossier with its event timeline."""
    require(user(), "dossier.read")
    return respond(queries.get_dossier(box().db(), code, box().now()))


@bp.post("/dossiers/<code>/actions/<action>")
def act(code: str, action: str) -> Response:
    """Perform a lifecycle action on a dossier."""
    state = actions.act(box(), user(), code, action, json_body(), source())
    return respond(queries.dossier_view(state, box().now()))


@bp.post("/dossiers/<code>/attachments")
def add_attachment(code: str) -> Response:
    """Attach a scan (multipart field `file`)."""
    # Refuse what can be refused before the body is read: a role that may not attach, a dossier
    # that does not exist, a body announced larger than the limit.
    require(user(), "dossier.act")
    actions.find_state(box(), code)
    limit = box().settings.max_upload_bytes
    if (request.content_length or 0) > limit + MULTIPART_OVERHEAD:
        raise attachments.file_too_large(limit)
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError(
            "Chưa chọn tệp: gửi tệp trong trường “file” (multipart/form-data).",
            "No file: send it in the multipart field “file”.",
            code="required",
            field="file",
        )
    info = attachments.attach(box(), user(), code, upload.stream, upload.filename, source())
    return respond(info, 201, {"Location": f"/api/v1/dossiers/{code}/attachments/{info['sha256']}"})


@bp.get("/dossiers/<code>/attachments/<sha256>")
def get_attachment(code: str, sha256: str) -> Response:
    """Download an attachment of a dossier."""
    require(user(), "dossier.read")
    state = actions.find_state(box(), code)
    missing = NotFoundError(
        "Hồ sơ không có tệp đính kèm này.", "The dossier has no such attachment.", code="attachment_not_found"
    )
    # Look the hash up in the dossier first: a malformed one is simply not found.
    found = next((a for a in state["attachments"] if a["sha256"] == sha256), None)
    if found is None:
        raise missing
    path = attachments.open_blob(box(), sha256)
    if not path.exists():
        raise missing
    return send_file(path, mimetype=found["content_type"], download_name=found["name"])


@bp.get("/procedures")
def procedures() -> Response:
    """List the procedure catalogue (q filters accent-insensitively)."""
    require(user(), "catalogue.read")
    items = [p.to_dict() for p in list_procedures(box().db(), request.args.get("q"))]
    return respond({"items": items})


@bp.get("/procedures/<code>")
def procedure(code: str) -> Response:
    """Return one procedure."""
    require(user(), "catalogue.read")
    return respond(get_procedure(box().db(), code).to_dict())


@bp.get("/procedures/<code>/due-date")
def due_date(code: str) -> Response:
    """Compute the due date of a dossier of this procedure received at a given moment."""
    require(user(), "catalogue.read")
    proc = get_procedure(box().db(), code)
    raw = request.args.get("received_at")
    received = parse_datetime(raw, "received_at") if raw else box().now()
    due = due_for(box(), procedure_snapshot(proc), received)
    return respond({"procedure_code": proc.code, "received_at": iso(received), "due_at": iso(due)})


def _flag(value: str | None, field: str) -> bool | None:
    if value in (None, ""):
        return None
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise ValidationError(
        f"“{field}” phải là true hoặc false.", f"“{field}” must be true or false.", code="invalid_flag", field=field
    )


def _int(value: str | None, field: str, low: int, high: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ValidationError(
            f"“{field}” phải là số nguyên từ {low} đến {high}.",
            f"“{field}” must be a whole number from {low} to {high}.",
            code="invalid_number",
            field=field,
        )
    return number


from ui.api import payments as _payments  # noqa: E402,F401  (registers the payment routes on bp)
from ui.api import queue as _queue  # noqa: E402,F401  (registers the queue routes on bp)
