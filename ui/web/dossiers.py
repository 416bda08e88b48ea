"""The dossier list (filters, search, paging) and the dossier page (fields, papers, timeline, actions).

Every rule is edge's: the list reads `edge.queries.list_dossiers` (keyset paging, no count over
the box), the page reads `get_dossier`, and each action form is turned into the body
`edge.actions.act` takes; edge's ValidationError fields are mapped back onto the form's inputs.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from edge import actions
from edge.attachments import open_blob
from edge.calendar import TZ
from edge.dates import read_day
from edge.errors import NotFoundError, PermissionDeniedError, TransitionError, ValidationError
from edge.lifecycle import STATUSES
from edge.procedures import list_procedures
from edge.queries import ListQuery, get_dossier, is_due_soon, list_dossiers, parse_status
from edge.users import require
from ui.web.common import box, current_user, lang, requires, status_label
from ui.web.counter import counter_context
from ui.web.dossier_view import (
    action_labels,
    assignable_staff,
    build_timeline,
    channel_labels,
    conflict_sides,
    default_values,
    form_actions,
    id_type_labels,
    kind_labels,
    load_people,
    name_of,
    outcome_labels,
    print_links,
    return_labels,
    sex_labels,
    status_choices,
)

bp = Blueprint("dossiers", __name__)

PAGE_SIZE = 50
LIST_ARGS = ("q", "status", "procedure", "assignee", "received_from", "received_to", "due", "overdue", "conflict")
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


# --- helpers ------------------------------------------------------------------------------------


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
        "assignee_name": name_of(people, item["assignee"]),
    }


@bp.get("/dossiers")
@requires("dossier.read")
def index() -> tuple[str, int]:
    """List dossiers: filters and search in the URL, newest first, "Trang sau" by cursor."""
    now = box().now()
    form = parse_list_args(request.args, now.astimezone(TZ).date())
    people = load_people()
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
        staff=assignable_staff(people),
    )
    return html, 422 if form.errors else 200


# --- the dossier page ---------------------------------------------------------------------------


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
    people = load_people()
    timeline = build_timeline(dossier, people)
    sides = conflict_sides(dossier, timeline)
    forms = default_values(dossier)
    if open_action is not None and values is not None:
        forms[open_action] = values
    html = render_template(
        "dossiers/detail.html",
        d=dossier,
        now=now,
        due_soon=not dossier["overdue"] and is_due_soon(dossier["status"], dossier["due_at"], now),
        timeline=timeline,
        sides=sides,
        status_choices=status_choices(dossier, sides),
        print_links=print_links(dossier),
        form_actions=form_actions(dossier, now),
        can_resolve=current_user().can("dossier.resolve"),
        can_act=current_user().can("dossier.act"),
        counter={**counter_context(dossier), "job_id": str(uuid.uuid4())}
        if current_user().can("dossier.act")
        else None,
        forms=forms,
        open_action=open_action,
        errors=errors or {},
        labels=action_labels(),
        kinds=kind_labels(),
        channels=channel_labels(),
        return_methods=return_labels(),
        outcomes=outcome_labels(),
        id_types=id_type_labels(),
        sexes=sex_labels(),
        staff=assignable_staff(people),
        name_of=lambda username: name_of(people, username),
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
