"""The shipped systemd unit is well-formed and runs the command the README documents."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "motcua-web.service"


def test_unit_runs_motcua_serve_hardened() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT, encoding="utf-8")
    service = parser["Service"]
    assert service["ExecStart"].split()[1:] == ["serve"]
    assert service["Restart"] == "always"
    assert service["ProtectSystem"] == "strict" and service["ReadWritePaths"] == "/var/lib/motcua"
    assert service["User"] == "motcua" and service["NoNewPrivileges"] == "yes"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None and not os.environ.get("CI"), reason="no systemd-analyze")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify needs the ExecStart binary and the user to exist; point it at one that does.
    text = (
        UNIT.read_text(encoding="utf-8").replace("/usr/local/bin/motcua", "/bin/true").replace("=motcua\n", "=root\n")
    )
    unit = tmp_path / "motcua-web.service"
    unit.write_text(text, encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if "motcua-web.service" in line]
    assert result.returncode == 0 and not problems, result.stderr
