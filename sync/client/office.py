"""Pushing office events (closed queue tickets, ratings) to the hub: `POST /sync/v1/office-events`.

First the closed tickets and the ratings not queued yet are queued (edge.officelog.collect); then
the queue goes in gzip batches of at most 500, one after the other (a commune makes a few hundred
a day). Each answer is applied in one transaction; a refused event keeps its reason and blocks
nothing; a batch the hub cannot read at all is split until the event it cannot read is alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from edge import officelog
from edge.box import Box
from sync.client.errors import HubRefusedError
from sync.client.push import BATCH_TYPE, UNREADABLE, own_outcome, read_ack
from sync.client.transport import Transport
from sync.protocol.office import encode_office_batch

MAX_OFFICE_EVENTS = 500
OFFICE_PATH = "/sync/v1/office-events"


@dataclass
class OfficeResult:
    """What one push of office events did."""

    queued: int = 0
    sent: int = 0
    accepted: int = 0
    already_held: int = 0
    rejected: int = 0
    batches: int = 0

    def add(self, other: OfficeResult) -> None:
        """Add another result's counts to this one."""
        for name in ("queued", "sent", "accepted", "already_held", "rejected", "batches"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _post(box: Box, transport: Transport, commune_code: str, events: list[officelog.OfficeEvent]) -> OfficeResult:
    """Send one batch and apply the hub's answer; split a batch the hub cannot read."""
    batch_id = str(uuid.uuid4())
    body = encode_office_batch(
        [e.to_dict() for e in events], box_id=transport.box_id, commune_code=commune_code, batch_id=batch_id
    )
    try:
        response = transport.request("POST", OFFICE_PATH, body=body, content_type=BATCH_TYPE)
    except HubRefusedError as err:
        if err.code not in UNREADABLE:
            raise
        if len(events) > 1:
            half = len(events) // 2
            result = _post(box, transport, commune_code, events[:half])
            result.add(_post(box, transport, commune_code, events[half:]))
            return result
        officelog.settle(box.db(), [], [officelog.Refusal(events[0].event_id, err.code, err.en)])
        return OfficeResult(sent=1, rejected=1, batches=1)
    ack = read_ack(response.content, batch_id)
    ours = {e.event_id for e in events}
    confirmed, rejected = own_outcome(ack, ours)
    refusals = [officelog.Refusal(r.event_id, r.code, r.message) for r in rejected]
    officelog.settle(box.db(), confirmed, refusals)
    return OfficeResult(
        sent=len(events),
        accepted=len([i for i in ack.accepted if i in ours]),
        already_held=len([i for i in ack.already_held if i in ours]),
        rejected=len(refusals),
        batches=1,
    )


def push_office_events(
    box: Box,
    transport: Transport,
    commune_code: str,
    *,
    max_events: int = MAX_OFFICE_EVENTS,
    should_stop: Callable[[], bool] = lambda: False,
) -> OfficeResult:
    """Queue the new office events and send every queued one (refused ones wait for a fix)."""
    total = OfficeResult(queued=officelog.collect(box.db(), box.settings.box_id))
    while not should_stop():
        pending = officelog.pending(box.db(), limit=max_events)
        if not pending:
            break
        result = _post(box, transport, commune_code, pending)
        total.add(result)
        if result.accepted + result.already_held + result.rejected == 0:
            break  # the hub answered without confirming anything: do not spin
    return total
