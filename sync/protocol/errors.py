"""Errors of the sync protocol, each with a stable machine code and a message in Vietnamese and English."""

from __future__ import annotations

from typing import Any


class SyncError(Exception):
    """Base class: a machine code, a message in vi and en, and an HTTP status."""

    status = 400
    default_code = "sync_error"

    def __init__(self, vi: str, en: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(en)
        self.vi = vi
        self.en = en
        self.code = code or self.default_code
        self.details = details

    def message(self, lang: str = "vi") -> str:
        """Return the message in the given language ("vi" or "en")."""
        return self.en if lang.startswith("en") else self.vi

    def to_dict(self) -> dict[str, Any]:
        """Return the error as the JSON body the hub answers with."""
        return {"code": self.code, "message": self.vi, "message_en": self.en}


class SignatureHeadersError(SyncError):
    """The signature headers are missing or malformed."""

    status = 401
    default_code = "bad_request_signature_headers"


class UnknownBoxError(SyncError):
    """The box id is not enrolled at the hub."""

    status = 401
    default_code = "unknown_box"


class RevokedBoxError(SyncError):
    """The box was enrolled but has been revoked."""

    status = 403
    default_code = "revoked_box"


class BodyHashMismatchError(SyncError):
    """The body does not match the hash the box declared."""

    status = 401
    default_code = "body_hash_mismatch"


class StaleTimestampError(SyncError):
    """The request's timestamp is outside the accepted window."""

    status = 401
    default_code = "stale_timestamp"


class BadSignatureError(SyncError):
    """The HMAC does not match the request."""

    status = 401
    default_code = "bad_signature"


class ReplayedNonceError(SyncError):
    """The nonce was already used by this box within the window."""

    status = 401
    default_code = "replayed_nonce"


class WrongCommuneError(SyncError):
    """The box asked to read or write another commune's data."""

    status = 403
    default_code = "wrong_commune"


class MalformedBatchError(SyncError):
    """A push batch or an acknowledgement that is not well formed."""

    status = 422
    default_code = "malformed_batch"


class BatchTooLargeError(SyncError):
    """A push batch over the size or event-count limit."""

    status = 413
    default_code = "batch_too_large"


class MalformedAckError(SyncError):
    """A hub acknowledgement that is not well formed."""

    status = 502
    default_code = "malformed_ack"
