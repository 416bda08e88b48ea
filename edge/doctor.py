"""`motcua doctor`'s checks that need only the box itself: data dir, files, DB, disk, migrations, outbox.

Each check says what it found in plain Vietnamese (and English) and what to do about it. A check
never changes the box: the DB is opened without running migrations, and the write test is a
transaction that is rolled back. The hub and device checks need sync and devices and live in the
wiring module edge.doctorcli.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from edge import devicehealth
from edge.calendar import TZ
from edge.config import CONFIG_FILE, DB_FILE, SECRETS_FILE, Settings, load_settings
from edge.errors import ConfigError, StorageError
from edge.ports import ROLE_NAMES, ROLES
from edge.store.db import connect
from edge.store.migrations import latest_version, schema_version

STATUSES = ("ok", "warn", "fail")
EXIT_CODES = {"ok": 0, "warn": 1, "fail": 2}
SYNC_SECRET_FILE = "sync-secret.toml"  # sync.client.config.SECRET_FILE (edge does not import sync)
_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Where a check turns from ok to a warning or a failure."""

    disk_warn_fraction: float = 0.15
    disk_fail_fraction: float = 0.05
    disk_fail_bytes: int = 200 * _MB
    clock_warn_s: float = 120.0
    outbox_warn_s: float = 24 * 3600.0


@dataclass(frozen=True)
class Check:
    """One check's verdict: its name, ok/warn/fail, what was found and what to do (vi and en)."""

    name: str
    status: str
    vi: str
    en: str
    hint_vi: str = ""
    hint_en: str = ""

    def as_dict(self, lang: str = "vi") -> dict[str, str]:
        """Return the check as the JSON output carries it, in one language."""
        en = lang.startswith("en")
        return {
            "name": self.name,
            "status": self.status,
            "message": self.en if en else self.vi,
            "hint": self.hint_en if en else self.hint_vi,
        }


def now(clock: Callable[[], float]) -> datetime:
    """Return the moment a Unix-seconds clock says, in Vietnam's time."""
    return datetime.fromtimestamp(clock(), TZ)


def ok(name: str, vi: str, en: str) -> Check:
    """Return a check that passed."""
    return Check(name, "ok", vi, en)


def worst(checks: Iterable[Check]) -> str:
    """Return the worst status among checks ("ok" when there are none)."""
    return max((c.status for c in checks), key=STATUSES.index, default="ok")


def exit_code(checks: Iterable[Check]) -> int:
    """Return the command's exit code: 0 all ok, 1 some warning, 2 some failure."""
    return EXIT_CODES[worst(checks)]


def report(checks: Sequence[Check], lang: str, data_dir: Path, checked_at: str) -> dict[str, Any]:
    """Return the one JSON object `motcua doctor --json` prints (README "motcua doctor")."""
    status = worst(checks)
    return {
        "status": status,
        "exit_code": EXIT_CODES[status],
        "data_dir": str(data_dir),
        "checked_at": checked_at,
        "lang": "en" if lang.startswith("en") else "vi",
        "checks": [c.as_dict(lang) for c in checks],
    }


_LABELS = {"ok": ("TỐT", "OK"), "warn": ("CẢNH BÁO", "WARN"), "fail": ("LỖI", "FAIL")}


def render_text(checks: Sequence[Check], lang: str) -> str:
    """Return the checks as lines a technician reads, with a closing summary."""
    i = 1 if lang.startswith("en") else 0
    lines = []
    for c in checks:
        lines.append(f"{_LABELS[c.status][i]:<9} {c.name}: {(c.vi, c.en)[i]}")
        hint = (c.hint_vi, c.hint_en)[i]
        if hint and c.status != "ok":
            lines.append(f"{'':<9} → {hint}")
    counts = {s: sum(1 for c in checks if c.status == s) for s in STATUSES}
    lines.append(
        (
            f"Tổng: {counts['ok']} tốt, {counts['warn']} cảnh báo, {counts['fail']} lỗi.",
            f"Total: {counts['ok']} ok, {counts['warn']} warnings, {counts['fail']} failures.",
        )[i]
    )
    return "\n".join(lines)


# ---- the data dir and its files --------------------------------------------------------------


def check_data_dir(data_dir: Path) -> tuple[list[Check], Settings | None]:
    """Check that the data dir exists, is ours, and holds a readable box configuration."""
    if not data_dir.is_dir():
        return [
            Check(
                "data_dir",
                "fail",
                f"Không có thư mục dữ liệu {data_dir}.",
                f"The data directory {data_dir} does not exist.",
                "Kiểm tra lại --data, hoặc tạo máy bằng 'motcua init'.",
                "Check --data, or create the box with 'motcua init'.",
            )
        ], None
    checks = []
    if not os.access(data_dir, os.R_OK | os.W_OK | os.X_OK):
        checks.append(
            Check(
                "data_dir",
                "fail",
                f"Tài khoản đang chạy không đọc/ghi được thư mục {data_dir}.",
                f"The running account cannot read and write {data_dir}.",
                "Chạy với tài khoản dịch vụ của máy, hoặc sửa chủ sở hữu (chown -R).",
                "Run as the box's service account, or fix the owner (chown -R).",
            )
        )
    else:
        checks.append(
            ok("data_dir", f"Thư mục dữ liệu {data_dir} đọc/ghi được.", f"{data_dir} is readable and writable.")
        )
    if data_dir.stat().st_mode & 0o007:
        checks.append(
            Check(
                "data_dir_mode",
                "warn",
                f"Người dùng khác trên máy đọc được thư mục {data_dir}.",
                f"Other users of the machine can open {data_dir}.",
                f"Chạy: chmod o-rwx {data_dir}",
                f"Run: chmod o-rwx {data_dir}",
            )
        )
    try:
        settings = load_settings(data_dir, env={})
    except ConfigError as err:
        checks.append(
            Check(
                "config",
                "fail",
                err.vi,
                err.en,
                f"Sửa tệp {CONFIG_FILE} hoặc tạo máy bằng 'motcua init'.",
                f"Fix {CONFIG_FILE} or create the box with 'motcua init'.",
            )
        )
        return checks, None
    checks.append(
        ok(
            "config",
            f"Đọc được {CONFIG_FILE} (mã máy {settings.box_id}).",
            f"{CONFIG_FILE} reads (box {settings.box_id}).",
        )
    )
    return checks, settings


def check_secret_files(data_dir: Path) -> list[Check]:
    """Check that each secrets file is readable by its owner only (0600)."""
    checks = []
    for name, required in ((SECRETS_FILE, True), (SYNC_SECRET_FILE, False)):
        path = data_dir / name
        check = f"file:{name}"
        if not path.exists():
            if required:
                checks.append(
                    Check(
                        check,
                        "fail",
                        f"Thiếu tệp bí mật {path}.",
                        f"The secrets file {path} is missing.",
                        "Khôi phục tệp từ bản sao lưu; không có nó người dùng không đăng nhập được.",
                        "Restore it from a backup; without it nobody can sign in.",
                    )
                )
            continue
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            checks.append(
                Check(
                    check,
                    "fail",
                    f"Tệp bí mật {path} có quyền {mode:o}: người khác đọc được.",
                    f"The secrets file {path} has mode {mode:o}: others can read it.",
                    f"Chạy: chmod 600 {path}",
                    f"Run: chmod 600 {path}",
                )
            )
        elif not os.access(path, os.R_OK):
            checks.append(
                Check(
                    check,
                    "fail",
                    f"Tài khoản đang chạy không đọc được {path}.",
                    f"The running account cannot read {path}.",
                    "Chạy với tài khoản dịch vụ của máy, hoặc sửa chủ sở hữu (chown).",
                    "Run as the box's service account, or fix the owner (chown).",
                )
            )
        else:
            checks.append(ok(check, f"Tệp {name} chỉ chủ sở hữu đọc được (600).", f"{name} is owner-only (600)."))
    return checks


# ---- the database ----------------------------------------------------------------------------


def open_db(db_path: Path) -> tuple[sqlite_utils.Database | None, Check | None]:
    """Open the box's DB without migrating it; return a failing check instead when it cannot be opened."""
    if not db_path.is_file():
        return None, Check(
            "database",
            "fail",
            f"Không thấy tệp cơ sở dữ liệu {db_path}.",
            f"The database file {db_path} is missing.",
            "Khôi phục từ bản sao lưu ('motcua restore').",
            "Restore it from a backup ('motcua restore').",
        )
    try:
        db = connect(db_path)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except (StorageError, sqlite3.Error) as err:
        vi, en = (err.vi, err.en) if isinstance(err, StorageError) else (str(err), str(err))
        return None, _corrupt(f"Không mở được cơ sở dữ liệu: {vi}", f"The database does not open: {en}")
    return db, None


def _corrupt(vi: str, en: str) -> Check:
    return Check(
        "db_integrity",
        "fail",
        vi,
        en,
        "Dừng dịch vụ, giữ nguyên tệp hỏng để điều tra, khôi phục bản sao lưu gần nhất ('motcua restore').",
        "Stop the service, keep the damaged file for inspection, restore the latest backup ('motcua restore').",
    )


def check_integrity(db: sqlite_utils.Database) -> Check:
    """Run PRAGMA quick_check, then the full integrity_check when the quick one passed."""
    try:
        for pragma in ("quick_check", "integrity_check"):
            rows = [str(r[0]) for r in db.execute(f"PRAGMA {pragma}").fetchall()]
            if rows != ["ok"]:
                found = "; ".join(rows[:5])
                return _corrupt(
                    f"Cơ sở dữ liệu bị hỏng ({pragma}: {found}).", f"The database is damaged ({pragma}: {found})."
                )
    except sqlite3.Error as err:
        return _corrupt(f"Cơ sở dữ liệu bị hỏng ({err}).", f"The database is damaged ({err}).")
    return ok("db_integrity", "Cơ sở dữ liệu nguyên vẹn (quick_check, integrity_check).", "The database is intact.")


def check_writable(db: sqlite_utils.Database, db_path: Path) -> Check:
    """Take the write lock and roll back: the DB file and its folder must be writable."""
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
    except sqlite3.Error as err:
        return Check(
            "db_writable",
            "fail",
            f"Không ghi được cơ sở dữ liệu {db_path} ({err}).",
            f"The database {db_path} cannot be written ({err}).",
            "Kiểm tra chủ sở hữu và quyền của thư mục dữ liệu, và dung lượng đĩa.",
            "Check the data directory's owner and permissions, and the free disk space.",
        )
    return ok("db_writable", "Ghi được cơ sở dữ liệu.", "The database is writable.")


def check_migrations(db: sqlite_utils.Database) -> Check:
    """Compare the DB's schema with the one this version of the program knows."""
    try:
        have = schema_version(db)
    except sqlite3.Error as err:
        return _corrupt(f"Không đọc được phiên bản lược đồ ({err}).", f"Cannot read the schema version ({err}).")
    want = latest_version()
    if have < want:
        return Check(
            "migrations",
            "warn",
            f"Còn {want - have} bước nâng cấp dữ liệu chưa chạy (lược đồ {have}/{want}).",
            f"{want - have} schema migrations are pending (schema {have}/{want}).",
            "Khởi động lại dịch vụ web của máy: nó tự nâng cấp khi chạy.",
            "Restart the box's web service: it migrates at start.",
        )
    if have > want:
        return Check(
            "migrations",
            "fail",
            f"Dữ liệu thuộc phiên bản mới hơn chương trình (lược đồ {have}, chương trình biết {want}).",
            f"The data is newer than the program (schema {have}, the program knows {want}).",
            "Cài lại phiên bản mới hơn của Một Cửa Edge; không chạy bản cũ trên dữ liệu này.",
            "Install the newer Một Cửa Edge again; do not run the old one on this data.",
        )
    return ok("migrations", f"Lược đồ dữ liệu mới nhất ({have}).", f"The schema is up to date ({have}).")


def check_outbox(db: sqlite_utils.Database, now: datetime, limits: Limits) -> Check:
    """Warn when the oldest event waiting for the hub is older than the limit, or the hub refused some."""
    count, oldest, refused = db.execute(
        "SELECT count(*), min(queued_at), count(*) FILTER (WHERE error_code IS NOT NULL) FROM outbox"
    ).fetchone()
    if refused:
        return Check(
            "outbox",
            "warn",
            f"Máy chủ tỉnh từ chối {refused} sự kiện; chúng vẫn nằm trên máy.",
            f"The hub refused {refused} events; they are kept on the box.",
            "Xem lý do ở trang Đồng bộ, sửa rồi bấm 'Gửi lại'.",
            "See the reasons on the Sync page, fix them, then retry.",
        )
    if not count:
        return ok("outbox", "Không có sự kiện nào chờ gửi lên máy chủ tỉnh.", "No event is waiting for the hub.")
    age_s = (now - datetime.fromisoformat(oldest)).total_seconds()
    hours = age_s / 3600
    if age_s > limits.outbox_warn_s:
        return Check(
            "outbox",
            "warn",
            f"{count} sự kiện chờ gửi; sự kiện cũ nhất đã chờ {hours:.0f} giờ.",
            f"{count} events are waiting; the oldest has waited {hours:.0f} hours.",
            "Kiểm tra đường mạng tới máy chủ tỉnh và dịch vụ đồng bộ ('motcua sync status').",
            "Check the link to the hub and the sync worker ('motcua sync status').",
        )
    return ok(
        "outbox", f"{count} sự kiện chờ gửi, cũ nhất {hours:.1f} giờ.", f"{count} events waiting, oldest {hours:.1f} h."
    )


# ---- disk, clock, devices -------------------------------------------------------------------


def _gb(size: int) -> str:
    return f"{size / 1024**3:.1f}".replace(".", ",") + " GB"


def check_disk(data_dir: Path, limits: Limits) -> Check:
    """Check the free space of the disk that holds the data dir."""
    usage = shutil.disk_usage(data_dir)
    fraction = usage.free / usage.total if usage.total else 0.0
    vi = f"Ổ đĩa còn trống {_gb(usage.free)} / {_gb(usage.total)} ({fraction:.0%})."
    en = f"The disk has {usage.free / 1024**3:.1f} GB free of {usage.total / 1024**3:.1f} GB ({fraction:.0%})."
    if fraction < limits.disk_fail_fraction or usage.free < limits.disk_fail_bytes:
        status = "fail"
    elif fraction < limits.disk_warn_fraction:
        status = "warn"
    else:
        return ok("disk", vi, en)
    return Check(
        "disk",
        status,
        vi,
        en,
        "Giải phóng dung lượng (xóa tệp không cần, chuyển bản sao lưu cũ ra USB); khi đĩa đầy máy không nhận hồ sơ.",
        "Free some space (remove unneeded files, move old backups to USB); a full disk stops intake.",
    )


def check_clock(offset_ms: float | None, source: str, limits: Limits) -> Check:
    """Compare the box's clock with the hub's (source: "hub" measured now, "saved" last measured)."""
    if offset_ms is None:
        return ok(
            "clock",
            "Không so được đồng hồ với máy chủ tỉnh (chưa kết nối được).",
            "The clock could not be compared with the hub (not reachable).",
        )
    seconds = offset_ms / 1000
    when_vi, when_en = ("", "") if source == "hub" else (" (lần đo gần nhất)", " (last measured)")
    if abs(seconds) > limits.clock_warn_s:
        way_vi, way_en = ("chậm", "behind") if seconds > 0 else ("nhanh", "ahead")
        return Check(
            "clock",
            "warn",
            f"Đồng hồ của máy {way_vi} {abs(seconds):.0f} giây so với máy chủ tỉnh{when_vi}.",
            f"The box's clock is {abs(seconds):.0f} s {way_en} of the hub{when_en}.",
            "Bật đồng bộ giờ (timedatectl set-ntp true) hoặc chỉnh giờ; hạn giải quyết tính theo giờ của máy.",
            "Turn on time sync (timedatectl set-ntp true) or set the clock; deadlines follow the box's clock.",
        )
    return ok(
        "clock",
        f"Đồng hồ khớp máy chủ tỉnh (lệch {seconds:+.1f} giây){when_vi}.",
        f"The clock agrees with the hub ({seconds:+.1f} s){when_en}.",
    )


def device_urls(settings: Settings) -> dict[str, str]:
    """Return each device role's configured URL ("" when none)."""
    return {role: str(getattr(settings, role, "") or "") for role in ROLES}


def device_check(role: str, url: str, error: tuple[str, str] | None, said: tuple[str, str] = ("", "")) -> Check:
    """Return a device's verdict from a self-test's answer (said) or its error (vi, en)."""
    vi_name, en_name = ROLE_NAMES[role]
    if error is not None:
        return Check(
            f"device:{role}",
            "fail",
            f"{vi_name} ({url}): {error[0]}",
            f"{en_name} ({url}): {error[1]}",
            "Kiểm tra dây cắm, nguồn và địa chỉ thiết bị; rồi chạy 'motcua devices test'.",
            "Check the cable, the power and the device address; then run 'motcua devices test'.",
        )
    vi_said, en_said = said
    return ok(f"device:{role}", f"{vi_name} ({url}): {vi_said or 'tốt'}", f"{en_name} ({url}): {en_said or 'ok'}")


def recorded_device_checks(db: sqlite_utils.Database, urls: dict[str, str]) -> list[Check]:
    """Judge each configured device by its recorded health (for a process that must not open the ports)."""
    checks = []
    for entry in devicehealth.health(db, urls):
        role, url = entry["role"], entry["url"]
        if entry["state"] == "none":
            continue
        if entry["state"] == "error":
            checks.append(device_check(role, url, (entry["last_error_vi"] or "", entry["last_error_en"] or "")))
        elif entry["state"] == "unknown":
            checks.append(device_check(role, url, None, ("chưa dùng lần nào", "not used yet")))
        else:
            checks.append(
                device_check(role, url, None, (f"tốt lúc {entry['last_ok_at']}", f"ok at {entry['last_ok_at']}"))
            )
    return checks


def box_checks(data_dir: Path, now: datetime, limits: Limits) -> tuple[list[Check], Settings | None]:
    """Run every check that needs only the box; return them and the settings (None when unreadable)."""
    checks, settings = check_data_dir(data_dir)
    if settings is None:
        return checks, None
    checks += check_secret_files(settings.data_dir)
    checks.append(check_disk(settings.data_dir, limits))
    db, failed = open_db(settings.data_dir / DB_FILE)
    if db is None:
        assert failed is not None
        checks.append(failed)
        return checks, settings
    try:
        integrity = check_integrity(db)
        checks.append(integrity)
        if integrity.status == "ok":
            checks.append(check_writable(db, settings.db_path))
            migrations = check_migrations(db)
            checks.append(migrations)
            if migrations.status == "ok":  # an older schema may lack the outbox: migrate first
                checks.append(check_outbox(db, now, limits))
    finally:
        db.conn.close()
    return checks, settings
