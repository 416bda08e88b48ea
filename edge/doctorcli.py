"""`motcua doctor`: every check of edge.doctor, plus the hub and the devices (part of the composition root).

The hub checks walk each hub URL of the box's sync config step by step — DNS, TCP, TLS with the
province's CA bundle when https, then a signed GET of the commune feed past its end (harmless: it
reads nothing and changes nothing) — so a technician sees which step fails. The signed answer also
carries the hub's time, which the clock check compares with the box's. Devices are asked the same
questions as `motcua devices test` (nothing is printed or charged); a `sim://` device is fine.
Output is Vietnamese, English with --lang en or MOTCUA_LANG=en; exit 0 all ok, 1 warnings, 2 failures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devices.errors import DeviceError
from edge import doctor, syncstate
from edge.appliance import Devices, translate
from edge.config import Settings
from edge.devicecli import _check_one
from edge.doctor import Check, Limits
from edge.errors import ConfigError, EdgeError
from edge.events import now_iso
from edge.ports import ROLES
from sync.client.config import load_sync_config
from sync.client.errors import HubRefusedError, HubUnreachableError
from sync.client.transport import OFFSET_KEY, Transport

Clock = Callable[[], float]
FEED_END = 10**15 - 1  # past any feed position: the hub answers an empty page
_RENEW_CODES = ("unknown_box", "revoked_box", "bad_signature")


def _hub_fail(url: str, step: tuple[str, str], vi: str, en: str, hint_vi: str, hint_en: str) -> Check:
    return Check(f"hub:{url}", "fail", f"{step[0]}: {vi}", f"{step[1]}: {en}", hint_vi, hint_en)


_NETWORK_HINT = (
    "Kiểm tra cáp mạng/4G, tường lửa, và hỏi CNTT tỉnh máy chủ có đang chạy không.",
    "Check the cable or 4G link and the firewall, and ask provincial IT whether the hub is up.",
)


def check_hub(url: str, settings: Settings, box_id: str, secret: bytes, ca: str | None,
              timeout: float, clock: Clock) -> tuple[Check, float | None]:  # fmt: skip
    """Walk one hub URL (DNS, TCP, TLS, signed request); return its verdict and the measured clock offset."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        return _hub_fail(
            url, ("DNS", "DNS"), f"không phân giải được tên {host} ({err})", f"cannot resolve {host} ({err})",
            "Kiểm tra DNS của máy (/etc/resolv.conf) và đường mạng.",
            "Check the box's DNS (/etc/resolv.conf) and the link.",
        ), None  # fmt: skip
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as err:
        return _hub_fail(
            url, ("TCP", "TCP"), f"không kết nối được {host}:{port} ({err})",
            f"cannot connect to {host}:{port} ({err})",
            *_NETWORK_HINT,
        ), None  # fmt: skip
    try:
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca)
            try:
                context.wrap_socket(sock, server_hostname=host).close()
            except (ssl.SSLError, OSError) as err:
                return _hub_fail(
                    url, ("TLS", "TLS"), f"bắt tay TLS thất bại ({err})", f"the TLS handshake failed ({err})",
                    "Kiểm tra tệp CA của tỉnh (ca_bundle trong sync.toml) và đồng hồ của máy.",
                    "Check the province's CA file (ca_bundle in sync.toml) and the box's clock.",
                ), None  # fmt: skip
    finally:
        sock.close()
    transport = Transport([url], box_id=box_id, secret=secret, ca_bundle=ca, clock=clock, timeout=(timeout, timeout))
    started = time.monotonic()
    try:
        transport.request(
            "GET", f"/sync/v1/communes/{settings.commune_code}/feed", query={"after": FEED_END, "limit": 1}
        )
    except HubRefusedError as err:
        renew = err.code in _RENEW_CODES
        return _hub_fail(
            url, ("Chữ ký", "Signature"), f"máy chủ từ chối ({err.code}): {err.vi}",
            f"the hub refused ({err.code}): {err.en}",
            "Xin CNTT tỉnh mã đăng ký mới rồi chạy lại 'motcua provision'." if renew else "Báo CNTT tỉnh mã lỗi này.",
            "Ask provincial IT for a new enrollment code and run 'motcua provision' again." if renew
            else "Tell provincial IT this error code.",
        ), transport.clock_offset_ms  # fmt: skip
    except HubUnreachableError as err:
        return _hub_fail(url, ("HTTP", "HTTP"), err.vi, err.en, *_NETWORK_HINT), None
    finally:
        transport.close()
    ms = (time.monotonic() - started) * 1000
    steps = "DNS, TCP, TLS" if parts.scheme == "https" else "DNS, TCP"
    return Check(
        f"hub:{url}",
        "ok",
        f"Máy chủ tỉnh {url}: {steps} và yêu cầu có chữ ký đều tốt ({ms:.0f} ms).",
        f"Hub {url}: {steps} and a signed request all fine ({ms:.0f} ms).",
    ), transport.clock_offset_ms


def hub_checks(settings: Settings, timeout: float, clock: Clock) -> tuple[list[Check], float | None]:
    """Check the sync config and every hub URL; return them and the first clock offset measured."""
    try:
        config = load_sync_config(settings, env={})
    except ConfigError as err:
        return [
            Check(
                "sync_config", "fail", err.vi, err.en,
                "Sửa tệp theo thông báo, hoặc đăng ký lại bằng 'motcua provision'.",
                "Fix the file as the message says, or enroll again with 'motcua provision'.",
            )
        ], None  # fmt: skip
    if config is None:
        return [
            Check(
                "sync_config", "warn",
                "Máy chưa đăng ký với máy chủ tỉnh: hồ sơ chỉ nằm trên máy này.",
                "The box is not enrolled with the provincial hub: dossiers stay on this box only.",
                "Xin CNTT tỉnh mã đăng ký rồi chạy 'motcua provision --hub URL --code MÃ'.",
                "Ask provincial IT for an enrollment code, then run 'motcua provision --hub URL --code CODE'.",
            )
        ], None  # fmt: skip
    checks = [doctor.ok("sync_config", f"Đã đăng ký với {len(config.hubs)} địa chỉ máy chủ tỉnh.",
                        f"Enrolled with {len(config.hubs)} hub address(es).")]  # fmt: skip
    offset: float | None = None
    ca = str(config.ca_bundle) if config.ca_bundle else None
    for url in config.hubs:
        check, measured = check_hub(url, settings, config.box_id, config.secret, ca, timeout, clock)
        checks.append(check)
        if offset is None and measured is not None:
            offset = measured
    return checks, offset


def device_checks(settings: Settings) -> list[Check]:
    """Ask each configured device how it is (a sim:// device is fine without asking)."""
    urls = doctor.device_urls(settings)
    checks = []
    devices = Devices(settings, follow_file=False)
    try:
        for role in ROLES:
            url = urls[role]
            if not url:
                continue
            if url.startswith("sim://"):
                checks.append(doctor.device_check(role, url, None, ("trình mô phỏng", "simulator")))
                continue
            try:
                try:
                    said = _check_one(devices, role)
                except DeviceError as err:
                    raise translate(err, sent=False) from err
            except EdgeError as err:
                checks.append(doctor.device_check(role, url, (err.vi, err.en)))
                continue
            checks.append(doctor.device_check(role, url, None, said))
    finally:
        devices.close()
    return checks


def _saved_offset(settings: Settings) -> float | None:
    db, _failed = doctor.open_db(settings.db_path)
    if db is None:
        return None
    try:
        value = syncstate.get(db, OFFSET_KEY)
    except sqlite3.Error:  # an old or damaged DB already failed its own check
        return None
    finally:
        db.conn.close()
    return float(value) if isinstance(value, int | float) else None


def run_doctor(
    data_dir: Path | str,
    *,
    limits: Limits | None = None,
    probe_devices: bool = True,
    timeout: float = 5.0,
    clock: Clock = time.time,
) -> list[Check]:
    """Run every check on a box; probe_devices=False judges devices by their recorded health instead."""
    limits = limits or Limits()
    checks, settings = doctor.box_checks(Path(data_dir).resolve(), doctor.now(clock), limits)
    if settings is None:
        return checks
    found, offset = hub_checks(settings, timeout, clock)
    source = "hub"
    if offset is None:
        offset, source = _saved_offset(settings), "saved"
    checks.append(doctor.check_clock(offset, source, limits))
    checks += found
    if probe_devices:
        checks += device_checks(settings)
    else:
        db, _failed = doctor.open_db(settings.db_path)
        if db is not None:
            try:
                checks += doctor.recorded_device_checks(db, doctor.device_urls(settings))
            finally:
                db.conn.close()
    return checks


def _doctor(args: argparse.Namespace) -> int:
    lang = args.lang or ("en" if os.environ.get("MOTCUA_LANG", "vi").startswith("en") else "vi")
    data = args.data or os.environ.get("MOTCUA_DATA")
    if not data:
        raise ConfigError(
            "Chưa chỉ thư mục dữ liệu: dùng --data DIR hoặc biến MOTCUA_DATA.",
            "No data directory given: use --data DIR or MOTCUA_DATA.",
            code="config_missing",
        )
    checks = run_doctor(data, timeout=args.timeout)
    if args.json:
        print(json.dumps(doctor.report(checks, lang, Path(data).resolve(), now_iso()), ensure_ascii=False, indent=2))
    else:
        print(doctor.render_text(checks, lang))
    return doctor.exit_code(checks)


def register(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add `motcua doctor` to the command line."""
    p = command("doctor", _doctor, "kiểm tra máy và giải thích lỗi (mã thoát 0 tốt, 1 cảnh báo, 2 lỗi)")
    p.add_argument("--data")
    p.add_argument("--json", action="store_true", help="một đối tượng JSON cho script")
    p.add_argument("--lang", choices=("vi", "en"), help="ngôn ngữ (mặc định tiếng Việt, hoặc MOTCUA_LANG)")
    p.add_argument("--timeout", type=float, default=5.0, help="giây chờ mỗi bước kết nối máy chủ tỉnh")
