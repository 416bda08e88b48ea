"""Taking a dossier's fees: cash, card on the POS terminal, VietQR transfer; receipts, cancellations, refunds.

A fee payment (table fee_payments) moves through the statuses the API shows:

    cash    ─────────────────────────────▶ approved              received ≥ amount, change given
    vietqr  ─▶ pending ─confirm / bank──▶ approved   ─cancel─▶ cancelled (while pending)
    card    ─▶ pending ─terminal───────▶ approved | declined | cancelled | unknown ─reconcile─▶ …
    approved ─cancel (a leader)────────▶ cancelled           the receipt is void; its number stays used

The card path is edge/payments.py (one card_payments row per fee payment); its states map onto
these: approved → approved, declined → declined, cancelled / not_charged / voided → cancelled
(nothing was charged, or it was given back), pending / unknown → unknown (to reconcile; no new
sale and no cash-up until then). A payment that becomes approved gets the next receipt number of
its (form, series) and the dossier event `fee_paid` in the same IMMEDIATE transaction, so numbers
have neither gaps nor repeats. Refunds are handed back in cash by whoever records them.
"""

from __future__ import annotations

import hmac
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from edge import audit, events, fees, payments, projection
from edge.actions import find_state
from edge.box import Box
from edge.codes import _read_marks as read_marks  # the same high-water file format as dossier codes
from edge.codes import _write_marks as write_marks
from edge.errors import ConflictError, NotFoundError, PermissionDeniedError, TransitionError, ValidationError
from edge.ports import DeviceOpener, NotConfigured
from edge.store.db import write
from edge.users import User, require

# (bank BIN, account, amount, purpose) → VietQR payload; the composition root hands in devices.vietqr's.
MakeVietQR = Callable[[str, str, int, str], str]
METHODS = {
    "cash": ("Tiền mặt", "Cash"),
    "card": ("Thẻ", "Card"),
    "vietqr": ("Chuyển khoản (VietQR)", "Bank transfer (VietQR)"),
}
STATUSES = {
    "pending": ("Chờ thanh toán", "Pending"),
    "approved": ("Đã thanh toán", "Paid"),
    "declined": ("Bị từ chối", "Declined"),
    "cancelled": ("Đã hủy", "Cancelled"),
    "unknown": ("Chưa rõ kết quả — cần đối soát", "Outcome unknown — to reconcile"),
}
CARD_STATES = {
    "approved": "approved", "declined": "declined", "cancelled": "cancelled", "not_charged": "cancelled",
    "voided": "cancelled", "pending": "unknown", "unknown": "unknown",
}  # fmt: skip
OPEN = ("pending", "unknown")
CLOSED_STATUSES = ("denied", "cancelled", "unresolved")  # dossiers that take no more money
_COLUMNS = (
    "id", "dossier_id", "dossier_code", "method", "amount", "received", "change", "status", "receipt_form",
    "receipt_series", "receipt_number", "vietqr_payload", "card_payment_id", "collected_by", "created_at",
    "updated_at", "paid_at", "confirmed_at", "confirmed_by", "cancelled_at", "cancelled_by", "cancel_reason",
    "refunded",
)  # fmt: skip
RECEIPTS_HIGH_WATER_FILE = "receipts.json"
# Held through a card sale (insert, terminal, link): settling card payments waits for no sale half-written.
_CARD = threading.RLock()


def format_receipt(number: int | None) -> str | None:
    """Return a receipt number as printed: 7 digits, 123 → "0000123"."""
    return None if number is None else f"{number:07d}"


def _row(values: Any) -> dict[str, Any]:
    payment = dict(zip(_COLUMNS, values, strict=True))
    payment["status_vi"], payment["status_en"] = STATUSES[payment["status"]]
    payment["method_vi"], payment["method_en"] = METHODS[payment["method"]]
    payment["receipt_no"] = payment["receipt_number"]
    payment["receipt_number"] = format_receipt(payment["receipt_number"])
    return payment


def get_payment(db: sqlite_utils.Database, payment_id: str) -> dict[str, Any]:
    """Return one fee payment with its refunds, or raise NotFoundError."""
    row = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM fee_payments WHERE id = ?", [payment_id]).fetchone()
    if row is None:
        raise NotFoundError(
            f"Không có khoản thu {payment_id}.", f"No fee payment {payment_id}.", code="payment_not_found"
        )
    payment = _row(row)
    keys = ("id", "amount", "reason", "refunded_by", "at")
    refunds = db.execute(
        f"SELECT {', '.join(keys)} FROM fee_refunds WHERE payment_id = ? ORDER BY at, rowid", [payment_id]
    ).fetchall()
    payment["refunds"] = [dict(zip(keys, r, strict=True)) for r in refunds]
    return payment


def list_payments(
    db: sqlite_utils.Database,
    dossier_id: str | None = None,
    day: str | None = None,
    *,
    statuses: tuple[str, ...] = (),
    methods: tuple[str, ...] = (),
    collected_by: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Return fee payments, oldest first: of a dossier, of a day (paid that day, else made that day), …"""
    clauses, params = [], []
    for column, values in (("status", statuses), ("method", methods)):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params += list(values)
    for clause, value in (("dossier_id = ?", dossier_id), ("collected_by = ?", collected_by),
                          ("substr(coalesce(paid_at, created_at), 1, 10) = ?", day)):  # fmt: skip
        if value:
            clauses.append(clause)
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = db.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM fee_payments {where} ORDER BY coalesce(paid_at, created_at), rowid LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [_row(r) for r in rows]


def _check_amount(amount: object, field: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= payments.MAX_AMOUNT:
        raise ValidationError(
            "Số tiền phải là số nguyên đồng từ 1 đến 99.999.999 ₫.",
            "The amount must be whole đồng from 1 to 99,999,999.",
            code="invalid_amount",
            field=field,
        )
    return amount


def _money(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " ₫"


def _check_due(db: sqlite_utils.Database, state: dict[str, Any], amount: int) -> None:
    """Refuse a payment for a closed dossier, or for more than is due less what is still pending."""
    if state["status"] in CLOSED_STATUSES:
        raise TransitionError(
            "Hồ sơ đã kết thúc (từ chối, rút hoặc dừng xử lý); không thu phí, lệ phí.",
            "The dossier was refused, withdrawn or stopped; no fees are taken for it.",
            code="fees_closed",
            status=state["status"],
        )
    held = db.execute(
        "SELECT coalesce(sum(amount), 0) FROM fee_payments WHERE dossier_id = ? AND status IN ('pending', 'unknown')",
        [state["dossier_id"]],
    ).fetchone()[0]
    left = fees.fee_summary(state)["due"] - held
    if amount > left:
        pending = f" (đang chờ {_money(held)})" if held else ""
        raise ValidationError(
            f"Số tiền {_money(amount)} lớn hơn số còn phải nộp: {_money(max(left, 0))}{pending}.",
            f"The amount {amount:,} is more than what is due: {max(left, 0):,} đồng"
            + (f" ({held:,} pending)." if held else "."),
            code="amount_exceeds_due",
            field="amount",
        )


def _received(received: object, amount: int) -> int:
    if (
        isinstance(received, bool)
        or not isinstance(received, int)
        or not amount <= received <= 10 * payments.MAX_AMOUNT
    ):
        raise ValidationError(
            f"Tiền khách đưa phải là số nguyên đồng, ít nhất {_money(amount)}.",
            f"The cash received must be whole đồng, at least {amount:,}.",
            code="invalid_received",
            field="received",
        )
    return received


def _vietqr(box: Box, make_vietqr: MakeVietQR | None, amount: int, code: str) -> str:
    settings = box.settings
    if not (settings.vietqr_bank_bin and settings.vietqr_account) or make_vietqr is None:
        raise ConflictError(
            "Máy chưa được cấu hình tài khoản nhận chuyển khoản VietQR; chọn cách thu khác hoặc báo quản trị.",
            "No VietQR account is set up on this box; use another method or ask the administrator.",
            code="vietqr_not_configured",
        )
    try:
        return make_vietqr(settings.vietqr_bank_bin, settings.vietqr_account, amount, code)
    except Exception as err:  # the builder is the devices layer's: its error says what is wrong with the account
        vi, en = getattr(err, "vi", str(err)), getattr(err, "en", str(err))
        raise ConflictError(
            f"Cấu hình VietQR của máy không dùng được: {vi}", f"The box's VietQR settings cannot be used: {en}",
            code="vietqr_not_configured",
        ) from err  # fmt: skip


def next_receipt_number(db: sqlite_utils.Database, state_dir: Path, form: str, series: str) -> int:
    """Return the next receipt number of a (form, series) (call inside the write transaction that uses it).

    Fenced like dossier codes (edge/codes.py): the high-water file state/receipts.json is written
    before the DB commits; a DB behind it (restored from an older backup) is fenced and audited.
    """
    row = db.execute("SELECT last FROM receipt_sequences WHERE form = ? AND series = ?", [form, series]).fetchone()
    in_db = row[0] if row else 0
    path = state_dir / RECEIPTS_HIGH_WATER_FILE
    marks = read_marks(path)
    key = f"{form}/{series}"
    in_file = marks.get(key, 0)
    if in_file > in_db:
        audit.record(
            db,
            "system",
            "sequence_fenced",
            target=key,
            detail={"db": in_db, "high_water": in_file, "why": "db behind high-water mark (restore?)"},
        )
    number = max(in_db, in_file) + 1
    db.execute(
        "INSERT INTO receipt_sequences (form, series, last) VALUES (?, ?, ?)"
        " ON CONFLICT (form, series) DO UPDATE SET last = excluded.last",
        [form, series, number],
    )
    marks[key] = number
    write_marks(path, marks)
    return number


def raise_receipt_marks(db: sqlite_utils.Database, origin: str, why: str) -> int:
    """Move receipt sequences up to the highest number this box's fee_paid events hold; return how many moved.

    After a restore the feed brings back the box's own events made after the backup; their receipt
    numbers were issued and must not be issued again (call inside a write transaction).
    """
    rows = db.execute(
        "SELECT json_extract(payload, '$.receipt.form'), json_extract(payload, '$.receipt.series'),"
        " max(CAST(json_extract(payload, '$.receipt.number') AS INTEGER)) FROM dossier_events"
        " WHERE kind = 'fee_paid' AND origin = ? GROUP BY 1, 2",
        [origin],
    ).fetchall()
    moved = 0
    for form, series, highest in rows:
        if not (isinstance(form, str) and isinstance(series, str) and isinstance(highest, int)):
            continue
        row = db.execute("SELECT last FROM receipt_sequences WHERE form = ? AND series = ?", [form, series]).fetchone()
        if row is not None and row[0] >= highest:
            continue
        db.execute(
            "INSERT INTO receipt_sequences (form, series, last) VALUES (?, ?, ?)"
            " ON CONFLICT (form, series) DO UPDATE SET last = excluded.last",
            [form, series, highest],
        )
        detail = {"db": row[0] if row else 0, "issued": highest, "why": why}
        audit.record(db, "system", "sequence_fenced", target=f"{form}/{series}", detail=detail)
        moved += 1
    return moved


def _approve(box: Box, payment: dict[str, Any], actor: str, moment: datetime) -> None:
    """Number the receipt and record `fee_paid` (call inside the write transaction that approves it)."""
    db = box.db()
    form = box.settings.receipt_form
    series = box.settings.receipt_series or f"BL{moment:%y}"
    number = next_receipt_number(db, box.settings.state_dir, form, series)
    at = events.iso(moment)
    db.execute(
        "UPDATE fee_payments SET status = 'approved', receipt_form = ?, receipt_series = ?, receipt_number = ?,"
        " paid_at = ?, updated_at = ? WHERE id = ?",
        [form, series, number, at, at, payment["id"]],
    )
    receipt = {"form": form, "series": series, "number": format_receipt(number)}
    payload = {
        "payment_id": payment["id"],
        "method": payment["method"],
        "amount": payment["amount"],
        "receipt": receipt,
    }
    event = events.new_event(
        db, payment["dossier_id"], "fee_paid", payload, actor=actor, origin=box.origin, wall_time=at
    )
    events.record(db, event)
    projection.refold(db, payment["dossier_id"])
    audit.record(db, actor, "fee_paid", target=payment["dossier_code"], detail=payload)


def take_payment(
    box: Box,
    opener: DeviceOpener | None,
    code: str,
    method: str,
    amount: object,
    actor: User,
    now: datetime | None = None,
    received: object = None,
    *,
    make_vietqr: MakeVietQR | None = None,
) -> dict[str, Any]:
    """Take a fee payment for a dossier by cash, card or VietQR; return it (approved, pending, unknown…)."""
    require(actor, "fees.collect")
    if method not in METHODS:
        raise ValidationError(
            "Cách thu phải là tiền mặt (cash), thẻ (card) hoặc chuyển khoản VietQR (vietqr).",
            "The method must be cash, card or vietqr.",
            code="invalid_method",
            field="method",
        )
    value = _check_amount(amount)
    moment = now or box.now()
    change = _received(received, value) - value if method == "cash" else None
    payload = _vietqr(box, make_vietqr, value, code) if method == "vietqr" else None
    if method == "card":
        if opener is None or not opener.url("card_terminal"):
            raise NotConfigured(
                "Máy chưa được cấu hình máy POS; chọn cách thu khác hoặc báo kỹ thuật viên.",
                "No card terminal is set up on this box; use another method or call a technician.",
            )
        with _CARD:
            payments.reconcile_open(box.db(), opener, actor.username, moment)  # frees what was never charged
            _settle_cards(box, actor.username, moment)
            payment = _insert(box, code, method, value, None, change, None, actor, moment)
            return _charge(box, opener, payment, actor, moment)
    return _insert(box, code, method, value, received, change, payload, actor, moment)


def _insert(
    box: Box, code: str, method: str, amount: int, received: object, change: int | None, payload: str | None,
    actor: User, moment: datetime,
) -> dict[str, Any]:  # fmt: skip
    db, payment_id, at = box.db(), str(uuid.uuid4()), events.iso(moment)
    with write(db):
        state = find_state(box, code)
        _check_due(db, state, amount)
        db.execute(
            "INSERT INTO fee_payments (id, dossier_id, dossier_code, method, amount, received, change, status,"
            " vietqr_payload, collected_by, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
            [payment_id, state["dossier_id"], code, method, amount, received, change, payload, actor.username, at, at],
        )
        audit.record(
            db, actor.username, f"fee_payment_{method}", target=code, detail={"id": payment_id, "amount": amount}
        )
        if method == "cash":
            _approve(box, get_payment(db, payment_id), actor.username, moment)
    return get_payment(db, payment_id)


def _charge(box: Box, opener: DeviceOpener, payment: dict[str, Any], actor: User, moment: datetime) -> dict[str, Any]:
    db = box.db()
    try:
        card = payments.pay_by_card(
            db, opener, payment["amount"], actor.username, dossier_id=payment["dossier_id"], now=moment
        )
    except BaseException:
        linked = _link(db, payment)
        if linked is None:  # the sale never started: nothing reached the terminal
            with write(db):
                db.execute("DELETE FROM fee_payments WHERE id = ? AND card_payment_id IS NULL", [payment["id"]])
                audit.record(db, actor.username, "fee_payment_not_started", target=payment["dossier_code"],
                             detail={"id": payment["id"]})  # fmt: skip
        else:
            _apply_card(box, payment["id"], linked, actor.username, moment)
        raise
    with write(db):
        db.execute("UPDATE fee_payments SET card_payment_id = ? WHERE id = ?", [card["id"], payment["id"]])
    return _apply_card(box, payment["id"], card, actor.username, moment)


def _link(db: sqlite_utils.Database, payment: dict[str, Any]) -> dict[str, Any] | None:
    """Find (and keep) the card payment a fee payment started, when the box stopped before linking it."""
    row = db.execute(
        "SELECT id FROM card_payments WHERE dossier_id = ? AND amount = ? AND created_at >= ?"
        " AND id NOT IN (SELECT card_payment_id FROM fee_payments WHERE card_payment_id IS NOT NULL)"
        " ORDER BY created_at, rowid LIMIT 1",
        [payment["dossier_id"], payment["amount"], payment["created_at"]],
    ).fetchone()
    if row is None:
        return None
    with write(db):
        db.execute("UPDATE fee_payments SET card_payment_id = ? WHERE id = ?", [row[0], payment["id"]])
    return payments.get_payment(db, row[0])


def _apply_card(box: Box, payment_id: str, card: dict[str, Any], actor: str, moment: datetime) -> dict[str, Any]:
    """Bring a card fee payment to its card payment's state (approved: receipt and event)."""
    db = box.db()
    status = CARD_STATES[card["state"]]
    with write(db):
        payment = get_payment(db, payment_id)
        if payment["status"] in OPEN and status != payment["status"]:
            if status == "approved":
                _approve(box, payment, actor, moment)
            else:
                db.execute(
                    "UPDATE fee_payments SET status = ?, updated_at = ? WHERE id = ?",
                    [status, events.iso(moment), payment_id],
                )
                audit.record(db, actor, f"fee_payment_{status}", target=payment["dossier_code"],
                             detail={"id": payment_id, "card_state": card["state"]})  # fmt: skip
    return get_payment(db, payment_id)


def _settle_cards(box: Box, actor: str, moment: datetime) -> int:
    db = box.db()
    changed = 0
    for payment in list_payments(db, statuses=OPEN, methods=("card",)):
        card = (
            payments.get_payment(db, payment["card_payment_id"]) if payment["card_payment_id"] else _link(db, payment)
        )
        if card is None:  # left by a box that stopped before the sale began: nothing was charged
            card = {"state": "not_charged"}
        if _apply_card(box, payment["id"], card, actor, moment)["status"] != payment["status"]:
            changed += 1
    return changed


def settle_cards(box: Box, actor: str = "system", now: datetime | None = None) -> int:
    """Carry settled card payments (reconciled elsewhere) over to their fee payments; return how many changed."""
    if not _CARD.acquire(blocking=False):
        return 0  # a sale is under way on this box; it settles its own payment
    try:
        return _settle_cards(box, actor, now or box.now())
    finally:
        _CARD.release()


def reconcile_card(
    box: Box, opener: DeviceOpener, payment_id: str, actor: User, now: datetime | None = None
) -> dict[str, Any]:
    """Ask the terminal about an unknown card fee payment and settle it; return it as it stands."""
    require(actor, "fees.collect")
    db, moment = box.db(), now or box.now()
    payment = get_payment(db, payment_id)
    if payment["method"] == "card" and payment["status"] in OPEN and payment["card_payment_id"]:
        card = payments.reconcile(db, opener, payment["card_payment_id"], actor.username, moment)
        return _apply_card(box, payment_id, card, actor.username, moment)
    settle_cards(box, actor.username, moment)
    return get_payment(db, payment_id)


def _confirm(box: Box, payment_id: str, actor: str, moment: datetime) -> dict[str, Any]:
    db = box.db()
    with write(db):
        payment = get_payment(db, payment_id)
        if payment["method"] != "vietqr" or payment["status"] != "pending":
            raise ConflictError(
                f"Chỉ xác nhận được khoản chuyển khoản VietQR đang chờ (khoản này: {payment['status_vi']}).",
                f"Only a pending VietQR transfer can be confirmed (this one is {payment['status_en']}).",
                code="payment_not_pending",
            )
        at = events.iso(moment)
        db.execute("UPDATE fee_payments SET confirmed_at = ?, confirmed_by = ? WHERE id = ?", [at, actor, payment_id])
        _approve(box, payment, actor, moment)
    return get_payment(db, payment_id)


def confirm_vietqr(box: Box, payment_id: str, actor: User, now: datetime | None = None) -> dict[str, Any]:
    """The officer saw the transfer arrive: a pending VietQR payment becomes approved and gets its receipt."""
    require(actor, "fees.collect")
    return _confirm(box, payment_id, actor.username, now or box.now())


def cancel(
    box: Box,
    payment_id: str,
    reason: object,
    actor: User,
    now: datetime | None = None,
    *,
    opener: DeviceOpener | None = None,
) -> dict[str, Any]:
    """Cancel a pending VietQR payment, or (a leader) an approved one: its receipt is void, a card is voided."""
    text = fees.clean_reason(reason, "hủy khoản thu", "cancelling the payment")
    db, moment = box.db(), now or box.now()
    payment = get_payment(db, payment_id)
    if payment["status"] == "pending" and payment["method"] == "vietqr":
        require(actor, "fees.collect")
    elif payment["status"] == "approved":
        require(actor, "fees.cancel")
        if payment["refunded"]:
            raise ConflictError(
                "Khoản thu đã được hoàn tiền một phần; không hủy được nữa.",
                "Part of this payment was refunded; it can no longer be cancelled.",
                code="payment_refunded",
            )
        if payment["method"] == "card":
            if opener is None:
                raise NotConfigured(
                    "Cần máy POS để hủy giao dịch thẻ.", "The card terminal is needed to void a card payment."
                )
            payments.void(db, opener, payment["card_payment_id"], actor.username, moment)
    else:
        raise ConflictError(
            f"Không hủy được khoản thu đang ở trạng thái “{payment['status_vi']}”.",
            f"A payment whose status is “{payment['status_en']}” cannot be cancelled.",
            code="payment_not_cancellable",
        )
    at = events.iso(moment)
    with write(db):
        db.execute(
            "UPDATE fee_payments SET status = 'cancelled', cancelled_at = ?, cancelled_by = ?, cancel_reason = ?,"
            " updated_at = ? WHERE id = ? AND status = ?",
            [at, actor.username, text, at, payment_id, payment["status"]],
        )
        detail = {"id": payment_id, "reason": text, "receipt": payment["receipt_number"]}
        if payment["status"] == "approved":
            event = events.new_event(
                db, payment["dossier_id"], "fee_payment_cancelled", {"payment_id": payment_id, "reason": text},
                actor=actor.username, origin=box.origin, wall_time=at,
            )  # fmt: skip
            events.record(db, event)
            projection.refold(db, payment["dossier_id"])
        audit.record(db, actor.username, "fee_payment_cancelled", target=payment["dossier_code"], detail=detail)
    return get_payment(db, payment_id)


def refund(
    box: Box, payment_id: str, amount: object, reason: object, actor: User, now: datetime | None = None
) -> dict[str, Any]:
    """Give back part or all of an approved payment (a leader, with a reason); return the payment."""
    require(actor, "fees.refund")
    value = _check_amount(amount)
    text = fees.clean_reason(reason, "hoàn tiền", "the refund")
    db, moment = box.db(), now or box.now()
    at = events.iso(moment)
    with write(db):
        payment = get_payment(db, payment_id)
        if payment["status"] != "approved":
            raise ConflictError(
                f"Chỉ hoàn tiền được khoản đã thanh toán (khoản này: {payment['status_vi']}).",
                f"Only an approved payment can be refunded (this one is {payment['status_en']}).",
                code="payment_not_refundable",
            )
        left = payment["amount"] - payment["refunded"]
        if value > left:
            raise ValidationError(
                f"Số tiền hoàn {_money(value)} lớn hơn số đã thu còn lại của khoản này: {_money(left)}.",
                f"The refund {value:,} is more than what is left of this payment: {left:,} đồng.",
                code="refund_exceeds_payment",
                field="amount",
            )
        refund_id = str(uuid.uuid4())
        db.execute(
            "INSERT INTO fee_refunds (id, payment_id, amount, reason, refunded_by, at) VALUES (?, ?, ?, ?, ?, ?)",
            [refund_id, payment_id, value, text, actor.username, at],
        )
        db.execute(
            "UPDATE fee_payments SET refunded = refunded + ?, updated_at = ? WHERE id = ?", [value, at, payment_id]
        )
        payload = {"payment_id": payment_id, "refund_id": refund_id, "amount": value, "reason": text}
        event = events.new_event(
            db, payment["dossier_id"], "fee_refunded", payload, actor=actor.username, origin=box.origin, wall_time=at
        )
        events.record(db, event)
        projection.refold(db, payment["dossier_id"])
        audit.record(db, actor.username, "fee_refunded", target=payment["dossier_code"], detail=payload)
    return get_payment(db, payment_id)


def bank_notification(box: Box, token: str, body: object, now: datetime | None = None) -> dict[str, Any]:
    """A bank says a transfer arrived: {reference (the payment id) or dossier_code, amount} confirms that payment."""
    expected = box.settings.vietqr_notify_token
    if not expected or not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
        raise PermissionDeniedError(
            "Mã xác thực thông báo ngân hàng không đúng.", "The bank notification token is wrong.", code="forbidden"
        )
    if not isinstance(body, dict):
        raise ValidationError("Nội dung phải là một đối tượng JSON.", "The body must be a JSON object.")
    amount = _check_amount(body.get("amount"))
    reference, code = body.get("reference"), body.get("dossier_code")
    db = box.db()
    if isinstance(reference, str) and reference:
        payment = get_payment(db, reference)
        if payment["amount"] != amount:
            raise ConflictError(
                f"Số tiền chuyển {_money(amount)} khác số tiền của khoản thu {_money(payment['amount'])}.",
                f"The transfer of {amount:,} does not match the payment of {payment['amount']:,} đồng.",
                code="amount_mismatch",
            )
    elif isinstance(code, str) and code:
        state = find_state(box, code)  # 404 for a dossier that does not exist
        waiting = list_payments(db, state["dossier_id"], statuses=("pending",), methods=("vietqr",))
        match = next((p for p in waiting if p["amount"] == amount), None)
        if match is None:
            if waiting:
                raise ConflictError(
                    f"Hồ sơ {code} có khoản chuyển khoản đang chờ nhưng với số tiền khác {_money(amount)}.",
                    f"Dossier {code} has a pending transfer, but not of {amount:,} đồng.",
                    code="amount_mismatch",
                )
            raise NotFoundError(
                f"Hồ sơ {code} không có khoản chuyển khoản VietQR nào đang chờ.",
                f"Dossier {code} has no pending VietQR transfer.",
                code="payment_not_found",
            )
        payment = match
    else:
        raise ValidationError(
            "Cần mã khoản thu (reference) hoặc mã hồ sơ (dossier_code).",
            "Give the payment reference or the dossier code.",
            code="required",
            field="reference",
        )
    return _confirm(box, payment["id"], "bank", now or box.now())
