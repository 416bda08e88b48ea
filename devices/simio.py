"""Where a simulator meets a driver: a pseudo-terminal or a TCP port carrying the device's bytes.

A simulator is any object with `received(data, reply)`: it is handed every chunk of bytes the
driver wrote, in order, and answers by calling `reply(bytes)` (now or later, from any thread).
`PtyServer` gives the driver a real serial device path (open it with pyserial like a USB-serial
adapter); `TcpServer` gives it HOST:PORT (like a network printer on 9100). Both run their own
threads and stop cleanly.

Faults that belong to the link, not to the device's protocol, are here: `silent` (the device
swallows bytes and answers nothing, as when it hangs or its cable is half out) and, for TCP,
`refuse` (connections are refused, as when the printer is switched off).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pty
import select
import socket
import termios
import threading
import tty
from collections.abc import Callable
from typing import Protocol

Reply = Callable[[bytes], None]


class Simulated(Protocol):
    """A device simulator: it gets the driver's bytes and may answer through `reply`."""

    def received(self, data: bytes, reply: Reply) -> None:
        """Handle bytes the driver wrote."""


class PtyServer:
    """A simulator behind a pseudo-terminal; `path` is the serial device a driver opens."""

    def __init__(self, sim: Simulated) -> None:
        self.sim = sim
        self.silent = False
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline: bytes pass as they are
        attrs = termios.tcgetattr(self._slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        self.path = os.ttyname(self._slave)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pty-sim {self.path}", daemon=True)

    def start(self) -> str:
        """Start serving; return the device path."""
        self._thread.start()
        return self.path

    def write(self, data: bytes) -> None:
        """Send bytes to the driver (unsolicited, e.g. a key press), unless the link is silent."""
        if self.silent or self._stop.is_set():
            return
        with self._lock:
            view = memoryview(data)
            while view:
                try:
                    sent = os.write(self._master, view)
                except BlockingIOError:
                    select.select([], [self._master], [], 0.05)
                    continue
                except OSError:
                    return
                view = view[sent:]

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError as err:  # EIO while no one has the slave open on some kernels
                if err.errno == errno.EIO:
                    self._stop.wait(0.02)
                    continue
                return
            if data and not self.silent:
                self.sim.received(data, self.write)

    def stop(self) -> None:
        """Stop serving and close both ends."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PtyServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TcpServer:
    """A simulator behind a TCP port (one connection at a time is served, as printers do)."""

    def __init__(self, sim: Simulated, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim = sim
        self.silent = False
        self.refuse = False
        self._sock = socket.create_server((host, port))
        self._sock.settimeout(0.1)
        self.host, self.port = self._sock.getsockname()[:2]
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name=f"tcp-sim {self.port}", daemon=True)

    @property
    def url(self) -> str:
        """The device URL a driver uses."""
        return f"tcp://{self.host}:{self.port}"

    def start(self) -> str:
        """Start serving; return the device URL."""
        self._thread.start()
        return self.url

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refuse:
                conn.close()
                continue
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        send_lock = threading.Lock()

        def reply(data: bytes) -> None:
            if self.silent:
                return
            with send_lock, contextlib.suppress(OSError):
                conn.sendall(data)

        conn.settimeout(0.1)
        try:
            while not self._stop.is_set() and not self.refuse:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                if not self.silent:
                    self.sim.received(data, reply)
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def drop_connections(self) -> None:
        """Reset every open connection (a printer power-cycled mid-job)."""
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()

    def stop(self) -> None:
        """Stop serving and close every connection."""
        self._stop.set()
        self._sock.close()
        self.drop_connections()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def __enter__(self) -> TcpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
