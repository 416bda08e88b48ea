"""The officer's counter: call the next number, call again, no-show, start, finish, transfer."""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from edge import queue
from edge.errors import EdgeError
from ui.web.common import box, current_user, lang, requires

bp = Blueprint("desk", __name__)
ACTIONS = ("recall", "no_show", "start", "finish", "transfer")


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
    return render_template(
        "desk/index.html",
        counter=counter,
        counters=queue.list_counters(db, active_only=True),
        services=queue.list_services(db),
        current=queue.at_counter(db, counter, box().now()),
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
        else:
            to = request.form.get("to", "")
            if to.startswith("counter:") and to[8:].isdigit():
                queue.transfer(db, ticket_id, counter=int(to[8:]))
            else:
                queue.transfer(db, ticket_id, service=to.removeprefix("service:") or None)
    except EdgeError as err:
        flash(err.message(lang()), "error")
    return redirect(url_for("desk.index"))
