"""Request signing shared by the box client and the hub (HMAC-SHA256, wire contract v1).

Every box request carries five headers:

    X-Motcua-Box             the box id
    X-Motcua-Timestamp       Unix seconds, decimal
    X-Motcua-Nonce           16 random bytes, url-safe base64 without padding (16-128 chars of [A-Za-z0-9_-])
    X-Motcua-Content-SHA256  lowercase hex SHA-256 of the body as sent (the compressed bytes)
    X-Motcua-Signature       "v1=" + lowercase hex HMAC-SHA256(secret, canonical request)

The canonical request is six lines joined by "\\n" (no trailing newline), encoded as UTF-8:

    METHOD                   upper-case: POST
    path                     exactly as sent on the request line, without the query: /api/v1/push
    query                    every parameter decoded, then re-encoded as quote(k)=quote(v) with
                             urllib.parse.quote(safe="-_.~") ("+" in a query string means a space),
                             the pairs sorted by encoded key then encoded value, joined by "&";
                             an empty string when there is no query
    timestamp                the X-Motcua-Timestamp value: 1767225600
    nonce                    the X-Motcua-Nonce value
    body hash                lowercase hex SHA-256 of the body (of b"" when there is none)

The hub checks, in order: headers present and well formed, box known, box not revoked, body hash,
timestamp within ±window of its clock, signature (constant-time), nonce not seen before (recorded only
after the signature is valid and kept for 2×window). Each failure has its own error code.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, quote

from sync.protocol.errors import (
    BadSignatureError,
    BodyHashMismatchError,
    ReplayedNonceError,
    RevokedBoxError,
    SignatureHeadersError,
    StaleTimestampError,
    UnknownBoxError,
    WrongCommuneError,
)

HEADER_BOX = "X-Motcua-Box"
HEADER_TIMESTAMP = "X-Motcua-Timestamp"
HEADER_NONCE = "X-Motcua-Nonce"
HEADER_SIGNATURE = "X-Motcua-Signature"
HEADER_CONTENT_SHA256 = "X-Motcua-Content-SHA256"
SIGNATURE_VERSION = "v1"
DEFAULT_WINDOW = 300

QueryValue = str | Sequence[str]
Query = Mapping[str, QueryValue] | str | None

_SAFE = "-_.~"
_BOX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class BoxKey:
    """A box's identity and shared secret as the hub holds it."""

    box_id: str
    commune_code: str
    secret: bytes = field(repr=False)
    revoked: bool = False


class NonceStore(Protocol):
    """Remembers the nonces each box used recently."""

    def seen_or_add(self, box_id: str, nonce: str, timestamp: int) -> bool:
        """Return True when the nonce cannot be accepted (seen before); otherwise record it and return False."""
        ...


def _query_pairs(query: Query) -> list[tuple[str, str]]:
    """Return the decoded (key, value) pairs of a query given as a mapping or a string."""
    if query is None:
        return []
    if isinstance(query, str):
        return parse_qsl(query.removeprefix("?"), keep_blank_values=True)
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        values = [value] if isinstance(value, str) else list(value)
        pairs += [(str(key), str(v)) for v in values]
    return pairs


def canonical_query(query: Query) -> str:
    """Return the query in canonical form: encoded pairs sorted by key then value, joined by "&"."""
    encoded = sorted((quote(k, safe=_SAFE), quote(v, safe=_SAFE)) for k, v in _query_pairs(query))
    return "&".join(f"{k}={v}" for k, v in encoded)


def body_sha256(body: bytes) -> str:
    """Return the lowercase hex SHA-256 of a body."""
    return hashlib.sha256(body).hexdigest()


def canonical_request(method: str, path: str, query: Query, timestamp: int, nonce: str, body: bytes) -> bytes:
    """Return the bytes that are signed (see the module docstring)."""
    lines = (method.upper(), path, canonical_query(query), str(int(timestamp)), nonce, body_sha256(body))
    return "\n".join(lines).encode("utf-8")


def signature(secret: bytes, canonical: bytes) -> str:
    """Return the signature header value for a canonical request: "v1=<hex>"."""
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret, canonical, hashlib.sha256).hexdigest()


def new_nonce() -> str:
    """Return a fresh nonce: 16 random bytes, url-safe base64 without padding."""
    return secrets.token_urlsafe(16)


def sign(
    secret: bytes,
    box_id: str,
    method: str,
    path: str,
    query: Query,
    body: bytes,
    now: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Return the headers that sign one request."""
    timestamp = int(time.time()) if now is None else int(now)
    nonce = new_nonce() if nonce is None else nonce
    canonical = canonical_request(method, path, query, timestamp, nonce, body)
    return {
        HEADER_BOX: box_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_CONTENT_SHA256: body_sha256(body),
        HEADER_SIGNATURE: signature(secret, canonical),
    }


@dataclass(frozen=True)
class _Signed:
    """The signature headers of a request, checked for form."""

    box_id: str
    timestamp: int
    nonce: str
    content_sha256: str
    signature: str


def _bad_headers(what: str) -> SignatureHeadersError:
    return SignatureHeadersError(
        f"Thiếu hoặc sai tiêu đề chữ ký: {what}.",
        f"Missing or malformed signature header: {what}.",
        header=what,
    )


def _read_headers(headers: Mapping[str, str]) -> _Signed:
    """Read the five signature headers (names are case-insensitive) and check their form."""
    folded = {str(k).lower(): str(v) for k, v in headers.items()}

    def get(name: str, pattern: re.Pattern[str], prefix: str = "") -> str:
        value = folded.get(name.lower())
        if value is None or not value.startswith(prefix) or not pattern.fullmatch(value[len(prefix) :]):
            raise _bad_headers(name)
        return value[len(prefix) :]

    return _Signed(
        box_id=get(HEADER_BOX, _BOX_ID),
        timestamp=int(get(HEADER_TIMESTAMP, _TIMESTAMP)),
        nonce=get(HEADER_NONCE, _NONCE),
        content_sha256=get(HEADER_CONTENT_SHA256, _HEX64),
        signature=get(HEADER_SIGNATURE, _HEX64, prefix=f"{SIGNATURE_VERSION}="),
    )


def verify(
    headers: Mapping[str, str],
    method: str,
    path: str,
    query: Query,
    body: bytes,
    *,
    secret_for: Callable[[str], BoxKey | None],
    nonces: NonceStore,
    now: int,
    window: int = DEFAULT_WINDOW,
) -> BoxKey:
    """Check a signed request and return the key of the box that sent it, or raise a SyncError."""
    signed = _read_headers(headers)
    key = secret_for(signed.box_id)
    if key is None:
        raise UnknownBoxError(
            f"Hộp {signed.box_id} chưa được đăng ký với máy chủ tỉnh.",
            f"Box {signed.box_id} is not enrolled with the hub.",
            box_id=signed.box_id,
        )
    if key.revoked:
        raise RevokedBoxError(
            f"Hộp {signed.box_id} đã bị thu hồi; hãy đăng ký lại.",
            f"Box {signed.box_id} has been revoked; enroll it again.",
            box_id=signed.box_id,
        )
    actual = body_sha256(body)
    if not hmac.compare_digest(actual, signed.content_sha256):
        raise BodyHashMismatchError(
            "Nội dung yêu cầu không khớp với mã băm đã khai báo.",
            "The request body does not match its declared SHA-256.",
        )
    skew = signed.timestamp - int(now)
    if abs(skew) > window:
        raise StaleTimestampError(
            f"Đồng hồ của hộp lệch {skew} giây so với máy chủ (cho phép ±{window} giây).",
            f"The box's timestamp is {skew} s off the hub's clock (allowed ±{window} s).",
            skew=skew,
        )
    canonical = canonical_request(method, path, query, signed.timestamp, signed.nonce, body)
    expected = signature(key.secret, canonical)
    if not hmac.compare_digest(expected, f"{SIGNATURE_VERSION}={signed.signature}"):
        raise BadSignatureError("Chữ ký yêu cầu không hợp lệ.", "The request signature is invalid.")
    if nonces.seen_or_add(signed.box_id, signed.nonce, signed.timestamp):
        raise ReplayedNonceError(
            "Yêu cầu này đã được gửi trước đó (nonce dùng lại).",
            "This request was already received (replayed nonce).",
        )
    return key


def check_commune(key: BoxKey, commune_code: str) -> None:
    """Raise WrongCommuneError unless the box belongs to the commune it reads or writes."""
    if key.commune_code != commune_code:
        raise WrongCommuneError(
            f"Hộp {key.box_id} chỉ được đọc và ghi dữ liệu của xã {key.commune_code}, không phải {commune_code}.",
            f"Box {key.box_id} may only read and write commune {key.commune_code}, not {commune_code}.",
            box_id=key.box_id,
            commune_code=commune_code,
        )


class MemoryNonceStore:
    """A thread-safe, bounded in-memory nonce store that forgets entries older than 2×window.

    Expiry follows the newest timestamp seen. A nonce older than what the store still remembers
    (expired, or evicted when the store is full) counts as seen: it cannot be proven fresh.
    """

    def __init__(self, window: int = DEFAULT_WINDOW, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.window = window
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], int] = {}
        self._heap: list[tuple[int, str, str]] = []
        self._newest: int | None = None
        self._floor: int | None = None  # timestamps at or below this are refused after an eviction

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def seen_or_add(self, box_id: str, nonce: str, timestamp: int) -> bool:
        """Return True when the nonce cannot be accepted; otherwise record it and return False."""
        with self._lock:
            self._newest = timestamp if self._newest is None else max(self._newest, timestamp)
            cutoff = self._newest - 2 * self.window
            self._drop_older_than(cutoff)
            if timestamp < cutoff or (self._floor is not None and timestamp <= self._floor):
                return True
            if (box_id, nonce) in self._seen:
                return True
            while len(self._seen) >= self.max_entries:
                evicted, *_ = self._pop()
                self._floor = evicted if self._floor is None else max(self._floor, evicted)
            if self._floor is not None and timestamp <= self._floor:
                return True
            self._seen[(box_id, nonce)] = timestamp
            heapq.heappush(self._heap, (timestamp, box_id, nonce))
            return False

    def _pop(self) -> tuple[int, str, str]:
        entry = heapq.heappop(self._heap)
        del self._seen[(entry[1], entry[2])]
        return entry

    def _drop_older_than(self, cutoff: int) -> None:
        while self._heap and self._heap[0][0] < cutoff:
            self._pop()
