"""The paper forms of the one-stop office: which forms exist, and what each shows for a dossier.

The set follows Circular 01/2018/TT-VPCP (forms 01–06 of Decree 61/2018/NĐ-CP). The law is
changing (Decree 118/2025/NĐ-CP, Circular 03/2025/TT-VPCP): numbers, titles, paper sizes and
the office's name live in `FORMS` and the constants below, so following it means editing data
here, not the views. The builders turn a dossier (edge.queries.get_dossier) into the plain
values a print template shows, and refuse a form that does not apply to the dossier's state.
This module holds no UI text of its own: the forms are legal papers and stay in Vietnamese
whatever the officer's screen language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from edge.calendar import TZ
from edge.catalogue import DOCUMENT_KIND_LABELS, FEE_KIND_LABELS
from edge.errors import NotFoundError, TransitionError

LEGAL_BASIS = "Thông tư số 01/2018/TT-VPCP"
OFFICE_NAME = "Bộ phận tiếp nhận và trả kết quả"
BLANK = "…………………"  # a value the paper leaves to be written by hand
DEFAULT_SETS = 1  # the intake records no number of sets: one set is what the counter receives


@dataclass(frozen=True)
class FormSpec:
    """One legal form: its key (the print endpoint), number, title, paper and number symbol."""

    key: str
    number: str
    title: str
    paper: str  # "A5" (portrait) or "A4-landscape"
    symbol: str  # the part after the slash in "Số: 251126-0001/TN"


FORMS: tuple[FormSpec, ...] = (
    FormSpec("receipt", "01", "Giấy tiếp nhận hồ sơ và hẹn trả kết quả", "A5", "TN"),
    FormSpec("supplement", "02", "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ", "A5", "BS"),
    FormSpec("refusal", "03", "Phiếu từ chối tiếp nhận giải quyết hồ sơ", "A5", "TC"),
    FormSpec("apology", "04", "Phiếu xin lỗi và hẹn lại ngày trả kết quả", "A5", "XL"),
    FormSpec("control", "05", "Phiếu kiểm soát quá trình giải quyết hồ sơ", "A5", "KS"),
    FormSpec("logbook", "06", "Sổ theo dõi hồ sơ", "A4-landscape", ""),
)
FORM_BY_KEY: dict[str, FormSpec] = {f.key: f for f in FORMS}
DOSSIER_FORMS = tuple(f for f in FORMS if f.key != "logbook")

TIMELINESS = {"early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn"}
RETURN_PLACES = {
    "counter": "Trực tiếp tại " + OFFICE_NAME[0].lower() + OFFICE_NAME[1:],
    "post": "Qua dịch vụ bưu chính",
}
_UNIT = re.compile(r"^(ủy ban nhân dân|uỷ ban nhân dân|ubnd)?\s*(xã|phường|thị trấn|đặc khu)?\s+", re.IGNORECASE)


class FormUnavailable(TransitionError):
    """A form that does not apply to the dossier in its current state."""

    default_code = "form_not_applicable"


@dataclass(frozen=True)
class Office:
    """Who issues the forms: the agency's name, the place written beside the date, officers' names."""

    agency: str
    place: str
    names: Callable[[str | None], str]


@dataclass(frozen=True)
class Header:
    """The legal header of a form: agency, office, number, motto, place and date."""

    agency: str
    office: str
    number: str
    place_date: str
    form_number: str
    legal_basis: str = LEGAL_BASIS


@dataclass(frozen=True)
class Handover:
    """One row of the process control sheet: who gave the dossier to whom, when, and how timely."""

    no: int
    giver: str
    receiver: str
    at: str
    result: str = ""
    note: str = ""


@dataclass
class Paper:
    """Everything one form shows: the spec, the header and the form's own values."""

    spec: FormSpec
    header: Header
    values: dict[str, Any] = field(default_factory=dict)


# --- formats -------------------------------------------------------------------------------------


def local(value: str | datetime | None) -> datetime | None:
    """Return a stored moment in Vietnam time, or None."""
    if value in (None, ""):
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(TZ)


def spoken_moment(value: str | datetime | None) -> str:
    """Format a moment the way the forms write it: 14 giờ 05 phút, ngày 26/11/2026."""
    moment = local(value)
    return f"{moment:%H} giờ {moment:%M} phút, ngày {moment:%d/%m/%Y}" if moment else ""


def short_moment(value: str | datetime | None) -> str:
    """Format a moment as 26/11/2026 14:05."""
    moment = local(value)
    return moment.strftime("%d/%m/%Y %H:%M") if moment else ""


def short_date(value: str | datetime | None) -> str:
    """Format the day of a moment as 26/11/2026."""
    moment = local(value)
    return moment.strftime("%d/%m/%Y") if moment else ""


def legal_date(place: str, day: date) -> str:
    """Write "Place, ngày 05 tháng 02 năm 2026" (a zero before days under 10 and months 1 and 2)."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"{place}, ngày {day.day:02d} tháng {month} năm {day.year}"


def place_of(agency: str) -> str:
    """Return the place written beside a form's date: the commune name without "UBND xã"."""
    place = _UNIT.sub("", agency.strip(), count=1).strip()
    return place or agency.strip()


def processing_time(days: float | int | None) -> str:
    """Write the legal processing time: "Trong ngày", "5 ngày làm việc", "4 giờ làm việc"."""
    if days is None:
        return ""
    value = float(days)
    if value == 0:
        return "Trong ngày"
    if value.is_integer():
        return f"{int(value)} ngày làm việc"
    hours = value * 8  # one working day is 8 working hours
    if hours.is_integer() and value < 1:
        return f"{int(hours)} giờ làm việc"
    return f"{value:g}".replace(".", ",") + " ngày làm việc"


def form_number(spec: FormSpec, code: str) -> str:
    """Return the form's number: the dossier code's day and sequence, then the form's symbol."""
    tail = code.split("-", 1)[1] if "-" in code else code
    return f"{tail}/{spec.symbol}" if spec.symbol else tail


def timeliness(done: str | datetime | None, due: str | datetime | None) -> str:
    """Return early / on_time / late: before the due day, on it, or after the due moment ("" if unknown)."""
    finished, deadline = local(done), local(due)
    if finished is None or deadline is None:
        return ""
    if finished > deadline:
        return "late"
    return "early" if finished.date() < deadline.date() else "on_time"


# --- the forms -----------------------------------------------------------------------------------


def _header(spec: FormSpec, office: Office, code: str, day: date) -> Header:
    return Header(
        agency=office.agency,
        office=OFFICE_NAME,
        number=form_number(spec, code),
        place_date=legal_date(office.place, day),
        form_number=spec.number,
    )


def _day(value: str | datetime | None, fallback: datetime) -> date:
    moment = local(value)
    return (moment or fallback.astimezone(TZ)).date()


def _applicant(dossier: dict[str, Any]) -> dict[str, str]:
    person = dossier.get("applicant") or {}
    return {key: str(person.get(key) or "") for key in ("full_name", "address", "phone", "email", "id_number")}


def _documents(items: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [
        {
            "no": i,
            "name": str(d.get("name") or ""),
            "kind": DOCUMENT_KIND_LABELS.get(str(d.get("kind")), str(d.get("kind") or "")),
            "quantity": int(d.get("quantity") or 0),
        }
        for i, d in enumerate(items or [], start=1)
    ]


def _unavailable(spec: FormSpec, code: str, vi: str, en: str) -> FormUnavailable:
    return FormUnavailable(
        f"Không in được {spec.title[0].lower() + spec.title[1:]} cho hồ sơ {code}: {vi}",
        f"Form {spec.number} cannot be printed for dossier {code}: {en}",
    )


def why_not(key: str, dossier: dict[str, Any]) -> tuple[str, str] | None:
    """Return why a form does not apply to the dossier now (Vietnamese, English), or None."""
    if key in ("receipt", "control") and not dossier.get("received_at"):
        return "hồ sơ chưa được tiếp nhận.", "the dossier has not been received yet."
    if key == "supplement" and not dossier.get("supplement"):
        return "hồ sơ không có yêu cầu bổ sung.", "no supplement was requested for it."
    if key == "refusal" and (dossier.get("outcome") or {}).get("kind") != "refused":
        return "hồ sơ không bị từ chối tiếp nhận.", "it was not refused."
    if key == "apology" and not dossier.get("reschedules"):
        return "hồ sơ chưa được xin lỗi và hẹn lại ngày trả kết quả.", "it was never rescheduled."
    return None


def available_forms(dossier: dict[str, Any]) -> list[FormSpec]:
    """Return the forms that can be printed for the dossier in its current state."""
    return [spec for spec in DOSSIER_FORMS if why_not(spec.key, dossier) is None]


def _check(key: str, dossier: dict[str, Any]) -> FormSpec:
    spec = FORM_BY_KEY[key]
    reason = why_not(key, dossier)
    if reason:
        raise _unavailable(spec, dossier["code"], *reason)
    return spec


def receipt(dossier: dict[str, Any], office: Office, logbook_line: tuple[int, int] | None) -> Paper:
    """Form 01: receipt and appointment, with documents, fees, logbook line and signatures."""
    spec = _check("receipt", dossier)
    procedure = dossier["procedure"]
    fees = [
        {"name": str(f.get("name") or ""), "kind": FEE_KIND_LABELS.get(str(f.get("kind")), ""), "amount": f["amount"]}
        for f in procedure.get("fees") or []
        if int(f.get("amount") or 0) > 0
    ]
    method = dossier.get("return_method") or "counter"
    return Paper(
        spec,
        _header(spec, office, dossier["code"], _day(dossier["received_at"], datetime.now(TZ))),
        {
            "code": dossier["code"],
            "applicant": _applicant(dossier),
            "request": procedure["name"],
            "procedure_code": procedure["code"],
            "documents": _documents(dossier.get("documents")),
            "sets": int(dossier.get("sets") or DEFAULT_SETS),
            "processing_time": processing_time(procedure.get("processing_days")),
            "received": spoken_moment(dossier["received_at"]),
            "due": spoken_moment(dossier.get("due_at")),
            "return_place": RETURN_PLACES.get(method, method),
            "return_address": (dossier.get("return_address") or "") if method == "post" else "",
            "fees": fees,
            "fees_total": sum(int(f["amount"]) for f in fees),
            "logbook_volume": logbook_line[0] if logbook_line else None,
            "logbook_no": logbook_line[1] if logbook_line else None,
            "officer": office.names(dossier.get("received_by")),
        },
    )


def supplement(dossier: dict[str, Any], office: Office) -> Paper:
    """Form 02: supplement request: what is still required, why, and whom to ask."""
    spec = _check("supplement", dossier)
    request = dossier["supplement"]
    return Paper(
        spec,
        _header(spec, office, dossier["code"], _day(request.get("requested_at"), datetime.now(TZ))),
        {
            "code": dossier["code"],
            "applicant": _applicant(dossier),
            "request": dossier["procedure"]["name"],
            "received": spoken_moment(dossier.get("received_at")),
            "missing": _documents(request.get("missing_documents")),
            "reason": str(request.get("reason") or ""),
            "officer": office.names(request.get("requested_by")),
            "requested": spoken_moment(request.get("requested_at")),
        },
    )


def _actor_of(dossier: dict[str, Any], kind: str) -> str | None:
    """Return who made the last event of a kind (the events carry the actor; the state may not)."""
    found = [e for e in dossier.get("events") or [] if e.get("kind") == kind]
    return str(found[-1]["actor"]) if found else None


def refusal(dossier: dict[str, Any], office: Office) -> Paper:
    """Form 03: refusal to receive: the request, the specific reason, the contact and signatures."""
    spec = _check("refusal", dossier)
    outcome = dossier["outcome"]
    officer = office.names(_actor_of(dossier, "refused") or dossier.get("received_by"))
    return Paper(
        spec,
        _header(spec, office, dossier["code"], _day(outcome.get("at"), datetime.now(TZ))),
        {
            "code": dossier["code"],
            "applicant": _applicant(dossier),
            "request": dossier["procedure"]["name"],
            "reason": str(outcome.get("reason") or ""),
            "refused": spoken_moment(outcome.get("at")),
            "officer": officer,
        },
    )


def apology(dossier: dict[str, Any], office: Office, which: int | None = None) -> Paper:
    """Form 04: apology and new date, for one reschedule (the last one unless `which`, from 1)."""
    spec = _check("apology", dossier)
    reschedules = dossier["reschedules"]
    if which is not None and not 1 <= which <= len(reschedules):
        raise NotFoundError(
            f"Hồ sơ {dossier['code']} không có lần hẹn lại thứ {which} (có {len(reschedules)} lần).",
            f"Dossier {dossier['code']} has no reschedule number {which} (it has {len(reschedules)}).",
            code="reschedule_not_found",
        )
    chosen = reschedules[(which or len(reschedules)) - 1]
    return Paper(
        spec,
        _header(spec, office, dossier["code"], _day(chosen.get("at"), datetime.now(TZ))),
        {
            "code": dossier["code"],
            "addressee": _applicant(dossier)["full_name"],
            "received": short_date(dossier.get("received_at")),
            "request": dossier["procedure"]["name"],
            "old_due": spoken_moment(chosen.get("old_due_at")),
            "reason": str(chosen.get("reason") or ""),
            "new_due": spoken_moment(chosen.get("new_due_at")),
            "officer": office.names(chosen.get("by")),
            "which": which or len(reschedules),
            "count": len(reschedules),
        },
    )


def handovers(dossier: dict[str, Any], office: Office) -> list[Handover]:
    """Return the control sheet's rows: each transfer, the result back to the office, the return."""
    rows: list[Handover] = []
    steps = dossier.get("steps") or []
    result_at = dossier.get("finished_at") if dossier.get("status") in ("releasing", "done") else None
    for index, step in enumerate(steps):
        # A step ends when its assignee hands the dossier on, or when the result is ready.
        ended = steps[index + 1]["at"] if index + 1 < len(steps) else result_at
        rows.append(
            Handover(
                no=len(rows) + 1,
                giver=office.names(step.get("from")),
                receiver=office.names(step.get("assignee")),
                at=spoken_moment(step.get("at")),
                result=TIMELINESS.get(timeliness(ended, step.get("step_due_at")), ""),
                note=str(step.get("note") or ""),
            )
        )
    if result_at:
        last = steps[-1]["assignee"] if steps else dossier.get("received_by")
        rows.append(
            Handover(
                no=len(rows) + 1,
                giver=office.names(last),
                receiver=OFFICE_NAME,
                at=spoken_moment(result_at),
                result=TIMELINESS.get(timeliness(result_at, dossier.get("due_at")), ""),
                note="Đã có kết quả",
            )
        )
    if dossier.get("returned_at"):
        rows.append(
            Handover(
                no=len(rows) + 1,
                giver=OFFICE_NAME,
                receiver=_applicant(dossier)["full_name"],
                at=spoken_moment(dossier["returned_at"]),
                result=TIMELINESS.get(timeliness(result_at, dossier.get("due_at")), ""),
                note="Trả kết quả",
            )
        )
    return rows


def control(dossier: dict[str, Any], office: Office, blank_rows: int = 4) -> Paper:
    """Form 05: process control sheet: one row per hand-over, blank rows left for the next ones."""
    spec = _check("control", dossier)
    rows = handovers(dossier, office)
    return Paper(
        spec,
        _header(spec, office, dossier["code"], _day(dossier["received_at"], datetime.now(TZ))),
        {
            "code": dossier["code"],
            "request": dossier["procedure"]["name"],
            "applicant": _applicant(dossier),
            "handling_agency": office.agency,
            "cooperating_agencies": "",
            "received": spoken_moment(dossier["received_at"]),
            "due": spoken_moment(dossier.get("due_at")),
            "rows": rows,
            "blank_rows": max(0, blank_rows - len(rows)) if dossier.get("status") not in ("done",) else 0,
        },
    )


def logbook_header(office: Office, today: date) -> Header:
    """Return the logbook's header (no number: the logbook is a register, not a numbered paper)."""
    spec = FORM_BY_KEY["logbook"]
    return Header(
        agency=office.agency,
        office=OFFICE_NAME,
        number="",
        place_date=legal_date(office.place, today),
        form_number=spec.number,
    )
