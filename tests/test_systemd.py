"""systemd: the units `motcua install-systemd` writes, and sd_notify from real `motcua serve` processes.

The watchdog tests give a real `motcua serve` a real unix datagram socket as $NOTIFY_SOCKET and read
what it sends: READY=1 once it serves, WATCHDOG=1 while it answers, nothing while it is stopped.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge import sdnotify
from edge.config import Settings
from edge.units import DEFAULT_HUB_DATA, Install, render_units
from tests.conftest import stop_server
from tests.hubproc import motcua

ROOT = Path(__file__).resolve().parent.parent
NEED_ANALYZE = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and os.environ.get("CI") != "true", reason="no systemd-analyze"
)


def _service(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser["Service"]


def test_shipped_units_are_the_default_install() -> None:
    for unit in render_units(Install(hub_data=DEFAULT_HUB_DATA)):
        assert (ROOT / "systemd" / unit.name).read_text(encoding="utf-8") == unit.text, unit.name


def test_install_systemd_writes_hardened_notify_units(tmp_path: Path) -> None:
    units, data = tmp_path / "units", tmp_path / "box data"
    units.mkdir()
    out = motcua("install-systemd", "--data", str(data), "--unit-dir", str(units), "--hub-data", str(tmp_path / "hub"))
    assert sorted(p.name for p in units.iterdir()) == [
        "motcua-hub.service",
        "motcua-sync.service",
        "motcua-web.service",
    ]
    assert f"Đã ghi {units / 'motcua-web.service'}" in out and "systemctl daemon-reload" in out
    assert "systemctl enable --now motcua-web.service motcua-sync.service motcua-hub.service" in out
    exe = str(Path(sys.executable).parent / "motcua")
    for name, command, rw in (
        ("motcua-web", ["serve"], data),
        ("motcua-sync", ["sync-worker"], data),
        ("motcua-hub", ["hub", "serve"], tmp_path / "hub"),
    ):
        service = _service(units / f"{name}.service")
        where = f'"{rw}"' if " " in str(rw) else str(rw)
        assert service["ExecStart"] == f"{exe} {' '.join(command)} --data {where}"
        assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0 and service["Restart"] == "always"
        assert service["User"] == "motcua" and service["SupplementaryGroups"] == "dialout lp"
        assert service["ProtectSystem"] == "strict" and service["ReadWritePaths"] == where
        assert service["NoNewPrivileges"] == "yes" and service["PrivateTmp"] == "yes"
        assert service["EnvironmentFile"].startswith("-/etc/motcua/")
    assert _service(units / "motcua-hub.service")["ExecStart"] == f"{exe} hub serve --data {tmp_path / 'hub'}"


def test_install_systemd_refuses_an_unwritable_unit_dir(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "install-systemd", "--unit-dir", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and not missing.exists()
    assert f"Không ghi được vào thư mục {missing}" in done.stderr and "sudo" in done.stderr
    english = subprocess.run(
        [sys.executable, "-m", "edge.cli", "install-systemd", "--unit-dir", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MOTCUA_LANG": "en"},
    )
    assert f"Cannot write to the directory {missing}" in english.stderr


@NEED_ANALYZE
def test_written_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    units, data = tmp_path / "units", tmp_path / "data"
    units.mkdir()
    data.mkdir()
    # verify needs the user to exist: the one running the test does.
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    motcua("install-systemd", "--data", str(data), "--unit-dir", str(units), "--hub-data", str(data), "--user", user)
    paths = sorted(str(p) for p in units.iterdir())
    result = subprocess.run(["systemd-analyze", "verify", *paths], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if "motcua-" in line]
    assert result.returncode == 0 and not problems, result.stderr


def test_notify_reaches_an_abstract_socket_and_is_silent_outside_systemd() -> None:
    name = f"motcua-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert sdnotify.notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"READY=1"
    assert not sdnotify.notify("READY=1", {})
    assert sdnotify.watchdog_seconds({"WATCHDOG_USEC": "4000000"}) == 4.0
    assert sdnotify.watchdog_seconds({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}) is None
    assert sdnotify.watchdog_seconds({}) is None


def test_watchdog_pings_only_while_the_check_passes(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(0.1)
        healthy = [True]
        dog = sdnotify.start_watchdog(lambda: healthy[0], {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "200000"})
        assert dog is not None and dog.interval == 0.1
        try:
            assert _receive(sock, b"WATCHDOG=1", 3)
            healthy[0] = False
            time.sleep(0.3)
            _drain(sock)
            assert not _receive(sock, b"WATCHDOG=1", 0.6)
            healthy[0] = True
            assert _receive(sock, b"WATCHDOG=1", 3)
        finally:
            dog.stop()


def _receive(sock: socket.socket, wanted: bytes, within: float) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            if sock.recv(4096) == wanted:
                return True
        except TimeoutError:
            continue
    return False


def _drain(sock: socket.socket) -> None:
    while True:
        try:
            sock.recv(4096)
        except TimeoutError:
            return


def test_a_real_serve_is_ready_pings_and_stops_pinging_when_hung(tmp_path: Path, box_settings: Settings) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(0.2)
        env = {**os.environ, "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"}
        env.pop("WATCHDOG_PID", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "serve", "--data", str(box_settings.data_dir), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert server.stdout is not None
            assert re.search(r"http://127\.0\.0\.1:\d+/", server.stdout.readline())
            assert _receive(sock, b"READY=1", 20)
            assert _receive(sock, b"WATCHDOG=1", 10) and _receive(sock, b"WATCHDOG=1", 5)
            server.send_signal(signal.SIGSTOP)  # hung: not one request answered, not one ping
            time.sleep(0.3)
            _drain(sock)
            assert not _receive(sock, b"WATCHDOG=1", 2.5)
            server.send_signal(signal.SIGCONT)
            assert _receive(sock, b"WATCHDOG=1", 10)
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=20) == 0
            assert _receive(sock, b"STOPPING=1", 5)
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGCONT)
            stop_server(server)


def _notify_env(path: Path) -> dict[str, str]:
    env = {**os.environ, "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"}
    env.pop("WATCHDOG_PID", None)
    return env


def _pings_until_stopped(sock: socket.socket, process: subprocess.Popen[str]) -> None:
    """READY=1, then WATCHDOG=1 while it runs, none while SIGSTOPped, again after SIGCONT."""
    assert _receive(sock, b"READY=1", 30)
    assert _receive(sock, b"WATCHDOG=1", 10) and _receive(sock, b"WATCHDOG=1", 5)
    process.send_signal(signal.SIGSTOP)
    try:
        time.sleep(0.3)
        _drain(sock)
        assert not _receive(sock, b"WATCHDOG=1", 2.5)
    finally:
        process.send_signal(signal.SIGCONT)
    assert _receive(sock, b"WATCHDOG=1", 10)


def test_the_sync_worker_and_the_hub_are_ready_and_feed_the_watchdog(tmp_path: Path) -> None:
    from tests.hubproc import make_box, make_hub, provision

    hub_sock, worker_sock = tmp_path / "hub-notify", tmp_path / "worker-notify"
    with (
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as for_hub,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as for_worker,
    ):
        for sock, path in ((for_hub, hub_sock), (for_worker, worker_sock)):
            sock.bind(str(path))
            sock.settimeout(0.2)
        hub = make_hub(tmp_path / "hub")
        hub.env = {"NOTIFY_SOCKET": str(hub_sock), "WATCHDOG_USEC": "1000000"}
        hub.start()
        worker: subprocess.Popen[str] | None = None
        try:
            assert hub.process is not None
            _pings_until_stopped(for_hub, hub.process)
            settings = make_box(tmp_path)
            provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
            worker = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "sync-worker", "--data", str(settings.data_dir)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
                env={**_notify_env(worker_sock), "MOTCUA_SYNC_CHECK_S": "0.2"},
            )
            _pings_until_stopped(for_worker, worker)
        finally:
            if worker is not None:
                stop_server(worker)
            hub.stop()
