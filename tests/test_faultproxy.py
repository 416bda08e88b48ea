"""The fault-injecting proxy against real echo and upload servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.faultproxy import FaultProxy


class Server:
    """A threaded TCP server: 'echo' returns what it reads; 'upload' reads to EOF and replies with the SHA-256."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.received = 0
        self.lock = threading.Lock()
        self.acceptor = threading.Thread(target=self._accept, name="test-server")
        self.acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
            worker = threading.Thread(target=self._serve, args=(conn,), name="test-server-conn")
            self.threads.append(worker)
            worker.start()

    def _serve(self, conn: socket.socket) -> None:
        digest = hashlib.sha256()
        with contextlib.suppress(OSError):
            while data := conn.recv(65536):
                with self.lock:
                    self.received += len(data)
                if self.mode == "echo":
                    conn.sendall(data)
                else:
                    digest.update(data)
            if self.mode == "upload":
                conn.sendall(digest.hexdigest().encode())
            conn.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Stop accepting, close every connection, join every thread."""
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.acceptor.join(5)
        with self.lock:
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for worker in self.threads:
            worker.join(5)
        for conn in self.conns:
            conn.close()


@pytest.fixture
def echo() -> Iterator[Server]:
    server = Server("echo")
    yield server
    server.close()


@pytest.fixture
def upload() -> Iterator[Server]:
    server = Server("upload")
    yield server
    server.close()


def connect(proxy: FaultProxy, timeout: float = 5.0) -> socket.socket:
    """A client socket to the proxy."""
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)


def recv_all(sock: socket.socket) -> bytes:
    """Read to EOF."""
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def do_upload(proxy: FaultProxy, payload: bytes) -> str:
    """Send payload, half-close, return the server's SHA-256 reply."""
    with connect(proxy, timeout=10) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return recv_all(sock).decode()


def assert_broken(action: Callable[[], bytes]) -> None:
    """The action fails with a connection error (reset, broken pipe, not connected) or reads EOF."""
    try:
        data = action()
    except TimeoutError:
        raise
    except OSError:
        return
    assert data == b"", "connection should have been broken"


def run_threads(targets: list[Callable[[], None]]) -> None:
    """Run callables concurrently and re-raise the first failure."""
    errors: list[BaseException] = []

    def wrap(fn: Callable[[], None]) -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(fn,)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if errors:
        raise errors[0]


def is_refused(proxy: FaultProxy) -> bool:
    """True if a new connection is refused right now."""
    try:
        connect(proxy, timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_passthrough_integrity_both_ways(echo: Server, upload: Server) -> None:
    sizes = [1, 1000, 300_000, 1_500_000]
    with FaultProxy("127.0.0.1", echo.port) as proxy:

        def echo_one(size: int) -> Callable[[], None]:
            def run() -> None:
                payload = os.urandom(size)
                with connect(proxy) as sock:
                    sender = threading.Thread(target=lambda: (sock.sendall(payload), sock.shutdown(socket.SHUT_WR)))
                    sender.start()
                    back = recv_all(sock)
                    sender.join()
                assert hashlib.sha256(back).digest() == hashlib.sha256(payload).digest()

            return run

        run_threads([echo_one(n) for n in sizes])
        stats = proxy.stats()
        assert stats.bytes_up == stats.bytes_down == sum(sizes)
        assert stats.connections_accepted == len(sizes)
        assert stats.resets_injected == 0

    with FaultProxy("127.0.0.1", upload.port) as proxy:
        payloads = [os.urandom(700_000) for _ in range(3)]

        def up_one(payload: bytes) -> Callable[[], None]:
            return lambda: _check(do_upload(proxy, payload) == hashlib.sha256(payload).hexdigest())

        run_threads([up_one(p) for p in payloads])


def _check(ok: bool) -> None:
    assert ok


def test_bandwidth_cap_is_shared_and_accurate(upload: Server) -> None:
    rate = 2_000_000  # bits/s, shared by both connections
    each = 250_000
    with FaultProxy("127.0.0.1", upload.port) as proxy:
        proxy.set_bandwidth(rate, "up")
        payloads = [os.urandom(each) for _ in range(2)]
        start = time.monotonic()
        run_threads([lambda p=p: _check(do_upload(proxy, p) == hashlib.sha256(p).hexdigest()) for p in payloads])
        elapsed = time.monotonic() - start
    ideal = 2 * each * 8 / rate
    ratio = elapsed / ideal
    print(f"up: {2 * each} B at {rate} bit/s took {elapsed:.3f} s, ideal {ideal:.3f} s, ratio {ratio:.3f}")
    assert 0.95 <= ratio <= 1.1


def test_bandwidth_cap_down_direction_and_live_change(echo: Server) -> None:
    payload = os.urandom(400_000)
    with FaultProxy("127.0.0.1", echo.port) as proxy:
        proxy.set_bandwidth(4_000_000, "down")
        with connect(proxy, timeout=10) as sock:
            start = time.monotonic()
            sender = threading.Thread(target=sock.sendall, args=(payload,))
            sender.start()
            got = 0
            while got < len(payload):
                got += len(sock.recv(65536))
            first = time.monotonic() - start
            proxy.set_bandwidth(8_000_000, "down")  # takes effect on the open connection
            start = time.monotonic()
            sender.join()
            sock.sendall(payload)
            got = 0
            while got < len(payload):
                got += len(sock.recv(65536))
            second = time.monotonic() - start
    r1 = first / (len(payload) * 8 / 4_000_000)
    r2 = second / (len(payload) * 8 / 8_000_000)
    print(f"down: ratio {r1:.3f} at 4 Mbit/s, {r2:.3f} at 8 Mbit/s")
    assert 0.95 <= r1 <= 1.1
    assert 0.9 <= r2 <= 1.15


def test_latency_delays_every_byte_in_order(echo: Server) -> None:
    with FaultProxy("127.0.0.1", echo.port) as proxy:
        with connect(proxy) as sock:
            start = time.monotonic()
            sock.sendall(b"x")
            assert sock.recv(10) == b"x"
            base = time.monotonic() - start
        proxy.set_latency(0.1)  # one way, each direction: RTT +0.2 s
        with connect(proxy) as sock:
            for _ in range(3):
                start = time.monotonic()
                sock.sendall(b"ping")
                assert sock.recv(10) == b"ping"
                rtt = time.monotonic() - start
                assert 0.2 <= rtt < 0.2 + base + 0.15
            # a stream sent in many pieces comes back whole and in order, one RTT later
            pieces = [os.urandom(5000) for _ in range(40)]
            start = time.monotonic()
            for piece in pieces:
                sock.sendall(piece)
                time.sleep(0.002)
            data = b""
            while len(data) < 200_000:
                data += sock.recv(65536)
            assert data == b"".join(pieces)
            assert time.monotonic() - start >= 0.2
        proxy.set_latency(0.15, "up")
        proxy.set_latency(0.0, "down")
        with connect(proxy) as sock:
            start = time.monotonic()
            sock.sendall(b"ping")
            assert sock.recv(10) == b"ping"
            assert 0.15 <= time.monotonic() - start < 0.3


def test_reset_every_bytes_breaks_transfer_and_is_counted(upload: Server) -> None:
    with FaultProxy("127.0.0.1", upload.port) as proxy:
        proxy.set_resets(every_bytes=100_000)
        with connect(proxy) as sock:

            def push() -> bytes:
                sock.sendall(os.urandom(1_000_000))
                sock.shutdown(socket.SHUT_WR)
                return sock.recv(100)

            assert_broken(push)
        deadline = time.monotonic() + 2
        while proxy.stats().connections_active and time.monotonic() < deadline:
            time.sleep(0.01)
        stats = proxy.stats()
        assert stats.resets_injected == 1
        assert stats.bytes_up == 100_000
        assert stats.connections_active == 0
        # a fresh connection gets its own budget: a small upload still goes through
        payload = os.urandom(50_000)
        assert do_upload(proxy, payload) == hashlib.sha256(payload).hexdigest()
        proxy.set_resets(probability=1.0, seed=1)
        with connect(proxy) as sock:
            sock.sendall(b"hello")
            assert_broken(lambda: sock.recv(100))
        assert proxy.stats().resets_injected == 2


def test_reset_every_seconds_and_reset_all(echo: Server) -> None:
    with FaultProxy("127.0.0.1", echo.port) as proxy:
        proxy.set_resets(every_s=0.3)
        with connect(proxy) as sock:
            sock.sendall(b"a")
            assert sock.recv(10) == b"a"
            start = time.monotonic()
            assert_broken(lambda: sock.recv(10))
            assert time.monotonic() - start < 0.5
        assert proxy.stats().resets_injected >= 1
        proxy.set_resets()
        with connect(proxy) as a, connect(proxy) as b:
            for s in (a, b):
                s.sendall(b"z")
                assert s.recv(10) == b"z"
            assert proxy.reset_all() == 2
            for s in (a, b):
                with pytest.raises(ConnectionResetError):
                    s.recv(10)


def test_blackhole_times_out_then_delivers(echo: Server) -> None:
    with FaultProxy("127.0.0.1", echo.port) as proxy:
        with connect(proxy, timeout=0.4) as sock:
            sock.sendall(b"before")
            assert sock.recv(10) == b"before"
            proxy.blackhole()
            sock.sendall(b"during")
            with pytest.raises(TimeoutError):
                sock.recv(10)
            with connect(proxy, timeout=0.4) as fresh:  # link looks up: new connections are accepted
                fresh.sendall(b"new")
                with pytest.raises(TimeoutError):
                    fresh.recv(10)
            proxy.blackhole(False)
            assert sock.recv(10) == b"during"  # held bytes arrive once the link returns, like TCP retransmits
        proxy.blackhole(refuse_new=True)
        assert is_refused(proxy)
        proxy.up()
        with connect(proxy) as sock:
            sock.sendall(b"after")
            assert sock.recv(10) == b"after"


def test_down_and_up(echo: Server) -> None:
    with FaultProxy("127.0.0.1", echo.port) as proxy:
        port = proxy.port
        with connect(proxy) as sock:
            sock.sendall(b"a")
            assert sock.recv(10) == b"a"
            proxy.down()
            assert_broken(lambda: sock.recv(10))
        assert is_refused(proxy)
        assert proxy.stats().resets_injected == 1
        proxy.up()
        assert proxy.port == port
        with connect(proxy) as sock:
            sock.sendall(b"b")
            assert sock.recv(10) == b"b"


def test_flap_schedule(echo: Server) -> None:
    with FaultProxy("127.0.0.1", echo.port) as proxy:
        proxy.flap(0.3, 0.3, cycles=2)
        seen: list[bool] = []
        start = time.monotonic()
        while time.monotonic() - start < 1.4:
            seen.append(is_refused(proxy))
            time.sleep(0.03)
        assert proxy.wait_flaps(2)
        changes = sum(1 for a, b in itertools.pairwise(seen) if a != b)
        assert seen[0] is True and seen[-1] is False
        assert changes == 3  # down, up, down, up
        proxy.flap_schedule([(0.2, 0.1), (0.2, 0.0)], mode="blackhole")
        with connect(proxy, timeout=0.1) as sock:
            sock.sendall(b"x")
            with pytest.raises(TimeoutError):
                sock.recv(10)
            assert proxy.wait_flaps(2)
            sock.settimeout(2)
            assert sock.recv(10) == b"x"
        proxy.flap(5, 5)
        proxy.up()  # cancels the flap
        assert proxy.wait_flaps(0.1)
        assert not is_refused(proxy)


def test_clean_stop_with_open_connections(echo: Server) -> None:
    baseline = threading.active_count()
    proxy = FaultProxy("127.0.0.1", echo.port)
    proxy.start()
    proxy.set_bandwidth(1_000_000)
    proxy.set_latency(0.05)
    proxy.set_resets(every_s=10)
    proxy.flap(10, 10, mode="blackhole")
    proxy.up()
    socks = [connect(proxy) for _ in range(3)]
    for s in socks:
        s.sendall(os.urandom(200_000))
    time.sleep(0.2)
    assert proxy.stats().connections_active == 3
    proxy.stop()
    assert threading.active_count() == baseline
    for s in socks:
        assert_broken(lambda s=s: recv_all(s))
        s.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1)
    proxy.stop()  # idempotent


def test_no_thread_leak_across_many_proxies(echo: Server) -> None:
    baseline = threading.active_count()
    for _ in range(5):
        with FaultProxy("127.0.0.1", echo.port) as proxy, connect(proxy) as sock:
            sock.sendall(b"q")
            assert sock.recv(10) == b"q"
    assert threading.active_count() == baseline


def test_unreachable_target_resets_client() -> None:
    with socket.create_server(("127.0.0.1", 0)) as spare:
        dead_port = spare.getsockname()[1]
    with FaultProxy("127.0.0.1", dead_port) as proxy:

        def talk() -> bytes:
            with connect(proxy) as sock:
                return sock.recv(10)

        assert_broken(talk)
        assert proxy.stats().connections_accepted == 1
