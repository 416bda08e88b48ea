"""What the dossier page shows: labels in the session language, the timeline, conflict sides, forms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from werkzeug.routing import BuildError

from edge.lifecycle import STATUSES, TRANSITIONS
from edge.users import list_users
from ui.web.common import box, current_user, format_datetime, format_money, status_label

SUPPLEMENT_ROWS = 3  # empty rows of the missing-documents list; "Thêm dòng" adds more


def action_labels() -> dict[str, str]:
    """Return the button text of each action."""
    return {
        "receive": _("Tiếp nhận"),
        "refuse": _("Từ chối tiếp nhận"),
        "transfer": _("Chuyển xử lý"),
        "request-supplement": _("Yêu cầu bổ sung"),
        "supplement-received": _("Đã bổ sung"),
        "request-payment": _("Yêu cầu thực hiện nghĩa vụ tài chính"),
        "withdraw": _("Rút hồ sơ"),
        "stop": _("Dừng xử lý"),
        "approve": _("Đã có kết quả"),
        "return-result": _("Trả kết quả"),
        "reschedule": _("Xin lỗi và hẹn lại"),
        "resolve-conflict": _("Xử lý xung đột"),
    }


def event_labels() -> dict[str, str]:
    """Return what each kind of event means, for the timeline."""
    return {
        "created": _("Tạo hồ sơ"),
        "received": _("Tiếp nhận hồ sơ"),
        "refused": pgettext("event", "Từ chối tiếp nhận"),
        "transferred": _("Chuyển xử lý"),
        "supplement_requested": _("Yêu cầu bổ sung hồ sơ"),
        "supplement_received": _("Đã nhận hồ sơ bổ sung"),
        "payment_requested": _("Yêu cầu thực hiện nghĩa vụ tài chính"),
        "withdrawn": pgettext("event", "Rút hồ sơ"),
        "stopped": pgettext("event", "Dừng xử lý"),
        "approved": _("Đã có kết quả"),
        "result_returned": pgettext("event", "Trả kết quả"),
        "rescheduled": _("Xin lỗi và hẹn lại"),
        "attachment_added": _("Đính kèm tệp"),
        "conflict_resolved": _("Xử lý xung đột"),
        "note_added": _("Ghi chú"),
        "fees_adjusted": _("Điều chỉnh phí, lệ phí"),
        "fee_paid": _("Đã thu phí, lệ phí"),
        "fee_refunded": _("Hoàn trả phí, lệ phí"),
        "fee_payment_cancelled": _("Hủy khoản thu phí, lệ phí"),
    }


def kind_labels() -> dict[str, str]:
    """Return the kinds of copy of a document."""
    return {"original": _("Bản chính"), "certified_copy": _("Bản sao chứng thực"), "photocopy": _("Bản sao")}


def channel_labels() -> dict[str, str]:
    """Return how a dossier can be filed."""
    return {"counter": _("Tại quầy"), "online": _("Trực tuyến"), "post": _("Qua bưu chính")}


def return_labels() -> dict[str, str]:
    """Return how a result can be handed over."""
    return {"counter": _("Tại quầy"), "post": _("Qua bưu chính")}


def outcome_labels() -> dict[str, str]:
    """Return how processing ended."""
    return {
        "refused": pgettext("event", "Từ chối tiếp nhận"),
        "withdrawn": pgettext("event", "Rút hồ sơ"),
        "stopped": pgettext("event", "Dừng xử lý"),
        "approved": _("Đã có kết quả"),
    }


def id_type_labels() -> dict[str, str]:
    return {"cccd": _("CCCD / Số định danh cá nhân"), "cmnd": _("CMND"), "passport": _("Hộ chiếu")}


def sex_labels() -> dict[str, str]:
    return {"male": _("Nam"), "female": _("Nữ")}


def problem_labels() -> dict[str, str]:
    return {
        "status": _("trạng thái lúc đó không cho phép thao tác này"),
        "second_supplement": _("hồ sơ đã được yêu cầu bổ sung một lần"),
        "unknown_kind": _("loại sự kiện máy này chưa biết"),
        "malformed": _("nội dung sự kiện không hợp lệ"),
    }


def load_people() -> dict[str, dict[str, Any]]:
    """Return the local users by username."""
    return {str(u["username"]): u for u in list_users(box().db())}


def name_of(people: dict[str, dict[str, Any]], username: str | None) -> str:
    if not username:
        return ""
    user = people.get(username)
    return str(user["full_name"] or username) if user else username


def assignable_staff(people: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the active officers and leaders (who can be handed a dossier)."""
    return [u for u in people.values() if u["active"] and u["role"] in ("officer", "leader")]


def origin_label(origin: str) -> str:
    if origin == box().origin:
        return str(_("Máy này"))
    if origin.startswith("hub:"):
        return str(_("Máy chủ tỉnh"))
    return str(_("Nơi khác"))


def event_details(event: dict[str, Any], people: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """Return the facts of an event worth a line in the timeline, as (label, text)."""
    p = event.get("payload") or {}
    kind = event["kind"]
    out: list[tuple[str, str]] = []

    def text(key: str) -> str:
        value = p.get(key)
        return value if isinstance(value, str) else ("" if value is None else str(value))

    if kind == "created":
        out.append((_("Hình thức nộp"), channel_labels().get(text("channel"), text("channel"))))
    if text("reason"):
        out.append((_("Lý do"), text("reason")))
    if kind in ("received", "supplement_received") and p.get("due_at"):
        out.append((_("Ngày hẹn trả"), format_datetime(text("due_at"))))
    if kind == "transferred":
        out.append((_("Chuyển đến"), name_of(people, text("assignee"))))
        if p.get("step_due_at"):
            out.append((_("Hạn xử lý của bước"), format_datetime(text("step_due_at"))))
    if kind == "supplement_requested" and isinstance(p.get("missing_documents"), list):
        names = [str(d.get("name", "")) for d in p["missing_documents"] if isinstance(d, dict)]
        if names:
            out.append((_("Giấy tờ cần bổ sung"), "; ".join(names)))
    if kind == "payment_requested" and isinstance(p.get("amount"), int):
        out.append((_("Số tiền"), format_money(p["amount"])))
    if kind == "result_returned" and p.get("method"):
        out.append((_("Hình thức trả"), return_labels().get(text("method"), text("method"))))
    if kind == "rescheduled" and p.get("new_due_at"):
        out.append((_("Ngày hẹn trả mới"), format_datetime(text("new_due_at"))))
    if kind == "attachment_added":
        out.append((_("Tệp"), text("name")))
    if kind == "conflict_resolved" and p.get("status") in STATUSES:
        out.append((_("Trạng thái được giữ"), status_label(str(p["status"]))))
    for key in ("note", "text"):
        if text(key):
            out.append((_("Ghi chú"), text(key)))
    return out


def build_timeline(dossier: dict[str, Any], people: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the events in fold order with who, what, when and where, rejected ones marked."""
    rejected = {c["event_id"] for c in dossier["conflicts"] or []}
    for resolution in dossier["resolutions"] or []:
        rejected |= {c["event_id"] for c in resolution.get("conflicts", [])}
    labels = event_labels()
    out = []
    for event in dossier["events"]:
        out.append(
            {
                "event_id": event["event_id"],
                "kind": event["kind"],
                "label": labels.get(event["kind"], event["kind"]),
                "actor": event["actor"],
                "actor_name": name_of(people, event["actor"]),
                "origin": event["origin"],
                "origin_label": origin_label(event["origin"]),
                "wall_time": event["wall_time"],
                "details": event_details(event, people),
                "rejected": event["event_id"] in rejected,
            }
        )
    return out


def conflict_sides(dossier: dict[str, Any], timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair each event that could not be applied with the event that set the status it met."""
    sides = []
    problems = problem_labels()
    for conflict in dossier["conflicts"] or []:
        position = next((i for i, e in enumerate(timeline) if e["event_id"] == conflict["event_id"]), None)
        if position is None:
            continue
        applied = None
        for earlier in reversed(timeline[:position]):
            kind = earlier["kind"]
            changes = (
                kind == "created"
                or kind == "conflict_resolved"
                or (kind in TRANSITIONS and TRANSITIONS[kind][1] is not None)
            )
            if changes and not earlier["rejected"]:
                applied = earlier
                break
        target = TRANSITIONS.get(conflict["kind"], (None, None))[1]
        sides.append(
            {
                "rejected": timeline[position],
                "applied": applied,
                "status_then": conflict.get("status_then"),
                "problem": problems.get(conflict.get("problem", ""), conflict.get("problem", "")),
                "target": target,
            }
        )
    return sides


def status_choices(dossier: dict[str, Any], sides: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Return which statuses a leader can keep when resolving: the current one, or a conflicting side's."""
    choices = [("", _("Giữ trạng thái hiện tại: %(status)s", status=status_label(dossier["status"])))]
    for side in sides:
        target = side["target"]
        if target and target != dossier["status"] and all(target != c[0] for c in choices):
            choices.append(
                (
                    target,
                    _(
                        "Theo sự kiện “%(event)s”: %(status)s",
                        event=side["rejected"]["label"],
                        status=status_label(target),
                    ),
                )
            )
    return choices


def print_links(dossier: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the paper forms that apply to the dossier, when the print views exist."""
    views = current_app.view_functions
    outcome = (dossier.get("outcome") or {}).get("kind")
    wanted = [
        ("prints.receipt", _("In giấy tiếp nhận và hẹn trả"), bool(dossier["received_at"])),
        ("prints.supplement", _("In phiếu yêu cầu bổ sung"), bool(dossier["supplement"])),
        ("prints.refusal", _("In phiếu từ chối"), outcome == "refused"),
        ("prints.apology", _("In phiếu xin lỗi và hẹn lại"), bool(dossier["reschedules"])),
        ("prints.control", _("In phiếu kiểm soát"), bool(dossier["received_at"])),
    ]
    links = []
    for endpoint, label, applies in wanted:
        if not applies or endpoint not in views:
            continue
        try:
            links.append((label, url_for(endpoint, code=dossier["code"])))
        except BuildError:
            continue
    return links


def can_reschedule(dossier: dict[str, Any], now: datetime) -> bool:
    due = dossier["due_at"]
    return bool(due) and now < datetime.fromisoformat(str(due))


def form_actions(dossier: dict[str, Any], now: datetime) -> list[str]:
    """Return the actions the page offers: those the status allows (reschedule only before due)."""
    user = current_user()
    out = []
    for action in dossier["allowed_actions"]:
        if action == "resolve-conflict":
            continue  # offered with the conflict, to leaders
        if action == "reschedule" and not can_reschedule(dossier, now):
            continue
        if user.can("dossier.act"):
            out.append(action)
    return out


def default_values(dossier: dict[str, Any]) -> dict[str, dict[str, Any]]:
    fees = sum(int(f.get("amount", 0)) for f in dossier["procedure"].get("fees", []))
    return {
        "request-payment": {"amount": str(fees)},
        "return-result": {"method": dossier["return_method"]},
        "request-supplement": {"rows": [{"name": "", "kind": "original", "quantity": "1"}] * SUPPLEMENT_ROWS},
        "resolve-conflict": {"status": ""},
    }
