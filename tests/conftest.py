"""Shared fixtures: real box data dirs on disk, a controllable clock, a real server process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from edge import catalogue
from edge.box import Box, init_box, open_box
from edge.calendar import TZ
from edge.config import Settings
from edge.procedures import upsert_procedures
from edge.processes import stop_process
from edge.users import User, add_user, create_token

if TYPE_CHECKING:
    from tests.hubproc import Hub

AGENCY = "000.17.22.H56"
PASSWORD = "matkhau-2026"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    """Start on Wednesday 2026-11-25 at 09:00, Vietnam time (a working moment)."""
    return FakeClock(datetime(2026, 11, 25, 9, 0, tzinfo=TZ))


@pytest.fixture
def box_settings(tmp_path: Path) -> Settings:
    """Create a real box on disk with the sample catalogue and four users."""
    settings = init_box(tmp_path / "box", "00001", AGENCY, "UBND xã Thử Nghiệm")
    box = open_box(settings.data_dir)
    upsert_procedures(box.db(), catalogue.sample_catalogue())
    for username, role in (("canbo", "officer"), ("canbo2", "officer"), ("lanhdao", "leader"), ("quantri", "admin"),
                           ("kythuat", "technician")):  # fmt: skip
        add_user(box.db(), username, role, PASSWORD)
    box.close()
    return settings


@pytest.fixture
def box(box_settings: Settings, clock: FakeClock) -> Iterator[Box]:
    """Open the box with the fake clock."""
    opened = open_box(box_settings.data_dir, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def officer() -> User:
    return User("canbo", "officer")


@pytest.fixture
def leader() -> User:
    return User("lanhdao", "leader")


def applicant(**changes: object) -> dict[str, object]:
    """Return a valid applicant block."""
    base: dict[str, object] = {
        "full_name": "Nguyễn Văn An",
        "id_type": "cccd",
        "id_number": "001099012345",
        "date_of_birth": "1999-03-04",
        "sex": "male",
        "phone": "0912345678",
        "email": "an.nguyen@example.vn",
        "address": "Số 12 phố Hàng Bạc",
    }
    base.update(changes)
    return base


def dossier_body(procedure_code: str = "1.001193", **changes: object) -> dict[str, object]:
    """Return a valid POST /dossiers body."""
    body: dict[str, object] = {
        "procedure_code": procedure_code,
        "applicant": applicant(),
        "documents": [{"name": "Tờ khai đăng ký khai sinh", "kind": "original", "quantity": 1}],
        "channel": "counter",
        "return_method": "counter",
    }
    body.update(changes)
    return body


@dataclass
class Server:
    """A real `motcua serve` process on a free port."""

    url: str
    settings: Settings
    process: subprocess.Popen[str]
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, username: str = "canbo", lang: str | None = None) -> dict[str, str]:
        """Return request headers with the user's token."""
        out = {"Authorization": f"Bearer {self.tokens[username]}"}
        if lang:
            out["Accept-Language"] = lang
        return out


def start_server(settings: Settings, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `motcua serve --port 0` and return the process once it prints its URL."""
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "serve", "--data", str(settings.data_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def read_url(process: subprocess.Popen[str]) -> str:
    """Read the served URL from the first line the server prints."""
    assert process.stdout is not None
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        raise RuntimeError(f"server did not start: {line!r} {process.stderr.read() if process.stderr else ''}")
    return line[line.index("http://") :].split()[0].rstrip("/")


@pytest.fixture
def server(box_settings: Settings) -> Iterator[Server]:
    """Serve the box in a real process; tokens for each user."""
    box = open_box(box_settings.data_dir)
    tokens = {u: create_token(box.db(), u) for u in ("canbo", "canbo2", "lanhdao", "quantri", "kythuat")}
    box.close()
    process = start_server(box_settings)
    try:
        yield Server(read_url(process), box_settings, process, tokens)
    finally:
        stop_server(process)


def stop_server(process: subprocess.Popen[str]) -> None:
    """Terminate a server process and close its pipes."""
    stop_process(process)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A provincial hub on SQLite, served by a real `motcua hub serve` process (tests.hubproc)."""
    from tests.hubproc import make_hub  # hubproc imports this module: import it when the fixture runs

    started = make_hub(tmp_path / "hub").start()
    try:
        yield started
    finally:
        started.stop()
