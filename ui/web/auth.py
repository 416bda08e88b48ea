"""Signing in and out, the session guard, and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from edge import audit
from edge.errors import AuthError, NotFoundError
from edge.store.db import write
from edge.throttle import LoginThrottle, ThrottledError
from edge.users import User, authenticate, get_user
from ui.i18n import LANGUAGES
from ui.web.common import box, lang

bp = Blueprint("auth", __name__)
# Routes anyone may open: the login page itself, the language switch, health and static files.
# metrics.metrics answers only on the loopback interface (ui/web/metrics.py), for a local Prometheus agent.
PUBLIC = frozenset({"auth.login", "auth.set_language", "healthz", "static", "openapi", "index_json", "metrics.metrics"})


class LoginForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no type information
    """The sign-in form."""

    username = StringField(validators=[DataRequired(), Length(max=64)])
    password = PasswordField(validators=[DataRequired(), Length(max=256)])


def _safe_next(target: str | None) -> str:
    """Return a same-site path to go back to after signing in, never another host."""
    if not target:
        return url_for("pages.today")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.today")
    return target


@bp.before_app_request
def guard() -> BaseResponse | None:
    """Send a request without a session to /login; load the user of one that has it."""
    if request.blueprint == "api" or request.endpoint in PUBLIC or request.endpoint is None:
        return None
    username = session.get("user")
    if username:
        try:
            g.user = get_user(box().db(), username)
        except NotFoundError:
            session.clear()  # the user was removed or deactivated meanwhile
        else:
            session.permanent = True
            return None
    nxt = request.full_path if request.method == "GET" else request.path
    return redirect(url_for("auth.login", next=nxt.rstrip("?")))


def _throttle() -> LoginThrottle:
    """Return the app's sign-in throttle (one per app, on the box's clock)."""
    found = current_app.extensions.get("login_throttle")
    if found is None:
        found = current_app.extensions.setdefault("login_throttle", LoginThrottle(box().now))
    throttle: LoginThrottle = found
    return throttle


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | str | tuple[str, int]:
    """Show the sign-in page and sign in; too many wrong passwords for a user or an address mean a wait."""
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        username, address = form.username.data or "", request.remote_addr or ""
        try:
            _throttle().check(username, address)
            user: User = authenticate(box().db(), username, form.password.data or "")
        except ThrottledError as err:
            error, status = err.message(lang()), err.status
            _audit_login(username, ok=False)
        except AuthError:
            error = _("Sai tên đăng nhập hoặc mật khẩu.")
            _throttle().failed(username, address)
            _audit_login(username, ok=False)
        else:
            _throttle().succeeded(user.username)
            language = session.get("lang")
            session.clear()  # a fresh session on sign-in: no fixation
            if language:
                session["lang"] = language
            session["user"] = user.username
            session.permanent = True
            _audit_login(user.username, ok=True)
            return redirect(_safe_next(request.args.get("next")))
    elif form.is_submitted():
        error = _("Nhập tên đăng nhập và mật khẩu.")
    page = render_template("auth/login.html", form=form, error=error, next=request.args.get("next", ""))
    return (page, status) if status != 200 else page


def _audit_login(username: str, ok: bool) -> None:
    db = box().db()
    with write(db):
        audit.record(db, username[:64] or "?", "login" if ok else "login_failed", source=request.remote_addr or "")


@bp.post("/logout")
def logout() -> BaseResponse:
    """Sign out."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_language(code: str) -> Response | BaseResponse:
    """Switch the UI language and go back where the user was."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next") or (request.referrer and urlsplit(request.referrer).path)))
