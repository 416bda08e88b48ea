"""Errors of the box's sync client, in Vietnamese and English (edge.errors.EdgeError subclasses)."""

from __future__ import annotations

from typing import Any

from edge.errors import ConfigError, EdgeError

UNREACHABLE_VI = "Không kết nối được máy chủ tỉnh; hồ sơ vẫn được lưu trên máy và sẽ tự đồng bộ khi có mạng."
UNREACHABLE_EN = "Cannot reach the provincial hub; dossiers stay safe on the box and will sync when the link returns."


class SyncClientError(EdgeError):
    """Base class of the sync client's errors."""

    status = 502
    default_code = "sync_client"


class NotProvisionedError(ConfigError):
    """The box has no sync identity yet (`motcua provision` was not run)."""

    default_code = "not_provisioned"


class HubUnreachableError(SyncClientError):
    """No hub URL answered (down, timing out, or every URL backing off)."""

    status = 503
    default_code = "hub_unreachable"

    def __init__(self, vi: str = UNREACHABLE_VI, en: str = UNREACHABLE_EN, **details: Any) -> None:
        super().__init__(vi, en, **details)


class HubRefusedError(SyncClientError):
    """The hub answered with an error (its code, its Vietnamese message, its HTTP status)."""

    def __init__(self, vi: str, en: str, *, code: str, http_status: int, body: dict[str, Any] | None = None) -> None:
        super().__init__(vi, en, code=code)
        self.status = http_status  # a refusal is the request's fault, not the box's: exit 1, not 2
        self.http_status = http_status
        self.body = body or {}
