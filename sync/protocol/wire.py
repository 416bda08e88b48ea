"""The push batch format (gzip-compressed UTF-8 JSON) and the hub's acknowledgement (UTF-8 JSON).

A batch: {"batch_id": UUID, "box_id": str, "events": [event, ...]} where each event has exactly
the fields of the edge event wire shape: event_id (UUID), dossier_id, kind, payload (object), actor,
origin, wall_time (ISO 8601 with offset), hlc ("NNNNNNNNNNNNNNN.NNNNNN").

An acknowledgement: {"batch_id": UUID, "accepted": [event_id], "already_held": [event_id],
"rejected": [{"event_id", "code", "message"}]}.
"""

from __future__ import annotations

import gzip
import json
import operator
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

import orjson

from sync.protocol.errors import BatchTooLargeError, MalformedAckError, MalformedBatchError

EVENT_FIELDS = ("event_id", "dossier_id", "kind", "payload", "actor", "origin", "wall_time", "hlc")
BATCH_FIELDS = ("batch_id", "box_id", "events")
ACK_FIELDS = ("batch_id", "accepted", "already_held", "rejected")
REJECTION_FIELDS = ("event_id", "code", "message")
DEFAULT_MAX_ACK_BYTES = 16 * 1024 * 1024

_HLC = re.compile(r"[0-9]{15}\.[0-9]{6}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
_GZIP_MAGIC = b"\x1f\x8b"
_EVENT_KEYS = frozenset(EVENT_FIELDS)
_event_values = operator.itemgetter(*EVENT_FIELDS)


@dataclass(frozen=True)
class Rejection:
    """One event the hub did not store, with why."""

    event_id: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """Return the rejection as JSON-ready data."""
        return {"event_id": self.event_id, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class Batch:
    """A decoded, validated push batch."""

    batch_id: str
    box_id: str
    events: list[dict[str, Any]]
    rejected: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class Ack:
    """The hub's answer to a batch: what it stored now, what it already held, what it refused."""

    batch_id: str
    accepted: list[str]
    already_held: list[str]
    rejected: list[Rejection]


def _malformed(reason: str, vi: str, en: str, *, where: str = "") -> NoReturn:
    raise MalformedBatchError(f"Lô đồng bộ không hợp lệ: {vi}.", f"Malformed batch: {en}.", reason=reason, where=where)


def _check_fields(
    data: dict[str, Any], fields: Sequence[str], bad: Callable[[str, str, str], NoReturn], prefix: str = ""
) -> None:
    """Refuse an object that lacks one of the fields or carries one more."""
    missing = [k for k in fields if k not in data]
    if missing:
        bad(f"{prefix}missing_field", f"thiếu trường {', '.join(missing)}", f"missing field {', '.join(missing)}")
    extra = sorted(set(data) - set(fields))
    if extra:
        bad(f"{prefix}unexpected_field", f"trường lạ {', '.join(extra)}", f"unexpected field {', '.join(extra)}")


def is_uuid(value: object) -> bool:
    """Return whether a value is a UUID string in canonical lowercase form (what str(uuid.UUID) gives)."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # rare: find the key to name it
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return out


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _loads(text: bytes) -> Any:
    """Parse strict JSON: UTF-8, no duplicate keys, no NaN or Infinity.

    orjson reads first (several times faster). When writing its result back gives the very same
    bytes, the text held no repeated key (one would be missing from the output) and no NaN or
    Infinity (orjson refuses them), so the result stands; any other text (spaces, escapes, repeated
    keys, errors) is read again by the standard parser with its checks and its error messages.
    """
    try:
        data = orjson.loads(text)
        if orjson.dumps(data) == text:
            return data
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        pass
    return json.loads(text.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def encode_batch(events: list[dict[str, Any]], *, box_id: str, batch_id: str) -> bytes:
    """Return a batch as gzip-compressed UTF-8 JSON."""
    body = {"batch_id": batch_id, "box_id": box_id, "events": events}
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return gzip.compress(text.encode("utf-8"), mtime=0)


def _too_large(vi: str, en: str, **details: Any) -> BatchTooLargeError:
    return BatchTooLargeError(f"Lô đồng bộ quá lớn: {vi}.", f"Batch too large: {en}.", **details)


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    """Decompress one gzip member, refusing output over max_bytes without producing it."""
    if not body.startswith(_GZIP_MAGIC):
        _malformed("not_gzip", "không phải dữ liệu gzip", "body is not gzip")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = body
    try:
        while pending and not inflater.eof:
            chunk = inflater.decompress(pending, 64 * 1024)
            out += chunk
            if len(out) > max_bytes:
                raise _too_large(
                    f"giải nén vượt {max_bytes} byte", f"decompressed over {max_bytes} bytes", limit=max_bytes
                )
            pending = inflater.unconsumed_tail
        while not inflater.eof and (chunk := inflater.decompress(b"", 64 * 1024)):
            out += chunk
            if len(out) > max_bytes:
                raise _too_large(
                    f"giải nén vượt {max_bytes} byte", f"decompressed over {max_bytes} bytes", limit=max_bytes
                )
    except zlib.error as err:
        _malformed("bad_gzip", f"dữ liệu gzip hỏng ({err})", f"corrupt gzip data ({err})")
    if not inflater.eof:
        _malformed("truncated_gzip", "dữ liệu gzip bị cắt cụt", "gzip data is truncated")
    if inflater.unused_data:
        _malformed("trailing_data", "có dữ liệu thừa sau luồng gzip", "trailing data after the gzip stream")
    return bytes(out)


def _well_formed(data: object) -> bool:
    """Return True when an event passes every check of _event_problem (the quick path for good events).

    The same tests in one expression, without building messages; False sends the event to the full
    check, which names the first problem. Any event this accepts, _event_problem accepts too.
    """
    if type(data) is not dict or data.keys() != _EVENT_KEYS:
        return False
    event_id, dossier_id, kind, payload, actor, origin, wall_time, hlc = _event_values(data)
    if not (
        isinstance(event_id, str)
        and isinstance(dossier_id, str)
        and isinstance(kind, str)
        and isinstance(actor, str)
        and isinstance(origin, str)
        and isinstance(wall_time, str)
        and isinstance(hlc, str)
        and dossier_id
        and kind
        and actor
        and origin
        and isinstance(payload, dict)
        and _UUID.fullmatch(event_id)
        and _HLC.fullmatch(hlc)
    ):
        return False
    try:
        return datetime.fromisoformat(wall_time).utcoffset() is not None
    except ValueError:
        return False


def _check_event(data: object, index: int) -> dict[str, Any]:
    """Check one event's shape and types; return it."""
    if _well_formed(data):
        return data  # type: ignore[return-value]  # _well_formed checked it is a dict
    return _event_problem(data, index)


def _event_problem(data: object, index: int) -> dict[str, Any]:
    """Check one event's shape and types field by field; raise naming the first problem, else return it."""
    where = f"events[{index}]"

    def bad(reason: str, vi: str, en: str) -> NoReturn:
        _malformed(reason, f"{where}: {vi}", f"{where}: {en}", where=where)

    if not isinstance(data, dict):
        bad("event_not_object", "không phải đối tượng JSON", "not an object")
    _check_fields(data, EVENT_FIELDS, bad, prefix="event_")
    for key in EVENT_FIELDS:
        if key != "payload" and (not isinstance(data[key], str) or not data[key]):
            bad("event_bad_field", f"{key} phải là chuỗi không rỗng", f"{key} must be a non-empty string")
    if not isinstance(data["payload"], dict):
        bad("event_bad_field", "payload phải là đối tượng JSON", "payload must be an object")
    if not is_uuid(data["event_id"]):
        bad("event_bad_field", "event_id không phải UUID", "event_id is not a UUID")
    if not _HLC.fullmatch(data["hlc"]):
        bad("event_bad_field", "hlc sai định dạng", "hlc is malformed")
    try:
        moment = datetime.fromisoformat(data["wall_time"])
    except ValueError:
        bad("event_bad_field", "wall_time không phải ISO 8601", "wall_time is not ISO 8601")
    if moment.utcoffset() is None:
        bad("event_bad_field", "wall_time thiếu múi giờ", "wall_time has no UTC offset")
    return data


def open_batch(body: bytes, max_bytes: int, **details: Any) -> Any:
    """Return a gzip JSON batch's decoded JSON; raise BatchTooLargeError (with details) or MalformedBatchError."""
    if len(body) > max_bytes:
        raise _too_large(f"{len(body)} byte, tối đa {max_bytes}", f"{len(body)} bytes, limit {max_bytes}", **details)
    text = _gunzip(body, max_bytes)
    try:
        return _loads(text)
    except UnicodeDecodeError:
        _malformed("not_utf8", "không phải UTF-8", "not UTF-8")
    except (ValueError, RecursionError) as err:
        _malformed("not_json", f"không phải JSON ({err})", f"not JSON ({err})")


def decode_batch(body: bytes, max_bytes: int, max_events: int, *, strict: bool = True) -> Batch:
    """Decompress and validate a push batch; raise MalformedBatchError or BatchTooLargeError.

    With strict=False an event whose event_id is a UUID but whose shape is wrong goes to
    Batch.rejected (code "malformed_event") instead of failing the batch, so it blocks nothing.
    """
    data = open_batch(body, max_bytes)
    if not isinstance(data, dict):
        _malformed("not_object", "không phải đối tượng JSON", "not a JSON object")
    _check_fields(data, BATCH_FIELDS, _malformed)
    if not is_uuid(data["batch_id"]):
        _malformed("bad_batch_id", "batch_id không phải UUID", "batch_id is not a UUID")
    if not isinstance(data["box_id"], str) or not data["box_id"]:
        _malformed("bad_box_id", "box_id phải là chuỗi không rỗng", "box_id must be a non-empty string")
    events = data["events"]
    if not isinstance(events, list):
        _malformed("events_not_list", "events phải là danh sách", "events must be a list")
    if len(events) > max_events:
        raise _too_large(
            f"{len(events)} sự kiện, tối đa {max_events}", f"{len(events)} events, limit {max_events}", limit=max_events
        )
    good: list[dict[str, Any]] = []
    rejected: list[Rejection] = []
    seen: set[str] = set()
    for index, raw in enumerate(events):
        event_id = raw.get("event_id") if isinstance(raw, dict) else None
        if isinstance(event_id, str) and event_id in seen and is_uuid(event_id):
            _malformed(
                "duplicate_event",
                f"events[{index}]: event_id {event_id} lặp lại",
                f"events[{index}]: duplicate event_id {event_id}",
                where=f"events[{index}]",
            )
        try:
            good.append(_check_event(raw, index))
        except MalformedBatchError as err:
            if strict or not is_uuid(event_id):
                raise
            rejected.append(Rejection(str(event_id), "malformed_event", err.en))
        if isinstance(event_id, str):
            seen.add(event_id)
    return Batch(batch_id=data["batch_id"], box_id=data["box_id"], events=good, rejected=rejected)


def encode_ack(*, batch_id: str, accepted: list[str], already_held: list[str], rejected: list[Rejection]) -> bytes:
    """Return the hub's acknowledgement as UTF-8 JSON."""
    body = {
        "batch_id": batch_id,
        "accepted": list(accepted),
        "already_held": list(already_held),
        "rejected": [r.to_dict() for r in rejected],
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _bad_ack(reason: str, vi: str, en: str) -> NoReturn:
    raise MalformedAckError(
        f"Phản hồi của máy chủ không hợp lệ: {vi}.", f"Malformed acknowledgement: {en}.", reason=reason
    )


def _ids(data: dict[str, Any], key: str) -> list[str]:
    value = data[key]
    if not isinstance(value, list) or not all(is_uuid(v) for v in value):
        _bad_ack("bad_ids", f"{key} phải là danh sách UUID", f"{key} must be a list of UUIDs")
    return list(value)


def decode_ack(body: bytes, max_bytes: int = DEFAULT_MAX_ACK_BYTES) -> Ack:
    """Parse and validate the hub's acknowledgement; raise MalformedAckError."""
    if len(body) > max_bytes:
        _bad_ack("too_large", f"quá {max_bytes} byte", f"over {max_bytes} bytes")
    try:
        data = _loads(body)
    except UnicodeDecodeError:
        _bad_ack("not_utf8", "không phải UTF-8", "not UTF-8")
    except (ValueError, RecursionError) as err:
        _bad_ack("not_json", f"không phải JSON ({err})", f"not JSON ({err})")
    if not isinstance(data, dict) or set(data) != set(ACK_FIELDS):
        _bad_ack(
            "bad_fields", f"phải có đúng các trường {', '.join(ACK_FIELDS)}", f"needs exactly {', '.join(ACK_FIELDS)}"
        )
    if not is_uuid(data["batch_id"]):
        _bad_ack("bad_batch_id", "batch_id không phải UUID", "batch_id is not a UUID")
    accepted, already_held = _ids(data, "accepted"), _ids(data, "already_held")
    rejected: list[Rejection] = []
    if not isinstance(data["rejected"], list):
        _bad_ack("bad_rejected", "rejected phải là danh sách", "rejected must be a list")
    for item in data["rejected"]:
        if (
            not isinstance(item, dict)
            or set(item) != set(REJECTION_FIELDS)
            or not is_uuid(item["event_id"])
            or not all(isinstance(item[k], str) and item[k] for k in ("code", "message"))
        ):
            _bad_ack("bad_rejected", "mục rejected sai dạng", "a rejected entry is malformed")
        rejected.append(Rejection(item["event_id"], item["code"], item["message"]))
    every = [*accepted, *already_held, *(r.event_id for r in rejected)]
    if len(every) != len(set(every)):
        _bad_ack("duplicate_event", "một sự kiện xuất hiện hai lần", "an event appears twice")
    return Ack(batch_id=data["batch_id"], accepted=accepted, already_held=already_held, rejected=rejected)
