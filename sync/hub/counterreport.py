"""The counter report across communes: queue tickets, ratings and fee payments over a date range.

Tickets and ratings come from the boxes' office events (sync.hub.office): a ticket counts on the day
it was issued, once it reached a final state (served or no-show; a ticket still waiting is not
known to the hub); a rating on its local date. Satisfied means the top two levels of five or the
top level of three (level 1 is the best, edge.ratings.LEVELS). Fee payments come from the dossier
events (fee_paid, fee_refunded, fee_payment_cancelled) on the local date of their wall time; a
cancelled payment counts with the amount of the payment it cancels. The sums are made by the
database (one grouped query per source), so a year of a province stays one round trip each.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from edge.errors import ValidationError
from sync.hub.bulk import select_in
from sync.hub.db import HubDB

METHODS = ("cash", "card", "vietqr")
MAX_DAYS = 366


@dataclass
class Figures:
    """One commune's (or the province's) counter figures over the range."""

    commune_code: str | None = None
    name: str = ""
    tickets: int = 0
    served: int = 0
    no_show: int = 0
    waiting_total_s: int = 0
    waiting_count: int = 0
    service_total_s: int = 0
    service_count: int = 0
    ratings: int = 0
    satisfied: int = 0
    paid: dict[str, list[int]] = field(default_factory=lambda: {m: [0, 0] for m in METHODS})  # method: [count, amount]
    refunds: list[int] = field(default_factory=lambda: [0, 0])
    cancelled: list[int] = field(default_factory=lambda: [0, 0])

    def add(self, other: Figures) -> None:
        """Add another commune's figures to these (for the province's total)."""
        for name in ("tickets", "served", "no_show", "waiting_total_s", "waiting_count", "service_total_s",
                     "service_count", "ratings", "satisfied"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for method, (count, amount) in other.paid.items():
            held = self.paid.setdefault(method, [0, 0])
            held[0], held[1] = held[0] + count, held[1] + amount
        for mine, theirs in ((self.refunds, other.refunds), (self.cancelled, other.cancelled)):
            mine[0], mine[1] = mine[0] + theirs[0], mine[1] + theirs[1]

    def to_dict(self) -> dict[str, Any]:
        """Return the figures as the API answers them."""
        paid_count = sum(c for c, _ in self.paid.values())
        paid_amount = sum(a for _, a in self.paid.values())
        return {
            "commune_code": self.commune_code,
            "name": self.name,
            "tickets": {
                "issued": self.tickets,
                "served": self.served,
                "no_show": self.no_show,
                "no_show_rate": _share(self.no_show, self.tickets),
                "mean_waiting_s": _mean(self.waiting_total_s, self.waiting_count),
                "mean_service_s": _mean(self.service_total_s, self.service_count),
            },
            "ratings": {
                "count": self.ratings,
                "satisfied": self.satisfied,
                "satisfied_share": _share(self.satisfied, self.ratings),
            },
            "payments": {
                "count": paid_count,
                "amount": paid_amount,
                "by_method": {m: {"count": c, "amount": a} for m, (c, a) in sorted(self.paid.items())},
                "refunds": {"count": self.refunds[0], "amount": self.refunds[1]},
                "cancelled": {"count": self.cancelled[0], "amount": self.cancelled[1]},
                "net_amount": paid_amount - self.refunds[1] - self.cancelled[1],
            },
        }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(total: int, count: int) -> float | None:
    return round(total / count, 1) if count else None


def parse_range(raw_from: str | None, raw_to: str | None, today: date) -> tuple[date, date]:
    """Return the report's first and last day (default: the first of this month to today); check them."""

    def day(raw: str, name: str) -> date:
        try:
            if len(raw) != 10:  # fromisoformat also takes 20261125 and 2026-W48-3: only YYYY-MM-DD here
                raise ValueError(raw)
            return date.fromisoformat(raw)
        except ValueError:
            raise ValidationError(
                f"“{name}” phải là ngày dạng YYYY-MM-DD.", f"“{name}” must be a date YYYY-MM-DD.",
                code="invalid_date", field=name,
            ) from None  # fmt: skip

    last = day(raw_to, "to") if raw_to else today
    first = day(raw_from, "from") if raw_from else last.replace(day=1)
    if first > last:
        raise ValidationError(
            "Ngày bắt đầu phải trước hoặc bằng ngày kết thúc.", "The first day must not be after the last day.",
            code="invalid_range", field="from",
        )  # fmt: skip
    if (last - first).days >= MAX_DAYS:
        raise ValidationError(
            f"Mỗi báo cáo tối đa {MAX_DAYS} ngày.", f"A report covers at most {MAX_DAYS} days.",
            code="invalid_range", field="from",
        )  # fmt: skip
    return first, last


def _json(db: HubDB, name: str, cast: str = "") -> str:
    """Return the SQL for a field of the payload column, on either backend."""
    if db.kind == "postgresql":
        text = f"(payload::jsonb ->> '{name}')"
        return f"{text}::{cast}" if cast else text
    return f"json_extract(payload, '$.{name}')"


def _tickets(db: HubDB, first: str, last: str, out: dict[str, Figures]) -> None:
    state, waiting, service = _json(db, "state"), _json(db, "waiting_s", "bigint"), _json(db, "service_s", "bigint")
    rows = db.query(
        f"SELECT commune_code, count(*), sum(CASE WHEN {state} = 'done' THEN 1 ELSE 0 END),"
        f" sum(CASE WHEN {state} = 'no_show' THEN 1 ELSE 0 END), coalesce(sum({waiting}), 0), count({waiting}),"
        f" coalesce(sum({service}), 0), count({service})"
        " FROM office_events WHERE kind = 'ticket_closed' AND day >= ? AND day <= ? GROUP BY commune_code",
        [first, last],
    )
    for commune, tickets, served, no_show, waiting_total, waiting_n, service_total, service_n in rows:
        f = out[commune]
        f.tickets, f.served, f.no_show = int(tickets), int(served), int(no_show)
        f.waiting_total_s, f.waiting_count = int(waiting_total), int(waiting_n)
        f.service_total_s, f.service_count = int(service_total), int(service_n)


def _ratings(db: HubDB, first: str, last: str, out: dict[str, Figures]) -> None:
    level, scale = _json(db, "level", "int"), _json(db, "scale", "int")
    rows = db.query(
        f"SELECT commune_code, count(*),"
        f" sum(CASE WHEN ({scale} = 5 AND {level} <= 2) OR ({scale} = 3 AND {level} = 1) THEN 1 ELSE 0 END)"
        " FROM office_events WHERE kind = 'rating' AND day >= ? AND day <= ? GROUP BY commune_code",
        [first, last],
    )
    for commune, count, satisfied in rows:
        out[commune].ratings, out[commune].satisfied = int(count), int(satisfied)


def _fees(db: HubDB, first: str, last: str, out: dict[str, Figures]) -> None:
    # Wall times are local (+07:00) ISO text: the day's rows are those from "first" to before the day after "last".
    end = (date.fromisoformat(last) + timedelta(days=1)).isoformat()
    amount, method = _json(db, "amount", "bigint"), _json(db, "method")
    for commune, kind, how, count, total in db.query(
        f"SELECT commune_code, kind, CASE WHEN kind = 'fee_paid' THEN {method} END, count(*),"
        f" coalesce(sum({amount}), 0)"
        " FROM events WHERE kind IN ('fee_paid', 'fee_refunded') AND wall_time >= ? AND wall_time < ?"
        " GROUP BY commune_code, kind, 3",
        [first, end],
    ):
        f = out[commune]
        held = f.paid.setdefault(str(how), [0, 0]) if kind == "fee_paid" else f.refunds
        held[0], held[1] = held[0] + int(count), held[1] + int(total)
    cancelled = db.query(
        "SELECT commune_code, dossier_id, payload FROM events"
        " WHERE kind = 'fee_payment_cancelled' AND wall_time >= ? AND wall_time < ?",
        [first, end],
    )
    if not cancelled:
        return
    amounts: dict[tuple[str, Any], int] = {}
    for dossier_id, payload in select_in(
        db, "SELECT dossier_id, payload FROM events WHERE kind = 'fee_paid' AND dossier_id",
        sorted({row[1] for row in cancelled}),
    ):  # fmt: skip
        paid = json.loads(payload)
        amounts[(dossier_id, paid.get("payment_id"))] = int(paid.get("amount") or 0)
    for commune, dossier_id, payload in cancelled:
        payment_id = json.loads(payload).get("payment_id")
        f = out[commune]
        f.cancelled[0] += 1
        f.cancelled[1] += amounts.get((dossier_id, payment_id), 0)


def counter_report(db: HubDB, first: date, last: date) -> dict[str, Any]:
    """Return every commune's counter figures from `first` to `last` (both included) and the province's total."""
    out: dict[str, Figures] = defaultdict(Figures)
    for code, name in db.query("SELECT commune_code, name FROM communes ORDER BY commune_code"):
        out[code] = Figures(code, name or "")
    since, until = first.isoformat(), last.isoformat()
    _tickets(db, since, until, out)
    _ratings(db, since, until, out)
    _fees(db, since, until, out)
    total = Figures()
    rows = []
    for code in sorted(out):
        figures = out[code]
        figures.commune_code = code
        total.add(figures)
        rows.append(figures.to_dict())
    return {"from": since, "to": until, "communes": rows, "total": total.to_dict()}
