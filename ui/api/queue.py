"""The queue's JSON API: services, counters, taking a number, calling the next one (ui/openapi.yaml)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Response, request, stream_with_context, url_for

from edge import queue, ratings
from edge.errors import ValidationError
from edge.users import require
from ui.api import box, bp, json_body, respond, user


def _json_object() -> dict[str, Any]:
    """The request body, which must be a JSON object."""
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError("Nội dung phải là một đối tượng JSON.", "The body must be a JSON object.")
    return body


def _public(ticket: dict[str, object]) -> dict[str, object]:
    keys = ("number", "service", "priority", "state", "issued_at", "called_at", "counter")
    return {k: ticket[k] for k in keys}


@bp.get("/queue/services")
def queue_services() -> Response:
    """The services a citizen can take a number for."""
    require(user(), "queue.read")
    return respond([{k: s[k] for k in ("code", "name", "prefix")} for s in queue.list_services(box().db())])


@bp.get("/queue/counters")
def queue_counters() -> Response:
    """The open counters and the services each serves."""
    require(user(), "queue.read")
    counters = queue.list_counters(box().db(), active_only=True)
    return respond([{k: c[k] for k in ("number", "name", "services")} for c in counters])


@bp.get("/queue/priorities")
def queue_priorities() -> Response:
    """The priority groups a citizen may choose, with their weight (heavier is called first)."""
    require(user(), "queue.read")
    keys = ("code", "name_vi", "name_en", "weight")
    return respond([{k: p[k] for k in keys} for p in queue.list_priorities(box().db())])


@bp.post("/queue/tickets")
def issue_ticket() -> Response:
    """Take the next number of a service: {service, priority?} → 201 {number, service, issued_at, waiting_ahead}."""
    require(user(), "queue.issue")
    body = _json_object()
    ticket = queue.issue_ticket(box().db(), body.get("service"), box().now(), body.get("priority"))
    return respond({**_public(ticket), "waiting_ahead": ticket["waiting_ahead"]}, 201)


@bp.post("/counters/<int:counter>/call-next")
def call_next(counter: int) -> Response:
    """Call the next waiting ticket this counter serves; 204 when nobody waits."""
    require(user(), "queue.call")
    ticket = queue.call_next(box().db(), counter, user().username, box().now())
    if ticket is None:
        return Response(status=204)
    return respond(_public(ticket))


STREAM_S = 300.0  # a stream ends after this; EventSource reconnects by itself (and says where it was)
POLL_S = 0.05
PING_S = 5.0  # a display that went away is noticed (and its thread freed) at the next ping
_STOPPING = threading.Event()


def stop_streams() -> None:
    """End every event stream now (the server is stopping: no thread waits out its stream)."""
    _STOPPING.set()


def _call_event(call: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call["id"], "number": call["number"], "service": call["service"], "counter": call["counter"],
        "at": call["at"], "text": queue.call_text(call["number"], call["counter"]),
        "voice_url": url_for("display.voice", number=call["number"], counter=call["counter"]),
    }  # fmt: skip


@bp.get("/queue/events")
def queue_events() -> Response:
    """Server-sent events for the display board: `board` (the state now), then one `call` per call."""
    require(user(), "queue.read")
    db = box().db()
    state = queue.board(db, box().now())
    raw = request.headers.get("Last-Event-ID") or request.args.get("after") or ""
    last = int(raw) if raw.isdigit() else state["last_id"]

    def stream() -> Iterator[str]:
        nonlocal last
        shown = {**state, "counters": [_call_event(c) for c in state["counters"]],
                 "recent": [_call_event(c) for c in state["recent"]]}  # fmt: skip
        yield "retry: 2000\n\n"
        yield f"event: board\ndata: {json.dumps(shown, ensure_ascii=False)}\n\n"
        started = pinged = time.monotonic()
        while time.monotonic() - started < STREAM_S and not _STOPPING.is_set():
            for call in queue.calls_after(db, last):
                last = call["id"]
                yield f"id: {call['id']}\nevent: call\ndata: {json.dumps(_call_event(call), ensure_ascii=False)}\n\n"
            if time.monotonic() - pinged > PING_S:
                pinged = time.monotonic()
                yield ": ping\n\n"
            time.sleep(POLL_S)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(stream_with_context(stream()), mimetype="text/event-stream", headers=headers)


@bp.post("/ratings")
def rate() -> Response:
    """A citizen's rating: {ticket (today's number) or dossier_code, score 1–scale (scale = best)} → 201."""
    require(user(), "queue.issue")
    body = _json_object()
    unknown = sorted(set(body) - {"ticket", "dossier_code", "score"})
    if unknown:
        raise ValidationError(f"Trường lạ: {', '.join(unknown)}.", f"Unknown field: {', '.join(unknown)}.")
    rating = ratings.rate_service(
        box().db(), box().now(), body.get("score"), ticket=body.get("ticket"), dossier_code=body.get("dossier_code"),
        scale=box().settings.rating_scale,
    )  # fmt: skip
    keys = ("id", "score", "scale", "label_vi", "label_en", "at")
    return respond({k: rating[k] for k in keys}, 201)
