"""Pages that read the box as a whole: today's overview, sync, administration."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from edge import outbox, ratings, reports
from edge.dates import parse_day
from edge.errors import EdgeError
from edge.text import clean_free_text
from edge.users import ROLES, add_user, list_users
from sync.client.status import request_sync_now
from ui.web.common import box, current_user, lang, requires, sync_status

bp = Blueprint("pages", __name__)


@bp.get("/")
def today() -> str | BaseResponse:
    """Show today's overview: counts that each lead to the matching list (a kiosk goes to its page)."""
    if current_user().role == "kiosk":
        return redirect(url_for("kiosk.index"))
    counts = reports.today_counts(box().db(), box().now())
    return render_template("pages/today.html", counts=counts, can_read=current_user().can("dossier.read"))


@bp.get("/sync")
@requires("sync.read")
def sync() -> str:
    """Show the state of the link to the provincial hub: each hub URL, the backlog, refusals, errors."""
    db = box().db()
    stored = db.execute("SELECT count(*) FROM dossier_events").fetchone()[0]
    return render_template(
        "pages/sync.html",
        stored_events=stored,
        detail=sync_status(detail=True),
        can_sync_now=current_user().can("sync.now"),
    )


@bp.post("/sync/now")
@requires("sync.now")
def sync_now() -> BaseResponse:
    """Ask the sync worker for a cycle now."""
    request_sync_now(box(), actor=current_user().username, source="web")
    flash(_("Đã yêu cầu đồng bộ ngay; trang sẽ cập nhật sau giây lát."), "success")
    return redirect(url_for("pages.sync"))


@bp.post("/sync/retry")
@requires("sync.now")
def sync_retry() -> BaseResponse:
    """Send the events the hub refused again (after the cause was fixed), and ask for a cycle."""
    count = outbox.retry_refused(box().db())
    request_sync_now(box(), actor=current_user().username, source="web")
    flash(_("Sẽ gửi lại %(count)s sự kiện bị từ chối.", count=count), "success")
    return redirect(url_for("pages.sync"))


@bp.get("/admin")
@requires("users.manage")
def admin() -> str:
    """Show users, working hours and the calendar overrides."""
    return render_template(
        "pages/admin.html",
        users=list_users(box().db()),
        roles=ROLES,
        overrides=box().overrides(),
        working_hours=box().hours.format(),
        lang_index=1 if lang() == "en" else 0,
        rating_scale=box().settings.rating_scale,
    )


@bp.post("/admin/users")
@requires("users.manage")
def admin_add_user() -> BaseResponse | tuple[str, int]:
    """Add a local user."""
    form = request.form
    try:
        user = add_user(
            box().db(),
            form.get("username", "").strip(),
            form.get("role", ""),
            form.get("password", ""),
            form.get("full_name", "").strip(),
            actor=current_user().username,
        )
    except EdgeError as err:
        flash(err.message(lang()), "error")
        return redirect(url_for("pages.admin"))
    flash(_("Đã thêm người dùng %(name)s.", name=user.username), "success")
    return redirect(url_for("pages.admin"))


@bp.post("/admin/calendar")
@requires("users.manage")
def admin_calendar() -> BaseResponse:
    """Mark a day as a make-up working day or a day off."""
    form = request.form
    try:
        day = parse_day(form.get("day", ""), "day")
        working = form.get("kind") == "working"
        note = clean_free_text(form.get("note") or None, "note", max_len=200, required=False)
        box().set_override(day, working, note, actor=current_user().username)
    except EdgeError as err:
        flash(err.message(lang()), "error")
    else:
        flash(_("Đã cập nhật lịch làm việc."), "success")
    return redirect(url_for("pages.admin"))


@bp.post("/admin/rating-scale")
@requires("users.manage")
def admin_rating_scale() -> BaseResponse:
    """Switch the counter rating between 3 and 5 levels (motcua.toml [ratings]); the running box follows at once."""
    try:
        scale = ratings.switch_scale(
            box().db(), box().settings.data_dir, request.form.get("rating_scale", ""), current_user().username
        )
    except EdgeError as err:
        flash(err.message(lang()), "error")
        return redirect(url_for("pages.admin"))
    box().settings = replace(box().settings, rating_scale=scale)  # the keypad listener reads it too
    flash(_("Đã đặt thang đánh giá %(n)s mức.", n=scale), "success")
    return redirect(url_for("pages.admin"))
