"""`motcua demo`: a whole office on 127.0.0.1 with sample catalogue, users and dossiers."""

from __future__ import annotations

import random
from pathlib import Path

from edge import actions, catalogue, intake, sample
from edge.box import Box, init_box, open_box
from edge.config import CONFIG_FILE
from edge.procedures import list_procedures, upsert_procedures
from edge.server import serve
from edge.users import add_user, create_token, get_user

DEMO_PASSWORD = "motcua-demo"
DEMO_USERS = (
    ("canbo", "officer", "Nguyễn Thị Lan"),
    ("canbo2", "officer", "Trần Văn Hùng"),
    ("lanhdao", "leader", "Lê Minh Đức"),
    ("quantri", "admin", "Phạm Quang Huy"),
    ("kythuat", "technician", "Võ Thanh Sơn"),
)


def seed(box: Box, count: int = 24, seed_value: int = 2026) -> None:
    """Fill a new box with users and dossiers in various states of their lifecycle."""
    db = box.db()
    upsert_procedures(db, catalogue.sample_catalogue(), actor="demo")
    for username, role, full_name in DEMO_USERS:
        add_user(db, username, role, DEMO_PASSWORD, full_name, actor="demo")
    officer = get_user(db, "canbo")
    leader = get_user(db, "lanhdao")
    rng = random.Random(seed_value)
    procs = list_procedures(db)
    for i in range(count):
        proc = rng.choice(procs)
        body = {
            "procedure_code": proc.code,
            "applicant": sample.applicant(rng),
            "documents": [d.__dict__ for d in proc.documents],
            "channel": "online" if i % 6 == 5 else "counter",
            "return_method": "post" if i % 7 == 3 else "counter",
        }
        state = intake.receive_dossier(box, officer, body, "demo")
        code = state["code"]
        step = i % 6
        if state["status"] == "receiving":
            continue
        if step >= 1:
            actions.act(box, officer, code, "transfer", {"assignee": "canbo2"}, "demo")
        if step == 2:
            actions.act(
                box,
                officer,
                code,
                "request-supplement",
                {
                    "reason": "Thiếu bản sao giấy tờ",
                    "missing_documents": [{"name": "Bản sao CCCD", "kind": "photocopy", "quantity": 1}],
                },
                "demo",
            )
        if step >= 3:
            actions.act(box, leader, code, "approve", {}, "demo")
        if step >= 4:
            actions.act(box, officer, code, "return-result", {}, "demo")


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
