"""The kiosk: a citizen presses a service's button and gets a numbered ticket, printed or shown."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from edge import printing, queue
from edge.errors import EdgeError
from edge.lookup import lookup as find_dossier
from edge.ports import Document
from ui.web.common import box, current_user, lang, requires
from ui.web.devices import wake_printer

bp = Blueprint("kiosk", __name__)
PRINT_WAIT_S = 4.0  # the citizen waits this long for the paper before the screen says "remember your number"


@bp.get("/kiosk")
@requires("kiosk.use")
def index() -> str:
    """Big buttons, one per service, and the priority groups."""
    db = box().db()
    return render_template(
        "kiosk/index.html", services=queue.list_services(db), priorities=queue.priorities(db), en=lang() == "en"
    )


@bp.post("/kiosk/ticket")
@requires("kiosk.use")
def ticket() -> tuple[str, int]:
    """Issue the ticket, send it to the ticket printer, and show the number whatever the printer does."""
    db = box().db()
    now = box().now()
    try:
        issued = queue.issue_ticket(db, request.form.get("service"), now, request.form.get("priority") or None)
    except EdgeError as err:
        page = render_template(
            "kiosk/index.html", services=queue.list_services(db), priorities=queue.priorities(db), en=lang() == "en",
            error=err.message(lang()),
        )  # fmt: skip
        return page, 422
    name = next((s["name"] for s in queue.list_services(db) if s["code"] == issued["service"]), issued["service"])
    printed, problem = False, None
    try:
        job = printing.enqueue(
            db, "ticket_printer",
            Document("ticket", {"office": box().settings.name, "number": issued["number"], "service": name,
                                "issued_at": now.strftime("%d/%m/%Y %H:%M"), "ahead": issued["waiting_ahead"]}),
            current_user().username,
        )  # fmt: skip
        wake_printer()
        done = printing.wait_for(db, job, PRINT_WAIT_S)
        printed = done["state"] == "printed"
        problem = None if printed else (done["reason_en"] if lang() == "en" else done["reason_vi"]) or done["state_vi"]
    except EdgeError as err:  # the ticket is issued all the same: the screen shows it
        problem = err.message(lang())
    return render_template(
        "kiosk/ticket.html", ticket=issued, service_name=name, printed=printed, problem=problem,
        message=_("Mời ông/bà nhận phiếu.") if printed else _("Máy in chưa in được phiếu: xin ghi nhớ số của ông/bà."),
    ), 201  # fmt: skip


@bp.route("/kiosk/lookup", methods=["GET", "POST"])
@requires("kiosk.use")
def lookup() -> tuple[str, int]:
    """Tra cứu hồ sơ: the receipt's QR code (a USB scanner types it), or the code and the phone's last 4 digits."""
    if request.method == "GET":
        return render_template("kiosk/lookup.html", found=None, error=None), 200
    scanned = request.form.get("mode") == "scan"
    try:
        found = find_dossier(
            box().db(), request.form.get("code"), request.form.get("phone_last4"), box().now(), scanned=scanned
        )
    except EdgeError as err:
        return render_template("kiosk/lookup.html", found=None, error=err.message(lang())), err.status
    return render_template("kiosk/lookup.html", found=found, error=None), 200
