"""`motcua backup` and `motcua restore`: what a technician types to copy a box out and bring it back.

motcua backup --data DIR --to DEST            # a new folder DEST/motcua-<box>-<time>, with manifest.json
motcua restore --data NEWDIR --from SRC [--force] [--marks-from OLDDIR] [--no-sync]

Part of the composition root: after a restore the box syncs once when it is provisioned, so the
events it made after the backup come back from the hub and its code and receipt sequences move
past them (edge.backup's docstring has the rule). Output is Vietnamese, English with
MOTCUA_LANG=en. Exit codes: 0 done; 1 refused (a damaged backup, a folder that holds a box).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from edge.backup import create_backup, recover_marks, restore_backup
from edge.box import open_box


def _say(vi: str, en: str) -> None:
    print(en if os.environ.get("MOTCUA_LANG", "vi").startswith("en") else vi, flush=True)


def _size(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB"


def _backup(args: argparse.Namespace) -> int:
    box = open_box(args.data)
    made = create_backup(box, args.to)
    _say(
        f"Đã sao lưu {made.files} tệp ({_size(made.bytes)}) vào {made.path}.",
        f"Backed up {made.files} files ({_size(made.bytes)}) to {made.path}.",
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    manifest = restore_backup(args.source, args.data, force=args.force, marks_from=args.marks_from)
    _say(
        f"Đã khôi phục máy {manifest['box_id']} từ bản sao lưu lúc {manifest['created_at']} vào {args.data}; "
        "cơ sở dữ liệu toàn vẹn.",
        f"Restored box {manifest['box_id']} from the backup of {manifest['created_at']} into {args.data}; "
        "the database is intact.",
    )
    box = open_box(args.data)  # runs the migrations an older backup lacks
    synced = False
    if not args.no_sync and (box.settings.data_dir / "sync.toml").is_file():
        from sync.client.cycle import sync_once

        result = sync_once(box, last_resort=True)
        synced = result.online and not result.errors
        if synced:
            _say(
                f"Đã đồng bộ với máy chủ tỉnh: nhận lại {result.pulled.applied} sự kiện.",
                f"Synced with the hub: {result.pulled.applied} events brought back.",
            )
    moved = recover_marks(box)
    if moved["codes"] or moved["receipts"]:
        _say(
            f"Đã nâng số thứ tự: {moved['codes']} ngày mã hồ sơ, {moved['receipts']} ký hiệu biên lai.",
            f"Sequences moved up: {moved['codes']} days of dossier codes, {moved['receipts']} receipt series.",
        )
    if not synced:
        _say(
            "Chưa lấy lại được dữ liệu từ máy chủ tỉnh: chạy 'motcua sync once' trước khi mở quầy, "
            "để không cấp lại mã hồ sơ hay số biên lai đã cấp sau bản sao lưu.",
            "Nothing was brought back from the hub: run 'motcua sync once' before opening the counter, "
            "so no dossier code or receipt number issued after the backup is issued again.",
        )
    return 0


def register(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add `motcua backup` and `motcua restore` to the command line."""
    p = command("backup", _backup, "sao lưu máy (cơ sở dữ liệu, tệp scan, cấu hình) vào một thư mục hoặc ổ USB")
    p.add_argument("--data")
    p.add_argument("--to", required=True, help="thư mục đích, ví dụ /media/usb")
    p = command("restore", _restore, "khôi phục máy từ một bản sao lưu (kiểm tra bản kê trước)")
    p.add_argument("--data", required=True, help="thư mục dữ liệu mới")
    p.add_argument("--from", dest="source", required=True, help="thư mục bản sao lưu")
    p.add_argument("--force", action="store_true", help="ghi đè máy đang có (dừng dịch vụ của máy trước)")
    p.add_argument("--marks-from", help="thư mục dữ liệu cũ của máy: giữ các mốc số đã cấp (state/)")
    p.add_argument("--no-sync", action="store_true", help="không đồng bộ với máy chủ tỉnh sau khi khôi phục")
