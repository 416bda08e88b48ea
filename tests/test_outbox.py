"""The sync outbox: this box's own events and scans queue for the hub, nothing else does."""

from __future__ import annotations

import io
import uuid

import pytest

from edge import actions, attachments, intake, outbox, projection
from edge.box import Box
from edge.events import events_of
from edge.replication import apply_events
from edge.store.db import write
from edge.users import User
from tests.conftest import dossier_body

PNG = b"\x89PNG\r\n\x1a\n" + b"scan" * 64


def test_local_events_and_scans_are_queued_in_log_order(box: Box, officer: User) -> None:
    state = intake.receive_dossier(box, officer, dossier_body())
    actions.act(box, officer, state["code"], "transfer", {"assignee": "canbo2"})
    attachments.attach(box, officer, state["code"], io.BytesIO(PNG), "scan.png")
    queued = outbox.pending_events(box.db())
    assert [e.kind for e in queued] == ["created", "transferred", "attachment_added"]
    assert [e.seq for e in queued] == sorted(e.seq for e in queued if e.seq is not None)
    status = outbox.status(box.db())
    assert (status.events, status.refused, status.blobs) == (3, 0, 1) and status.bytes > 0
    assert outbox.pending_blobs(box.db()) == [queued[2].payload["sha256"]]
    assert not outbox.dossier_synced(box.db(), state["dossier_id"])


def test_events_from_elsewhere_are_not_sent_back(box: Box, officer: User) -> None:
    state = intake.receive_dossier(box, officer, dossier_body())
    outbox.acknowledge(box.db(), [e.event_id for e in outbox.pending_events(box.db())])
    remote = {
        "event_id": str(uuid.uuid4()),
        "dossier_id": state["dossier_id"],
        "kind": "transferred",
        "payload": {"assignee": "canbo2"},
        "actor": "huyen",
        "origin": "hub:province",
        "wall_time": state["received_at"],
        "hlc": "999999999999999.000000",
    }
    apply_events(box, [remote])
    assert outbox.pending_events(box.db()) == []
    assert outbox.dossier_synced(box.db(), state["dossier_id"])


def test_acknowledged_events_leave_refused_ones_stay_without_blocking(box: Box, officer: User) -> None:
    first = intake.receive_dossier(box, officer, dossier_body())
    second = intake.receive_dossier(box, officer, dossier_body())
    queued = outbox.pending_events(box.db())
    bad, good = queued[0].event_id, queued[1].event_id
    assert outbox.refuse(box.db(), [outbox.Refusal(bad, "unknown_procedure", "Thủ tục không có ở tỉnh")]) == 1
    assert [e.event_id for e in outbox.pending_events(box.db())] == [good]  # the one behind still goes
    assert outbox.acknowledge(box.db(), [good, good]) == 1
    shown = outbox.refused(box.db())
    assert [(r["event_id"], r["code"], r["attempts"]) for r in shown] == [(bad, "unknown_procedure", 1)]
    assert outbox.status(box.db()).refused == 1
    assert not outbox.dossier_synced(box.db(), first["dossier_id"])
    assert outbox.dossier_synced(box.db(), second["dossier_id"])
    assert outbox.retry_refused(box.db()) == 1
    assert [e.event_id for e in outbox.pending_events(box.db())] == [bad]  # never dropped


def test_a_scan_already_sent_is_not_queued_again(box: Box, officer: User) -> None:
    a = intake.receive_dossier(box, officer, dossier_body())
    b = intake.receive_dossier(box, officer, dossier_body())
    attachments.attach(box, officer, a["code"], io.BytesIO(PNG), "scan.png")
    (sha,) = outbox.pending_blobs(box.db())
    outbox.blob_confirmed(box.db(), sha)
    attachments.attach(box, officer, b["code"], io.BytesIO(PNG), "same-scan.png")
    assert outbox.pending_blobs(box.db()) == []


def test_rebuilding_projections_leaves_the_outbox_alone(box: Box, officer: User) -> None:
    intake.receive_dossier(box, officer, dossier_body())
    before = [e.event_id for e in outbox.pending_events(box.db())]
    db = box.db()
    with write(db):
        projection.rebuild_all(db)
    assert [e.event_id for e in outbox.pending_events(box.db())] == before


def test_an_event_is_recorded_once(box: Box, officer: User) -> None:
    from edge import events

    state = intake.receive_dossier(box, officer, dossier_body())
    (created,) = events_of(box.db(), state["dossier_id"])
    db = box.db()
    with pytest.raises(ValueError), write(db):
        events.record(db, created)
    assert len(outbox.pending_events(box.db())) == 1
