"""Fault-injecting TCP proxy for sync tests and benchmarks: bandwidth cap, latency, resets, black holes, flaps."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypeVar

Direction = Literal["up", "down", "both"]
FlapMode = Literal["down", "blackhole"]
T = TypeVar("T")

_READ_SIZE = 65536
_LINGER_RST = struct.pack("ii", 1, 0)
_BURST_S = 0.02  # token bucket depth and pacing slice, in seconds of link time


@dataclass(frozen=True)
class ProxyStats:
    """Snapshot of the proxy counters (up = client to target, down = target to client)."""

    bytes_up: int
    bytes_down: int
    connections_accepted: int
    connections_active: int
    resets_injected: int


class _Bucket:
    """Token bucket shared by all connections in one direction; takers go into debt, so they queue in order."""

    def __init__(self) -> None:
        self.rate: float | None = None  # bytes per second; None is unlimited
        self.tokens = 0.0
        self.stamp = time.monotonic()

    def set_bps(self, bps: float | None) -> None:
        """Change the rate (bits/s); the bucket starts empty so the new rate holds from now."""
        if bps is not None and bps <= 0:
            raise ValueError("bandwidth must be positive or None")
        self.rate = None if bps is None else bps / 8.0
        self.tokens = 0.0
        self.stamp = time.monotonic()

    def slice_size(self) -> int:
        """Largest write that keeps pacing smooth at the current rate."""
        if self.rate is None:
            return _READ_SIZE
        return max(256, min(_READ_SIZE, int(self.rate * _BURST_S)))

    async def take(self, n: int) -> None:
        """Wait until n bytes may go out on the link."""
        rate = self.rate
        if rate is None:
            return
        now = time.monotonic()
        self.tokens = min(self.tokens + (now - self.stamp) * rate, rate * _BURST_S)
        self.stamp = now
        self.tokens -= n
        if self.tokens < 0:
            await asyncio.sleep(-self.tokens / rate)


class _Pipe:
    """Ordered, time-stamped bytes in flight in one direction of one connection."""

    def __init__(self) -> None:
        self.items: collections.deque[tuple[float, bytes]] = collections.deque()
        self.buffered = 0
        self.cond = asyncio.Condition()


def _rst(writer: asyncio.StreamWriter) -> None:
    """Close a stream abruptly, with an RST rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    writer.transport.abort()


class _Conn:
    """One proxied connection: two pipes, four pump tasks."""

    def __init__(self, proxy: FaultProxy, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.forwarded = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.dead = False

    def kill(self, *, injected: bool) -> None:
        """Reset both sides and stop the pumps."""
        if self.dead:
            return
        self.dead = True
        if injected:
            self.proxy._resets += 1
        _rst(self.client)
        _rst(self.upstream)
        me = asyncio.current_task()
        for task in self.tasks:
            if task is not me:
                task.cancel()

    def close(self) -> None:
        """Close both sides gracefully after both directions ended."""
        self.dead = True
        self.client.close()
        self.upstream.close()


class FaultProxy:
    """A TCP proxy on 127.0.0.1 whose link can be slowed, delayed, reset, black-holed and flapped while running."""

    def __init__(
        self, target_host: str, target_port: int, *, listen_host: str = "127.0.0.1", listen_port: int = 0
    ) -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = listen_port
        self._buckets = {"up": _Bucket(), "down": _Bucket()}
        self._latency = {"up": 0.0, "down": 0.0}
        self._reset_probability = 0.0
        self._reset_every_bytes: int | None = None
        self._reset_every_s: float | None = None
        self._rng = random.Random()
        self._down = False
        self._blackhole = False
        self._refuse_new = False
        self._bytes = {"up": 0, "down": 0}
        self._accepted = 0
        self._resets = 0
        self._conns: set[_Conn] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()  # every stream opened, until its socket is closed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None  # accepted by hand: see _accept_ready
        self._flowing: asyncio.Event | None = None
        self._flap_task: asyncio.Task[None] | None = None
        self._ticker_task: asyncio.Task[None] | None = None
        self._flap_done = threading.Event()
        self._flap_done.set()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Start the event-loop thread and listen; `.port` holds the bound port afterwards."""
        if self._thread is not None:
            raise RuntimeError("proxy already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=self._run_loop, name=f"faultproxy->{self.target[1]}", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._startup(), loop).result(timeout=10)
        except BaseException:
            self._halt_loop()
            raise
        return self

    def stop(self) -> None:
        """Stop listening, reset every open connection and join the loop thread."""
        loop = self._loop
        if loop is None or self._thread is None:
            return
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        self._halt_loop()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- faults ----------------------------------------------------------------------------------

    def set_bandwidth(self, bps: float | None, direction: Direction = "both") -> None:
        """Cap the link at bps bits/s (None: unlimited), shared by all connections, per direction."""

        def apply() -> None:
            for d in self._dirs(direction):
                self._buckets[d].set_bps(bps)

        self._apply(apply)

    def set_latency(self, seconds: float, direction: Direction = "both") -> None:
        """Delay every byte by this one-way latency in the given direction(s), keeping order."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")

        def apply() -> None:
            for d in self._dirs(direction):
                self._latency[d] = seconds

        self._apply(apply)

    def set_resets(
        self,
        *,
        probability: float = 0.0,
        every_bytes: int | None = None,
        every_s: float | None = None,
        seed: int | None = None,
    ) -> None:
        """Reset connections: with a probability per chunk read, once one has forwarded every_bytes, or all every_s."""

        def apply() -> None:
            self._reset_probability = probability
            self._reset_every_bytes = every_bytes
            self._reset_every_s = every_s
            if seed is not None:
                self._rng.seed(seed)
            if self._ticker_task is not None:
                self._ticker_task.cancel()
                self._ticker_task = None
            if every_s is not None and self._loop is not None and self._loop.is_running():
                self._ticker_task = self._loop.create_task(self._ticker(every_s))

        self._apply(apply)

    def reset_all(self) -> int:
        """Reset every open connection now; returns how many were reset."""
        return self._apply(self._reset_all)

    def blackhole(self, on: bool = True, *, refuse_new: bool = False) -> None:
        """Keep connections open but forward nothing (bytes are held, as TCP would retransmit them later)."""

        def apply() -> None:
            self._blackhole = on
            self._refuse_new = on and refuse_new
            self._sync_flow()

        self._apply(apply)
        self._apply_async(self._sync_listener)

    def down(self) -> None:
        """Take the link down: refuse new connections and reset open ones, until up(); cancels any flap."""
        self._apply(self._cancel_flap)
        self._apply(lambda: self._set_down(True))
        self._apply_async(self._sync_listener)

    def up(self) -> None:
        """Bring the link back: lift down() and any black hole; cancels any flap."""
        self._apply(self._cancel_flap)
        self._apply(lambda: self._set_down(False))
        self._apply_async(self._sync_listener)

    def flap(self, down_s: float, up_s: float, cycles: int = 1, *, mode: FlapMode = "down") -> None:
        """Start a flap in the background: down (or black-holed) for down_s, then up for up_s, cycles times."""
        self.flap_schedule([(down_s, up_s)] * cycles, mode=mode)

    def flap_schedule(self, steps: Sequence[tuple[float, float]], *, mode: FlapMode = "down") -> None:
        """Start a background schedule of (down_s, up_s) steps; wait_flaps() blocks until it ends."""
        steps = list(steps)

        def apply() -> None:
            self._cancel_flap()
            self._flap_done.clear()
            assert self._loop is not None
            self._flap_task = self._loop.create_task(self._run_flaps(steps, mode))

        self._apply(apply)

    def wait_flaps(self, timeout: float | None = None) -> bool:
        """Block until the current flap schedule has finished; False on timeout."""
        return self._flap_done.wait(timeout)

    # -- counters --------------------------------------------------------------------------------

    def stats(self) -> ProxyStats:
        """Current counters."""
        return ProxyStats(
            bytes_up=self._bytes["up"],
            bytes_down=self._bytes["down"],
            connections_accepted=self._accepted,
            connections_active=len(self._conns),
            resets_injected=self._resets,
        )

    def clear_stats(self) -> None:
        """Zero the byte, connection and reset counters."""

        def apply() -> None:
            self._bytes = {"up": 0, "down": 0}
            self._accepted = 0
            self._resets = 0

        self._apply(apply)

    # -- internals: threading --------------------------------------------------------------------

    @staticmethod
    def _dirs(direction: Direction) -> tuple[str, ...]:
        if direction not in ("up", "down", "both"):
            raise ValueError(f"bad direction {direction!r}")
        return ("up", "down") if direction == "both" else (direction,)

    def _run_loop(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown())  # again: catches connections accepted as the loop stopped
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()

    def _halt_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def _in_loop(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def _apply(self, fn: Callable[[], T]) -> T:
        """Run fn on the loop thread (or directly when not running) and return its result."""
        loop = self._loop
        if loop is None or not loop.is_running() or self._in_loop():
            return fn()

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=10)

    def _apply_async(self, fn: Callable[[], object]) -> None:
        """Await coroutine function fn on the loop thread, if running."""
        loop = self._loop
        if loop is None or not loop.is_running() or self._in_loop():
            return
        coro = fn()
        assert asyncio.iscoroutine(coro)
        asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)

    # -- internals: on the loop ------------------------------------------------------------------

    async def _startup(self) -> None:
        self._flowing = asyncio.Event()
        self._sync_flow()
        await self._sync_listener()
        if self._reset_every_s is not None:
            self._ticker_task = asyncio.get_running_loop().create_task(self._ticker(self._reset_every_s))

    async def _shutdown(self) -> None:
        self._cancel_flap()
        if self._ticker_task is not None:
            self._ticker_task.cancel()
            self._ticker_task = None
        self._close_listener()
        await asyncio.sleep(0.01)  # let connections already accepted reach their handlers
        for _ in range(10):
            for conn in list(self._conns):
                conn.kill(injected=False)
            for handler in list(self._handlers):
                handler.cancel()
            if not self._handlers:
                break
            await asyncio.gather(*self._handlers, return_exceptions=True)
        for writer in list(self._writers):
            _rst(writer)  # including graceful closes still flushing to a peer that stopped reading
        for _ in range(3):
            await asyncio.sleep(0)  # let aborted transports run connection_lost and close their sockets

    def _sync_flow(self) -> None:
        if self._flowing is None:
            return
        if self._blackhole:
            self._flowing.clear()
        else:
            self._flowing.set()

    def _set_down(self, down: bool) -> None:
        self._down = down
        if not down:
            self._blackhole = self._refuse_new = False
            self._sync_flow()
        else:
            self._reset_all()

    def _reset_all(self) -> int:
        conns = list(self._conns)
        for conn in conns:
            conn.kill(injected=True)
        return len(conns)

    async def _sync_listener(self) -> None:
        want = not self._down and not (self._blackhole and self._refuse_new)
        if want and self._listener is None:
            lsock = socket.create_server((self.listen_host, self.port), backlog=128)  # sets SO_REUSEADDR
            lsock.setblocking(False)
            self.port = lsock.getsockname()[1]
            self._listener = lsock
            asyncio.get_running_loop().add_reader(lsock.fileno(), self._accept_ready, lsock)
        elif not want:
            self._close_listener()
            if self._down:
                self._reset_all()

    def _close_listener(self) -> None:
        lsock, self._listener = self._listener, None
        if lsock is not None:
            asyncio.get_running_loop().remove_reader(lsock.fileno())
            lsock.close()

    def _accept_ready(self, lsock: socket.socket) -> None:
        """Accept by hand: closing a 3.11 asyncio.Server with an accept in flight leaks the transport."""
        loop = asyncio.get_running_loop()
        for _ in range(64):
            try:
                conn, _ = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. EMFILE; the next readiness event retries
            conn.setblocking(False)
            adopted: list[asyncio.StreamWriter] = []
            task = loop.create_task(self._adopt(conn, adopted))
            self._handlers.add(task)
            task.add_done_callback(functools.partial(self._adopt_done, conn, adopted))

    def _adopt_done(self, conn: socket.socket, adopted: list[asyncio.StreamWriter], task: asyncio.Task[None]) -> None:
        self._handlers.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: _serve handles its own errors, this just keeps asyncio quiet
        if not adopted:
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            conn.close()  # cancelled before a stream owned it
        elif not adopted[0].transport.is_closing():
            _rst(adopted[0])
        self._prune_writers()

    async def _adopt(self, conn: socket.socket, adopted: list[asyncio.StreamWriter]) -> None:
        reader, writer = await asyncio.open_connection(sock=conn, limit=_READ_SIZE * 4)
        adopted.append(writer)
        self._writers.add(writer)
        with contextlib.suppress(asyncio.CancelledError):  # stop(): the connection is already reset
            await self._serve(reader, writer)

    def _cancel_flap(self) -> None:
        if self._flap_task is not None:
            self._flap_task.cancel()
            self._flap_task = None
        self._flap_done.set()

    async def _run_flaps(self, steps: list[tuple[float, float]], mode: FlapMode) -> None:
        try:
            for down_s, up_s in steps:
                if mode == "down":
                    self._set_down(True)
                else:
                    self._blackhole = True
                    self._sync_flow()
                await self._sync_listener()
                await asyncio.sleep(down_s)
                self._set_down(False)
                await self._sync_listener()
                await asyncio.sleep(up_s)
        finally:
            if self._flap_task is None or self._flap_task is asyncio.current_task():
                self._flap_task = None
                self._flap_done.set()

    async def _ticker(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            self._reset_all()

    def _prune_writers(self) -> None:
        for writer in list(self._writers):
            sock = writer.get_extra_info("socket")
            if sock is None or sock.fileno() == -1:
                self._writers.discard(writer)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._accepted += 1
        if self._down:
            _rst(client_w)
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.target, limit=_READ_SIZE * 4)
        except OSError:
            _rst(client_w)
            return
        self._writers.add(up_w)
        conn = _Conn(self, client_w, up_w)
        if self._down:  # went down while connecting upstream
            conn.kill(injected=True)
            return
        self._conns.add(conn)
        up_pipe, down_pipe = _Pipe(), _Pipe()
        loop = asyncio.get_running_loop()
        conn.tasks = [
            loop.create_task(self._read_side(conn, client_r, up_pipe, "up")),
            loop.create_task(self._write_side(conn, up_w, up_pipe, "up")),
            loop.create_task(self._read_side(conn, up_r, down_pipe, "down")),
            loop.create_task(self._write_side(conn, client_w, down_pipe, "down")),
        ]
        try:
            done, _ = await asyncio.wait(conn.tasks, return_when=asyncio.FIRST_EXCEPTION)
            failed = any(t.exception() is not None for t in done if not t.cancelled())
            if failed or conn.dead:
                conn.kill(injected=False)
            await asyncio.gather(*conn.tasks, return_exceptions=True)
            if not conn.dead:
                conn.close()
        except asyncio.CancelledError:
            conn.kill(injected=False)
            await asyncio.gather(*conn.tasks, return_exceptions=True)
            raise
        finally:
            self._conns.discard(conn)

    def _queue_limit(self, direction: str) -> int:
        rate = self._buckets[direction].rate
        return 256 * 1024 + int(min(rate or 4e6, 4e6) * self._latency[direction])

    async def _read_side(self, conn: _Conn, src: asyncio.StreamReader, pipe: _Pipe, direction: str) -> None:
        while True:
            async with pipe.cond:
                await pipe.cond.wait_for(lambda: pipe.buffered < self._queue_limit(direction))
            data = await src.read(_READ_SIZE)
            if data and self._reset_probability and self._rng.random() < self._reset_probability:
                conn.kill(injected=True)
                return
            async with pipe.cond:
                pipe.items.append((time.monotonic(), data))
                pipe.buffered += len(data)
                pipe.cond.notify_all()
            if not data:
                return

    async def _write_side(self, conn: _Conn, dst: asyncio.StreamWriter, pipe: _Pipe, direction: str) -> None:
        bucket = self._buckets[direction]
        flowing = self._flowing
        assert flowing is not None
        while True:
            async with pipe.cond:
                await pipe.cond.wait_for(lambda: bool(pipe.items))
                stamp, data = pipe.items.popleft()
                pipe.buffered -= len(data)
                pipe.cond.notify_all()
            delay = stamp + self._latency[direction] - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if not data:
                await flowing.wait()
                if dst.can_write_eof():
                    dst.write_eof()
                return
            view = memoryview(data)
            while view:
                await flowing.wait()
                piece = view[: bucket.slice_size()]
                limit = self._reset_every_bytes
                if limit is not None:
                    piece = piece[: max(limit - conn.forwarded, 0)]
                    if not piece:
                        conn.kill(injected=True)
                        return
                await bucket.take(len(piece))
                await flowing.wait()
                dst.write(piece)
                conn.forwarded += len(piece)
                self._bytes[direction] += len(piece)
                view = view[len(piece) :]
                await dst.drain()
                if limit is not None and conn.forwarded >= limit:
                    conn.kill(injected=True)
                    return
