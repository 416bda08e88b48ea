"""The print-job queue: every ticket and receipt is a job in the box's DB until it is printed.

A job is written before anything is sent, so it survives a restart. One worker (in the web
service) prints jobs in order. A job ends in a state the officer sees and can act on:

- `printed`;
- `waiting` — the printer cannot print now (paper out, cover open, unplugged, not set up): the
  job is retried by itself, every few seconds, for as long as it takes; no job is dropped for
  being old;
- `failed` — something went wrong after bytes were sent (the printer stalled or ran out of
  paper mid-job, or the box stopped while printing): the page may be partly printed, so the job
  is NOT repeated by itself (a retry must never print twice); the officer checks and presses
  "In lại" (reprint), which makes a new job.

A caller may give its own job id: asking twice with the same id makes one job, never two.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from edge import devicehealth
from edge.calendar import TZ
from edge.errors import EdgeError, NotFoundError, ValidationError
from edge.events import iso
from edge.ports import (
    PRINTER_ROLES,
    ROLE_NAMES,
    DeviceFailure,
    DeviceOpener,
    Document,
    NotConfigured,
    NotDelivered,
    NotReady,
    OutcomeUnknown,
)
from edge.store.db import write

KINDS = {
    "ticket": ("Phiếu số thứ tự", "Queue ticket"),
    "dossier_receipt": ("Giấy tiếp nhận hồ sơ", "Dossier receipt"),
    "fee_receipt": ("Biên lai thu phí, lệ phí", "Fee receipt"),
    "test_page": ("Trang in thử", "Test page"),
}
STATES = {
    "queued": ("Chờ in", "Queued"),
    "printing": ("Đang in", "Printing"),
    "printed": ("Đã in", "Printed"),
    "waiting": ("Đang chờ máy in", "Waiting for the printer"),
    "failed": ("In lỗi", "Failed"),
}
log = logging.getLogger("motcua.printing")
RETRY_S = (2, 5, 10, 20, 30)  # waiting jobs: seconds before the next try, by attempt; then every 30 s
_COLUMNS = (
    "id", "role", "kind", "body", "dossier_id", "state", "reason_code", "reason_vi", "reason_en", "attempts",
    "next_attempt_at", "reprint_of", "device_url", "bytes_sent", "output", "created_by", "created_at", "updated_at",
    "printed_at",
)  # fmt: skip


@dataclass(frozen=True)
class _Reason:
    code: str
    vi: str
    en: str


_INTERRUPTED = _Reason(
    "interrupted",
    "Máy dừng khi đang in; phiếu có thể chưa in hoặc in thiếu. Kiểm tra rồi bấm “In lại”.",
    "The box stopped while printing; the page may be missing or incomplete. Check, then press “Reprint”.",
)
_NEAR_END = _Reason(
    "paper_near_end",
    "Đã in. Máy in sắp hết giấy: chuẩn bị cuộn giấy mới.",
    "Printed. The printer is nearly out of paper: get a new roll ready.",
)
_INTERNAL = _Reason(
    "internal_error",
    "Lỗi phần mềm khi in; phiếu có thể chưa in. Báo kỹ thuật viên, rồi bấm “In lại”.",
    "A software error while printing; the page may not be printed. Tell a technician, then press “Reprint”.",
)
_PAPER_RAN_OUT = _Reason(
    "paper_out_during_print",
    "Hết giấy trong khi in; phiếu có thể in thiếu. Thay giấy rồi bấm “In lại”.",
    "The paper ran out while printing; the page may be incomplete. Load paper, then press “Reprint”.",
)


def _now(clock: datetime | None) -> datetime:
    return clock or datetime.now(TZ).replace(microsecond=0)


def _local(text: str | None) -> str:
    """Format an ISO moment as it is printed on paper: 26/11/2026 14:05 (Vietnam time)."""
    if not text:
        return ""
    return datetime.fromisoformat(text).astimezone(TZ).strftime("%d/%m/%Y %H:%M")


def dossier_receipt(office: str, dossier: Mapping[str, Any]) -> Document:
    """Return the thermal receipt of a dossier (giấy tiếp nhận, short form) from its folded state."""
    return Document(
        "dossier_receipt",
        {
            "office": office,
            "code": dossier["code"],
            "procedure": dossier["procedure"]["name"],
            "applicant": dossier["applicant"]["full_name"],
            "received_at": _local(dossier.get("received_at")),
            "due_at": _local(dossier.get("due_at")) or "—",
        },
    )


def enqueue(
    db: sqlite_utils.Database,
    role: str,
    document: Document,
    actor: str,
    *,
    dossier_id: str | None = None,
    job_id: str | None = None,
    reprint_of: str | None = None,
    now: datetime | None = None,
) -> str:
    """Queue a document for the printer of a role; return the job id (the same job for the same id)."""
    if role not in PRINTER_ROLES:
        raise ValidationError(f"Không có máy in “{role}”.", f"No printer role “{role}”.", code="invalid_printer")
    if document.kind not in KINDS:
        raise ValidationError(
            f"Không in được loại “{document.kind}”.", f"Cannot print kind “{document.kind}”.", code="invalid_kind"
        )
    job = job_id or str(uuid.uuid4())
    if not isinstance(job, str) or not 1 <= len(job) <= 64:
        raise ValidationError("Mã lệnh in không hợp lệ.", "Invalid print job id.", code="invalid_job_id")
    moment = iso(_now(now))
    body = json.dumps(dict(document.fields), ensure_ascii=False, sort_keys=True)
    with write(db):
        db.execute(
            "INSERT INTO print_jobs (id, role, kind, body, dossier_id, state, reprint_of, created_by, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            [job, role, document.kind, body, dossier_id, reprint_of, actor, moment, moment],
        )
    return job


def _row(values: Any) -> dict[str, Any]:
    job = dict(zip(_COLUMNS, values, strict=True))
    job["fields"] = json.loads(job.pop("body"))
    job["pages"] = [Path(p).name for p in (job.pop("output") or "").splitlines()]
    job["state_vi"], job["state_en"] = STATES[job["state"]]
    job["kind_vi"], job["kind_en"] = KINDS.get(job["kind"], (job["kind"], job["kind"]))
    job["role_vi"], job["role_en"] = ROLE_NAMES.get(job["role"], (job["role"], job["role"]))
    return job


def get_job(db: sqlite_utils.Database, job_id: str) -> dict[str, Any]:
    """Return one job, or raise NotFoundError."""
    row = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM print_jobs WHERE id = ?", [job_id]).fetchone()
    if row is None:
        raise NotFoundError(f"Không có lệnh in {job_id}.", f"No print job {job_id}.", code="print_job_not_found")
    return _row(row)


def list_jobs(db: sqlite_utils.Database, limit: int = 50, dossier_id: str | None = None) -> list[dict[str, Any]]:
    """Return the newest jobs first (of one dossier when given)."""
    where, params = ("WHERE dossier_id = ?", [dossier_id]) if dossier_id else ("", [])
    rows = db.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM print_jobs {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [_row(r) for r in rows]


def reprint(db: sqlite_utils.Database, job_id: str, actor: str, now: datetime | None = None) -> str:
    """Queue the same document again as a new job (the officer's "In lại"); return the new id."""
    job = get_job(db, job_id)
    return enqueue(
        db,
        job["role"],
        Document(job["kind"], job["fields"]),
        actor,
        dossier_id=job["dossier_id"],
        reprint_of=job_id,
        now=now,
    )


def recover_interrupted(db: sqlite_utils.Database, now: datetime | None = None) -> int:
    """At start: jobs left `printing` by a stop become `failed` (they may have printed); return how many."""
    moment = iso(_now(now))
    with write(db):
        cur = db.execute(
            "UPDATE print_jobs SET state = 'failed', reason_code = ?, reason_vi = ?, reason_en = ?, updated_at = ?"
            " WHERE state = 'printing'",
            [_INTERRUPTED.code, _INTERRUPTED.vi, _INTERRUPTED.en, moment],
        )
    return int(cur.rowcount)


def _claim(db: sqlite_utils.Database, moment: str) -> dict[str, Any] | None:
    """Take the oldest due job and mark it `printing`."""
    with write(db):
        row = db.execute(
            f"UPDATE print_jobs SET state = 'printing', attempts = attempts + 1, updated_at = ? WHERE id = ("
            "SELECT id FROM print_jobs WHERE state IN ('queued', 'waiting')"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY created_at, rowid LIMIT 1)"
            f" RETURNING {', '.join(_COLUMNS)}",
            [moment, moment],
        ).fetchone()
    return _row(row) if row else None


def _finish(
    db: sqlite_utils.Database,
    job: Mapping[str, Any],
    state: str,
    moment: datetime,
    *,
    reason: _Reason | EdgeError | None = None,
    url: str = "",
    bytes_sent: int | None = None,
    output: tuple[str, ...] = (),
) -> None:
    retry = None
    if state == "waiting":
        retry = iso(moment + timedelta(seconds=RETRY_S[min(job["attempts"], len(RETRY_S)) - 1]))
    with write(db):
        db.execute(
            "UPDATE print_jobs SET state = ?, reason_code = ?, reason_vi = ?, reason_en = ?, next_attempt_at = ?,"
            " device_url = ?, bytes_sent = ?, output = ?, updated_at = ?, printed_at = ? WHERE id = ?",
            [
                state,
                reason.code if reason else None,
                reason.vi if reason else None,
                reason.en if reason else None,
                retry,
                url or None,
                bytes_sent,
                "\n".join(output) or None,
                iso(moment),
                iso(moment) if state == "printed" else None,
                job["id"],
            ],
        )


def process_one(db: sqlite_utils.Database, opener: DeviceOpener, now: datetime | None = None) -> bool:
    """Print the oldest due job, if any; return whether there was one."""
    moment = _now(now)
    job = _claim(db, iso(moment))
    if job is None:
        return False
    role = job["role"]
    url = opener.url(role)
    try:
        printer = opener.printer(role)
        try:
            outcome = printer.print(Document(job["kind"], job["fields"]))
            after = printer.status()
        finally:
            printer.close()
    except (NotReady, NotDelivered, NotConfigured) as err:
        _finish(db, job, "waiting", _now(now), reason=err, url=url)  # nothing was printed: try again later
        if not isinstance(err, NotConfigured):
            devicehealth.record_error(db, role, url, err, at=iso(_now(now)))
        return True
    except DeviceFailure as err:  # OutcomeUnknown and anything else after bytes may have gone out
        _finish(db, job, "failed", _now(now), reason=err, url=url)
        devicehealth.record_error(db, role, url, err, at=iso(_now(now)))
        return True
    except Exception as exc:  # a bug must not leave the job "printing" nor stop the queue behind it
        log.exception("print job %s failed", job["id"])
        _finish(db, job, "failed", _now(now), reason=_Reason("internal_error", _INTERNAL.vi, f"{_INTERNAL.en} ({exc})"))
        return True
    if after is not None and after.paper_out:
        _finish(db, job, "failed", _now(now), reason=_PAPER_RAN_OUT, url=url, bytes_sent=outcome.bytes_sent)
        ran_out = OutcomeUnknown(_PAPER_RAN_OUT.vi, _PAPER_RAN_OUT.en, code="paper_out")
        devicehealth.record_error(db, role, url, ran_out, at=iso(_now(now)))
        return True
    warning = _NEAR_END if after is not None and after.paper_near_end else None
    _finish(db, job, "printed", _now(now), reason=warning, url=url, bytes_sent=outcome.bytes_sent, output=outcome.saved)
    devicehealth.record_ok(db, role, url, detail=", ".join(outcome.saved), at=iso(_now(now)))
    return True


class PrintWorker:
    """The one thread that prints queued jobs, woken by each new job and every second otherwise."""

    def __init__(self, db_factory: Any, opener: DeviceOpener, poll_s: float = 1.0) -> None:
        self._db_factory = db_factory
        self._opener = opener
        self._poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="print-worker", daemon=True)

    def start(self) -> None:
        """Fail the jobs a stop interrupted, then start printing."""
        recover_interrupted(self._db_factory())
        self._thread.start()

    def wake(self) -> None:
        """Look for work now (after a job was queued)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop after the job in hand."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        db = self._db_factory()
        while not self._stop.is_set():
            try:
                busy = process_one(db, self._opener)
            except Exception:  # a DB that is busy or full, or a bug: keep the worker alive, try on the next tick
                log.exception("print worker")
                busy = False
            if not busy:
                self._wake.wait(self._poll_s)
                self._wake.clear()


def wait_for(db: sqlite_utils.Database, job_id: str, timeout_s: float, poll_s: float = 0.1) -> dict[str, Any]:
    """Wait until a job leaves `queued`/`printing` (or the time is up); return it as it stands."""
    stop = threading.Event()
    waited = 0.0
    job = get_job(db, job_id)
    while job["state"] in ("queued", "printing") and waited < timeout_s:
        stop.wait(poll_s)
        waited += poll_s
        job = get_job(db, job_id)
    return job
