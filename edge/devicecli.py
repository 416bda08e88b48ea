"""`motcua devices …`: what a technician types to see, set up and test the office's devices.

Part of the composition root (it opens drivers and simulators directly). Output is Vietnamese,
English with MOTCUA_LANG=en. Exit codes, as for every `motcua` command: 0 done; 1 the input was
refused (a wrong address, role, profile or amount); 2 the device or the box failed (unreachable,
no answer, not set up), as argparse's own usage errors also give 2.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from collections.abc import Callable
from typing import Any

from devices.errors import DeviceError
from edge import devicehealth
from edge.appliance import Devices, translate
from edge.box import open_box
from edge.config import update_config_file
from edge.errors import EdgeError, ValidationError
from edge.ports import ROLE_NAMES, ROLES, Document, NotReady

Handler = Callable[[argparse.Namespace], int]
OUTCOMES = {"approved": ("chấp nhận", "approved"), "declined": ("bị từ chối", "declined"),
            "cancelled": ("đã hủy", "cancelled")}  # fmt: skip
STATES = {"ok": ("tốt", "ok"), "error": ("lỗi", "error"), "unknown": ("chưa dùng", "not used yet"),
          "none": ("chưa cấu hình", "not set up")}  # fmt: skip


def _en() -> bool:
    return os.environ.get("MOTCUA_LANG", "vi").startswith("en")


def _say(vi: str, en: str) -> None:
    print(en if _en() else vi, flush=True)


def _device_errors(handler: Handler) -> Handler:
    """Let driver errors end like every other error of the command (one line, exit code 1)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except DeviceError as err:
            raise translate(err, sent=False) from err

    return run


def _list(args: argparse.Namespace) -> int:
    from devices.discovery import discover

    box = open_box(args.data)
    devices = Devices(box.settings)
    health = devicehealth.health(box.db(), devices.urls())
    found = [{"url": d.url, "kind": d.kind, "description": d.description} for d in discover()]
    if args.json:
        print(json.dumps({"configured": health, "discovered": found}, ensure_ascii=False, indent=2))
        return 0
    i = 1 if _en() else 0
    _say("Thiết bị đã cấu hình:", "Configured devices:")
    for entry in health:
        name = (entry["name_vi"], entry["name_en"])[i]
        state = STATES[entry["state"]][i]
        line = f"  {name}: {entry['url'] or '—'} [{state}]"
        if entry["state"] == "error":
            line += f" — {(entry['last_error_vi'], entry['last_error_en'])[i]}"
        print(line)
    _say("Thiết bị tìm thấy trên máy:", "Devices found on this box:")
    for device in found:
        print(f"  {device['url']}  ({device['kind']}: {device['description']})")
    if not found:
        _say("  (không có)", "  (none)")
    return 0


def _set(args: argparse.Namespace) -> int:
    if args.role not in ROLES:
        raise ValidationError(
            f"Vai trò thiết bị phải là một trong {', '.join(ROLES)}.", f"The role must be one of {', '.join(ROLES)}."
        )
    box = open_box(args.data)
    devices = Devices(box.settings)
    if args.url:
        devices.check_address(args.url, args.role)
    changes: dict[str, Any] = {args.role: args.url}
    if args.profile:
        if not args.role.endswith("_printer"):
            raise ValidationError("Chỉ máy in mới có mẫu máy (--profile).", "Only printers have a --profile.")
        if args.profile not in devices.printer_profiles():
            known = ", ".join(devices.printer_profiles())
            raise ValidationError(
                f"Không có mẫu máy in “{args.profile}” (có: {known}).",
                f"No printer profile “{args.profile}” ({known}).",
            )
        changes[f"{args.role}_profile"] = args.profile
    update_config_file(box.settings.data_dir, changes)
    name = ROLE_NAMES[args.role]
    _say(f"Đã đặt {name[0]}: {args.url or '(không có)'}.", f"{name[1]} set to {args.url or '(none)'}.")
    return 0


def _print_test(args: argparse.Namespace) -> int:
    box = open_box(args.data)
    devices = Devices(box.settings)
    role = args.role
    if args.printer:
        from edge.config import with_overrides

        devices = Devices(with_overrides(box.settings, **{role: args.printer}), follow_file=False)
    page = Document("test_page", {"office": box.settings.name, "target": devices.url(role) or "—"})
    try:
        printer = devices.printer(role)
        try:
            outcome = printer.print(page)
            state = printer.status()
        finally:
            printer.close()
    except EdgeError as err:
        if not args.printer:
            devicehealth.record_error(box.db(), role, devices.url(role), err)
        raise
    finally:
        devices.close()
    if not args.printer:
        devicehealth.record_ok(box.db(), role, devices.url(role), detail="print-test")
    _say(
        f"Đã in trang thử ({outcome.bytes_sent} byte) ra {devices.url(role)}.",
        f"Printed the test page ({outcome.bytes_sent} bytes) to {devices.url(role)}.",
    )
    if state is not None:
        _say(
            f"Trạng thái: {'sẵn sàng' if state.online else 'không sẵn sàng'}"
            f"{', sắp hết giấy' if state.paper_near_end else ''}{', hết giấy' if state.paper_out else ''}"
            f"{', nắp mở' if state.cover_open else ''}.",
            f"Status: {'online' if state.online else 'offline'}{', paper near end' if state.paper_near_end else ''}"
            f"{', paper out' if state.paper_out else ''}{', cover open' if state.cover_open else ''}.",
        )
    for path in outcome.saved:
        _say(f"Trang in đã lưu: {path}", f"Page saved: {path}")
    return 0


def _terminal_test(args: argparse.Namespace) -> int:
    box = open_box(args.data)
    settings = box.settings
    if args.terminal:
        from edge.config import with_overrides

        settings = with_overrides(settings, card_terminal=args.terminal)
    devices = Devices(settings, follow_file=not args.terminal)
    url = devices.url("card_terminal")
    simulated = url.startswith("sim://")
    try:
        terminal = devices.terminal()
        try:
            vi, en = terminal.status()
            _say(f"Máy POS {url}: {vi}", f"Terminal {url}: {en}")
            last = terminal.last_transaction()
            if last is None:
                _say("Giao dịch gần nhất: không có.", "Last transaction: none.")
            else:
                _say(
                    f"Giao dịch gần nhất: {last.reference} {last.amount} đ — {OUTCOMES[last.outcome][0]}.",
                    f"Last transaction: {last.reference} {last.amount} VND — {last.outcome}.",
                )
            if simulated:
                sale = terminal.sale(1000, "TEST000001")
                _say(f"Bán thử 1.000 đ: {OUTCOMES[sale.outcome][0]}.", f"Test sale of 1,000 VND: {sale.outcome}.")
                if sale.outcome == "approved":
                    void = terminal.void("TEST000001", 1000)
                    _say(f"Hủy giao dịch thử: {OUTCOMES[void.outcome][0]}.", f"Test void: {void.outcome}.")
            else:
                _say(
                    "Không bán thử trên máy POS thật (chỉ trên trình mô phỏng).",
                    "No test sale on a real terminal (only on the simulator).",
                )
        finally:
            terminal.close()
    except EdgeError as err:
        if not args.terminal:
            devicehealth.record_error(box.db(), "card_terminal", url, err)
        raise
    finally:
        devices.close()
    if not args.terminal:
        devicehealth.record_ok(box.db(), "card_terminal", url, detail="terminal-test")
    return 0


def _check_one(devices: Devices, role: str) -> tuple[str, str]:
    """Ask one device how it is, without printing or charging anything; return what it said (vi, en)."""
    if role.endswith("_printer"):
        printer = devices.printer(role)
        try:
            state = printer.status()
        finally:
            printer.close()
        if state is None:
            return "cổng mở được (đường truyền này không hỏi được trạng thái)", "port opens (no status on this link)"
        if state.paper_out or state.cover_open or not state.online:
            vi, en = ("không sẵn sàng", "offline")
            if state.paper_out:
                vi, en = ("hết giấy", "out of paper")
            elif state.cover_open:
                vi, en = ("nắp mở", "cover open")
            raise NotReady(f"Máy in báo: {vi}.", f"The printer says: {en}.", code="printer_not_ready")
        if state.paper_near_end:
            return "sẵn sàng, sắp hết giấy", "ready, paper nearly out"
        return "sẵn sàng", "ready"
    if role == "card_terminal":
        terminal = devices.terminal()
        try:
            return terminal.status()
        finally:
            terminal.close()
    pad = devices.keypad()
    try:
        return f"trả lời, {pad.buttons} nút", f"answers, {pad.buttons} buttons"
    finally:
        pad.close()


def _test(args: argparse.Namespace) -> int:
    box = open_box(args.data)
    devices = Devices(box.settings)
    roles = [args.role] if args.role else [r for r in ROLES if devices.url(r)]
    en = _en()
    failed = 0
    try:
        for role in roles:
            name = ROLE_NAMES[role][1 if en else 0]
            url = devices.url(role)
            try:
                said = _check_one(devices, role)
            except EdgeError as err:
                failed += 1
                devicehealth.record_error(box.db(), role, url, err)
                print(f"{'FAIL' if en else 'LỖI'}  {name} ({url or '—'}): {err.message('en' if en else 'vi')}")
                continue
            devicehealth.record_ok(box.db(), role, url, detail="test")
            print(f"{'OK' if en else 'TỐT'}  {name} ({url}): {said[1 if en else 0]}", flush=True)
    finally:
        devices.close()
    if not roles:
        _say("Chưa cấu hình thiết bị nào.", "No device is set up.")
    return 2 if failed else 0


def _vietqr(args: argparse.Namespace) -> int:
    from devices.vietqr import vietqr_payload

    print(vietqr_payload(args.bank_bin, args.account, amount=args.amount, purpose=args.purpose))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from devices.simulate import start_simulator

    listen = "pty" if args.pty or not args.listen else args.listen
    out = Path(args.out) if args.out else None
    running = start_simulator(args.kind, listen, out_dir=out)
    try:
        print(running.describe("en" if _en() else "vi"), flush=True)
        threading.Event().wait()  # until Ctrl-C or SIGTERM
    finally:
        running.stop()
    return 0


def register(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add `motcua devices …` to the command line."""
    dev = sub.add_parser("devices", help="thiết bị: máy in, máy POS, bàn phím đánh giá")
    group = dev.add_subparsers(dest="devices_command", required=True)
    p = command("list", _device_errors(_list), "thiết bị đã cấu hình và thiết bị tìm thấy", group)
    p.add_argument("--data")
    p.add_argument("--json", action="store_true")
    p = command("set", _device_errors(_set), "đặt địa chỉ thiết bị cho một vai trò (URL rỗng: bỏ)", group)
    p.add_argument("--data")
    p.add_argument("role", help=", ".join(ROLES))
    p.add_argument("url", help="serial:///dev/ttyUSB0?baudrate=115200, tcp://HOST:9100, usb://VID:PID, …")
    p.add_argument("--profile", help="mẫu máy in, ví dụ generic-80, generic-58")
    p = command("test", _device_errors(_test), "hỏi từng thiết bị đã cấu hình (không in, không trừ tiền)", group)
    p.add_argument("--data")
    p.add_argument("role", nargs="?", choices=ROLES)
    p = command("print-test", _device_errors(_print_test), "in trang thử (đủ chữ tiếng Việt và mã QR)", group)
    p.add_argument("--data")
    p.add_argument("--printer", help="địa chỉ máy in (mặc định: máy in biên nhận đã cấu hình)")
    p.add_argument("--role", default="receipt_printer", choices=("receipt_printer", "ticket_printer"))
    p = command("terminal-test", _device_errors(_terminal_test), "kiểm tra máy POS (bán thử chỉ trên mô phỏng)", group)
    p.add_argument("--data")
    p.add_argument("--terminal", help="địa chỉ máy POS (mặc định: máy đã cấu hình)")
    p = command("vietqr", _device_errors(_vietqr), "in nội dung mã VietQR của một tài khoản", group)
    p.add_argument("--bank-bin", required=True)
    p.add_argument("--account", required=True)
    p.add_argument("--amount", type=int)
    p.add_argument("--purpose")
    p = command("simulate", _device_errors(_simulate), "chạy trình mô phỏng thiết bị ở tiền cảnh", group)
    p.add_argument("kind", choices=("printer", "terminal", "keypad"))
    where = p.add_mutually_exclusive_group()
    where.add_argument("--listen", help="tcp://127.0.0.1:9100 (chỉ máy in)")
    where.add_argument("--pty", action="store_true", help="cổng nối tiếp giả (mặc định)")
    p.add_argument("--out", help="thư mục lưu trang in (máy in)")
