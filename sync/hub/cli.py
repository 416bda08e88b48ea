"""The `motcua hub …` commands (registered into `motcua` by edge.cli)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from edge import catalogue
from edge.calendar import TZ
from edge.errors import ValidationError
from edge.events import iso
from sync.hub.boxes import add_box, list_boxes, revoke_box
from sync.hub.config import init_hub, load_hub_settings, open_hub
from sync.hub.db import HubDB
from sync.hub.feed import publish_calendar, publish_catalogue


def _now() -> str:
    return iso(datetime.now(TZ))


@contextmanager
def _hub_db(args: argparse.Namespace) -> Iterator[HubDB]:
    """Open the hub's database for one command and close it after."""
    _, db = open_hub(args.data)
    try:
        yield db
    finally:
        db.close()


def _init(args: argparse.Namespace) -> int:
    settings = init_hub(args.data, args.database_url)
    print(f"Đã tạo máy chủ tỉnh {settings.hub_id} tại {settings.data_dir}.")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from sync.hub.server import serve_hub

    serve_hub(load_hub_settings(args.data), args.host, args.port)
    return 0


def _user_add(args: argparse.Namespace) -> int:
    from sync.hub.users import add_user

    with _hub_db(args) as db:
        add_user(db, args.username, args.role, args.password, _now())
        print(f"Đã thêm người dùng {args.username} ({args.role}).")
    return 0


def _token_create(args: argparse.Namespace) -> int:
    from sync.hub.users import create_token

    with _hub_db(args) as db:
        print(create_token(db, args.username, _now()))
    return 0


def _read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise ValidationError(
            f"Không đọc được tệp {path}: {err.strerror}.", f"Cannot read the file {path}: {err.strerror}.", field="file"
        ) from err


def _catalogue_import(args: argparse.Namespace) -> int:
    with _hub_db(args) as db:
        procs = catalogue.load_file(Path(args.file))
        count = publish_catalogue(db, [p.to_dict() for p in procs], _now())
        print(f"Đã công bố {count} thủ tục cho các xã.")
    return 0


def _calendar_import(args: argparse.Namespace) -> int:
    with _hub_db(args) as db:
        try:
            data = json.loads(_read_file(args.file).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise ValidationError(
                f"Tệp lịch {args.file} không phải JSON hợp lệ: {err}.",
                f"The calendar file {args.file} is not valid JSON: {err}.",
                field="file",
            ) from err
        count = publish_calendar(db, data, _now())
        print(f"Đã công bố {count} ngày trong lịch làm việc cho các xã.")
    return 0


def _box_add(args: argparse.Namespace) -> int:
    with _hub_db(args) as db:
        _, code = add_box(db, args.commune_code, args.name, args.agency_code)
        print(code)
    return 0


def _box_revoke(args: argparse.Namespace) -> int:
    with _hub_db(args) as db:
        revoke_box(db, args.box_id)
        print(f"Đã thu hồi hộp {args.box_id}.")
    return 0


_STATES = {"active": "đang hoạt động", "pending": "chờ đăng ký", "expired": "mã hết hạn", "revoked": "đã thu hồi"}


def _box_list(args: argparse.Namespace) -> int:
    with _hub_db(args) as db:
        for box in list_boxes(db):
            fields = (
                box["box_id"] or box["record_id"],
                box["commune_code"],
                box["name"],
                _STATES[box["state"]],
                box["last_seen_at"] or "-",
            )
            print("\t".join(fields))
    return 0


def register(sub: argparse._SubParsersAction[Any], command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the `motcua hub …` commands to the `motcua` parser (`command(name, handler, help, parent)`)."""
    hub = sub.add_parser("hub", help="máy chủ tỉnh").add_subparsers(dest="hub_command", required=True)

    p = command("init", _init, "tạo máy chủ tỉnh mới", hub)
    p.add_argument("--data", required=True)
    p.add_argument("--database-url", help="sqlite:///… (mặc định) hoặc postgresql://…")

    p = command("serve", _serve, "chạy máy chủ tỉnh", hub)
    p.add_argument("--data")
    p.add_argument("--host")
    p.add_argument("--port", type=int, help="mặc định 8090; 0 chọn một cổng trống")

    user = hub.add_parser("user", help="người dùng máy chủ tỉnh").add_subparsers(dest="hub_user_command", required=True)
    p = command("add", _user_add, "thêm người dùng", user)
    p.add_argument("--data")
    p.add_argument("username")
    p.add_argument("--role", required=True)
    p.add_argument("--password", required=True)

    token = hub.add_parser("token", help="mã truy cập API").add_subparsers(dest="hub_token_command", required=True)
    p = command("create", _token_create, "tạo mã truy cập cho một người dùng", token)
    p.add_argument("--data")
    p.add_argument("username")

    cat = hub.add_parser("catalogue", help="danh mục thủ tục").add_subparsers(dest="hub_cat_command", required=True)
    p = command("import", _catalogue_import, "nhập và công bố danh mục (JSON hoặc CSV)", cat)
    p.add_argument("--data")
    p.add_argument("file")

    cal = hub.add_parser("calendar", help="lịch làm việc").add_subparsers(dest="hub_cal_command", required=True)
    p = command("import", _calendar_import, 'nhập và công bố lịch (JSON {"days": [...]})', cal)
    p.add_argument("--data")
    p.add_argument("file")

    box = hub.add_parser("box", help="hộp ở các xã").add_subparsers(dest="hub_box_command", required=True)
    p = command("add", _box_add, "thêm hộp và in mã đăng ký dùng một lần", box)
    p.add_argument("--data")
    p.add_argument("--commune-code", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--agency-code")
    p = command("revoke", _box_revoke, "thu hồi một hộp", box)
    p.add_argument("--data")
    p.add_argument("box_id")
    p = command("list", _box_list, "liệt kê các hộp", box)
    p.add_argument("--data")
