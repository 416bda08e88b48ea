"""The queue's admin page: services, counters and priority groups (edge.queueconfig checks and audits)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from edge import queue, queueconfig
from edge.errors import EdgeError
from ui.web.common import box, current_user, lang, requires

bp = Blueprint("queueadmin", __name__)
KINDS = {"services": "service", "counters": "counter", "priorities": "priority"}  # the address's word -> kind


@bp.get("/queue/admin")
@requires("queue.admin")
def index() -> str:
    """List the services, the counters and the priority groups, each with its edit link."""
    db = box().db()
    services = queue.list_services(db, active_only=False)
    return render_template(
        "queueadmin/index.html",
        services=services,
        names={s["code"]: s["name"] for s in services},
        counters=queue.list_counters(db),
        priorities=queue.list_priorities(db, active_only=False),
    )


def _current(kind: str, key: str | None) -> dict[str, Any]:
    """Return the stored values of the item edited, or a new item's defaults; 404 when it does not exist."""
    db = box().db()
    if kind == "service":
        services = {s["code"]: s for s in queue.list_services(db, active_only=False)}
        if key is None:
            last = max((s["position"] for s in services.values()), default=0)
            return {"code": "", "name": "", "prefix": "", "active": True, "position": last + 1}
        return services.get(key) or abort(404)
    if kind == "counter":
        counters = {str(c["number"]): c for c in queue.list_counters(db)}
        if key is None:
            number = max((int(n) for n in counters), default=0) + 1
            return {"number": number, "name": f"Quầy số {number}", "services": [], "active": True}
        return counters.get(key) or abort(404)
    groups = {p["code"]: p for p in queue.list_priorities(db, active_only=False)}
    if key is None:
        return {"code": "", "name_vi": "", "name_en": "", "weight": 2, "active": True, "sort": len(groups) + 1}
    return groups.get(key) or abort(404)


def _typed(kind: str) -> dict[str, Any]:
    """Return the form as sent, in the shape of a stored item (to show it again with the error)."""
    form = request.form
    values: dict[str, Any] = {name: form.get(name, "") for name in form if name != "csrf_token"}
    values["active"] = form.get("active") == "1"
    if kind == "counter":
        values["services"] = form.getlist("services")
    return values


def _page(kind: str, item: dict[str, Any], new: bool, errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    db = box().db()
    return render_template(
        "queueadmin/form.html", kind=kind, item=item, new=new, errors=errors, title=_TITLES[(kind, new)](),
        services=queue.list_services(db, active_only=False),
    ), status  # fmt: skip


def _saver(kind: str, key: str | None) -> Callable[[], dict[str, Any]]:
    """Return the save of the form; an item edited keeps the code or number of its address."""
    form, db, who, now, new = request.form, box().db(), current_user().username, box().now(), key is None
    active, code = form.get("active") == "1", form.get("number" if kind == "counter" else "code") if new else key
    if kind == "service":
        return lambda: queueconfig.save_service(
            db, code, form.get("name"), form.get("prefix"), active=active, position=form.get("position"),
            actor=who, now=now, new=new,
        )  # fmt: skip
    if kind == "counter":
        return lambda: queueconfig.save_counter(
            db, code, form.get("name"), form.getlist("services"), active=active, actor=who, now=now, new=new
        )
    return lambda: queueconfig.save_priority(
        db, code, form.get("name_vi"), form.get("name_en"), form.get("weight"), active=active,
        sort=form.get("sort"), actor=who, new=new,
    )  # fmt: skip


_TITLES: dict[tuple[str, bool], Callable[[], str]] = {
    ("service", True): lambda: _("Thêm dịch vụ"),
    ("service", False): lambda: _("Sửa dịch vụ"),
    ("counter", True): lambda: _("Thêm quầy"),
    ("counter", False): lambda: _("Sửa quầy"),
    ("priority", True): lambda: _("Thêm nhóm ưu tiên"),
    ("priority", False): lambda: _("Sửa nhóm ưu tiên"),
}
_SAVED = {
    "service": lambda item: _("Đã lưu dịch vụ %(name)s.", name=item["name"]),
    "counter": lambda item: _("Đã lưu %(name)s.", name=item["name"]),
    "priority": lambda item: _("Đã lưu nhóm ưu tiên %(name)s.", name=item["name_vi"]),
}


def _edit(kind: str, key: str | None) -> BaseResponse | tuple[str, int]:
    """Show the form (GET) or save it (POST): saved → back to the list; refused → the form again with the error."""
    new = key is None
    current = _current(kind, key)
    if request.method == "GET":
        return _page(kind, current, new, {})
    try:
        saved = _saver(kind, key)()
    except EdgeError as err:
        typed = {**current, **_typed(kind)}
        return _page(kind, typed, new, {err.field or "form": err.message(lang())}, err.status)
    flash(_SAVED[kind](saved), "success")
    return redirect(url_for("queueadmin.index") + f"#{kind}-list")


@bp.route("/queue/admin/<any(services, counters, priorities):kinds>/new", methods=["GET", "POST"])
@requires("queue.admin")
def add(kinds: str) -> BaseResponse | tuple[str, int]:
    """Add a service, a counter or a priority group."""
    return _edit(KINDS[kinds], None)


@bp.route("/queue/admin/<any(services, counters, priorities):kinds>/<key>", methods=["GET", "POST"])
@requires("queue.admin")
def edit(kinds: str, key: str) -> BaseResponse | tuple[str, int]:
    """Change a service, a counter or a priority group."""
    return _edit(KINDS[kinds], key)
