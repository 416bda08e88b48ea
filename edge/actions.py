"""Moving a dossier through its lifecycle: one command per action, each one event."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from edge import audit, events, fees, projection
from edge.box import Box
from edge.dates import parse_datetime
from edge.deadline import extend_for_pause
from edge.dossier_fields import RETURN_METHODS, choice, parse_documents
from edge.errors import NotFoundError, TransitionError, ValidationError
from edge.intake import due_for
from edge.lifecycle import ACTIONS, STATUSES, TRANSITIONS
from edge.store.db import write
from edge.text import clean_free_text
from edge.users import User, get_user, require

# Vietnamese and English names of the actions, for messages.
ACTION_LABELS: dict[str, tuple[str, str]] = {
    "receive": ("tiếp nhận", "receive"),
    "refuse": ("từ chối tiếp nhận", "refuse"),
    "transfer": ("chuyển xử lý", "transfer"),
    "request-supplement": ("yêu cầu bổ sung", "request a supplement for"),
    "supplement-received": ("ghi nhận đã bổ sung", "record the supplement for"),
    "request-payment": ("yêu cầu thực hiện nghĩa vụ tài chính", "request payment for"),
    "withdraw": ("rút", "withdraw"),
    "stop": ("dừng xử lý", "stop"),
    "approve": ("ghi nhận đã có kết quả", "mark the result ready for"),
    "return-result": ("trả kết quả", "return the result of"),
    "reschedule": ("xin lỗi và hẹn lại", "reschedule"),
    "resolve-conflict": ("xử lý xung đột", "resolve the conflict of"),
}
Body = dict[str, Any]
Builder = Callable[[Box, dict[str, Any], Body, datetime], dict[str, Any]]


def _reason(body: Body) -> str:
    return clean_free_text(body.get("reason"), "reason", max_len=2000)


def _reasoned(box: Box, state: dict[str, Any], body: Body, now: datetime) -> dict[str, Any]:
    return {"reason": _reason(body)}


def _receive(box: Box, state: dict[str, Any], body: Body, now: datetime) -> dict[str, Any]:
    return {"received_at": events.iso(now), "due_at": events.iso(due_for(box, state["procedure"], now))}


def _transfer(box: Box, state: dict[str, Any], body: Body, now: datetime) -> dict[str, Any]:
    assignee = body.get("assignee")
    if not isinstance(assignee, str) or not assignee:
        raise ValidationError(
            "Chưa chọn người xử lý (assignee).", "Choose the assignee.", code="required", field="assignee"
        )
    try:
        user = get_user(box.db(), assignee)
    except NotFoundError as err:
        raise ValidationError(err.vi, err.en, code="unknown_assignee", field="assignee") from err
    if user.role not in ("officer", "leader"):
        raise ValidationError(
            f"“{assignee}” không phải cán bộ xử lý hồ sơ.",
            f"“{assignee}” is not an officer who handles dossiers.",
            code="invalid_assignee",
            field="assignee",
        )
    payload: dict[str, Any] = {"assignee": assignee}
    if body.get("step_due_at") not in (None, ""):
        step_due = parse_datetime(body["step_due_at"], "step_due_at")
        if step_due <= now:
            raise ValidationError(
                "Hạn xử lý của bước phải sau thời điểm hiện tại.",
                "The step deadline must be in the future.",
                code="step_due_in_past",
                field="step_due_at",
            )
        payload["step_due_at"] = events.iso(step_due)
    if body.get("note") is not None:
        payload["note"] = clean_free_text(body["note"], "note", required=False)
    return payload


def _request_supplement(box: Box, state: dict[str, Any], body: Body, now: datetime) -> dict[str, Any]:
    missing = parse_documents(body.get("missing_documents"), "missing_documents")
    return {"reason": _reason(body), "missing_documents": missing}


def _supplement_received(box: Box, state: dict[str, Any], body: Body, now: datetime) -> dict[str, Any]:
    requested = datetime.fromisoformat(state["supplement"]["requested_at"])
    due_at = state["due_at"]
    if not due_at:
        return {}
    moved = extend_for_pause(box.calendar(), datetime.fromisoformat(due_at), requested, now)
    return {"due_at": events.iso(moved)}


def _request_payment(box: Box, state: dict[str, Any], body: Body, now: datetime) -> dict[str, Any]:
    amount = body.get("amount")
    if amount is None:
        amount = sum(int(f["amount"]) for f in state["procedure"].get("fees", []))
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValidationError(
            "Số tiền phải là số nguyên đồng, không âm.",
            "The amount must be a non-negative whole number of đồng.",
            code="invalid_amount",
            field="amount",
        )
    return {"amount": amount}


def _approve(box: Box, state: dict[str, Any], body: Body, now: datetime) -> dict[str, Any]:
    note = body.get("note")
    return {"note": clean_free_text(note, "note", required=False)} if note is not None else {}


def _return_result(box: Box, state: dict[str, Any], body: Body, now: datetime) -> dict[str, Any]:
    if box.settings.fees_before_result:
        fees.check_paid(state)
    return {"method": choice(body.get("method"), RETURN_METHODS, "method", default=state["return_method"])}


def _reschedule(box: Box, state: dict[str, Any], body: Body, now: datetime) -> dict[str, Any]:
    reason = _reason(body)
    due_at = datetime.fromisoformat(state["due_at"]) if state["due_at"] else None
    if due_at is None or now >= due_at:
        raise TransitionError(
            "Chỉ được xin lỗi và hẹn lại trước ngày hẹn trả; hồ sơ này đã quá hạn.",
            "A dossier can only be rescheduled before its due date; this one is already due.",
            code="reschedule_after_due",
        )
    if body.get("new_due_at") in (None, ""):
        raise ValidationError(
            "Chưa nhập ngày hẹn trả mới.", "Enter the new due date.", code="required", field="new_due_at"
        )
    new_due = parse_datetime(body["new_due_at"], "new_due_at")
    if new_due <= due_at:
        raise ValidationError(
            "Ngày hẹn trả mới phải sau ngày hẹn trả hiện tại.",
            "The new due date must be later than the current one.",
            code="new_due_not_later",
            field="new_due_at",
        )
    return {"reason": reason, "new_due_at": events.iso(new_due), "old_due_at": state["due_at"]}


def _resolve(box: Box, state: dict[str, Any], body: Body, now: datetime) -> dict[str, Any]:
    if not state["conflict"]:
        raise TransitionError(
            "Hồ sơ này không có xung đột cần xử lý.", "This dossier has no conflict to resolve.", code="no_conflict"
        )
    payload: dict[str, Any] = {"note": clean_free_text(body.get("note"), "note", max_len=2000)}
    if body.get("status") is not None:
        payload["status"] = choice(body["status"], tuple(STATUSES), "status")
    return payload


BUILDERS: dict[str, Builder] = {
    "receive": _receive,
    "refuse": _reasoned,
    "transfer": _transfer,
    "request-supplement": _request_supplement,
    "supplement-received": _supplement_received,
    "request-payment": _request_payment,
    "withdraw": _reasoned,
    "stop": _reasoned,
    "approve": _approve,
    "return-result": _return_result,
    "reschedule": _reschedule,
    "resolve-conflict": _resolve,
}


def _check_transition(action: str, state: dict[str, Any]) -> None:
    kind = ACTIONS[action]
    rule = TRANSITIONS.get(kind)
    status = state["status"]
    label = ACTION_LABELS[action]
    if rule is not None and status not in rule[0]:
        raise TransitionError(
            f"Không thể {label[0]} hồ sơ đang ở trạng thái “{STATUSES[status][1]}” ({status}).",
            f"Cannot {label[1]} a dossier whose status is “{STATUSES[status][2]}” ({status}).",
            code="illegal_transition",
            status=status,
        )
    if kind == "supplement_requested" and state["supplement"]:
        raise TransitionError(
            "Hồ sơ đã được yêu cầu bổ sung một lần; theo quy định chỉ được yêu cầu bổ sung một lần.",
            "A supplement was already requested once; the law allows only one request.",
            code="supplement_already_requested",
            status=status,
        )


def find_state(box: Box, code: str) -> dict[str, Any]:
    """Return a dossier's folded state by code, or raise NotFoundError."""
    row = box.db().execute("SELECT state FROM dossiers WHERE code = ?", [code]).fetchone()
    if not row:
        raise NotFoundError(
            f"Không tìm thấy hồ sơ mã “{code}”.", f"No dossier with code “{code}”.", code="dossier_not_found"
        )
    state: dict[str, Any] = json.loads(row[0])
    return state


def act(box: Box, user: User, code: str, action: str, body: object, source: str = "") -> dict[str, Any]:
    """Perform one lifecycle action on a dossier; return its new state."""
    if action not in BUILDERS:
        raise NotFoundError(
            f"Không có thao tác “{action}”. Các thao tác: {', '.join(BUILDERS)}.",
            f"No action “{action}”. Actions: {', '.join(BUILDERS)}.",
            code="unknown_action",
        )
    require(user, "dossier.resolve" if action == "resolve-conflict" else "dossier.act")
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValidationError(
            "Nội dung gửi lên phải là một đối tượng JSON.", "The body must be a JSON object.", code="invalid_body"
        )
    db = box.db()
    with write(db):
        state = find_state(box, code)
        _check_transition(action, state)
        now = box.now()
        payload = BUILDERS[action](box, state, body, now)
        event = events.new_event(
            db,
            state["dossier_id"],
            ACTIONS[action],
            payload,
            actor=user.username,
            origin=box.origin,
            wall_time=events.iso(now),
        )
        events.record(db, event)
        new_state = projection.refold(db, state["dossier_id"])
        audit.record(db, user.username, f"dossier_{ACTIONS[action]}", target=code, detail=payload, source=source)
    assert new_state is not None
    return new_state
