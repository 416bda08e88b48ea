"""Signed HTTP to the hub over an ordered list of URLs (two data centres), with per-URL health.

Every request is signed (sync.protocol.sign over the method, the exact path sent, the query and
the body), verified against the province's CA bundle when one is configured, and bounded by
timeouts. A URL that fails (no connection, a timeout, a TLS error, a 5xx) backs off for a random
time in [0, min(cap, base·2^(failures-1))] ("full jitter"); requests go to the first URL that is not
backing off, so the box fails over to the second data centre and returns to the first once its
backoff expired and it answers again. The health of each URL is kept in sync_state ("hub:<url>").
Every hub answer carries X-Motcua-Hub-Time; the box's clock offset is measured from it and the
signature timestamp is corrected by it (a stale_timestamp refusal is retried once, corrected).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from edge import syncstate
from edge.box import Box
from edge.calendar import TZ
from sync.client.config import SyncConfig
from sync.client.errors import HubRefusedError, HubUnreachableError
from sync.protocol import sign

HUB_TIME_HEADER = "X-Motcua-Hub-Time"
STATE_PREFIX = "hub:"
OFFSET_KEY = "clock_offset_ms"
_PERSIST_SUCCESS_EVERY_S = 30.0


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter.

    A hub that answers badly (5xx) is left alone for up to cap_s. A link that does not connect is
    only probed again: a TCP attempt costs next to nothing, and a box must notice a restored link
    within seconds (the bench's target is 10 s), so those waits are capped at link_cap_s.
    """

    base_s: float = 1.0
    cap_s: float = 300.0
    link_cap_s: float = 8.0

    def delay(self, failures: int, rng: Callable[[], float], *, link: bool = False) -> float:
        """Return how long to leave a URL alone after `failures` failures in a row."""
        if failures <= 0:
            return 0.0
        cap = min(self.cap_s, self.link_cap_s) if link else self.cap_s
        return float(rng() * min(cap, self.base_s * 2.0 ** min(failures - 1, 32)))


@dataclass
class UrlHealth:
    """What the box knows about one hub URL."""

    url: str
    failures: int = 0
    next_attempt: float = 0.0  # Unix seconds; the URL is not tried before
    last_success: str | None = None
    last_failure: str | None = None
    last_error: str | None = None  # plain Vietnamese
    last_error_en: str | None = None

    def state(self, now: float) -> str:
        """Return "ok", "backing_off", "down" (failed, may be tried again) or "unknown" (never tried)."""
        if self.failures == 0:
            return "ok" if self.last_success else "unknown"
        return "backing_off" if self.next_attempt > now else "down"

    @classmethod
    def from_state(cls, url: str, data: object) -> UrlHealth:
        """Rebuild from the JSON kept in sync_state (unknown keys are ignored)."""
        health = cls(url)
        if isinstance(data, dict):
            for key in ("failures", "next_attempt", "last_success", "last_failure", "last_error", "last_error_en"):
                if key in data:
                    setattr(health, key, data[key])
        return health


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, TZ).isoformat(timespec="seconds")


def _failure_text(url: str, err: Exception | None, status: int | None) -> tuple[str, str]:
    """Say in plain words why a URL failed (vi, en)."""
    if status is not None:
        return (f"Máy chủ {url} đang gặp lỗi (mã {status}).", f"The hub at {url} is failing (status {status}).")
    if isinstance(err, requests.exceptions.SSLError):
        return (
            f"Chứng chỉ bảo mật (TLS) của {url} không hợp lệ hoặc không do CA của tỉnh cấp.",
            f"The TLS certificate of {url} is invalid or not issued by the province's CA.",
        )
    if isinstance(err, requests.exceptions.ReadTimeout):
        return (f"Máy chủ {url} không trả lời kịp.", f"The hub at {url} did not answer in time.")
    return (f"Không kết nối được {url}.", f"Cannot connect to {url}.")


class Transport:
    """Signed requests to the hub with failover across its URLs (thread-safe: one session per thread)."""

    def __init__(
        self,
        hubs: tuple[str, ...] | list[str],
        *,
        box: Box | None = None,
        box_id: str = "",
        secret: bytes | None = None,
        ca_bundle: str | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        backoff: Backoff | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
        last_resort: bool = False,
    ) -> None:
        self.hubs = tuple(u.rstrip("/") for u in hubs)
        self.box = box
        self.box_id = box_id
        self.secret = secret
        self.verify: str | bool = ca_bundle or True
        self.clock = clock
        self.rng = rng
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        self.last_resort = last_resort
        self._lock = threading.Lock()
        self._local = threading.local()
        self._persisted_at: dict[str, float] = {}
        self._offset_saved: tuple[float, float] | None = None  # (value, when)
        self.last_url: str | None = None
        self.clock_offset_ms: float | None = None
        self._health = {u: UrlHealth(u) for u in self.hubs}
        if box is not None:
            db = box.db()
            for url in self.hubs:
                self._health[url] = UrlHealth.from_state(url, syncstate.get(db, STATE_PREFIX + url))
            offset = syncstate.get(db, OFFSET_KEY)
            self.clock_offset_ms = float(offset) if isinstance(offset, int | float) else None

    # ---- health -------------------------------------------------------------------------------

    def health(self) -> list[UrlHealth]:
        """Return a copy of every URL's health, in the configured order."""
        with self._lock:
            return [UrlHealth(**asdict(self._health[u])) for u in self.hubs]

    def next_attempt(self) -> float:
        """Return the earliest moment any URL may be tried (now when one is ready)."""
        with self._lock:
            return min(h.next_attempt for h in self._health.values())

    def _candidates(self) -> list[str]:
        now = self.clock()
        with self._lock:
            ready = [u for u in self.hubs if self._health[u].next_attempt <= now]
            if not ready and self.last_resort:
                ready = [min(self.hubs, key=lambda u: self._health[u].next_attempt)]
        return ready

    def _record_success(self, url: str) -> None:
        now = self.clock()
        with self._lock:
            health = self._health[url]
            recovered = health.failures > 0
            health.failures, health.next_attempt = 0, 0.0
            health.last_success = _iso(now)
            self.last_url = url
            due = recovered or now - self._persisted_at.get(url, 0.0) >= _PERSIST_SUCCESS_EVERY_S
            if due:
                self._persisted_at[url] = now
            snapshot = asdict(health)
        if due:
            self._persist({STATE_PREFIX + url: snapshot})

    def _record_failure(self, url: str, err: Exception | None, status: int | None = None) -> None:
        now = self.clock()
        vi, en = _failure_text(url, err, status)
        with self._lock:
            health = self._health[url]
            health.failures += 1
            link = status is None  # no answer at all: the link, not the hub, is at fault
            health.next_attempt = now + self.backoff.delay(health.failures, self.rng, link=link)
            health.last_failure, health.last_error, health.last_error_en = _iso(now), vi, en
            self._persisted_at[url] = now
            snapshot = asdict(health)
        self._persist({STATE_PREFIX + url: snapshot})

    def _persist(self, values: Mapping[str, Any]) -> None:
        if self.box is not None:
            syncstate.update(self.box.db(), values)

    # ---- clock ----------------------------------------------------------------------------------

    def _measure(self, response: requests.Response, sent: float, received: float) -> None:
        raw = response.headers.get(HUB_TIME_HEADER)
        try:
            hub_ms = float(raw) if raw is not None else None
        except ValueError:
            hub_ms = None
        if hub_ms is None:
            return
        offset = hub_ms - (sent + received) / 2 * 1000
        with self._lock:
            self.clock_offset_ms = offset
            saved = self._offset_saved
            due = saved is None or abs(saved[0] - offset) > 500 or received - saved[1] > 60
            if due:
                self._offset_saved = (offset, received)
        if due:
            self._persist({OFFSET_KEY: round(offset)})

    def hub_now(self) -> int:
        """Return the hub's current time as this box best knows it (Unix seconds)."""
        return int(self.clock() + (self.clock_offset_ms or 0.0) / 1000)

    # ---- requests -------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = "motcua-box"
            self._local.session = session
        return session

    def close(self) -> None:
        """Close this thread's HTTP session."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        signed: bool = True,
    ) -> requests.Response:
        """Send one request to the first healthy hub URL; return a 2xx response or raise.

        Raises HubRefusedError when a hub answers 4xx (its code and message), and
        HubUnreachableError when no URL answered.
        """
        candidates = self._candidates()
        if not candidates:
            raise HubUnreachableError(next_attempt=_iso(self.next_attempt()))
        last: tuple[str, str] | None = None
        for url in candidates:
            try:
                response = self._send(url, method, path, query, body, content_type, signed)
            except requests.RequestException as err:
                self._record_failure(url, err)
                last = _failure_text(url, err, None)
                continue
            if response.status_code >= 500:
                self._record_failure(url, None, response.status_code)
                last = _failure_text(url, None, response.status_code)
                continue
            self._record_success(url)
            if response.status_code >= 400:
                raise refusal(response)
            return response
        vi, en = last or ("", "")
        raise HubUnreachableError(
            f"Không kết nối được máy chủ tỉnh ({vi}); hồ sơ vẫn được lưu trên máy và sẽ tự đồng bộ khi có mạng.",
            f"Cannot reach the provincial hub ({en}); dossiers stay safe on the box and will sync later.",
        )

    def _send(
        self,
        base: str,
        method: str,
        path: str,
        query: Mapping[str, str | int] | None,
        body: bytes,
        content_type: str | None,
        signed: bool,
    ) -> requests.Response:
        sent_path = urlsplit(base).path.rstrip("/") + path
        params = {k: str(v) for k, v in (query or {}).items()}
        url = base + path + ("?" + urlencode(params, quote_via=quote) if params else "")
        response = self._attempt(method, url, sent_path, params, body, content_type, signed)
        if signed and response.status_code == 401 and _code(response) == "stale_timestamp":
            # The offset was just measured from this very answer: sign again in the hub's time.
            response = self._attempt(method, url, sent_path, params, body, content_type, signed)
        return response

    def _attempt(
        self,
        method: str,
        url: str,
        sent_path: str,
        params: dict[str, str],
        body: bytes,
        content_type: str | None,
        signed: bool,
    ) -> requests.Response:
        headers: dict[str, str] = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if signed:
            if self.secret is None:
                raise ValueError("a signed request needs the box's secret")
            headers.update(sign(self.secret, self.box_id, method, sent_path, params, body, now=self.hub_now()))
        sent = self.clock()
        response = self._session().request(
            method, url, data=body or None, headers=headers, timeout=self.timeout, verify=self.verify
        )
        self._measure(response, sent, self.clock())
        return response


def _code(response: requests.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return str(data.get("code")) if isinstance(data, dict) and data.get("code") else None


def refusal(response: requests.Response) -> HubRefusedError:
    """Turn a hub's 4xx answer ({"code", "message", "message_en"}) into a HubRefusedError."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {}
    code = str(data.get("code") or f"http_{response.status_code}")
    vi = str(data.get("message") or f"Máy chủ tỉnh từ chối yêu cầu (mã {response.status_code}).")
    en = str(data.get("message_en") or f"The hub refused the request (status {response.status_code}).")
    return HubRefusedError(vi, en, code=code, http_status=response.status_code, body=data)


def transport_for(box: Box, config: SyncConfig, *, last_resort: bool = False) -> Transport:
    """Return the transport of a provisioned box (its hub URLs, identity, secret and CA)."""
    return Transport(
        config.hubs,
        box=box,
        box_id=config.box_id,
        secret=config.secret,
        ca_bundle=str(config.ca_bundle) if config.ca_bundle else None,
        last_resort=last_resort,
    )
