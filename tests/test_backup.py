"""Backups of a running box and their restore: the manifest checked first, nothing written on doubt, no number reused.

Real box data dirs on disk, real threads writing while the backup runs, the `motcua` command line
in a subprocess for the technician's view.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from edge import audit, backup, cashier, intake
from edge.attachments import attach, blob_path
from edge.box import Box, open_box
from edge.config import Settings
from edge.errors import EdgeError
from edge.store.migrations import latest_version
from edge.users import User
from tests.conftest import FakeClock, applicant, dossier_body
from tests.hubproc import motcua

OFFICER = User("canbo", "officer")
ROOT = Path(__file__).resolve().parents[1]


def receive(box: Box, n: int, seed: int = 0) -> list[str]:
    """Receive n dossiers and take each one's 16.000 ₫ in cash; return their codes."""
    codes = []
    for i in range(n):
        state = intake.receive_dossier(
            box, OFFICER, dossier_body(applicant=applicant(id_number=f"0010990{seed:02d}{i:03d}"))
        )
        cashier.take_payment(box, None, state["code"], "cash", 16000, OFFICER, received=20000)
        codes.append(state["code"])
    return codes


def receipts(box: Box) -> list[int]:
    return [r[0] for r in box.db().execute("SELECT receipt_number FROM fee_payments WHERE receipt_number IS NOT NULL")]


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_backup_taken_while_officers_write_restores_whole_and_the_same_box(
    box: Box, box_settings: Settings, tmp_path: Path
) -> None:
    codes = receive(box, 3)
    attach(box, OFFICER, codes[0], io.BytesIO(b"%PDF-1.4 scan"), "scan.pdf", "test")
    (sha,) = [r[0] for r in box.db().execute("SELECT sha256 FROM blobs")]
    usb = tmp_path / "usb"
    usb.mkdir()
    stop = threading.Event()
    written: list[str] = []

    def officers() -> None:
        worker = open_box(box_settings.data_dir, clock=box.clock)
        n = 0
        while not stop.is_set():
            state = intake.receive_dossier(
                worker, OFFICER, dossier_body(applicant=applicant(id_number=f"0020991{n:05d}"))
            )
            written.append(state["code"])
            n += 1
        worker.close()

    thread = threading.Thread(target=officers)
    thread.start()
    try:
        made = backup.create_backup(box, usb)
    finally:
        stop.set()
        thread.join()
    assert made.path.parent == usb and made.path.name.startswith("motcua-") and written
    assert [p.name for p in usb.iterdir()] == [made.path.name]  # no ".partial-" folder left behind
    manifest = json.loads((made.path / "manifest.json").read_text(encoding="utf-8"))
    paths = {f["path"] for f in manifest["files"]}
    assert {"motcua.db", "motcua.toml", "secrets.toml", "state/codes.json", "state/receipts.json"} <= paths
    assert manifest["box_id"] == box_settings.box_id and manifest["schema_version"] == latest_version()
    assert stat.S_IMODE((made.path / "secrets.toml").stat().st_mode) == 0o600
    assert backup.verify_backup(made.path) == manifest

    target = tmp_path / "new"
    backup.restore_backup(made.path, target)
    assert stat.S_IMODE((target / "secrets.toml").stat().st_mode) == 0o600
    assert blob_path(target / "blobs", sha).read_bytes() == b"%PDF-1.4 scan"
    assert (target / "secrets.toml").read_bytes() == (box_settings.data_dir / "secrets.toml").read_bytes()
    restored = open_box(target)
    db = restored.db()
    assert restored.settings.box_id == box_settings.box_id
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    codes = [r[0] for r in db.execute("SELECT code FROM dossiers ORDER BY code")]
    # A snapshot of one moment: the 3 before it, then a prefix of what the officers wrote, each dossier whole.
    assert len(codes) >= 3 and set(codes[3:]) <= set(written)
    assert db.execute("SELECT count(DISTINCT dossier_id) FROM dossier_events").fetchone()[0] == len(codes)
    assert [e["action"] for e in audit.entries(db, limit=1)] == ["box_restored"]
    restored.close()


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        ("flip", "backup_damaged"),
        ("missing", "backup_incomplete"),
        ("extra", "backup_extra_file"),
        ("newer", "backup_schema_newer"),
        ("no_manifest", "backup_no_manifest"),
        ("escape", "backup_invalid"),
        ("mode", "backup_invalid"),
    ],
)
def test_a_damaged_backup_is_refused_before_anything_is_written(
    box: Box, tmp_path: Path, damage: str, code: str
) -> None:
    receive(box, 2)
    made = backup.create_backup(box, tmp_path).path
    manifest_path = made / "manifest.json"
    manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    if damage == "flip":
        data = bytearray((made / "motcua.toml").read_bytes())
        data[-2] ^= 1
        (made / "motcua.toml").write_bytes(bytes(data))
    elif damage == "missing":
        (made / "state" / "receipts.json").unlink()
    elif damage == "extra":
        (made / "blobs" / "stray.bin").parent.mkdir(exist_ok=True)
        (made / "blobs" / "stray.bin").write_bytes(b"x")
    elif damage == "no_manifest":
        manifest_path.unlink()
    else:
        if damage == "newer":
            manifest["schema_version"] = latest_version() + 1
        elif damage == "mode":
            manifest["files"][0]["mode"] = "rwx"
        else:
            manifest["files"].append({"path": "../outside", "size": 0, "sha256": "0" * 64})
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    target = tmp_path / "new"
    with pytest.raises(EdgeError) as caught:
        backup.restore_backup(made, target)
    assert caught.value.code == code and caught.value.vi.startswith("Không khôi phục")
    assert not target.exists()


def test_a_folder_that_holds_a_box_is_kept_unless_forced(box: Box, box_settings: Settings, tmp_path: Path) -> None:
    receive(box, 1)
    made = backup.create_backup(box, tmp_path).path
    receive(box, 2, seed=1)
    box.close()
    before = tree(box_settings.data_dir)
    with pytest.raises(EdgeError) as caught:
        backup.restore_backup(made, box_settings.data_dir)
    assert caught.value.code == "box_exists"
    assert tree(box_settings.data_dir) == before
    backup.restore_backup(made, box_settings.data_dir, force=True)
    db = sqlite3.connect(box_settings.data_dir / "motcua.db")
    assert db.execute("SELECT count(*) FROM dossiers").fetchone()[0] == 1
    db.close()


def test_restored_over_itself_the_box_issues_no_code_or_receipt_again(
    box: Box, box_settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    first = receive(box, 2)
    made = backup.create_backup(box, tmp_path).path
    later = receive(box, 3, seed=1)
    issued = receipts(box)
    box.close()
    backup.restore_backup(made, box_settings.data_dir, force=True)
    restored = open_box(box_settings.data_dir, clock=clock)
    assert len(receipts(restored)) == 2  # the DB went back in time …
    new = receive(restored, 1, seed=2)
    assert new[0] not in first + later  # … the marks did not
    assert receipts(restored)[-1] == max(issued) + 1
    fenced = [e for e in audit.entries(restored.db(), limit=50) if e["action"] == "sequence_fenced"]
    assert {e["target"] for e in fenced} == {first[0].split("-")[1], "01BLP0-001/BL26"}
    restored.close()


def test_restored_into_a_new_folder_the_old_folders_marks_fence_the_numbers(
    box: Box, box_settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    receive(box, 1)
    made = backup.create_backup(box, tmp_path).path
    later = receive(box, 2, seed=1)
    issued = receipts(box)
    box.close()
    with pytest.raises(EdgeError) as caught:
        backup.restore_backup(made, tmp_path / "empty", marks_from=tmp_path / "nowhere")
    assert caught.value.code == "marks_missing" and not (tmp_path / "empty").exists()
    backup.restore_backup(made, tmp_path / "new", marks_from=box_settings.data_dir)
    restored = open_box(tmp_path / "new", clock=clock)
    assert receive(restored, 1, seed=2)[0] > later[-1]
    assert receipts(restored)[-1] == max(issued) + 1
    restored.close()


def test_the_command_line_backs_up_and_restores_and_says_why_it_refuses(box_settings: Settings, tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    out = motcua("backup", "--data", str(box_settings.data_dir), "--to", str(usb))
    (made,) = usb.iterdir()
    assert out.startswith("Đã sao lưu") and str(made) in out
    out = motcua("restore", "--data", str(tmp_path / "new"), "--from", str(made))
    assert "Đã khôi phục máy" in out and "cơ sở dữ liệu toàn vẹn" in out
    assert "motcua sync once" in out  # not provisioned: nothing came back from a hub, and it says so
    done = _run("restore", "--data", str(tmp_path / "new"), "--from", str(made), lang="en")
    assert done.returncode == 1 and "already holds a box" in done.stderr and "--force" in done.stderr
    (made / "motcua.db").write_bytes(b"not a database")
    done = _run("restore", "--data", str(tmp_path / "other"), "--from", str(made))
    assert done.returncode == 1 and "bản sao lưu bị hỏng" in done.stderr and not (tmp_path / "other").exists()
    done = _run("backup", "--data", str(box_settings.data_dir), "--to", str(tmp_path / "unplugged"))
    assert done.returncode == 1 and "ổ USB" in done.stderr


def _run(*args: str, lang: str = "vi") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MOTCUA_LANG": lang}
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and os.environ.get("CI") != "true", reason="no systemd-analyze"
)
def test_the_backup_timer_and_service_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    motcua_bin = str(Path(sys.executable).with_name("motcua"))
    for name in ("motcua-backup.service", "motcua-backup.timer"):
        text = (ROOT / "systemd" / name).read_text(encoding="utf-8")
        assert name.endswith(".timer") or ("motcua backup --data" in text and "ReadWritePaths=" in text)
        text = text.replace("User=motcua", f"User={user}").replace("Group=motcua", f"Group={user}")
        (tmp_path / name).write_text(text.replace("/usr/local/bin/motcua", motcua_bin), encoding="utf-8")
    paths = [str(tmp_path / "motcua-backup.service"), str(tmp_path / "motcua-backup.timer")]
    result = subprocess.run(["systemd-analyze", "verify", *paths], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if "motcua-" in line]
    assert result.returncode == 0 and not problems, result.stderr
