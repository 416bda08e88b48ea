"""`motcua sync-worker` as a real process against a real hub: prompt after a local write, "sync now", SIGTERM."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.hubproc import Hub, make_box, motcua, provision
from tests.test_sync_client_e2e import fill


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line.rstrip("\n"))


def _wait_for(lines: queue.Queue[str], words: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if words in line:
            return line
    raise AssertionError(f"no line with {words!r} within {timeout} s")


def _hub_events(hub: Hub) -> int:
    with sqlite3.connect(hub.data / "hub.db", timeout=30) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def test_the_worker_syncs_promptly_after_a_write_on_request_and_stops_on_sigterm(tmp_path: Path, hub: Hub) -> None:
    settings = make_box(tmp_path)
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    # The periodic cycle is an hour away: only the fast check can explain a prompt push.
    env = {**os.environ, "MOTCUA_SYNC_INTERVAL_S": "3600", "MOTCUA_SYNC_CHECK_S": "0.2"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "sync-worker", "--data", str(settings.data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(worker.stdout, lines), daemon=True).start()
    try:
        _wait_for(lines, "Dịch vụ đồng bộ đã chạy", 30)
        _wait_for(lines, "(khởi động) Đồng bộ:", 30)
        fill(settings, 2)
        line = _wait_for(lines, "(ghi mới trên máy)", 15)
        assert "gửi 4 sự kiện, 2 tệp scan" in line and "còn chờ 0 sự kiện, 0 tệp scan" in line
        assert _hub_events(hub) == 4

        assert "Đã yêu cầu đồng bộ ngay" in motcua("sync", "now", "--data", str(settings.data_dir))
        _wait_for(lines, "(yêu cầu đồng bộ ngay) Đồng bộ:", 15)

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
        _wait_for(lines, "Dịch vụ đồng bộ đã dừng", 5)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        for pipe in (worker.stdout, worker.stderr):
            if pipe is not None:
                pipe.close()
