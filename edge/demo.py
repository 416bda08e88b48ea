"""`motcua demo`: a whole office on 127.0.0.1 with sample catalogue, users and dossiers."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from edge import actions, catalogue, intake, sample
from edge.box import Box, init_box, open_box
from edge.calendar import WorkCalendar
from edge.config import CONFIG_FILE
from edge.procedures import list_procedures, upsert_procedures
from edge.server import serve
from edge.users import User, add_user, create_token, get_user

DEMO_PASSWORD = "motcua-demo"
DEMO_USERS = (
    ("canbo", "officer", "Nguyễn Thị Lan"),
    ("canbo2", "officer", "Trần Văn Hùng"),
    ("lanhdao", "leader", "Lê Minh Đức"),
    ("quantri", "admin", "Phạm Quang Huy"),
    ("kythuat", "technician", "Võ Thanh Sơn"),
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


def run_demo(data: Path, host: str, port: int) -> None:
    """Create (once) and serve the demo office, printing where to open it."""
    fresh = not (data / CONFIG_FILE).exists()
    if fresh:
        init_box(data, "00004", "000.00.04.H01", "UBND phường Ba Đình (bản chạy thử)")
    box = open_box(data)
    if fresh:
        seed(box)
    token = create_token(box.db(), "canbo", actor="demo")
    print("Một Cửa Edge — bản chạy thử", flush=True)
    print(f"  Dữ liệu: {box.settings.data_dir}")
    print(f"  Người dùng (mật khẩu {DEMO_PASSWORD}): " + ", ".join(f"{u} ({r})" for u, r, _ in DEMO_USERS))
    print(f"  Token API của canbo: {token}")
    print(f"  Thử: curl -H 'Authorization: Bearer {token}' http://{host}:{port}/api/v1/dossiers")
    serve(box, host, port, banner="— mở địa chỉ này (Ctrl+C để dừng)")
