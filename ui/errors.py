"""One place where errors become JSON responses in the caller's language."""

from __future__ import annotations

import json

from flask import Response, has_request_context, request

from edge.errors import EdgeError

LANGUAGES = ("vi", "en")


class BadRequestError(EdgeError):
    """A request the server cannot even read (for example a body that is not JSON)."""

    status = 400
    default_code = "bad_request"


def wants_json() -> bool:
    """Return whether this request should get JSON errors (the API, scripts) rather than a page."""
    if not has_request_context():
        return True
    if request.blueprint == "api" or request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def language() -> str:
    """Return "en" when the caller prefers English, else "vi" (the default)."""
    if not has_request_context():
        return "vi"
    return request.accept_languages.best_match(LANGUAGES, default="vi") or "vi"


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Return {"error": {"code", "message"[, "field"]}} with the status."""
    body: dict[str, object] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return Response(
        json.dumps({"error": body}, ensure_ascii=False),
        status=status,
        mimetype="application/json",
        headers=headers,
    )
