"""Forwarding to the national portal against a real local HTTP endpoint that fails on purpose, then recovers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sync.hub.context import HubContext
from sync.hub.dvcqg import to_dongbo
from sync.hub.fleet import Thresholds, load_fleet
from sync.hub.forward import BACKOFF_CAP_S, backoff_s, failing_forwards, forward_once, start_forwarder
from sync.hub.records import find_dossier
from tests.hub_fixtures import DossierWriter, Hub, add_box, heartbeat, make_hub

TOKEN = "portal-token-123"


class Portal:
    """An HTTP endpoint that answers 503 to the first `fail` requests, then 200; it records what it got."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.received: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                portal.auth.append(self.headers.get("Authorization"))
                portal.received.append(body)
                failing = len(portal.received) <= portal.fail
                self.send_response(503 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error":"bao tri"}' if failing else b'{"status":"ok"}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/DongBoHoSoMC"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def portal() -> Iterator[Portal]:
    server = Portal(fail=3)
    yield server
    server.close()


@pytest.fixture
def hub(tmp_path: Path, portal: Portal) -> Hub:
    base = make_hub(tmp_path / "hub")
    return base.with_settings(forward_url=portal.url, forward_token=TOKEN, forward_interval_s=0.05)


def ctx_of(hub: Hub) -> HubContext:
    ctx: HubContext = hub.app.extensions["motcua_hub"]
    return ctx


def row(hub: Hub, dossier_id: str) -> dict[str, Any]:
    keys = ("wanted_version", "sent_version", "attempts", "last_error", "next_attempt_at", "forwarded_at")
    found = hub.db.one(f"SELECT {', '.join(keys)} FROM forwards WHERE dossier_id = ?", [dossier_id])
    assert found is not None
    return dict(zip(keys, found, strict=True))


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    assert backoff_s(1, lambda: 0.0) == 15 and backoff_s(1, lambda: 0.999999) == pytest.approx(30, rel=1e-5)
    assert backoff_s(2, lambda: 0.0) == 30 and backoff_s(3, lambda: 0.0) == 60
    assert backoff_s(50, lambda: 0.999999) <= BACKOFF_CAP_S and backoff_s(50, lambda: 0.0) == BACKOFF_CAP_S / 2


def test_failures_back_off_stay_queued_and_visible_then_deliver(hub: Hub, portal: Portal) -> None:
    add_box(hub, "box-1", "00001", "Máy Phúc Xá", beats=[heartbeat(hub.clock.iso(-30))])
    w = DossierWriter(hub)
    w.create()
    ctx = ctx_of(hub)
    for attempt in (1, 2, 3):
        assert forward_once(ctx) == {"sent": 0, "failed": 1, "pending": 1, "skipped": False}
        state = row(hub, w.dossier_id)
        assert state["attempts"] == attempt and state["sent_version"] == 0
        assert state["last_error"].startswith("HTTP 503") and "bao tri" in state["last_error"]
        # Not due again before its backoff has passed.
        assert forward_once(ctx)["failed"] == 0 and len(portal.received) == attempt
        hub.clock.advance(backoff_s(attempt, lambda: 0.999999) + 1)
    # Three failures: on the fleet as an alert and in the failing list, still queued.
    [fleet_row] = load_fleet(hub.db, hub.clock(), Thresholds.of(hub.settings))
    assert [a.code for a in fleet_row.alerts] == ["forward_failing"]
    [failing] = failing_forwards(ctx, 3)
    assert (failing["code"], failing["attempts"], failing["commune_code"]) == (w.code, 3, "00001")
    assert forward_once(ctx) == {"sent": 1, "failed": 0, "pending": 0, "skipped": False}
    state = row(hub, w.dossier_id)
    assert (state["sent_version"], state["attempts"], state["last_error"]) == (state["wanted_version"], 0, None)
    assert state["forwarded_at"] is not None and state["next_attempt_at"] is None
    assert portal.auth == [f"Bearer {TOKEN}"] * 4
    body = portal.received[-1]
    held = find_dossier(hub.db, w.code)
    assert held is not None
    assert body == {"service": "DongBoHoSoMC", "isUpdating": "true", "data": [to_dongbo(held, held["events"])]}
    assert failing_forwards(ctx, 1) == []
    assert load_fleet(hub.db, hub.clock(), Thresholds.of(hub.settings))[0].alerts == []
    # Nothing more to send until the dossier changes; a change is sent again.
    assert forward_once(ctx)["sent"] == 0
    w.add("transferred", {"assignee": "lanhdao", "note": ""})
    assert forward_once(ctx)["sent"] == 1
    assert portal.received[-1]["data"][0]["TrangThaiHoSo"] == 4


def test_an_unreachable_portal_is_recorded_never_dropped(tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "hub").with_settings(forward_url="http://127.0.0.1:9/nothing", forward_token=None)
    w = DossierWriter(hub)
    w.create()
    ctx = ctx_of(hub)
    for _ in range(5):
        assert forward_once(ctx)["failed"] == 1
        hub.clock.advance(BACKOFF_CAP_S + 1)
    state = row(hub, w.dossier_id)
    assert state["attempts"] == 5 and state["sent_version"] == 0 and state["last_error"].startswith("network")
    listed = failing_forwards(ctx, 3)
    assert [f["code"] for f in listed] == [w.code]


def test_a_claimed_row_is_not_sent_twice(hub: Hub, portal: Portal) -> None:
    from sync.hub.forward import _claim

    w = DossierWriter(hub)
    w.create()
    ctx = ctx_of(hub)
    assert _claim(ctx, w.dossier_id, hub.clock()) is True
    assert _claim(ctx, w.dossier_id, hub.clock()) is False  # a second process finds it taken
    assert forward_once(ctx)["sent"] == 0 and portal.received == []


def test_without_a_portal_url_nothing_is_sent(tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "hub")
    w = DossierWriter(hub)
    w.create()
    ctx = ctx_of(hub)
    assert forward_once(ctx) == {"sent": 0, "failed": 0, "pending": 0, "skipped": True}
    start_forwarder(ctx)()  # no thread to stop
    assert row(hub, w.dossier_id)["attempts"] == 0


def test_the_forwarder_thread_delivers_and_stops(hub: Hub, portal: Portal) -> None:
    portal.fail = 0
    w = DossierWriter(hub)
    w.create()
    stop = start_forwarder(ctx_of(hub))
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and row(hub, w.dossier_id)["sent_version"] == 0:
            time.sleep(0.05)
    finally:
        stop()
    assert row(hub, w.dossier_id)["sent_version"] == 1 and len(portal.received) == 1
    assert not any(t.name == "motcua-hub-forwarder" and t.is_alive() for t in threading.enumerate())
