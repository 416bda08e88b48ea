"""The technician's diagnostic bundle: GET /devices/diagnostics answers a .zip to send to provincial IT.

The zip holds the doctor's verdict (text and JSON), the configuration with every secret removed
(motcua.toml, sync.toml; never secrets.toml or sync-secret.toml), the versions, the last lines of
the log file (edge.logs) and the newest device errors and audit entries from the DB. Every text
is passed through the log redactor with the box's known secrets, so none can leak. The doctor
runs here without opening the devices (the running service holds their ports): they are judged
by their recorded health.
"""

from __future__ import annotations

import contextlib
import io
import json
import platform
import re
import sqlite3
import zipfile
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, send_file
from werkzeug.wrappers import Response as BaseResponse

from edge import __version__, devicehealth, doctor
from edge.calendar import TZ
from edge.config import CONFIG_FILE, Settings, load_secrets
from edge.doctorcli import run_doctor
from edge.errors import ConfigError
from edge.logs import Redactor, log_path
from edge.store.migrations import latest_version, schema_version
from ui.web.common import box, lang, requires

bp = Blueprint("diagnostics", __name__)
LOG_LINES = 2000  # the last lines of the log file put in the bundle
DB_ROWS = 200  # the newest device errors and audit entries
SYNC_FILE = "sync.toml"
SYNC_SECRET_FILE = "sync-secret.toml"
HUB_TIMEOUT_S = 3.0
REMOVED = '""  # đã xóa / removed'
_SECRET_KEY = re.compile(r"(?im)^(\s*[A-Za-z0-9_]*(?:secret|token|password|passwd)[A-Za-z0-9_]*\s*=).*$")


def known_secrets(settings: Settings) -> list[str]:
    """Return the box's secret values: its secrets file, the sync secret, the VietQR notification token."""
    found = [settings.vietqr_notify_token]
    with contextlib.suppress(ConfigError):
        found += list(load_secrets(settings).values())
    sync_secret = settings.data_dir / SYNC_SECRET_FILE
    with contextlib.suppress(OSError):
        found += re.findall(r"[0-9a-fA-F]{32,}", sync_secret.read_text(encoding="utf-8"))
    return [s for s in found if s]


def without_secrets(text: str) -> str:
    """Return a TOML text with the value of every secret-looking key replaced."""
    return _SECRET_KEY.sub(lambda m: f"{m.group(1)} {REMOVED}", text)


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as lines_in:
            return [line.rstrip("\n") for line in deque(lines_in, maxlen=lines)]
    except OSError:
        return []


def _audit(settings: Settings) -> list[dict[str, Any]]:
    db, _failed = doctor.open_db(settings.db_path)
    if db is None:
        return []
    try:
        keys = ("at", "actor", "action", "target", "detail", "source")
        rows = db.execute(
            "SELECT at, actor, action, target, detail, source FROM audit_log ORDER BY id DESC LIMIT ?", [DB_ROWS]
        ).fetchall()
        return [dict(zip(keys, r, strict=True)) for r in rows]
    except sqlite3.Error:
        return []
    finally:
        db.conn.close()


def _device_errors(settings: Settings) -> list[dict[str, Any]]:
    db, _failed = doctor.open_db(settings.db_path)
    if db is None:
        return []
    try:
        return devicehealth.recent_errors(db, DB_ROWS)
    except sqlite3.Error:
        return []
    finally:
        db.conn.close()


def _versions(settings: Settings) -> dict[str, Any]:
    db, _failed = doctor.open_db(settings.db_path)
    schema: int | None = None
    if db is not None:
        try:
            schema = schema_version(db)
        except sqlite3.Error:
            schema = None
        finally:
            db.conn.close()
    return {
        "motcua": __version__,
        "schema_known": latest_version(),
        "schema_box": schema,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "box_id": settings.box_id,
        "commune_code": settings.commune_code,
    }


def build_bundle(settings: Settings, language: str, now: datetime) -> bytes:
    """Return the diagnostic bundle of a box as zip bytes."""
    redactor = Redactor(known_secrets(settings))
    checks = run_doctor(settings.data_dir, probe_devices=False, timeout=HUB_TIMEOUT_S)
    checked_at = now.isoformat(timespec="seconds")
    files: dict[str, str] = {
        "doctor.txt": doctor.render_text(checks, language) + "\n",
        "doctor.json": json.dumps(
            doctor.report(checks, language, settings.data_dir, checked_at), ensure_ascii=False, indent=2
        ),
        "versions.json": json.dumps(_versions(settings), ensure_ascii=False, indent=2),
        "device_errors.json": json.dumps(_device_errors(settings), ensure_ascii=False, indent=2),
        "audit_tail.json": json.dumps(_audit(settings), ensure_ascii=False, indent=2),
    }
    for name in (CONFIG_FILE, SYNC_FILE):
        path = settings.data_dir / name
        if path.is_file():
            files[f"config/{name}"] = without_secrets(path.read_text(encoding="utf-8", errors="replace"))
    log_lines = _tail(log_path(settings.data_dir), LOG_LINES)
    if log_lines:
        files["logs/motcua.log"] = "\n".join(log_lines) + "\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in files.items():
            bundle.writestr(name, redactor.redact(text))
    return out.getvalue()


@bp.get("/devices/diagnostics")
@requires("devices.manage")
def download() -> BaseResponse:
    """Answer the diagnostic bundle as a download."""
    settings = box().settings
    now = datetime.now(TZ)
    data = build_bundle(settings, lang(), now)
    name = f"chan-doan-{settings.commune_code}-{now.strftime('%Y%m%d-%H%M%S')}.zip"
    return send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True, download_name=name)
