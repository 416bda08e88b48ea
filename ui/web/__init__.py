"""The officer web UI: one blueprint per area, sharing the session, the layout and the helpers."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, g, request, url_for
from flask_babel import Babel
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFProtect

from edge.box import Box
from edge.users import ROLES
from ui.i18n import DEFAULT, compile_translations
from ui.web.common import (
    box,
    current_user,
    format_date,
    format_date_input,
    format_datetime,
    format_money,
    lang,
    status_label,
    sync_status,
)

csrf = CSRFProtect()


@dataclass(frozen=True)
class NavItem:
    """One entry of the main menu."""

    endpoint: str
    label: str
    permission: str | None


def _nav() -> list[NavItem]:
    return [
        NavItem("pages.today", _("Tổng quan"), None),
        NavItem("desk.index", _("Quầy"), "queue.call"),
        NavItem("intake.form", _("Tiếp nhận hồ sơ"), "dossier.create"),
        NavItem("dossiers.index", _("Danh sách hồ sơ"), "dossier.read"),
        NavItem("cashup.day", _("Thu phí, lệ phí"), "fees.read"),
        NavItem("reports.index", _("Báo cáo, thống kê"), "reports.read"),
        NavItem("pages.sync", _("Đồng bộ"), "sync.read"),
        NavItem("devices.index", _("Thiết bị"), "devices.manage"),
        NavItem("pages.admin", _("Quản trị"), "users.manage"),
    ]


def setup(app: Flask, the_box: Box) -> None:
    """Configure sessions, CSRF, translations and templates, and register the UI blueprints."""
    app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="motcua_session",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        BABEL_DEFAULT_LOCALE=DEFAULT,
        BABEL_DEFAULT_TIMEZONE="Asia/Ho_Chi_Minh",
        BABEL_TRANSLATION_DIRECTORIES=str(compile_translations(the_box.settings.data_dir / "cache" / "translations")),
    )
    Babel(app, locale_selector=lang)
    csrf.init_app(app)
    from ui.api import bp as api_bp

    csrf.exempt(api_bp)  # the API authenticates each call with a bearer token, not a cookie
    app.add_template_filter(format_datetime, "datetime_vn")
    app.add_template_filter(format_date, "date_vn")
    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_date_input, "date_input")
    app.add_template_filter(status_label, "status_label")

    @app.context_processor
    def layout() -> dict[str, Any]:
        user = getattr(g, "user", None)
        items = []
        if user is not None:
            for item in _nav():
                if item.endpoint not in app.view_functions:
                    continue
                if item.permission and not current_user().can(item.permission):
                    continue
                url = url_for(item.endpoint)
                active = request.path == url or (url != "/" and request.path.startswith(url))
                items.append({"url": url, "label": item.label, "active": active})
        return {
            "box_name": box().settings.name,
            "ui_lang": lang(),
            "nav_items": items,
            "sync": sync_status(),
            "now": box().now(),
            "view_functions": app.view_functions,
            "role_label": ROLES[user.role][1 if lang() == "en" else 0] if user is not None else "",
        }

    for blueprint in blueprints():
        app.register_blueprint(blueprint)


def blueprints() -> list[Blueprint]:
    """Return the blueprint of every area module in this package (each module holds one `bp`)."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        area = importlib.import_module(f"{__name__}.{module.name}")
        blueprint = getattr(area, "bp", None)
        if isinstance(blueprint, Blueprint):
            found.append(blueprint)
    return found
