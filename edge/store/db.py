"""Open the box's SQLite file with the pragmas the box relies on, and run write transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from edge.errors import StorageError


def connect(path: Path | str) -> sqlite_utils.Database:
    """Open a connection: WAL, synchronous=FULL, foreign keys, a busy timeout."""
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        # A printed receipt promises the dossier is on disk: fsync every commit.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
    except sqlite3.Error as err:
        raise translate(err) from err
    return sqlite_utils.Database(conn)


def translate(err: sqlite3.Error) -> StorageError:
    """Turn an sqlite3 error into a StorageError an officer can act on."""
    text = str(err).lower()
    if "full" in text:
        return StorageError(
            "Ổ đĩa của máy đã đầy; chưa lưu được. Báo kỹ thuật viên giải phóng dung lượng.",
            "The box's disk is full; nothing was saved. Ask a technician to free space.",
            code="disk_full",
        )
    if "readonly" in text or "read-only" in text:
        return StorageError(
            "Cơ sở dữ liệu đang ở chế độ chỉ đọc; chưa lưu được. Báo kỹ thuật viên.",
            "The database is read-only; nothing was saved. Call a technician.",
            code="read_only",
        )
    if "locked" in text or "busy" in text:
        return StorageError(
            "Máy đang bận ghi dữ liệu; thử lại sau giây lát.",
            "The box is busy writing; try again in a moment.",
            code="busy",
        )
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return StorageError(
            "Tệp cơ sở dữ liệu bị hỏng. Chạy 'motcua doctor' hoặc báo kỹ thuật viên.",
            "The database file is damaged. Run 'motcua doctor' or call a technician.",
            code="corrupt",
        )
    return StorageError(
        f"Lỗi lưu trữ: {err}.",
        f"Storage error: {err}.",
        code="storage",
    )


@contextmanager
def write(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Run a block in one IMMEDIATE transaction: all of it lands, or none of it."""
    conn = db.conn
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as err:
        raise translate(err) from err
    try:
        yield db
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise translate(exc) from exc
        raise
    else:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise translate(err) from err
