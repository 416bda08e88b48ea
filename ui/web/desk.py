"""The officer's counter: call the next number, call again, no-show, start, finish, transfer.

Calling a number tells the box what the counter serves (edge/ratings.counter_subjects), so a press on
the counter's rating keypad rates that ticket and officer; the dossier received from the ticket (on
the intake form opened from here, or typed in by its code) is linked to it and to the rating.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from edge import queue, ratings
from edge.errors import EdgeError, ValidationError
from edge.queries import get_dossier
from ui.web.common import box, current_user, lang, requires

bp = Blueprint("desk", __name__)
ACTIONS = ("recall", "no_show", "start", "finish", "transfer", "link")


def _counter() -> int:
    """The counter this officer sits at (chosen on the page, kept in the session)."""
    chosen = request.args.get("n") or session.get("counter") or 1
    try:
        number = int(chosen)
    except (TypeError, ValueError):
        number = 1
    known = [c["number"] for c in queue.list_counters(box().db(), active_only=True)]  # a closed one is not offered
    number = number if number in known else (known[0] if known else 1)
    session["counter"] = number
    return number


@bp.get("/counter")
@requires("queue.call")
def index() -> str:
    """The counter's screen: the ticket in hand, who waits, and the actions."""
    db = box().db()
    counter = _counter()
    waiting = queue.waiting(db, box().now())
    current = queue.at_counter(db, counter, box().now())
    return render_template(
        "desk/index.html",
        counter=counter,
        counters=queue.list_counters(db, active_only=True),
        services=queue.list_services(db),
        current=current,
        linked_code=linked_code(current),
        waiting=Counter(t["service"] for t in waiting),
        waiting_total=len(waiting),
    )


@bp.post("/counter/<int:counter>/call-next")
@requires("queue.call")
def call_next(counter: int) -> BaseResponse:
    """Call the next waiting ticket this counter serves."""
    try:
        ticket = queue.call_next(box().db(), counter, current_user().username, box().now())
        if ticket is None:
            flash(_("Không còn ai chờ các dịch vụ của quầy này."), "success")
        else:
            serve(ticket)
            flash(_("Mời số %(number)s đến quầy số %(counter)s.", number=ticket["number"], counter=counter), "success")
    except EdgeError as err:
        flash(err.message(lang()), "error")
    return redirect(url_for("desk.index", n=counter))


@bp.post("/counter/tickets/<ticket_id>/<action>")
@requires("queue.call")
def act(ticket_id: str, action: str) -> BaseResponse:
    """Do one action on the ticket in hand."""
    if action not in ACTIONS:
        abort(404)
    db, now = box().db(), box().now()
    try:
        if action == "recall":
            queue.recall(db, ticket_id, now)
        elif action == "no_show":
            queue.no_show(db, ticket_id, now)
        elif action == "start":
            queue.start(db, ticket_id, now)
        elif action == "finish":
            queue.finish(db, ticket_id, now)
        elif action == "link":
            link(ticket_id, request.form.get("code", ""))
        else:
            to = request.form.get("to", "")
            if to.startswith("counter:") and to[8:].isdigit():
                queue.transfer(db, ticket_id, counter=int(to[8:]))
            else:
                queue.transfer(db, ticket_id, service=to.removeprefix("service:") or None)
    except EdgeError as err:
        flash(err.message(lang()), "error")
    return redirect(url_for("desk.index"))


def linked_code(ticket: dict[str, Any] | None) -> str | None:
    """Return the code of the dossier linked to a ticket, if any."""
    if not ticket or not ticket.get("dossier_id"):
        return None
    row = box().db().execute("SELECT code FROM dossiers WHERE dossier_id = ?", [ticket["dossier_id"]]).fetchone()
    return row[0] if row else None


def serve(ticket: dict[str, Any]) -> None:
    """Say the counter now serves this ticket (and its dossier, when linked), for the rating keypad."""
    ratings.set_counter_subject(
        box().db(),
        int(ticket["counter"]),
        ticket=ticket["id"],
        dossier_id=ticket.get("dossier_id"),
        officer=current_user().username,
        now=box().now(),
    )


def link(ticket_id: str, code: str) -> dict[str, Any]:
    """Link the dossier with this code to the ticket; the counter's subject follows."""
    code = code.strip()
    if not code:
        raise ValidationError("Nhập mã hồ sơ để gắn với số thứ tự.", "Enter the dossier code to link.", field="code")
    dossier = get_dossier(box().db(), code, box().now())
    ticket = queue.link_dossier(box().db(), ticket_id, dossier["dossier_id"])
    if ticket.get("counter"):
        serve(ticket)
    flash(_("Đã gắn hồ sơ %(code)s với số %(number)s.", code=dossier["code"], number=ticket["number"]), "success")
    return ticket
