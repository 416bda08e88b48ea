"""`motcua install-systemd` and `motcua logs`: what a technician types to run the box as a service and read its logs.

motcua install-systemd [--data DIR] [--unit-dir DIR] [--hub-data DIR] [--user NAME]
motcua logs --since "1 hour ago"|ISO [--data DIR]

Output is Vietnamese, English with MOTCUA_LANG=en. `motcua logs` reads journald
(`journalctl -u motcua-web -u motcua-sync -u motcua-hub -o cat --since …`) when systemd has the
units, else DATA/logs/motcua.log, which the services append to when journald does not take their
stdout (edge/logs.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from edge.config import load_settings
from edge.errors import ConfigError
from edge.logs import log_path, parse_since, read_file_since, readable
from edge.units import DEFAULT_DATA, DEFAULT_USER, Install, render_units

UNIT_DIR = Path("/etc/systemd/system")
SERVICES = ("motcua-web", "motcua-sync", "motcua-hub")


def _en() -> bool:
    return os.environ.get("MOTCUA_LANG", "vi").startswith("en")


def _say(vi: str, en: str) -> None:
    print(en if _en() else vi, flush=True)


def current_executable() -> str:
    """Return the absolute path of the `motcua` command of this install (the venv's when run from one)."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "motcua" and argv0.exists():
        return str(argv0.resolve())
    beside = Path(sys.executable).parent / "motcua"
    if beside.exists():
        return str(beside)
    found = shutil.which("motcua")
    if found:
        return str(Path(found).resolve())
    raise ConfigError(
        "Không tìm thấy lệnh motcua của bản cài này (cài gói bằng pip trước).",
        "Cannot find this install's motcua command (install the package with pip first).",
        code="no_executable",
    )


def _install_systemd(args: argparse.Namespace) -> int:
    unit_dir = Path(args.unit_dir)
    data = Path(args.data).absolute() if args.data else DEFAULT_DATA
    hub_data = Path(args.hub_data).absolute() if args.hub_data else None
    if not unit_dir.is_dir() or not os.access(unit_dir, os.W_OK | os.X_OK):
        raise ConfigError(
            f"Không ghi được vào thư mục {unit_dir}: chạy lại bằng sudo hoặc chọn --unit-dir khác.",
            f"Cannot write to the directory {unit_dir}: run again with sudo or choose another --unit-dir.",
            code="unit_dir_not_writable",
        )
    units = render_units(Install(current_executable(), data, hub_data, args.user))
    for unit in units:
        (unit_dir / unit.name).write_text(unit.text, encoding="utf-8")
        _say(f"Đã ghi {unit_dir / unit.name}", f"Wrote {unit_dir / unit.name}")
    names = " ".join(u.name for u in units)
    dirs = " ".join(str(d) for d in (data, hub_data) if d is not None)
    _say("Chạy tiếp các lệnh sau (với quyền root):", "Now run (as root):")
    for line in (
        f"useradd --system --user-group --home-dir {data} --shell /usr/sbin/nologin {args.user}",
        f"install -d -o {args.user} -g {args.user} -m 0750 {dirs}",
        f"chown -R {args.user}:{args.user} {dirs}",
        f"install -d -m 0755 /etc/motcua  # {'biến môi trường' if not _en() else 'environment'}: motcua.env, hub.env",
        "systemctl daemon-reload",
        f"systemctl enable --now {names}",
    ):
        print(f"  {line}")
    return 0


def journald_units() -> list[str]:
    """Return the motcua units systemd knows on this machine (none when systemd is not running)."""
    if not Path("/run/systemd/system").is_dir() or shutil.which("systemctl") is None:
        return []
    found = []
    for name in SERVICES:
        done = subprocess.run(
            ["systemctl", "show", "--property=LoadState", "--value", f"{name}.service"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if done.stdout.strip() == "loaded":
            found.append(name)
    return found


def _journal_lines(units: list[str], since: str) -> Iterable[str]:
    unit_args = [arg for name in units for arg in ("-u", name)]
    command = ["journalctl", *unit_args, "-o", "cat", "--no-pager", "--since", since]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, encoding="utf-8", errors="replace") as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            yield line.rstrip("\n")


def _logs(args: argparse.Namespace) -> int:
    since = parse_since(args.since)
    units = journald_units()
    if units:
        # journalctl reads a time without zone in the machine's own zone.
        lines = _journal_lines(units, since.astimezone().strftime("%Y-%m-%d %H:%M:%S"))
    else:
        data_dir = Path(args.data) if args.data else load_settings().data_dir  # a box's or a hub's
        lines = read_file_since(log_path(data_dir), since)
    for line in lines:
        print(readable(line), flush=True)
    return 0


def register(sub: argparse._SubParsersAction[Any], command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add `install-systemd` and `logs` to the `motcua` parser (`command(name, handler, help, parent)`)."""
    p = command("install-systemd", _install_systemd, "ghi các tệp systemd để chạy máy như một dịch vụ")
    p.add_argument("--data", help=f"thư mục dữ liệu của máy (mặc định {DEFAULT_DATA})")
    p.add_argument("--unit-dir", default=str(UNIT_DIR), help=f"nơi ghi tệp unit (mặc định {UNIT_DIR})")
    p.add_argument("--hub-data", help="thư mục dữ liệu của máy chủ tỉnh (ghi thêm motcua-hub.service)")
    p.add_argument("--user", default=DEFAULT_USER, help=f"người dùng hệ thống chạy dịch vụ (mặc định {DEFAULT_USER})")

    p = command("logs", _logs, "xem nhật ký của các dịch vụ từ một thời điểm")
    p.add_argument("--since", required=True, help='ví dụ "1 hour ago", "today", 2026-11-26T08:00')
    p.add_argument("--data")
