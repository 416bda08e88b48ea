"""End-of-day cash-up (kết sổ thu ngày): what each officer collected, the cash expected in each drawer, the counts.

For a day D: a payment counts on the day it was approved (paid_at), unless it was cancelled the same
day; a payment cancelled on a later day still counts on D, and its cancellation is money out on that
later day. Refunds are handed back in cash by whoever records them. Expected cash in an officer's
drawer = cash they collected − refunds they paid out − cash payments of earlier days they cancelled.
While a card payment of D is pending or unknown the day cannot be closed (`cashup_blocked`): the
terminal may have charged it; reconcile it first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlite_utils

from edge import audit, cashier, payments
from edge.errors import ConflictError, ValidationError
from edge.events import iso
from edge.exports import Column, _to_csv, _to_xlsx
from edge.store.db import write
from edge.text import clean_free_text
from edge.users import User, require

METHODS = tuple(cashier.METHODS)


def _day(day: object) -> str:
    try:
        return date.fromisoformat(str(day)).isoformat()
    except ValueError as err:
        raise ValidationError(
            f"Ngày “{day}” không hợp lệ (dạng 2026-11-25).", f"The day “{day}” is invalid (form 2026-11-25).",
            code="invalid_day", field="day",
        ) from err  # fmt: skip


def _officer(totals: dict[str, dict[str, int]], name: str) -> dict[str, int]:
    return totals.setdefault(name, {"cash": 0, "card": 0, "vietqr": 0, "total": 0, "refunds": 0, "cash_out": 0})


def day_summary(db: sqlite_utils.Database, day: object) -> dict[str, Any]:
    """Return the day's takings by method and officer, its payments, refunds, cancellations and open card payments."""
    d = _day(day)
    paid = [
        p
        for p in cashier.list_payments(db, day=d, statuses=("approved", "cancelled"))
        if p["paid_at"] and p["paid_at"][:10] == d and not (p["cancelled_at"] and p["cancelled_at"][:10] == d)
    ]
    cancelled = [
        _payment(db, r[0])
        for r in db.execute(
            "SELECT id FROM fee_payments WHERE status = 'cancelled' AND substr(cancelled_at, 1, 10) = ?"
            " ORDER BY cancelled_at, rowid",
            [d],
        ).fetchall()
    ]
    keys = ("id", "payment_id", "amount", "reason", "refunded_by", "at")
    refunds = [
        dict(zip(keys, r, strict=True))
        for r in db.execute(
            f"SELECT {', '.join(keys)} FROM fee_refunds WHERE substr(at, 1, 10) = ? ORDER BY at, rowid", [d]
        ).fetchall()
    ]
    for item in refunds:
        payment = _payment(db, item["payment_id"])
        item.update(dossier_code=payment["dossier_code"], method=payment["method"])
    by_method = dict.fromkeys(METHODS, 0)
    officers: dict[str, dict[str, int]] = {}
    for p in paid:
        by_method[p["method"]] += p["amount"]
        mine = _officer(officers, p["collected_by"])
        mine[p["method"]] += p["amount"]
        mine["total"] += p["amount"]
    for item in refunds:
        _officer(officers, item["refunded_by"])["refunds"] += item["amount"]
    for p in cancelled:
        if p["method"] == "cash" and p["paid_at"] and p["paid_at"][:10] < d:
            _officer(officers, p["cancelled_by"])["cash_out"] += p["amount"]
    open_fee = [
        p for p in cashier.list_payments(db, statuses=cashier.OPEN, methods=("card",)) if p["created_at"][:10] == d
    ]
    open_card = [
        c for c in payments.list_payments(db, 1000, states=payments.OPEN) if c["created_at"][:10] == d
    ]  # a sale from the counter page, outside the fee payments, blocks too
    pending_vietqr = [
        p for p in cashier.list_payments(db, statuses=("pending",), methods=("vietqr",)) if p["created_at"][:10] == d
    ]
    refunded = sum(item["amount"] for item in refunds)
    return {
        "day": d,
        "by_method": by_method,
        "total": sum(by_method.values()),
        "refunds_total": refunded,
        "net": sum(by_method.values()) - refunded,
        "by_officer": [
            {"officer": name, **t, "expected_cash": t["cash"] - t["refunds"] - t["cash_out"]}
            for name, t in sorted(officers.items())
        ],
        "payments": paid,
        "refunds": refunds,
        "cancellations": cancelled,
        "open_card_payments": open_fee,
        "unreconciled_card_payments": open_card,
        "pending_vietqr": pending_vietqr,
        "blocked": bool(open_fee or open_card),
        "closed": get_cashup(db, d),
    }


def _payment(db: sqlite_utils.Database, payment_id: str) -> dict[str, Any]:
    return cashier.get_payment(db, payment_id)


def get_cashup(db: sqlite_utils.Database, day: object) -> dict[str, Any] | None:
    """Return the closed cash-up of a day, or None while it is open."""
    row = db.execute(
        "SELECT day, summary, counts, discrepancy, note, closed_by, closed_at FROM cashups WHERE day = ?", [_day(day)]
    ).fetchone()
    if row is None:
        return None
    return {
        "day": row[0],
        "summary": json.loads(row[1]),
        "counts": json.loads(row[2]),
        "discrepancy": bool(row[3]),
        "note": row[4],
        "closed_by": row[5],
        "closed_at": row[6],
    }


def _counts(counted_cash: object) -> dict[str, int]:
    if not isinstance(counted_cash, dict) or not all(
        isinstance(k, str) and not isinstance(v, bool) and isinstance(v, int) and 0 <= v <= 10**12
        for k, v in counted_cash.items()
    ):
        raise ValidationError(
            "Số tiền mặt đếm được của mỗi cán bộ phải là số nguyên đồng, không âm.",
            "The cash counted for each officer must be whole đồng, not negative.",
            code="invalid_counts",
            field="counted_cash",
        )
    return dict(counted_cash)


def close_day(
    db: sqlite_utils.Database,
    day: object,
    counted_cash: object,
    note: object,
    actor: User,
    now: datetime,
) -> dict[str, Any]:
    """Close a day: store expected against counted cash per officer, differences flagged; return the cash-up."""
    require(actor, "cashup.close")
    d, counts = _day(day), _counts(counted_cash)
    text = clean_free_text(note, "note", max_len=1000, required=False)
    if d > now.date().isoformat():
        raise ValidationError(
            "Không kết sổ một ngày chưa tới.", "A day that has not come cannot be closed.", code="invalid_day",
            field="day",
        )  # fmt: skip
    with write(db):
        if get_cashup(db, d) is not None:
            raise ConflictError(f"Ngày {d} đã kết sổ.", f"The day {d} is already closed.", code="cashup_closed")
        summary = day_summary(db, d)
        if summary["blocked"]:
            refs = ", ".join(c["reference"] for c in summary["unreconciled_card_payments"]) or "—"
            raise ConflictError(
                f"Còn giao dịch thẻ chưa rõ kết quả (mã {refs}); đối soát với máy POS rồi mới kết sổ.",
                f"A card payment's outcome is unknown (reference {refs}); reconcile it with the terminal first.",
                code="cashup_blocked",
            )
        expected = {o["officer"]: o["expected_cash"] for o in summary["by_officer"]}
        missing = sorted(name for name, amount in expected.items() if amount and name not in counts)
        if missing:
            raise ValidationError(
                f"Chưa nhập tiền mặt đếm được của: {', '.join(missing)}.",
                f"Enter the cash counted for: {', '.join(missing)}.",
                code="counts_missing",
                field="counted_cash",
            )
        lines = [
            {"officer": name, "expected": expected.get(name, 0), "counted": counts.get(name, 0),
             "difference": counts.get(name, 0) - expected.get(name, 0)}
            for name in sorted(set(expected) | set(counts))
        ]  # fmt: skip
        for line in lines:
            line["flagged"] = line["difference"] != 0
        flagged = any(line["flagged"] for line in lines)
        stored = {k: v for k, v in summary.items() if k != "closed"}
        db.execute(
            "INSERT INTO cashups (day, summary, counts, discrepancy, note, closed_by, closed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [d, json.dumps(stored, ensure_ascii=False), json.dumps(lines, ensure_ascii=False), int(flagged), text,
             actor.username, iso(now)],
        )  # fmt: skip
        audit.record(db, actor.username, "cashup_closed", target=d, detail={"counts": lines, "total": summary["total"]})
    found = get_cashup(db, d)
    assert found is not None
    return found


@dataclass(frozen=True)
class CashupLine:
    """One line of the exported cash-up: a payment, a refund, a cancellation or a total."""

    kind: str
    at: datetime | None
    dossier_code: str
    receipt: str
    method: str
    officer: str
    amount: int
    note: str = ""
    is_total: bool = False


CASHUP_COLUMNS: list[Column] = [
    Column("Loại", 12, "text", lambda x: x.kind),
    Column("Thời gian", 17, "moment", lambda x: x.at),
    Column("Mã hồ sơ", 26, "text", lambda x: x.dossier_code),
    Column("Biên lai (ký hiệu – số)", 20, "text", lambda x: x.receipt),
    Column("Hình thức", 20, "text", lambda x: x.method),
    Column("Người thu", 16, "text", lambda x: x.officer),
    Column("Số tiền (đồng)", 14, "int", lambda x: x.amount),
    Column("Ghi chú", 30, "text", lambda x: x.note, wrap=True),
]


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def cashup_rows(summary: dict[str, Any]) -> list[CashupLine]:
    """Return the day's payments, refunds (negative), cancellations and totals as export lines."""
    lines = []
    for p in summary["payments"]:
        receipt = f"{p['receipt_series']} – {p['receipt_number']}" if p["receipt_number"] else ""
        lines.append(
            CashupLine("Thu", _moment(p["paid_at"]), p["dossier_code"], receipt, p["method_vi"], p["collected_by"],
                       p["amount"])
        )  # fmt: skip
    for r in summary["refunds"]:
        method = cashier.METHODS[r["method"]][0]
        lines.append(
            CashupLine("Hoàn tiền", _moment(r["at"]), r["dossier_code"], "", method, r["refunded_by"], -r["amount"],
                       r["reason"])
        )  # fmt: skip
    for p in summary["cancellations"]:
        receipt = f"{p['receipt_series']} – {p['receipt_number']}" if p["receipt_number"] else ""
        lines.append(
            CashupLine("Hủy", _moment(p["cancelled_at"]), p["dossier_code"], receipt, p["method_vi"],
                       p["cancelled_by"] or "", 0, p["cancel_reason"] or "")
        )  # fmt: skip
    for method, amount in summary["by_method"].items():
        lines.append(CashupLine("Tổng", None, "", "", cashier.METHODS[method][0], "", amount, is_total=True))
    lines.append(CashupLine("Tổng", None, "", "", "Hoàn tiền", "", -summary["refunds_total"], is_total=True))
    lines.append(CashupLine("Tổng", None, "", "", "Thực thu", "", summary["net"], is_total=True))
    return lines


def cashup_csv(summary: dict[str, Any]) -> bytes:
    """Return the day's cash-up as CSV (UTF-8 with a BOM, for Excel)."""
    return _to_csv(CASHUP_COLUMNS, cashup_rows(summary))


def cashup_xlsx(summary: dict[str, Any], title: str) -> bytes:
    """Return the day's cash-up as an Excel workbook, totals in bold."""
    return _to_xlsx(CASHUP_COLUMNS, cashup_rows(summary), title)
