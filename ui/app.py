"""The box's Flask app factory."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from importlib import resources
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException, InternalServerError

from edge.box import Box
from edge.config import load_secrets
from edge.errors import EdgeError, StorageError, megabytes
from edge.ports import DeviceOpener
from edge.store.db import classify, translate
from edge.store.migrations import latest_version, schema_version
from ui import web
from ui.api import JSON_LIMIT, MULTIPART_OVERHEAD
from ui.api import bp as api_bp
from ui.errors import error_response, language, wants_json
from ui.web import errors as web_errors


def create_app(
    box: Box,
    test_config: dict[str, Any] | None = None,
    *,
    devices: DeviceOpener | None = None,
    wake_printer: Callable[[], None] | None = None,
) -> Flask:
    """Build the box's web app around an opened Box (and its devices, when the server wires them)."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=load_secrets(box.settings)["session_secret"],
        # The largest body any route takes: an attachment plus its multipart envelope, or JSON.
        MAX_CONTENT_LENGTH=max(box.settings.max_upload_bytes + MULTIPART_OVERHEAD, JSON_LIMIT),
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if test_config:
        app.config.update(test_config)
    app.extensions["box"] = box
    app.extensions["devices"] = devices
    app.extensions["wake_printer"] = wake_printer or (lambda: None)
    app.register_blueprint(api_bp, url_prefix="/api/v1")

    @app.get("/healthz")
    def healthz() -> Response:
        db = box.db()
        db.execute("SELECT 1").fetchone()
        body = {
            "status": "ok",
            "box_id": box.settings.box_id,
            "commune_code": box.settings.commune_code,
            "name": box.settings.name,
            "schema_version": schema_version(db),
            "schema_latest": latest_version(),
            "time": box.now().isoformat(),
        }
        return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")

    @app.get("/api/openapi.yaml")
    def openapi() -> Response:
        text = resources.files("ui").joinpath("openapi.yaml").read_text(encoding="utf-8")
        return Response(text, mimetype="application/yaml")

    web.setup(app, box)

    @app.errorhandler(EdgeError)
    def on_edge_error(err: EdgeError) -> Response | str | tuple[str, int]:
        if isinstance(err, StorageError):
            # A connection that met a read-only or damaged file is not reused: the next
            # request opens a fresh one and sees the file as it is by then.
            box.close()
        if not wants_json():
            return web_errors.edge_error_page(err)
        headers = {"WWW-Authenticate": 'Bearer realm="motcua"'} if err.status == 401 else None
        return error_response(err.status, err.code, err.message(language()), err.field, headers)

    @app.errorhandler(HTTPException)
    def on_http_error(err: HTTPException) -> Response | str | tuple[str, int]:
        if not wants_json():
            return web_errors.http_error_page(err)
        return _http_error(err, box.settings.max_upload_bytes)

    @app.errorhandler(Exception)
    def on_unexpected(err: Exception) -> Response | str | tuple[str, int]:
        if isinstance(err, sqlite3.Error) and classify(err):
            return on_edge_error(translate(err))
        logging.getLogger("motcua").exception("unexpected error")
        return on_http_error(InternalServerError())

    return app


_HTTP_MESSAGES = {
    400: ("Yêu cầu không hợp lệ.", "Bad request.", "bad_request"),
    401: ("Cần đăng nhập (token).", "Authentication required.", "unauthorized"),
    404: ("Không có địa chỉ này.", "No such address.", "not_found"),
    405: ("Phương thức không được hỗ trợ ở địa chỉ này.", "Method not allowed here.", "method_not_allowed"),
    413: (
        "Nội dung gửi lên quá lớn (tệp đính kèm tối đa {limit} MB).",
        "The request body is too large (attachments: {limit} MB at most).",
        "too_large",
    ),
    415: ("Kiểu nội dung không được hỗ trợ.", "Unsupported content type.", "unsupported_media_type"),
}


def _http_error(err: HTTPException, upload_limit: int) -> Response:
    status = err.code or 500
    vi, en, code = _HTTP_MESSAGES.get(status, ("Lỗi máy chủ.", "Server error.", "server_error"))
    message = (en if language() == "en" else vi).format(limit=megabytes(upload_limit))
    # Keep what the exception says about the request, e.g. "Allow: POST" on a 405.
    headers = {k: v for k, v in err.get_headers() if k.lower() != "content-type"}
    return error_response(status, code, message, headers=headers)
