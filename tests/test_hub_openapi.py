"""sync/protocol/openapi.yaml is valid, and both ends keep to it.

The hub app runs in a real HTTP server in this process with a hook that validates every request
it receives and every response it gives against the spec. Through it, the real sync client
provisions a box, pushes events and scans (small and chunked), pulls a dossier filed online and
sends its heartbeat; then provincial calls and refusals are made. Any request or response the
spec does not describe fails the test, and every path of the spec must have been exercised.
"""

from __future__ import annotations

import gzip
import io
import random
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from flask import Flask, Response, request
from openapi_core import OpenAPI
from openapi_core.contrib.flask import FlaskOpenAPIRequest
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from openapi_spec_validator import validate
from werkzeug.serving import BaseWSGIServer, make_server

from edge import intake, queue, ratings
from edge.attachments import attach
from edge.box import open_box
from edge.calendar import TZ
from edge.catalogue import sample_catalogue
from edge.users import get_user
from sync.client.cycle import sync_once
from sync.client.provision import provision
from sync.hub.app import create_hub_app
from sync.hub.boxes import add_box, new_enrollment_code
from sync.hub.config import init_hub, open_hub
from sync.hub.feed import publish_catalogue
from sync.hub.users import add_user, create_token
from sync.protocol import sign
from tests.conftest import applicant, dossier_body
from tests.hubproc import make_box

SPEC_PATH = Path(__file__).resolve().parents[1] / "sync" / "protocol" / "openapi.yaml"
PNG = b"\x89PNG\r\n\x1a\n"


class Recorder:
    """Validates each exchange against the spec; keeps what failed and which operations ran."""

    def __init__(self) -> None:
        self.openapi = OpenAPI.from_file_path(str(SPEC_PATH))
        self.errors: list[str] = []
        self.seen: set[tuple[str, str, int]] = set()

    def check(self, response: Response) -> Response:
        req = FlaskOpenAPIRequest(request)
        try:
            result = self.openapi.unmarshal_response(req, WerkzeugOpenAPIResponse(response))
            if result.errors:
                raise result.errors[0]
            if response.status_code < 400:
                self.openapi.validate_request(req)
        except Exception as err:  # every kind of mismatch is a failure to report
            detail = getattr(err, "__cause__", None)
            self.errors.append(f"{request.method} {request.path} → {response.status_code}: {err!r} {detail!r}")
        rule = request.url_rule.rule if request.url_rule else request.path
        self.seen.add((request.method, rule, response.status_code))
        return response


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[str, Recorder, Any, str]]:
    settings = init_hub(tmp_path / "hub")
    settings, db = open_hub(settings.data_dir)
    now = datetime.now(TZ).isoformat(timespec="seconds")
    add_user(db, "quantri", "admin", "quan-tri-2026", now)
    token = create_token(db, "quantri", now)
    publish_catalogue(db, [proc.to_dict() for proc in sample_catalogue()], now)
    app: Flask = create_hub_app(settings, db)
    recorder = Recorder()
    app.after_request(recorder.check)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", recorder, db, token
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_the_spec_is_a_valid_openapi_document() -> None:
    validate(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8")))


def test_client_and_hub_keep_to_the_spec(tmp_path: Path, hub: tuple[str, Recorder, Any, str]) -> None:
    url, recorder, db, token = hub
    admin = {"Authorization": f"Bearer {token}"}
    settings = make_box(tmp_path)
    box = open_box(settings.data_dir)
    officer = get_user(box.db(), "canbo")
    rng = random.Random(3)
    codes = []
    for n in range(4):
        state = intake.receive_dossier(box, officer, dossier_body(applicant=applicant(id_number=f"001099{n:06d}")))
        size = 600_000 if n == 0 else 3_000  # one scan spans several chunks, the others are small
        attach(box, officer, state["code"], io.BytesIO(PNG + rng.randbytes(size)), f"scan-{n}.png")
        codes.append(state["code"])
    # A served ticket and its rating: office events for POST /sync/v1/office-events.
    now = datetime.now(TZ).replace(hour=8, minute=0, second=0, microsecond=0)
    queue.issue_ticket(box.db(), "HT", now)
    called = queue.call_next(box.db(), 1, "canbo", now)
    assert called is not None
    queue.finish(box.db(), called["id"], now)
    ratings.rate_service(box.db(), now, 5, ticket=called["number"])
    _, enrollment = add_box(db, "00001", "UBND xã Thử Nghiệm")
    # A wrong code first (400), then the right one.
    assert requests.post(f"{url}/sync/v1/enroll", json={"code": new_enrollment_code(), "box_id": "x", "commune_code": "00001", "name": "x", "version": "1"},
                         timeout=10).status_code == 400  # fmt: skip
    config = provision(box, [url], enrollment)

    result = sync_once(box)
    assert result.done, result.summary()
    body = {
        "procedure_code": box.db().execute("SELECT code FROM procedures LIMIT 1").fetchone()[0],
        "applicant": applicant(id_number="001099000777"),
    }
    key = {**admin, "Idempotency-Key": "portal-0001"}
    filed = requests.post(f"{url}/api/v1/communes/00001/dossiers", json=body, headers=key, timeout=10)
    assert filed.status_code == 201, filed.text
    again = requests.post(f"{url}/api/v1/communes/00001/dossiers", json=body, headers=key, timeout=10)  # a retry
    assert again.status_code == 200 and again.json()["code"] == filed.json()["code"]
    bad = requests.post(f"{url}/api/v1/communes/00001/dossiers", json={"procedure_code": "KHONG-CO"}, headers=admin,
                        timeout=10)  # fmt: skip
    assert bad.status_code == 422
    assert sync_once(box).done

    # Provincial calls, and refusals of each family.
    sha = box.db().execute("SELECT sha256 FROM blobs LIMIT 1").fetchone()[0]
    for path, status in (
        ("/api/v1/fleet", 200),
        (f"/api/v1/dossiers/{codes[0]}", 200),
        (f"/api/v1/dossiers/{codes[0]}/dvcqg", 200),
        ("/api/v1/dossiers/KHONG-CO", 404),
        (f"/api/v1/blobs/{sha}", 200),
        ("/api/v1/blobs/" + "0" * 64, 404),
        ("/metrics", 200),
        ("/api/v1/reports/counter?from=2026-11-01&to=2026-11-30", 200),
        ("/api/v1/reports/counter?from=2026-11-30&to=2026-11-01", 422),
    ):
        got = requests.get(url + path, headers=admin, timeout=10)
        assert got.status_code == status, (path, got.text)
    withdraw = f"{url}/api/v1/dossiers/{filed.json()['code']}/withdraw"
    done = requests.post(withdraw, json={"reason": "Công dân rút hồ sơ"}, headers=admin, timeout=10)
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    assert requests.post(withdraw, json={"reason": "Lần nữa"}, headers=admin, timeout=10).status_code == 409
    assert requests.get(f"{url}/api/v1/fleet", timeout=10).status_code == 401
    secret = config.secret
    feed = "/sync/v1/communes/00002/feed"
    other = requests.get(url + feed, headers=sign(secret, config.box_id, "GET", feed, None, b""), timeout=10)
    assert other.status_code == 403 and other.json()["code"] == "wrong_commune"
    junk = gzip.compress(b"{not json")
    headers = sign(secret, config.box_id, "POST", "/sync/v1/events", None, junk)
    bad_batch = requests.post(url + "/sync/v1/events", data=junk, timeout=10,
                              headers={**headers, "Content-Type": "application/vnd.motcua.batch+gzip"})  # fmt: skip
    assert bad_batch.status_code == 422
    blob = "/sync/v1/blobs/" + "1" * 64
    query = {"offset": "5", "size": "10"}
    skip = requests.put(url + blob, params=query, data=b"abcde", timeout=10,
                        headers={**sign(secret, config.box_id, "PUT", blob, query, b"abcde"),
                                 "Content-Type": "application/octet-stream"})  # fmt: skip
    assert skip.status_code == 409 and skip.json()["offset"] == 0
    # The box asks with POST /blobs/status; HEAD stays for a single blob.
    head = requests.head(url + blob, headers=sign(secret, config.box_id, "HEAD", blob, None, b""), timeout=10)
    assert head.status_code == 200 and head.headers["X-Motcua-Blob-Offset"] == "0"
    unsigned = requests.post(url + "/sync/v1/heartbeat", json={"taken_at": "2026-11-26T10:00:00+07:00"}, timeout=10)
    assert unsigned.status_code == 401

    assert not recorder.errors, "\n".join(recorder.errors)
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    exercised = {(m, rule.replace("<", "{").replace(">", "}").replace("path:", "")) for m, rule, _ in recorder.seen}
    wanted = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m != "parameters"}
    normalised = {(m, _shape(p)) for m, p in exercised}
    missing = {(m, p) for m, p in wanted if (m, _shape(p)) not in normalised}
    assert not missing, f"operations the spec lists that nothing exercised: {sorted(missing)}"
    box.close()


def _shape(path: str) -> str:
    """A path with every {parameter} (or <converter:parameter>) replaced by one marker."""
    import re

    return re.sub(r"\{[^}]*\}", "{}", path)
