"""Imports run one way (DESIGN.md): an `ast` walk over every module fails on an arrow that runs backwards."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("edge", "ui", "sync", "devices")
OURS = ("edge", "ui", "sync", "devices", "tests", "bench")
# The composition root: the only edge modules that may wire in ui, sync, devices and web libraries
# (edge.doctorcli: the doctor walks the hub URLs through sync and asks the devices).
# (edge.backupcli: after a restore the box syncs once to get back from the hub what it made since the backup).
WIRING = frozenset(
    {"edge.cli", "edge.server", "edge.demo", "edge.appliance", "edge.devicecli", "edge.doctorcli", "edge.backupcli"}
)
# Third-party libraries that belong to the outer layers (web UI, HTTP client, serial and printer drivers).
# The hub folds, validates and numbers dossiers by the very same rules as the box (DESIGN.md departs
# here: "sync.hub -> sync.protocol only"), so it may use edge's pure rule modules — never a box's store.
HUB_MAY_USE = (
    "edge.calendar",
    "edge.catalogue",
    "edge.codeformat",
    "edge.dates",
    "edge.deadline",
    "edge.dossier_fields",
    "edge.errors",
    "edge.events",
    "edge.hlc",
    "edge.identity",
    "edge.lifecycle",
    "edge.logs",  # the same structured logs as the box's services
    "edge.passwords",
    "edge.sdnotify",  # the same systemd notify protocol and watchdog as the box's services
    "edge.text",
    "edge.tomlconfig",
)
OUTER_LIBRARIES = ("flask", "werkzeug", "requests", "serial", "waitress", "escpos")


@dataclass(frozen=True)
class Violation:
    """One import that runs against the allowed direction."""

    module: str
    line: int
    target: str
    rule: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target} ({self.rule})"


def _within(target: str, *prefixes: str) -> bool:
    return any(target == p or target.startswith(p + ".") for p in prefixes)


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """Return the absolute module a relative `from ... import` names."""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    # Going above a top-level package is an ImportError at run time; resolving it against the
    # repository root still names the layer it reaches for, so the rules can judge it.
    if level - 1 > len(parts):
        raise ValueError(f"relative import beyond the repository root in {module}")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """Return (line, module) for every import in a module, relative ones made absolute.

    `from a import b` yields `a.b` (b may be a submodule); imports inside functions, under
    TYPE_CHECKING and through importlib.import_module("...") / __import__("...") all count.
    """
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module) if node.level else node.module or ""
            for alias in node.names:
                target = base if alias.name == "*" else f"{base}.{alias.name}" if base else alias.name
                found.append((node.lineno, target))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def rule_broken(module: str, target: str) -> str | None:
    """Return which rule importing target from module breaks, or None when it is allowed."""
    if _within(target, "tests", "bench"):
        return "product code never imports tests or benchmarks"
    if _within(module, "edge") and module not in WIRING:
        if _within(target, "ui", "sync", "devices"):
            return "the edge core imports nothing of ui, sync or devices"
        if _within(target, *OUTER_LIBRARIES):
            return "the edge core never imports web, HTTP or device libraries"
    if _within(module, "devices") and _within(target, "edge", "ui", "sync"):
        return "devices import nothing of ours"
    if (
        _within(module, "sync.hub")
        and _within(target, *OURS)
        and not _within(target, "sync.protocol", "sync.hub", *HUB_MAY_USE)
    ):
        return "sync.hub imports only sync.protocol, its own modules and edge's pure domain rules"
    return None


def check_source(source: str, module: str, is_package: bool = False) -> list[Violation]:
    """Return the violations in one module's source."""
    out = []
    for line, target in imported_modules(source, module, is_package):
        rule = rule_broken(module, target)
        if rule:
            out.append(Violation(module, line, target, rule))
    return out


def modules_under(root: Path) -> list[tuple[str, Path, bool]]:
    """Return (dotted name, path, is_package) for every .py file of our packages under root."""
    out = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            out.append((".".join(parts), path, is_package))
    return out


def scan(root: Path) -> list[Violation]:
    """Return every violation in the packages under root."""
    out = []
    for module, path, is_package in modules_under(root):
        out += check_source(path.read_text(encoding="utf-8"), module, is_package)
    return out


def test_imports_run_the_allowed_way() -> None:
    violations = scan(ROOT)
    assert not violations, "\n".join(map(str, violations))


def test_walk_sees_every_module() -> None:
    found = {module: path for module, path, _ in modules_under(ROOT)}
    assert {"edge", "edge.cli", "edge.intake", "edge.store.db", "ui", "sync", "devices"} <= set(found)
    on_disk = {p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    assert set(found.values()) == on_disk
    # The known wiring really imports the outer layers, so the walk reads what it claims to.
    server = imported_modules((ROOT / "edge" / "server.py").read_text(encoding="utf-8"), "edge.server")
    assert any(_within(target, "ui") for _, target in server)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("edge.intake", "import ui.app"),
        ("edge.intake", "from ui import app"),
        ("edge.intake", "from ..ui import app"),
        ("edge.store.db", "from ...sync.client import push"),
        ("edge.store", "from ... import devices"),  # edge/store/__init__.py: see is_package below
        ("edge.intake", "import flask"),
        ("edge.intake", "from werkzeug.exceptions import NotFound"),
        ("edge.intake", "import requests as http"),
        ("edge.intake", "import serial.tools.list_ports"),
        ("edge.intake", "def f():\n    from devices.printer import print_ticket\n"),
        ("edge.intake", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sync import client\n"),
        ("edge.intake", "import importlib\nmod = importlib.import_module('ui.app')"),
        ("edge.intake", "mod = __import__('devices')"),
        ("edge.intake", "import os, sync"),
        ("edge.box", "from tests.conftest import FakeClock"),
        ("devices.printer", "from edge.errors import EdgeError"),
        ("devices.printer", "from .. import edge"),
        ("devices.pos.terminal", "from ...sync.protocol import Event"),
        ("devices.keypad", "import ui"),
        ("sync.hub", "from sync.client import push"),
        ("sync.hub", "from edge import box"),
        ("sync.hub", "from . import client"),
        ("sync.hub.store", "from ..client import push"),
        ("sync.hub.app", "import ui.hub"),
    ],
)
def test_checker_catches_a_violation(module: str, source: str) -> None:
    found = check_source(source, module, is_package=module == "edge.store")
    assert len(found) == 1, found
    assert found[0].module == module and found[0].rule


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("edge.cli", "import ui.app\nfrom sync import client\nfrom devices import printer"),
        ("edge.server", "from waitress.server import create_server\nfrom ui.app import create_app"),
        (
            "edge.intake",
            "import json, sqlite3\nfrom edge import audit\nfrom . import events\nfrom .store.db import write",
        ),
        ("edge.store.db", "from ..errors import StorageError"),
        ("ui.app", "import flask\nfrom edge.box import Box\nfrom sync import client"),
        ("sync.client", "import requests\nfrom edge import events"),
        ("sync.hub", "from sync.protocol import Batch\nfrom . import protocol\nfrom .protocol import sign"),
        ("sync.hub.store", "from ..protocol import Batch\nfrom . import schema\nfrom sync.hub import app"),
        ("devices.printer", "import serial\nfrom . import transport\nfrom .escpos import render"),
    ],
)
def test_checker_allows_the_right_direction(module: str, source: str) -> None:
    assert check_source(source, module) == []


def test_relative_import_resolution() -> None:
    assert _resolve("edge.store.db", False, 1, "migrations") == "edge.store.migrations"
    assert _resolve("edge.store.db", False, 2, None) == "edge"
    assert _resolve("edge.store", True, 1, "db") == "edge.store.db"
    assert _resolve("edge.intake", False, 2, "ui") == "ui"
    assert _resolve("sync.hub", False, 1, "client") == "sync.client"
    with pytest.raises(ValueError):
        _resolve("edge.intake", False, 3, "ui")


def test_scan_reads_files_on_disk(tmp_path: Path) -> None:
    (tmp_path / "edge" / "store").mkdir(parents=True)
    (tmp_path / "devices").mkdir()
    (tmp_path / "edge" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "edge" / "cli.py").write_text("import ui.app\n", encoding="utf-8")
    (tmp_path / "edge" / "store" / "__init__.py").write_text("from .. import box\n", encoding="utf-8")
    (tmp_path / "edge" / "store" / "db.py").write_text("import json\n\nimport flask\n", encoding="utf-8")
    (tmp_path / "devices" / "__init__.py").write_text("from ..edge import errors\n", encoding="utf-8")
    found = sorted(map(str, scan(tmp_path)))
    assert found == [
        "devices:1 imports edge.errors (devices import nothing of ours)",
        "edge.store.db:3 imports flask (the edge core never imports web, HTTP or device libraries)",
    ]
