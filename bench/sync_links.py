"""A shaped link for the sync bench: a TCP proxy with a bandwidth cap, latency, resets and outages, and a sink.

`LinkProxy` sits between the box and the hub (or the baseline's HTTP sink) on 127.0.0.1. Every byte
is delayed by the one-way latency and paced by a token bucket per direction, shared by all
connections (one access line). A new connection costs one round trip before its first byte goes up
(the TCP handshake a real link pays; connecting to the proxy itself is local and instant). It can
reset every open connection once after so many bytes went up, and go down (refuse connections,
reset open ones) and up again. The bench keeps its own proxy rather than importing the tests'
FaultProxy: bench code does not depend on the test suite.

`Sink` is a trivial HTTP server that reads and discards a request body: the baseline upload.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import requests

_READ = 65536
_BURST_S = 0.02  # bucket depth and pacing slice, in seconds of link time
_LINGER_RST = struct.pack("ii", 1, 0)


@dataclass(frozen=True)
class Profile:
    """A link: its bandwidth in bits/s (each way) and its one-way latency in seconds."""

    name: str
    bps: float
    latency_s: float

    def describe(self) -> str:
        """Return e.g. `512 kbit/s, 300 ms`."""
        rate = f"{self.bps / 1e6:g} Mbit/s" if self.bps >= 1e6 else f"{self.bps / 1e3:g} kbit/s"
        return f"{rate}, {self.latency_s * 1000:g} ms"


SLOW = Profile("512k", 512_000, 0.3)
FAST = Profile("8M", 8_000_000, 0.05)


@dataclass(frozen=True)
class LinkStats:
    """Counters: bytes forwarded each way, connections accepted, resets the proxy made."""

    bytes_up: int
    bytes_down: int
    connections: int
    resets: int


class _Bucket:
    """Token bucket for one direction; takers go into debt, so they queue in order."""

    def __init__(self) -> None:
        self.rate: float | None = None  # bytes/s, None: unlimited
        self.tokens = 0.0
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def set_bps(self, bps: float | None) -> None:
        with self.lock:
            self.rate = None if bps is None else bps / 8.0
            self.tokens, self.stamp = 0.0, time.monotonic()

    def slice_size(self) -> int:
        rate = self.rate
        return _READ if rate is None else max(256, min(_READ, int(rate * _BURST_S)))

    def take(self, n: int) -> None:
        with self.lock:
            rate = self.rate
            if rate is None:
                return
            now = time.monotonic()
            self.tokens = min(self.tokens + (now - self.stamp) * rate, rate * _BURST_S) - n
            self.stamp = now
            wait = -self.tokens / rate if self.tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


def _rst(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class _Conn:
    """One proxied connection: two directions, each a reader thread and a writer thread."""

    def __init__(self, proxy: LinkProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client, self.upstream = client, upstream
        self.opened = time.monotonic()
        self.dead = False
        self.ended = 0  # directions that finished (EOF passed on)
        self.lock = threading.Lock()

    def start(self) -> None:
        for src, dst, way in ((self.client, self.upstream, "up"), (self.upstream, self.client, "down")):
            queue: collections.deque[tuple[float, bytes]] = collections.deque()
            cond = threading.Condition()
            held = [0]
            threading.Thread(target=self._read, args=(src, queue, cond, held, way), daemon=True).start()
            threading.Thread(target=self._write, args=(dst, queue, cond, held, way), daemon=True).start()

    def kill(self) -> None:
        with self.lock:
            if self.dead:
                return
            self.dead = True
        _rst(self.client)
        _rst(self.upstream)
        self.proxy._forget(self)

    def _read(
        self,
        src: socket.socket,
        queue: collections.deque[tuple[float, bytes]],
        cond: threading.Condition,
        held: list[int],
        way: str,
    ) -> None:
        limit = self.proxy._queue_limit(way)
        while not self.dead:
            with cond:
                while held[0] >= limit and not self.dead:
                    cond.wait(0.1)
            try:
                data = src.recv(_READ)
            except OSError:
                data = b""
                if not self.dead:
                    self.kill()
            with cond:
                queue.append((time.monotonic(), data))
                held[0] += len(data)
                cond.notify_all()
            if not data:
                return

    def _write(
        self,
        dst: socket.socket,
        queue: collections.deque[tuple[float, bytes]],
        cond: threading.Condition,
        held: list[int],
        way: str,
    ) -> None:
        proxy = self.proxy
        bucket = proxy._buckets[way]
        # Up: the client's first bytes wait for the handshake's round trip, then cross like any other.
        ready_at = self.opened + 2 * proxy.latency_s if way == "up" else 0.0
        while True:
            with cond:
                while not queue and not self.dead:
                    cond.wait(0.1)
                if self.dead:
                    return
                stamp, data = queue.popleft()
                held[0] -= len(data)
                cond.notify_all()
            delay = max(stamp, ready_at) + proxy.latency_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not data:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                with self.lock:
                    self.ended += 1
                    both = self.ended == 2
                if both:
                    self._close()
                return
            view = memoryview(data)
            while view:
                piece = view[: bucket.slice_size()]
                bucket.take(len(piece))
                if self.dead:
                    return
                try:
                    dst.sendall(piece)
                except OSError:
                    self.kill()
                    return
                proxy._count(way, len(piece))
                view = view[len(piece) :]

    def _close(self) -> None:
        with self.lock:
            if self.dead:
                return
            self.dead = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.close()
        self.proxy._forget(self)


class LinkProxy:
    """A TCP proxy on 127.0.0.1 shaping the link to a target port; see the module docstring."""

    def __init__(self, target_port: int, profile: Profile | None = None) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = 0
        self.latency_s = 0.0
        self._buckets = {"up": _Bucket(), "down": _Bucket()}
        self._bytes = {"up": 0, "down": 0}
        self._connections = 0
        self._resets = 0
        self._reset_after: int | None = None  # reset everything once bytes_up reaches this
        self._conns: set[_Conn] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        if profile is not None:
            self.shape(profile)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LinkProxy:
        """Listen (on the same port as before after a down()); `.port` holds it."""
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", self.port))
        lsock.listen(128)
        self.port = lsock.getsockname()[1]
        self._listener = lsock
        self._acceptor = threading.Thread(target=self._accept, args=(lsock,), name="linkproxy", daemon=True)
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop listening and reset every open connection."""
        lsock, self._listener = self._listener, None
        if lsock is not None:
            with contextlib.suppress(OSError):
                lsock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
            lsock.close()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
            self._acceptor = None
        self._reset_all()

    def __enter__(self) -> LinkProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- the link --------------------------------------------------------------------------------

    def shape(self, profile: Profile | None) -> None:
        """Apply a profile to both directions (None: an unshaped link)."""
        for bucket in self._buckets.values():
            bucket.set_bps(None if profile is None else profile.bps)
        self.latency_s = 0.0 if profile is None else profile.latency_s

    def reset_once_after(self, bytes_up: int) -> None:
        """Reset every open connection once, when bytes_up (counted from now) reaches this."""
        with self._lock:
            self._reset_after = self._bytes["up"] + bytes_up

    def down(self) -> None:
        """Refuse new connections and reset the open ones, until up()."""
        self.stop()

    def up(self) -> None:
        """Listen again on the same port."""
        if self._listener is None:
            self.start()

    def stats(self) -> LinkStats:
        """Current counters."""
        return LinkStats(self._bytes["up"], self._bytes["down"], self._connections, self._resets)

    # -- internals -------------------------------------------------------------------------------

    def _queue_limit(self, way: str) -> int:
        rate = self._buckets[way].rate
        return 256 * 1024 + int(min(rate or 4e6, 4e6) * self.latency_s)

    def _accept(self, lsock: socket.socket) -> None:
        while True:
            try:
                client, _ = lsock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                _rst(client)
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(self, client, upstream)
            with self._lock:
                self._connections += 1
                self._conns.add(conn)
            conn.start()

    def _count(self, way: str, n: int) -> None:
        fire = False
        with self._lock:
            self._bytes[way] += n
            if way == "up" and self._reset_after is not None and self._bytes["up"] >= self._reset_after:
                self._reset_after, fire = None, True
        if fire:
            self._resets += 1
            self._reset_all()

    def _forget(self, conn: _Conn) -> None:
        with self._lock:
            self._conns.discard(conn)

    def _reset_all(self) -> None:
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.kill()


class _SinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        left = int(self.headers.get("Content-Length", "0"))
        while left > 0:
            data = self.rfile.read(min(left, _READ))
            if not data:
                break
            left -= len(data)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


class Sink:
    """A local HTTP server that reads and discards what is POSTed to it (in a thread)."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _SinkHandler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="sink", daemon=True)

    def __enter__(self) -> Sink:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def plain_upload(profile: Profile, size: int) -> tuple[float, LinkStats]:
    """POST `size` bytes once to a sink through a link with this profile; return seconds and link counters."""
    body = bytes(size)
    with Sink() as sink, LinkProxy(sink.port, profile) as proxy, requests.Session() as session:
        started = time.perf_counter()
        resp = session.post(f"http://127.0.0.1:{proxy.port}/upload", data=body, timeout=600)
        elapsed = time.perf_counter() - started
        resp.raise_for_status()
        return elapsed, proxy.stats()
