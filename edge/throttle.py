"""Sign-in throttling: after too many wrong passwords for one user or from one address, a wait.

Failures are counted per username and per client address within a sliding window. When either
count reaches its limit the key is locked for a while: no password is even checked for it until
then. A successful sign-in clears the user's count (not the address's: one valid account must not
let an address go on guessing the others). Kept in memory: the box runs one web process.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from edge.errors import EdgeError

USER_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=5)
_MAX_KEYS = 10_000  # forget stale keys past this many, so random usernames cannot fill the memory


class ThrottledError(EdgeError):
    """Too many failed sign-ins: wait before trying again."""

    status = 429
    default_code = "login_throttled"


class LoginThrottle:
    """Count failed sign-ins per user and per address; refuse while one of them is locked."""

    def __init__(
        self,
        now: Callable[[], datetime],
        *,
        user_limit: int = USER_LIMIT,
        address_limit: int = ADDRESS_LIMIT,
        window: timedelta = WINDOW,
        lockout: timedelta = LOCKOUT,
    ) -> None:
        self._now = now
        self._limits = {"user": user_limit, "addr": address_limit}
        self._window, self._lockout = window, lockout
        self._failures: dict[str, list[datetime]] = {}
        self._locked_until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return f"user:{username.strip().casefold()}", f"addr:{address}"

    def check(self, username: str, address: str) -> None:
        """Raise ThrottledError while the user or the address must wait."""
        now = self._now()
        with self._lock:
            ends = [self._locked_until.get(key) for key in self._keys(username, address)]
        until = max((end for end in ends if end is not None and end > now), default=None)
        if until is not None:
            minutes = max(1, math.ceil((until - now).total_seconds() / 60))
            raise ThrottledError(
                f"Đăng nhập sai quá nhiều lần. Vui lòng đợi {minutes} phút rồi thử lại.",
                f"Too many failed sign-ins. Please wait {minutes} minute(s) and try again.",
                retry_after=math.ceil((until - now).total_seconds()),
            )

    def failed(self, username: str, address: str) -> None:
        """Count a wrong password; lock the user or the address once it reaches its limit."""
        now = self._now()
        with self._lock:
            if len(self._failures) > _MAX_KEYS:
                self._forget_stale(now)
            for key in self._keys(username, address):
                recent = [t for t in self._failures.get(key, []) if now - t < self._window] + [now]
                if len(recent) >= self._limits[key.split(":", 1)[0]]:
                    self._locked_until[key] = now + self._lockout
                    recent = []
                self._failures[key] = recent

    def succeeded(self, username: str) -> None:
        """Clear the user's failures after a right password."""
        key = self._keys(username, "")[0]
        with self._lock:
            self._failures.pop(key, None)
            self._locked_until.pop(key, None)

    def _forget_stale(self, now: datetime) -> None:
        for key in [k for k, times in self._failures.items() if not times or now - times[-1] >= self._window]:
            del self._failures[key]
        for key in [k for k, end in self._locked_until.items() if end <= now]:
            del self._locked_until[key]
