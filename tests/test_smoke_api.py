"""The thin path: a dossier in over HTTP, a code and a due date out."""

from __future__ import annotations

import re

import requests

from tests.conftest import Server, dossier_body


def test_receive_dossier_over_http(server: Server) -> None:
    resp = requests.post(f"{server.url}/api/v1/dossiers", json=dossier_body(), headers=server.headers(), timeout=10)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert re.fullmatch(r"000\.17\.22\.H56-\d{6}-0001", body["code"])
    assert body["status"] == "new" and body["status_code"] == 2
    assert body["received_at"].endswith("+07:00") and body["due_at"].endswith("+07:00")
    got = requests.get(f"{server.url}/api/v1/dossiers/{body['code']}", headers=server.headers(), timeout=10)
    assert got.status_code == 200
    assert [e["kind"] for e in got.json()["events"]] == ["created"]
