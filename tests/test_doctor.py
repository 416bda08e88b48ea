"""`motcua doctor`: each check on a real box dir, a real hub process, a closed port, a damaged DB file."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import trustme

from edge import intake
from edge.box import Box
from edge.config import Settings, update_config_file
from edge.doctor import Check, Limits, exit_code, render_text
from edge.doctorcli import run_doctor
from edge.store.db import connect
from edge.users import User
from tests.conftest import FakeClock, dossier_body
from tests.hubproc import Hub, provision
from tests.tlsproxy import TlsProxy


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def doctor_cli(data: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "doctor", "--data", str(data), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_fresh_box_is_fine_but_not_enrolled(box_settings: Settings) -> None:
    checks = by_name(run_doctor(box_settings.data_dir))
    for name in ("data_dir", "config", "file:secrets.toml", "db_integrity", "db_writable", "migrations", "outbox"):
        assert checks[name].status == "ok", checks[name]
    assert checks["sync_config"].status == "warn" and "motcua provision" in checks["sync_config"].hint_vi
    assert checks["clock"].status == "ok"  # nothing to compare with
    done = doctor_cli(box_settings.data_dir, "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert (report["status"], report["exit_code"], report["lang"]) == ("warn", 1, "vi")
    assert report["data_dir"] == str(box_settings.data_dir)
    assert all(set(c) == {"name", "status", "message", "hint"} for c in report["checks"])
    assert {"name": "migrations", "status": "ok"}.items() <= next(
        c for c in report["checks"] if c["name"] == "migrations"
    ).items()


def test_missing_data_dir_fails_with_exit_2(tmp_path: Path) -> None:
    done = doctor_cli(tmp_path / "nowhere")
    assert done.returncode == 2
    assert "Không có thư mục dữ liệu" in done.stdout and "motcua init" in done.stdout
    done = doctor_cli(tmp_path / "nowhere", "--lang", "en")
    assert done.returncode == 2 and "does not exist" in done.stdout and "Không" not in done.stdout


def test_enrolled_box_with_a_reachable_hub_is_all_ok(box_settings: Settings, hub: Hub) -> None:
    provision(box_settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    done = doctor_cli(box_settings.data_dir, env={"MOTCUA_LANG": "en"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"OK        hub:{hub.url}: Hub {hub.url}: DNS, TCP and a signed request all fine" in done.stdout
    assert "The clock agrees with the hub" in done.stdout
    assert "Total: " in done.stdout and " 0 warnings, 0 failures." in done.stdout
    # A box clock ten minutes fast: the signed request still goes through (corrected), the clock warns.
    checks = by_name(run_doctor(box_settings.data_dir, clock=lambda: time.time() + 600))
    assert checks[f"hub:{hub.url}"].status == "ok"
    assert checks["clock"].status == "warn" and re.search(r"nhanh (599|600|601) giây", checks["clock"].vi)
    assert "timedatectl" in checks["clock"].hint_vi


def test_an_unreachable_hub_fails_at_the_tcp_step(box_settings: Settings, hub: Hub) -> None:
    provision(box_settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    dead = f"http://127.0.0.1:{closed_port()}"
    text = (box_settings.data_dir / "sync.toml").read_text(encoding="utf-8")
    (box_settings.data_dir / "sync.toml").write_text(
        re.sub(r"hubs = \[.*\]", f'hubs = ["{dead}", "{hub.url}"]', text), encoding="utf-8"
    )
    checks = by_name(run_doctor(box_settings.data_dir, timeout=2))
    assert checks[f"hub:{dead}"].status == "fail" and checks[f"hub:{dead}"].vi.startswith("TCP: không kết nối được")
    assert checks[f"hub:{hub.url}"].status == "ok"  # the second data centre answers
    hub.stop()
    done = doctor_cli(box_settings.data_dir, "--json", "--timeout", "2")
    assert done.returncode == 2
    failed = {c["name"] for c in json.loads(done.stdout)["checks"] if c["status"] == "fail"}
    assert failed == {f"hub:{dead}", f"hub:{hub.url}"}


def test_a_revoked_or_unknown_box_is_told_to_enroll_again(box_settings: Settings, hub: Hub) -> None:
    provision(box_settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    secret = box_settings.data_dir / "sync-secret.toml"
    secret.write_text(f'secret = "{"ab" * 32}"\n', encoding="utf-8")
    check = by_name(run_doctor(box_settings.data_dir))[f"hub:{hub.url}"]
    assert check.status == "fail" and check.vi.startswith("Chữ ký: máy chủ từ chối (bad_signature)")
    assert "motcua provision" in check.hint_vi


def test_https_hub_through_the_province_ca(box_settings: Settings, hub: Hub, tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "province-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with TlsProxy("127.0.0.1", hub.port, ca.issue_cert("127.0.0.1")) as proxy:
        url = f"https://127.0.0.1:{proxy.port}"
        code = hub.add_box("00001", "UBND xã Thử Nghiệm")
        hubs = ["--hub", url, "--code", code, "--ca-bundle", str(ca_file)]
        subprocess.run(
            [sys.executable, "-m", "edge.cli", "provision", "--data", str(box_settings.data_dir), *hubs],
            check=True,
            capture_output=True,
        )
        check = by_name(run_doctor(box_settings.data_dir))[f"hub:{url}"]
        assert check.status == "ok" and "DNS, TCP, TLS" in check.vi
        trustme.CA().cert_pem.write_to_path(str(ca_file))  # another CA: the proxy's certificate is not trusted
        check = by_name(run_doctor(box_settings.data_dir))[f"hub:{url}"]
    assert check.status == "fail" and check.vi.startswith("TLS: bắt tay TLS thất bại")
    assert "ca_bundle" in check.hint_vi


def test_a_damaged_db_file_fails_the_integrity_check(box_settings: Settings) -> None:
    db = connect(box_settings.db_path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'procedures'").fetchone()[0]
    db.conn.close()
    with open(box_settings.db_path, "r+b") as raw:  # scribble over one table's root page
        raw.seek((root - 1) * page + 8)
        raw.write(b"\xff" * 64)
    checks = by_name(run_doctor(box_settings.data_dir))
    assert checks["db_integrity"].status == "fail"
    assert "bị hỏng" in checks["db_integrity"].vi and "motcua restore" in checks["db_integrity"].hint_vi
    assert "db_writable" not in checks
    assert exit_code(list(checks.values())) == 2
    box_settings.db_path.write_bytes(b"not a database at all" * 100)
    check = by_name(run_doctor(box_settings.data_dir))["db_integrity"]
    assert check.status == "fail" and check.vi.startswith("Không mở được cơ sở dữ liệu")


def test_secrets_readable_by_others_fail(box_settings: Settings) -> None:
    box_settings.secrets_path.chmod(0o644)
    check = by_name(run_doctor(box_settings.data_dir))["file:secrets.toml"]
    assert check.status == "fail" and check.hint_vi == f"Chạy: chmod 600 {box_settings.secrets_path}"
    box_settings.secrets_path.chmod(0o600)
    box_settings.data_dir.chmod(0o755)
    assert by_name(run_doctor(box_settings.data_dir))["data_dir_mode"].status == "warn"


def test_free_disk_thresholds(box_settings: Settings) -> None:
    assert by_name(run_doctor(box_settings.data_dir, limits=Limits(disk_warn_fraction=1.0)))["disk"].status == "warn"
    failing = Limits(disk_fail_bytes=2**62)
    check = by_name(run_doctor(box_settings.data_dir, limits=failing))["disk"]
    assert check.status == "fail" and "Giải phóng dung lượng" in check.hint_vi
    assert by_name(run_doctor(box_settings.data_dir))["disk"].status in ("ok", "warn")


def test_pending_migrations_warn_and_the_doctor_does_not_apply_them(box_settings: Settings) -> None:
    db = connect(box_settings.db_path)
    last = db.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid DESC LIMIT 1").fetchone()[0]
    db.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [last])
    db.conn.close()
    check = by_name(run_doctor(box_settings.data_dir))["migrations"]
    assert check.status == "warn" and "Còn 1 bước nâng cấp" in check.vi
    db = connect(box_settings.db_path)
    assert db.execute("SELECT count(*) FROM _sqlite_migrations WHERE name = ?", [last]).fetchone()[0] == 0
    db.conn.close()


def test_outbox_waiting_more_than_a_day_warns(box: Box, officer: User, clock: FakeClock) -> None:
    intake.receive_dossier(box, officer, dossier_body())
    queued = clock.now.timestamp()
    check = by_name(run_doctor(box.settings.data_dir, clock=lambda: queued + 3600))["outbox"]
    assert check.status == "ok" and check.vi.startswith("1 sự kiện chờ gửi")
    check = by_name(run_doctor(box.settings.data_dir, clock=lambda: queued + 25 * 3600))["outbox"]
    assert check.status == "warn" and "đã chờ 25 giờ" in check.vi and "motcua sync status" in check.hint_vi


def test_devices_simulated_ok_unreachable_fails(box_settings: Settings) -> None:
    update_config_file(box_settings.data_dir, {"card_terminal": "sim://terminal"})
    update_config_file(box_settings.data_dir, {"receipt_printer": f"tcp://127.0.0.1:{closed_port()}"})
    checks = by_name(run_doctor(box_settings.data_dir))
    assert checks["device:card_terminal"].status == "ok"
    assert checks["device:receipt_printer"].status == "fail"
    assert "motcua devices test" in checks["device:receipt_printer"].hint_vi
    assert "device:ticket_printer" not in checks
    text = render_text(list(checks.values()), "en")
    assert "FAIL      device:receipt_printer: Receipt printer (tcp://127.0.0.1:" in text
