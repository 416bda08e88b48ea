"""Every command in the guides under docs/ is run for real, in document order, or checked.

A guide's fenced ```sh blocks hold one command a line with `$VAR` placeholders; the test gives each
placeholder a value in a temp dir and runs the line as a real process (`motcua serve`, `hub serve`
and `sync-worker` in the background until the guide is done). `NAME=$(command)` keeps the command's
output in `$NAME`, `command > $FILE` writes it to a file, `curl` lines go to the running servers.
```sh root blocks need root on a real machine (apt-get, usermod, useradd, systemctl, mount) and are
checked instead: packages against what .ci/run installs, accounts and directories against what
`motcua install-systemd` printed, units against the files it wrote (and `systemd-analyze verify`),
the USB mount point against the backup's target. A line no rule knows fails the test. The
technician guide starts from a fresh venv and the wheel; its dependencies come from the tests' venv
instead of the network (a .pth file), everything else is the installed wheel's.
"""

from __future__ import annotations

import configparser
import functools
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

from edge.processes import stop_process
from tests.hubproc import Hub, drop_pg_database, make_hub, pg_database

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```([a-z]*)(?: ([a-z]+))?\n(.*?)^```$", re.M | re.S)
ASSIGN = re.compile(r"^([A-Z][A-Z0-9_]*)=\$\((.*)\)$")
PLACEHOLDER = re.compile(r"\$([A-Z][A-Z0-9_]*)")
BACKGROUND = (["motcua", "serve"], ["motcua", "hub", "serve"], ["motcua", "sync-worker"])
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
# apt-get lines may name what .ci/run installs, and python3-venv: the guide's `python3 -m venv` line runs here.
KNOWN_PACKAGES = set(re.findall(r"need\+=\(([\w.+-]+)\)", CI_RUN)) | {"python3-venv"}


@dataclass
class Block:
    """One fenced block of a guide."""

    lang: str
    root: bool
    text: str

    def lines(self) -> list[str]:
        """The block's commands: one a line, blank lines and comments left out."""
        return [line.strip() for line in self.text.splitlines() if line.strip() and not line.strip().startswith("#")]


def blocks(guide: Path) -> list[Block]:
    """Every fenced block of a guide, in order."""
    found = [Block(m.group(1), m.group(2) == "root", m.group(3)) for m in FENCE.finditer(guide.read_text("utf-8"))]
    unknown = [(b.lang, b.root) for b in found if b.lang not in ("sh", "yaml", "sql") or (b.root and b.lang != "sh")]
    assert not unknown, f"{guide.name}: fenced blocks the test does not know: {unknown}"
    return found


def service(unit: Path) -> configparser.SectionProxy:
    """The [Service] section of a unit file."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit, encoding="utf-8")
    return parser["Service"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Walk:
    """Runs a guide's lines with the placeholders' values, keeping what later lines need."""

    tmp: Path
    values: dict[str, str]
    env: dict[str, str]
    background: list[subprocess.Popen[str]] = field(default_factory=list)
    printed: dict[str, str] = field(default_factory=dict)  # "install-systemd": its output
    later: dict[str, Callable[[], str]] = field(default_factory=dict)  # values found when first used
    ran: int = 0
    checked: int = 0

    def substitute(self, line: str) -> str:
        for name in PLACEHOLDER.findall(line):
            if name in self.later and name not in self.values:
                self.values[name] = self.later[name]()
        missing = sorted({name for name in PLACEHOLDER.findall(line) if name not in self.values})
        assert not missing, f"no value for {missing} in: {line}"
        return PLACEHOLDER.sub(lambda m: self.values[m.group(1)], line)

    def run_block(self, block: Block) -> None:
        for line in block.lines():
            if block.root:
                self.check_root(shlex.split(self.substitute(line), comments=True), line)
                self.checked += 1
            else:
                began = time.monotonic()
                self.run_line(line)
                self.ran += 1
                print(f"{time.monotonic() - began:5.1f} s  {line}")  # shown when the test fails

    # --- lines run for real ------------------------------------------------------------------------

    def run_line(self, line: str) -> None:
        assigned = ASSIGN.match(line)
        target = assigned.group(1) if assigned else None
        argv = shlex.split(self.substitute(assigned.group(2) if assigned else line), comments=True)
        out_file = None
        if ">" in argv:
            at = argv.index(">")
            argv, out_file = argv[:at], Path(argv[at + 1])
        if argv[0] == "curl":
            output = self.curl(argv)
        elif any(argv[: len(prefix)] == prefix for prefix in BACKGROUND):
            self.start(argv)
            return
        else:
            output = self.execute(argv)
        if target:
            self.values[target] = output.strip()
        if out_file:
            out_file.write_text(output, encoding="utf-8")
        self.after(argv, output)

    def execute(self, argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=self.env, cwd=self.tmp)
        allowed = {0, 1} if argv[:2] == ["motcua", "doctor"] else {0}  # doctor: 1 = warnings, 2 = failures
        assert done.returncode in allowed, f"{shlex.join(argv)} → {done.returncode}\n{done.stderr}\n{done.stdout}"
        return done.stdout

    def after(self, argv: list[str], output: str) -> None:
        """What a line leaves that the following lines use."""
        if argv[1:3] == ["-m", "venv"]:
            # The dependencies come from the tests' venv instead of the network.
            site = Path(argv[3]) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
            (site / "tests-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
        if argv[:2] == ["motcua", "install-systemd"]:
            self.printed["install-systemd"] = output
        if argv[:2] == ["motcua", "backup"]:
            folders = sorted(Path(argv[argv.index("--to") + 1]).glob("motcua-*"), key=lambda p: p.stat().st_mtime)
            self.values["BACKUP"] = str(folders[-1])
            assert (folders[-1] / "manifest.json").is_file()
        if argv[:2] == ["motcua", "version"] and "--data" in argv:
            assert re.search(r"box schema \d+", output), output

    def curl(self, argv: list[str]) -> str:
        """A curl line: real curl when the machine has it, else the same GET with requests; non-2xx fails."""
        headers = dict(argv[i + 1].split(": ", 1) for i, arg in enumerate(argv) if arg == "-H")
        (url,) = [arg for arg in argv[1:] if arg.startswith("http")]
        assert set(argv[1:]) - {url, *[f"{k}: {v}" for k, v in headers.items()]} <= {"-fsS", "-H"}, argv
        if shutil.which("curl"):
            return self.execute(argv)
        response = requests.get(url, headers=headers, timeout=30)
        assert response.ok, f"{url} → {response.status_code} {response.text}"
        return response.text

    def start(self, argv: list[str]) -> None:
        """A long-running service: start it, wait until it serves (or keeps running), leave it running."""
        log = self.tmp / f"background-{len(self.background)}.log"
        handle = log.open("w", encoding="utf-8")
        process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, text=True, env=self.env, cwd=self.tmp)
        handle.close()
        self.background.append(process)
        if argv[1] == "sync-worker":
            time.sleep(2)
            assert process.poll() is None, f"{shlex.join(argv)} ended: {log.read_text('utf-8')}"
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, f"{shlex.join(argv)} ended: {log.read_text('utf-8')}"
            found = re.search(r"http://[\d.]+:(\d+)", log.read_text("utf-8"))
            if found:
                wanted = argv[argv.index("--port") + 1]
                assert wanted == "0" or found.group(1) == wanted, (wanted, found.group(0))
                return
            time.sleep(0.1)
        raise AssertionError(f"{shlex.join(argv)} did not start: {log.read_text('utf-8')}")

    def stop(self) -> None:
        for process in self.background:
            stop_process(process)

    # --- lines checked (they need root on a real machine) -----------------------------------------

    def check_root(self, argv: list[str], line: str) -> None:
        command = argv[0]
        if command == "apt-get":
            assert argv[1:3] == ["install", "-y"], line
            assert set(argv[3:]) <= KNOWN_PACKAGES, (sorted(set(argv[3:]) - KNOWN_PACKAGES), line)
        elif command in ("useradd", "install", "chown"):
            printed = [shlex.split(step, comments=True) for step in self.printed["install-systemd"].splitlines()]
            assert argv in printed, f"not among what install-systemd printed: {line}"
        elif command == "usermod":
            unit = service(ROOT / "systemd" / "motcua-web.service")  # the default install's unit
            assert argv[1] == "-aG" and argv[3] == unit["User"], line
            assert set(argv[2].split(",")) == set(unit["SupplementaryGroups"].split()), line
        elif command == "systemctl":
            self.check_systemctl(argv, line)
        elif command in ("mount", "umount"):
            assert argv[-1] == self.values["USB"] and len(argv) == (3 if command == "mount" else 2), line
        else:
            raise AssertionError(f"a root line no check knows: {line}")

    def unit_dir(self) -> Path:
        assert "install-systemd" in self.printed, "systemctl before motcua install-systemd"
        return Path(self.values["UNIT_DIR"])

    def check_systemctl(self, argv: list[str], line: str) -> None:
        if argv[1:] == ["daemon-reload"]:
            self.unit_dir()
            return
        assert argv[1] in ("enable", "status", "restart", "stop", "start"), line
        names = [arg for arg in argv[2:] if not arg.startswith("--")]
        assert names and all((self.unit_dir() / name).is_file() for name in names), line
        if shutil.which("systemd-analyze") is None and os.environ.get("CI") != "true":
            return
        verify = self.tmp / "verify"
        verify.mkdir(exist_ok=True)
        # verify needs the unit's user to exist; the guide's useradd makes it on a real box, here it is this account.
        me = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
        for name in names:
            text = (self.unit_dir() / name).read_text(encoding="utf-8")
            (verify / name).write_text(re.sub(r"^User=.*$", f"User={me}", text, flags=re.M), encoding="utf-8")
        paths = [str(verify / name) for name in names]
        result = subprocess.run(["systemd-analyze", "verify", *paths], capture_output=True, text=True, timeout=60)
        problems = [text for text in result.stderr.splitlines() if "motcua-" in text]
        assert result.returncode == 0 and not problems, result.stderr


@contextmanager
def walk(guide: Path, values: dict[str, str], tmp: Path, path: list[Path]) -> Iterator[tuple[Walk, list[Block]]]:
    """A runner for the guide's blocks; the services it started are stopped at the end."""
    env = {**os.environ, "PATH": os.pathsep.join([*map(str, path), os.environ["PATH"]]), "MOTCUA_LANG": "vi"}
    for name in ("MOTCUA_DATA", "PIP_REQUIRE_VIRTUALENV"):
        env.pop(name, None)
    runner = Walk(tmp, values, env)
    try:
        yield runner, blocks(guide)
    finally:
        runner.stop()


def build_wheel(tmp: Path) -> Callable[[], str]:
    """Start building the wheel a technician is given (from a copy of the sources: no build dir shared
    with other tests); the returned function waits for it and gives its path."""
    source, wheels = tmp / "source", tmp / "wheels"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("edge", "sync", "devices", "ui"):
        shutil.copytree(ROOT / part, source / part, ignore=skip)
    for name in ("setup.py", "pyproject.toml"):
        shutil.copy(ROOT / name, source / name)
    argv = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(wheels)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    @functools.cache
    def wheel() -> str:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        (built,) = wheels.glob("motcua_edge-*.whl")
        return str(built)

    return wheel


def test_technician_guide_runs_from_a_fresh_venv_to_a_backed_up_box(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)  # built while the hub starts
    hub = make_hub(tmp_path / "hub").start()
    hub2 = Hub(data=hub.data, admin_token=hub.admin_token).start()  # the second data centre, same hub data
    usb, bin_dir = tmp_path / "usb", tmp_path / "bin"
    usb.mkdir()
    bin_dir.mkdir()
    (tmp_path / "units").mkdir()
    # python3 is the Python these tests run on (the .pth below needs the same version).
    (bin_dir / "python3").symlink_to(os.path.realpath(sys._base_executable))  # type: ignore[attr-defined]
    values = {
        "VENV": str(tmp_path / "opt-motcua"),
        "DATA": str(tmp_path / "var-lib-motcua"),
        "NEWDATA": str(tmp_path / "new-box"),
        "COMMUNE": "00001",
        "AGENCY": "000.17.22.H56",
        "NAME": "UBND xã Phúc Xá",
        "OFFICER": "canbo",
        "TECHNICIAN": "kythuat",
        "PASSWORD": "mat-khau-ban-dau-2026",
        "HUB_URL": hub.url,
        "HUB_URL2": hub2.url,
        "CODE": hub.add_box("00001", "UBND xã Phúc Xá", "000.17.22.H56"),
        "PRINTER_URL": "sim://printer",
        "TICKET_PRINTER_URL": "sim://printer",
        "TERMINAL_URL": "sim://terminal",
        "KEYPAD_URL": "sim://keypad",
        "PORT": "0",
        "UNIT_DIR": str(tmp_path / "units"),
        "USB_DEVICE": "/dev/sdb1",
        "USB": str(usb),
    }
    path = [bin_dir, Path(values["VENV"]) / "bin"]
    try:
        with walk(DOCS / "technician-guide.md", values, tmp_path, path) as (runner, found):
            runner.env.update({"PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1"})  # offline: the wheel alone
            runner.later.update({"WHEEL": wheel, "NEW_WHEEL": wheel})  # the same wheel stands for the newer one
            for block in found:
                assert block.lang == "sh", block
                runner.run_block(block)
            installed = shutil.which("motcua", path=runner.env["PATH"])
            assert installed == str(Path(values["VENV"]) / "bin" / "motcua")
            assert runner.ran >= 30 and runner.checked >= 10, (runner.ran, runner.checked)
        # The box the guide made is the hub's, and the restored one is the same box.
        fleet = requests.get(f"{hub.url}/api/v1/fleet", headers=hub.headers(), timeout=10).json()
        assert [b["commune_code"] for b in fleet] == ["00001"], fleet
        box_id = fleet[0]["box_id"]
        assert box_id in (Path(values["NEWDATA"]) / "sync.toml").read_text("utf-8")
    finally:
        hub.stop()
        hub2.stop()


def test_provincial_it_guide_runs_against_a_hub_on_postgresql(tmp_path: Path) -> None:
    name = f"docs_hub_{os.getpid()}"
    database_url = pg_database(name)
    calendar = tmp_path / "lich-2027.json"
    calendar.write_text(json.dumps({"days": [{"day": "2027-01-02", "working": True, "note": "làm bù"}]}), "utf-8")
    port, port2 = free_port(), free_port()
    (tmp_path / "units").mkdir()
    values = {
        "HUB_DATA": str(tmp_path / "var-lib-motcua-hub"),
        "DATABASE_URL": database_url,
        "HUB_HOST": "127.0.0.1",
        "HUB_PORT": str(port),
        "HUB_PORT2": str(port2),
        "HUB_URL": f"http://127.0.0.1:{port}",
        "HUB_URL2": f"http://127.0.0.1:{port2}",
        "ADMIN": "quantri",
        "ADMIN_PASSWORD": "quan-tri-tinh-2026",
        "PROM_TOKEN_FILE": str(tmp_path / "motcua-hub.token"),
        "COMMUNE": "00001",
        "AGENCY": "000.17.22.H56",
        "COMMUNE_NAME": "UBND xã Phúc Xá",
        "DATA": str(tmp_path / "var-lib-motcua"),
        "CATALOGUE": str(ROOT / "edge" / "data" / "procedures.json"),
        "CALENDAR": str(calendar),
        "UNIT_DIR": str(tmp_path / "units"),
    }
    scrape = None
    try:
        with walk(DOCS / "provincial-it-guide.md", values, tmp_path, [Path(sys.executable).parent]) as (runner, found):
            for block in found:
                if block.lang == "sh":
                    runner.run_block(block)
                elif block.lang == "yaml":
                    scrape = yaml.safe_load(block.text)
            assert runner.ran >= 15 and runner.checked >= 2, (runner.ran, runner.checked)
            fleet = requests.get(f"{values['HUB_URL2']}/api/v1/fleet", headers=_bearer(values["TOKEN"]), timeout=10)
            boxes = fleet.json()
            assert fleet.status_code == 200 and [b["commune_code"] for b in boxes] == ["00001"], fleet.text
            # The Prometheus block: the path it scrapes is a real route answering the token file's viewer.
            (job,) = scrape["scrape_configs"]
            assert job["authorization"]["type"] == "Bearer"
            assert Path(job["authorization"]["credentials_file"]).name == Path(values["PROM_TOKEN_FILE"]).name
            assert all(re.fullmatch(r"[\w.-]+:\d+", target) for target in job["static_configs"][0]["targets"])
            token = Path(values["PROM_TOKEN_FILE"]).read_text("utf-8").strip()
            for url in (values["HUB_URL"], values["HUB_URL2"]):
                metrics = requests.get(url + job["metrics_path"], headers=_bearer(token), timeout=10)
                assert metrics.status_code == 200 and "motcua_hub_boxes{" in metrics.text, metrics.text
    finally:
        drop_pg_database(name)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_lines_no_rule_knows_fail(tmp_path: Path) -> None:
    runner = Walk(tmp_path, {"USB": "/media/usb", "DATA": "/var/lib/motcua"}, dict(os.environ))
    for line in ("reboot", "apt-get install -y nginx", "mount /dev/sdb1 /mnt", "systemctl enable motcua-web.service"):
        with pytest.raises(AssertionError):
            runner.run_block(Block("sh", True, line + "\n"))
    with pytest.raises(AssertionError, match="no value"):
        runner.run_block(Block("sh", False, "motcua doctor --data $NOWHERE\n"))
    runner.run_block(Block("sh", True, "apt-get install -y espeak-ng\nmount /dev/sdb1 $USB\n"))
    assert runner.checked == 2
    (guide := tmp_path / "g.md").write_text("```bash\nls\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="does not know"):
        blocks(guide)
