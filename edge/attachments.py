"""Attachments: scans stored once per content (SHA-256) under the data dir."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from edge import audit, events, projection
from edge.actions import find_state
from edge.box import Box
from edge.errors import TooLargeError, ValidationError, megabytes
from edge.events import now_iso
from edge.store.db import translate, write
from edge.text import nfc
from edge.users import User, require

# What the office scans: PDF, JPEG, PNG — recognised by their first bytes, not by the name.
MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
_CHUNK = 1 << 16


def blob_path(blob_dir: Path, sha256: str) -> Path:
    """Return where a blob with this hash lives."""
    return blob_dir / sha256[:2] / sha256


def sniff(head: bytes) -> str | None:
    """Return the content type of a file from its first bytes, or None if not allowed."""
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    return None


def file_too_large(limit: int) -> TooLargeError:
    """Return the error for a file over the upload limit."""
    size = megabytes(limit)
    return TooLargeError(
        f"Tệp quá lớn: tối đa {size} MB. Quét lại với độ phân giải thấp hơn.",
        f"The file is too large: {size} MB at most. Scan at a lower resolution.",
        code="file_too_large",
        field="file",
    )


def store_blob(blob_dir: Path, stream: IO[bytes], max_bytes: int) -> tuple[str, int, str]:
    """Copy a stream into the blob store; return (sha256, size, content type)."""
    blob_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=blob_dir, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise file_too_large(max_bytes)
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        kind = sniff(head)
        if size == 0 or kind is None:
            raise ValidationError(
                "Chỉ nhận tệp PDF, JPEG hoặc PNG.",
                "Only PDF, JPEG or PNG files are accepted.",
                code="file_type",
                field="file",
            )
        sha = digest.hexdigest()
        target = blob_path(blob_dir, sha)
        target.parent.mkdir(exist_ok=True)
        if target.exists():
            os.unlink(tmp_name)
        else:
            os.replace(tmp_name, target)
        return sha, size, kind
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def clean_filename(name: object) -> str:
    """Return a safe display name for an uploaded file: unsafe characters become "_"."""
    text = nfc(name) if isinstance(name, str) else ""
    text = os.path.basename(text.replace("\\", "/"))
    # The name is only shown and offered on download: keep letters, digits and a few marks.
    text = "".join(c if c.isalnum() or c in " .-_()" else "_" for c in text).strip(" .")
    return text[-200:] or "tep-dinh-kem"


def attach(box: Box, user: User, code: str, stream: IO[bytes], filename: object, source: str = "") -> dict[str, Any]:
    """Store a scan and attach it to a dossier; return its sha256, size, name and type."""
    require(user, "dossier.act")
    name = clean_filename(filename)
    find_state(box, code)  # fail before reading a large body for a dossier that does not exist
    try:
        sha, size, kind = store_blob(box.settings.blob_dir, stream, box.settings.max_upload_bytes)
    except OSError as err:
        raise translate(err) from err
    db = box.db()
    info = {"sha256": sha, "size": size, "name": name, "content_type": kind}
    with write(db):
        state = find_state(box, code)
        if any(a["sha256"] == sha for a in state["attachments"]):
            return info  # the same scan again (a retry, a double submit): already attached, nothing to add
        stored = db.execute(
            "INSERT OR IGNORE INTO blobs (sha256, size, content_type, created_at) VALUES (?, ?, ?, ?)",
            [sha, size, kind, now_iso()],
        )
        if stored.rowcount:  # a scan seen for the first time goes to the hub once
            db.execute("INSERT INTO blob_outbox (sha256, queued_at) VALUES (?, ?)", [sha, now_iso()])
        event = events.new_event(
            db,
            state["dossier_id"],
            "attachment_added",
            {**info, "uploaded_by": user.username},
            actor=user.username,
            origin=box.origin,
            wall_time=events.iso(box.now()),
        )
        events.record(db, event)
        projection.refold(db, state["dossier_id"])
        audit.record(db, user.username, "attachment_added", target=code, detail=info, source=source)
    return info


def open_blob(box: Box, sha256: str) -> Path:
    """Return the path of a stored blob, or raise ValidationError for a malformed hash."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValidationError("Mã tệp không hợp lệ.", "Invalid file hash.", code="invalid_hash", field="sha256")
    return blob_path(box.settings.blob_dir, sha256)
