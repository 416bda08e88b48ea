"""The display board's event stream and voice, read from a real `motcua serve` process."""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
import time
import wave
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from edge.queue import call_text
from tests.conftest import Server


def read_events(resp: requests.Response, want: int, out: list[tuple[str, dict[str, Any], float]]) -> None:
    """Collect `want` events (name, data, arrival time) from an SSE response."""
    name, data = "message", ""
    for raw in resp.iter_lines(decode_unicode=True):
        if raw is None:
            continue
        if raw.startswith("event: "):
            name = raw[7:]
        elif raw.startswith("data: "):
            data = raw[6:]
        elif raw == "" and data:
            out.append((name, json.loads(data), time.monotonic()))
            name, data = "message", ""
            if len(out) >= want:
                return


@pytest.fixture
def stream(server: Server) -> Iterator[requests.Response]:
    resp = requests.get(f"{server.url}/api/v1/queue/events", headers=server.headers("canbo"), stream=True, timeout=30)
    yield resp
    resp.close()


def test_the_stream_starts_with_the_board_and_then_each_call_arrives(server: Server, stream: requests.Response) -> None:
    api = f"{server.url}/api/v1"
    assert stream.status_code == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
    events: list[tuple[str, dict[str, Any], float]] = []
    reader = threading.Thread(target=read_events, args=(stream, 2, events), daemon=True)
    reader.start()
    for _ in range(2):
        requests.post(f"{api}/queue/tickets", json={"service": "HT"}, headers=server.headers("canbo"), timeout=10)
    sent = time.monotonic()
    called = requests.post(f"{api}/counters/2/call-next", headers=server.headers("canbo"), timeout=10).json()
    reader.join(20)
    assert [e[0] for e in events] == ["board", "call"]
    board = events[0][1]
    assert board["counters"] == [] and board["recent"] == []
    call = events[1][1]
    assert (call["number"], call["counter"]) == (called["number"], 2) == ("A001", 2)
    assert call["text"] == call_text("A001", 2) == "Mời số a, không, không, một, đến quầy số hai."
    assert events[1][2] - sent < 5  # arrives promptly (bench/queue.py measures the latency properly)


def test_a_reconnecting_display_gets_the_calls_it_missed(server: Server) -> None:
    api = f"{server.url}/api/v1"
    for n in (1, 2):
        requests.post(f"{api}/queue/tickets", json={"service": "CT"}, headers=server.headers("canbo"), timeout=10)
        requests.post(f"{api}/counters/{n}/call-next", headers=server.headers("canbo"), timeout=10)
    headers = {**server.headers("canbo"), "Last-Event-ID": "1"}
    with requests.get(f"{api}/queue/events", headers=headers, stream=True, timeout=30) as resp:
        events: list[tuple[str, dict[str, Any], float]] = []
        read_events(resp, 2, events)
    board, missed = events[0][1], events[1][1]
    assert [c["counter"] for c in board["counters"]] == [1, 2] and board["last_id"] == 2
    assert (missed["id"], missed["number"], missed["counter"]) == (2, "B002", 2)


def test_the_stream_needs_a_token_or_a_signed_in_browser(server: Server) -> None:
    resp = requests.get(f"{server.url}/api/v1/queue/events", timeout=10)
    assert resp.status_code == 401


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None and os.environ.get("CI", "").lower() in ("", "0", "false", "no"),
    reason="espeak-ng is not installed (.ci/run installs it; under CI this test runs, and fails without it)",
)
def test_the_voice_call_is_a_wav_of_a_few_seconds(server: Server) -> None:
    session = requests.Session()
    login = session.get(f"{server.url}/login", timeout=10).text
    token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    session.post(f"{server.url}/login", data={"username": "canbo", "password": "matkhau-2026", "csrf_token": token},
                 timeout=10)  # fmt: skip
    resp = session.get(f"{server.url}/display/voice/A012/2.wav", timeout=60)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(resp.content)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert 2.0 < seconds < 8.0, seconds
    assert session.get(f"{server.url}/display/voice/A0%2F12/2.wav", timeout=10).status_code == 404
