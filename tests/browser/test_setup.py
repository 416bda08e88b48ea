"""Without Chromium or playwright the browser tests skip on a developer machine and fail under CI."""

from __future__ import annotations

import pytest

from tests.browser.conftest import _unavailable, png


def test_missing_browser_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run under CI"):
        _unavailable("/usr/bin/chromium is missing")


def test_missing_browser_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        _unavailable("/usr/bin/chromium is missing")


def test_scan_is_a_png() -> None:
    data = png(24, 16)
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    assert int.from_bytes(data[16:20], "big") == 24 and int.from_bytes(data[20:24], "big") == 16
