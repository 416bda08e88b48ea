"""Command-line commands (registered into `motcua` by edge.cli)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(sub: argparse._SubParsersAction[Any], command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add this package's commands to the `motcua` parser (`command(name, handler, help, parent)`)."""
