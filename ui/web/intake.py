"""The intake screen: receive a dossier at the counter, keyboard first, in under a minute.

The page works without JavaScript (pick the procedure with ?q= / ?procedure=, then fill and save);
ui/static/js/intake.js adds live search, autofill by CCCD, the live due date and a local draft.
All rules are edge's: this module only turns the form into the dict `receive_dossier` takes and
maps edge's ValidationError fields back onto the inputs.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
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
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response as BaseResponse

from edge.applicants import last_known, normalise_id_number
from edge.attachments import attach, file_too_large, sniff
from edge.catalogue import Procedure, parse_document
from edge.errors import EdgeError, NotFoundError, ValidationError, megabytes
from edge.intake import (
    CHANNELS,
    RETURN_METHODS,
    choice,
    code_for_key,
    due_for,
    parse_applicant,
    procedure_snapshot,
    receive_dossier,
)
from edge.procedures import get_procedure, list_procedures
from edge.text import clean_address, clean_free_text
from ui.web.common import box, current_user, format_date, format_datetime, format_money, lang, requires

bp = Blueprint("intake", __name__)

MAX_FILES = 10  # scans per save; each is also held to the box's per-file limit
_MULTIPART_OVERHEAD = 256 * 1024  # the text fields and part headers around the files
_KEY = re.compile(r"[A-Za-z0-9-]{8,64}", re.ASCII)
APPLICANT_INPUTS = ("id_number", "id_type", "full_name", "date_of_birth", "sex", "phone", "email", "address")
OTHER_INPUTS = ("procedure_code", "channel", "return_method", "return_address", "notes")
_DOC = re.compile(r"documents\[(\d+)\](?:\.(\w+))?")


# --- labels (Vietnamese source strings, translated through the .po files) -------------------


def _(text: str, **variables: Any) -> str:
    """Translate a Vietnamese source string (flask_babel's gettext, typed)."""
    return str(gettext(text, **variables))


def kind_labels() -> dict[str, str]:
    """Return the document kinds as shown on the checklist."""
    return {"original": _("Bản chính"), "certified_copy": _("Bản sao chứng thực"), "photocopy": _("Bản sao")}


def _fee_kind_labels() -> dict[str, str]:
    return {"fee": _("Phí"), "charge": _("Lệ phí")}


def channel_labels() -> dict[str, str]:
    """Return how a dossier can be filed."""
    return {"counter": _("Tại quầy"), "online": _("Trực tuyến"), "post": _("Qua bưu chính")}


def return_labels() -> dict[str, str]:
    """Return how the result can be handed over."""
    return {"counter": _("Tại quầy"), "post": _("Qua bưu chính")}


def id_type_labels() -> dict[str, str]:
    """Return the kinds of ID document, CCCD first."""
    return {"cccd": _("CCCD"), "cmnd": _("CMND (9 số)"), "passport": _("Hộ chiếu")}


def sex_labels() -> dict[str, str]:
    """Return the sexes as shown in the form."""
    return {"male": _("Nam"), "female": _("Nữ")}


def _number(value: float) -> str:
    """Write 3 as "3" and 1.5 as "1,5" (Vietnamese decimal comma)."""
    return f"{value:g}".replace(".", ",")


def processing_text(proc: Procedure) -> str:
    """Return the legal processing time in words: "3 ngày làm việc", "Trong ngày"."""
    days = float(proc.processing_days)
    if days == 0:
        if proc.same_day_cutoff:
            return _("Trong ngày (nhận sau %(time)s trả vào ngày làm việc tiếp theo)", time=proc.same_day_cutoff)
        return _("Trong ngày")
    if days < 1:
        return _("%(n)s giờ làm việc", n=_number(days * 8))
    return _("%(n)s ngày làm việc", n=_number(days))


def procedure_view(proc: Procedure) -> dict[str, Any]:
    """Return what the page shows of a procedure (also the JSON the page fetches)."""
    kinds, fee_kinds = kind_labels(), _fee_kind_labels()
    return {
        "code": proc.code,
        "name": proc.name,
        "field": proc.field,
        "processing": processing_text(proc),
        "fees": [
            {"name": f.name, "kind": fee_kinds.get(f.kind, f.kind), "amount": f.amount, "text": format_money(f.amount)}
            for f in proc.fees
        ],
        "total_fees": proc.total_fees,
        "total_text": format_money(proc.total_fees),
        "documents": [
            {"name": d.name, "kind": d.kind, "kind_label": kinds.get(d.kind, d.kind), "quantity": d.quantity}
            for d in proc.documents
        ],
    }


def due_view(proc: Procedure, channel: str = "counter") -> dict[str, Any]:
    """Return the due date the dossier would get if saved now."""
    if channel == "online":
        # An online dossier waits to be received; its clock starts then (edge.intake).
        return {"due_at": None, "text": "", "label": _("Hồ sơ nộp trực tuyến: ngày hẹn trả được tính khi tiếp nhận.")}
    due = due_for(box(), procedure_snapshot(proc), box().now())
    text = format_datetime(due)
    return {"due_at": due.isoformat(), "text": text, "label": _("Ngày hẹn trả dự kiến: %(when)s", when=text)}


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
    return _render(values, errors, proc, key=str(uuid.uuid4()), q=q, fresh=True)


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
    documents, doc_inputs = _documents(proc, ticked, extra, errors)
    birth = _birth_date(values["date_of_birth"], errors)
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
    _precheck(data, doc_inputs, errors)
    files = [f for f in request.files.getlist("scans") if f.filename]
    file_error = _check_files(files)
    if file_error:
        errors["scans"] = file_error

    def again(status: int = 422) -> tuple[str, int]:
        return _render(values, errors, proc, key=key, ticked=ticked, extra=extra, files_lost=bool(files), status=status)

    if errors:
        return again()
    saved_before = dossier_for_key(key) is not None
    try:
        state = receive_dossier_from_form(data, key)
    except ValidationError as err:
        errors[_input_for(err.field, doc_inputs)] = err.message(lang())
        return again()
    code = state["code"]
    flash(_("Đã tiếp nhận hồ sơ %(code)s.", code=code), "success")
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


def _documents(
    proc: Procedure | None, ticked: dict[int, str], extra: dict[str, str], errors: dict[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the ticked documents and, for each, the input its errors belong to."""
    documents: list[dict[str, Any]] = []
    inputs: list[str] = []
    for i, quantity in sorted(ticked.items()):
        assert proc is not None
        spec = proc.documents[i]
        documents.append(
            {"name": spec.name, "kind": spec.kind, "quantity": _quantity(quantity, f"doc_qty_{i}", errors)}
        )
        inputs.append(f"doc_qty_{i}")
    if extra["name"]:
        documents.append(
            {
                "name": extra["name"],
                "kind": extra["kind"],
                "quantity": _quantity(extra["quantity"], "extra_qty", errors),
            }
        )
        inputs.append("extra_name")
    if proc is not None and proc.documents and not documents:
        errors["documents"] = _("Chưa đánh dấu thành phần hồ sơ nào đã nhận.")
    return documents, inputs


def _quantity(text: str, name: str, errors: dict[str, str]) -> int:
    if re.fullmatch(r"[0-9]{1,3}", text):
        return int(text)  # edge checks the range (1–99)
    errors[name] = _("Số lượng phải là số nguyên từ 1 đến 99.")
    return 1


def _birth_date(text: str, errors: dict[str, str]) -> str | None:
    """Return dd/mm/yyyy, ddmmyyyy or yyyy-mm-dd as ISO text for edge, or None when blank."""
    if not text:
        return None
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return text  # the date picker's form; edge checks it
    match = re.fullmatch(r"([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4})", text) or re.fullmatch(
        r"([0-9]{2})([0-9]{2})([0-9]{4})", text
    )
    if match is None:
        errors["date_of_birth"] = _("Ngày sinh phải viết dạng ngày/tháng/năm, ví dụ 31/05/1990.")
        return None
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        errors["date_of_birth"] = _("Ngày %(value)s không tồn tại; hãy kiểm tra lại ngày và tháng.", value=text)
        return None


# Stand-ins that edge accepts, put in place of a value already found wrong so that the next
# call of parse_applicant reports the next wrong field: the officer sees every message at once.
_STAND_INS: dict[str, dict[str, Any]] = {
    "applicant.full_name": {"full_name": "An"},
    "applicant.id_type": {"id_type": "passport", "id_number": "C1234567"},
    "applicant.id_number": {"id_type": "passport", "id_number": "C1234567"},
    "applicant.date_of_birth": {"date_of_birth": None},
    "applicant.sex": {"sex": None},
    "applicant.phone": {"phone": None},
    "applicant.email": {"email": None},
    "applicant.address": {"address": None},
}


def _precheck(data: dict[str, Any], doc_inputs: list[str], errors: dict[str, str]) -> None:
    """Collect edge's messages for every wrong field (receive_dossier stops at the first)."""
    applicant = dict(data["applicant"])
    if "date_of_birth" in errors:
        applicant["date_of_birth"] = None
    for _round in range(len(_STAND_INS) + 1):
        try:
            parse_applicant(applicant, box().now())
            break
        except ValidationError as err:
            errors.setdefault(_input_for(err.field, doc_inputs), err.message(lang()))
            if err.field not in _STAND_INS:
                break
            applicant.update(_STAND_INS[err.field])
    for k, doc in enumerate(data["documents"]):
        _collect(errors, doc_inputs, parse_document, doc, f"documents[{k}]")
    _collect(errors, doc_inputs, choice, data["channel"], CHANNELS, "channel")
    _collect(errors, doc_inputs, choice, data["return_method"], RETURN_METHODS, "return_method")
    if data["return_method"] == "post" and data["return_address"]:
        _collect(errors, doc_inputs, clean_address, data["return_address"], "return_address")
    if data["notes"]:
        _collect(errors, doc_inputs, lambda v, f: clean_free_text(v, f, required=False), data["notes"], "notes")


def _collect(errors: dict[str, str], doc_inputs: list[str], check: Any, *args: Any) -> None:
    try:
        check(*args)
    except ValidationError as err:
        errors.setdefault(_input_for(err.field, doc_inputs), err.message(lang()))


def _input_for(field: str | None, doc_inputs: list[str]) -> str:
    """Return the form input a ValidationError field (dotted path) belongs to."""
    if not field:
        return "form"
    if field.startswith("applicant."):
        name = field.split(".", 1)[1]
        return name if name in APPLICANT_INPUTS else "form"
    if field == "applicant":
        return "full_name"
    match = _DOC.fullmatch(field)
    if match:
        k = int(match[1])
        if k < len(doc_inputs):
            target = doc_inputs[k]
            if target == "extra_name" and match[2] == "quantity":
                return "extra_qty"
            return target
        return "documents"
    if field in OTHER_INPUTS or field == "documents":
        return field
    if field == "file":
        return "scans"
    return "form"


def _check_files(files: list[FileStorage]) -> str | None:
    """Refuse, before anything is saved, a scan that edge would refuse (too large, wrong type)."""
    if len(files) > MAX_FILES:
        return _("Chỉ đính kèm được tối đa %(n)s tệp mỗi lần.", n=MAX_FILES)
    limit = box().settings.max_upload_bytes
    for upload in files:
        stream = upload.stream
        head = stream.read(16)
        stream.seek(0, 2)
        size = stream.tell()
        stream.seek(0)
        name = upload.filename or ""
        if size > limit:
            return _("Tệp “%(name)s”: %(reason)s", name=name, reason=file_too_large(limit).message(lang()))
        if size == 0 or sniff(head) is None:
            return _("Tệp “%(name)s” không phải PDF, JPEG hoặc PNG; chỉ nhận tệp PDF, JPEG hoặc PNG.", name=name)
    return None


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
