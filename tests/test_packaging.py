"""`pip install .` gives a working box: the wheel carries the templates, static files and data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_everything_the_box_serves(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("motcua_edge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "ui").rglob("*") if p.is_file()}
    wanted = {n for n in shipped if n.endswith((".html", ".css", ".js", ".po", ".yaml"))}
    assert wanted and wanted <= names, sorted(wanted - names)
    assert {"edge/data/procedures.json", "edge/data/cccd-province-codes.json"} <= names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "motcua = edge.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
