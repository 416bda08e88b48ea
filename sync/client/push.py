"""Pushing this box's events and scans to the hub.

Events leave in log order, in batches of at most 500 events / 2 MiB, several batches in flight at
once (a slow link carries more that way); each hub answer is applied in one transaction
(edge.outbox.settle). A refused event stays queued with its reason and blocks nothing. A batch the
hub cannot read at all is split until the event it cannot read is alone, and that one is refused.

Scans: one POST /blobs/status per 1,000 waiting scans tells how many bytes of each the hub holds; a
complete scan is confirmed without being sent. Small scans (at most one chunk, none of it held) go
whole, many in one POST /blobs/pack; the others go in 256 KiB chunks from the offset the hub holds
(resumable). A scan is confirmed only when the hub says it holds it complete. Against a hub without
the batched endpoints the box falls back to a HEAD and chunks per scan.

Each worker thread keeps its DB connection and HTTP session (a kept-alive connection to the hub)
for all the batches and scans it sends, and closes them once when the push ends.
"""

from __future__ import annotations

import hashlib
import json
import queue
import struct
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from edge import outbox, syncstate
from edge.attachments import blob_path
from edge.box import Box
from edge.events import Event
from sync.client.errors import HubRefusedError, SyncClientError
from sync.client.transport import Transport
from sync.protocol import Ack, MalformedAckError, Rejection, decode_ack, encode_batch

MAX_EVENTS = 500
MAX_BATCH_BYTES = 2 * 1024 * 1024
CHUNK_BYTES = 256 * 1024
PACK_BYTES = 256 * 1024  # a pack lost to a reset costs no more than a lost chunk
MIN_UPLOAD_BYTES = 16 * 1024
UPLOAD_SIZE_KEY = "upload_bytes"


def upload_size(db: Any) -> int:
    """Return the chunk and pack size to use now: what the link last carried whole (see adapt_upload_size)."""
    value = syncstate.get(db, UPLOAD_SIZE_KEY, CHUNK_BYTES)
    return max(MIN_UPLOAD_BYTES, min(CHUNK_BYTES, int(value))) if isinstance(value, int | float) else CHUNK_BYTES


def adapt_upload_size(db: Any, *, link_failed: bool, sent: bool) -> int:
    """Halve the upload size after the link dropped mid-upload; double it back after a clean push.

    A link that resets every few seconds never carries a request that takes longer than that: with
    several uploads sharing a 512 kbit/s link, a 256 KiB chunk needs 10 s or more, so the box
    shrinks its requests until they fit between the resets (down to 16 KiB), and grows them again
    once pushes go through, since on a good link large requests waste the fewest round trips.
    The size is kept in sync_state, so a restarted worker or `sync once` starts from what worked.
    """
    size = upload_size(db)
    if link_failed:
        size = max(MIN_UPLOAD_BYTES, size // 2)
    elif sent:
        size = min(CHUNK_BYTES, size * 2)
    syncstate.put(db, UPLOAD_SIZE_KEY, size)
    return size


MAX_PACK_BLOBS = 1000
STATUS_BATCH = 1000
STATUS_BYTES_PER_NAME = 70  # a hex SHA-256 in the JSON list of a status request
STATUS_MIN_WINDOW = 64
BATCH_TYPE = "application/vnd.motcua.batch+gzip"
PACK_TYPE = "application/vnd.motcua.blobpack"
PACK_MAGIC = b"MCP1"
PACK_FRAME = struct.Struct(">32sI")  # a blob's raw SHA-256, then its length in bytes (big-endian)
# Refusals of a whole batch the hub could not read: the sender splits it until the bad event is alone.
UNREADABLE = frozenset({"malformed_batch", "batch_too_large"})
_PACK_REFUSED = frozenset({"malformed_pack", "pack_too_large"})
_BLOB_REFUSED = frozenset({"blob_hash_mismatch", "bad_blob_size", "chunk_too_large", "offset_mismatch"})
_NOT_BUILT = frozenset({404, 405})  # a hub from before the batched blob endpoints
T = TypeVar("T")


class Crew:
    """Worker threads draining one queue of jobs; each keeps its DB connection and HTTP session.

    The calling thread is one of the `workers` (help() has it take jobs too, on the connection it
    already holds); a thread starts with each submitted job until there are `workers` - 1 of them.
    On leaving the `with` block the threads finish the queue, close their DB connection and HTTP
    session once, and stop (the caller's own connections stay open, they are the caller's).
    """

    def __init__(self, box: Box, transport: Transport, workers: int, name: str) -> None:
        self.box = box
        self.transport = transport
        self.workers = max(1, workers)
        self.name = name
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue fn(*args) for a worker; return its future."""
        future: Future[T] = Future()
        with self._lock:
            if len(self._threads) < self.workers - 1:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._jobs.put((future, fn, args))
        return future

    @staticmethod
    def _run(job: tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]) -> None:
        future, fn, args = job
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args))
            except BaseException as err:  # handed to whoever waits on the future
                future.set_exception(err)

    def _work(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                self._run(job)
        finally:
            self.box.close()
            self.transport.close()

    def help(self) -> None:
        """Take queued jobs in the calling thread until the queue is empty."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is None:  # a stop put by close(): leave it for a worker thread
                self._jobs.put(None)
                return
            self._run(job)

    def close(self) -> None:
        """Let the threads finish the queued jobs, then stop them (each closes its connections)."""
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join()

    def __enter__(self) -> Crew:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass
class PushResult:
    """What one push of events did."""

    sent: int = 0
    accepted: int = 0
    already_held: int = 0
    rejected: int = 0
    batches: int = 0

    def add(self, other: PushResult) -> None:
        """Add another result's counts to this one."""
        for name in ("sent", "accepted", "already_held", "rejected", "batches"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def plan_batches(
    events: list[Event], max_events: int = MAX_EVENTS, max_bytes: int = MAX_BATCH_BYTES
) -> list[list[Event]]:
    """Split events, in order, into batches within the count and (uncompressed) size limits."""
    batches: list[list[Event]] = []
    current: list[Event] = []
    size = 0
    for event in events:
        cost = len(json.dumps(event.to_dict(), ensure_ascii=False).encode("utf-8")) + 1
        if current and (len(current) >= max_events or size + cost > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(event)
        size += cost
    if current:
        batches.append(current)
    return batches


def read_ack(content: bytes, batch_id: str) -> Ack:
    """Decode the hub's answer to the batch `batch_id`; raise SyncClientError if it is malformed or another's."""
    try:
        ack = decode_ack(content)
    except MalformedAckError as err:
        raise SyncClientError(err.vi, err.en, code=err.code) from err
    if ack.batch_id != batch_id:
        raise SyncClientError(
            "Máy chủ tỉnh trả lời cho một lô khác; sẽ gửi lại.",
            "The hub answered for another batch; it will be sent again.",
            code="malformed_ack",
        )
    return ack


def own_outcome(ack: Ack, ours: set[str]) -> tuple[list[str], list[Rejection]]:
    """Return the ids of ours the hub holds now (stored or held before) and its refusals of ours."""
    confirmed = [i for i in (*ack.accepted, *ack.already_held) if i in ours]
    return confirmed, [r for r in ack.rejected if r.event_id in ours]


def _post_batch(box: Box, transport: Transport, events: list[Event]) -> PushResult:
    """Send one batch and apply the hub's answer; split a batch the hub cannot read."""
    batch_id = str(uuid.uuid4())
    body = encode_batch([e.to_dict() for e in events], box_id=transport.box_id, batch_id=batch_id)
    try:
        response = transport.request("POST", "/sync/v1/events", body=body, content_type=BATCH_TYPE)
    except HubRefusedError as err:
        if err.code not in UNREADABLE:
            raise
        if len(events) > 1:
            half = len(events) // 2
            result = _post_batch(box, transport, events[:half])
            result.add(_post_batch(box, transport, events[half:]))
            return result
        outbox.refuse(box.db(), [outbox.Refusal(events[0].event_id, err.code, err.en)])
        return PushResult(sent=1, rejected=1, batches=1)
    ack = read_ack(response.content, batch_id)
    confirmed, rejected = own_outcome(ack, {e.event_id for e in events})
    refusals = [outbox.Refusal(r.event_id, r.code, r.message) for r in rejected]
    outbox.settle(box.db(), confirmed, refusals)
    return PushResult(
        sent=len(events),
        accepted=len(ack.accepted),
        already_held=len(ack.already_held),
        rejected=len(refusals),
        batches=1,
    )


def push_events(
    box: Box,
    transport: Transport,
    *,
    workers: int = 3,
    max_events: int = MAX_EVENTS,
    max_bytes: int = MAX_BATCH_BYTES,
    should_stop: Callable[[], bool] = lambda: False,
) -> PushResult:
    """Send every queued event (refused ones wait for a fix); raise when the hub cannot be reached."""
    total = PushResult()
    with Crew(box, transport, workers, "motcua-push") as crew:
        while not should_stop():
            pending = outbox.pending_events(box.db(), limit=max(1, workers) * max_events)
            if not pending:
                break
            futures = [
                crew.submit(_post_batch, box, transport, batch)
                for batch in plan_batches(pending, max_events, max_bytes)
            ]
            crew.help()
            failure: Exception | None = None
            progress = 0
            for future in futures:
                try:
                    result = future.result()
                except Exception as err:  # every batch finishes before the first failure is raised
                    failure = failure or err
                    continue
                total.add(result)
                progress += result.accepted + result.already_held + result.rejected
            if failure is not None:
                raise failure
            if progress == 0:
                break  # the hub answered without confirming anything: do not spin
    return total


@dataclass
class BlobMeter:
    """Bytes of scans sent, and how many of them had been sent before (kept across cycles)."""

    sent: int = 0
    resent: int = 0
    high: dict[str, int] = field(default_factory=dict)  # per scan: the furthest byte ever sent
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, sha256: str, offset: int, length: int) -> None:
        """Count a chunk about to be sent."""
        with self.lock:
            high = self.high.get(sha256, 0)
            self.resent += max(0, min(offset + length, high) - offset)
            self.high[sha256] = max(high, offset + length)
            self.sent += length


@dataclass
class BlobResult:
    """What one push of scans did."""

    confirmed: int = 0
    already_held: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (sha256, reason in Vietnamese)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, confirmed: int = 0, already_held: int = 0) -> None:
        """Count scans the hub now holds (from any thread)."""
        with self.lock:
            self.confirmed += confirmed
            self.already_held += already_held

    def fail(self, sha256: str, reason: str) -> None:
        """Note a scan that could not be sent (from any thread)."""
        with self.lock:
            self.failed.append((sha256, reason))


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _head(transport: Transport, sha256: str) -> tuple[int, bool]:
    response = transport.request("HEAD", f"/sync/v1/blobs/{sha256}")
    try:
        offset = int(response.headers.get("X-Motcua-Blob-Offset", "0"))
    except ValueError:
        offset = 0
    return offset, response.headers.get("X-Motcua-Blob-Complete") == "1"


def blob_statuses(transport: Transport, names: list[str]) -> dict[str, tuple[int, bool]] | None:
    """Ask the hub, 1,000 names a request, how many bytes of each scan it holds and whether it is complete.

    Return None when the hub does not know the batched endpoint (an older hub: ask with HEAD instead).
    """
    states: dict[str, tuple[int, bool]] = {}
    for start in range(0, len(names), STATUS_BATCH):
        part = names[start : start + STATUS_BATCH]
        try:
            response = transport.request(
                "POST",
                "/sync/v1/blobs/status",
                body=json.dumps({"sha256": part}).encode("ascii"),
                content_type="application/json",
            )
        except HubRefusedError as err:
            if err.http_status in _NOT_BUILT:
                return None
            raise
        held = response.json()["blobs"]
        for name in part:
            entry = held.get(name) or {}
            states[name] = (int(entry.get("offset", 0)), bool(entry.get("complete", False)))
    return states


def encode_pack(blobs: list[tuple[str, bytes]]) -> bytes:
    """Frame whole scans into a pack body: "MCP1", then per scan its raw SHA-256, its length and its bytes."""
    parts = [PACK_MAGIC]
    for sha256, data in blobs:
        parts += [PACK_FRAME.pack(bytes.fromhex(sha256), len(data)), data]
    return b"".join(parts)


@dataclass(frozen=True)
class Scan:
    """A waiting scan: its name, file and size, and how many of its bytes the hub holds."""

    sha256: str
    path: Path
    size: int
    offset: int = 0


def plan_packs(scans: list[Scan], max_bytes: int = PACK_BYTES, max_blobs: int = MAX_PACK_BLOBS) -> list[list[Scan]]:
    """Group small scans, in order, into packs whose body stays within max_bytes and max_blobs."""
    packs: list[list[Scan]] = []
    current: list[Scan] = []
    size = len(PACK_MAGIC)
    for scan in scans:
        cost = PACK_FRAME.size + scan.size
        if current and (len(current) >= max_blobs or size + cost > max_bytes):
            packs.append(current)
            current, size = [], len(PACK_MAGIC)
        current.append(scan)
        size += cost
    if current:
        packs.append(current)
    return packs


def _upload(transport: Transport, sha256: str, path: str, size: int, offset: int, chunk: int, meter: BlobMeter) -> bool:
    """Send a scan's chunks from offset; return whether the hub now holds it complete."""
    mismatches = 0
    with open(path, "rb") as stream:
        while offset < size:
            stream.seek(offset)
            data = stream.read(chunk)
            meter.count(sha256, offset, len(data))
            try:
                response = transport.request(
                    "PUT",
                    f"/sync/v1/blobs/{sha256}",
                    query={"offset": offset, "size": size},
                    body=data,
                    content_type="application/octet-stream",
                )
            except HubRefusedError as err:
                held = err.body.get("offset")
                if err.code != "offset_mismatch" or not isinstance(held, int) or mismatches >= 3:
                    raise
                mismatches += 1
                offset = held
                continue
            mismatches = 0
            answer = response.json()
            offset = int(answer["offset"])
            if answer.get("complete"):
                return True
    return False


def _corrupt(sha256: str) -> str:
    return f"Tệp scan {sha256[:12]}… trên máy bị hỏng (mã băm không khớp)."


def _push_blob(
    box: Box,
    transport: Transport,
    sha256: str,
    chunk: int,
    meter: BlobMeter,
    result: BlobResult,
    held: tuple[int, bool] | None = None,
) -> None:
    """Send one scan in chunks (or confirm one the hub holds); note a per-scan failure in result.

    `held` is what the hub said it holds (from blob_statuses); without it the box asks with HEAD.
    """
    path = blob_path(box.settings.blob_dir, sha256)
    if not path.is_file():
        result.fail(sha256, f"Không thấy tệp scan {sha256[:12]}… trên máy.")
        return
    offset, complete = held if held is not None else _head(transport, sha256)
    if complete:
        outbox.blob_confirmed(box.db(), sha256)
        result.add(already_held=1)
        return
    if _file_sha256(str(path)) != sha256:
        result.fail(sha256, _corrupt(sha256))
        return
    size = path.stat().st_size
    try:
        done = _upload(transport, sha256, str(path), size, min(offset, size), chunk, meter)
    except HubRefusedError as err:
        if err.code not in _BLOB_REFUSED:
            raise
        result.fail(sha256, err.vi)
        return
    if done:
        outbox.blob_confirmed(box.db(), sha256)
        result.add(confirmed=1)
    else:
        result.fail(sha256, f"Máy chủ tỉnh chưa nhận đủ tệp scan {sha256[:12]}….")


def _push_pack(
    box: Box, transport: Transport, scans: list[Scan], meter: BlobMeter, result: BlobResult, chunk: int
) -> None:
    """Send small scans whole in one pack; confirm those the hub stored or held, note those it refused.

    A hub without packs (404/405) gets them one by one in chunks instead.
    """
    blobs: list[tuple[str, bytes]] = []
    for scan in scans:
        try:
            data = scan.path.read_bytes()
        except OSError:
            result.fail(scan.sha256, f"Không đọc được tệp scan {scan.sha256[:12]}… trên máy.")
            continue
        if hashlib.sha256(data).hexdigest() != scan.sha256:
            result.fail(scan.sha256, _corrupt(scan.sha256))
            continue
        blobs.append((scan.sha256, data))
    if not blobs:
        return
    for sha256, data in blobs:
        meter.count(sha256, 0, len(data))
    try:
        response = transport.request("POST", "/sync/v1/blobs/pack", body=encode_pack(blobs), content_type=PACK_TYPE)
    except HubRefusedError as err:
        if err.http_status in _NOT_BUILT:
            for sha256, _ in blobs:
                _push_blob(box, transport, sha256, chunk, meter, result)
            return
        if err.code not in _PACK_REFUSED:
            raise
        for sha256, _ in blobs:
            result.fail(sha256, err.vi)
        return
    answer = response.json()
    ours = {sha256 for sha256, _ in blobs}
    stored = [str(n) for n in answer["stored"] if n in ours]
    held = [str(n) for n in answer["already_held"] if n in ours]
    refused = {
        str(r["sha256"]): str(r.get("message") or r.get("code")) for r in answer["rejected"] if r["sha256"] in ours
    }
    for sha256 in (*stored, *held):
        outbox.blob_confirmed(box.db(), sha256)
    result.add(confirmed=len(stored), already_held=len(held))
    for sha256, reason in refused.items():
        result.fail(sha256, reason)
    for sha256 in sorted(ours - set(stored) - set(held) - set(refused)):
        result.fail(sha256, f"Máy chủ tỉnh không trả lời về tệp scan {sha256[:12]}….")


def _send_window(
    box: Box,
    transport: Transport,
    crew: Crew,
    scans: list[Scan],
    chunk: int,
    pack_bytes: int,
    meter: BlobMeter,
    result: BlobResult,
    guarded: Callable[[Callable[..., None], tuple[Any, ...]], None],
) -> list[Future[None]]:
    """Ask the hub about one window of scans and submit their packs and chunked uploads; return the futures."""
    jobs: list[tuple[int, Callable[..., None], tuple[Any, ...]]] = []  # (bytes to send, job, its arguments)
    # The first pack goes while the hub is asked about the rest, so the link is busy from the start
    # (at worst one pack's bytes the hub already held, as much as a reset may cost).
    lead = plan_packs([s for s in scans if s.size <= chunk], pack_bytes)[:1]
    futures = [crew.submit(guarded, _push_pack, (box, transport, pack, meter, result, chunk)) for pack in lead]
    leading = {s.sha256 for pack in lead for s in pack}
    rest = [s for s in scans if s.sha256 not in leading]
    states = blob_statuses(transport, [s.sha256 for s in rest]) if rest else {}
    small: list[Scan] = []
    for scan in rest:
        if states is None:
            jobs.append((scan.size, _push_blob, (box, transport, scan.sha256, chunk, meter, result)))
            continue
        offset, complete = states[scan.sha256]
        if complete:
            outbox.blob_confirmed(box.db(), scan.sha256)
            result.add(already_held=1)
        elif offset == 0 and scan.size <= chunk:
            small.append(scan)
        else:
            held = (offset, complete)
            jobs.append((scan.size - offset, _push_blob, (box, transport, scan.sha256, chunk, meter, result, held)))
    for pack in plan_packs(small, pack_bytes):
        jobs.append((sum(s.size for s in pack), _push_pack, (box, transport, pack, meter, result, chunk)))
    jobs.sort(key=lambda job: -job[0])  # the longest first: the last to finish is a short one
    futures += [crew.submit(guarded, job, args) for _, job, args in jobs]
    return futures


def push_blobs(
    box: Box,
    transport: Transport,
    *,
    chunk: int = CHUNK_BYTES,
    pack_bytes: int = PACK_BYTES,
    meter: BlobMeter | None = None,
    workers: int = 3,
    should_stop: Callable[[], bool] = lambda: False,
) -> BlobResult:
    """Send every scan the hub lacks: small ones in packs, big ones in resumable chunks, several at once.

    Raises the first error that is not about one scan (the hub unreachable, the box refused); the
    scans not started by then wait for the next cycle.
    """
    meter = meter if meter is not None else BlobMeter()
    result = BlobResult()
    failures: list[Exception] = []
    scans: list[Scan] = []
    for sha256 in outbox.pending_blobs(box.db(), limit=100_000):
        path = blob_path(box.settings.blob_dir, sha256)
        if path.is_file():
            scans.append(Scan(sha256, path, path.stat().st_size))
        else:
            result.fail(sha256, f"Không thấy tệp scan {sha256[:12]}… trên máy.")
    if not scans or should_stop():
        return result

    def guarded(job: Callable[..., None], args: tuple[Any, ...]) -> None:
        if failures or should_stop():
            return  # the link failed for another job: do not wait for the same timeout again
        try:
            job(*args)
        except Exception as err:
            failures.append(err)

    # Scans go window by window: the hub is asked about one window's names, then that window is sent
    # and confirmed. On a link that resets every few seconds a whole backlog's status requests would
    # never fit between two resets; a window's does, and each window's progress is kept. The window
    # shrinks with the upload size (names cost about 70 bytes each in a status request).
    window = max(STATUS_MIN_WINDOW, min(STATUS_BATCH, chunk // STATUS_BYTES_PER_NAME))
    with Crew(box, transport, workers, "motcua-blob") as crew:
        for start in range(0, len(scans), window):
            if failures or should_stop():
                break
            part = scans[start : start + window]
            futures = _send_window(box, transport, crew, part, chunk, pack_bytes, meter, result, guarded)
            crew.help()
            wait(futures)
    if failures:
        raise failures[0]
    return result
