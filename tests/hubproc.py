"""Real hub processes and provisioned boxes for tests, driven through the `motcua` command line only.

Everything here goes through the documented commands (`motcua hub init|user add|token create|box
add|serve`, `motcua provision`, `motcua sync once`), so the tests that use it also check that
command-line contract from the outside.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from edge import catalogue
from edge.box import init_box, open_box
from edge.config import Settings
from edge.procedures import upsert_procedures
from edge.users import add_user
from tests.conftest import stop_server

PG_ADMIN = os.environ.get("MOTCUA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ADMIN_PASSWORD = "quan-tri-tinh-2026"


def motcua(*args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 120) -> str:
    """Run `motcua ARGS` and return its stdout (stripped); raise with stderr when it fails and check is set."""
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and done.returncode != 0:
        raise AssertionError(f"motcua {' '.join(args)} → {done.returncode}: {done.stderr}{done.stdout}")
    return done.stdout.strip()


def pg_database(name: str) -> str:
    """Create (or recreate) a PostgreSQL database for a test and return its URL; skip only outside CI."""
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as err:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL is not reachable: {err}")
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(name: str) -> None:
    """Drop a test database (closing what still holds it)."""
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Hub:
    """A hub data dir, and its `motcua hub serve` process while it runs."""

    data: Path
    admin_token: str
    process: subprocess.Popen[str] | None = None
    url: str = ""
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        """Request headers with the provincial admin's token."""
        return {"Authorization": f"Bearer {self.admin_token}"}

    def cli(self, *args: str, check: bool = True) -> str:
        """Run `motcua hub ARGS --data DIR`."""
        return motcua("hub", *args, "--data", str(self.data), env=self.env, check=check)

    def add_box(self, commune_code: str, name: str, agency_code: str | None = None) -> str:
        """Create a box record and return its one-time enrollment code."""
        extra = ["--agency-code", agency_code] if agency_code else []
        return self.cli("box", "add", "--commune-code", commune_code, "--name", name, *extra)

    def start(self, port: int | None = None) -> Hub:
        """Start `motcua hub serve` (on the same port as before when restarted) and wait for its URL."""
        chosen = self.port if port is None else port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "hub", "serve", "--data", str(self.data), "--port", str(chosen)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **self.env},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:(\d+))", line)
        if not found:
            err = self.process.stderr.read() if self.process.stderr else ""
            self.process.kill()
            raise RuntimeError(f"hub did not start: {line!r} {err}")
        self.url, self.port = found.group(1), int(found.group(2))
        return self

    def stop(self) -> None:
        """Stop the hub process (SIGTERM, then SIGKILL)."""
        if self.process is not None:
            stop_server(self.process)
            self.process = None

    def kill(self) -> None:
        """kill -9 the hub process."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            for pipe in (self.process.stdout, self.process.stderr):
                if pipe is not None:
                    pipe.close()
            self.process = None


def make_hub(data: Path, database_url: str | None = None, env: dict[str, str] | None = None) -> Hub:
    """`motcua hub init` a hub (SQLite in DIR, or the given PostgreSQL) with an admin and its token."""
    extra = ["--database-url", database_url] if database_url else []
    motcua("hub", "init", "--data", str(data), *extra, env=env)
    motcua(
        "hub", "user", "add", "--data", str(data), "quantri", "--role", "admin", "--password", ADMIN_PASSWORD, env=env
    )
    token = motcua("hub", "token", "create", "--data", str(data), "quantri", env=env)
    return Hub(data=data, admin_token=token, env=dict(env or {}))


def make_box(
    root: Path, commune_code: str = "00001", agency_code: str = "000.00.01.H01", name: str = "UBND xã Thử Nghiệm"
) -> Settings:
    """A box at root/"box" with the sample catalogue and one user of each role (tests.test_api's USERS)."""
    from tests.conftest import PASSWORD
    from tests.test_api import USERS

    settings = init_box(root / "box", commune_code, agency_code, name)
    box = open_box(settings.data_dir)
    upsert_procedures(box.db(), catalogue.sample_catalogue())
    for username, role in USERS:
        add_user(box.db(), username, role, PASSWORD)
    box.close()
    return settings


def provision(box: Settings, code: str, *urls: str, check: bool = True) -> str:
    """`motcua provision --data BOX --hub URL [--hub URL2] --code CODE`."""
    hubs = [arg for url in urls for arg in ("--hub", url)]
    return motcua("provision", "--data", str(box.data_dir), *hubs, "--code", code, check=check)
