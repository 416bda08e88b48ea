"""Card payments on the POS terminal: never charged twice, never lost (DOMAIN.md "Fees and payment").

The payment is written as `pending` (and fsynced) before the terminal is asked. Then:

    pending ──sale──▶ approved | declined | cancelled      the terminal answered
       │      └────▶ not_charged                          the request never reached it
       └──────────▶ unknown                               it was asked, the answer was lost
    unknown / pending ──last-transaction query──▶ approved | declined | cancelled | not_charged
    approved ──void──▶ voided

A `pending` row found later (the box stopped mid-sale) is treated like `unknown`. Before any new
sale, every `pending`/`unknown` payment is reconciled with the terminal's last-transaction query;
while one cannot be reconciled, no new sale is started — that is what rules out a double charge.
Each payment carries a short reference the terminal keeps with the transaction, so the
last-transaction answer tells whether it is this payment.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from datetime import datetime
from typing import Any

import sqlite_utils

from edge import audit, devicehealth
from edge.calendar import TZ
from edge.errors import ConflictError, NotFoundError, ValidationError
from edge.events import iso
from edge.ports import CardResult, DeviceFailure, DeviceOpener, NotConfigured, NotDelivered
from edge.store.db import write

MAX_AMOUNT = 99_999_999  # đồng: the terminal's amount field has 8 digits, VND has no minor units
STATES = {
    "pending": ("Đang chờ máy POS", "Waiting for the terminal"),
    "approved": ("Đã thanh toán", "Approved"),
    "declined": ("Bị từ chối", "Declined"),
    "cancelled": ("Đã hủy trên máy POS", "Cancelled on the terminal"),
    "unknown": ("Chưa rõ kết quả — cần đối soát", "Outcome unknown — to reconcile"),
    "not_charged": ("Chưa trừ tiền", "Not charged"),
    "voided": ("Đã hủy giao dịch", "Voided"),
}
OPEN = ("pending", "unknown")
_COLUMNS = (
    "id", "reference", "dossier_id", "amount", "state", "terminal_url", "authorization", "card", "message_vi",
    "message_en", "created_by", "created_at", "updated_at", "reconciled_at",
)  # fmt: skip
# One sale at a time on the box's terminal: a second caller must not query it mid-transaction.
_TERMINAL = threading.Lock()


def _now(now: datetime | None) -> str:
    return iso(now or datetime.now(TZ))


def _row(values: Any) -> dict[str, Any]:
    payment = dict(zip(_COLUMNS, values, strict=True))
    payment["state_vi"], payment["state_en"] = STATES[payment["state"]]
    return payment


def get_payment(db: sqlite_utils.Database, payment_id: str) -> dict[str, Any]:
    """Return one card payment, or raise NotFoundError."""
    row = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM card_payments WHERE id = ?", [payment_id]).fetchone()
    if row is None:
        raise NotFoundError(
            f"Không có giao dịch thẻ {payment_id}.", f"No card payment {payment_id}.", code="payment_not_found"
        )
    return _row(row)


def list_payments(
    db: sqlite_utils.Database, limit: int = 50, states: tuple[str, ...] = (), dossier_id: str | None = None
) -> list[dict[str, Any]]:
    """Return the newest card payments first (only those in `states`, of one dossier, when given)."""
    clauses, params = [], []
    if states:
        clauses.append(f"state IN ({', '.join('?' * len(states))})")
        params += list(states)
    if dossier_id:
        clauses.append("dossier_id = ?")
        params.append(dossier_id)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = db.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM card_payments {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [_row(r) for r in rows]


def _set(
    db: sqlite_utils.Database,
    payment: dict[str, Any],
    state: str,
    now: datetime | None,
    actor: str,
    result: CardResult | None = None,
    error: DeviceFailure | None = None,
    reconciled: bool = False,
) -> dict[str, Any]:
    moment = _now(now)
    vi = result.message_vi if result else error.vi if error else None
    en = result.message_en if result else error.en if error else None
    with write(db):
        db.execute(
            "UPDATE card_payments SET state = ?, authorization = coalesce(?, authorization), card = coalesce(?, card),"
            " message_vi = ?, message_en = ?, updated_at = ?, reconciled_at = coalesce(?, reconciled_at) WHERE id = ?",
            [
                state,
                result.authorization if result else None,
                result.card if result else None,
                vi,
                en,
                moment,
                moment if reconciled else None,
                payment["id"],
            ],
        )
        audit.record(
            db,
            actor,
            f"card_payment_{state}",
            target=payment["id"],
            detail={"amount": payment["amount"], "reference": payment["reference"], "from": payment["state"]},
        )
    return get_payment(db, payment["id"])


def _check_amount(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise ValidationError(
            f"Số tiền phải là số nguyên đồng từ 1 đến {MAX_AMOUNT:,}".replace(",", ".") + " đ.",
            f"The amount must be whole đồng from 1 to {MAX_AMOUNT:,}.",
            code="invalid_amount",
            field="amount",
        )
    return amount


def reconcile(
    db: sqlite_utils.Database, opener: DeviceOpener, payment_id: str, actor: str = "system", now: datetime | None = None
) -> dict[str, Any]:
    """Settle a pending/unknown payment with the terminal's last transaction; return it as it stands."""
    payment = get_payment(db, payment_id)
    if payment["state"] not in OPEN:
        return payment
    url = opener.url("card_terminal")
    try:
        terminal = opener.terminal()
        try:
            last = terminal.last_transaction()
        finally:
            terminal.close()
    except DeviceFailure as err:
        devicehealth.record_error(db, "card_terminal", url, err, at=_now(now))
        return payment if payment["state"] == "unknown" else _set(db, payment, "unknown", now, actor, error=err)
    devicehealth.record_ok(db, "card_terminal", url, detail="last-transaction query", at=_now(now))
    if last is not None and last.reference == payment["reference"]:
        if last.amount != payment["amount"]:
            raise ConflictError(
                f"Máy POS ghi giao dịch {payment['reference']} với số tiền {last.amount} đ, khác {payment['amount']} đ"
                " trên máy; cần kiểm tra thủ công.",
                f"The terminal holds transaction {payment['reference']} for {last.amount} đồng, not"
                f" {payment['amount']}; check it by hand.",
                code="payment_amount_mismatch",
            )
        return _set(db, payment, "voided" if last.voided else last.outcome, now, actor, result=last, reconciled=True)
    # The terminal's last transaction is another one: this payment never reached it.
    return _set(db, payment, "not_charged", now, actor, reconciled=True)


def reconcile_open(
    db: sqlite_utils.Database, opener: DeviceOpener, actor: str = "system", now: datetime | None = None
) -> list[dict[str, Any]]:
    """Reconcile every pending/unknown payment, oldest first; return those still unknown."""
    left = []
    for payment in reversed(list_payments(db, limit=1000, states=OPEN)):
        settled = reconcile(db, opener, payment["id"], actor, now)
        if settled["state"] in OPEN:
            left.append(settled)
    return left


def pay_by_card(
    db: sqlite_utils.Database,
    opener: DeviceOpener,
    amount: int,
    actor: str,
    *,
    dossier_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Charge an amount on the terminal; return the payment (approved, declined, cancelled, unknown…)."""
    amount = _check_amount(amount)
    if not opener.url("card_terminal"):
        raise NotConfigured(
            "Máy chưa được cấu hình máy POS; chọn cách thu khác hoặc báo kỹ thuật viên.",
            "No card terminal is set up on this box; use another method or call a technician.",
        )
    if not _TERMINAL.acquire(blocking=False):
        raise ConflictError(
            "Máy POS đang thực hiện một giao dịch khác; chờ giao dịch đó xong.",
            "The terminal is busy with another transaction; wait for it to finish.",
            code="terminal_busy",
        )
    try:
        left = reconcile_open(db, opener, actor, now)
        if left:
            raise ConflictError(
                f"Còn {len(left)} giao dịch thẻ chưa rõ kết quả (mã {left[0]['reference']}); chưa thể thu tiếp."
                " Kiểm tra máy POS rồi bấm “Đối soát”.",
                f"{len(left)} card payment(s) have an unknown outcome (reference {left[0]['reference']}); no new"
                " sale until they are reconciled. Check the terminal, then press “Reconcile”.",
                code="payment_unreconciled",
            )
        url = opener.url("card_terminal")
        payment_id, reference, moment = str(uuid.uuid4()), secrets.token_hex(5).upper(), _now(now)
        with write(db):  # written (and on disk) before the terminal is asked
            db.execute(
                "INSERT INTO card_payments (id, reference, dossier_id, amount, state, terminal_url, created_by,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
                [payment_id, reference, dossier_id, amount, url, actor, moment, moment],
            )
            audit.record(db, actor, "card_payment_pending", target=payment_id, detail={"amount": amount})
        payment = get_payment(db, payment_id)
        try:
            terminal = opener.terminal()
            try:
                result = terminal.sale(amount, reference)
            finally:
                terminal.close()
        except (NotDelivered, NotConfigured) as err:  # the request never left the box
            devicehealth.record_error(db, "card_terminal", url, err, at=_now(now))
            return _set(db, payment, "not_charged", now, actor, error=err)
        except DeviceFailure as err:  # OutcomeUnknown and anything else once the request may have gone
            devicehealth.record_error(db, "card_terminal", url, err, at=_now(now))
            _set(db, payment, "unknown", now, actor, error=err)
            return reconcile(db, opener, payment_id, actor, now)
        devicehealth.record_ok(db, "card_terminal", url, detail=f"sale {result.outcome}", at=_now(now))
        return _set(db, payment, result.outcome, now, actor, result=result)
    finally:
        _TERMINAL.release()


def settle_by_hand(
    db: sqlite_utils.Database,
    payment_id: str,
    outcome: str,
    actor: str,
    note: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Settle a pending/unknown payment from the terminal's own journal, when the terminal cannot be asked.

    Real Concert terminals have no last-transaction query: a leader reads the terminal's journal
    (or the bank's statement) and records what it says — charged or not — with a note; audited.
    """
    if outcome not in ("approved", "not_charged"):
        raise ValidationError(
            "Kết quả đối soát phải là “đã thanh toán” hoặc “chưa trừ tiền”.",
            "The outcome must be “approved” or “not charged”.",
            code="invalid_outcome",
            field="outcome",
        )
    text = " ".join(str(note or "").split())
    if not 5 <= len(text) <= 500:
        raise ValidationError(
            "Ghi rõ căn cứ đối soát (5–500 ký tự), ví dụ “nhật ký máy POS lúc 10:42, mã chuẩn chi 123456”.",
            "Say what the settlement rests on (5–500 characters), e.g. “terminal journal at 10:42, auth 123456”.",
            code="invalid_note",
            field="note",
        )
    payment = get_payment(db, payment_id)
    if payment["state"] not in OPEN:
        raise ConflictError(
            f"Giao dịch này đã có kết quả ({STATES[payment['state']][0]}).",
            f"This payment already has an outcome ({STATES[payment['state']][1]}).",
            code="payment_settled",
        )
    moment = _now(now)
    with write(db):
        db.execute(
            "UPDATE card_payments SET state = ?, message_vi = ?, message_en = ?, updated_at = ?, reconciled_at = ?"
            " WHERE id = ? AND state IN ('pending', 'unknown')",
            [outcome, f"Đối soát thủ công: {text}", f"Settled by hand: {text}", moment, moment, payment_id],
        )
        audit.record(
            db, actor, f"card_payment_{outcome}", target=payment_id,
            detail={"amount": payment["amount"], "reference": payment["reference"], "from": payment["state"],
                    "by_hand": True, "note": text},
        )  # fmt: skip
    return get_payment(db, payment_id)


def void(
    db: sqlite_utils.Database, opener: DeviceOpener, payment_id: str, actor: str, now: datetime | None = None
) -> dict[str, Any]:
    """Cancel an approved card payment on the terminal; return it (voided when the terminal agrees)."""
    payment = get_payment(db, payment_id)
    if payment["state"] != "approved":
        raise ConflictError(
            f"Chỉ hủy được giao dịch đã thanh toán (giao dịch này: {STATES[payment['state']][0]}).",
            f"Only an approved payment can be voided (this one is {STATES[payment['state']][1]}).",
            code="payment_not_voidable",
        )
    url = opener.url("card_terminal")
    with _TERMINAL:
        try:
            terminal = opener.terminal()
            try:
                result = terminal.void(payment["reference"], payment["amount"])
            finally:
                terminal.close()
        except DeviceFailure as err:
            devicehealth.record_error(db, "card_terminal", url, err, at=_now(now))
            raise
    devicehealth.record_ok(db, "card_terminal", url, detail=f"void {result.outcome}", at=_now(now))
    if result.outcome != "approved":
        raise ConflictError(
            f"Máy POS không hủy giao dịch: {result.message_vi or STATES[result.outcome][0]}.",
            f"The terminal did not void the payment: {result.message_en or result.outcome}.",
            code="void_refused",
        )
    return _set(db, payment, "voided", now, actor, result=result)
