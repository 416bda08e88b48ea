"""The intake screen: receive a dossier at the counter, keyboard first, in under a minute.

The page works without JavaScript (pick the procedure with ?q= / ?procedure=, then fill and save);
ui/static/js/intake.js adds live search, autofill by CCCD, the live due date and a local draft.
All rules are edge's: this module only turns the form into the dict `receive_dossier` takes and
maps edge's ValidationError fields back onto the inputs.
"""

from __future__ import annotations

import re
import uuid
from itertools import groupby
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from edge import queue, ratings
from edge.applicants import last_known, normalise_id_number
from edge.attachments import attach
from edge.catalogue import Procedure
from edge.errors import EdgeError, NotFoundError, ValidationError, megabytes
from edge.intake import (
    code_for_key,
    receive_dossier,
)
from edge.procedures import get_procedure, list_procedures
from ui.web.common import box, current_user, format_date, lang, requires
from ui.web.intake_fields import (
    APPLICANT_INPUTS,
    MAX_FILES,
    OTHER_INPUTS,
    channel_labels,
    check_files,
    due_view,
    id_type_labels,
    input_for,
    kind_labels,
    precheck,
    procedure_view,
    read_birth_date,
    read_documents,
    return_labels,
    sex_labels,
)

bp = Blueprint("intake", __name__)

_MULTIPART_OVERHEAD = 256 * 1024  # the text fields and part headers around the files
_KEY = re.compile(r"[A-Za-z0-9-]{8,64}", re.ASCII)
_DOC = re.compile(r"documents\[(\d+)\](?:\.(\w+))?")


# --- labels (Vietnamese source strings, translated through the .po files) -------------------


def _(text: str, **variables: Any) -> str:
    """Translate a Vietnamese source string (flask_babel's gettext, typed)."""
    return str(gettext(text, **variables))


# --- the page ----------------------------------------------------------------------------------


def _find_procedure(code: str) -> Procedure | None:
    if not code:
        return None
    try:
        return get_procedure(box().db(), code)
    except NotFoundError:
        return None


def _messages() -> dict[str, str]:
    """Return the words intake.js shows (so they are translated with the page)."""
    return {
        "filled": _("Đã điền thông tin người nộp từ hồ sơ %(code)s (%(date)s); hãy kiểm tra lại với giấy tờ."),
        "not_found": _("Chưa có hồ sơ nào của số giấy tờ này; nhập thông tin người nộp."),
        "expired": _(
            "Phiên làm việc đã hết hạn. Dữ liệu đang nhập được giữ trên máy này; đăng nhập lại rồi mở lại trang này."
        ),
        "offline": _("Không liên lạc được với máy; kiểm tra mạng nội bộ rồi thử lại."),
        "restored": _("Đã khôi phục dữ liệu đang nhập dở lúc %(time)s."),
        "no_match": _("Không có thủ tục nào khớp; thử từ khác."),
        "matches": _("%(n)s thủ tục khớp"),
        "too_large": _("Tệp “%(name)s” quá lớn: tối đa %(size)s MB. Quét lại với độ phân giải thấp hơn."),
        "wrong_type": _("Tệp “%(name)s” không phải PDF, JPEG hoặc PNG."),
        "too_many": _("Chỉ đính kèm được tối đa %(n)s tệp mỗi lần.", n=MAX_FILES),
        "discard": _("Xóa toàn bộ dữ liệu đang nhập?"),
        "quantity": _("Số lượng"),
        "none_fees": _("Không thu phí, lệ phí."),
        "total": _("Tổng cộng"),
    }


def _render(
    values: dict[str, str],
    errors: dict[str, str],
    proc: Procedure | None,
    *,
    key: str,
    q: str = "",
    ticked: dict[int, str] | None = None,
    extra: dict[str, str] | None = None,
    fresh: bool = False,
    files_lost: bool = False,
    ticket: str = "",
    status: int = 200,
) -> tuple[str, int]:
    db = box().db()
    every = list_procedures(db)
    shown = list_procedures(db, q) if q else every
    groups = [(field, list(items)) for field, items in groupby(shown, key=lambda p: p.field)]
    view = procedure_view(proc) if proc else None
    if view is not None:
        ticked = ticked or {}
        for i, doc in enumerate(view["documents"]):
            doc["checked"] = i in ticked
            doc["quantity_value"] = ticked.get(i, str(doc["quantity"]))
    html = render_template(
        "intake/form.html",
        values=values,
        errors=errors,
        procedure=view,
        due=due_view(proc, values.get("channel", "counter")) if proc else None,
        groups=groups,
        shown_count=len(shown),
        total_procedures=len(every),
        procedures_js=[{"code": p.code, "name": p.name, "field": p.field} for p in every],
        q=q,
        key=key,
        extra=extra or {"name": "", "kind": "photocopy", "quantity": "1"},
        fresh=fresh,
        files_lost=files_lost,
        ticket=ticket,
        kinds=kind_labels(),
        channels=channel_labels(),
        return_methods=return_labels(),
        id_types=id_type_labels(),
        sexes=sex_labels(),
        max_files=MAX_FILES,
        max_bytes=box().settings.max_upload_bytes,
        max_mb=megabytes(box().settings.max_upload_bytes),
        messages=_messages(),
    )
    return html, status


@bp.get("/intake")
@requires("dossier.create")
def form() -> tuple[str, int]:
    """Show an empty intake form (with the procedure of ?procedure=, or the only match of ?q=)."""
    q = request.args.get("q", "").strip()[:100]
    # The no-JS picker sends both; its "Tìm kiếm" button means "search", not "choose".
    code = "" if request.args.get("action") == "search" else request.args.get("procedure", "").strip()
    errors: dict[str, str] = {}
    proc = _find_procedure(code)
    if code and proc is None:
        errors["procedure_code"] = _("Không có thủ tục này trong danh mục; chọn lại.")
    if proc is None and q:
        matches = list_procedures(box().db(), q)
        if len(matches) == 1:
            proc = matches[0]
    values = {"channel": "counter", "return_method": "counter", "id_type": "cccd"}
    if proc is not None:
        values["procedure_code"] = proc.code
    ticket = _ticket_id(request.args.get("ticket", ""))
    return _render(values, errors, proc, key=str(uuid.uuid4()), q=q, fresh=True, ticket=ticket)


@bp.url_value_preprocessor
def _allow_scans(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """Let a save carry several scans: each file is then held to the per-file limit by edge.

    Runs before the CSRF check reads the body, so a file just over the limit is answered next to
    the field instead of with a bare 413 page. Only for a signed-in session: others keep the app's limit.
    """
    if endpoint == "intake.save" and session.get("user"):
        request.max_content_length = box().settings.max_upload_bytes * MAX_FILES + _MULTIPART_OVERHEAD


@bp.post("/intake")
@requires("dossier.create")
def save() -> BaseResponse | tuple[str, int]:
    """Receive the dossier, attach its scans and go to its receipt."""
    form = request.form
    values = {name: form.get(name, "").strip() for name in (*APPLICANT_INPUTS, *OTHER_INPUTS)}
    values["notes"] = form.get("notes", "")
    posted_key = form.get("idempotency_key", "")
    key = posted_key if _KEY.fullmatch(posted_key) else str(uuid.uuid4())
    ticket = _ticket_id(form.get("ticket", ""))
    proc = _find_procedure(values["procedure_code"])
    errors: dict[str, str] = {}
    if not values["procedure_code"]:
        errors["procedure_code"] = _("Chưa chọn thủ tục hành chính.")
    elif proc is None:
        errors["procedure_code"] = _("Không có thủ tục này trong danh mục; chọn lại.")

    ticked = {
        i: form.get(f"doc_qty_{i}", "").strip()
        for i in range(len(proc.documents) if proc else 0)
        if form.get(f"doc_{i}")
    }
    extra = {
        "name": form.get("extra_name", "").strip(),
        "kind": form.get("extra_kind", "photocopy"),
        "quantity": form.get("extra_qty", "1").strip() or "1",
    }
    documents, doc_inputs = read_documents(proc, ticked, extra, errors)
    birth = read_birth_date(values["date_of_birth"], errors)
    data: dict[str, Any] = {
        "procedure_code": values["procedure_code"],
        "applicant": {name: values[name] or None for name in APPLICANT_INPUTS} | {"date_of_birth": birth},
        "documents": documents,
        "channel": values["channel"] or "counter",
        "return_method": values["return_method"] or "counter",
        "return_address": values["return_address"] or None,
        "notes": values["notes"] or None,
    }
    data["applicant"]["id_type"] = values["id_type"] or "cccd"
    precheck(data, doc_inputs, errors)
    files = [f for f in request.files.getlist("scans") if f.filename]
    file_error = check_files(files)
    if file_error:
        errors["scans"] = file_error

    def again(status: int = 422) -> tuple[str, int]:
        return _render(
            values,
            errors,
            proc,
            key=key,
            ticked=ticked,
            extra=extra,
            files_lost=bool(files),
            ticket=ticket,
            status=status,
        )

    if errors:
        return again()
    saved_before = dossier_for_key(key) is not None
    try:
        state = receive_dossier_from_form(data, key)
    except ValidationError as err:
        errors[input_for(err.field, doc_inputs)] = err.message(lang())
        return again()
    code = state["code"]
    flash(_("Đã tiếp nhận hồ sơ %(code)s.", code=code), "success")
    if ticket:
        _link_ticket(ticket, state["dossier_id"])
    refused = False
    if not saved_before:  # on a double submit the first request attached the scans already
        for upload in files:
            try:
                attach(box(), current_user(), code, upload.stream, upload.filename, _source())
            except EdgeError as err:
                refused = True
                flash(
                    _(
                        "Hồ sơ %(code)s đã được lưu, nhưng tệp “%(name)s” chưa được đính kèm: %(reason)s",
                        code=code,
                        name=upload.filename or "",
                        reason=err.message(lang()),
                    ),
                    "error",
                )
    return redirect(after_save_url(code, refused))


def _ticket_id(raw: str) -> str:
    """Return the queue ticket id the form was opened for ('' when none or malformed)."""
    return raw if _KEY.fullmatch(raw) else ""


def _link_ticket(ticket_id: str, dossier_id: str) -> None:
    """Link the saved dossier to the queue ticket it was received from; the counter's rating follows."""
    db = box().db()
    try:
        ticket = queue.link_dossier(db, ticket_id, dossier_id)
    except EdgeError as err:  # the dossier is saved; only the link is missing
        flash(_("Chưa gắn được hồ sơ với số thứ tự: %(reason)s", reason=err.message(lang())), "error")
        return
    if ticket.get("counter"):
        ratings.set_counter_subject(
            db, int(ticket["counter"]), ticket=ticket_id, dossier_id=dossier_id,
            officer=current_user().username, now=box().now(),
        )  # fmt: skip


def receive_dossier_from_form(data: dict[str, Any], key: str) -> dict[str, Any]:
    """Hand the dossier to edge (one transaction; the key makes a double submit one dossier)."""
    return receive_dossier(box(), current_user(), data, _source(), idempotency_key=key)


def after_save_url(code: str, refused: bool = False) -> str:
    """Return the receipt print view, else the dossier page, else a fresh intake form.

    The print view shows no flashed messages: when a scan was refused the officer goes where the
    message is shown (the dossier page, where the scan can be attached again).
    """
    views = current_app.view_functions
    if "prints.receipt" in views and not refused:
        return url_for("prints.receipt", code=code, saved=1)
    if "dossiers.detail" in views:
        return url_for("dossiers.detail", code=code)
    return url_for("intake.form")


def _source() -> str:
    return request.remote_addr or ""


# Stand-ins that edge accepts, put in place of a value already found wrong so that the next
# call of parse_applicant reports the next wrong field: the officer sees every message at once.


def dossier_for_key(key: str) -> str | None:
    """Return the code of the dossier an idempotency key already made, or None."""
    return code_for_key(box().db(), key)


# --- JSON helpers for intake.js (GET only, session-authenticated like the page) ----------------


@bp.get("/intake/applicant")
@requires("dossier.create")
def applicant() -> Response:
    """Return the applicant of the last dossier with this ID number: {"found": bool, ...}."""
    if normalise_id_number(request.args.get("id_number", "")) is None:
        return jsonify(found=False)
    found = last_known(box().db(), request.args.get("id_number", ""))
    if found is None:
        return jsonify(found=False, message=_messages()["not_found"])
    person = dict(found.applicant)
    person["date_of_birth_text"] = format_date(person.get("date_of_birth"))
    when = format_date(found.received_at or found.created_at)
    return jsonify(
        found=True,
        applicant=person,
        code=found.code,
        message=_messages()["filled"] % {"code": found.code, "date": when},
    )


@bp.get("/intake/procedure")
@requires("dossier.create")
def procedure() -> Response | tuple[Response, int]:
    """Return a procedure's processing time, fees and document checklist, with the due date."""
    proc = _find_procedure(request.args.get("code", "").strip())
    if proc is None:
        return jsonify(error=_("Không có thủ tục này trong danh mục; chọn lại.")), 404
    channel = request.args.get("channel", "counter")
    return jsonify(procedure=procedure_view(proc), due=due_view(proc, channel))


@bp.get("/intake/due-date")
@requires("dossier.create")
def due_date() -> Response | tuple[Response, int]:
    """Return the due date a dossier of this procedure would get if saved now."""
    proc = _find_procedure(request.args.get("procedure_code", "").strip())
    if proc is None:
        return jsonify(error=_("Không có thủ tục này trong danh mục; chọn lại.")), 404
    return jsonify(due_view(proc, request.args.get("channel", "counter")))


@bp.get("/intake/saved")
@requires("dossier.create")
def saved() -> Response:
    """Tell intake.js whether the form with this key was saved already (its draft can go)."""
    key = request.args.get("key", "")
    code = dossier_for_key(key) if _KEY.fullmatch(key) else None
    return jsonify(saved=code is not None, code=code)
