"""Open the box's SQLite file with the pragmas the box relies on, and run write transactions."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from edge.errors import StorageError

# Pages of WAL after which the committing request itself checkpoints; the server's background
# checkpointer (edge.server) keeps the WAL well below this, so requests rarely pay for it.
AUTOCHECKPOINT_PAGES = 1000


def connect(path: Path | str, autocheckpoint: int = AUTOCHECKPOINT_PAGES) -> sqlite_utils.Database:
    """Open a connection: WAL, synchronous=FULL, foreign keys, a busy timeout."""
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        # A printed receipt promises the dossier is on disk: fsync every commit.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")
    except sqlite3.Error as err:
        raise translate(err) from err
    return sqlite_utils.Database(conn)


_MESSAGES = {
    "disk_full": (
        "Ổ đĩa của máy đã đầy; chưa lưu được. Báo kỹ thuật viên giải phóng dung lượng.",
        "The box's disk is full; nothing was saved. Ask a technician to free space.",
    ),
    "read_only": (
        "Cơ sở dữ liệu đang ở chế độ chỉ đọc; chưa lưu được. Báo kỹ thuật viên.",
        "The database is read-only; nothing was saved. Call a technician.",
    ),
    "busy": ("Máy đang bận ghi dữ liệu; thử lại sau giây lát.", "The box is busy writing; try again in a moment."),
    "corrupt": (
        "Tệp cơ sở dữ liệu bị hỏng; chưa lưu được. Báo kỹ thuật viên ngay.",
        "The database file is damaged; nothing was saved. Call a technician now.",
    ),
    "io_error": (
        "Không đọc/ghi được ổ đĩa của máy; chưa lưu được. Báo kỹ thuật viên kiểm tra ổ đĩa.",
        "The box cannot read or write its disk; nothing was saved. Ask a technician to check the disk.",
    ),
}
# SQLite's primary result codes (sqlite3.Error.sqlite_errorname, extended names start with these).
_BY_SQLITE_NAME = (
    ("SQLITE_FULL", "disk_full"),
    ("SQLITE_READONLY", "read_only"),
    ("SQLITE_BUSY", "busy"),
    ("SQLITE_LOCKED", "busy"),
    ("SQLITE_CORRUPT", "corrupt"),
    ("SQLITE_NOTADB", "corrupt"),
    ("SQLITE_IOERR", "io_error"),
    ("SQLITE_CANTOPEN", "io_error"),
    ("SQLITE_PERM", "read_only"),
)
_BY_ERRNO = {errno.ENOSPC: "disk_full", errno.EDQUOT: "disk_full", errno.EROFS: "read_only", errno.EIO: "io_error"}
# Codes after which a connection is not reused: the file may be fine again later.
STALE_CODES = frozenset({"read_only", "corrupt", "io_error"})


def classify(err: sqlite3.Error | OSError) -> str | None:
    """Return the storage fault an error means, or None for a programming error."""
    if isinstance(err, OSError):
        return _BY_ERRNO.get(err.errno or 0)
    name = getattr(err, "sqlite_errorname", "") or ""
    return next((code for prefix, code in _BY_SQLITE_NAME if name.startswith(prefix)), None)


def translate(err: sqlite3.Error | OSError) -> StorageError:
    """Turn a storage fault into a StorageError an officer can act on."""
    code = classify(err) or "io_error"
    vi, en = _MESSAGES[code]
    return StorageError(vi, en, code=code, cause=str(err))


def checkpoint(db: sqlite_utils.Database) -> None:
    """Copy committed WAL pages into the DB file without blocking readers or writers."""
    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()


@contextmanager
def write(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Run a block in one IMMEDIATE transaction: all of it lands, or none of it."""
    conn = db.conn
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as err:
        if classify(err):
            raise _fault(db, err) from err
        raise
    try:
        yield db
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error | OSError) and classify(exc):
            raise _fault(db, exc) from exc
        raise
    else:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if classify(err):
                raise _fault(db, err) from err
            raise


def _fault(db: sqlite_utils.Database, err: sqlite3.Error | OSError) -> StorageError:
    mapped = translate(err)
    if mapped.code in STALE_CODES:
        db.stale = True  # type: ignore[attr-defined]  # Box.db() opens a fresh connection next time
    return mapped
