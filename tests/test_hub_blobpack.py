"""The hub's batched blob endpoints on SQLite and on a real PostgreSQL: POST /sync/v1/blobs/status and /blobs/pack."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.client.push import encode_pack
from sync.hub.app import create_hub_app
from sync.hub.blobs import MAX_PACK_BLOBS, MAX_PACK_BYTES, MAX_STATUS_BLOBS, read_blob, store_pack
from sync.hub.config import init_hub
from sync.hub.db import HubDB
from tests.hub_support import empty_tables, pg_database, signed
from tests.test_hub_syncapi import Clock, Hub, _refusal

NOW = "2026-11-25T09:00:00+07:00"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with pg_database("hub_blobpack") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    """A hub app (Flask test client) on each backend."""
    settings = init_hub(tmp_path / "hub")
    if request.param == "postgresql":
        settings = dataclasses.replace(settings, database_url=request.getfixturevalue("pg_url"))
        db = HubDB(settings.database_url)
        empty_tables(db)
    else:
        db = HubDB(settings.database_url)
    clock = Clock()
    app = create_hub_app(settings, db, clock)
    yield Hub(settings, db, clock, app, app.test_client())
    db.close()


def named(data: bytes) -> tuple[str, bytes]:
    return hashlib.sha256(data).hexdigest(), data


def pack(hub: Hub, body: bytes) -> tuple[int, dict[str, Any]]:
    box = hub.enroll()
    answer = hub.call(box, "POST", "/sync/v1/blobs/pack", body, headers={"Content-Type": "application/octet-stream"})
    return answer.status_code, dict(answer.json or {})


def status(hub: Hub, names: object) -> tuple[int, dict[str, Any]]:
    box = hub.enroll()
    body = json.dumps({"sha256": names}).encode()
    answer = hub.call(box, "POST", "/sync/v1/blobs/status", body, headers={"Content-Type": "application/json"})
    return answer.status_code, dict(answer.json or {})


def put(hub: Hub, data: bytes, part: int) -> None:
    box = hub.enroll()
    sha, _ = named(data)
    answer = hub.call(box, "PUT", f"/sync/v1/blobs/{sha}", data[:part], f"offset=0&size={len(data)}")
    assert answer.status_code == 200, answer.json


def test_a_pack_stores_the_good_blobs_skips_held_ones_and_refuses_a_mismatch(hub: Hub) -> None:
    fresh = [named(os.urandom(n)) for n in (1, 900, 5000)]
    held = named(b"held complete at the hub already")
    partial = named(os.urandom(3000))
    put(hub, held[1], len(held[1]))  # complete
    put(hub, partial[1], 1000)  # a third of it: an interrupted chunked upload
    wrong_name = hashlib.sha256(b"what the scan should have been").hexdigest()
    body = encode_pack([fresh[0], held, (wrong_name, b"something else"), partial, fresh[1], fresh[2]])

    code, answer = pack(hub, body)

    assert code == 200, answer
    assert answer["stored"] == [fresh[0][0], partial[0], fresh[1][0], fresh[2][0]]  # in the pack's order
    assert answer["already_held"] == [held[0]]
    (refused,) = answer["rejected"]
    assert refused["sha256"] == wrong_name and refused["code"] == "blob_hash_mismatch"
    assert "không khớp" in refused["message"] and refused["message_en"]
    for sha, data in [*fresh, held, partial]:
        assert read_blob(hub.db, sha) == data
    assert hub.db.one("SELECT received, complete FROM blobs WHERE sha256 = ?", [partial[0]]) == (3000, 1)
    assert hub.db.scalar("SELECT count(*) FROM blobs WHERE sha256 = ?", [wrong_name]) == 0
    assert hub.db.scalar("SELECT count(*) FROM blob_chunks WHERE sha256 = ?", [wrong_name]) == 0

    # The same pack again: everything the hub holds is skipped, the mismatch is still refused.
    code, again = pack(hub, body)
    assert code == 200 and again["stored"] == [] and len(again["already_held"]) == 5
    assert [r["sha256"] for r in again["rejected"]] == [wrong_name]


def test_a_blob_over_the_chunk_limit_is_stored_in_chunk_rows_and_read_back_whole(hub: Hub) -> None:
    sha, data = named(os.urandom(2500))
    result = store_pack(hub.db, [(sha, data)], now_iso=NOW, max_chunk_bytes=1000)
    assert result.stored == [sha]
    offsets = [r[0] for r in hub.db.query('SELECT "offset" FROM blob_chunks WHERE sha256 = ? ORDER BY 1', [sha])]
    assert offsets == [0, 1000, 2000]
    assert read_blob(hub.db, sha) == data
    empty = named(b"")
    assert store_pack(hub.db, [empty], now_iso=NOW, max_chunk_bytes=1000).stored == [empty[0]]
    assert read_blob(hub.db, empty[0]) == b""


def _frame(sha: str, length: int) -> bytes:
    return struct.pack(">32sI", bytes.fromhex(sha), length)


GOOD = named(b"a good scan")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"MCP1",  # no blob at all
        b"NOPE" + _frame(*GOOD[:1], len(GOOD[1])) + GOOD[1],  # not a pack
        b"MCP1" + _frame(GOOD[0], len(GOOD[1])) + GOOD[1] + b"\x00" * 10,  # a frame header cut short
        b"MCP1" + _frame(GOOD[0], len(GOOD[1]) + 5) + GOOD[1],  # a length past the end
        b"MCP1" + (_frame(GOOD[0], len(GOOD[1])) + GOOD[1]) * 2,  # the same blob twice
    ],
    ids=["empty", "no_blob", "bad_magic", "cut_header", "length_past_end", "duplicate"],
)
def test_a_malformed_pack_is_refused_and_nothing_is_stored(hub: Hub, body: bytes) -> None:
    code, answer = pack(hub, body)
    assert (code, answer["code"]) == (422, "malformed_pack")
    assert str(answer["message"]).startswith("Gói tệp scan không đọc được") and answer["message_en"]
    assert hub.count("blobs") == 0 and hub.count("blob_chunks") == 0


def test_a_pack_over_the_limits_is_refused_whole(hub: Hub) -> None:
    many = encode_pack([named(n.to_bytes(2, "big")) for n in range(MAX_PACK_BLOBS + 1)])
    code, answer = pack(hub, many)
    assert (code, answer["code"]) == (413, "pack_too_large") and answer["limit"] == MAX_PACK_BLOBS
    big = encode_pack([named(os.urandom(MAX_PACK_BYTES))])
    code, answer = pack(hub, big)
    assert (code, answer["code"]) == (413, "pack_too_large") and answer["limit"] == MAX_PACK_BYTES
    assert hub.count("blobs") == 0
    at_limit = encode_pack([named(n.to_bytes(2, "big")) for n in range(MAX_PACK_BLOBS)])
    code, answer = pack(hub, at_limit)
    assert code == 200 and len(answer["stored"]) == MAX_PACK_BLOBS


def test_status_answers_many_blobs_in_one_request(hub: Hub) -> None:
    complete = named(b"complete scan")
    partial = named(os.urandom(4000))
    put(hub, complete[1], len(complete[1]))
    put(hub, partial[1], 1500)
    unknown = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(MAX_STATUS_BLOBS - 2)]
    code, answer = status(hub, [*unknown[:10], complete[0], *unknown[10:], partial[0]])
    assert code == 200
    assert answer["blobs"] == {  # the names the hub holds nothing of are left out
        complete[0]: {"offset": len(complete[1]), "complete": True},
        partial[0]: {"offset": 1500, "complete": False},
    }


@pytest.mark.parametrize(
    "names",
    [
        [],
        "0" * 64,
        ["0" * 64] * (MAX_STATUS_BLOBS + 1),
        ["0" * 63],
        ["A" * 64],
        [64],
    ],
    ids=["empty", "not_a_list", "too_many", "short", "uppercase", "number"],
)
def test_a_bad_status_request_is_refused(hub: Hub, names: object) -> None:
    code, answer = status(hub, names)
    assert (code, answer["code"], answer["field"]) == (422, "invalid_field", "sha256")
    assert "sha256" in str(answer["message"])


def test_the_batched_endpoints_are_signed(hub: Hub) -> None:
    for path, body in (("/sync/v1/blobs/status", b'{"sha256": []}'), ("/sync/v1/blobs/pack", encode_pack([GOOD]))):
        assert hub.client.post(path, data=body).status_code == 401
    box = hub.enroll()
    path = "/sync/v1/blobs/pack"
    headers = signed(box.secret, box.box_id, "POST", path, encode_pack([GOOD]), now=int(hub.clock.now))
    other = encode_pack([named(b"another scan")])
    assert _refusal(hub.client.post(path, data=other, headers=headers)) == (401, "body_hash_mismatch")
    assert hub.count("blobs") == 0
