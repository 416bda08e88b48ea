"""The dossier list (filters, search, paging) and the dossier page (fields, papers, timeline, actions).

Every rule is edge's: the list reads `edge.queries.list_dossiers` (keyset paging, no count over
the box), the page reads `get_dossier`, and each action form is turned into the body
`edge.actions.act` takes; edge's ValidationError fields are mapped back onto the form's inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response as BaseResponse

from edge import actions
from edge.attachments import open_blob
from edge.calendar import TZ
from edge.dates import read_day
from edge.errors import NotFoundError, PermissionDeniedError, TransitionError, ValidationError
from edge.lifecycle import STATUSES, TRANSITIONS
from edge.procedures import list_procedures
from edge.queries import ListQuery, get_dossier, is_due_soon, list_dossiers, parse_status
from edge.users import list_users, require
from ui.web.common import box, current_user, format_datetime, format_money, lang, requires, status_label

bp = Blueprint("dossiers", __name__)

PAGE_SIZE = 50
LIST_ARGS = ("q", "status", "procedure", "assignee", "received_from", "received_to", "due", "overdue", "conflict")
SUPPLEMENT_ROWS = 3  # empty rows of the missing-documents list; "Thêm dòng" adds more
MAX_SUPPLEMENT_ROWS = 100
_YES = ("true", "1", "on", "yes")
_NO = ("false", "0", "off", "no")
_DOC_FIELD = re.compile(r"missing_documents\[(\d+)\](?:\.(\w+))?")
_INPUTS: dict[str, tuple[str, ...]] = {
    "receive": (),
    "refuse": ("reason",),
    "transfer": ("assignee", "step_due_at", "note"),
    "request-supplement": ("reason",),
    "supplement-received": (),
    "request-payment": ("amount",),
    "withdraw": ("reason",),
    "stop": ("reason",),
    "approve": ("note",),
    "return-result": ("method",),
    "reschedule": ("reason", "new_due_at"),
    "resolve-conflict": ("note", "status"),
}


# --- words (Vietnamese source strings, translated through the .po files) -----------------------


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
        "refused": _("Từ chối tiếp nhận"),
        "transferred": _("Chuyển xử lý"),
        "supplement_requested": _("Yêu cầu bổ sung hồ sơ"),
        "supplement_received": _("Đã nhận hồ sơ bổ sung"),
        "payment_requested": _("Yêu cầu thực hiện nghĩa vụ tài chính"),
        "withdrawn": _("Rút hồ sơ"),
        "stopped": _("Dừng xử lý"),
        "approved": _("Đã có kết quả"),
        "result_returned": _("Trả kết quả"),
        "rescheduled": _("Xin lỗi và hẹn lại"),
        "attachment_added": _("Đính kèm tệp"),
        "conflict_resolved": _("Xử lý xung đột"),
        "note_added": _("Ghi chú"),
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
        "refused": _("Từ chối tiếp nhận"),
        "withdrawn": _("Rút hồ sơ"),
        "stopped": _("Dừng xử lý"),
        "approved": _("Đã có kết quả"),
    }


def _id_type_labels() -> dict[str, str]:
    return {"cccd": _("CCCD / Số định danh cá nhân"), "cmnd": _("CMND"), "passport": _("Hộ chiếu")}


def _sex_labels() -> dict[str, str]:
    return {"male": _("Nam"), "female": _("Nữ")}


def _problem_labels() -> dict[str, str]:
    return {
        "status": _("trạng thái lúc đó không cho phép thao tác này"),
        "second_supplement": _("hồ sơ đã được yêu cầu bổ sung một lần"),
        "unknown_kind": _("loại sự kiện máy này chưa biết"),
    }


# --- helpers ------------------------------------------------------------------------------------


def _people() -> dict[str, dict[str, Any]]:
    """Return the local users by username."""
    return {str(u["username"]): u for u in list_users(box().db())}


def _name_of(people: dict[str, dict[str, Any]], username: str | None) -> str:
    if not username:
        return ""
    user = people.get(username)
    return str(user["full_name"] or username) if user else username


def _staff(people: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the active officers and leaders (who can be handed a dossier)."""
    return [u for u in people.values() if u["active"] and u["role"] in ("officer", "leader")]


def _parse_day(text: str) -> date:
    """Read dd/mm/yyyy or yyyy-mm-dd; raise ValueError otherwise."""
    return read_day(text)


def _flag(value: str) -> bool | None:
    lowered = value.lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    raise ValueError(value)


# --- the list -----------------------------------------------------------------------------------


@dataclass
class ListForm:
    """The list's filters as typed (kept in the URL) and as edge's ListQuery."""

    values: dict[str, str]
    errors: dict[str, str]
    query: ListQuery
    page: int


def parse_list_args(args: MultiDict[str, str], today: date) -> ListForm:
    """Turn the query string into a ListQuery; a wrong value becomes a message next to its input."""
    values = {name: args.get(name, "").strip() for name in LIST_ARGS}
    values["q"] = values["q"][:200]
    errors: dict[str, str] = {}
    filters: dict[str, Any] = {}
    if values["q"]:
        filters["q"] = values["q"]
    if values["status"]:
        try:
            filters["status"] = parse_status(values["status"])
        except ValidationError as err:
            errors["status"] = err.message(lang())
    if values["procedure"]:
        filters["procedure_code"] = values["procedure"][:64]
    if values["assignee"]:
        filters["assignee"] = values["assignee"][:64]
    for name in ("received_from", "received_to"):
        if values[name]:
            try:
                filters[name] = _parse_day(values[name])
            except ValueError:
                errors[name] = _(
                    "Ngày phải viết dạng ngày/tháng/năm, ví dụ %(example)s.", example=today.strftime("%d/%m/%Y")
                )
    if "received_from" in filters and "received_to" in filters and filters["received_from"] > filters["received_to"]:
        errors["received_to"] = _("Ngày kết thúc phải bằng hoặc sau ngày bắt đầu.")
    if values["due"] == "today":
        filters["due_on"] = today
    elif values["due"] == "soon":
        filters["due_within_days"] = 2
    elif values["due"]:
        errors["due"] = _("Chọn “Đến hạn hôm nay” hoặc “Sắp đến hạn (2 ngày)”.")
    for name in ("overdue", "conflict"):
        if values[name]:
            try:
                filters[name] = _flag(values[name])
            except ValueError:
                errors[name] = _("Giá trị không hợp lệ; bỏ chọn rồi chọn lại.")
    cursor = args.get("cursor", "")
    if re.fullmatch(r"[0-9]{1,18}", cursor):
        filters["cursor"] = int(cursor)
    page_text = args.get("page", "")
    page = int(page_text) if re.fullmatch(r"[0-9]{1,6}", page_text) and "cursor" in filters else 1
    return ListForm(values, errors, ListQuery(limit=PAGE_SIZE, **filters), max(page, 1))


def _row(item: dict[str, Any], people: dict[str, dict[str, Any]], now: datetime) -> dict[str, Any]:
    soon = not item["overdue"] and is_due_soon(item["status"], item["due_at"], now)
    return {
        **item,
        "due_soon": soon,
        "tone": "overdue" if item["overdue"] else ("due-soon" if soon else ""),
        "assignee_name": _name_of(people, item["assignee"]),
    }


@bp.get("/dossiers")
@requires("dossier.read")
def index() -> tuple[str, int]:
    """List dossiers: filters and search in the URL, newest first, "Trang sau" by cursor."""
    now = box().now()
    form = parse_list_args(request.args, now.astimezone(TZ).date())
    people = _people()
    rows: list[dict[str, Any]] = []
    next_url = None
    kept: dict[str, Any] = {k: v for k, v in form.values.items() if v}
    if not form.errors:
        result = list_dossiers(box().db(), form.query, now)
        rows = [_row(item, people, now) for item in result["items"]]
        if result["next_cursor"]:
            next_url = url_for("dossiers.index", **kept, cursor=result["next_cursor"], page=form.page + 1)
    html = render_template(
        "dossiers/list.html",
        values=form.values,
        errors=form.errors,
        rows=rows,
        page=form.page,
        next_url=next_url,
        first_url=url_for("dossiers.index", **kept) if form.query.cursor is not None else None,
        filtered=bool(kept),
        by_received=bool(form.values["received_from"] or form.values["received_to"]) and not form.values["q"],
        statuses=[(key, status_label(key)) for key in STATUSES],
        procedures=list_procedures(box().db()),
        staff=_staff(people),
    )
    return html, 422 if form.errors else 200


# --- the dossier page ---------------------------------------------------------------------------


def _origin_label(origin: str) -> str:
    if origin == box().origin:
        return str(_("Máy này"))
    if origin.startswith("hub:"):
        return str(_("Máy chủ tỉnh"))
    return str(_("Nơi khác"))


def _event_details(event: dict[str, Any], people: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
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
        out.append((_("Chuyển đến"), _name_of(people, text("assignee"))))
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


def _timeline(dossier: dict[str, Any], people: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
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
                "actor_name": _name_of(people, event["actor"]),
                "origin": event["origin"],
                "origin_label": _origin_label(event["origin"]),
                "wall_time": event["wall_time"],
                "details": _event_details(event, people),
                "rejected": event["event_id"] in rejected,
            }
        )
    return out


def _conflict_sides(dossier: dict[str, Any], timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair each event that could not be applied with the event that set the status it met."""
    sides = []
    problems = _problem_labels()
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


def _status_choices(dossier: dict[str, Any], sides: list[dict[str, Any]]) -> list[tuple[str, str]]:
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


def _print_links(dossier: dict[str, Any]) -> list[tuple[str, str]]:
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


def _can_reschedule(dossier: dict[str, Any], now: datetime) -> bool:
    due = dossier["due_at"]
    return bool(due) and now < datetime.fromisoformat(str(due))


def _form_actions(dossier: dict[str, Any], now: datetime) -> list[str]:
    """Return the actions the page offers: those the status allows (reschedule only before due)."""
    user = current_user()
    out = []
    for action in dossier["allowed_actions"]:
        if action == "resolve-conflict":
            continue  # offered with the conflict, to leaders
        if action == "reschedule" and not _can_reschedule(dossier, now):
            continue
        if user.can("dossier.act"):
            out.append(action)
    return out


def _default_values(dossier: dict[str, Any]) -> dict[str, dict[str, Any]]:
    fees = sum(int(f.get("amount", 0)) for f in dossier["procedure"].get("fees", []))
    return {
        "request-payment": {"amount": str(fees)},
        "return-result": {"method": dossier["return_method"]},
        "request-supplement": {"rows": [{"name": "", "kind": "original", "quantity": "1"}] * SUPPLEMENT_ROWS},
        "resolve-conflict": {"status": ""},
    }


def render_dossier(
    code: str,
    *,
    open_action: str | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """Render the dossier page; the form of `open_action` shows `values` and `errors`."""
    now = box().now()
    dossier = get_dossier(box().db(), code, now)
    people = _people()
    timeline = _timeline(dossier, people)
    sides = _conflict_sides(dossier, timeline)
    forms = _default_values(dossier)
    if open_action is not None and values is not None:
        forms[open_action] = values
    html = render_template(
        "dossiers/detail.html",
        d=dossier,
        now=now,
        due_soon=not dossier["overdue"] and is_due_soon(dossier["status"], dossier["due_at"], now),
        timeline=timeline,
        sides=sides,
        status_choices=_status_choices(dossier, sides),
        print_links=_print_links(dossier),
        form_actions=_form_actions(dossier, now),
        can_resolve=current_user().can("dossier.resolve"),
        can_act=current_user().can("dossier.act"),
        forms=forms,
        open_action=open_action,
        errors=errors or {},
        labels=action_labels(),
        kinds=kind_labels(),
        channels=channel_labels(),
        return_methods=return_labels(),
        outcomes=outcome_labels(),
        id_types=_id_type_labels(),
        sexes=_sex_labels(),
        staff=_staff(people),
        name_of=lambda username: _name_of(people, username),
        step_overdue=lambda step, last: (
            last
            and bool(step.get("step_due_at"))
            and dossier["status"] in ("new", "processing", "paying")
            and now > datetime.fromisoformat(str(step["step_due_at"]))
        ),
    )
    return html, status


@bp.get("/dossiers/<code>")
@requires("dossier.read")
def detail(code: str) -> tuple[str, int]:
    """Show one dossier: its fields, papers, attachments, timeline and allowed actions."""
    return render_dossier(code)


# --- actions ------------------------------------------------------------------------------------


def _supplement_rows(form: MultiDict[str, str]) -> list[dict[str, str]]:
    rows = []
    for i in range(MAX_SUPPLEMENT_ROWS):
        if f"doc_name_{i}" not in form:
            break
        rows.append(
            {
                "name": form.get(f"doc_name_{i}", "").strip(),
                "kind": form.get(f"doc_kind_{i}", "original"),
                "quantity": form.get(f"doc_qty_{i}", "1").strip(),
            }
        )
    return rows


def _body(action: str, form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str], list[int]]:
    """Return (the body for edge, the values to show again, errors found here, row of each document)."""
    values: dict[str, Any] = {name: form.get(name, "") for name in _INPUTS[action]}
    body: dict[str, Any] = {}
    errors: dict[str, str] = {}
    doc_rows: list[int] = []
    for name in ("reason", "note"):
        if name in values:
            body[name] = values[name]
    if action == "approve" and not values["note"].strip():
        body.pop("note")
    if action == "transfer":
        body["assignee"] = values["assignee"]
        if values["step_due_at"].strip():
            body["step_due_at"] = values["step_due_at"].strip()
        if not values["note"].strip():
            body.pop("note")
    elif action == "request-supplement":
        rows = _supplement_rows(form)
        values["rows"] = rows
        documents = []
        for i, row in enumerate(rows):
            if not row["name"]:
                continue
            if not re.fullmatch(r"[0-9]{1,3}", row["quantity"]):
                errors[f"doc_qty_{i}"] = _("Số lượng phải là số nguyên từ 1 đến 99.")
                continue
            documents.append({"name": row["name"], "kind": row["kind"], "quantity": int(row["quantity"])})
            doc_rows.append(i)
        body["missing_documents"] = documents
    elif action == "request-payment":
        amount = re.sub(r"[\s.,₫đ]", "", values["amount"])
        if amount:
            body["amount"] = int(amount) if re.fullmatch(r"[0-9]{1,15}", amount) else values["amount"]
    elif action == "return-result":
        body["method"] = values["method"] or None
    elif action == "reschedule":
        body["new_due_at"] = values["new_due_at"].strip()
    elif action == "resolve-conflict" and values["status"]:
        body["status"] = values["status"]
    return body, values, errors, doc_rows


def _input_for(action: str, field: str | None, doc_rows: list[int]) -> str:
    """Return the input an edge error belongs to (or "form" for the form as a whole)."""
    if not field:
        return "form"
    match = _DOC_FIELD.fullmatch(field)
    if match:
        k = int(match[1])
        if k < len(doc_rows):
            part = {"quantity": "doc_qty", "kind": "doc_kind"}.get(match[2] or "", "doc_name")
            return f"{part}_{doc_rows[k]}"
        return "documents"
    if field == "missing_documents":
        return "documents"
    return field if field in _INPUTS[action] else "form"


@bp.post("/dossiers/<code>/actions/<action>")
@requires("dossier.read")
def act(code: str, action: str) -> BaseResponse | tuple[str, int]:
    """Perform one action from its form; on a refusal show the page again with the message."""
    if action not in _INPUTS:
        abort(404)
    require(current_user(), "dossier.resolve" if action == "resolve-conflict" else "dossier.act")
    form = request.form
    body, values, errors, doc_rows = _body(action, form)
    if action == "request-supplement" and form.get("more_rows"):
        rows = values["rows"]
        if len(rows) < MAX_SUPPLEMENT_ROWS:
            rows.append({"name": "", "kind": "original", "quantity": "1"})
        return render_dossier(code, open_action=action, values=values)
    if errors:
        return render_dossier(code, open_action=action, values=values, errors=errors, status=422)
    try:
        actions.act(box(), current_user(), code, action, body, request.remote_addr or "")
    except (PermissionDeniedError, NotFoundError):
        raise
    except (ValidationError, TransitionError) as err:
        errors[_input_for(action, err.field, doc_rows)] = err.message(lang())
        return render_dossier(code, open_action=action, values=values, errors=errors, status=err.status)
    label = action_labels()[action]
    flash(_("Đã thực hiện “%(action)s” cho hồ sơ %(code)s.", action=label, code=code), "success")
    return redirect(url_for("dossiers.detail", code=code))


# --- attachments --------------------------------------------------------------------------------


@bp.get("/dossiers/<code>/attachments/<sha256>")
@requires("dossier.read")
def attachment(code: str, sha256: str) -> BaseResponse:
    """Show a scan in the browser (PDF, JPEG, PNG), or download it with ?download=1."""
    state = actions.find_state(box(), code)
    found = next((a for a in state["attachments"] if a["sha256"] == sha256), None)
    missing = NotFoundError(
        "Hồ sơ không có tệp đính kèm này.", "The dossier has no such attachment.", code="attachment_not_found"
    )
    if found is None:
        raise missing
    path = open_blob(box(), sha256)
    if not path.exists():
        raise missing
    response = send_file(
        path,
        mimetype=found["content_type"],
        as_attachment=request.args.get("download") == "1",
        download_name=found["name"],
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
