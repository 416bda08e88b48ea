"""The queue's JSON API: services, counters, taking a number, calling the next one (ui/openapi.yaml)."""

from __future__ import annotations

from flask import Response

from edge import queue
from edge.errors import ValidationError
from edge.users import require
from ui.api import box, bp, json_body, respond, user


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
    """The counters and the services each serves."""
    require(user(), "queue.read")
    return respond([{k: c[k] for k in ("number", "name", "services")} for c in queue.list_counters(box().db())])


@bp.post("/queue/tickets")
def issue_ticket() -> Response:
    """Take the next number of a service: {service, priority?} → 201 {number, service, issued_at, waiting_ahead}."""
    require(user(), "queue.issue")
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError("Nội dung phải là một đối tượng JSON.", "The body must be a JSON object.")
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
