"""One sync cycle: push events, push scans, pull the feed, heartbeat — and what it left behind.

Each phase records its time or its error (plain Vietnamese) in sync_state, where the status
strip, the sync page, the heartbeat and /metrics read them. When the hub cannot be reached the
remaining phases are skipped (their requests would only wait for the same timeouts), but the
heartbeat is still taken and kept for later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from edge import officelog, outbox, syncstate
from edge.box import Box
from edge.errors import EdgeError
from edge.events import iso
from sync.client.config import SyncConfig, require_sync_config
from sync.client.errors import HubUnreachableError
from sync.client.heartbeat import send_heartbeats, take_heartbeat
from sync.client.office import OfficeResult, push_office_events
from sync.client.pull import PullResult, pull_feed
from sync.client.push import (
    BlobMeter,
    BlobResult,
    PushResult,
    adapt_upload_size,
    push_blobs,
    push_events,
    upload_size,
)
from sync.client.transport import Transport, transport_for

log = logging.getLogger("motcua.sync")
# An event batch may hold this many times the upload size in JSON: gzip shrinks it about that much.
BATCH_PER_UPLOAD = 4
_MALFORMED = (
    "Máy chủ tỉnh trả lời không đúng định dạng; sẽ thử lại ở lần đồng bộ sau.",
    "The hub's answer is malformed; the next cycle tries again.",
)


@dataclass
class CycleResult:
    """What one cycle did and what is still waiting."""

    pushed: PushResult = field(default_factory=PushResult)
    blobs: BlobResult = field(default_factory=BlobResult)
    office: OfficeResult = field(default_factory=OfficeResult)
    pulled: PullResult = field(default_factory=PullResult)
    heartbeats_sent: int = 0
    errors: list[str] = field(default_factory=list)
    online: bool = True
    waiting_events: int = 0
    waiting_blobs: int = 0
    refused: int = 0
    waiting_office: int = 0

    @property
    def done(self) -> bool:
        """Return whether nothing is left to send and nothing went wrong."""
        return not self.errors and self.waiting_events == 0 and self.waiting_blobs == 0 and self.waiting_office == 0

    def summary(self) -> str:
        """Return one line in Vietnamese for the log and the command line."""
        parts = [
            f"gửi {self.pushed.accepted + self.pushed.already_held} sự kiện",
            f"{self.blobs.confirmed + self.blobs.already_held} tệp scan",
            f"{self.office.accepted + self.office.already_held} phiếu/đánh giá",
            f"nhận {self.pulled.items} mục",
            f"còn chờ {self.waiting_events} sự kiện, {self.waiting_blobs} tệp scan,"
            f" {self.waiting_office} phiếu/đánh giá",
        ]
        if self.refused:
            parts.append(f"{self.refused} sự kiện bị từ chối")
        line = "Đồng bộ: " + ", ".join(parts) + "."
        if self.errors:
            line += " Lỗi: " + " ".join(self.errors)
        return line


def _phase(result: CycleResult, name: str, run: Callable[[], None]) -> tuple[str, str] | None:
    """Run one phase; return its error (Vietnamese, English) and note it, or None."""
    try:
        run()
    except HubUnreachableError as err:
        result.online = False
        message = (err.vi, err.en)
    except EdgeError as err:
        message = (err.vi, err.en)
    except (ValueError, KeyError, TypeError):
        log.exception("sync %s: malformed answer", name)
        message = _MALFORMED
    else:
        return None
    result.errors.append(message[0])
    return message


def sync_once(
    box: Box,
    *,
    config: SyncConfig | None = None,
    transport: Transport | None = None,
    meter: BlobMeter | None = None,
    last_resort: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
) -> CycleResult:
    """Run one cycle; record last push/pull times and errors; never raise for a link problem."""
    config = config or require_sync_config(box.settings)
    own_transport = transport is None
    link = transport or transport_for(box, config, last_resort=last_resort)
    result = CycleResult()
    db = box.db()
    try:
        size = upload_size(db)  # shrunk after a link that dropped mid-upload, grown back after clean pushes

        def events() -> None:
            try:
                result.pushed = push_events(
                    box, link, workers=config.workers, max_bytes=size * BATCH_PER_UPLOAD, should_stop=should_stop
                )
            except HubUnreachableError:
                adapt_upload_size(db, link_failed=True, sent=False)
                raise

        def scans() -> None:
            try:
                result.blobs = push_blobs(
                    box, link, chunk=size, pack_bytes=size, meter=meter, workers=config.workers, should_stop=should_stop
                )
            except HubUnreachableError:
                adapt_upload_size(db, link_failed=True, sent=False)
                raise
            sent = result.blobs.confirmed > 0 or result.pushed.accepted > 0
            adapt_upload_size(db, link_failed=False, sent=sent)
            if result.blobs.failed:
                reasons = sorted({reason for _, reason in result.blobs.failed})
                raise EdgeError(
                    f"{len(result.blobs.failed)} tệp scan chưa gửi được: {' '.join(reasons[:3])}",
                    f"{len(result.blobs.failed)} scans could not be sent (see the box's log).",
                    code="blobs_failed",
                )

        def office() -> None:
            result.office = push_office_events(box, link, config.commune_code, should_stop=should_stop)

        push_error = _phase(result, "push", events)
        if result.online:
            push_error = _phase(result, "office", office) or push_error
        if result.online:
            push_error = _phase(result, "blobs", scans) or push_error
        if result.online and push_error is None:
            syncstate.update(db, {"last_push_at": iso(box.now()), "last_push_error": None, "last_push_error_en": None})
        elif push_error is not None:
            syncstate.update(db, {"last_push_error": push_error[0], "last_push_error_en": push_error[1]})

        pull_error = None
        if result.online and not should_stop():

            def pull() -> None:
                result.pulled = pull_feed(box, link, config.commune_code, should_stop=should_stop)

            pull_error = _phase(result, "pull", pull)
            if pull_error is None:
                done_at = iso(box.now())
                syncstate.update(db, {"last_pull_at": done_at, "last_pull_error": None, "last_pull_error_en": None})
            else:
                syncstate.update(db, {"last_pull_error": pull_error[0], "last_pull_error_en": pull_error[1]})
        if push_error is None and pull_error is None and result.online:
            syncstate.set_value(db, "last_sync_at", iso(box.now()))

        take_heartbeat(box, link.clock_offset_ms)
        if result.online and not should_stop():

            def heartbeat() -> None:
                result.heartbeats_sent = send_heartbeats(box, link)

            _phase(result, "heartbeat", heartbeat)
    finally:
        if own_transport:
            link.close()
    left = outbox.status(db)
    result.waiting_events, result.waiting_blobs, result.refused = left.events, left.blobs, left.refused
    result.waiting_office = officelog.status(db).waiting
    syncstate.set_value(db, "last_cycle", {"at": iso(box.now()), "summary": result.summary(), "ok": result.done})
    return result
