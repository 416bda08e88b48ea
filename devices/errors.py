"""Errors a device raises: a stable code, a Vietnamese message for officers and an English one."""

from __future__ import annotations

from typing import Any


class DeviceError(Exception):
    """A device could not do what it was asked; `code` is stable, `vi`/`en` are for people."""

    code = "device_error"

    def __init__(self, vi: str, en: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(en)
        self.vi = vi
        self.en = en
        if code:
            self.code = code
        self.details = details

    def message(self, lang: str = "vi") -> str:
        """Return the message in the given language ("vi" or "en")."""
        return self.en if lang == "en" else self.vi


class DeviceAddressError(DeviceError):
    """A device URL that cannot be used (unknown scheme, missing port, bad parameter)."""

    code = "bad_device_address"


class DeviceUnavailable(DeviceError):
    """The device is not there: unplugged, port missing, connection refused, no answer."""

    code = "device_unavailable"


class DeviceTimeout(DeviceError):
    """The device did not answer in time."""

    code = "device_timeout"


class DeviceProtocolError(DeviceError):
    """The device answered with bytes that do not follow its protocol."""

    code = "device_protocol"
