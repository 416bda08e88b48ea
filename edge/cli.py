"""The `motcua` command: the composition root that wires edge, ui, sync and devices."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from edge import __version__, audit, catalogue
from edge.box import init_box, open_box
from edge.errors import ConfigError, EdgeError
from edge.identity import parse_date
from edge.procedures import list_procedures, upsert_procedures
from edge.projection import rebuild_all
from edge.store.db import write
from edge.store.migrations import latest_version, schema_version
from edge.text import clean_free_text
from edge.users import add_user, create_token

Handler = Callable[[argparse.Namespace], int]


def _init(args: argparse.Namespace) -> int:
    settings = init_box(args.data, args.commune_code, args.agency_code, args.name)
    box = open_box(settings.data_dir)
    upsert_procedures(box.db(), catalogue.sample_catalogue(), actor="init")
    print(f"Đã tạo máy cho “{settings.name}” tại {settings.data_dir} (mã máy {settings.box_id}).")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from edge.server import serve

    box = open_box(args.data)
    serve(box, args.host or box.settings.host, box.settings.port if args.port is None else args.port)
    return 0


def _user_add(args: argparse.Namespace) -> int:
    box = open_box(args.data)
    user = add_user(box.db(), args.username, args.role, args.password, args.full_name or "")
    print(f"Đã thêm người dùng {user.username} ({user.role}).")
    return 0


def _token_create(args: argparse.Namespace) -> int:
    box = open_box(args.data)
    print(create_token(box.db(), args.username))
    return 0


def _catalogue_import(args: argparse.Namespace) -> int:
    box = open_box(args.data)
    count = upsert_procedures(box.db(), catalogue.load_file(Path(args.file)))
    print(f"Đã nhập {count} thủ tục.")
    return 0


def _catalogue_export(args: argparse.Namespace) -> int:
    box = open_box(args.data)
    procs = list_procedures(box.db())
    catalogue.dump_file(Path(args.file), procs)
    print(f"Đã xuất {len(procs)} thủ tục ra {args.file}.")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    box = open_box(args.data)
    db = box.db()
    with write(db):
        count = rebuild_all(db)
        audit.record(db, "cli", "projections_rebuilt", detail={"dossiers": count})
    print(f"Đã dựng lại {count} hồ sơ từ nhật ký sự kiện.")
    return 0


def _calendar_set(args: argparse.Namespace) -> int:
    box = open_box(args.data)
    day = parse_date(args.day, "day")
    note = clean_free_text(args.note or "", "note", required=False)
    box.set_override(day, args.working, note, actor="cli")
    kind = "ngày làm việc" if args.working else "ngày nghỉ"
    print(f"Đã đặt {day.strftime('%d/%m/%Y')} là {kind}.")
    return 0


def _calendar_list(args: argparse.Namespace) -> int:
    box = open_box(args.data)
    for row in box.overrides():
        kind = "làm việc" if row["working"] else "nghỉ"
        print(f"{row['day']}\t{kind}\t{row['note']}")
    return 0


def _version(args: argparse.Namespace) -> int:
    print(f"motcua {__version__}")
    print(f"schema {latest_version()}")
    try:
        box = open_box(args.data)
    except ConfigError as err:
        if args.data or err.code != "config_missing":
            raise
        return 0  # no box here: the app's own versions are all there is to say
    print(f"box schema {schema_version(box.db())}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from edge.demo import run_demo

    run_demo(Path(args.data), args.host, args.port, args.hub_port)
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"motcua: {message} (xem '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `motcua` command."""
    parser = _Parser(prog="motcua", description="Một Cửa Edge — máy bộ phận một cửa cấp xã")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str,
        handler: Handler,
        help_text: str,
        parent: argparse._SubParsersAction[_Parser] | None = None,
    ) -> argparse.ArgumentParser:
        p = (parent or sub).add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("init", _init, "tạo máy mới cho một xã")
    p.add_argument("--data", required=True)
    p.add_argument("--commune-code", required=True)
    p.add_argument("--agency-code", required=True)
    p.add_argument("--name", required=True)

    p = command("serve", _serve, "chạy dịch vụ web của máy")
    p.add_argument("--data")
    p.add_argument("--host")
    p.add_argument("--port", type=int)

    user = sub.add_parser("user", help="người dùng").add_subparsers(dest="user_command", required=True)
    p = command("add", _user_add, "thêm người dùng", user)
    p.add_argument("--data")
    p.add_argument("username")
    p.add_argument("--role", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--full-name")

    token = sub.add_parser("token", help="mã truy cập API").add_subparsers(dest="token_command", required=True)
    p = command("create", _token_create, "tạo mã truy cập cho một người dùng", token)
    p.add_argument("--data")
    p.add_argument("username")

    cat = sub.add_parser("catalogue", help="danh mục thủ tục").add_subparsers(dest="cat_command", required=True)
    for name, handler, text in (("import", _catalogue_import, "nhập"), ("export", _catalogue_export, "xuất")):
        p = command(name, handler, f"{text} danh mục (JSON hoặc CSV)", cat)
        p.add_argument("--data")
        p.add_argument("file")

    p = command("rebuild-projections", _rebuild, "dựng lại bảng hồ sơ từ nhật ký sự kiện")
    p.add_argument("--data")

    cal = sub.add_parser("calendar", help="lịch làm việc").add_subparsers(dest="cal_command", required=True)
    p = command("set", _calendar_set, "đặt một ngày là ngày làm việc (--working) hoặc ngày nghỉ (--off)", cal)
    p.add_argument("--data")
    p.add_argument("day", help="YYYY-MM-DD")
    kind = p.add_mutually_exclusive_group(required=True)
    kind.add_argument("--working", dest="working", action="store_true")
    kind.add_argument("--off", dest="working", action="store_false")
    p.add_argument("--note")
    p = command("list", _calendar_list, "liệt kê các ngày đã đặt riêng", cal)
    p.add_argument("--data")

    p = command("version", _version, "phiên bản ứng dụng và lược đồ dữ liệu")
    p.add_argument("--data")

    p = command("demo", _demo, "chạy thử cả văn phòng trên 127.0.0.1")
    p.add_argument("--data", default="demo-data")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--hub-port", type=int, default=8090, help="cổng của máy chủ tỉnh chạy thử")

    from edge import devicecli, doctorcli
    from sync.client import cli as client_cli
    from sync.hub import cli as hub_cli

    hub_cli.register(sub, command)
    client_cli.register(sub, command)
    devicecli.register(sub, command)
    from edge import backupcli

    backupcli.register(sub, command)
    doctorcli.register(sub, command)
    from edge import opscli

    opscli.register(sub, command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors end with a one-line reason on stderr and a non-zero code."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except EdgeError as err:
        lang = "en" if _wants_english() else "vi"
        print("motcua: " + " ".join(err.message(lang).split()), file=sys.stderr)
        return 2 if err.status >= 500 else 1
    except KeyboardInterrupt:
        return 130
    except OSError as err:
        print("motcua: " + " ".join(str(err).split()), file=sys.stderr)
        return 1


def _wants_english() -> bool:
    import os

    return os.environ.get("MOTCUA_LANG", "vi").startswith("en")


if __name__ == "__main__":
    raise SystemExit(main())
