"""Backups of a running box and their restore: a copy that proves itself before anything is written.

`create_backup` copies the DB with SQLite's online backup API (the box keeps serving), the blobs,
the config files (motcua.toml, secrets.toml, sync.toml, sync-secret.toml — a restored box is the
same box, secrets stay 0600) and the high-water files of state/, then writes manifest.json (app and
schema version, box id, created_at, each file's path, size, SHA-256 and mode). Each backup is a
folder DEST/motcua-<box>-<yyyymmdd-HHMMSS>; it is written under a ".partial-" name and renamed when
complete, so a half-written backup is never taken for a good one.

`restore_backup` checks the manifest first (every hash and size, no file missing or extra, a schema
not newer than this app) and refuses before writing anything; it refuses a folder that already holds
a box unless forced; then restores and runs `PRAGMA integrity_check`.

The rule for numbers already issued (dossier codes, fee receipt numbers), after a restore of an old
backup:

1. The high-water files (state/codes.json, state/receipts.json) are written before each number's
   transaction commits. A restore never lowers them: it keeps, key by key, the larger of the mark
   already in the target folder (restoring over the same box with --force), the mark of another
   folder named with `marks_from` (the broken box's old data dir on the same machine), and the
   mark in the backup. A mark only fences if it survives the restore, so the live marks are
   merged, never replaced by the backup's older copy.
2. The box's own events made after the backup live on at the hub. The feed repair brings them back
   (sync.client.pull: an own event the box does not hold makes it re-read the feed with the bodies
   of its own events); `recover_marks` then raises the DB's sequences to the highest dossier code and
   receipt number those events hold (audit "sequence_fenced", why "restore").
3. With neither (a new machine, no hub reachable), only the backup's marks are known: numbers
   issued after the backup and never synced may be issued again. Sync before opening the counter.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from edge import __version__, audit
from edge.box import Box
from edge.calendar import TZ
from edge.cashier import raise_receipt_marks
from edge.codeformat import BOX_FIRST, BOX_LAST
from edge.codes import HIGH_WATER_FILE, _read_marks, _write_marks
from edge.config import CONFIG_FILE, DB_FILE, SECRETS_FILE, load_settings
from edge.errors import EdgeError
from edge.store.db import connect, write
from edge.store.migrations import latest_version, schema_version

MANIFEST = "manifest.json"
FORMAT = 1
# Config files copied when present (sync.toml and its secret are sync.client.config's names).
CONFIG_FILES = (CONFIG_FILE, SECRETS_FILE, "sync.toml", "sync-secret.toml")
SECRET_FILES = frozenset({SECRETS_FILE, "sync-secret.toml"})
MARK_FILES = (HIGH_WATER_FILE, "receipts.json")  # edge.codes, edge.cashier
_PARTIAL = ".partial-"
_CHUNK = 1 << 20
_MODE = re.compile(r"[0-7]{3}")


class BackupError(EdgeError):
    """A backup cannot be made or restored (what is wrong is in the message)."""

    status = 409


@dataclass(frozen=True)
class Backup:
    """A finished backup folder and what it holds."""

    path: Path
    files: int
    bytes: int
    manifest: dict[str, Any]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(src: Path, dst: Path, mode: int | None = None) -> None:
    """Copy a file and fsync it; a secret file is created 0600 before a byte is written."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if mode is None else mode)
    with open(src, "rb") as inp, os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(inp, out, _CHUNK)
        out.flush()
        os.fsync(out.fileno())
    if mode is not None:
        os.chmod(dst, mode)


def _data_files(data_dir: Path) -> Iterator[tuple[str, Path]]:
    """Yield (relative path, path) of the files a backup holds besides the DB."""
    for name in CONFIG_FILES:
        if (data_dir / name).is_file():
            yield name, data_dir / name
    for name in MARK_FILES:
        if (data_dir / "state" / name).is_file():
            yield f"state/{name}", data_dir / "state" / name
    blobs = data_dir / "blobs"
    if blobs.is_dir():
        for path in sorted(blobs.rglob("*")):
            if path.is_file() and not path.name.startswith("."):  # ".upload-…": a scan still arriving
                yield path.relative_to(data_dir).as_posix(), path


def _backup_db(source: Path, target: Path) -> int:
    """Copy the live DB with the online backup API into a single file; return its schema version."""
    src = sqlite3.connect(str(source), timeout=30)
    dst = sqlite3.connect(str(target))
    try:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst, pages=1024)
        dst.execute("PRAGMA journal_mode=DELETE")
        version = schema_version(sqlite_utils.Database(dst))
    finally:
        dst.close()
        src.close()
    with open(target, "rb+") as out:
        os.fsync(out.fileno())
    return version


def create_backup(box: Box, dest: Path | str, now: datetime | None = None) -> Backup:
    """Back up a (running) box into a new timestamped folder under dest; return it."""
    settings = box.settings
    moment = (now or datetime.now(TZ)).astimezone(TZ)
    root = Path(dest).resolve()
    if not root.is_dir():
        raise BackupError(
            f"Không thấy thư mục đích {root} (ổ USB đã cắm và gắn chưa?).",
            f"The destination folder {root} does not exist (is the USB stick plugged in and mounted?).",
            code="backup_dest_missing",
        )
    name = f"motcua-{settings.box_id[:8]}-{moment:%Y%m%d-%H%M%S}"
    final = root / name
    if final.exists():
        raise BackupError(
            f"Đã có bản sao lưu {final}; chờ một giây rồi chạy lại.",
            f"The backup {final} already exists; wait a second and run it again.",
            code="backup_exists",
        )
    work = root / (_PARTIAL + name)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700)
    try:
        version = _backup_db(settings.db_path, work / DB_FILE)
        entries = [(DB_FILE, work / DB_FILE, 0o600)]
        for rel, path in _data_files(settings.data_dir):
            mode = 0o600 if rel in SECRET_FILES else 0o640
            _copy(path, work / rel, mode)
            entries.append((rel, work / rel, mode))
        files: list[dict[str, Any]] = [
            {"path": rel, "size": path.stat().st_size, "sha256": _sha256(path), "mode": f"{mode:o}"}
            for rel, path, mode in entries
        ]
        manifest = {
            "format": FORMAT,
            "app": "motcua-edge",
            "app_version": __version__,
            "schema_version": version,
            "box_id": settings.box_id,
            "commune_code": settings.commune_code,
            "agency_code": settings.agency_code,
            "created_at": moment.isoformat(),
            "files": files,
        }
        with open(work / MANIFEST, "w", encoding="utf-8") as out:
            json.dump(manifest, out, ensure_ascii=False, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        for folder in sorted({p.parent for _, p, _ in entries}, key=lambda p: len(p.parts), reverse=True):
            _fsync_dir(folder)
        os.replace(work, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    db = box.db()
    with write(db):
        detail = {"to": str(final), "files": len(files), "schema_version": version}
        audit.record(db, "cli", "backup_made", target=name, detail=detail)
    return Backup(final, len(files), sum(int(f["size"]) for f in files), manifest)


def _refuse(vi: str, en: str, code: str = "backup_invalid") -> BackupError:
    return BackupError(f"Không khôi phục: {vi}", f"Nothing restored: {en}", code=code)


def _safe_path(rel: object) -> str:
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel:
        raise _refuse(f"đường dẫn lạ trong bản kê: {rel!r}.", f"a strange path in the manifest: {rel!r}.")
    if any(part in ("", ".", "..") for part in rel.split("/")) or rel == MANIFEST:
        raise _refuse(f"đường dẫn lạ trong bản kê: {rel!r}.", f"a strange path in the manifest: {rel!r}.")
    return rel


def verify_backup(source: Path | str) -> dict[str, Any]:
    """Check a backup folder against its manifest; return the manifest or raise BackupError (nothing written)."""
    root = Path(source).resolve()
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise _refuse(
            f"không thấy {MANIFEST} trong {root} (chưa sao lưu xong, hoặc không phải bản sao lưu).",
            f"no {MANIFEST} in {root} (an unfinished backup, or not a backup).",
            "backup_no_manifest",
        ) from err
    except (OSError, ValueError) as err:
        raise _refuse(f"bản kê {MANIFEST} không đọc được ({err}).", f"the manifest cannot be read ({err}).") from err
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list) or manifest.get("format") != FORMAT:
        raise _refuse("bản kê sai định dạng.", "the manifest is malformed.")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version > latest_version():
        raise _refuse(
            f"bản sao lưu có lược đồ dữ liệu {version}, mới hơn phiên bản này ({latest_version()}); "
            "nâng cấp phần mềm trước.",
            f"the backup's schema is {version}, newer than this version's ({latest_version()}); upgrade first.",
            "backup_schema_newer",
        )
    listed: dict[str, dict[str, Any]] = {}
    for entry in files:
        mode = entry.get("mode", "640") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("size"), int) or not _MODE.fullmatch(str(mode)):
            raise _refuse("bản kê sai định dạng.", "the manifest is malformed.")
        listed[_safe_path(entry.get("path"))] = entry
    if DB_FILE not in listed or CONFIG_FILE not in listed:
        raise _refuse("bản kê thiếu cơ sở dữ liệu hoặc tệp cấu hình.", "the manifest lacks the DB or the config file.")
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()} - {MANIFEST}
    missing, extra = sorted(set(listed) - present), sorted(present - set(listed))
    if missing:
        raise _refuse(
            f"thiếu {len(missing)} tệp, ví dụ {missing[0]}.", f"{len(missing)} files are missing, e.g. {missing[0]}.",
            "backup_incomplete",
        )  # fmt: skip
    if extra:
        raise _refuse(
            f"có {len(extra)} tệp không có trong bản kê, ví dụ {extra[0]}.",
            f"{len(extra)} files are not in the manifest, e.g. {extra[0]}.",
            "backup_extra_file",
        )
    for rel, entry in sorted(listed.items()):
        path = root / rel
        if path.stat().st_size != entry["size"] or _sha256(path) != entry.get("sha256"):
            raise _refuse(
                f"tệp {rel} khác với bản kê (kích thước hoặc mã băm SHA-256): bản sao lưu bị hỏng.",
                f"the file {rel} does not match the manifest (size or SHA-256): the backup is damaged.",
                "backup_damaged",
            )
    return dict(manifest)


def _holds_box(target: Path) -> bool:
    return any((target / name).exists() for name in (CONFIG_FILE, DB_FILE, SECRETS_FILE))


def _merge_marks(target: Path, *sources: Path) -> None:
    """Write target/state's marks as the larger, key by key, of its own and those of each source state dir."""
    for name in MARK_FILES:
        marks = _read_marks(target / name)
        for source in sources:
            for key, value in _read_marks(source / name).items():
                marks[key] = max(marks.get(key, 0), value)
        if marks:
            _write_marks(target / name, marks)


def restore_backup(
    source: Path | str, data_dir: Path | str, *, force: bool = False, marks_from: Path | str | None = None
) -> dict[str, Any]:
    """Verify a backup, then restore it into data_dir; return the manifest. Raises before writing on any doubt."""
    manifest = verify_backup(source)
    root, target = Path(source).resolve(), Path(data_dir).resolve()
    if _holds_box(target) and not force:
        raise BackupError(
            f"Không khôi phục: {target} đã có một máy; chọn thư mục khác, hoặc thêm --force để ghi đè máy đó.",
            f"Nothing restored: {target} already holds a box; choose another folder, or add --force to replace it.",
            code="box_exists",
        )
    if marks_from is not None and not (Path(marks_from) / "state").is_dir():
        raise BackupError(
            f"Không khôi phục: không thấy thư mục state/ trong {marks_from}.",
            f"Nothing restored: no state/ folder in {marks_from}.",
            code="marks_missing",
        )
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o750)
    state = target / "state"
    state.mkdir(exist_ok=True)
    # The live marks first: merged with the backup's, they are never lowered (see the module docstring).
    _merge_marks(state, root / "state", *([Path(marks_from) / "state"] if marks_from is not None else []))
    for entry in manifest["files"]:
        rel = entry["path"]
        if rel == DB_FILE or rel.startswith("state/"):
            continue
        work = target / (rel + ".restore-tmp")
        _copy(root / rel, work, int(str(entry.get("mode") or "640"), 8) & 0o777)
        os.replace(work, target / rel)
    (target / "blobs").mkdir(exist_ok=True)
    work = target / (DB_FILE + ".restore-tmp")
    _copy(root / DB_FILE, work, 0o600)
    for suffix in ("-wal", "-shm"):
        (target / (DB_FILE + suffix)).unlink(missing_ok=True)
    os.replace(work, target / DB_FILE)
    _fsync_dir(target)
    db = connect(target / DB_FILE)
    try:
        result = db.execute("PRAGMA integrity_check").fetchall()
        if [tuple(r) for r in result] != [("ok",)]:
            raise BackupError(
                f"Đã chép nhưng cơ sở dữ liệu khôi phục không toàn vẹn: {result[0][0]}.",
                f"Copied, but the restored database fails its integrity check: {result[0][0]}.",
                code="restore_integrity",
            )
        with write(db):
            detail = {"from": str(root), "created_at": manifest["created_at"], "files": len(manifest["files"])}
            audit.record(db, "cli", "box_restored", target=str(manifest.get("box_id")), detail=detail)
    finally:
        db.conn.close()
    load_settings(target)  # the restored config reads back
    return manifest


def recover_marks(box: Box, why: str = "restore") -> dict[str, int]:
    """Raise the code and receipt sequences to what this box's own events say was issued; return counts."""
    db = box.db()
    agency = box.settings.agency_code
    with write(db):
        rows = db.execute(
            "SELECT substr(code, ?, 6), max(CAST(substr(code, ?) AS INTEGER)) FROM dossiers"
            " WHERE code LIKE ? AND CAST(substr(code, ?) AS INTEGER) BETWEEN ? AND ? GROUP BY 1",
            [len(agency) + 2, len(agency) + 9, agency + "-%", len(agency) + 9, BOX_FIRST, BOX_LAST],
        ).fetchall()
        codes = 0
        for day, highest in rows:
            found = db.execute("SELECT last FROM code_sequences WHERE day = ?", [day]).fetchone()
            if found is not None and found[0] >= highest:
                continue
            db.execute(
                "INSERT INTO code_sequences (day, last) VALUES (?, ?)"
                " ON CONFLICT(day) DO UPDATE SET last = excluded.last",
                [day, highest],
            )
            detail = {"db": found[0] if found else 0, "issued": highest, "why": why}
            audit.record(db, "system", "sequence_fenced", target=day, detail=detail)
            codes += 1
        receipts = raise_receipt_marks(db, box.origin, why)
    return {"codes": codes, "receipts": receipts}
