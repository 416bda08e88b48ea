"""`motcua demo`: a whole office on 127.0.0.1 that a person can open and use at once."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import stop_server


def start_demo(data: Path) -> tuple[subprocess.Popen[str], str, str]:
    """Start the demo on a free port; return the process, its URL and the printed token."""
    process, url, token, _ = start_demo_text(data)
    return process, url, token


def start_demo_text(data: Path) -> tuple[subprocess.Popen[str], str, str, str]:
    """Start the demo on a free port; return the process, its URL, the printed token and all it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "demo", "--data", str(data), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not any("http://" in line and "đang chạy" in line for line in lines):
        line = process.stdout.readline()
        if not line:
            stop_server(process)
            raise AssertionError("demo exited: " + "".join(lines))
        lines.append(line)
    text = "".join(lines)
    url = re.search(r"đang chạy tại (http://127\.0\.0\.1:\d+)/", text)
    token = re.search(r"(mc_[A-Za-z0-9_-]+)", text)
    assert url and token, text
    return process, url.group(1), token.group(1), text


def test_demo_serves_an_office_with_history(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    process, url, token = start_demo(data)
    try:
        assert requests.get(f"{url}/healthz", timeout=10).json()["status"] == "ok"
        headers = {"Authorization": f"Bearer {token}"}
        page = requests.get(f"{url}/api/v1/dossiers", params={"limit": 200}, headers=headers, timeout=10).json()
        statuses = {item["status"] for item in page["items"]}
        assert {"receiving", "new", "processing", "waiting", "releasing", "done"} <= statuses
        assert len({item["received_at"][:10] for item in page["items"] if item["received_at"]}) >= 5
        procedures = requests.get(f"{url}/api/v1/procedures", headers=headers, timeout=10).json()["items"]
        assert len(procedures) >= 25
    finally:
        stop_server(process)
    # A second start reuses the office as it was left.
    process, url, token = start_demo(data)
    try:
        again = requests.get(
            f"{url}/api/v1/dossiers", params={"limit": 200}, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()
        # The same dossiers (plus, maybe, the one filed online at the hub, which sync brings down meanwhile).
        before, after = {i["code"] for i in page["items"]}, {i["code"] for i in again["items"]}
        assert before <= after and all(i["channel"] == "online" for i in again["items"] if i["code"] not in before)
    finally:
        stop_server(process)


def test_demo_runs_a_provincial_hub_and_syncs_with_it(tmp_path: Path) -> None:
    process, url, token, text = start_demo_text(tmp_path / "demo-data")
    try:
        hub = re.search(r"(http://127\.0\.0\.1:\d+)/fleet", text)
        online = re.search(r"trực tuyến ở tỉnh: (\S+)", text)
        assert hub and online, text
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 90
        found = None
        # The dossier filed at the provincial portal comes down to the box through the sync worker.
        while time.monotonic() < deadline:
            found = requests.get(f"{url}/api/v1/dossiers/{online.group(1)}", headers=headers, timeout=10)
            if found.status_code == 200:
                break
            time.sleep(1)
        assert found is not None and found.status_code == 200, text
        assert found.json()["status"] == "receiving" and found.json()["channel"] == "online"
        # ...and the box's own dossiers go up: the hub holds one of the seeded ones.
        admin = subprocess.run(
            [sys.executable, "-m", "edge.cli", "hub", "token", "create", "--data", str(tmp_path / "demo-data" / "hub"),
             "quantri"], capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        code = requests.get(f"{url}/api/v1/dossiers", params={"limit": 1}, headers=headers, timeout=10).json()
        first = code["items"][0]["code"]
        while time.monotonic() < deadline:
            held = requests.get(f"{hub.group(1)}/api/v1/dossiers/{first}", headers={"Authorization": f"Bearer {admin}"},
                                timeout=10)  # fmt: skip
            if held.status_code == 200:
                break
            time.sleep(1)
        assert held.status_code == 200, held.text
        fleet = requests.get(f"{hub.group(1)}/api/v1/fleet", headers={"Authorization": f"Bearer {admin}"}, timeout=10)
        assert [box["commune_code"] for box in fleet.json()] == ["00004"]
    finally:
        stop_server(process)


def test_demo_uses_its_simulated_devices_and_the_technician_sees_them(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    process, url, _token, text = start_demo_text(data)
    try:
        printed = re.findall(r"In [^(]+\((dossier_receipt|ticket)\): Đã in — (\S+\.png)", text)
        assert {kind for kind, _ in printed} == {"dossier_receipt", "ticket"}, text
        assert all(Path(png).is_file() and Path(png).read_bytes().startswith(b"\x89PNG") for _, png in printed)
        fees = re.findall(r"Thu phí hồ sơ (\S+) \(([^,]+), ([\d.]+) đ\): ([^,\n]+)(?:, biên lai số (\d+))?", text)
        assert [(f[1], f[3], f[4]) for f in fees] == [
            ("Thẻ", "Đã thanh toán", "0000001"),
            ("Tiền mặt", "Đã thanh toán", "0000002"),
            ("Chuyển khoản (VietQR)", "Chờ thanh toán", ""),
        ], text
        assert len({f[0] for f in fees}) == 3 and all(int(f[2].replace(".", "")) > 0 for f in fees)
        assert "Đánh giá từ bàn phím: Rất hài lòng" in text
        # The queue: six numbers taken, the elderly citizen's (C001) called first, then A001.
        assert "Hàng đợi: đã lấy số A001, A002, B001, C001, A003, D001; quầy 1 và 2 đang gọi C001, A001" in text
        tech = requests.Session()
        form = tech.get(f"{url}/login", timeout=10).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf, form
        login = {"username": "kythuat", "password": "motcua-demo", "csrf_token": csrf.group(1)}
        assert tech.post(f"{url}/login", data=login, timeout=10).ok
        page = tech.get(f"{url}/devices", timeout=10).text
        for role in ("receipt_printer", "ticket_printer", "card_terminal", "rating_keypad"):
            assert f'data-role="{role}" data-state="ok"' in page, role
        link = re.search(r'href="(/devices/pages/receipt_printer/\d+\.png)"', page)
        assert link and tech.get(url + link.group(1), timeout=10).content.startswith(b"\x89PNG")
    finally:
        stop_server(process)
