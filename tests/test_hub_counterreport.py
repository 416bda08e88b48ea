"""The counter report at the hub: exact figures from hand-made data of two communes, on SQLite and PostgreSQL.

Office events go in through the hub's store (sync.hub.office), fee payments as dossier events through
the hub's ingest (the same path a box's push takes); the report is read through the API with a bearer
token and through the dashboard page.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.hub.office import store_office_events
from tests.hub_fixtures import DossierWriter, Hub, add_commune, make_hub
from tests.hub_support import pg_database
from tests.test_hub_web import sign_in

REPORT = "/api/v1/reports/counter"


def ticket(day: str, state: str, waiting_s: int, service_s: int | None) -> dict[str, Any]:
    """A closed ticket as a box sends it (its moments are not what the report reads)."""
    moment = f"{day}T09:00:00+07:00"
    return {
        "event_id": str(uuid.uuid4()),
        "kind": "ticket_closed",
        "at": moment,
        "payload": {"number": "A001", "service": "HT", "priority": None, "weight": 0, "state": state, "day": day,
                    "issued_at": moment, "called_at": moment, "started_at": moment if service_s else None,
                    "finished_at": moment, "counter": 1, "officer": "canbo", "calls": 1, "dossier_code": None,
                    "waiting_s": waiting_s, "service_s": service_s},
    }  # fmt: skip


def rating(level: int, scale: int, at: str = "2026-11-25T10:00:00+07:00") -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "kind": "rating",
        "at": at,
        "payload": {"level": level, "scale": scale, "counter": 1, "officer": "canbo", "ticket": None,
                    "dossier_code": None, "source": "keypad", "at": at},
    }  # fmt: skip


def fill(hub: Hub) -> None:
    """Two communes' morning of 2026-11-25, and one ticket of the day before."""
    add_commune(hub.db, "00001", name="Phường Phúc Xá")
    add_commune(hub.db, "00002", name="Phường Hàng Bạc")
    add_commune(hub.db, "00003", name="Phường Tràng Tiền")  # nothing happened there
    first = [
        ticket("2026-11-25", "done", 300, 600),
        ticket("2026-11-25", "done", 100, 200),
        ticket("2026-11-25", "no_show", 500, None),
        ticket("2026-11-24", "done", 1000, 1000),
        rating(1, 5),
        rating(2, 5),
        rating(3, 5),
        rating(1, 3),
        rating(1, 5, at="2026-11-26T00:30:00+07:00"),  # the next day in Vietnam (17:30 UTC the day before)
    ]
    second = [ticket("2026-11-25", "no_show", 60, None), rating(2, 3)]
    for commune, events in (("00001", first), ("00002", second)):
        done = store_office_events(hub.db, events, commune_code=commune, box_id=f"box-{commune}", now_iso="x")
        assert len(done.accepted) == len(events), done
    one = DossierWriter(hub, "00001")
    one.create()
    one.add("fee_paid", {"payment_id": "p1", "method": "cash", "amount": 50_000,
                         "receipt": {"form": "01BLP", "series": "AA/26P", "number": 1}})  # fmt: skip
    one.add("fee_paid", {"payment_id": "p2", "method": "card", "amount": 30_000,
                         "receipt": {"form": "01BLP", "series": "AA/26P", "number": 2}})  # fmt: skip
    one.add("fee_refunded", {"payment_id": "p1", "refund_id": "r1", "amount": 20_000, "reason": "Thu thừa"})
    one.add("fee_payment_cancelled", {"payment_id": "p2", "reason": "Máy POS trừ nhầm"})
    two = DossierWriter(hub, "00002")
    two.create()
    two.add("fee_paid", {"payment_id": "p3", "method": "vietqr", "amount": 100_000,
                         "receipt": {"form": "01BLP", "series": "AB/26P", "number": 1}})  # fmt: skip


def payments(count: int, amount: int, methods: dict[str, tuple[int, int]], refunds: tuple[int, int],
             cancelled: tuple[int, int]) -> dict[str, Any]:  # fmt: skip
    by_method = {m: {"count": 0, "amount": 0} for m in ("card", "cash", "vietqr")}
    by_method.update({m: {"count": c, "amount": a} for m, (c, a) in methods.items()})
    return {
        "count": count, "amount": amount, "by_method": by_method,
        "refunds": {"count": refunds[0], "amount": refunds[1]},
        "cancelled": {"count": cancelled[0], "amount": cancelled[1]},
        "net_amount": amount - refunds[1] - cancelled[1],
    }  # fmt: skip


EXPECTED_25 = {
    "from": "2026-11-25",
    "to": "2026-11-25",
    "communes": [
        {
            "commune_code": "00001",
            "name": "Phường Phúc Xá",
            "tickets": {"issued": 3, "served": 2, "no_show": 1, "no_show_rate": 0.3333, "mean_waiting_s": 300.0,
                        "mean_service_s": 400.0},
            "ratings": {"count": 4, "satisfied": 3, "satisfied_share": 0.75},
            "payments": payments(2, 80_000, {"cash": (1, 50_000), "card": (1, 30_000)}, (1, 20_000), (1, 30_000)),
        },
        {
            "commune_code": "00002",
            "name": "Phường Hàng Bạc",
            "tickets": {"issued": 1, "served": 0, "no_show": 1, "no_show_rate": 1.0, "mean_waiting_s": 60.0,
                        "mean_service_s": None},
            "ratings": {"count": 1, "satisfied": 0, "satisfied_share": 0.0},
            "payments": payments(1, 100_000, {"vietqr": (1, 100_000)}, (0, 0), (0, 0)),
        },
        {
            "commune_code": "00003",
            "name": "Phường Tràng Tiền",
            "tickets": {"issued": 0, "served": 0, "no_show": 0, "no_show_rate": None, "mean_waiting_s": None,
                        "mean_service_s": None},
            "ratings": {"count": 0, "satisfied": 0, "satisfied_share": None},
            "payments": payments(0, 0, {}, (0, 0), (0, 0)),
        },
    ],
    "total": {
        "commune_code": None,
        "name": "",
        "tickets": {"issued": 4, "served": 2, "no_show": 2, "no_show_rate": 0.5, "mean_waiting_s": 240.0,
                    "mean_service_s": 400.0},
        "ratings": {"count": 5, "satisfied": 3, "satisfied_share": 0.6},
        "payments": payments(3, 180_000, {"cash": (1, 50_000), "card": (1, 30_000), "vietqr": (1, 100_000)},
                             (1, 20_000), (1, 30_000)),
    },
}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    if request.param == "sqlite":
        made = make_hub(tmp_path / "hub")
        fill(made)
        yield made
        made.db.close()
        return
    with pg_database("hub_counter") as url:
        made = make_hub(tmp_path / "hub", url)
        fill(made)
        try:
            yield made
        finally:
            made.db.close()


def test_the_report_is_exact_for_two_communes(hub: Hub) -> None:
    answer = hub.client().get(f"{REPORT}?from=2026-11-25&to=2026-11-25", headers=hub.headers())
    assert answer.status_code == 200, answer.json
    assert answer.json == EXPECTED_25


def test_the_range_picks_the_days(hub: Hub) -> None:
    before = hub.client().get(f"{REPORT}?from=2026-11-24&to=2026-11-24", headers=hub.headers("theodoi")).json
    assert before is not None
    first = before["communes"][0]
    assert first["tickets"] == {"issued": 1, "served": 1, "no_show": 0, "no_show_rate": 0.0,
                                "mean_waiting_s": 1000.0, "mean_service_s": 1000.0}  # fmt: skip
    assert before["total"]["ratings"]["count"] == 0 and before["total"]["payments"]["count"] == 0
    after = hub.client().get(f"{REPORT}?from=2026-11-26&to=2026-11-30", headers=hub.headers()).json
    assert after is not None and after["total"]["ratings"] == {"count": 1, "satisfied": 1, "satisfied_share": 1.0}
    both = hub.client().get(f"{REPORT}?from=2026-11-24&to=2026-11-26", headers=hub.headers()).json
    assert both is not None and both["total"]["tickets"]["issued"] == 5 and both["total"]["ratings"]["count"] == 6
    # Without a range: from the first of the hub's month (November 2026) to its today (the 25th).
    default = hub.client().get(REPORT, headers=hub.headers()).json
    assert default is not None and (default["from"], default["to"]) == ("2026-11-01", "2026-11-25")
    assert default["total"]["tickets"]["issued"] == 5


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("from=2026-11-31&to=2026-12-01", "invalid_date", "from"),
        ("from=20261125&to=2026-11-25", "invalid_date", "from"),
        ("from=2026-11-25&to=hôm-nay", "invalid_date", "to"),
        ("from=2026-11-26&to=2026-11-25", "invalid_range", "from"),
        ("from=2025-01-01&to=2026-11-25", "invalid_range", "from"),
    ],
)
def test_a_bad_range_is_refused_with_its_code(hub: Hub, query: str, code: str, field: str) -> None:
    answer = hub.client().get(f"{REPORT}?{query}", headers=hub.headers())
    assert answer.status_code == 422
    body = answer.json or {}
    assert (body["code"], body["field"]) == (code, field) and body["message"] and body["message_en"]


def test_the_report_needs_a_token(hub: Hub) -> None:
    assert hub.client().get(REPORT).status_code == 401
    assert hub.client().get(REPORT, headers={"Authorization": "Bearer sai"}).status_code == 401


def test_the_dashboard_page_in_both_languages(hub: Hub) -> None:
    client = sign_in(hub)
    page = client.get("/reports/counter?from=2026-11-25&to=2026-11-25&lang=vi").get_data(as_text=True)
    assert "<h1>Báo cáo quầy một cửa</h1>" in page and 'aria-current="page">Báo cáo quầy một cửa' in page
    assert "00001 – Phường Phúc Xá" in page and "Toàn tỉnh" in page
    assert "180.000" in page and "130.000" in page  # paid and net across the province
    assert "75,0 %" in page and "60,0 %" in page and "5 phút" in page  # satisfied shares, mean wait 300 s
    english = client.get("/reports/counter?from=2026-11-25&to=2026-11-25&lang=en").get_data(as_text=True)
    assert "<h1>Counter report</h1>" in english and "180,000" in english and "75.0 %" in english
    bad = client.get("/reports/counter?from=2026-11-26&to=2026-11-25&lang=vi")
    assert bad.status_code == 422 and "Ngày bắt đầu phải trước" in bad.get_data(as_text=True)
    assert hub.client().get("/reports/counter").status_code == 302  # no session: to the sign-in page
