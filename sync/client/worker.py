"""The sync worker (`motcua sync-worker`): cycles on a schedule and promptly after a local write.

APScheduler runs two light jobs: a periodic tick (every `interval_s`, default 60 s) and a check
(every `check_s`, default 1 s) that wakes the worker when the outbox grew (debounced, so a burst of
writes makes one cycle), when someone asked for "sync now", or when the hub's backoff expired after
an offline cycle. The cycles themselves run one at a time in the worker's main loop; SIGTERM stops
it cleanly after the current step. One line per cycle goes to stdout.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]

from edge import sdnotify, syncstate
from edge.box import Box
from edge.config import load_secrets
from edge.events import iso
from edge.logs import setup_logging
from sync.client.config import SyncConfig, require_sync_config
from sync.client.cycle import sync_once
from sync.client.push import BlobMeter
from sync.client.status import SYNC_NOW_KEY
from sync.client.transport import transport_for

log = logging.getLogger("motcua.sync")
DEBOUNCE_S = 1.0
DEBOUNCE_MAX_S = 10.0


@dataclass
class Trigger:
    """Why the next cycle should run; set by the scheduler's jobs, read by the main loop."""

    wake: threading.Event = field(default_factory=threading.Event)
    reasons: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fire(self, reason: str) -> None:
        """Ask for a cycle."""
        with self.lock:
            self.reasons.add(reason)
        self.wake.set()

    def take(self) -> str:
        """Return the reasons asked for since the last cycle, and clear them."""
        with self.lock:
            reasons, self.reasons = self.reasons, set()
        self.wake.clear()
        return ", ".join(sorted(reasons)) or "định kỳ"


class Watch:
    """The fast check: has the outbox grown, was "sync now" asked, has the backoff expired?"""

    def __init__(self, box: Box, trigger: Trigger, next_attempt: Callable[[], float], debounce_s: float) -> None:
        self.box = box
        self.trigger = trigger
        self.next_attempt = next_attempt
        self.debounce_s = debounce_s
        db = box.db()
        self.mark = syncstate.outbox_mark(db)
        self.request = syncstate.get(db, SYNC_NOW_KEY)
        self.first_change: float | None = None
        self.last_change = 0.0
        self.offline = False
        self.last_run = time.monotonic()

    def __call__(self) -> None:
        """Run one check (in the scheduler's thread)."""
        try:
            self._check(time.monotonic())
            self.last_run = time.monotonic()
        finally:
            self.box.close()

    def ran_within(self, seconds: float) -> bool:
        """Return whether a check finished in the last `seconds` (the scheduler and the database work)."""
        return time.monotonic() - self.last_run < seconds

    def _check(self, now: float) -> None:
        db = self.box.db()
        mark = syncstate.outbox_mark(db)
        if mark > self.mark:
            self.mark = mark
            self.last_change = now
            self.first_change = self.first_change or now
        if self.first_change is not None and (
            now - self.last_change >= self.debounce_s or now - self.first_change >= DEBOUNCE_MAX_S
        ):
            self.first_change = None
            self.trigger.fire("ghi mới trên máy")
        request = syncstate.get(db, SYNC_NOW_KEY)
        if request != self.request:
            self.request = request
            self.trigger.fire("yêu cầu đồng bộ ngay")
        if self.offline and time.time() >= self.next_attempt():
            self.offline = False
            self.trigger.fire("thử lại sau khi mất kết nối")


def run_worker(
    box: Box,
    *,
    config: SyncConfig | None = None,
    stop: threading.Event | None = None,
    debounce_s: float = DEBOUNCE_S,
    out: Callable[[str], None] = lambda line: print(line, flush=True),
) -> int:
    """Run cycles until stopped (SIGTERM, SIGINT or `stop`); return how many cycles ran."""
    config = config or require_sync_config(box.settings)
    stop = stop or threading.Event()
    transport = transport_for(box, config)
    trigger = Trigger()
    watch = Watch(box, trigger, transport.next_attempt, min(debounce_s, max(config.check_s * 2, 0.2)))
    meter = BlobMeter()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        trigger.wake.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        secrets = [*load_secrets(box.settings).values(), config.secret.hex()]
        setup_logging(box.settings.box_id, "sync", box.settings.data_dir, secrets)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(1)}, job_defaults={"coalesce": True, "max_instances": 1}
    )
    scheduler.add_job(trigger.fire, "interval", args=["định kỳ"], seconds=config.interval_s, id="periodic")
    scheduler.add_job(watch, "interval", seconds=config.check_s, id="check")
    scheduler.start()
    # Fed only while the scheduler's check keeps running (a hung worker is restarted by systemd).
    watchdog = sdnotify.start_watchdog(lambda: watch.ran_within(max(3 * config.check_s, 10.0)))
    sdnotify.notify("READY=1")
    cycles = 0
    trigger.fire("khởi động")
    out(f"{iso(box.now())} Dịch vụ đồng bộ đã chạy: {', '.join(config.hubs)}")
    log.info("sync worker started: %s", ", ".join(config.hubs))
    try:
        while not stop.is_set():
            trigger.wake.wait()
            if stop.is_set():
                break
            reason = trigger.take()
            try:
                result = sync_once(box, config=config, transport=transport, meter=meter, should_stop=stop.is_set)
            except Exception:  # one bad cycle must not end the worker; the next one tries again
                log.exception("sync cycle failed")
                out(f"{iso(box.now())} ({reason}) Lỗi không mong đợi khi đồng bộ; xem nhật ký.")
                continue
            cycles += 1
            watch.offline = not result.online
            out(f"{iso(box.now())} ({reason}) {result.summary()}")
    finally:
        sdnotify.notify("STOPPING=1")
        log.info("sync worker stopping after %d cycles", cycles)
        if watchdog is not None:
            watchdog.stop()
        scheduler.shutdown(wait=True)
        transport.close()
        box.close()
        out(f"{iso(box.now())} Dịch vụ đồng bộ đã dừng.")
    return cycles
