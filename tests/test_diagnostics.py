"""The technician's diagnostic bundle: what it holds, who may download it, and that no secret is in it."""

from __future__ import annotations

import io
import json
import re
import tomllib
import zipfile
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge.box import Box, open_box
from edge.config import Settings, load_secrets, update_config_file
from edge.logs import log_path
from edge.users import create_token
from tests.conftest import PASSWORD, FakeClock
from tests.hubproc import Hub, provision
from ui.app import create_app

NOTIFY_TOKEN = "vietqr-notify-Zx81kQ2p"


@pytest.fixture
def app_box(box_settings: Settings, clock: FakeClock) -> Iterator[tuple[Flask, Box]]:
    update_config_file(box_settings.data_dir, {"card_terminal": "sim://terminal", "vietqr_notify_token": NOTIFY_TOKEN})
    box = open_box(box_settings.data_dir, clock=clock)
    app = create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True})
    yield app, box
    box.close()


def login(client: FlaskClient, username: str) -> None:
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302


def unzip(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        return {name: bundle.read(name).decode("utf-8") for name in bundle.namelist()}


def test_the_bundle_holds_the_doctor_config_versions_and_logs_but_no_secret(
    app_box: tuple[Flask, Box], hub: Hub
) -> None:
    app, box = app_box
    settings = box.settings
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    token = create_token(box.db(), "kythuat")
    sync_secret = tomllib.loads((settings.data_dir / "sync-secret.toml").read_text(encoding="utf-8"))["secret"]
    log = log_path(settings.data_dir)
    log.parent.mkdir(exist_ok=True)
    lines = [json.dumps({"message": f"dòng {i}"}, ensure_ascii=False) for i in range(2500)]
    lines.append(json.dumps({"message": f"an old version logged the secret {sync_secret} and Bearer {token}"}))
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")

    tech = app.test_client()
    login(tech, "kythuat")
    assert "Tải gói chẩn đoán" in tech.get("/devices").text
    answer = tech.get("/devices/diagnostics")
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    assert re.fullmatch(r"attachment; filename=chan-doan-00001-\d{8}-\d{6}\.zip", answer.headers["Content-Disposition"])
    files = unzip(answer.data)
    assert set(files) == {
        "doctor.txt", "doctor.json", "versions.json", "device_errors.json", "audit_tail.json",
        "config/motcua.toml", "config/sync.toml", "logs/motcua.log",
    }  # fmt: skip
    report = json.loads(files["doctor.json"])
    checks = {c["name"]: c for c in report["checks"]}
    assert checks[f"hub:{hub.url}"]["status"] == "ok" and checks["device:card_terminal"]["status"] == "ok"
    assert checks["db_integrity"]["status"] == "ok" and report["lang"] == "vi"
    assert f"TỐT       hub:{hub.url}" in files["doctor.txt"]
    versions = json.loads(files["versions.json"])
    assert versions["box_id"] == settings.box_id and versions["schema_box"] == versions["schema_known"]
    assert any(entry["action"] == "token_created" for entry in json.loads(files["audit_tail.json"]))
    log_tail = files["logs/motcua.log"].splitlines()
    assert len(log_tail) == 2000 and json.loads(log_tail[0])["message"] == "dòng 501"
    motcua_toml = tomllib.loads(files["config/motcua.toml"])
    assert motcua_toml["vietqr"]["vietqr_notify_token"] == ""
    assert motcua_toml["box"]["box_id"] == settings.box_id and motcua_toml["devices"]["card_terminal"]
    assert tomllib.loads(files["config/sync.toml"])["sync"]["hubs"] == [hub.url]

    secrets = [sync_secret, token, NOTIFY_TOKEN, *load_secrets(settings).values()]
    secrets += [row[0] for row in box.db().execute("SELECT password_hash FROM users").fetchall()]
    secrets += [row[0] for row in box.db().execute("SELECT token_hash FROM api_tokens").fetchall()]
    assert len(secrets) >= 8
    everything = "\n".join(files.values())
    for secret in secrets:
        assert secret not in everything
    assert "the secret *** and Bearer ***" in files["logs/motcua.log"]


def test_only_technicians_and_admins_download_it_and_english_follows_the_language(
    app_box: tuple[Flask, Box],
) -> None:
    app, _ = app_box
    officer = app.test_client()
    login(officer, "canbo")
    assert officer.get("/devices/diagnostics").status_code == 403
    admin = app.test_client()
    login(admin, "quantri")
    admin.get("/lang/en")
    files = unzip(admin.get("/devices/diagnostics").data)
    assert "logs/motcua.log" not in files and "config/sync.toml" not in files  # no log file, not enrolled
    report = json.loads(files["doctor.json"])
    assert (report["status"], report["lang"]) == ("warn", "en")
    sync = next(c for c in report["checks"] if c["name"] == "sync_config")
    assert sync["status"] == "warn" and sync["message"].startswith("The box is not enrolled")
    assert "WARN      sync_config: The box is not enrolled" in files["doctor.txt"]
