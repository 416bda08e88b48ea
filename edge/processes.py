"""Stopping a child process we started (a server, the hub, the sync worker): politely, then for sure."""

from __future__ import annotations

import subprocess
from typing import Any


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """SIGTERM the process, SIGKILL it if it has not ended within timeout seconds, then close its pipes."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
