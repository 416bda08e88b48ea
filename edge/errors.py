"""Errors raised by the edge core, each carrying its message in Vietnamese and English."""

from __future__ import annotations

from typing import Any


class EdgeError(Exception):
    """Base class: a machine code, a message in vi and en, and an HTTP-like status."""

    status = 400
    default_code = "edge_error"

    def __init__(
        self,
        vi: str,
        en: str,
        *,
        code: str | None = None,
        field: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(en)
        self.vi = vi
        self.en = en
        self.code = code or self.default_code
        self.field = field
        self.details = details

    def message(self, lang: str = "vi") -> str:
        """Return the message in the given language ("vi" or "en")."""
        return self.en if lang.startswith("en") else self.vi


class ValidationError(EdgeError):
    """Input that is malformed, missing or out of range."""

    status = 422
    default_code = "invalid"


class TooLargeError(EdgeError):
    """A request body or an uploaded file over its size limit."""

    status = 413
    default_code = "too_large"


class NotFoundError(EdgeError):
    """A dossier, procedure, user or file that does not exist."""

    status = 404
    default_code = "not_found"


class TransitionError(EdgeError):
    """An action that the dossier's current status does not allow."""

    status = 409
    default_code = "illegal_transition"


class ConflictError(EdgeError):
    """Something already exists or was changed concurrently."""

    status = 409
    default_code = "conflict"


class AuthError(EdgeError):
    """Missing or invalid credentials."""

    status = 401
    default_code = "unauthorized"


class PermissionDeniedError(EdgeError):
    """The user's role does not allow this action."""

    status = 403
    default_code = "forbidden"


class StorageError(EdgeError):
    """The box cannot write: disk full, read-only database, broken file."""

    status = 503
    default_code = "storage"


class ConfigError(EdgeError):
    """The box's configuration is missing or wrong."""

    status = 500
    default_code = "config"


def megabytes(size: int) -> str:
    """Return a byte count as megabytes for messages: 20 MB, 0.5 MB."""
    return f"{size / (1024 * 1024):.2f}".rstrip("0").rstrip(".")
