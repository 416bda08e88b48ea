"""The intake form's words and fields: labels, the procedure panel, and reading the posted form."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import gettext
from werkzeug.datastructures import FileStorage

from edge.attachments import file_too_large, sniff
from edge.catalogue import Procedure, parse_document
from edge.dossier_fields import CHANNELS, RETURN_METHODS, choice, parse_applicant, procedure_snapshot
from edge.errors import ValidationError
from edge.intake import due_for
from edge.text import clean_address, clean_free_text
from ui.web.common import box, format_datetime, format_money, lang

APPLICANT_INPUTS = ("id_number", "id_type", "full_name", "date_of_birth", "sex", "phone", "email", "address")
OTHER_INPUTS = ("procedure_code", "channel", "return_method", "return_address", "notes")
MAX_FILES = 10  # scans per save; each is also held to the box's per-file limit
_DOC = re.compile(r"documents\[(\d+)\](?:\.(\w+))?")


def _(text: str, **variables: Any) -> str:
    """Translate a Vietnamese source string (flask_babel's gettext, typed)."""
    return str(gettext(text, **variables))


def kind_labels() -> dict[str, str]:
    """Return the document kinds as shown on the checklist."""
    return {"original": _("Bản chính"), "certified_copy": _("Bản sao chứng thực"), "photocopy": _("Bản sao")}


def fee_kind_labels() -> dict[str, str]:
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


def number(value: float) -> str:
    """Write 3 as "3" and 1.5 as "1,5" (a decimal comma in Vietnamese, a point in English)."""
    text = f"{value:g}"
    return text if lang() == "en" else text.replace(".", ",")


def processing_text(proc: Procedure) -> str:
    """Return the legal processing time in words: "3 ngày làm việc", "Trong ngày"."""
    days = float(proc.processing_days)
    if days == 0:
        if proc.same_day_cutoff:
            return _("Trong ngày (nhận sau %(time)s trả vào ngày làm việc tiếp theo)", time=proc.same_day_cutoff)
        return _("Trong ngày")
    if days < 1:
        return _("%(n)s giờ làm việc", n=number(days * 8))
    return _("%(n)s ngày làm việc", n=number(days))


def procedure_view(proc: Procedure) -> dict[str, Any]:
    """Return what the page shows of a procedure (also the JSON the page fetches)."""
    kinds, fee_kinds = kind_labels(), fee_kind_labels()
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


def read_documents(
    proc: Procedure | None, ticked: dict[int, str], extra: dict[str, str], errors: dict[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the ticked documents and, for each, the input its errors belong to."""
    documents: list[dict[str, Any]] = []
    inputs: list[str] = []
    for i, quantity in sorted(ticked.items()):
        assert proc is not None
        spec = proc.documents[i]
        documents.append(
            {"name": spec.name, "kind": spec.kind, "quantity": read_quantity(quantity, f"doc_qty_{i}", errors)}
        )
        inputs.append(f"doc_qty_{i}")
    if extra["name"]:
        documents.append(
            {
                "name": extra["name"],
                "kind": extra["kind"],
                "quantity": read_quantity(extra["quantity"], "extra_qty", errors),
            }
        )
        inputs.append("extra_name")
    if proc is not None and proc.documents and not documents:
        errors["documents"] = _("Chưa đánh dấu thành phần hồ sơ nào đã nhận.")
    return documents, inputs


def read_quantity(text: str, name: str, errors: dict[str, str]) -> int:
    if re.fullmatch(r"[0-9]{1,3}", text):
        return int(text)  # edge checks the range (1–99)
    errors[name] = _("Số lượng phải là số nguyên từ 1 đến 99.")
    return 1


def read_birth_date(text: str, errors: dict[str, str]) -> str | None:
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


def precheck(data: dict[str, Any], doc_inputs: list[str], errors: dict[str, str]) -> None:
    """Collect edge's messages for every wrong field (receive_dossier stops at the first)."""
    applicant = dict(data["applicant"])
    if "date_of_birth" in errors:
        applicant["date_of_birth"] = None
    for _round in range(len(_STAND_INS) + 1):
        try:
            parse_applicant(applicant, box().now())
            break
        except ValidationError as err:
            errors.setdefault(input_for(err.field, doc_inputs), err.message(lang()))
            if err.field not in _STAND_INS:
                break
            applicant.update(_STAND_INS[err.field])
    for k, doc in enumerate(data["documents"]):
        collect(errors, doc_inputs, parse_document, doc, f"documents[{k}]")
    collect(errors, doc_inputs, choice, data["channel"], CHANNELS, "channel")
    collect(errors, doc_inputs, choice, data["return_method"], RETURN_METHODS, "return_method")
    if data["return_method"] == "post" and data["return_address"]:
        collect(errors, doc_inputs, clean_address, data["return_address"], "return_address")
    if data["notes"]:
        collect(errors, doc_inputs, lambda v, f: clean_free_text(v, f, required=False), data["notes"], "notes")


def collect(errors: dict[str, str], doc_inputs: list[str], check: Any, *args: Any) -> None:
    try:
        check(*args)
    except ValidationError as err:
        errors.setdefault(input_for(err.field, doc_inputs), err.message(lang()))


def input_for(field: str | None, doc_inputs: list[str]) -> str:
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


def check_files(files: list[FileStorage]) -> str | None:
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


# Valid stand-ins for applicant fields already found wrong, so the next check can run too.
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
