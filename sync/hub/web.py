"""The fleet dashboard for provincial IT: sign-in, every box, one box's history, alerts.

Plain server-rendered HTML in Vietnamese (English with ?lang=en), no script and no external
resource. Forms carry a per-session token against cross-site posts.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState

from edge.calendar import TZ
from edge.errors import ValidationError
from sync.hub.context import hub_context
from sync.hub.counterreport import METHODS, counter_report, parse_range
from sync.hub.fleet import (
    ALERT_CODES,
    SORT_KEYS,
    STATES,
    FleetRow,
    Thresholds,
    filter_rows,
    fleet_row,
    heartbeat_history,
    load_fleet,
    parse_moment,
    sort_rows,
)
from sync.hub.forward import failing_forwards
from sync.hub.i18n import ALERT_WORDS, STATE_WORDS, pair, pick_lang, word
from sync.hub.users import SESSION_USER, check_password, current_user, require_user

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/hub-static")


@bp.record_once
def _harden_cookie(state: BlueprintSetupState) -> None:
    # The app signs the session with the hub's secret; the cookie stays out of scripts and cross-site posts.
    state.app.config["SESSION_COOKIE_HTTPONLY"] = True
    state.app.config["SESSION_COOKIE_SAMESITE"] = "Lax"


def lang() -> str:
    """Return the request's language, remembering an explicit ?lang= choice."""
    query = request.args.get("lang")
    chosen = pick_lang(query, session.get("lang"), request.headers.get("Accept-Language"))
    if query == chosen:
        session["lang"] = chosen
    return chosen


def csrf_token() -> str:
    """Return this session's form token, creating it on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def _csrf_ok() -> bool:
    sent = request.form.get("csrf_token", "")
    held = session.get("csrf")
    return isinstance(held, str) and hmac.compare_digest(sent, held)


def when(value: object) -> str:
    """Return an ISO moment as dd/mm/yyyy HH:MM in Vietnam time, or "—"."""
    moment = parse_moment(value)
    return moment.astimezone(TZ).strftime("%d/%m/%Y %H:%M") if moment else "—"


def duration(seconds: object, lang_code: str) -> str:
    """Return a number of seconds as a short duration in words, or "—"."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "—"
    s = abs(float(seconds))
    if s < 90:
        return word("seconds", lang_code, n=f"{s:.0f}")
    if s < 5400:
        return word("minutes", lang_code, n=f"{s / 60:.0f}")
    if s < 172_800:
        return word("hours", lang_code, n=f"{s / 3600:.0f}")
    return word("days", lang_code, n=f"{s / 86_400:.0f}")


def number(value: object, lang_code: str) -> str:
    """Return a whole number grouped the local way (12.345 in Vietnamese), or "—"."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    text = f"{round(value):,}"
    return text if lang_code == "en" else text.replace(",", ".")


def size(value: object, lang_code: str) -> str:
    """Return a byte count in KB/MB/GB, or "—"."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    amount, unit = float(value), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if amount < 1024 or unit == "TB":
            break
        amount /= 1024
    text = f"{amount:.0f}" if unit == "B" else f"{amount:.1f}"
    return f"{text if lang_code == 'en' else text.replace('.', ',')} {unit}"


def percent(value: object, lang_code: str) -> str:
    """Return a percentage with one decimal, or "—"."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    text = f"{value:.1f}"
    return f"{text if lang_code == 'en' else text.replace('.', ',')} %"


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    if request.blueprint != "web":
        return {}
    code = lang()

    def t(key: str, **values: object) -> str:
        return word(key, code, **values)

    def other_lang_url() -> str:
        args = {**request.args.to_dict(), "lang": "en" if code == "vi" else "vi"}
        return f"{request.path}?{urlencode(args)}"

    return {
        "t": t,
        "ui_lang": code,
        "user": current_user(),
        "csrf_token": csrf_token,
        "state_label": lambda s: pair(STATE_WORDS[s], code),
        "alert_label": lambda a: pair(ALERT_WORDS.get(a, (a, a)), code),
        "alert_text": lambda a: a.message_en if code == "en" else a.message,
        "when": when,
        "duration": lambda s: duration(s, code),
        "number": lambda n: number(n, code),
        "size": lambda n: size(n, code),
        "percent": lambda n: percent(n, code),
        "other_lang_url": other_lang_url,
    }


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("web.fleet")
    parts = urlsplit(target)
    # Only a path on this site: never send a freshly signed-in user to another host.
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.fleet")
    return target


@bp.get("/")
def index() -> Response:
    """Send the visitor to the fleet page."""
    return redirect(url_for("web.fleet"))  # type: ignore[return-value]


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the sign-in form and sign a user in."""
    error = None
    status = 200
    if request.method == "POST":
        if not _csrf_ok():
            error, status = word("bad_form", lang()), 400
        else:
            user = check_password(
                hub_context().db, request.form.get("username", "").strip(), request.form.get("password", "")
            )
            if user is not None:
                keep = session.get("lang")
                session.clear()
                session[SESSION_USER] = user["username"]
                if keep:
                    session["lang"] = keep
                return redirect(_safe_next(request.args.get("next")))
            error, status = word("bad_login", lang()), 401
    return render_template("login.html", error=error, next=request.args.get("next", "")), status


@bp.post("/logout")
def logout() -> Any:
    """Sign out (the form's token must match)."""
    if not _csrf_ok():
        abort(400)
    keep = session.get("lang")
    session.clear()
    if keep:
        session["lang"] = keep
    return redirect(url_for("web.login"))


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name) or None
    return value if value in allowed else None


def _sort_links(current: str, descending: bool) -> dict[str, dict[str, str]]:
    base = {k: v for k, v in request.args.items() if k not in ("sort", "desc")}
    links = {}
    for key in SORT_KEYS:
        flip = key == current and not descending
        query = urlencode({**base, "sort": key, "desc": "1" if flip else "0"})
        aria = ("descending" if descending else "ascending") if key == current else "none"
        links[key] = {"url": f"{url_for('web.fleet')}?{query}", "aria": aria}
    return links


@bp.get("/fleet")
@require_user("viewer")
def fleet() -> str:
    """Every box, filtered and sorted as the query asks."""
    ctx = hub_context()
    rows = load_fleet(ctx.db, ctx.clock(), Thresholds.of(ctx.settings))
    communes = sorted({(r.commune_code, r.commune_name) for r in rows})
    state = _choice("state", tuple(STATES))
    commune = _choice("commune", tuple(c for c, _ in communes))
    alert = _choice("alert", (*ALERT_CODES, "any"))
    text = (request.args.get("q") or "").strip()[:100] or None
    sort = _choice("sort", SORT_KEYS) or "state"
    descending = request.args.get("desc") == "1"
    shown = sort_rows(filter_rows(rows, state=state, commune=commune, alert=alert, text=text), sort, descending)
    return render_template(
        "fleet.html",
        rows=shown,
        total=len(rows),
        counts={s: sum(1 for r in rows if r.state == s) for s in STATES},
        communes=communes,
        states=tuple(STATES),
        alert_codes=ALERT_CODES,
        filters={"state": state, "commune": commune, "alert": alert, "q": text or ""},
        sort=sort,
        sort_links=_sort_links(sort, descending),
        forward_failures=failing_forwards(ctx, 3),
    )


@bp.get("/fleet/<box_id>")
@require_user("viewer")
def box(box_id: str) -> Any:
    """One box: its state, alerts, last errors, devices and heartbeat history."""
    ctx = hub_context()
    row: FleetRow | None = fleet_row(ctx.db, box_id, ctx.clock(), Thresholds.of(ctx.settings))
    if row is None:
        return render_template("not_found.html"), 404
    forwards = [f for f in failing_forwards(ctx, 1) if f["commune_code"] == row.commune_code]
    return render_template("box.html", row=row, beats=heartbeat_history(ctx.db, box_id, 100), forwards=forwards)


@bp.get("/alerts")
@require_user("viewer")
def alerts() -> str:
    """Every open alert, box by box, and the dossiers the national portal has not taken."""
    ctx = hub_context()
    rows = [r for r in load_fleet(ctx.db, ctx.clock(), Thresholds.of(ctx.settings)) if r.alerts]
    items = [(r, a) for r in rows for a in r.alerts]
    return render_template("alerts.html", items=items, forwards=failing_forwards(ctx, 1))


@bp.get("/reports/counter")
@require_user("viewer")
def counter_report_page() -> tuple[str, int]:
    """Báo cáo quầy một cửa: each commune's tickets, waiting and service times, ratings and fees over a range."""
    ctx = hub_context()
    raw_from, raw_to = request.args.get("from") or None, request.args.get("to") or None
    try:
        first, last = parse_range(raw_from, raw_to, ctx.now().date())
    except ValidationError as err:
        error = err.en if lang() == "en" else err.vi
        form = {"from": raw_from or "", "to": raw_to or ""}
        return render_template("counter_report.html", report=None, error=error, form=form, methods=METHODS), 422
    report = counter_report(ctx.db, first, last)
    form = {"from": report["from"], "to": report["to"]}
    return render_template("counter_report.html", report=report, error=None, form=form, methods=METHODS), 200
