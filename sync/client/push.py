"""Pushing this box's events and scans to the hub.

Events leave in log order, in batches of at most 500 events / 2 MiB, several batches in flight at
once (a slow link carries more that way); each hub answer is applied in one transaction
(edge.outbox.settle). A refused event stays queued with its reason and blocks nothing. A batch the
hub cannot read at all is split until the event it cannot read is alone, and that one is refused.

Scans: HEAD tells how many bytes the hub holds; a complete scan is never sent again; otherwise
256 KiB chunks go from that offset, and the scan is confirmed only when the hub says it is complete.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from edge import outbox
from edge.attachments import blob_path
from edge.box import Box
from edge.events import Event
from sync.client.errors import HubRefusedError, SyncClientError
from sync.client.transport import Transport
from sync.protocol import MalformedAckError, decode_ack, encode_batch

MAX_EVENTS = 500
MAX_BATCH_BYTES = 2 * 1024 * 1024
CHUNK_BYTES = 256 * 1024
BATCH_TYPE = "application/vnd.motcua.batch+gzip"
_UNREADABLE = frozenset({"malformed_batch", "batch_too_large"})


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


def _post_batch(box: Box, transport: Transport, events: list[Event]) -> PushResult:
    """Send one batch and apply the hub's answer; split a batch the hub cannot read."""
    batch_id = str(uuid.uuid4())
    body = encode_batch([e.to_dict() for e in events], box_id=transport.box_id, batch_id=batch_id)
    try:
        response = transport.request("POST", "/sync/v1/events", body=body, content_type=BATCH_TYPE)
    except HubRefusedError as err:
        if err.code not in _UNREADABLE:
            raise
        if len(events) > 1:
            half = len(events) // 2
            result = _post_batch(box, transport, events[:half])
            result.add(_post_batch(box, transport, events[half:]))
            return result
        outbox.refuse(box.db(), [outbox.Refusal(events[0].event_id, err.code, err.en)])
        return PushResult(sent=1, rejected=1, batches=1)
    try:
        ack = decode_ack(response.content)
    except MalformedAckError as err:
        raise SyncClientError(err.vi, err.en, code=err.code) from err
    if ack.batch_id != batch_id:
        raise SyncClientError(
            "Máy chủ tỉnh trả lời cho một lô khác; sẽ gửi lại.",
            "The hub answered for another batch; it will be sent again.",
            code="malformed_ack",
        )
    ours = {e.event_id for e in events}
    confirmed = [i for i in (*ack.accepted, *ack.already_held) if i in ours]
    refusals = [outbox.Refusal(r.event_id, r.code, r.message) for r in ack.rejected if r.event_id in ours]
    outbox.settle(box.db(), confirmed, refusals)
    return PushResult(
        sent=len(events),
        accepted=len(ack.accepted),
        already_held=len(ack.already_held),
        rejected=len(refusals),
        batches=1,
    )


def _in_thread(box: Box, transport: Transport, events: list[Event]) -> PushResult:
    """Run one batch in a pool thread with its own DB connection and HTTP session, closed after."""
    try:
        return _post_batch(box, transport, events)
    finally:
        box.close()
        transport.close()


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
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="motcua-push") as pool:
        while not should_stop():
            pending = outbox.pending_events(box.db(), limit=max(1, workers) * max_events)
            if not pending:
                break
            futures = [
                pool.submit(_in_thread, box, transport, batch) for batch in plan_batches(pending, max_events, max_bytes)
            ]
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


def _push_blob(box: Box, transport: Transport, sha256: str, chunk: int, meter: BlobMeter, result: BlobResult) -> None:
    """Send one scan the hub lacks (or confirm one it holds); note a per-scan failure in result."""
    path = blob_path(box.settings.blob_dir, sha256)
    if not path.is_file():
        result.fail(sha256, f"Không thấy tệp scan {sha256[:12]}… trên máy.")
        return
    offset, complete = _head(transport, sha256)
    if complete:
        outbox.blob_confirmed(box.db(), sha256)
        result.add(already_held=1)
        return
    if _file_sha256(str(path)) != sha256:
        result.fail(sha256, f"Tệp scan {sha256[:12]}… trên máy bị hỏng (mã băm không khớp).")
        return
    size = path.stat().st_size
    try:
        done = _upload(transport, sha256, str(path), size, min(offset, size), chunk, meter)
    except HubRefusedError as err:
        if err.code not in ("blob_hash_mismatch", "bad_blob_size", "chunk_too_large", "offset_mismatch"):
            raise
        result.fail(sha256, err.vi)
        return
    if done:
        outbox.blob_confirmed(box.db(), sha256)
        result.add(confirmed=1)
    else:
        result.fail(sha256, f"Máy chủ tỉnh chưa nhận đủ tệp scan {sha256[:12]}….")


def push_blobs(
    box: Box,
    transport: Transport,
    *,
    chunk: int = CHUNK_BYTES,
    meter: BlobMeter | None = None,
    workers: int = 3,
    should_stop: Callable[[], bool] = lambda: False,
) -> BlobResult:
    """Send every scan the hub lacks, several at once, resuming where each stopped.

    Raises the first error that is not about one scan (the hub unreachable, the box refused); the
    scans not started by then wait for the next cycle.
    """
    meter = meter if meter is not None else BlobMeter()
    result = BlobResult()
    failures: list[Exception] = []

    def one(sha256: str) -> None:
        if failures or should_stop():
            return  # the link failed for another scan: do not wait for the same timeout again
        try:
            _push_blob(box, transport, sha256, chunk, meter, result)
        except Exception as err:
            failures.append(err)
        finally:
            box.close()
            transport.close()

    pending = outbox.pending_blobs(box.db(), limit=100_000)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="motcua-blob") as pool:
        list(pool.map(one, pending))
    if failures:
        raise failures[0]
    return result
