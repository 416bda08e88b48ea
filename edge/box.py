"""The box: its settings, its database connections, its calendar and clock."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path

import sqlite_utils

from edge import audit
from edge.calendar import TZ, WorkCalendar, WorkingHours
from edge.config import CONFIG_FILE, DB_FILE, Settings, create_secrets, load_settings, write_settings
from edge.errors import ConfigError, EdgeError, StorageError, ValidationError
from edge.store.db import AUTOCHECKPOINT_PAGES, connect, write
from edge.store.migrations import migrate, migrations
from edge.text import clean_address

Clock = Callable[[], datetime]
_AGENCY = re.compile(r"[0-9A-Za-z]{1,8}(\.[0-9A-Za-z]{1,8}){1,5}", re.ASCII)
_COMMUNE = re.compile(r"[0-9]{5}", re.ASCII)


def local_now() -> datetime:
    """Return the current time in Vietnam."""
    return datetime.now(TZ).replace(microsecond=0)


class Box:
    """One commune box: everything a service needs, built once and passed in."""

    def __init__(self, settings: Settings, clock: Clock = local_now) -> None:
        self.settings = settings
        self.clock = clock
        self._local = threading.local()
        self._calendar: WorkCalendar | None = None
        self._calendar_stamp: tuple[object, ...] | None = None
        self._calendar_lock = threading.Lock()
        self.hours = WorkingHours.parse(settings.working_hours)
        self.autocheckpoint = AUTOCHECKPOINT_PAGES

    @property
    def origin(self) -> str:
        """Return this box's origin id, stamped on every event it makes."""
        return "box:" + self.settings.box_id

    def db(self) -> sqlite_utils.Database:
        """Return this thread's connection to the box's DB."""
        db = getattr(self._local, "db", None)
        if db is not None and getattr(db, "stale", False):
            db.conn.close()
            db = None
        if db is None:
            db = connect(self.settings.db_path, self.autocheckpoint)
            self._local.db = db
        return db

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    def now(self) -> datetime:
        """Return the box's current time (injected clock)."""
        return self.clock().astimezone(TZ)

    def calendar(self) -> WorkCalendar:
        """Return the working calendar with the local overrides (rebuilt when they change)."""
        db = self.db()
        # Another process (the CLI, sync) may change the overrides: a cheap stamp tells.
        stamp = tuple(db.execute("SELECT count(*), max(updated_at) FROM calendar_overrides").fetchone())
        with self._calendar_lock:
            if self._calendar is None or stamp != self._calendar_stamp:
                rows = db.execute("SELECT day, working FROM calendar_overrides").fetchall()
                overrides: Mapping[date, bool] = {date.fromisoformat(d): bool(w) for d, w in rows}
                self._calendar = WorkCalendar(self.hours, overrides)
                self._calendar_stamp = stamp
            return self._calendar

    def overrides(self) -> list[dict[str, object]]:
        """Return the local calendar overrides, by day."""
        rows = (
            self.db()
            .execute("SELECT day, working, note, source, updated_at FROM calendar_overrides ORDER BY day")
            .fetchall()
        )
        keys = ("day", "working", "note", "source", "updated_at")
        return [{**dict(zip(keys, r, strict=True)), "working": bool(r[1])} for r in rows]

    def set_override(self, day: date, working: bool, note: str, actor: str, source: str = "local") -> None:
        """Mark a day as worked or off, overriding the national calendar."""
        db = self.db()
        with write(db):
            db.execute(
                "INSERT INTO calendar_overrides (day, working, note, source, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(day) DO UPDATE SET working = excluded.working, note = excluded.note,"
                " source = excluded.source, updated_at = excluded.updated_at",
                [day.isoformat(), int(working), note, source, datetime.now(TZ).isoformat()],
            )
            audit.record(db, actor, "calendar_override", target=day.isoformat(), detail={"working": working})


def init_box(data_dir: Path | str, commune_code: str, agency_code: str, name: str) -> Settings:
    """Create a new box in data_dir (config, DB, blob dir, secrets); never overwrite one."""
    root = Path(data_dir).resolve()
    if not _COMMUNE.fullmatch(commune_code):
        raise ValidationError(
            "Mã xã phải gồm đúng 5 chữ số (Quyết định 19/2025/QĐ-TTg).",
            "The commune code must be exactly 5 digits.",
            code="invalid_commune_code",
            field="commune_code",
        )
    if not _AGENCY.fullmatch(agency_code):
        raise ValidationError(
            "Mã định danh cơ quan không hợp lệ (dạng 000.17.22.H56).",
            "The agency code is invalid (form 000.17.22.H56).",
            code="invalid_agency_code",
            field="agency_code",
        )
    name = clean_address(name, "name", max_len=200, label=("Tên đơn vị", "The office name"))
    for existing in (CONFIG_FILE, DB_FILE, "secrets.toml"):
        if (root / existing).exists():
            raise ConfigError(
                f"Đã có một máy ở {root}; không ghi đè. Chọn thư mục khác.",
                f"A box already exists at {root}; refusing to overwrite it. Choose another folder.",
                code="box_exists",
            )
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o750)
    settings = Settings(
        data_dir=root, box_id=str(uuid.uuid4()), commune_code=commune_code, agency_code=agency_code, name=name
    )
    create_secrets(settings)
    settings.blob_dir.mkdir(exist_ok=True)
    settings.state_dir.mkdir(exist_ok=True)
    db = connect(settings.db_path)
    try:
        migrate(db)
        with write(db):
            for key in ("box_id", "commune_code", "agency_code", "name"):
                db.execute("INSERT INTO box_meta (key, value) VALUES (?, ?)", [key, getattr(settings, key)])
            audit.record(db, "cli", "box_created", target=settings.box_id, detail={"commune_code": commune_code})
    finally:
        db.conn.close()
    write_settings(settings)
    return settings


def open_box(data_dir: Path | str | None = None, env: Mapping[str, str] | None = None, clock: Clock = local_now) -> Box:
    """Load a box's settings, run pending migrations and return it."""
    settings = load_settings(data_dir, env)
    db = connect(settings.db_path)
    try:
        upgrade(db)
    finally:
        db.conn.close()
    return Box(settings, clock)


def upgrade(db: sqlite_utils.Database) -> None:
    """Run the pending migrations; one that fails leaves the DB as it was and is named in the error."""
    try:
        migrate(db)
    except EdgeError:
        raise
    except Exception as err:
        # Each migration runs in its own transaction: the failed one rolled back and is still pending.
        pending = migrations.pending(db)
        name = pending[0].name if pending else "?"
        reason = " ".join(str(err).split()) or type(err).__name__
        raise StorageError(
            f"Không nâng cấp được cơ sở dữ liệu: bước {name} bị lỗi ({reason}). Dữ liệu vẫn giữ nguyên như"
            " trước khi nâng cấp; báo kỹ thuật viên.",
            f"The database upgrade failed at migration {name} ({reason}). The data is as it was before the"
            " upgrade; call a technician.",
            code="migration_failed",
            migration=name,
        ) from err
