"""The hub's store on SQLite and on a real PostgreSQL: ingest, feed, blobs, boxes."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.calendar import TZ
from edge.errors import NotFoundError, ValidationError
from sync.hub.auth import DBNonceStore, key_for
from sync.hub.blobs import (
    BlobHashMismatchError,
    BlobSizeError,
    ChunkTooLargeError,
    OffsetMismatchError,
    blob_state,
    put_chunk,
    read_blob,
)
from sync.hub.boxes import (
    ALPHABET,
    EnrollmentCodeError,
    EnrollmentConflictError,
    add_box,
    enroll,
    list_boxes,
    revoke_box,
)
from sync.hub.bulk import dumps, pg_array
from sync.hub.db import HubDB
from sync.hub.feed import publish_calendar, publish_catalogue, read_feed
from sync.hub.ingest import IngestResult, ingest_events
from sync.hub.records import find_dossier
from sync.protocol import SyncError, sign, verify
from tests.hub_support import AGENCY, created_payload, dossier_events, empty_tables, pg_database, wire_event

NOW = "2026-11-25T09:00:00+07:00"
MOMENT = datetime(2026, 11, 25, 9, 0, tzinfo=TZ)
PROCEDURE = {
    "code": "1.001193",
    "name": "Đăng ký khai sinh",
    "field": "Hộ tịch",
    "level": "mot_phan",
    "processing_days": 0,
    "same_day_cutoff": "15:00",
    "fees": [],
    "documents": [{"name": "Tờ khai", "kind": "original", "quantity": 1}],
}


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with pg_database("hub_store") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubDB]:
    """A fresh hub database on each backend."""
    if request.param == "sqlite":
        hub = HubDB.for_path(tmp_path / "hub.db")
        hub.create_schema()
    else:
        hub = HubDB(request.getfixturevalue("pg_url"))
        empty_tables(hub)
    yield hub
    hub.close()


def ingest(db: HubDB, events: list[dict[str, Any]], commune: str = "00001", box: str | None = "box-a") -> IngestResult:
    return ingest_events(db, events, commune_code=commune, from_box=box, now_iso=NOW)


# --- ingest -----------------------------------------------------------------------------------


def test_ingest_stores_folds_and_queues_forwarding(db: HubDB) -> None:
    events = dossier_events(1, extra=2)
    result = ingest(db, events)
    assert result.accepted == [e["event_id"] for e in events]
    assert result.already_held == [] and result.rejected == []
    code, status, version, commune = (
        db.one(
            "SELECT code, status, version, commune_code FROM dossiers WHERE dossier_id = ?",
            [events[0]["dossier_id"]],
        )
        or ()
    )
    assert (code, status, version, commune) == (f"{AGENCY}-261125-0001", "new", 1, "00001")
    assert (find_dossier(db, code) or {})["event_count"] == 3
    assert db.one("SELECT code, wanted_version, sent_version FROM forwards") == (code, 1, 0)

    later = wire_event(events[0]["dossier_id"], "transferred", {"assignee": "canbo2"}, hlc="001790000000009.000000")
    assert ingest(db, [later]).accepted == [later["event_id"]]
    assert db.one("SELECT status, version FROM dossiers") == ("processing", 2)
    assert db.scalar("SELECT wanted_version FROM forwards") == 2


@pytest.mark.parametrize("box", ["box-a", None])
def test_text_with_tabs_newlines_and_backslashes_is_stored_as_sent(db: HubDB, box: str | None) -> None:
    events = dossier_events(1, extra=1)
    events[1]["actor"] = "cán\tbộ\n1\\\r\\N"
    events[1]["origin"] = "\\."
    events[1]["payload"] = {"text": 'dòng 1\ndòng 2\t"trích dẫn" \\ \\N', "tab\tkey": None}
    assert ingest(db, events, box=box).accepted == [e["event_id"] for e in events]
    assert db.one(
        "SELECT actor, origin, payload, from_box FROM events WHERE event_id = ?", [events[1]["event_id"]]
    ) == (
        "cán\tbộ\n1\\\r\\N",
        "\\.",
        '{"tab\\tkey":null,"text":"dòng 1\\ndòng 2\\t\\"trích dẫn\\" \\\\ \\\\N"}',
        box,
    )
    assert db.query("SELECT seq, type, event_id, from_box, body FROM feed ORDER BY seq") == [
        (1, "event", events[0]["event_id"], box, None),
        (2, "event", events[1]["event_id"], box, None),
    ]
    assert ingest(db, events, box=box).already_held == [e["event_id"] for e in events]


def test_resend_is_already_held_and_reused_id_is_a_conflict(db: HubDB) -> None:
    events = dossier_events(2)
    ingest(db, events)
    again = ingest(db, events)
    assert again.accepted == [] and again.already_held == [events[0]["event_id"]]
    changed = {**events[0], "actor": "someone-else"}
    result = ingest(db, [changed])
    assert [(r.event_id, r.code) for r in result.rejected] == [(events[0]["event_id"], "event_id_conflict")]
    assert db.scalar("SELECT count(*) FROM events") == 1
    assert db.scalar("SELECT feed_seq FROM communes WHERE commune_code = '00001'") == 1
    assert db.scalar("SELECT version FROM dossiers") == 1


def test_malformed_event_is_rejected_and_blocks_nothing(db: HubDB) -> None:
    good = dossier_events(3)
    bad = wire_event(good[0]["dossier_id"], "note_added", {"text": "x"}, hlc="not-a-clock")
    result = ingest(db, [bad, *good])
    assert result.accepted == [good[0]["event_id"]]
    assert [(r.event_id, r.code) for r in result.rejected] == [(bad["event_id"], "malformed_event")]
    assert db.scalar("SELECT count(*) FROM events") == 1


def test_duplicate_ids_in_one_call_store_nothing(db: HubDB) -> None:
    events = dossier_events(4)
    with pytest.raises(ValidationError):
        ingest(db, [events[0], events[0]])
    assert db.scalar("SELECT count(*) FROM events") == 0


def test_a_dossier_belongs_to_the_commune_of_its_first_event(db: HubDB) -> None:
    events = dossier_events(5)
    ingest(db, events, commune="00001")
    intruder = wire_event(events[0]["dossier_id"], "withdrawn", {"reason": "x"}, hlc="001790000000005.000000")
    result = ingest(db, [intruder], commune="00002", box="box-b")
    assert [(r.event_id, r.code) for r in result.rejected] == [(intruder["event_id"], "wrong_commune")]
    assert db.scalar("SELECT count(*) FROM events") == 1
    assert db.scalar("SELECT status FROM dossiers") == "new"
    assert db.scalar("SELECT feed_seq FROM communes WHERE commune_code = '00002'") == 0


def _created(code: str, hlc: str = "001790000000001.000000") -> dict[str, Any]:
    return wire_event(str(uuid.uuid4()), "created", created_payload(code), hlc=hlc)


def test_a_code_another_dossier_holds_stays_out_of_the_column_and_is_not_forwarded(db: HubDB) -> None:
    code, other = f"{AGENCY}-261125-0101", f"{AGENCY}-261125-0102"
    holder = _created(code)
    ingest(db, [holder])
    # A later dossier with the held code; and two new dossiers of one batch sharing a code: the first keeps it.
    clash, first, second = _created(code), _created(other), _created(other)
    assert len(ingest(db, [clash, first, second]).accepted) == 3
    rows = dict(db.query("SELECT dossier_id, code FROM dossiers"))
    assert rows == {holder["dossier_id"]: code, clash["dossier_id"]: None, first["dossier_id"]: other,
                    second["dossier_id"]: None}  # fmt: skip
    forwards = dict(db.query("SELECT dossier_id, code FROM forwards"))
    assert forwards == {holder["dossier_id"]: code, first["dossier_id"]: other}
    # The holder's own later event, after another dossier of the same batch claiming its code: it keeps it.
    third = _created(code)
    note = wire_event(holder["dossier_id"], "note_added", {"text": "x"}, hlc="001790000000009.000000")
    assert len(ingest(db, [third, note]).accepted) == 2
    assert db.scalar("SELECT code FROM dossiers WHERE dossier_id = ?", [holder["dossier_id"]]) == code
    assert db.scalar("SELECT code FROM dossiers WHERE dossier_id = ?", [third["dossier_id"]]) is None
    assert db.scalar("SELECT wanted_version FROM forwards WHERE dossier_id = ?", [holder["dossier_id"]]) == 2
    assert (find_dossier(db, code) or {})["dossier_id"] == holder["dossier_id"]


def test_events_before_created_keep_a_row_and_fold_when_it_arrives(db: HubDB) -> None:
    created, *_ = dossier_events(6)
    note = wire_event(created["dossier_id"], "note_added", {"text": "trước"}, hlc="001790000000007.000000")
    ingest(db, [note])
    assert db.one("SELECT status, code, version FROM dossiers") == (None, None, 1)
    assert db.scalar("SELECT count(*) FROM forwards") == 0
    ingest(db, [created])
    assert db.one("SELECT status, code, version FROM dossiers") == ("new", f"{AGENCY}-261125-0006", 2)
    found = find_dossier(db, f"{AGENCY}-261125-0006") or {}
    assert found["notes"][-1]["text"] == "trước"


def test_a_code_another_dossier_holds_does_not_break_the_batch(db: HubDB) -> None:
    first, second = dossier_events(7), dossier_events(7)
    result = ingest(db, [*first, *second])
    assert len(result.accepted) == 2
    codes = dict(db.query("SELECT dossier_id, code FROM dossiers"))
    assert codes[first[0]["dossier_id"]] == f"{AGENCY}-261125-0007"
    assert codes[second[0]["dossier_id"]] is None


# --- feed ------------------------------------------------------------------------------------


def test_feed_numbers_without_gaps_and_stubs_own_events(db: HubDB) -> None:
    mine = dossier_events(10, extra=1)
    theirs = dossier_events(11)
    ingest(db, mine, box="box-a")
    ingest(db, theirs, box=None)
    page = read_feed(db, "00001", 0, 500, "box-a")
    assert page["head"] == 3
    assert [i["seq"] for i in page["items"]] == [1, 2, 3]
    assert page["items"][0] == {
        "seq": 1,
        "type": "own_event",
        "event_id": mine[0]["event_id"],
        "dossier_id": mine[0]["dossier_id"],
    }
    assert page["items"][2] == {"seq": 3, "type": "event", "event": theirs[0]}
    other = read_feed(db, "00001", 1, 1, "box-b")
    assert other["items"] == [{"seq": 2, "type": "event", "event": mine[1]}]
    assert read_feed(db, "00001", 3, 10, "box-a")["items"] == []
    assert read_feed(db, "09999", 0, 10, "box-a") == {"commune_code": "09999", "head": 0, "items": []}


def test_catalogue_and_calendar_reach_every_commune_and_seed_new_ones(db: HubDB) -> None:
    add_box(db, "00001", "Hộp xã A", now=MOMENT)
    assert publish_catalogue(db, [PROCEDURE], NOW) == 1
    days = [{"day": "2026-12-31", "working": False, "note": "Nghỉ bù"}]
    assert publish_calendar(db, {"days": days}, NOW) == 1
    items = read_feed(db, "00001", 0, 500, None)["items"]
    assert [i["type"] for i in items] == ["catalogue", "calendar"]
    assert items[0]["procedures"][0]["code"] == "1.001193"
    assert items[1]["days"] == days
    add_box(db, "00002", "Hộp xã B", now=MOMENT)
    seeded = read_feed(db, "00002", 0, 500, None)["items"]
    assert [(i["seq"], i["type"]) for i in seeded] == [(1, "catalogue"), (2, "calendar")]
    assert seeded[0]["procedures"] == items[0]["procedures"]


@pytest.mark.parametrize(
    "days",
    [
        [{"day": "31/12/2026", "working": False}],
        [{"day": "2026-02-30", "working": False}],
        [{"day": "2026-12-31", "working": "no"}],
        [{"day": "2026-12-31", "working": True, "colour": "red"}],
        {"days": "2026-12-31"},
    ],
)
def test_bad_calendar_is_refused_whole(db: HubDB, days: object) -> None:
    add_box(db, "00001", "Hộp xã A", now=MOMENT)
    with pytest.raises(ValidationError):
        publish_calendar(db, days, NOW)
    assert db.scalar("SELECT count(*) FROM calendar") == 0
    assert db.scalar("SELECT feed_seq FROM communes") == 0


def test_bad_catalogue_is_refused_whole(db: HubDB) -> None:
    with pytest.raises(ValidationError):
        publish_catalogue(db, [PROCEDURE, {**PROCEDURE, "code": "bad code!"}], NOW)
    with pytest.raises(ValidationError):
        publish_catalogue(db, [PROCEDURE, PROCEDURE], NOW)
    assert db.scalar("SELECT count(*) FROM catalogue") == 0


# --- blobs -----------------------------------------------------------------------------------


def test_blob_upload_resumes_and_completes(db: HubDB) -> None:
    data = bytes(range(256)) * 40
    sha = hashlib.sha256(data).hexdigest()
    size = len(data)
    assert blob_state(db, sha).offset == 0
    first = put_chunk(db, sha, 0, size, data[:4000], now_iso=NOW, max_chunk_bytes=4096)
    assert (first.offset, first.complete) == (4000, False)
    with pytest.raises(OffsetMismatchError) as err:
        put_chunk(db, sha, 0, size, data[:4000], now_iso=NOW, max_chunk_bytes=4096)
    assert err.value.details["offset"] == 4000
    with pytest.raises(ChunkTooLargeError):
        put_chunk(db, sha, 4000, size, data[4000:9000], now_iso=NOW, max_chunk_bytes=4096)
    with pytest.raises(BlobSizeError):
        put_chunk(db, sha, 4000, size + 1, data[4000:8000], now_iso=NOW, max_chunk_bytes=4096)
    assert read_blob(db, sha) is None
    put_chunk(db, sha, 4000, size, data[4000:8000], now_iso=NOW, max_chunk_bytes=4096)
    last = put_chunk(db, sha, 8000, size, data[8000:], now_iso=NOW, max_chunk_bytes=4096)
    assert (last.offset, last.complete) == (size, True)
    assert read_blob(db, sha) == data
    # A complete blob is never taken again: any later chunk just hears "complete".
    assert put_chunk(db, sha, 0, size, data[:10], now_iso=NOW, max_chunk_bytes=4096).complete


def test_blob_whose_hash_is_not_its_name_is_discarded(db: HubDB) -> None:
    data = b"scan " * 100
    wrong = hashlib.sha256(b"another file").hexdigest()
    put_chunk(db, wrong, 0, len(data), data[:200], now_iso=NOW, max_chunk_bytes=4096)
    with pytest.raises(BlobHashMismatchError):
        put_chunk(db, wrong, 200, len(data), data[200:], now_iso=NOW, max_chunk_bytes=4096)
    assert blob_state(db, wrong).offset == 0
    assert db.scalar("SELECT count(*) FROM blob_chunks") == 0
    assert read_blob(db, wrong) is None


def test_chunk_past_the_declared_size_is_refused(db: HubDB) -> None:
    sha = hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(BlobSizeError):
        put_chunk(db, sha, 0, 2, b"abc", now_iso=NOW, max_chunk_bytes=4096)
    assert db.scalar("SELECT count(*) FROM blobs") == 0


# --- boxes -----------------------------------------------------------------------------------


def test_enrollment_is_one_time(db: HubDB) -> None:
    record_id, code = add_box(db, "00001", "Hộp xã A", AGENCY, now=MOMENT)
    groups = code.split("-")
    assert len(groups) == 4 and all(len(g) == 4 and set(g) <= set(ALPHABET) for g in groups)
    assert db.scalar("SELECT enroll_code_hash FROM boxes") != code
    answer = enroll(db, code.lower().replace("-", " "), "box-1", "00001", None, "UBND xã A", "1.0.0", MOMENT)
    assert answer["box_id"] == "box-1" and answer["agency_code"] == AGENCY and len(answer["secret"]) == 64
    with pytest.raises(EnrollmentCodeError):
        enroll(db, code, "box-2", "00001", AGENCY, "UBND xã A", "1.0.0", MOMENT)
    boxes = list_boxes(db, MOMENT)
    assert [(b["record_id"], b["box_id"], b["state"]) for b in boxes] == [(record_id, "box-1", "active")]
    assert "secret" not in boxes[0]


def test_enrollment_refusals(db: HubDB) -> None:
    _, code = add_box(db, "00001", "Hộp xã A", now=MOMENT)
    with pytest.raises(EnrollmentCodeError):
        enroll(db, "AAAA-BBBB-CCCC-DDDD", "box-1", "00001", AGENCY, "A", "1.0", MOMENT)
    with pytest.raises(EnrollmentCodeError):
        enroll(db, code, "box-1", "00001", AGENCY, "A", "1.0", MOMENT + timedelta(days=8))
    with pytest.raises(EnrollmentConflictError) as mismatch:
        enroll(db, code, "box-1", "00002", AGENCY, "A", "1.0", MOMENT)
    assert mismatch.value.code == "commune_mismatch"
    enroll(db, code, "box-1", "00001", AGENCY, "A", "1.0", MOMENT)
    assert db.scalar("SELECT agency_code FROM communes WHERE commune_code = '00001'") == AGENCY
    _, second = add_box(db, "00001", "Hộp xã A (mới)", now=MOMENT)
    with pytest.raises(EnrollmentConflictError) as taken:
        enroll(db, second, "box-1", "00001", AGENCY, "A", "1.0", MOMENT)
    assert taken.value.code == "box_already_enrolled"
    revoke_box(db, "box-1", MOMENT)
    enroll(db, second, "box-1", "00001", AGENCY, "A", "1.1", MOMENT)
    states = sorted((b["state"], b["version"]) for b in list_boxes(db, MOMENT))
    assert states == [("active", "1.1"), ("revoked", "1.0")]
    with pytest.raises(NotFoundError):
        revoke_box(db, "box-unknown", MOMENT)


def test_a_signed_request_is_checked_against_keys_and_nonces_and_marks_the_box_seen(db: HubDB) -> None:
    _, code = add_box(db, "00001", "Hộp xã A", now=MOMENT)
    secret = bytes.fromhex(enroll(db, code, "box-1", "00001", None, "A", "1.0", MOMENT)["secret"])
    now = int(MOMENT.timestamp())

    def check(headers: dict[str, str], seen: str, body: bytes = b"{}") -> str:
        try:
            key = verify(
                headers, "POST", "/sync/v1/events", None, body,
                secret_for=lambda box_id: key_for(db, box_id), nonces=DBNonceStore(db, 300, now, seen), now=now,
            )  # fmt: skip
        except SyncError as err:
            return err.code
        return key.commune_code

    def last_seen() -> object:
        return db.scalar("SELECT last_seen_at FROM boxes WHERE box_id = 'box-1' AND revoked_at IS NULL")

    first = sign(secret, "box-1", "POST", "/sync/v1/events", None, b"{}", now=now, nonce="n" * 22)
    forged = sign(b"x" * 32, "box-1", "POST", "/sync/v1/events", None, b"{}", now=now, nonce="f" * 22)
    assert check(forged, "2026-11-25T09:00:01+07:00") == "bad_signature" and last_seen() is None
    assert check(first, "2026-11-25T09:00:02+07:00") == "00001"
    assert last_seen() == "2026-11-25T09:00:02+07:00"
    assert check(first, "2026-11-25T09:00:03+07:00") == "replayed_nonce"
    assert last_seen() == "2026-11-25T09:00:02+07:00"
    stale = sign(secret, "box-1", "POST", "/sync/v1/events", None, b"{}", now=now - 301)
    assert check(stale, "2026-11-25T09:00:04+07:00") == "stale_timestamp"
    assert check({**first, "X-Motcua-Box": "box-2"}, "2026-11-25T09:00:05+07:00") == "unknown_box"
    assert check(forged, "2026-11-25T09:00:06+07:00", b"[]") == "body_hash_mismatch"
    assert last_seen() == "2026-11-25T09:00:02+07:00"
    assert db.scalar("SELECT count(*) FROM nonces") == 1
    # The forged request's nonce was not recorded: the box itself may still use it.
    honest = sign(secret, "box-1", "POST", "/sync/v1/events", None, b"{}", now=now, nonce="f" * 22)
    assert check(honest, "2026-11-25T09:00:07+07:00") == "00001" and last_seen() == "2026-11-25T09:00:07+07:00"
    revoke_box(db, "box-1", MOMENT)
    fresh = sign(secret, "box-1", "POST", "/sync/v1/events", None, b"{}", now=now)
    assert check(fresh, "2026-11-25T09:00:08+07:00") == "revoked_box"
    assert db.scalar("SELECT last_seen_at FROM boxes WHERE box_id = 'box-1'") == "2026-11-25T09:00:07+07:00"


def test_add_box_validates_its_input(db: HubDB) -> None:
    with pytest.raises(ValidationError):
        add_box(db, "1", "Hộp", now=MOMENT)
    with pytest.raises(ValidationError):
        add_box(db, "00001", "   ", now=MOMENT)
    with pytest.raises(ValidationError):
        add_box(db, "00001", "Hộp", "not an agency", now=MOMENT)
    assert db.scalar("SELECT count(*) FROM boxes") == 0
    _, code = add_box(db, "00001", "Hộp", now=MOMENT)
    assert list_boxes(db, MOMENT + timedelta(days=8))[0]["state"] == "expired"
    assert list_boxes(db, MOMENT)[0]["state"] == "pending"
    assert code


# --- several writers at once -------------------------------------------------------------------


def _concurrent_ingest(db: HubDB, batches: list[list[dict[str, Any]]], workers: int) -> list[IngestResult]:
    """Ingest batches from several threads, each with its own connection; return what each got."""
    results: list[IngestResult] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    todo = list(batches)

    def work() -> None:
        try:
            while True:
                with lock:
                    if not todo:
                        return
                    batch = todo.pop()
                result = ingest(db, batch, box=f"box-{threading.get_ident()}")
                with lock:
                    results.append(result)
        except BaseException as err:
            errors.append(err)
        finally:
            db.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_concurrent_writers_lose_no_feed_seq_and_store_each_event_once(db: HubDB) -> None:
    batches = [[e for n in range(k * 10, k * 10 + 10) for e in dossier_events(n, extra=2)] for k in range(1, 13)]
    # Every batch is pushed twice, by two writers racing each other.
    results = _concurrent_ingest(db, batches + [list(b) for b in batches], workers=4)
    total = sum(len(b) for b in batches)
    accepted = sum(len(r.accepted) for r in results)
    held = sum(len(r.already_held) for r in results)
    assert (accepted, held) == (total, total)
    assert db.scalar("SELECT count(*) FROM events") == total
    seqs = [s for (s,) in db.query("SELECT seq FROM feed WHERE commune_code = '00001' ORDER BY seq")]
    assert seqs == list(range(1, total + 1))
    assert db.scalar("SELECT feed_seq FROM communes WHERE commune_code = '00001'") == total
    assert db.scalar("SELECT count(DISTINCT event_id) FROM feed") == total
    assert db.scalar("SELECT count(*) FROM dossiers WHERE status = 'new'") == total // 3
    page = read_feed(db, "00001", 0, 1000, None)
    assert [i["seq"] for i in page["items"]] == list(range(1, min(total, 1000) + 1))


def test_created_payload_helper_folds() -> None:
    from edge.events import event_from_wire
    from edge.lifecycle import fold

    event = event_from_wire(wire_event("d-1", "created", created_payload("X-261125-0001")))
    state = fold([event])
    assert state is not None and state["status"] == "new"


def test_the_event_digest_format_is_stable() -> None:
    """Digests are stored: a hub upgrade that changed them would refuse every event pushed again."""
    from edge.events import Event
    from sync.hub.ingest import _incoming

    event = Event(
        "0b7d3c55-1f7e-4c1e-9d3a-5a3a4f1e2b10", "6f1c2d3e-4a5b-4c6d-8e9f-a0b1c2d3e4f5", "note_added",
        {"text": "Đã nhận đủ giấy tờ", "by": "cán bộ"}, "canbo", "box:b1", "2026-11-25T08:00:00+07:00",
        "001790000000001.000000",
    )  # fmt: skip
    fields = (event.event_id, event.dossier_id, event.kind, event.actor, event.origin, event.wall_time, event.hlc)
    text = "".join(f"{len(f)}:{f}" for f in fields) + '{"by":"cán bộ","text":"Đã nhận đủ giấy tờ"}'
    assert _incoming(event).digest == hashlib.sha256(text.encode("utf-8")).hexdigest()


_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_TEXT, inner, max_size=4)
        | st.dictionaries(st.integers(0, 3), inner, min_size=1, max_size=2)
    ),
    max_leaves=12,
)


@settings(max_examples=1500, deadline=None)
@given(_JSONISH)
def test_stored_json_is_exactly_what_json_dumps_writes(data: Any) -> None:
    """The stored text is hashed into event digests: whichever encoder writes it, it never changes."""
    try:
        expected: object = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    except TypeError:
        expected = TypeError
    try:
        got: object = dumps(data)
    except TypeError:
        got = TypeError
    assert got == expected


def test_stored_json_keeps_json_dumps_numbers_and_escapes() -> None:
    for payload in (
        {"ó": 1e-05, "a": [1e16, 0.1, 5.0]},
        {"a": [2**64, -(2**63) - 1]},
        {"\x1f\u2028": '\x00\x7f"\\', "b": "\ud800"},
    ):
        assert dumps(payload) == json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert dumps({"z": [None, True], "đ": {"b": 1, "a": ""}}) == '{"z":[null,true],"đ":{"a":"","b":1}}'


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["a", "", "NULL", 'say "hi"', "back\\slash\\", "{x,y}", " spaced ", "Nguyễn, Thị", "\t\n"], "text"),
        (["a", None, "b"], "text"),
        ([], "text"),
        ([0, -1, 2**62, None], "bigint"),
        ([1.5, 2.0], "float8"),
    ],
)
def test_array_literals_reach_postgresql_unchanged(pg_url: str, values: list[Any], kind: str) -> None:
    db = HubDB(pg_url)
    try:
        assert db.scalar(f"SELECT %t::{kind}[]", [pg_array(values)]) == values
    finally:
        db.close()
