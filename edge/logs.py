"""Structured logs: one JSON object per line (time, level, box_id, logger, message) on stdout.

Under systemd, stdout goes to journald, which keeps and rotates the logs: nothing here rotates.
Run by hand (no $JOURNAL_STREAM: stdout is not journald's), a service also appends the same lines
to DATA/logs/motcua.log, so `motcua logs` has something to read on a box without journald.
Known secrets (the box's and the sync secret) and bearer tokens, passwords and secrets written as
`key=value` are masked before a record is written.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from edge.calendar import TZ
from edge.errors import ValidationError

LOG_DIR = "logs"
LOG_FILE = "motcua.log"
MASK = "***"
_SECRET_WORDS = re.compile(
    r"(?i)(bearer\s+|(?:password|passwd|secret|token|signature|authorization)[\"']?\s*[=:]\s*[\"']?(?:(?:bearer|basic)\s+)?)[^\s\"'&,;]+"
)
_AGO = re.compile(r"^(\d+)\s*(second|sec|s|minute|min|m|hour|h|day|d|week|w)s?\s+ago$")
_UNITS = {"s": "seconds", "sec": "seconds", "second": "seconds", "m": "minutes", "min": "minutes",
          "minute": "minutes", "h": "hours", "hour": "hours", "d": "days", "day": "days", "w": "weeks",
          "week": "weeks"}  # fmt: skip
_HANDLER_MARK = "_motcua_structured"


def log_path(data_dir: Path) -> Path:
    """Return the log file a service appends to when journald does not take its stdout."""
    return data_dir / LOG_DIR / LOG_FILE


class Redactor(logging.Filter):
    """Mask known secret values and anything written as a bearer token, password, token or secret."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """Return text with the secrets masked."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return _SECRET_WORDS.sub(lambda m: m.group(1) + MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's message (arguments merged) and its traceback in place."""
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line with the box (or hub) id in it."""

    def __init__(self, box_id: str, service: str) -> None:
        super().__init__()
        self.box_id = box_id
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        entry = {
            "time": datetime.fromtimestamp(record.created, TZ).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "box_id": self.box_id,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(
    box_id: str,
    service: str,
    data_dir: Path | None,
    secrets: Iterable[str] = (),
    *,
    stream: TextIO | None = None,
    journald: bool | None = None,
    level: int = logging.INFO,
) -> None:
    """Send every record to stdout as JSON (and to DATA/logs/motcua.log when journald does not take stdout)."""
    if journald is None:
        journald = bool(os.environ.get("JOURNAL_STREAM"))  # set by systemd when stdout is the journal
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stdout)]
    if data_dir is not None and not journald:
        path = log_path(data_dir)
        path.parent.mkdir(mode=0o750, exist_ok=True)
        handlers.append(logging.FileHandler(path, encoding="utf-8"))
    redactor = Redactor(secrets)
    for handler in handlers:
        setattr(handler, _HANDLER_MARK, True)
        handler.addFilter(redactor)
        handler.setFormatter(JsonFormatter(box_id, service))
        root.addHandler(handler)
    root.setLevel(level)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """Return the moment `--since` names: "1 hour ago", "30 min ago", "today", "yesterday", or an ISO time."""
    now = now or datetime.now(TZ)
    words = " ".join(text.lower().split())
    found = _AGO.match(words)
    if found:
        return now - timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if words in ("today", "yesterday", "now"):
        return {"today": midnight, "yesterday": midnight - timedelta(days=1), "now": now}[words]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise ValidationError(
            f'Không hiểu thời điểm \'{text}\': dùng ví dụ "1 hour ago", "today" hoặc 2026-11-26T08:00.',
            f'Cannot read the time \'{text}\': use e.g. "1 hour ago", "today" or 2026-11-26T08:00.',
            code="bad_since",
        ) from err
    return moment if moment.tzinfo else moment.replace(tzinfo=TZ)


def read_file_since(path: Path, since: datetime) -> Iterator[str]:
    """Yield the lines of a log file written at or after `since` (lines that are not ours are kept as they are)."""
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            entry = _entry(line)
            if entry is None or datetime.fromisoformat(str(entry["time"])) >= since:
                yield line


def _entry(line: str) -> dict[str, object] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("time"), str):
        return None
    try:
        datetime.fromisoformat(entry["time"])
    except ValueError:
        return None
    return entry


def readable(line: str) -> str:
    """Return a JSON log line as one readable line for a technician (other lines as they are)."""
    entry = _entry(line)
    if entry is None:
        return line
    text = f"{entry['time']} {entry.get('level', ''):<7} {entry.get('service', '')}[{entry.get('box_id', '')}] "
    text += f"{entry.get('logger', '')}: {entry.get('message', '')}"
    if entry.get("exception"):
        text += "\n" + str(entry["exception"])
    return text
