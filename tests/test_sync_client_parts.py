"""The sync client's parts on their own: config files, backoff, failover order, clock offset, heartbeat body."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from edge import intake, outbox, syncstate
from edge.box import Box
from edge.errors import ConfigError
from edge.users import User
from sync.client.config import load_sync_config, write_sync_config
from sync.client.errors import HubRefusedError, HubUnreachableError
from sync.client.heartbeat import build_heartbeat, take_heartbeat
from sync.client.push import CHUNK_BYTES, UPLOAD_SIZE_KEY, adapt_upload_size, plan_batches, upload_size
from sync.client.transport import Backoff, Transport
from tests.conftest import dossier_body


def test_sync_config_round_trip_and_secret_mode(box: Box) -> None:
    assert load_sync_config(box.settings) is None
    write_sync_config(box.settings, ["https://a.example/", "http://b.example:8090"], b"\x01" * 32, "hub-1")
    config = load_sync_config(box.settings, env={"MOTCUA_SYNC_INTERVAL_S": "2"})
    assert config is not None
    assert config.hubs == ("https://a.example", "http://b.example:8090") and config.secret == b"\x01" * 32
    assert config.interval_s == 2.0 and config.check_s == 1.0 and config.workers == 3
    secret = box.settings.data_dir / "sync-secret.toml"
    assert secret.stat().st_mode & 0o777 == 0o600
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by its owner only"):
        load_sync_config(box.settings)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[sync\nbox_id=", "sai cú pháp TOML"),
        ('[other]\nx = 1\n', "thiếu mục [sync]"),
        ('[sync]\nbox_id = "someone-else"\ncommune_code = "00001"\nhubs = ["https://a"]\n', "không phải máy này"),
        ('[sync]\nbox_id = "{box_id}"\ncommune_code = "00001"\nhubs = []\n', "hubs phải là danh sách"),
        ('[sync]\nbox_id = "{box_id}"\ncommune_code = "00001"\nhubs = ["ftp://x"]\n', "không hợp lệ (dạng https://"),
        ('[sync]\nbox_id = "{box_id}"\ncommune_code = "00001"\nhubs = ["https://a"]\ninterval_s = "x"\n', "interval_s phải là số"),
        ('[sync]\nbox_id = "{box_id}"\ncommune_code = "00001"\nhubs = ["https://a"]\nca_bundle = "/nope.pem"\n', "chứng chỉ CA"),
    ],
)  # fmt: skip
def test_a_malformed_sync_file_says_what_is_wrong_in_vietnamese_and_english(box: Box, text: str, words: str) -> None:
    write_sync_config(box.settings, ["https://a"], b"\x02" * 32, "hub-1")
    (box.settings.data_dir / "sync.toml").write_text(text.replace("{box_id}", box.settings.box_id), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_sync_config(box.settings)
    assert words in caught.value.vi and "sync.toml" in caught.value.en


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    backoff = Backoff(base_s=1, cap_s=300)
    assert backoff.delay(0, lambda: 1.0) == 0
    assert [backoff.delay(n, lambda: 1.0) for n in (1, 2, 3, 9, 10, 50)] == [1, 2, 4, 256, 300, 300]
    assert backoff.delay(5, lambda: 0.25) == 4  # a uniform share of the window
    assert backoff.delay(5, lambda: 0.0) == 0
    # A link that does not connect is probed again within link_cap_s, however long it was down.
    assert [backoff.delay(n, lambda: 1.0, link=True) for n in (1, 2, 3, 4, 5, 50)] == [1, 2, 4, 8, 8, 8]


class _Hub(BaseHTTPRequestHandler):
    """A minimal HTTP answerer for transport tests: 200 with the hub-time header, or a scripted error."""

    answers: ClassVar[list[tuple[int, dict[str, object]]]] = []
    hub_ms = 0.0
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        status, body = self.answers.pop(0) if self.answers else (200, {"ok": True})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Motcua-Hub-Time", str(int(type(self).hub_ms)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answerer() -> Iterator[tuple[str, type[_Hub]]]:
    handler = type("Hub", (_Hub,), {"answers": [], "seen": [], "hub_ms": 0.0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def _closed_port() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def test_failover_order_backoff_and_return_with_an_injected_clock(box: Box, answerer: tuple[str, type[_Hub]]) -> None:
    good, handler = answerer
    dead = _closed_port()
    now = [1_000_000.0]
    handler.hub_ms = now[0] * 1000 + 2500  # the hub's clock runs 2.5 s ahead
    link = Transport([dead, good], box=box, box_id="b", secret=b"k" * 32, clock=lambda: now[0], rng=lambda: 1.0,
                     backoff=Backoff(base_s=10, cap_s=300, link_cap_s=300))  # fmt: skip
    assert link.request("GET", "/sync/v1/x").json() == {"ok": True}
    first, second = link.health()
    assert (first.failures, first.next_attempt, second.failures) == (1, now[0] + 10, 0)
    assert first.state(now[0]) == "backing_off" and second.state(now[0]) == "ok"
    assert link.clock_offset_ms == pytest.approx(2500)
    assert link.hub_now() == int(now[0] + 2.5)
    # Persisted: a new transport (a restarted worker) knows the first URL is backing off.
    again = Transport([dead, good], box=box, box_id="b", secret=b"k" * 32, clock=lambda: now[0])
    assert again.health()[0].failures == 1 and again.clock_offset_ms == 2500
    assert syncstate.get(box.db(), "hub:" + dead)["last_error"] == f"Không kết nối được {dead}."

    link.request("GET", "/sync/v1/x")  # within the backoff the dead URL is not even tried
    assert link.health()[0].failures == 1
    now[0] += 11
    link.request("GET", "/sync/v1/x")  # tried again after it expired, failed again: twice as long
    assert link.health()[0].failures == 2 and link.health()[0].next_attempt == now[0] + 20

    only_dead = Transport([dead], box=None, box_id="b", secret=b"k" * 32, clock=lambda: now[0], rng=lambda: 1.0)
    with pytest.raises(HubUnreachableError):
        only_dead.request("GET", "/x")
    with pytest.raises(HubUnreachableError):  # backing off: refused at once, no connection
        only_dead.request("GET", "/x")
    link.close()
    again.close()


def test_a_hub_refusal_is_an_answer_not_a_failure(box: Box, answerer: tuple[str, type[_Hub]]) -> None:
    url, handler = answerer
    handler.answers = [(403, {"code": "wrong_commune", "message": "Sai xã.", "message_en": "Wrong commune."}),
                       (503, {"code": "unavailable"})]  # fmt: skip
    link = Transport([url], box=box, box_id="b", secret=b"k" * 32, rng=lambda: 0.0)
    with pytest.raises(HubRefusedError) as refused:
        link.request("GET", "/sync/v1/communes/00002/feed", query={"after": 0, "limit": 10})
    assert (refused.value.code, refused.value.vi, refused.value.status) == ("wrong_commune", "Sai xã.", 403)
    assert link.health()[0].failures == 0
    assert handler.seen[0] == "/sync/v1/communes/00002/feed?after=0&limit=10"
    with pytest.raises(HubUnreachableError, match="status 503"):
        link.request("GET", "/x")
    assert link.health()[0].failures == 1 and "mã 503" in str(link.health()[0].last_error)
    link.close()


def test_batches_respect_the_event_and_byte_limits(box: Box, officer: User) -> None:
    for _ in range(7):
        intake.receive_dossier(box, officer, dossier_body())
    events = outbox.pending_events(box.db())
    assert [len(b) for b in plan_batches(events, max_events=3)] == [3, 3, 1]
    one = len(json.dumps(events[0].to_dict(), ensure_ascii=False).encode()) + 1
    assert [len(b) for b in plan_batches(events, max_bytes=one * 2 + 10)] == [2, 2, 2, 1]
    assert [e for b in plan_batches(events, max_events=2) for e in b] == events  # order kept


def test_the_heartbeat_body_follows_the_protocol(box: Box, officer: User, tmp_path: Path) -> None:
    intake.receive_dossier(box, officer, dossier_body())
    syncstate.update(box.db(), {"last_push_error": "Không kết nối được máy chủ tỉnh."})
    body = build_heartbeat(box, clock_offset_ms=-1234.4)
    expected = {"taken_at", "version", "uptime_s", "clock_offset_ms", "disk_free_bytes", "disk_total_bytes",
                "db_bytes", "outbox_events", "outbox_bytes", "oldest_unsent_age_s", "refused_events", "last_push_at",
                "last_push_error", "last_pull_at", "last_pull_error", "open_conflicts", "devices", "hub_url"}  # fmt: skip
    assert set(body) == expected
    assert body["taken_at"] == "2026-11-25T09:00:00+07:00" and body["clock_offset_ms"] == -1234
    assert body["outbox_events"] == 1 and body["outbox_bytes"] > 0 and body["oldest_unsent_age_s"] == 0
    assert body["db_bytes"] >= box.settings.db_path.stat().st_size > 0
    assert 0 < body["disk_free_bytes"] <= body["disk_total_bytes"]
    assert body["last_push_error"] == "Không kết nối được máy chủ tỉnh." and body["devices"] == []
    take_heartbeat(box)
    assert syncstate.heartbeat_backlog(box.db()) == 1


def test_upload_size_shrinks_when_the_link_drops_mid_upload_and_grows_back(box: Box) -> None:
    db = box.db()
    assert upload_size(db) == CHUNK_BYTES  # a new box starts with whole chunks
    sizes = [adapt_upload_size(db, link_failed=True, sent=False) for _ in range(6)]
    assert sizes == [128 * 1024, 64 * 1024, 32 * 1024, 16 * 1024, 16 * 1024, 16 * 1024]
    assert upload_size(db) == 16 * 1024  # kept: a restarted worker starts from what fits the link
    assert adapt_upload_size(db, link_failed=False, sent=False) == 16 * 1024  # nothing sent proves nothing
    grown = [adapt_upload_size(db, link_failed=False, sent=True) for _ in range(6)]
    assert grown == [32 * 1024, 64 * 1024, 128 * 1024, CHUNK_BYTES, CHUNK_BYTES, CHUNK_BYTES]
    syncstate.put(db, UPLOAD_SIZE_KEY, "garbage")
    assert upload_size(db) == CHUNK_BYTES


def test_the_heartbeat_carries_each_configured_devices_health(box: Box) -> None:
    from edge import devicehealth
    from edge.config import update_config_file
    from edge.ports import NotDelivered

    update_config_file(
        box.settings.data_dir, {"receipt_printer": "tcp://192.0.2.9:9100", "card_terminal": "sim://terminal"}
    )
    devicehealth.record_ok(box.db(), "card_terminal", "sim://terminal", at="2026-11-25T08:00:00+07:00")
    devicehealth.record_error(
        box.db(), "receipt_printer", "tcp://192.0.2.9:9100",
        NotDelivered("Không kết nối được máy in.", "Cannot reach the printer."), at="2026-11-25T08:30:00+07:00",
    )  # fmt: skip
    devices = {d["kind"]: d for d in build_heartbeat(box)["devices"]}
    assert set(devices) == {"receipt_printer", "card_terminal"}  # the roles with no device are left out
    assert devices["receipt_printer"] == {"name": "Máy in biên nhận", "kind": "receipt_printer", "ok": False,
                                          "last_ok_at": None, "last_error": "Không kết nối được máy in."}  # fmt: skip
    assert devices["card_terminal"]["ok"] is True
    assert devices["card_terminal"]["last_ok_at"] == "2026-11-25T08:00:00+07:00"
