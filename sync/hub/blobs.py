"""Scans at the hub: resumable chunked uploads named by SHA-256, checked whole before they count.

A blob's row is locked while a chunk is stored, so two hub processes cannot interleave chunks of
one blob. When the last byte arrives the chunks are read back in order through hashlib; a blob
whose hash is not its name is discarded (chunks deleted, offset back to 0) and the upload refused.

Small scans also come whole, many in one request (a pack, PROTOCOL.md): each is hashed before it
is stored, a mismatching one is refused alone, and the others are stored complete in one
transaction. The hub's progress on many blobs is answered in one query (blob_states).
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sync.hub.db import HubDB
from sync.protocol import SyncError

MAX_BLOB_BYTES = 1024 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_READ_CHUNKS = 16
PACK_MAGIC = b"MCP1"
PACK_FRAME = struct.Struct(">32sI")  # the blob's raw SHA-256, then its length in bytes (big-endian)
MAX_PACK_BYTES = 8 * 1024 * 1024
MAX_PACK_BLOBS = 1000
MAX_STATUS_BLOBS = 1000


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


class MalformedPackError(SyncError):
    """A pack whose framing cannot be read; nothing of it is stored."""

    status = 422
    default_code = "malformed_pack"


class PackTooLargeError(SyncError):
    """A pack over the hub's limits (bytes or blobs); nothing of it is stored."""

    status = 413
    default_code = "pack_too_large"


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


def blob_states(db: HubDB, names: Sequence[str]) -> dict[str, BlobState]:
    """Return the bytes held and completeness of many blobs at once (unknown ones: 0 and False)."""
    states = {check_sha256(n): BlobState(0, False) for n in names}
    wanted = sorted(states)
    for start in range(0, len(wanted), MAX_STATUS_BLOBS):
        part = wanted[start : start + MAX_STATUS_BLOBS]
        marks = ", ".join("?" * len(part))
        for sha256, received, complete in db.query(
            f"SELECT sha256, received, complete FROM blobs WHERE sha256 IN ({marks})", part
        ):
            states[str(sha256)] = BlobState(int(received), bool(complete))
    return states


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


# ---- packs of whole blobs ----------------------------------------------------------------------


@dataclass
class PackResult:
    """What the hub did with each blob of a pack."""

    stored: list[str] = field(default_factory=list)
    already_held: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)  # {"sha256", "code", "message"}

    def to_dict(self) -> dict[str, object]:
        """Return the JSON answer of POST /sync/v1/blobs/pack."""
        return {"stored": self.stored, "already_held": self.already_held, "rejected": self.rejected}


def _malformed(vi: str, en: str) -> MalformedPackError:
    return MalformedPackError(f"Gói tệp scan không đọc được: {vi}.", f"The blob pack cannot be read: {en}.")


def decode_pack(body: bytes) -> list[tuple[str, bytes]]:
    """Read a pack body into (name, bytes) in order, or raise MalformedPackError / PackTooLargeError."""
    if len(body) > MAX_PACK_BYTES:
        raise PackTooLargeError(
            f"Gói tệp scan {len(body)} byte vượt giới hạn {MAX_PACK_BYTES} byte.",
            f"The blob pack of {len(body)} bytes is over the limit of {MAX_PACK_BYTES} bytes.",
            limit=MAX_PACK_BYTES,
        )
    if not body.startswith(PACK_MAGIC):
        raise _malformed("thiếu dấu mở đầu “MCP1”", "it does not start with “MCP1”")
    view = memoryview(body)
    position = len(PACK_MAGIC)
    blobs: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    while position < len(body):
        if len(blobs) >= MAX_PACK_BLOBS:
            raise PackTooLargeError(
                f"Gói tệp scan có hơn {MAX_PACK_BLOBS} tệp.",
                f"The blob pack holds more than {MAX_PACK_BLOBS} blobs.",
                limit=MAX_PACK_BLOBS,
            )
        if position + PACK_FRAME.size > len(body):
            raise _malformed(
                f"đầu khung tệp thứ {len(blobs) + 1} bị cắt", f"the header of frame {len(blobs) + 1} is cut"
            )
        raw, length = PACK_FRAME.unpack_from(body, position)
        position += PACK_FRAME.size
        if position + length > len(body):
            raise _malformed(
                f"tệp thứ {len(blobs) + 1} khai {length} byte nhưng gói chỉ còn {len(body) - position} byte",
                f"blob {len(blobs) + 1} declares {length} bytes but only {len(body) - position} remain",
            )
        name = raw.hex()
        if name in seen:
            raise _malformed(f"tệp {name[:12]}… xuất hiện hai lần", f"blob {name[:12]}… appears twice")
        seen.add(name)
        blobs.append((name, bytes(view[position : position + length])))
        position += length
    if not blobs:
        raise _malformed("gói không có tệp nào", "the pack holds no blob")
    return blobs


def store_pack(db: HubDB, blobs: Sequence[tuple[str, bytes]], *, now_iso: str, max_chunk_bytes: int) -> PackResult:
    """Store whole blobs complete in one transaction; skip those held complete, refuse those not matching their name.

    A blob held in part (an interrupted chunked upload) is replaced by the whole one. Rows are locked
    in name order, so two hub processes storing overlapping packs cannot deadlock.
    """
    result = PackResult()
    good: dict[str, bytes] = {}
    for sha256, data in blobs:
        check_sha256(sha256)
        if hashlib.sha256(data).hexdigest() != sha256:
            result.rejected.append(
                {
                    "sha256": sha256,
                    "code": BlobHashMismatchError.default_code,
                    "message": "Mã SHA-256 của tệp không khớp tên; tệp không được lưu, hãy gửi lại.",
                    "message_en": "The blob does not match its SHA-256 name; it was not stored, send it again.",
                }
            )
        else:
            good[sha256] = data
    if not good:
        return result
    names = sorted(good)
    marks = ", ".join("?" * len(names))
    suffix = " FOR UPDATE" if db.kind == "postgresql" else ""
    with db.transaction():
        db.executemany(
            "INSERT INTO blobs (sha256, size, created_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            [(n, len(good[n]), now_iso) for n in names],
        )
        rows = db.query(
            f"SELECT sha256, received, complete FROM blobs WHERE sha256 IN ({marks}) ORDER BY sha256{suffix}", names
        )
        held = {str(r[0]): (int(r[1]), bool(r[2])) for r in rows}
        fresh = [n for n in names if not held[n][1]]
        partial = [(n,) for n in fresh if held[n][0] > 0]
        if partial:
            db.executemany("DELETE FROM blob_chunks WHERE sha256 = ?", partial)
        chunks = [
            (n, offset, good[n][offset : offset + max_chunk_bytes])
            for n in fresh
            for offset in range(0, len(good[n]), max_chunk_bytes)
        ]
        if chunks:
            db.executemany('INSERT INTO blob_chunks (sha256, "offset", data) VALUES (?, ?, ?)', chunks)
        if fresh:
            db.executemany(
                "UPDATE blobs SET size = ?, received = ?, complete = 1, completed_at = ? WHERE sha256 = ?",
                [(len(good[n]), len(good[n]), now_iso, n) for n in fresh],
            )
    stored = set(fresh)
    for sha256, _ in blobs:  # answered in the pack's order
        if sha256 in good:
            (result.stored if sha256 in stored else result.already_held).append(sha256)
    return result
