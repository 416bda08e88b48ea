"""Scans at the hub: resumable chunked uploads named by SHA-256, checked whole before they count.

A blob's row is locked while a chunk is stored, so two hub processes cannot interleave chunks of
one blob. When the last byte arrives the chunks are read back in order through hashlib; a blob
whose hash is not its name is discarded (chunks deleted, offset back to 0) and the upload refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sync.hub.db import HubDB
from sync.protocol import SyncError

MAX_BLOB_BYTES = 1024 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_READ_CHUNKS = 16


class BlobNameError(SyncError):
    """The blob's name is not a lowercase hex SHA-256."""

    status = 400
    default_code = "bad_blob_name"


class BlobSizeError(SyncError):
    """The declared size or offset is impossible for this blob."""

    status = 422
    default_code = "bad_blob_size"


class OffsetMismatchError(SyncError):
    """The chunk does not start where the hub's copy ends; details carry the offset held."""

    status = 409
    default_code = "offset_mismatch"


class ChunkTooLargeError(SyncError):
    """A chunk over the hub's chunk limit."""

    status = 413
    default_code = "chunk_too_large"


class BlobHashMismatchError(SyncError):
    """The whole blob does not hash to its name; the upload was discarded."""

    status = 422
    default_code = "blob_hash_mismatch"


@dataclass(frozen=True)
class BlobState:
    """How much of a blob the hub holds."""

    offset: int
    complete: bool


def check_sha256(sha256: str) -> str:
    """Return a blob name (64 lowercase hex digits) or raise BlobNameError."""
    if not _SHA256.fullmatch(sha256):
        raise BlobNameError(
            "Tên tệp phải là mã SHA-256 gồm 64 chữ số thập lục phân viết thường.",
            "A blob name must be its SHA-256: 64 lowercase hex digits.",
        )
    return sha256


def blob_state(db: HubDB, sha256: str) -> BlobState:
    """Return the bytes held of a blob and whether it is complete (0 and False when unknown)."""
    row = db.one("SELECT received, complete FROM blobs WHERE sha256 = ?", [check_sha256(sha256)])
    return BlobState(int(row[0]), bool(row[1])) if row else BlobState(0, False)


def _check_size(size: int, offset: int, length: int) -> None:
    if not 0 <= size <= MAX_BLOB_BYTES:
        raise BlobSizeError(
            f"Kích thước tệp {size} byte không hợp lệ (tối đa {MAX_BLOB_BYTES} byte).",
            f"Blob size {size} bytes is invalid (at most {MAX_BLOB_BYTES} bytes).",
        )
    if offset < 0 or offset + length > size:
        raise BlobSizeError(
            f"Đoạn từ byte {offset}, dài {length} byte, vượt quá kích thước tệp {size} byte.",
            f"A chunk at offset {offset} of {length} bytes runs past the blob size {size}.",
        )


def _chunks_in_order(db: HubDB, sha256: str) -> Iterator[bytes]:
    """Yield a blob's chunks in offset order, a few rows at a time."""
    after = -1
    while True:
        rows = db.query(
            'SELECT "offset", data FROM blob_chunks WHERE sha256 = ? AND "offset" > ? ORDER BY "offset" LIMIT ?',
            [sha256, after, _READ_CHUNKS],
        )
        for offset, data in rows:
            after = int(offset)
            yield bytes(data)
        if len(rows) < _READ_CHUNKS:
            return


def _hash_matches(db: HubDB, sha256: str) -> bool:
    hasher = hashlib.sha256()
    for data in _chunks_in_order(db, sha256):
        hasher.update(data)
    return hasher.hexdigest() == sha256


def put_chunk(
    db: HubDB, sha256: str, offset: int, size: int, data: bytes, *, now_iso: str, max_chunk_bytes: int
) -> BlobState:
    """Store one chunk at its offset; return what the hub holds now, or raise a SyncError."""
    check_sha256(sha256)
    if len(data) > max_chunk_bytes:
        raise ChunkTooLargeError(
            f"Đoạn tệp {len(data)} byte vượt giới hạn {max_chunk_bytes} byte.",
            f"The chunk of {len(data)} bytes is over the limit of {max_chunk_bytes} bytes.",
            limit=max_chunk_bytes,
        )
    _check_size(size, offset, len(data))
    discarded = False
    with db.transaction():
        db.execute(
            "INSERT INTO blobs (sha256, size, created_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            [sha256, size, now_iso],
        )
        db.lock_row("blobs", "sha256", sha256)
        row = db.one("SELECT size, received, complete FROM blobs WHERE sha256 = ?", [sha256])
        assert row is not None  # inserted or held above
        held_size, received, complete = int(row[0]), int(row[1]), bool(row[2])
        if complete:
            return BlobState(received, True)  # a complete blob is never taken again
        if held_size != size:
            if received:
                raise BlobSizeError(
                    f"Tệp này đang được tải lên với kích thước {held_size} byte, không phải {size}.",
                    f"This blob is being uploaded with size {held_size} bytes, not {size}.",
                    size=held_size,
                )
            db.execute("UPDATE blobs SET size = ? WHERE sha256 = ?", [size, sha256])
        if offset != received:
            raise OffsetMismatchError(
                f"Máy chủ đang giữ {received} byte của tệp này; hãy gửi tiếp từ byte {received}.",
                f"The hub holds {received} bytes of this blob; resume from offset {received}.",
                offset=received,
            )
        if data:
            db.execute('INSERT INTO blob_chunks (sha256, "offset", data) VALUES (?, ?, ?)', [sha256, offset, data])
        received += len(data)
        complete = received == size
        if complete and not _hash_matches(db, sha256):
            db.execute("DELETE FROM blob_chunks WHERE sha256 = ?", [sha256])
            db.execute("UPDATE blobs SET received = 0 WHERE sha256 = ?", [sha256])
            discarded = True
        else:
            db.execute(
                "UPDATE blobs SET received = ?, complete = ?, completed_at = ? WHERE sha256 = ?",
                [received, int(complete), now_iso if complete else None, sha256],
            )
    if discarded:  # raised after the commit, so the discard itself is kept
        raise BlobHashMismatchError(
            "Tệp đã nhận đủ nhưng mã SHA-256 không khớp tên; phần đã tải bị bỏ, hãy gửi lại từ đầu.",
            "The whole blob does not match its SHA-256 name; the upload was discarded, send it again.",
        )
    return BlobState(received, complete)


def read_blob(db: HubDB, sha256: str) -> bytes | None:
    """Return a complete blob's bytes, or None when the hub does not hold all of it."""
    if not _SHA256.fullmatch(sha256) or not blob_state(db, sha256).complete:
        return None
    return b"".join(_chunks_in_order(db, sha256))
