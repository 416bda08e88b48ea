"""Push batches and acknowledgements: round trips, every malformed shape, size caps and gzip bombs."""

from __future__ import annotations

import gzip
import json
import time
import unicodedata
import uuid
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.protocol import (
    Ack,
    Rejection,
    SyncError,
    decode_ack,
    decode_batch,
    encode_ack,
    encode_batch,
)
from sync.protocol.wire import _check_event, _event_problem

BATCH_ID = "6f1c8f2e-3b7a-4c1d-9e2f-0a1b2c3d4e5f"
MB = 1024 * 1024


def gzip0(data: bytes) -> bytes:
    """gzip with no timestamp: parameters made at collection time are the same in every xdist worker."""
    return gzip.compress(data, mtime=0)


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "dossier_id": "H01.01001-261126-0001",
        "kind": "filed",
        "payload": {"applicant": unicodedata.normalize("NFC", "Nguyễn Thị Hường"), "note": "Đăng ký khai sinh"},
        "actor": "canbo1",
        "origin": "box-01001",
        "wall_time": "2026-11-26T09:15:00+07:00",
        "hlc": "001764123300000.000001",
    }
    base.update(changes)
    return base


def gz(data: object) -> bytes:
    return gzip0(json.dumps(data, ensure_ascii=False).encode("utf-8"))


def batch(events: Any, **changes: Any) -> dict[str, Any]:
    return {"batch_id": BATCH_ID, "box_id": "box-01001", "events": events, **changes}


def reason_of(body: bytes, *, max_bytes: int = MB, max_events: int = 100) -> tuple[str, str]:
    with pytest.raises(SyncError) as info:
        decode_batch(body, max_bytes, max_events)
    assert info.value.vi != info.value.en
    return info.value.code, info.value.details.get("reason", "")


def test_round_trip_keeps_vietnamese_text_exactly() -> None:
    nfd = unicodedata.normalize("NFD", "Phường Hàng Bạc")
    events = [event(), event(kind="note", payload={"text": nfd, "nested": {"số": [1, 2.5, None, True]}})]
    body = encode_batch(events, box_id="box-01001", batch_id=BATCH_ID)
    assert body[:2] == b"\x1f\x8b"
    decoded = decode_batch(body, MB, 100)
    assert decoded.batch_id == BATCH_ID and decoded.box_id == "box-01001"
    assert decoded.events == events and decoded.rejected == []
    assert decoded.events[0]["payload"]["applicant"] == unicodedata.normalize("NFC", "Nguyễn Thị Hường")
    assert decoded.events[1]["payload"]["text"] == nfd  # the payload is carried, never rewritten
    assert "Nguyễn".encode() in gzip.decompress(body)  # UTF-8, not \\u escapes


def test_encoding_is_deterministic_and_empty_batches_decode() -> None:
    one = encode_batch([], box_id="b", batch_id=BATCH_ID)
    assert one == encode_batch([], box_id="b", batch_id=BATCH_ID)
    assert decode_batch(one, MB, 1).events == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"batch_id": 1}', "not_gzip"),
        (b"\x1f\x8b\x08\x00garbage-garbage", "bad_gzip"),
        (gzip0(b'{"a": 1}')[:-12], "truncated_gzip"),
        (gzip0(b"{}") + b"extra", "trailing_data"),
        (gzip0("ngày".encode("utf-16")), "not_utf8"),
        (gzip0(b"{not json"), "not_json"),
        (gzip0(b'{"batch_id": NaN}'), "not_json"),
        (gzip0(b'{"a": 1, "a": 2}'), "not_json"),
        (gzip0(b"[" * 100_000 + b"]" * 100_000), "not_json"),
        (gz([]), "not_object"),
        (gz({"batch_id": BATCH_ID, "box_id": "b"}), "missing_field"),
        (gz(batch([], extra=1)), "unexpected_field"),
        (gz(batch([], batch_id="not-a-uuid")), "bad_batch_id"),
        (gz(batch([], batch_id=BATCH_ID.upper())), "bad_batch_id"),
        (gz(batch([], box_id="")), "bad_box_id"),
        (gz(batch([], box_id=7)), "bad_box_id"),
        (gz(batch({"0": event()})), "events_not_list"),
        (gz(batch(["an event"])), "event_not_object"),
        (gz(batch([{k: v for k, v in event().items() if k != "hlc"}])), "event_missing_field"),
        (gz(batch([event(seq=3)])), "event_unexpected_field"),
        (gz(batch([event(kind="")])), "event_bad_field"),
        (gz(batch([event(actor=5)])), "event_bad_field"),
        (gz(batch([event(payload=[1])])), "event_bad_field"),
        (gz(batch([event(payload="{}")])), "event_bad_field"),
        (gz(batch([event(event_id="123")])), "event_bad_field"),
        (gz(batch([event(hlc="1764123300000.1")])), "event_bad_field"),
        (gz(batch([event(hlc="٠٠١٧٦٤١٢٣٣٠٠٠٠٠.000001")])), "event_bad_field"),
        (gz(batch([event(wall_time="26/11/2026 09:15")])), "event_bad_field"),
        (gz(batch([event(wall_time="2026-11-26T09:15:00")])), "event_bad_field"),
        (gz(batch([event(event_id=BATCH_ID), event(event_id=BATCH_ID)])), "duplicate_event"),
    ],
)
def test_malformed_batches_say_why(body: bytes, reason: str) -> None:
    assert reason_of(body) == ("malformed_batch", reason)


def test_compact_json_is_read_as_strictly_as_spaced_json() -> None:
    """The fast reader takes only what the standard one takes, and reads it the same."""
    text = json.dumps(batch([event(payload={"note": "Hường", "n": [1, 2.5, 1e300, None, True]})]),
                      ensure_ascii=False, separators=(",", ":"))  # fmt: skip
    assert decode_batch(gzip0(text.encode()), MB, 10).events == json.loads(text)["events"]
    repeated = text.replace('"note":', '"note":"x","note":', 1)
    for bad in (repeated.encode(), b'{"a":1,"a":2}', b'{"batch_id":NaN}', b'{"batch_id":-Infinity}'):
        assert reason_of(gzip0(bad)) == ("malformed_batch", "not_json")


def test_the_bad_event_is_named() -> None:
    with pytest.raises(SyncError) as info:
        decode_batch(gz(batch([event(), event(hlc="x")])), MB, 10)
    assert info.value.details["where"] == "events[1]" and "hlc" in info.value.en and "hlc" in info.value.vi


def test_lenient_mode_rejects_a_bad_event_without_blocking_the_others() -> None:
    bad = event(wall_time="yesterday")
    good = event()
    decoded = decode_batch(gz(batch([bad, good])), MB, 10, strict=False)
    assert decoded.events == [good]
    assert decoded.rejected[0].event_id == bad["event_id"] and decoded.rejected[0].code == "malformed_event"
    with pytest.raises(SyncError):  # without a usable event id nothing can be acknowledged: the batch fails
        decode_batch(gz(batch([event(event_id=None), good])), MB, 10, strict=False)


def test_too_many_events() -> None:
    body = encode_batch([event() for _ in range(11)], box_id="b", batch_id=BATCH_ID)
    assert reason_of(body, max_events=10)[0] == "batch_too_large"
    assert len(decode_batch(body, MB, 11).events) == 11


def test_compressed_body_over_the_cap() -> None:
    body = encode_batch(
        [event(payload={"blob": uuid.uuid4().hex * 100}) for _ in range(10)], box_id="b", batch_id=BATCH_ID
    )
    code, _ = reason_of(body, max_bytes=len(body) - 1)
    assert code == "batch_too_large"


def test_decompressed_body_over_the_cap() -> None:
    body = encode_batch([event(payload={"text": "a" * 20_000})], box_id="b", batch_id=BATCH_ID)
    assert len(body) < 1000
    with pytest.raises(SyncError) as info:
        decode_batch(body, 10_000, 10)
    assert info.value.code == "batch_too_large" and info.value.status == 413


def test_gzip_bomb_is_refused_quickly() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MB)
    bomb = b"".join(compressor.compress(zeros) for _ in range(50)) + compressor.flush()
    assert len(bomb) < 100_000  # 50 MB of zeros in about 50 kB
    started = time.perf_counter()
    with pytest.raises(SyncError) as info:
        decode_batch(bomb, 1 * MB, 1000)
    assert info.value.code == "batch_too_large"
    assert time.perf_counter() - started < 0.5


# Acknowledgements


def test_ack_round_trip() -> None:
    ids = [str(uuid.uuid4()) for _ in range(4)]
    rejected = [Rejection(ids[3], "unknown_procedure", "Thủ tục không tồn tại / unknown procedure")]
    body = encode_ack(batch_id=BATCH_ID, accepted=ids[:2], already_held=[ids[2]], rejected=rejected)
    assert decode_ack(body) == Ack(BATCH_ID, ids[:2], [ids[2]], rejected)
    assert "Thủ tục".encode() in body


def ack(**changes: Any) -> bytes:
    data = {"batch_id": BATCH_ID, "accepted": [], "already_held": [], "rejected": [], **changes}
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "not_utf8"),
        (b"[", "not_json"),
        (b"[]", "bad_fields"),
        (ack(extra=1), "bad_fields"),
        (ack(batch_id="x"), "bad_batch_id"),
        (ack(accepted="abc"), "bad_ids"),
        (ack(already_held=[1]), "bad_ids"),
        (ack(rejected={}), "bad_rejected"),
        (ack(rejected=[{"event_id": BATCH_ID, "code": "x"}]), "bad_rejected"),
        (ack(rejected=[{"event_id": BATCH_ID, "code": "", "message": "m"}]), "bad_rejected"),
        (ack(accepted=[BATCH_ID], already_held=[BATCH_ID]), "duplicate_event"),
    ],
)
def test_malformed_acks(body: bytes, reason: str) -> None:
    with pytest.raises(SyncError) as info:
        decode_ack(body)
    assert info.value.code == "malformed_ack" and info.value.details["reason"] == reason


def test_ack_size_cap() -> None:
    with pytest.raises(SyncError) as info:
        decode_ack(ack(), max_bytes=10)
    assert info.value.details["reason"] == "too_large"


# The quick check of well-formed events must take exactly the decisions of the field-by-field one.
_GOOD_EVENT = {
    "event_id": "6f1c8f2e-3b7a-4c1d-9e2f-0a1b2c3d4e5f",
    "dossier_id": "d1",
    "kind": "filed",
    "payload": {"a": 1},
    "actor": "canbo1",
    "origin": "box",
    "wall_time": "2026-11-26T08:00:00+07:00",
    "hlc": "001764118800000.000001",
}
_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
_NEAR_VALUES = {
    "event_id": st.sampled_from(
        [
            "",
            "6F1C8F2E-3B7A-4C1D-9E2F-0A1B2C3D4E5F",
            "6f1c8f2e3b7a4c1d9e2f0a1b2c3d4e5f",
            "6f1c8f2e-3b7a-4c1d-9e2f-0a1b2c3d4e5",
        ]
    )
    | st.uuids().map(str),
    "wall_time": st.sampled_from(
        ["", "2026-11-26T08:00:00", "2026-11-26", "2026-11-26T08:00:00Z", "26/11/2026 08:00", "2026-13-01T00:00+07:00"]
    )
    | st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    "hlc": st.sampled_from(["", "001764118800000.00001", "1764118800000.000001", "001764118800000.000001\n"])
    | st.from_regex(r"[0-9]{15}\.[0-9]{6}", fullmatch=True),
    "payload": st.dictionaries(st.text(max_size=5), _ANY_JSON, max_size=3),
}


@st.composite
def _events_near_valid(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 19)) == 0:
        return draw(_ANY_JSON)
    data: dict[str, Any] = dict(_GOOD_EVENT)
    for key in draw(st.lists(st.sampled_from(list(_GOOD_EVENT)), max_size=3)):  # mostly one or two bad fields
        choice = draw(st.integers(0, 3))
        if choice == 0:
            data.pop(key, None)
        elif choice == 1:
            data[key] = draw(_ANY_JSON)
        else:
            data[key] = draw(_NEAR_VALUES.get(key, st.sampled_from(["", "x", "Nguyễn"])))
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.text(max_size=10))] = draw(_ANY_JSON)
    return data


def _decision(check: Any, data: object) -> tuple[str, ...]:
    try:
        out = check(data, 7)
    except SyncError as err:
        return ("refused", err.code, str(err.details.get("reason")), err.vi, err.en, str(err.details.get("where")))
    assert out is data
    return ("accepted",)


@settings(max_examples=1500, deadline=None)
@given(_events_near_valid())
def test_the_quick_event_check_decides_as_the_full_one(data: object) -> None:
    assert _decision(_check_event, data) == _decision(_event_problem, data)


def test_the_quick_event_check_accepts_good_events_and_refuses_each_bad_field() -> None:
    assert _decision(_check_event, dict(_GOOD_EVENT)) == ("accepted",)
    bad_values: list[tuple[str, object]] = [
        (key, value) for key in _GOOD_EVENT if key != "payload" for value in ("", 1, None)
    ]
    bad_values += [("event_id", "x"), ("hlc", "1.2"), ("wall_time", "2026-11-26T08:00:00"), ("payload", [])]
    for key, bad in bad_values:
        decision = _decision(_check_event, {**_GOOD_EVENT, key: bad})
        assert decision[0] == "refused" and key in decision[4], decision
