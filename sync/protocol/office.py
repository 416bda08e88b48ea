"""The office-event batch (PROTOCOL.md "Push: office events"): gzip JSON like an event batch.

A batch: {"batch_id": UUID, "box_id": str, "commune_code": str, "events": [office event, ...]}.
An office event: {"event_id": UUID, "kind": "ticket_closed" | "rating", "at": ISO 8601 with offset,
"payload": object}; the payload's fields are per kind (OFFICE_KINDS). The answer is the same
acknowledgement as for events (sync.protocol.wire.encode_ack / decode_ack).

An event whose id is a UUID but whose shape is wrong is refused alone (`malformed_event`, or
`unknown_kind` for a kind this hub does not know yet) and blocks nothing; a batch that cannot be
read at all (not gzip, not JSON, a missing envelope field, an event without a UUID id, an id twice)
is refused whole (`malformed_batch`).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NoReturn

from sync.protocol.errors import BatchTooLargeError, MalformedBatchError
from sync.protocol.wire import Rejection, is_uuid, open_batch

OFFICE_BATCH_FIELDS = ("batch_id", "box_id", "commune_code", "events")
OFFICE_EVENT_FIELDS = ("event_id", "kind", "at", "payload")
_COMMUNE = re.compile(r"[0-9]{5}", re.ASCII)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

# A field's check returns an error (English) or None.
Check = Callable[[Any], str | None]


def _text(*, optional: bool = False, max_len: int = 200) -> Check:
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value or len(value) > max_len:
            return f"must be a string of 1–{max_len} characters" + (" or null" if optional else "")
        return None

    return check


def _whole(low: int, high: int, *, optional: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"must be a whole number from {low} to {high}" + (" or null" if optional else "")
        return None

    return check


def _moment(*, optional: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or parse_moment(value) is None:
            return "must be an ISO 8601 moment with an offset" + (" or null" if optional else "")
        return None

    return check


def _one_of(*allowed: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(allowed)}"

    return check


def _day(value: Any) -> str | None:
    if isinstance(value, str) and _DAY.fullmatch(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return None
    return "must be a date YYYY-MM-DD"


_DURATION = _whole(0, 10**8, optional=True)
OFFICE_KINDS: dict[str, dict[str, Check]] = {
    "ticket_closed": {
        "number": _text(max_len=20),
        "service": _text(max_len=20),
        "priority": _text(optional=True, max_len=40),
        "weight": _whole(0, 100),
        "state": _one_of("done", "no_show"),
        "day": _day,
        "issued_at": _moment(),
        "called_at": _moment(optional=True),
        "started_at": _moment(optional=True),
        "finished_at": _moment(),
        "counter": _whole(0, 10_000, optional=True),
        "officer": _text(optional=True),
        "calls": _whole(0, 10_000),
        "dossier_code": _text(optional=True, max_len=64),
        "waiting_s": _DURATION,
        "service_s": _DURATION,
    },
    "rating": {
        "level": _whole(1, 5),
        "scale": _whole(3, 5),
        "counter": _whole(0, 10_000),
        "officer": _text(optional=True),
        "ticket": _text(optional=True, max_len=20),
        "dossier_code": _text(optional=True, max_len=64),
        "source": _text(max_len=40),
        "at": _moment(),
    },
}


def parse_moment(value: str) -> datetime | None:
    """Return an ISO 8601 moment that carries its UTC offset, or None."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


@dataclass(frozen=True)
class OfficeBatch:
    """A decoded office batch: its well-formed events, and the ones refused alone."""

    batch_id: str
    box_id: str
    commune_code: str
    events: list[dict[str, Any]]
    rejected: list[Rejection] = field(default_factory=list)


def encode_office_batch(events: list[dict[str, Any]], *, box_id: str, commune_code: str, batch_id: str) -> bytes:
    """Return an office batch as gzip-compressed UTF-8 JSON."""
    body = {"batch_id": batch_id, "box_id": box_id, "commune_code": commune_code, "events": events}
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return gzip.compress(text.encode("utf-8"), mtime=0)


def _malformed(reason: str, vi: str, en: str) -> NoReturn:
    raise MalformedBatchError(f"Lô đồng bộ không hợp lệ: {vi}.", f"Malformed batch: {en}.", reason=reason)


def check_office_event(data: dict[str, Any]) -> tuple[str, str] | None:
    """Return (code, reason in English) when an office event is not well formed, else None."""
    extra = sorted(set(data) - set(OFFICE_EVENT_FIELDS))
    missing = [k for k in OFFICE_EVENT_FIELDS if k not in data]
    if missing or extra:
        return "malformed_event", f"fields: missing {missing}, unexpected {extra}"
    kind = data["kind"]
    if not isinstance(kind, str) or kind not in OFFICE_KINDS:
        return "unknown_kind", f"kind {kind!r} is not one of {', '.join(OFFICE_KINDS)}"
    if not isinstance(data["at"], str) or parse_moment(data["at"]) is None:
        return "malformed_event", "at must be an ISO 8601 moment with an offset"
    payload = data["payload"]
    if not isinstance(payload, dict):
        return "malformed_event", "payload must be an object"
    for name, check in OFFICE_KINDS[kind].items():
        if name not in payload:
            return "malformed_event", f"payload.{name} is missing"
        problem = check(payload[name])
        if problem:
            return "malformed_event", f"payload.{name} {problem}"
    if kind == "rating" and payload["scale"] not in (3, 5):
        return "malformed_event", "payload.scale must be 3 or 5"
    if kind == "rating" and payload["level"] > payload["scale"]:
        return "malformed_event", "payload.level is above payload.scale"
    return None


def decode_office_batch(body: bytes, max_bytes: int, max_events: int) -> OfficeBatch:
    """Decompress and check an office batch; raise MalformedBatchError or BatchTooLargeError."""
    data = open_batch(body, max_bytes, limit=max_bytes)
    if not isinstance(data, dict) or set(data) != set(OFFICE_BATCH_FIELDS):
        _malformed(
            "bad_fields",
            f"cần đúng các trường {', '.join(OFFICE_BATCH_FIELDS)}",
            f"needs exactly {', '.join(OFFICE_BATCH_FIELDS)}",
        )
    if not is_uuid(data["batch_id"]):
        _malformed("bad_batch_id", "batch_id không phải UUID", "batch_id is not a UUID")
    if not isinstance(data["box_id"], str) or not data["box_id"]:
        _malformed("bad_box_id", "box_id phải là chuỗi không rỗng", "box_id must be a non-empty string")
    if not isinstance(data["commune_code"], str) or not _COMMUNE.fullmatch(data["commune_code"]):
        _malformed("bad_commune_code", "commune_code phải gồm 5 chữ số", "commune_code must be 5 digits")
    events = data["events"]
    if not isinstance(events, list):
        _malformed("events_not_list", "events phải là danh sách", "events must be a list")
    if len(events) > max_events:
        raise BatchTooLargeError(
            f"Lô đồng bộ quá lớn: {len(events)} sự kiện, tối đa {max_events}.",
            f"Batch too large: {len(events)} events, limit {max_events}.",
            limit=max_events,
        )
    good: list[dict[str, Any]] = []
    rejected: list[Rejection] = []
    seen: set[str] = set()
    for index, raw in enumerate(events):
        event_id = raw.get("event_id") if isinstance(raw, dict) else None
        if not isinstance(raw, dict) or not is_uuid(event_id):
            _malformed("event_without_id", f"events[{index}] không có event_id UUID", f"events[{index}] has no UUID id")
        if event_id in seen:
            _malformed("duplicate_event", f"events[{index}]: event_id lặp lại", f"events[{index}]: duplicate event_id")
        seen.add(str(event_id))
        problem = check_office_event(raw)
        if problem:
            rejected.append(Rejection(str(event_id), problem[0], f"events[{index}]: {problem[1]}"))
        else:
            good.append(raw)
    return OfficeBatch(data["batch_id"], data["box_id"], data["commune_code"], good, rejected)
