"""The fleet view: states from heartbeat age, alerts at their thresholds, sorting, filtering, the API and /metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sync.hub.fleet import FleetRow, Thresholds, compute_row, filter_rows, load_fleet, sort_rows
from tests.hub_fixtures import START, DossierWriter, Hub, HubClock, add_box, heartbeat, make_hub

LIMITS = Thresholds(late_after_s=900, offline_after_s=3600, silent_alert_hours=24)
CLOCK = HubClock()


def box_row(age_s: float | None, enrolled_age_s: float = 7 * 86400, **beat: Any) -> dict[str, Any]:
    """A boxes-table row whose newest heartbeat was taken age_s ago (None: never)."""
    body = heartbeat(CLOCK.iso(-age_s), **beat) if age_s is not None else None
    return {
        "record_id": "r1",
        "box_id": "box-1",
        "commune_code": "00001",
        "name": "Máy xã",
        "enrolled_at": CLOCK.iso(-enrolled_age_s),
        "revoked_at": None,
        "last_seen_at": body["taken_at"] if body else None,
        "last_heartbeat": body,
        "last_heartbeat_at": body["taken_at"] if body else None,
    }


def codes(row: FleetRow) -> list[str]:
    return [a.code for a in row.alerts]


@pytest.mark.parametrize(
    ("age", "state"),
    [(0, "online"), (900, "online"), (901, "late"), (3600, "late"), (3601, "offline"), (None, "offline")],
)
def test_state_follows_heartbeat_age(age: float | None, state: str) -> None:
    assert compute_row(box_row(age), START, LIMITS).state == state


def test_a_healthy_box_has_no_alert_and_reports_its_numbers() -> None:
    row = compute_row(box_row(30, outbox_events=12, outbox_bytes=4096, oldest_unsent_age_s=50.5), START, LIMITS)
    assert row.alerts == []
    assert (row.outbox_events, row.outbox_bytes, row.oldest_unsent_age_s) == (12, 4096, 50.5)
    assert (row.version, row.disk_free_pct, row.clock_offset_ms, row.heartbeat_age_s) == ("1.4.0", 50.0, 120, 30)
    data = row.to_dict()
    for key in ("box_id", "commune_code", "state", "last_seen", "outbox_events", "outbox_bytes",
                "oldest_unsent_age_s", "version", "alerts", "last_error"):  # fmt: skip
        assert key in data


@pytest.mark.parametrize(
    ("beat", "alert", "quiet"),
    [
        ({"oldest_unsent_age_s": 86401, "outbox_events": 7}, "backlog", {"oldest_unsent_age_s": 86400}),
        (
            {"disk_free_bytes": 149, "disk_total_bytes": 1000},
            "disk_low",
            {"disk_free_bytes": 150, "disk_total_bytes": 1000},
        ),
        ({"clock_offset_ms": -120_001}, "clock_skew", {"clock_offset_ms": 120_000}),
        (
            {"devices": [{"name": "Máy in", "kind": "printer", "ok": False, "last_error": "Hết giấy"}]},
            "device",
            {"devices": [{"name": "Máy in", "kind": "printer", "ok": True, "last_error": None}]},
        ),
    ],
)
def test_each_alert_fires_past_its_threshold_only(beat: dict[str, Any], alert: str, quiet: dict[str, Any]) -> None:
    fired = compute_row(box_row(60, **beat), START, LIMITS)
    assert codes(fired) == [alert]
    assert fired.alerts[0].message and fired.alerts[0].message_en
    assert codes(compute_row(box_row(60, **quiet), START, LIMITS)) == []


def test_device_failure_names_the_device_and_shows_as_an_error() -> None:
    row = compute_row(
        box_row(60, devices=[{"name": "Máy in", "kind": "printer", "ok": False, "last_error": "Hết giấy"}]),
        START,
        LIMITS,
    )
    assert "Máy in" in row.alerts[0].message and "Hết giấy" in row.alerts[0].message
    assert row.errors == ["Máy in: Hết giấy"]


def test_silent_after_the_configured_hours_and_counted_from_enrolment_when_never_heard() -> None:
    assert codes(compute_row(box_row(24 * 3600 + 1), START, LIMITS)) == ["silent"]
    assert codes(compute_row(box_row(24 * 3600), START, LIMITS)) == []
    assert codes(compute_row(box_row(None, enrolled_age_s=25 * 3600), START, LIMITS)) == ["silent"]
    assert codes(compute_row(box_row(None, enrolled_age_s=3600), START, LIMITS)) == []
    assert codes(compute_row(box_row(7200), START, Thresholds(900, 3600, 1))) == ["silent"]


def test_sync_errors_are_shown_and_offline_box_keeps_its_last_numbers() -> None:
    row = compute_row(box_row(5000, last_push_error="timeout", outbox_events=3), START, LIMITS)
    assert row.state == "offline" and row.errors == ["timeout"] and row.outbox_events == 3
    assert row.to_dict()["last_error"] == "timeout"


def test_unreadable_heartbeat_counts_as_never_heard() -> None:
    raw = box_row(None)
    raw["last_heartbeat"] = "{not json"
    assert compute_row(raw, START, LIMITS).state == "offline"


def _rows() -> list[FleetRow]:
    a = compute_row(
        {**box_row(60, outbox_events=5), "box_id": "a", "commune_code": "00002", "name": "Phúc Xá"}, START, LIMITS
    )
    b = compute_row({**box_row(2000, outbox_events=50), "box_id": "b", "name": "Hàng Bạc"}, START, LIMITS)
    c = compute_row({**box_row(None), "box_id": "c", "name": "Tràng Tiền"}, START, LIMITS)
    d = compute_row({**box_row(30, clock_offset_ms=999_999), "box_id": "d", "name": "Đồng Xuân"}, START, LIMITS)
    return [a, b, c, d]


def test_sorting_by_columns_with_unknown_values_last() -> None:
    rows = _rows()
    # Ties go by commune, then box id: d (00001) before a (00002).
    assert [r.box_id for r in sort_rows(rows, "state")] == ["c", "b", "d", "a"]
    assert [r.box_id for r in sort_rows(rows, "outbox_events")] == ["d", "a", "b", "c"]
    assert [r.box_id for r in sort_rows(rows, "outbox_events", descending=True)] == ["b", "a", "d", "c"]
    assert [r.box_id for r in sort_rows(rows, "name")] == ["d", "b", "a", "c"]  # Đ sorts as D
    assert [r.box_id for r in sort_rows(rows, "alerts")] == ["b", "a", "c", "d"]  # c: silent since enrolment
    assert [r.box_id for r in sort_rows(rows, "no-such-column")] == ["c", "b", "d", "a"]


def test_filtering_by_state_commune_alert_and_text_without_accents() -> None:
    rows = _rows()
    assert [r.box_id for r in filter_rows(rows, state="late")] == ["b"]
    assert [r.box_id for r in filter_rows(rows, commune="00002")] == ["a"]
    assert [r.box_id for r in filter_rows(rows, alert="clock_skew")] == ["d"]
    assert [r.box_id for r in filter_rows(rows, alert="any")] == ["c", "d"]
    assert [r.box_id for r in filter_rows(rows, text="dong xuan")] == ["d"]
    assert [r.box_id for r in filter_rows(rows, text="TRÀNG")] == ["c"]
    assert filter_rows(rows, state="online", text="hang bac") == []


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    hub = make_hub(tmp_path / "hub")
    clock = hub.clock
    add_box(
        hub,
        "box-online",
        "00001",
        "Máy Phúc Xá",
        beats=[heartbeat(clock.iso(-4000)), heartbeat(clock.iso(-60), outbox_events=4, outbox_bytes=900)],
        commune_name="Phường Phúc Xá",
    )
    add_box(
        hub,
        "box-late",
        "00002",
        "Máy Hàng Bạc",
        beats=[heartbeat(clock.iso(-1200), oldest_unsent_age_s=90_000, outbox_events=40)],
    )
    add_box(hub, "box-never", "00003", "Máy mới")
    add_box(hub, "box-gone", "00003", "Máy cũ", beats=[heartbeat(clock.iso(-30))], revoked=True)
    add_box(hub, None, "00004", "Chờ đăng ký", enrolled_age_s=None)
    return hub


def test_load_fleet_reads_every_active_box(hub: Hub) -> None:
    rows = {r.box_id: r for r in load_fleet(hub.db, hub.clock(), LIMITS)}
    assert set(rows) == {"box-online", "box-late", "box-never", None}
    assert rows["box-online"].state == "online" and rows["box-online"].outbox_events == 4
    assert rows["box-online"].commune_name == "Phường Phúc Xá"
    assert rows["box-late"].state == "late" and codes(rows["box-late"]) == ["backlog"]
    assert rows["box-never"].state == "offline" and codes(rows["box-never"]) == ["silent"]
    assert rows[None].enrolled is False and rows[None].alerts == []


def test_failing_forwards_raise_an_alert_on_the_communes_box(hub: Hub) -> None:
    writer = DossierWriter(hub, "00002")
    writer.create()
    hub.db.execute("UPDATE forwards SET attempts = 2 WHERE dossier_id = ?", [writer.dossier_id])
    rows = {r.box_id: r for r in load_fleet(hub.db, hub.clock(), LIMITS)}
    assert "forward_failing" not in codes(rows["box-late"])
    hub.db.execute("UPDATE forwards SET attempts = 3 WHERE dossier_id = ?", [writer.dossier_id])
    rows = {r.box_id: r for r in load_fleet(hub.db, hub.clock(), LIMITS)}
    assert codes(rows["box-late"]) == ["backlog", "forward_failing"]
    assert "forward_failing" not in codes(rows["box-online"])
    hub.db.execute("UPDATE forwards SET sent_version = wanted_version WHERE dossier_id = ?", [writer.dossier_id])
    rows = {r.box_id: r for r in load_fleet(hub.db, hub.clock(), LIMITS)}
    assert "forward_failing" not in codes(rows["box-late"])


def test_fleet_api(hub: Hub) -> None:
    client = hub.client()
    answer = client.get("/api/v1/fleet", headers=hub.headers("theodoi"))
    assert answer.status_code == 200
    boxes = {b["box_id"]: b for b in answer.get_json()}
    assert set(boxes) == {"box-online", "box-late", "box-never", None}
    online = boxes["box-online"]
    required = {"box_id", "commune_code", "state", "last_seen", "outbox_events", "outbox_bytes",
                "oldest_unsent_age_s", "version", "alerts"}  # fmt: skip
    assert required <= set(online)
    assert (online["state"], online["commune_code"], online["outbox_events"], online["outbox_bytes"]) == (
        "online",
        "00001",
        4,
        900,
    )
    assert online["last_seen"] == hub.clock.iso(-60) and online["version"] == "1.4.0"
    assert boxes["box-late"]["alerts"][0]["code"] == "backlog" and boxes["box-late"]["alerts"][0]["message_en"]
    late = client.get("/api/v1/fleet?state=late", headers=hub.headers())
    assert [b["box_id"] for b in late.get_json()] == ["box-late"]
    bad = client.get("/api/v1/fleet?state=asleep", headers=hub.headers())
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_state" and bad.get_json()["message_en"]


def test_fleet_api_needs_a_valid_token(hub: Hub) -> None:
    client = hub.client()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        answer = client.get("/api/v1/fleet", headers=headers)
        assert answer.status_code == 401
        body = answer.get_json()
        assert body["code"] == "unauthorized" and body["message"] and body["message_en"]
    hub.db.execute("UPDATE users SET disabled = 1 WHERE username = 'theodoi'")
    assert client.get("/api/v1/fleet", headers=hub.headers("theodoi")).status_code == 401


def test_heartbeat_history_api(hub: Hub) -> None:
    client = hub.client()
    answer = client.get("/api/v1/boxes/box-online/heartbeats", headers=hub.headers())
    assert answer.status_code == 200
    data = answer.get_json()
    assert data["box"]["box_id"] == "box-online"
    assert [b["taken_at"] for b in data["heartbeats"]] == [hub.clock.iso(-60), hub.clock.iso(-4000)]
    assert data["heartbeats"][0]["outbox_events"] == 4
    one = client.get("/api/v1/boxes/box-online/heartbeats?limit=1", headers=hub.headers()).get_json()
    assert len(one["heartbeats"]) == 1
    assert client.get("/api/v1/boxes/nope/heartbeats", headers=hub.headers()).status_code == 404
    assert client.get("/api/v1/boxes/box-online/heartbeats?limit=0", headers=hub.headers()).status_code == 422


def test_metrics(hub: Hub) -> None:
    client = hub.client()
    assert client.get("/metrics").status_code == 401
    answer = client.get("/metrics", headers=hub.headers("theodoi"))
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain")
    text = answer.get_data(as_text=True)
    assert 'motcua_hub_boxes{state="online"} 1' in text
    assert 'motcua_hub_boxes{state="late"} 1' in text
    assert 'motcua_hub_boxes{state="offline"} 2' in text
    assert 'motcua_box_outbox_events{box_id="box-online",commune="00001"} 4' in text
    assert 'motcua_box_outbox_bytes{box_id="box-online",commune="00001"} 900' in text
    assert 'motcua_box_oldest_unsent_age_seconds{box_id="box-late",commune="00002"} 90000' in text
    assert 'motcua_box_heartbeat_age_seconds{box_id="box-online",commune="00001"} 60' in text
    assert 'motcua_box_clock_offset_milliseconds{box_id="box-online",commune="00001"} 120' in text
    assert "motcua_hub_events_stored 0" in text and "motcua_hub_forwards_pending 0" in text
    assert "# TYPE motcua_hub_blob_bytes gauge" in text
    DossierWriter(hub, "00001").create()
    text = client.get("/metrics", headers=hub.headers()).get_data(as_text=True)
    assert "motcua_hub_events_stored 1" in text and "motcua_hub_forwards_pending 1" in text
