"""Command-line commands of the box's sync client (registered into `motcua` by edge.cli).

motcua provision --data BOXDIR --hub URL [--hub URL2] --code CODE [--ca-bundle FILE]
motcua sync-worker --data BOXDIR
motcua sync once --data BOXDIR        # exit 0 when nothing is left to send, 1 otherwise
motcua sync now --data BOXDIR         # ask the running worker for a cycle now
motcua sync status --data BOXDIR [--json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from edge.box import open_box
from sync.client.status import request_sync_now, status


def _provision(args: argparse.Namespace) -> int:
    from sync.client.provision import provision

    box = open_box(args.data)
    config = provision(box, args.hub, args.code, args.ca_bundle)
    print(f"Đã đăng ký máy với máy chủ tỉnh (xã {config.commune_code}): {', '.join(config.hubs)}.")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from sync.client.worker import run_worker

    run_worker(open_box(args.data))
    return 0


def _once(args: argparse.Namespace) -> int:
    from sync.client.cycle import sync_once

    result = sync_once(open_box(args.data), last_resort=True)
    print(result.summary())
    return 0 if result.done else 1


def _now(args: argparse.Namespace) -> int:
    request_sync_now(open_box(args.data), actor="cli", source="cli")
    print("Đã yêu cầu đồng bộ ngay; dịch vụ đồng bộ sẽ chạy trong giây lát.")
    return 0


def _status(args: argparse.Namespace) -> int:
    info = status(open_box(args.data), detail=True)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    if not info["configured"]:
        print("Đồng bộ: chưa cấu hình (chạy 'motcua provision').")
        return 0
    if "config_error" in info:
        print(f"Đồng bộ: lỗi cấu hình — {info['config_error']}")
        return 1
    state = "có kết nối" if info["online"] else "mất kết nối"
    print(f"Đồng bộ: {state}; lần cuối {info['last_sync'] or 'chưa có'}.")
    waiting = f"{info['waiting_events']} sự kiện, {info['waiting_blobs']} tệp scan"
    print(f"Chờ đồng bộ: {waiting}; bị từ chối: {info['refused']}.")
    for hub in info["hubs"]:
        line = f"  {hub['url']}: {hub['label']}"
        if hub["last_success"]:
            line += f", thành công lần cuối {hub['last_success']}"
        if hub["last_error"]:
            line += f"; lỗi: {hub['last_error']}"
        if hub["next_attempt"]:
            line += f"; thử lại lúc {hub['next_attempt']}"
        print(line)
    for error in info["errors"]:
        print(f"Lỗi: {error['message']}")
    for item in info.get("refused_events", []):
        print(f"Bị từ chối: {item['event_id']} ({item['kind']}) — {item['label']} ({item['code']}: {item['message']})")
    return 0


def register(sub: argparse._SubParsersAction[Any], command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add this package's commands to the `motcua` parser (`command(name, handler, help, parent)`)."""
    p = command("provision", _provision, "đăng ký máy với máy chủ tỉnh bằng mã một lần")
    p.add_argument("--data")
    p.add_argument("--hub", action="append", required=True, help="địa chỉ máy chủ tỉnh (lặp lại cho trung tâm 2)")
    p.add_argument("--code", required=True, help="mã đăng ký do máy chủ tỉnh cấp")
    p.add_argument("--ca-bundle", help="tệp chứng chỉ CA của tỉnh (PEM)")

    p = command("sync-worker", _worker, "chạy dịch vụ đồng bộ với máy chủ tỉnh")
    p.add_argument("--data")

    group = sub.add_parser("sync", help="đồng bộ với máy chủ tỉnh").add_subparsers(dest="sync_command", required=True)
    p = command("once", _once, "đồng bộ một lần (mã thoát 0 khi không còn gì chờ gửi)", group)
    p.add_argument("--data")
    p = command("now", _now, "yêu cầu dịch vụ đồng bộ chạy ngay", group)
    p.add_argument("--data")
    p = command("status", _status, "trạng thái đồng bộ", group)
    p.add_argument("--data")
    p.add_argument("--json", action="store_true")
