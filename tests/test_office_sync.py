"""Office events (closed queue tickets, ratings) from a real box file to the hub, exactly once.

The box side runs on a real box with a fake clock; the end-to-end tests run `motcua sync once`
against a real `motcua hub serve` on SQLite and on PostgreSQL; the protocol's refusals go through
the hub app with signed requests.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from edge import officelog, queue, ratings
from edge.box import Box, open_box
from edge.calendar import TZ
from edge.config import Settings
from sync.hub.app import create_hub_app
from sync.hub.boxes import add_box
from sync.hub.config import init_hub
from sync.hub.db import HubDB
from sync.hub.office import store_office_events
from sync.protocol import decode_ack
from sync.protocol.office import encode_office_batch
from tests.hub_support import AGENCY, pg_database, signed
from tests.hubproc import Hub, drop_pg_database, make_box, make_hub, provision
from tests.hubproc import pg_database as pg_database_named

BATCH_TYPE = "application/vnd.motcua.batch+gzip"
HUB_NOW = datetime(2026, 11, 25, 10, tzinfo=TZ).timestamp()  # the hub app's clock in the signed-request tests


def serve_morning(db: Any, base: datetime) -> dict[str, dict[str, Any]]:
    """A served ticket (A), a no-show (B), one still waiting (C), and two ratings."""
    at = lambda minutes: base + timedelta(minutes=minutes)  # noqa: E731
    a = queue.issue_ticket(db, "HT", at(0))
    b = queue.issue_ticket(db, "HT", at(1), priority="elderly")
    c = queue.issue_ticket(db, "CT", at(2))
    assert queue.call_next(db, 1, "canbo", at(5))["id"] == b["id"]  # the priority group first
    queue.no_show(db, b["id"], at(7))
    assert queue.call_next(db, 2, "canbo2", at(10))["id"] == a["id"]
    queue.start(db, a["id"], at(11))
    queue.finish(db, a["id"], at(21))
    ratings.rate_service(db, at(22), 5, ticket=a["number"])
    ratings.record_rating(db, 1, 2, 3, "keypad", at(23))
    return {"A": a, "B": b, "C": c}


def test_closed_tickets_and_ratings_are_queued_once_with_stable_ids(box: Box) -> None:
    db = box.db()
    base = box.now()
    tickets = serve_morning(db, base)
    box_id = box.settings.box_id
    assert officelog.collect(db, box_id) == 4
    assert officelog.collect(db, box_id) == 0
    assert len({e.event_id for e in officelog.pending(db)}) == 4
    served = next(e for e in officelog.pending(db) if e.kind == "ticket_closed" and e.payload["state"] == "done")
    assert served.event_id == officelog.event_id_for(box_id, "ticket_closed", tickets["A"]["id"])
    assert served.at == (base + timedelta(minutes=21)).isoformat()
    assert served.payload["number"] == "A001" and served.payload["counter"] == 2
    assert served.payload["officer"] == "canbo2" and served.payload["service"] == "HT"
    assert (served.payload["waiting_s"], served.payload["service_s"]) == (600, 600)
    missed = next(e for e in officelog.pending(db) if e.kind == "ticket_closed" and e.payload["state"] == "no_show")
    assert missed.payload["priority"] == "elderly" and missed.payload["weight"] == 2
    assert (missed.payload["waiting_s"], missed.payload["service_s"]) == (240, None)
    rated = [e for e in officelog.pending(db) if e.kind == "rating"]
    assert sorted((e.payload["level"], e.payload["scale"], e.payload["ticket"]) for e in rated) == [
        (1, 5, "A001"),
        (2, 3, None),
    ]

    # C was still waiting, before the closed ones: once closed it is found, and only it.
    called = queue.call_next(db, 3, "canbo", base + timedelta(minutes=30))
    assert called is not None and called["id"] == tickets["C"]["id"]
    queue.finish(db, called["id"], base + timedelta(minutes=40))
    assert officelog.collect(db, box_id) == 1
    box.close()  # a restart: nothing is queued twice, nothing is lost
    again = open_box(box.settings.data_dir)
    try:
        assert officelog.collect(again.db(), box_id) == 0
        assert officelog.status(again.db()) == officelog.OfficeStatus(waiting=5, refused=0)
        ids = [e.event_id for e in officelog.pending(again.db())]
        assert len(set(ids)) == 5
        assert officelog.event_id_for(box_id, "ticket_closed", tickets["C"]["id"]) in ids
    finally:
        again.close()


# --- end to end: `motcua sync once` against a real hub process ------------------------------------


def sync_cli(settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "sync", "once", "--data", str(settings.data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def box_event_ids(settings: Settings) -> set[str]:
    box = open_box(settings.data_dir)
    try:
        return {r[0] for r in box.db().execute("SELECT event_id FROM office_outbox")}
    finally:
        box.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Hub, HubDB]]:
    """A real hub process on SQLite or on its own PostgreSQL database, and a connection to its store."""
    name = f"motcua_office_{uuid.uuid4().hex[:10]}"
    url = pg_database_named(name) if request.param == "postgresql" else None
    hub = make_hub(tmp_path / "hub", url).start()
    db = HubDB(url or f"sqlite:///{tmp_path / 'hub' / 'hub.db'}")
    try:
        yield hub, db
    finally:
        db.close()
        hub.stop()
        if url:
            drop_pg_database(name)


def held_at_hub(db: HubDB) -> list[tuple[str, str, str]]:
    return [(r[0], r[1], r[2]) for r in db.query("SELECT event_id, commune_code, kind FROM office_events")]


def test_tickets_and_ratings_reach_the_hub_exactly_once(tmp_path: Path, any_hub: tuple[Hub, HubDB]) -> None:
    hub, hub_store = any_hub
    settings = make_box(tmp_path)
    box = open_box(settings.data_dir)
    tickets = serve_morning(box.db(), datetime.now(TZ).replace(hour=8, minute=0, second=0, microsecond=0))
    box.close()
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)

    first = sync_cli(settings)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "4 phiếu/đánh giá" in first.stdout and "0 phiếu/đánh giá." in first.stdout
    held = held_at_hub(hub_store)
    assert len(held) == 4 and {h[0] for h in held} == box_event_ids(settings)
    assert {h[1] for h in held} == {"00001"}
    assert sorted(h[2] for h in held) == ["rating", "rating", "ticket_closed", "ticket_closed"]

    second = sync_cli(settings)  # nothing is sent twice
    assert second.returncode == 0 and "0 phiếu/đánh giá" in second.stdout
    assert len(held_at_hub(hub_store)) == 4

    # The box dies after the hub stored a batch but before it noted the answer: it sends them again,
    # the hub says it holds them, and still holds each once.
    box = open_box(settings.data_dir)
    box.db().execute("UPDATE office_outbox SET sent_at = NULL")
    box.close()
    resent = sync_cli(settings)
    assert resent.returncode == 0 and "4 phiếu/đánh giá" in resent.stdout
    assert len(held_at_hub(hub_store)) == 4

    # The hub is killed; the box closes another ticket; `sync once` fails while it waits, then goes.
    hub.kill()
    box = open_box(settings.data_dir)
    now = datetime.now(TZ).replace(hour=8, minute=40, second=0, microsecond=0)
    called = queue.call_next(box.db(), 3, "canbo", now)
    assert called is not None and called["id"] == tickets["C"]["id"]
    queue.finish(box.db(), called["id"], now + timedelta(minutes=5))
    box.close()
    down = sync_cli(settings)
    assert down.returncode == 1 and "1 phiếu/đánh giá" in down.stdout
    hub.start(hub.port)
    back = sync_cli(settings)
    assert back.returncode == 0, back.stdout + back.stderr
    held = held_at_hub(hub_store)
    assert len(held) == len({h[0] for h in held}) == 5
    assert {h[0] for h in held} == box_event_ids(settings)


def test_a_malformed_item_is_refused_with_its_code_and_blocks_nothing(tmp_path: Path, hub: Hub) -> None:
    settings = make_box(tmp_path)
    box = open_box(settings.data_dir)
    serve_morning(box.db(), datetime.now(TZ).replace(hour=8, minute=0, second=0, microsecond=0))
    officelog.collect(box.db(), settings.box_id)
    broken = box.db().execute("SELECT event_id, payload FROM office_outbox WHERE kind = 'rating' LIMIT 1").fetchone()
    box.db().execute(
        "UPDATE office_outbox SET payload = ? WHERE event_id = ?",
        [json.dumps({**json.loads(broken[1]), "level": "tốt"}), broken[0]],
    )
    box.close()
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)

    done = sync_cli(settings)
    assert done.returncode == 1, done.stdout
    assert "3 phiếu/đánh giá" in done.stdout and "1 phiếu/đánh giá." in done.stdout
    with sqlite3.connect(hub.data / "hub.db") as conn:
        stored = {r[0] for r in conn.execute("SELECT event_id FROM office_events")}
    assert len(stored) == 3 and broken[0] not in stored
    box = open_box(settings.data_dir)
    (refusal,) = officelog.refused(box.db())
    assert refusal["event_id"] == broken[0] and refusal["code"] == "malformed_event"
    assert "payload.level" in str(refusal["message"])
    # Fixed and sent again: it goes, and the others are not sent twice.
    box.db().execute("UPDATE office_outbox SET payload = ? WHERE event_id = ?", [broken[1], broken[0]])
    assert officelog.retry_refused(box.db()) == 1
    box.close()
    assert sync_cli(settings).returncode == 0
    with sqlite3.connect(hub.data / "hub.db") as conn:
        assert conn.execute("SELECT count(*) FROM office_events").fetchone()[0] == 4


# --- the endpoint's refusals, through the hub app with signed requests ---------------------------


@dataclasses.dataclass
class SignedBox:
    box_id: str
    commune_code: str
    secret: bytes


class OfficeHub:
    """A hub app on a SQLite file, with boxes enrolled over HTTP."""

    def __init__(self, root: Path) -> None:
        settings = init_hub(root)
        self.db = HubDB(settings.database_url)
        self.app = create_hub_app(settings, self.db, lambda: HUB_NOW)
        self.client: FlaskClient = self.app.test_client()

    def enroll(self, commune_code: str) -> SignedBox:
        _, code = add_box(self.db, commune_code, f"Hộp xã {commune_code}", AGENCY)
        box_id = str(uuid.uuid4())
        body = {"code": code, "box_id": box_id, "commune_code": commune_code, "agency_code": AGENCY,
                "name": "UBND xã", "version": "1.0"}  # fmt: skip
        answer = self.client.post("/sync/v1/enroll", json=body)
        assert answer.status_code == 200, answer.json
        return SignedBox(box_id, commune_code, bytes.fromhex(answer.json["secret"]))  # type: ignore[index]

    def push(self, box: SignedBox, events: list[Any], *, commune_code: str | None = None, box_id: str | None = None,
             body: bytes | None = None) -> Any:  # fmt: skip
        data = body if body is not None else encode_office_batch(
            events, box_id=box_id or box.box_id, commune_code=commune_code or box.commune_code,
            batch_id=str(uuid.uuid4()),
        )  # fmt: skip
        path = "/sync/v1/office-events"
        headers = {**signed(box.secret, box.box_id, "POST", path, data, now=int(HUB_NOW)), "Content-Type": BATCH_TYPE}
        return self.client.post(path, data=data, headers=headers)

    def count(self) -> int:
        return int(self.db.scalar("SELECT count(*) FROM office_events"))


def rating(level: int = 1, scale: int = 5, **changes: Any) -> dict[str, Any]:
    """An office event of kind rating, in the wire shape."""
    event = {
        "event_id": str(uuid.uuid4()),
        "kind": "rating",
        "at": "2026-11-25T09:30:00+07:00",
        "payload": {"level": level, "scale": scale, "counter": 1, "officer": "canbo", "ticket": "A001",
                    "dossier_code": None, "source": "keypad", "at": "2026-11-25T09:30:00+07:00"},
    }  # fmt: skip
    event.update(changes)
    return event


@pytest.fixture
def office_hub(tmp_path: Path) -> Iterator[OfficeHub]:
    made = OfficeHub(tmp_path / "hub")
    yield made
    made.db.close()


def test_a_batch_for_another_commune_is_refused_whole(office_hub: OfficeHub) -> None:
    box = office_hub.enroll("00001")
    answer = office_hub.push(box, [rating()], commune_code="00002")
    assert answer.status_code == 403 and answer.json["code"] == "wrong_commune"
    assert answer.json["message"] and answer.json["message_en"]
    other_box = office_hub.push(box, [rating()], box_id="another-box")
    assert other_box.status_code == 403 and other_box.json["code"] == "wrong_box"
    assert office_hub.count() == 0


def test_an_event_held_for_another_commune_or_with_other_content_is_refused(office_hub: OfficeHub) -> None:
    first, second = office_hub.enroll("00001"), office_hub.enroll("00002")
    event = rating()
    assert decode_ack(office_hub.push(first, [event]).data).accepted == [event["event_id"]]
    ack = decode_ack(office_hub.push(first, [event]).data)
    assert ack.already_held == [event["event_id"]] and not ack.accepted
    stolen = decode_ack(office_hub.push(second, [event]).data)
    assert [(r.event_id, r.code) for r in stolen.rejected] == [(event["event_id"], "wrong_commune")]
    changed = decode_ack(office_hub.push(first, [{**event, "at": "2026-11-25T09:31:00+07:00"}]).data)
    assert [r.code for r in changed.rejected] == ["event_id_conflict"]
    assert office_hub.db.query("SELECT commune_code, day FROM office_events") == [("00001", "2026-11-25")]


def test_malformed_items_are_refused_with_their_code_and_the_others_stored(office_hub: OfficeHub) -> None:
    box = office_hub.enroll("00001")
    good = [rating(), rating(2, 3)]
    bad = {
        "malformed_event": [
            rating(level=6),
            rating(4, 3),
            rating(scale=4),
            rating(at="hôm qua"),
            rating(payload={"level": 1}),
            {**rating(), "extra": 1},
        ],
        "unknown_kind": [rating(kind="evaluation")],
    }
    events = [good[0], *[e for group in bad.values() for e in group], good[1]]
    answer = office_hub.push(box, events)
    assert answer.status_code == 200
    ack = decode_ack(answer.data)
    assert ack.accepted == [e["event_id"] for e in good]
    refused = {r.event_id: r.code for r in ack.rejected}
    assert refused == {e["event_id"]: code for code, group in bad.items() for e in group}
    assert office_hub.count() == 2


@pytest.mark.parametrize("what", ["not_json", "not_gzip", "id_not_uuid", "no_commune"])
def test_an_unreadable_batch_is_refused_whole(office_hub: OfficeHub, what: str) -> None:
    box = office_hub.enroll("00001")
    envelope = {"batch_id": str(uuid.uuid4()), "box_id": box.box_id, "commune_code": "00001", "events": [rating()]}
    if what == "id_not_uuid":
        envelope["events"] = [rating(), {**rating(), "event_id": "not-a-uuid"}]
    if what == "no_commune":
        del envelope["commune_code"]
    body = {
        "not_json": gzip.compress(b"{not json"),
        "not_gzip": b"not gzip at all",
    }.get(what) or gzip.compress(json.dumps(envelope).encode("utf-8"))
    answer = office_hub.push(box, [], body=body)
    assert answer.status_code == 422 and answer.json["code"] == "malformed_batch"
    assert office_hub.count() == 0


def test_unsigned_pushes_are_refused(office_hub: OfficeHub) -> None:
    body = encode_office_batch([rating()], box_id="x", commune_code="00001", batch_id=str(uuid.uuid4()))
    answer = office_hub.client.post("/sync/v1/office-events", data=body, headers={"Content-Type": BATCH_TYPE})
    assert answer.status_code == 401
    assert office_hub.count() == 0


# --- two hub processes storing the same events at once ----------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_writers_storing_the_same_events_at_once_store_each_once(tmp_path: Path, backend: str) -> None:
    events = [rating(level=1 + n % 5) for n in range(200)]

    def race(url: str) -> None:
        setup = HubDB(url)
        setup.create_schema()
        setup.close()
        answers: list[Any] = []
        barrier = threading.Barrier(2)

        def store() -> None:
            db = HubDB(url)
            barrier.wait()
            try:
                answers.append(store_office_events(db, events, commune_code="00001", box_id="b", now_iso="x"))
            finally:
                db.close()

        threads = [threading.Thread(target=store) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(answers) == 2 and not any(a.rejected for a in answers)
        for answer in answers:
            assert sorted(answer.accepted + answer.already_held) == sorted(e["event_id"] for e in events)
        check = HubDB(url)
        try:
            assert check.scalar("SELECT count(*) FROM office_events") == 200
            assert check.scalar("SELECT count(DISTINCT event_id) FROM office_events") == 200
        finally:
            check.close()

    if backend == "sqlite":
        race(f"sqlite:///{tmp_path / 'hub.db'}")
    else:
        with pg_database("hub_office") as url:
            race(url)
