"""The hub's Flask app: one context, every blueprint of the sync.hub package, JSON errors for machines."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

import sync.hub
from edge.errors import EdgeError
from sync.hub.config import HubSettings, load_hub_secrets
from sync.hub.context import EXTENSION, HubContext
from sync.hub.db import HubDB
from sync.protocol import SyncError

HUB_TIME_HEADER = "X-Motcua-Hub-Time"
MAX_REQUEST_BYTES = 9 * 1024 * 1024  # a push batch is at most 8 MiB
JSON_PREFIXES = ("/sync/", "/api/")
log = logging.getLogger("motcua.hub")

# Vietnamese and English for the HTTP errors Flask raises itself.
_HTTP_MESSAGES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "Yêu cầu không hợp lệ.", "Bad request."),
    404: ("not_found", "Không tìm thấy địa chỉ này.", "No such resource."),
    405: ("method_not_allowed", "Phương thức này không được phép ở địa chỉ này.", "Method not allowed here."),
    413: ("request_too_large", "Yêu cầu quá lớn.", "The request is too large."),
    500: ("internal_error", "Máy chủ tỉnh gặp lỗi nội bộ.", "The hub hit an internal error."),
}


def blueprints() -> list[Blueprint]:
    """Import every module of the sync.hub package and return the `bp` blueprints they define."""
    found = []
    for info in sorted(pkgutil.iter_modules(sync.hub.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{sync.hub.__name__}.{info.name}")
        bp = getattr(module, "bp", None)
        if isinstance(bp, Blueprint):
            found.append(bp)
    return found


def wants_json() -> bool:
    """Return whether the current request is for machines (/sync and /api answer JSON errors)."""
    return request.path.startswith(JSON_PREFIXES)


def _details(details: dict[str, Any]) -> dict[str, Any]:
    """Return the error details that are plain JSON scalars (offset held, limit, reason …)."""
    return {k: v for k, v in details.items() if isinstance(v, str | int | float | bool) and k not in ("code",)}


def error_body(code: str, vi: str, en: str, **details: Any) -> dict[str, Any]:
    """Return the JSON error body every hub API answers with."""
    return {**_details(details), "code": code, "message": vi, "message_en": en}


def _json_error(body: dict[str, Any], status: int) -> tuple[Response, int]:
    return jsonify(body), status


def _install_errors(app: Flask) -> None:
    @app.errorhandler(SyncError)
    def sync_error(err: SyncError) -> Any:
        return _json_error(error_body(err.code, err.vi, err.en, **err.details), err.status)

    @app.errorhandler(EdgeError)
    def edge_error(err: EdgeError) -> Any:
        details = {"field": err.field, **err.details} if err.field else err.details
        if wants_json():
            return _json_error(error_body(err.code, err.vi, err.en, **details), err.status)
        return Response(err.vi, status=err.status, mimetype="text/plain")

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Any:
        if not wants_json() or err.code is None:
            return err
        code, vi, en = _HTTP_MESSAGES.get(err.code, ("http_error", err.name, err.name))
        response, status = _json_error(error_body(code, vi, en), err.code)
        if err.code == 405 and isinstance(err, HTTPException):
            allowed = err.get_headers()
            response.headers.extend([(k, v) for k, v in allowed if k == "Allow"])
        return response, status

    @app.errorhandler(Exception)
    def unexpected(err: Exception) -> Any:
        log.exception("unexpected error on %s %s", request.method, request.path)
        if not wants_json():
            return Response("Máy chủ tỉnh gặp lỗi nội bộ. / The hub hit an internal error.", status=500)
        code, vi, en = _HTTP_MESSAGES[500]
        return _json_error(error_body(code, vi, en), 500)


def create_hub_app(settings: HubSettings, db: HubDB | None = None, clock: Callable[[], float] = time.time) -> Flask:
    """Build the hub app for one process: context, blueprints, hub-time header, JSON errors."""
    app = Flask("sync.hub")
    ctx = HubContext(settings=settings, db=db or HubDB(settings.database_url), clock=clock)
    app.extensions[EXTENSION] = ctx
    app.config["SECRET_KEY"] = load_hub_secrets(settings)["session_secret"]
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    for bp in blueprints():
        app.register_blueprint(bp)

    @app.after_request
    def hub_time(response: Response) -> Response:
        response.headers[HUB_TIME_HEADER] = str(ctx.now_ms())
        return response

    _install_errors(app)
    return app
