"""The dossier lifecycle: national status codes, legal transitions, and the fold of events.

The fold is pure and deterministic: the same set of events, in any order, gives the same
state, because events are applied in (hlc, event_id) order. An event that its dossier's
status no longer allows when it is applied (two origins acted at once) is kept in the log,
not applied, and the dossier is flagged for a person to resolve.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.events import Event

# Status key -> national status code (DVCQG), Vietnamese and English labels.
STATUSES: dict[str, tuple[int, str, str]] = {
    "receiving": (1, "Chờ tiếp nhận", "Waiting to be received"),
    "new": (2, "Đã tiếp nhận", "Received"),
    "denied": (3, "Từ chối tiếp nhận", "Refused"),
    "processing": (4, "Đang xử lý", "Processing"),
    "waiting": (5, "Chờ bổ sung", "Waiting for supplement"),
    "paying": (6, "Chờ thực hiện nghĩa vụ tài chính", "Waiting for payment"),
    "cancelled": (7, "Đã rút hồ sơ", "Withdrawn"),
    "unresolved": (8, "Dừng xử lý", "Processing stopped"),
    "releasing": (9, "Đã có kết quả, chờ trả", "Result ready"),
    "done": (10, "Đã trả kết quả", "Result returned"),
}
FINISHED = frozenset({"denied", "cancelled", "unresolved", "releasing", "done"})
ACTIVE = frozenset(STATUSES) - FINISHED

# Event kind -> (statuses it may be applied in, status it leads to; None = unchanged).
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "received": (frozenset({"receiving"}), "new"),
    "refused": (frozenset({"receiving", "new"}), "denied"),
    "transferred": (frozenset({"new", "processing", "paying"}), "processing"),
    "supplement_requested": (frozenset({"new", "processing"}), "waiting"),
    "supplement_received": (frozenset({"waiting"}), None),
    "payment_requested": (frozenset({"new", "processing"}), "paying"),
    "withdrawn": (frozenset({"receiving", "new", "processing", "waiting", "paying"}), "cancelled"),
    "stopped": (frozenset({"new", "processing", "waiting", "paying"}), "unresolved"),
    "approved": (frozenset({"new", "processing", "paying"}), "releasing"),
    "result_returned": (frozenset({"releasing"}), "done"),
    "rescheduled": (frozenset({"new", "processing", "waiting", "paying"}), None),
}
# Kinds that never change the status and are allowed in any status.
NEUTRAL = frozenset({"attachment_added", "conflict_resolved", "note_added"} | {
    "fees_adjusted", "fee_paid", "fee_refunded", "fee_payment_cancelled",  # money: edge/fees.py, edge/cashier.py
})  # fmt: skip

# API action name -> event kind.
ACTIONS: dict[str, str] = {
    "receive": "received",
    "refuse": "refused",
    "transfer": "transferred",
    "request-supplement": "supplement_requested",
    "supplement-received": "supplement_received",
    "request-payment": "payment_requested",
    "withdraw": "withdrawn",
    "stop": "stopped",
    "approve": "approved",
    "return-result": "result_returned",
    "reschedule": "rescheduled",
    "resolve-conflict": "conflict_resolved",
}


def finished_late(state: dict[str, Any]) -> bool:
    """Return whether the result was ready after the due date (overdue for good)."""
    if state["status"] not in ("releasing", "done") or not state["due_at"] or not state["finished_at"]:
        return False
    return datetime.fromisoformat(state["finished_at"]) > datetime.fromisoformat(state["due_at"])


def allowed_actions(status: str, state: dict[str, Any] | None = None) -> list[str]:
    """Return the actions the given status allows, in a stable order."""
    out = []
    for action, kind in ACTIONS.items():
        if kind in NEUTRAL:
            if kind == "conflict_resolved" and state and state.get("conflict"):
                out.append(action)
            continue
        sources, _ = TRANSITIONS[kind]
        if status not in sources:
            continue
        if kind == "supplement_requested" and state and state.get("supplement"):
            continue
        out.append(action)
    return out


@dataclass
class Fold:
    """The running state of one dossier while its events are applied.

    The state starts as a copy of the created event's payload, so applying later events never
    changes an event; `owned=True` skips that copy when the caller's events are fresh JSON that
    nothing else holds (the hub, folding what it has just decoded and stored).
    """

    state: dict[str, Any] | None = None
    owned: bool = False

    def apply(self, event: Event) -> None:
        """Apply one event (in fold order)."""
        if event.kind == "created":
            if self.state is None:
                self.state = _created(event, self.owned)
            return
        state = self.state
        if state is None:
            return  # the created event has not arrived yet; refolded when it does
        state["last_hlc"] = max(state["last_hlc"], event.hlc)
        state["updated_at"] = event.wall_time
        state["event_count"] += 1
        if event.kind in NEUTRAL:
            try:
                _apply_neutral(state, event)
            except _MALFORMED:  # a payload this kind cannot use (a faulty or forged origin): kept, flagged
                _flag(state, event, "malformed")
            return
        rule = TRANSITIONS.get(event.kind)
        problem = None
        if rule is None:
            problem = "unknown_kind"
        elif state["status"] not in rule[0]:
            problem = "status"
        elif event.kind == "supplement_requested" and state["supplement"]:
            problem = "second_supplement"
        if problem:
            _flag(state, event, problem)
            return
        try:
            _APPLY[event.kind](state, event)
        except _MALFORMED:
            _flag(state, event, "malformed")
            return
        assert rule is not None
        if rule[1] is not None:
            _set_status(state, rule[1], event)


# What applying a payload of the wrong shape raises; the appliers read the payload before they change
# the state, so such an event changes nothing and is flagged for a person instead.
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def _flag(state: dict[str, Any], event: Event, problem: str) -> None:
    """Keep an event the fold could not apply, and flag the dossier for a person."""
    state["conflict"] = True
    state["conflicts"].append(
        {
            "event_id": event.event_id,
            "kind": event.kind,
            "origin": event.origin,
            "actor": event.actor,
            "at": event.wall_time,
            "status_then": state["status"],
            "problem": problem,
        }
    )


def fold(events: Iterable[Event], *, owned: bool = False) -> dict[str, Any] | None:
    """Fold a dossier's events (any order) into its state; None if it has no created event.

    owned=True: the events' payloads are the caller's own fresh JSON, used no more, and may end up
    shared with (and changed through) the state instead of being copied first.
    """
    folder = Fold(owned=owned)
    for event in sorted(events, key=Event.sort_key):
        folder.apply(event)
    return folder.state


def _set_status(state: dict[str, Any], status: str, event: Event) -> None:
    state["status"] = status
    state["status_code"] = STATUSES[status][0]
    if status in FINISHED and state["finished_at"] is None:
        state["finished_at"] = event.wall_time
    if status == "done":
        state["returned_at"] = event.wall_time


def _created(event: Event, owned: bool = False) -> dict[str, Any]:
    # Payloads are JSON data: a JSON round trip copies them several times faster than deepcopy.
    p = dict(event.payload) if owned else json.loads(json.dumps(dict(event.payload)))
    status = p.get("status", "new")
    return {
        "dossier_id": event.dossier_id,
        "code": p["code"],
        "procedure": p["procedure"],
        "applicant": p["applicant"],
        "documents": p.get("documents", []),
        "channel": p.get("channel", "counter"),
        "return_method": p.get("return_method", "counter"),
        "return_address": p.get("return_address"),
        "status": status,
        "status_code": STATUSES[status][0],
        "received_at": p.get("received_at"),
        "due_at": p.get("due_at"),
        "original_due_at": p.get("due_at"),
        "received_by": event.actor if p.get("received_at") else None,
        "finished_at": None,
        "returned_at": None,
        "return": None,
        "assignee": None,
        "steps": [],
        "supplement": None,
        "payment": None,
        "fees": _fees_of(p["procedure"]),
        "reschedules": [],
        "outcome": None,
        "attachments": [],
        "notes": [{"text": p["notes"], "at": event.wall_time}] if p.get("notes") else [],
        "conflict": False,
        "conflicts": [],
        "resolutions": [],
        "origin": event.origin,
        "created_at": event.wall_time,
        "updated_at": event.wall_time,
        "last_hlc": event.hlc,
        "event_count": 1,
    }


def _received(state: dict[str, Any], event: Event) -> None:
    state["received_at"] = event.payload["received_at"]
    state["due_at"] = event.payload["due_at"]
    state["original_due_at"] = event.payload["due_at"]
    state["received_by"] = event.actor


def _transferred(state: dict[str, Any], event: Event) -> None:
    step = {
        "no": len(state["steps"]) + 1,
        "from": state["assignee"] or event.actor,
        "assignee": event.payload["assignee"],
        "at": event.wall_time,
        "step_due_at": event.payload.get("step_due_at"),
        "note": event.payload.get("note", ""),
    }
    state["steps"].append(step)
    state["assignee"] = event.payload["assignee"]


def _supplement_requested(state: dict[str, Any], event: Event) -> None:
    state["supplement"] = {
        "reason": event.payload["reason"],
        "missing_documents": event.payload.get("missing_documents", []),
        "requested_at": event.wall_time,
        "requested_by": event.actor,
        "status_before": state["status"],
        "received_at": None,
        "due_at_before": state["due_at"],
    }


def _supplement_received(state: dict[str, Any], event: Event) -> None:
    supplement = state["supplement"]
    supplement["received_at"] = event.wall_time
    state["due_at"] = event.payload.get("due_at", state["due_at"])
    _set_status(state, supplement["status_before"], event)


def _payment_requested(state: dict[str, Any], event: Event) -> None:
    state["payment"] = {
        "requested_at": event.wall_time,
        "amount": event.payload.get("amount"),
        "status_before": state["status"],
    }


def _with_reason(key: str) -> Any:
    def apply(state: dict[str, Any], event: Event) -> None:
        state["outcome"] = {"kind": key, "reason": event.payload.get("reason", ""), "at": event.wall_time}

    return apply


def _approved(state: dict[str, Any], event: Event) -> None:
    state["outcome"] = {"kind": "approved", "note": event.payload.get("note", ""), "at": event.wall_time}


def _result_returned(state: dict[str, Any], event: Event) -> None:
    state["return"] = {"method": event.payload.get("method", state["return_method"]), "at": event.wall_time}


def _rescheduled(state: dict[str, Any], event: Event) -> None:
    state["reschedules"].append(
        {
            "reason": event.payload["reason"],
            "old_due_at": state["due_at"],
            "new_due_at": event.payload["new_due_at"],
            "at": event.wall_time,
            "by": event.actor,
        }
    )
    state["due_at"] = event.payload["new_due_at"]


def _fees_of(procedure: dict[str, Any]) -> dict[str, Any]:
    lines = [{"name": f["name"], "kind": f["kind"], "amount": f["amount"]} for f in procedure.get("fees", [])]
    total = sum(line["amount"] for line in lines)
    return {"lines": lines, "adjusted": None, "payments": [], "total": total, "paid": 0, "refunded": 0,
            "due": total, "paid_at": None}  # fmt: skip


def _recount(state: dict[str, Any], event: Event) -> None:
    """Total, paid (less cancelled payments), refunded and due; paid_at: when the due first reached 0 by paying."""
    fees = state["fees"]
    live = [p for p in fees["payments"] if not p["cancelled"]]
    fees["total"] = sum(line["amount"] for line in fees["lines"])
    fees["paid"] = sum(p["amount"] for p in live)
    fees["refunded"] = sum(p["refunded"] for p in live)
    fees["due"] = max(0, fees["total"] - fees["paid"] + fees["refunded"])
    if fees["due"] or not fees["paid"]:
        fees["paid_at"] = None
    elif fees["paid_at"] is None:
        fees["paid_at"] = event.wall_time


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_fee_payload(kind: str, p: Any) -> None:
    """Raise ValueError unless a money event's payload has the fields and types its fold uses."""
    if kind == "fees_adjusted":
        lines = p.get("lines")
        ok = isinstance(lines, list) and all(
            isinstance(x, dict) and isinstance(x.get("name"), str) and _whole(x.get("amount")) for x in lines
        )
    else:
        ok = isinstance(p.get("payment_id"), str)
        if kind == "fee_paid":
            ok = ok and _whole(p.get("amount")) and isinstance(p.get("method"), str)
        elif kind == "fee_refunded":
            ok = ok and _whole(p.get("amount")) and isinstance(p.get("refund_id"), str)
    if not ok:
        raise ValueError(f"malformed {kind} payload")


def _apply_fees(state: dict[str, Any], event: Event) -> None:
    p = event.payload
    _check_fee_payload(event.kind, p)
    fees = state.setdefault("fees", _fees_of(state["procedure"]))
    payment = next((x for x in fees["payments"] if x["payment_id"] == p.get("payment_id")), None)
    if event.kind == "fees_adjusted":
        fees["lines"] = [dict(line) for line in p["lines"]]
        fees["adjusted"] = {"reason": p.get("reason", ""), "by": event.actor, "at": event.wall_time}
    elif event.kind == "fee_paid" and payment is None:
        fees["payments"].append(
            {"payment_id": p["payment_id"], "method": p["method"], "amount": p["amount"], "receipt": p.get("receipt"),
             "by": event.actor, "at": event.wall_time, "refunded": 0, "refunds": [], "cancelled": None}
        )  # fmt: skip
    elif event.kind == "fee_refunded" and payment is not None:
        if all(r["refund_id"] != p["refund_id"] for r in payment["refunds"]):
            payment["refunds"].append(
                {"refund_id": p["refund_id"], "amount": p["amount"], "reason": p.get("reason", ""),
                 "by": event.actor, "at": event.wall_time}
            )  # fmt: skip
            payment["refunded"] = sum(r["amount"] for r in payment["refunds"])
    elif event.kind == "fee_payment_cancelled" and payment is not None and payment["cancelled"] is None:
        payment["cancelled"] = {"reason": p.get("reason", ""), "by": event.actor, "at": event.wall_time}
    _recount(state, event)


def _apply_neutral(state: dict[str, Any], event: Event) -> None:
    if event.kind in _FEE_KINDS:
        _apply_fees(state, event)
    elif event.kind == "attachment_added":
        if not any(a["sha256"] == event.payload["sha256"] for a in state["attachments"]):
            state["attachments"].append(dict(event.payload))
    elif event.kind == "note_added":
        state["notes"].append({"text": event.payload.get("text", ""), "at": event.wall_time})
    elif event.kind == "conflict_resolved":
        state["resolutions"].append(
            {
                "note": event.payload.get("note", ""),
                "status": event.payload.get("status"),
                "by": event.actor,
                "at": event.wall_time,
                "conflicts": state["conflicts"],
            }
        )
        state["conflicts"] = []
        state["conflict"] = False
        chosen = event.payload.get("status")
        if chosen in STATUSES:
            state["status"] = chosen
            state["status_code"] = STATUSES[chosen][0]
            if chosen not in FINISHED:
                state["finished_at"] = None
            elif state["finished_at"] is None:
                state["finished_at"] = event.wall_time


_FEE_KINDS = frozenset({"fees_adjusted", "fee_paid", "fee_refunded", "fee_payment_cancelled"})
_APPLY = {
    "received": _received,
    "refused": _with_reason("refused"),
    "transferred": _transferred,
    "supplement_requested": _supplement_requested,
    "supplement_received": _supplement_received,
    "payment_requested": _payment_requested,
    "withdrawn": _with_reason("withdrawn"),
    "stopped": _with_reason("stopped"),
    "approved": _approved,
    "result_returned": _result_returned,
    "rescheduled": _rescheduled,
}
