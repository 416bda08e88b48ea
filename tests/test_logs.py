"""Structured logs: JSON lines with the box id, secrets masked, `motcua logs --since` from the data dir's log file.

The end-to-end test runs a real hub, provisions a real box, runs its web service and sync worker as
processes, signs in and calls the API, and then reads every byte those processes wrote (stdout,
stderr and the log files): no secret, password or token is in it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from edge.calendar import TZ
from edge.errors import ValidationError
from edge.logs import MASK, Redactor, log_path, parse_since, readable, setup_logging
from tests.conftest import PASSWORD
from tests.hubproc import ADMIN_PASSWORD, Hub, make_box, motcua, provision

NOW = datetime(2026, 11, 26, 15, 30, tzinfo=TZ)


@pytest.fixture
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield None
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_records_are_json_lines_with_the_box_id_and_secrets_masked(tmp_path: Path, restore_logging: object) -> None:
    out = io.StringIO()
    secret = "a1b2c3d4e5f6" * 5
    setup_logging("box-123", "web", tmp_path, [secret], stream=out, journald=False)
    log = logging.getLogger("motcua.test")
    log.info("pushed with key %s", secret)
    log.warning("hub said: Authorization: Bearer tok-XYZ-987 and password=hunter22 token=abc123")
    try:
        raise RuntimeError(f"boom {secret}")
    except RuntimeError:
        log.exception("cycle failed")
    lines = out.getvalue().splitlines()
    assert lines == log_path(tmp_path).read_text(encoding="utf-8").splitlines()  # no journald: the file too
    records = [json.loads(line) for line in lines]
    assert [r["level"] for r in records] == ["INFO", "WARNING", "ERROR"]
    assert all(r["box_id"] == "box-123" and r["logger"] == "motcua.test" and r["service"] == "web" for r in records)
    assert datetime.fromisoformat(records[0]["time"]).tzinfo is not None
    assert records[0]["message"] == f"pushed with key {MASK}"
    for word in ("tok-XYZ-987", "hunter22", "abc123", secret):
        assert word not in out.getvalue()
    assert "RuntimeError: boom ***" in records[2]["exception"]


def test_under_journald_only_stdout_gets_the_records(tmp_path: Path, restore_logging: object) -> None:
    out = io.StringIO()
    setup_logging("box-1", "sync", tmp_path, stream=out, journald=True)
    logging.getLogger("motcua.sync").info("hello")
    assert json.loads(out.getvalue())["message"] == "hello" and not log_path(tmp_path).exists()


def test_redactor_leaves_ordinary_text_alone() -> None:
    text = "dossier 000.00.01.H01-261126-0001 received; sync: sent 4 events"
    assert Redactor(["short"]).redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 hour ago", NOW - timedelta(hours=1)),
        ("30 min ago", NOW - timedelta(minutes=30)),
        ("2 days ago", NOW - timedelta(days=2)),
        ("today", NOW.replace(hour=0, minute=0)),
        ("yesterday", NOW.replace(hour=0, minute=0) - timedelta(days=1)),
        ("2026-11-26T08:00", datetime(2026, 11, 26, 8, 0, tzinfo=TZ)),
        ("2026-11-26 08:00:00+00:00", datetime(2026, 11, 26, 15, 0, tzinfo=TZ)),
    ],
)
def test_since_reads_what_journalctl_reads(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


def test_since_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValidationError) as err:
        parse_since("last tuesday", NOW)
    assert err.value.code == "bad_since" and "1 hour ago" in err.value.message("vi")


def test_motcua_logs_reads_the_data_dirs_log_since_a_time(tmp_path: Path) -> None:
    data = tmp_path / "box"
    path = log_path(data)
    path.parent.mkdir(parents=True)
    old = {"time": (datetime.now(TZ) - timedelta(hours=3)).isoformat(), "level": "INFO", "box_id": "b1"}
    new = {"time": (datetime.now(TZ) - timedelta(minutes=5)).isoformat(), "level": "WARNING", "box_id": "b1"}
    path.write_text(
        json.dumps({**old, "service": "web", "logger": "motcua.server", "message": "cũ"}) + "\n"
        + json.dumps({**new, "service": "sync", "logger": "motcua.sync", "message": "mới"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    out = motcua("logs", "--since", "1 hour ago", "--data", str(data))
    assert out.splitlines() == [readable(path.read_text(encoding="utf-8").splitlines()[1])]
    assert "WARNING" in out and "sync[b1] motcua.sync: mới" in out
    assert "cũ" in motcua("logs", "--since", "today", "--data", str(data)) or datetime.now(TZ).hour < 3
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "logs", "--since", "soon", "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Không hiểu thời điểm 'soon'" in done.stderr


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    return out + err


def test_no_secret_in_the_logs_of_provisioning_sync_and_sign_in(tmp_path: Path, hub: Hub) -> None:
    settings = make_box(tmp_path)
    code = hub.add_box("00001", "UBND xã Thử Nghiệm")
    written = [provision(settings, code, hub.url)]
    token = motcua("token", "create", "--data", str(settings.data_dir), "canbo")
    env = {**os.environ, "MOTCUA_SYNC_INTERVAL_S": "3600", "MOTCUA_SYNC_CHECK_S": "0.2"}
    env.pop("JOURNAL_STREAM", None)
    worker = _start(["sync-worker", "--data", str(settings.data_dir)], env)
    server = _start(["serve", "--data", str(settings.data_dir), "--port", "0"], env)
    try:
        assert server.stdout is not None
        url = re.search(r"(http://127\.0\.0\.1:\d+)/", server.stdout.readline())
        assert url is not None
        web = requests.Session()
        for password in ("sai-mat-khau-99", PASSWORD):
            page = web.get(url.group(1) + "/login", timeout=10).text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert csrf is not None
            form = {"username": "canbo", "password": password, "csrf_token": csrf.group(1)}
            web.post(url.group(1) + "/login", data=form, timeout=10)
        assert web.get(url.group(1) + "/", timeout=10).status_code == 200
        api = requests.get(url.group(1) + "/api/v1/dossiers", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert api.status_code == 200
        motcua("sync", "now", "--data", str(settings.data_dir))
        time.sleep(2)  # the worker's prompt cycle after "sync now"
    finally:
        written.append(_stop(server))
        written.append(_stop(worker))
        hub.stop()
    written.append(log_path(settings.data_dir).read_text(encoding="utf-8"))
    written.append(log_path(hub.data).read_text(encoding="utf-8"))
    text = "\n".join(written)
    box_log = [json.loads(line) for line in log_path(settings.data_dir).read_text(encoding="utf-8").splitlines()]
    assert {r["service"] for r in box_log} == {"web", "sync"} and {r["box_id"] for r in box_log} == {settings.box_id}
    assert any("sync worker started" in r["message"] for r in box_log)

    def toml(path: Path) -> dict[str, str]:
        return {k: str(v) for k, v in tomllib.loads(path.read_text(encoding="utf-8")).items()}

    secrets = [
        *toml(settings.data_dir / "secrets.toml").values(),
        *toml(settings.data_dir / "sync-secret.toml").values(),
        *toml(hub.data / "hub-secrets.toml").values(),
        code,
        token,
        hub.admin_token,
        PASSWORD,
        ADMIN_PASSWORD,
        "sai-mat-khau-99",
    ]
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, leaked
