"""sd_notify: tell systemd a service is ready, and keep its watchdog fed only while the service works.

The protocol is one datagram per message, `KEY=VALUE` lines, sent to the unix socket named by
$NOTIFY_SOCKET (a name starting with '@' is in the abstract namespace). systemd sets $WATCHDOG_USEC
(and $WATCHDOG_PID, the main process it is meant for) when the unit has WatchdogSec=; a service must
send WATCHDOG=1 more often than that, or systemd kills and restarts it. Outside systemd (no
$NOTIFY_SOCKET) every call here does nothing. Like libsystemd's sd_notify, this reads systemd's own
variables from the environment directly: they are the protocol, not the box's settings.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger("motcua.sdnotify")


def _address(env: Mapping[str, str]) -> str | bytes | None:
    name = env.get("NOTIFY_SOCKET", "")
    if not name or not (name.startswith("/") or name.startswith("@")):
        return None
    return b"\0" + name[1:].encode() if name.startswith("@") else name


def notify(state: str, env: Mapping[str, str] | None = None) -> bool:
    """Send one state message (e.g. "READY=1") to systemd; return False when not run by systemd."""
    address = _address(os.environ if env is None else env)
    if address is None:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError as err:  # systemd gone or socket replaced: the service itself keeps running
            log.warning("sd_notify failed: %s", err)
            return False
    return True


def watchdog_seconds(env: Mapping[str, str] | None = None) -> float | None:
    """Return the watchdog timeout systemd set for this process in seconds, or None when there is none."""
    env = os.environ if env is None else env
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None  # meant for another process (e.g. the parent that started us)
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1_000_000 if usec > 0 else None


def http_answers(host: str, port: int, path: str, timeout: float) -> bool:
    """Return whether an HTTP server on this machine answers `path` without a server error (5xx)."""
    probe = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    conn = http.client.HTTPConnection(probe, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status < 500
    finally:
        conn.close()


class Watchdog:
    """A thread that sends WATCHDOG=1 every `interval` seconds, each time only if `alive()` says so.

    `alive` proves the service still does its work (the web service answers a request to itself,
    the sync worker's scheduler ran a job lately); a hung service stops the pings and systemd
    restarts it. `alive` must return within `interval`; one that raises counts as not alive.
    """

    def __init__(self, alive: Callable[[], bool], interval: float, env: Mapping[str, str] | None = None) -> None:
        self.alive = alive
        self.interval = interval
        self.env = env
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> Watchdog:
        """Start pinging."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop pinging (the service is shutting down)."""
        self.stopping.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout=self.interval + 1)

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                ok = self.alive()
            except Exception as err:  # a failed check is a missed ping, not a dead watchdog thread
                log.warning("watchdog check failed: %s", err)
                ok = False
            if ok and not self.stopping.is_set():
                notify("WATCHDOG=1", self.env)
            elif not ok:
                log.warning("watchdog check failed: no ping sent")


def start_watchdog(alive: Callable[[], bool], env: Mapping[str, str] | None = None) -> Watchdog | None:
    """Start a Watchdog at half systemd's timeout when systemd asked for one; else return None."""
    env = os.environ if env is None else env
    timeout = watchdog_seconds(env)
    if timeout is None or _address(env) is None:
        return None
    return Watchdog(alive, timeout / 2, env).start()
