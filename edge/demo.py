"""`motcua demo`: a whole office on 127.0.0.1 with sample catalogue, users and dossiers."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

from devices.vietqr import vietqr_payload
from edge import actions, cashier, catalogue, fees, intake, printing, queue, ratings, sample
from edge.appliance import Devices, prints_dir
from edge.box import Box, init_box, open_box
from edge.calendar import WorkCalendar
from edge.config import CONFIG_FILE, load_settings, update_config_file
from edge.errors import ConfigError
from edge.ports import Document
from edge.procedures import list_procedures, upsert_procedures
from edge.processes import stop_process
from edge.queries import get_dossier
from edge.server import serve
from edge.users import User, add_user, create_token, get_user
from sync.client.config import load_sync_config, write_sync_config
from sync.client.provision import provision

DEMO_PASSWORD = "motcua-demo"
DEMO_USERS = (
    ("canbo", "officer", "Nguyễn Thị Lan"),
    ("canbo2", "officer", "Trần Văn Hùng"),
    ("lanhdao", "leader", "Lê Minh Đức"),
    ("quantri", "admin", "Phạm Quang Huy"),
    ("kythuat", "technician", "Võ Thanh Sơn"),
    ("kiosk", "kiosk", "Kiosk sảnh chờ"),
)


class _SeedClock:
    """A clock the seeding moves through the past working days, so the demo has history."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def seed(box: Box, count: int = 60, seed_value: int = 2026) -> None:
    """Fill a new box with users and dossiers received over the last weeks, in every state."""
    db = box.db()
    upsert_procedures(db, catalogue.sample_catalogue(), actor="demo")
    for username, role, full_name in DEMO_USERS:
        add_user(db, username, role, DEMO_PASSWORD, full_name, actor="demo")
    officer = get_user(db, "canbo")
    leader = get_user(db, "lanhdao")
    rng = random.Random(seed_value)
    procs = list_procedures(db)
    calendar = box.calendar()
    moment = calendar.add_working_minutes(box.now() - timedelta(days=16), 0)
    clock = _SeedClock(moment)
    past = Box(box.settings, clock=clock)
    for i in range(count):
        # Spread receipts over the last two weeks of working time, a few each working day.
        clock.now = calendar.add_working_minutes(clock.now, rng.randint(30, 200))
        if clock.now >= box.now():
            break
        proc = rng.choice(procs)
        body = {
            "procedure_code": proc.code,
            "applicant": sample.applicant(rng),
            "documents": [{"name": d.name, "kind": d.kind, "quantity": d.quantity} for d in proc.documents],
            "channel": "online" if i % 6 == 5 else "counter",
            "return_method": "post" if i % 7 == 3 else "counter",
        }
        state = intake.receive_dossier(past, officer, body, "demo")
        if state["status"] == "receiving":
            continue
        _advance(past, clock, calendar, state["code"], i % 6, officer, leader)
    past.close()


def _advance(
    box: Box, clock: _SeedClock, calendar: WorkCalendar, code: str, step: int, officer: User, leader: User
) -> None:
    """Move a demo dossier some way along its lifecycle, a little later each time."""
    then = clock.now

    def later(minutes: int) -> None:
        clock.now = calendar.add_working_minutes(clock.now, minutes)

    if step >= 1:
        later(30)
        actions.act(box, officer, code, "transfer", {"assignee": "canbo2"}, "demo")
    if step == 2:
        later(60)
        missing = [{"name": "Bản sao CCCD", "kind": "photocopy", "quantity": 1}]
        body = {"reason": "Thiếu bản sao giấy tờ tùy thân", "missing_documents": missing}
        actions.act(box, officer, code, "request-supplement", body, "demo")
    if step >= 3:
        later(240)
        actions.act(box, leader, code, "approve", {}, "demo")
    if step >= 4:
        later(60)
        actions.act(box, officer, code, "return-result", {}, "demo")
    clock.now = then  # the next dossier arrives at the counter in receipt order


DEMO_DEVICES = {
    "receipt_printer": "sim://printer",
    "ticket_printer": "sim://printer",
    "card_terminal": "sim://terminal",
    "rating_keypad": "sim://keypad",
}
# A made-up account for the demo's VietQR transfers (BIN 970436: Vietcombank).
DEMO_VIETQR = {
    "vietqr_bank_bin": "970436",
    "vietqr_account": "0011001234567",
    "vietqr_account_name": "UBND PHUONG BA DINH",
}


def use_devices(box: Box) -> list[str]:
    """Set the office up with simulated devices and use each once; return what to tell the user.

    A dossier receipt and a queue ticket go through the print queue to the simulated printers
    (their pages are PNG files the technician page shows); fees are paid on the simulated card
    terminal, in cash, and by a VietQR transfer left waiting for the officer to confirm; a citizen
    presses "very satisfied" on the simulated keypad.
    """
    update_config_file(box.settings.data_dir, {**DEMO_DEVICES, **DEMO_VIETQR})
    box = Box(load_settings(box.settings.data_dir), clock=box.clock)
    db = box.db()
    officer = get_user(db, "canbo")
    row = db.execute("SELECT code FROM dossiers WHERE channel = 'counter' ORDER BY received_at DESC LIMIT 1")
    dossier = get_dossier(db, row.fetchone()[0], box.now())
    devices = Devices(box.settings)
    lines = []
    try:
        receipt = printing.dossier_receipt(box.settings.name, dossier)
        jobs = [
            printing.enqueue(db, "receipt_printer", receipt, "demo", dossier_id=dossier["dossier_id"]),
            printing.enqueue(db, "ticket_printer", Document("ticket", {
                "office": box.settings.name, "number": "A001", "service": "Hộ tịch", "ahead": 0,
                "issued_at": box.now().strftime("%d/%m/%Y %H:%M")}), "demo"),
        ]  # fmt: skip
        while printing.process_one(db, devices):
            pass
        for job_id in jobs:
            job = printing.get_job(db, job_id)
            where = ", ".join(str(prints_dir(box.settings.data_dir, job["role"]) / name) for name in job["pages"])
            lines.append(f"  In {job['kind_vi'].lower()} ({job['kind']}): {job['state_vi']} — {where}")
        lines += take_fees(box, devices, officer)
        ratings.set_counter_subject(db, box.settings.keypad_counter, dossier_id=dossier["dossier_id"], officer="canbo")
        pad = devices.keypad()
        try:
            running = devices.simulator("rating_keypad")
            assert running is not None
            running.sim.press(1)  # type: ignore[attr-defined]
            press = pad.read_press(5.0)
        finally:
            pad.close()
        if press is not None:
            scale, counter = box.settings.rating_scale, box.settings.keypad_counter
            rating = ratings.record_rating(db, counter, press.button, scale, "keypad")
            lines.append(f"  Đánh giá từ bàn phím: {rating['label_vi']} (hồ sơ {dossier['code']})")
    finally:
        devices.close()
        box.close()
    return lines


def take_fees(box: Box, devices: Devices, officer: User) -> list[str]:
    """Collect the fees due on three received dossiers: by card, in cash, and by VietQR (left to confirm)."""
    db = box.db()
    lines = []
    for method in ("card", "cash", "vietqr"):
        row = db.execute(
            "SELECT code FROM dossiers WHERE channel = 'counter' AND status IN ('new', 'processing')"
            " AND NOT EXISTS (SELECT 1 FROM fee_payments f WHERE f.dossier_id = dossiers.dossier_id)"
            " ORDER BY received_at DESC"
        ).fetchall()
        due = [(code, fees.fee_summary(actions.find_state(box, code))["due"]) for (code,) in row]
        owed = next(((code, amount) for code, amount in due if amount > 0), None)
        if owed is None:
            break
        code, amount = owed
        received = amount + (10_000 - amount % 10_000) if method == "cash" else None
        paid = cashier.take_payment(
            box, devices, code, method, amount, officer, received=received, make_vietqr=vietqr_payload
        )
        number = f", biên lai số {paid['receipt_number']}" if paid["receipt_number"] else ""
        money = f"{amount:,}".replace(",", ".")
        lines.append(f"  Thu phí hồ sơ {code} ({paid['method_vi']}, {money} đ): {paid['status_vi']}{number}")
    lines.append("  Thu phí, lệ phí và kết sổ cuối ngày: /payments/cashup (canbo, lanhdao)")
    return lines


def seed_queue(box: Box) -> list[str]:
    """Give the morning's queue some life: a few tickets taken, two of them called; say where to look."""
    db = box.db()
    services = ("HT", "HT", "CT", "DD", "HT", "KH")
    tickets = [queue.issue_ticket(db, s, box.now(), "elderly" if i == 3 else None) for i, s in enumerate(services)]
    called = [queue.call_next(db, n, "canbo", box.now()) for n in (1, 2)]
    numbers = ", ".join(t["number"] for t in tickets)
    return [
        f"  Hàng đợi: đã lấy số {numbers}; quầy 1 và 2 đang gọi "
        + ", ".join(c["number"] for c in called if c)
        + " (/kiosk: tài khoản kiosk; /display: bảng gọi số; /counter: quầy của cán bộ)"
    ]


def _motcua(*args: str) -> str:
    """Run one `motcua` command (the hub's, as provincial IT would) and return what it printed."""
    done = subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise ConfigError(f"Lệnh motcua {args[0]} {args[1]} lỗi: {done.stderr.strip()}", done.stderr.strip())
    return done.stdout.strip()


def _prepare_hub(hub_dir: Path, commune_code: str) -> str | None:
    """Create the demo's provincial hub once; return the box's enrollment code (None when it exists)."""
    if (hub_dir / "hub.toml").exists():
        return None
    data = ["--data", str(hub_dir)]
    _motcua("hub", "init", *data)
    _motcua("hub", "user", "add", *data, "quantri", "--role", "admin", "--password", DEMO_PASSWORD)
    published = hub_dir / "catalogue.json"
    catalogue.dump_file(published, catalogue.sample_catalogue())
    _motcua("hub", "catalogue", "import", *data, str(published))
    return _motcua("hub", "box", "add", *data, "--commune-code", commune_code, "--name", "UBND phường Ba Đình")


def _start(args: list[str], env: dict[str, str] | None = None, *, pipe: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", *args],
        stdout=subprocess.PIPE if pipe else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _drain(process: subprocess.Popen[str]) -> None:
    """Keep reading what a child prints so it never blocks on a full pipe."""
    stream = process.stdout

    def read() -> None:
        try:
            for _ in stream or ():
                pass
        except (OSError, ValueError):
            pass  # the pipe was closed when the child was stopped

    threading.Thread(target=read, daemon=True).start()


def _start_hub(hub_dir: Path, host: str, port: int) -> tuple[subprocess.Popen[str], str]:
    """Start `motcua hub serve` and return the process and its URL."""
    process = _start(["hub", "serve", "--data", str(hub_dir), "--host", host, "--port", str(port)], pipe=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        raise ConfigError("Không khởi động được máy chủ tỉnh chạy thử.", "The demo hub did not start.")
    _drain(process)
    return process, line[line.index("http://") :].split()[0].rstrip("/")


def _file_online(hub_url: str, hub_dir: Path, commune_code: str, procedure_code: str) -> str:
    """File one dossier at the provincial portal so the demo shows it flowing down to the box."""
    token = _motcua("hub", "token", "create", "--data", str(hub_dir), "quantri")
    body = {
        "procedure_code": procedure_code,
        "applicant": sample.applicant(random.Random(7)),
        "documents": [],
    }
    req = urllib.request.Request(
        f"{hub_url}/api/v1/communes/{commune_code}/dossiers",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(json.loads(resp.read())["code"])


def run_demo(data: Path, host: str, port: int, hub_port: int = 8090) -> None:
    """Create (once) and serve the demo office and its provincial hub, printing where to open them."""
    box_dir, hub_dir = data / "box", data / "hub"
    fresh = not (box_dir / CONFIG_FILE).exists()
    if fresh:
        init_box(box_dir, "00004", "000.00.04.H01", "UBND phường Ba Đình (bản chạy thử)")
    box = open_box(box_dir)
    device_lines: list[str] = []
    if fresh:
        seed(box)
        device_lines = use_devices(box)
        morning = open_box(box_dir)
        device_lines += seed_queue(morning)
        morning.close()
        box = open_box(box_dir)
    enrollment = _prepare_hub(hub_dir, box.settings.commune_code)
    hub, hub_url = _start_hub(hub_dir, host, hub_port if port else 0)
    worker: subprocess.Popen[str] | None = None
    try:
        config = load_sync_config(box.settings)
        if enrollment is not None or config is None:
            code = enrollment or _motcua(
                "hub", "box", "add", "--data", str(hub_dir), "--commune-code", "00004", "--name", "UBND phường Ba Đình"
            )
            provision(box, [hub_url], code)
            online = _file_online(hub_url, hub_dir, box.settings.commune_code, list_procedures(box.db())[0].code)
            print(f"  Hồ sơ nộp trực tuyến ở tỉnh: {online} (sẽ về máy xã qua đồng bộ)")
        elif config.hubs != (hub_url,):
            # The demo's hub may listen on another port this time: point the box at it.
            write_sync_config(box.settings, [hub_url], config.secret, config.hub_id)
        worker = _start(["sync-worker", "--data", str(box_dir)], {"MOTCUA_SYNC_INTERVAL_S": "10"})
        token = create_token(box.db(), "canbo", actor="demo")
        print("Một Cửa Edge — bản chạy thử", flush=True)
        print(f"  Dữ liệu: {box.settings.data_dir}")
        print(f"  Người dùng (mật khẩu {DEMO_PASSWORD}): " + ", ".join(f"{u} ({r})" for u, r, _ in DEMO_USERS))
        print(f"  Token API của canbo: {token}")
        print(f"  Thử: curl -H 'Authorization: Bearer {token}' http://{host}:{port}/api/v1/dossiers")
        print(f"  Máy chủ tỉnh (bảng theo dõi các máy): {hub_url}/fleet — quantri / {DEMO_PASSWORD}")
        print(f"  Thiết bị mô phỏng (trang Thiết bị, kythuat / {DEMO_PASSWORD}): " + ", ".join(DEMO_DEVICES.values()))
        for line in device_lines:
            print(line)
        serve(box, host, port, banner="— mở địa chỉ này (Ctrl+C để dừng)")
    finally:
        for process in (worker, hub):
            if process is not None:
                stop_process(process, timeout=15)
