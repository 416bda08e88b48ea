"""Browser tests: Playwright drives Debian's Chromium against a real `motcua serve` process.

Chromium is the Debian package (`/usr/bin/chromium`, installed by `.ci/run`); `playwright install`
is never run. Without Chromium or the playwright package the browser tests are skipped on a
developer machine and FAIL under CI=true, so CI cannot pass without them.

Every test gets a fresh box and server (tests/conftest.py's `box_settings`) and fresh browser
contexts. A page fails its test when a JavaScript dialog opens (alert/confirm/prompt: how an XSS
payload that ran would show itself), when the page logs a console error or throws, and when the
server logs a traceback. Screenshots go to test-artifacts/screenshots/ at the repo root.
"""

from __future__ import annotations

import os
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from edge.box import open_box
from edge.config import Settings
from edge.users import create_token
from tests.conftest import PASSWORD, read_url, start_server, stop_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1366, "height": 768}  # the counter PC
TABLET = {"width": 1280, "height": 800}  # a 10" tablet, landscape
USERS = ("canbo", "canbo2", "lanhdao", "quantri", "kythuat")
TIMEOUT_MS = 10_000


def _unavailable(reason: str) -> None:
    """Skip on a developer machine; fail under CI, where the browser must be there."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Launch Debian's Chromium once for the session (headless, no network beyond the box)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class _Drain(threading.Thread):
    """Read a server pipe to the end so the server never blocks on a full pipe; keep the text."""

    def __init__(self, pipe: Any) -> None:
        super().__init__(daemon=True)
        self.pipe = pipe
        self.lines: list[str] = []

    def run(self) -> None:
        for line in iter(self.pipe.readline, ""):
            self.lines.append(line)


@dataclass
class UI:
    """One test's server and browser: pages with problem hooks, sign-in, screenshots, the API."""

    url: str
    settings: Settings
    browser: Browser
    tokens: dict[str, str]
    stderr: _Drain
    contexts: list[BrowserContext] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Chromium asks every site for /favicon.ico; a box without one is not a page error.
    allowed_console: list[re.Pattern[str]] = field(default_factory=lambda: [re.compile(r"\[\S*/favicon\.ico\]$")])

    # --- pages ------------------------------------------------------------------------------

    def page(self, user: str | None = "canbo", *, tablet: bool = False) -> Page:
        """Open a page in a fresh context (1366x768, or a 10" touch tablet) and sign in as `user`."""
        options: dict[str, Any] = {"viewport": TABLET if tablet else DESKTOP, "locale": "vi-VN"}
        if tablet:
            options.update(has_touch=True, device_scale_factor=1)
        options["timezone_id"] = "Asia/Ho_Chi_Minh"
        context = self.browser.new_context(base_url=self.url, accept_downloads=True, **options)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        self.watch(page)
        if user:
            self.login(page, user)
        return page

    def watch(self, page: Page) -> None:
        """Record dialogs (and dismiss them), console errors and uncaught exceptions as problems."""

        def on_dialog(dialog: Dialog) -> None:
            self.problems.append(f"{dialog.type} dialog on {page.url}: {dialog.message!r}")
            dialog.dismiss()

        def on_console(message: ConsoleMessage) -> None:
            if message.type != "error":
                return
            where = message.location.get("url") or ""
            text = f"console error on {page.url}: {message.text} [{where}]"
            if not any(p.search(text) for p in self.allowed_console):
                self.problems.append(text)

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda err: self.problems.append(f"uncaught exception on {page.url}: {err}"))

    def allow_console(self, pattern: str) -> None:
        """Accept console errors matching `pattern` (e.g. the 4xx a refused form answers with)."""
        self.allowed_console.append(re.compile(pattern))

    def check(self) -> None:
        """Fail now if a dialog opened, the console logged an error or the server logged a traceback."""
        problems = list(self.problems)
        problems += [f"server: {line.rstrip()}" for line in self.stderr.lines if "Traceback" in line]
        assert not problems, "\n".join(problems)

    def login(self, page: Page, user: str, password: str = PASSWORD) -> None:
        """Sign in through the login form (typed, Enter to submit) and wait to leave /login."""
        if "/login" not in page.url:
            page.goto("/login")
        page.fill("#username", user)
        page.fill("#password", password)
        page.press("#password", "Enter")
        page.wait_for_url(lambda u: "/login" not in u)

    def shot(self, page: Page, name: str, full_page: bool = True) -> Path:
        """Save a screenshot as test-artifacts/screenshots/<name>.png (the screen from the top when not full_page).

        A full-page shot draws a sticky bar (the intake's save bar) in the middle of the page, where it
        never is on screen: the intake is shot as the officer sees it, one screen from the top.
        """
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        if not full_page:
            page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=full_page)
        return path

    # --- the box's API, to set up data quickly -----------------------------------------------

    def api(self, method: str, path: str, user: str = "canbo", **kwargs: Any) -> requests.Response:
        """Call the box's REST API with the user's token."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return requests.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=30, **kwargs)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def ui(box_settings: Settings, browser: Browser) -> Iterator[UI]:
    """A real `motcua serve --port 0` on a fresh box with the sample catalogue and users, and a browser."""
    box = open_box(box_settings.data_dir)
    tokens = {u: create_token(box.db(), u) for u in USERS}
    box.close()
    process = start_server(box_settings)
    try:
        url = read_url(process)
        drain = _Drain(process.stderr)
        drain.start()
        state = UI(url, box_settings, browser, tokens, drain)
        try:
            yield state
            state.check()
        finally:
            state.close()
    finally:
        stop_server(process)


@pytest.fixture
def expect() -> Any:
    """Playwright's `expect` (imported here so a missing package skips/fails like the browser)."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=TIMEOUT_MS)
    return playwright_expect


def png(width: int = 24, height: int = 16) -> bytes:
    """Return a small valid PNG: a grey gradient, like a tiny scan."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes((x * 255 // max(width - 1, 1)) for x in range(width)) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
