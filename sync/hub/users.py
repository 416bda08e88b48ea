"""Hub users (provincial IT), their scrypt passwords and API tokens, and the Flask guard.

Two roles: `admin` (may change things) and `viewer` (may look). API requests carry a bearer
token (only its SHA-256 is stored); the dashboard pages use the app's signed session cookie.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, jsonify, redirect, request, session, url_for

from edge.errors import ConflictError, NotFoundError
from edge.passwords import check_new_account, hash_password, token_hash
from edge.passwords import check_password as password_matches
from sync.hub.db import HubDB

ROLES: dict[str, tuple[str, str]] = {"admin": ("Quản trị", "Administrator"), "viewer": ("Theo dõi", "Viewer")}
_RANK = {"viewer": 1, "admin": 2}
_TOKEN_TOUCH = timedelta(minutes=1)  # last_used_at is refreshed at most this often
SESSION_USER = "hub_user"

F = TypeVar("F", bound=Callable[..., Any])


def add_user(db: HubDB, username: str, role: str, password: str, now_iso: str) -> None:
    """Create a hub user; raise ValidationError for bad input and ConflictError if it exists."""
    check_new_account(username, role, password, ROLES)
    hashed = hash_password(password)
    with db.transaction():
        if db.one("SELECT 1 FROM users WHERE username = ?", [username]):
            raise ConflictError(
                f"Đã có người dùng “{username}”.", f"The user “{username}” already exists.", code="user_exists"
            )
        db.execute(
            "INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            [username, role, hashed, now_iso],
        )


def create_token(db: HubDB, username: str, now_iso: str) -> str:
    """Create an API token for an active user and return it (only its SHA-256 is stored)."""
    if not db.one("SELECT 1 FROM users WHERE username = ? AND disabled = 0", [username]):
        raise NotFoundError(
            f"Không có người dùng “{username}”.", f"No user “{username}”.", code="user_not_found", field="username"
        )
    token = "mch_" + secrets.token_urlsafe(32)
    with db.transaction():
        db.execute(
            "INSERT INTO tokens (token_hash, username, created_at) VALUES (?, ?, ?)",
            [token_hash(token), username, now_iso],
        )
    return token


def user_for_token(db: HubDB, token: str) -> dict[str, Any] | None:
    """Return {"username", "role"} for a valid token of an active user, else None."""
    if not token:
        return None
    digest = token_hash(token)
    row = db.one(
        "SELECT u.username, u.role, t.last_used_at FROM tokens t JOIN users u ON u.username = t.username"
        " WHERE t.token_hash = ? AND u.disabled = 0",
        [digest],
    )
    if row is None:
        return None
    now = datetime.now(UTC)
    last = _parse(row[2])
    if last is None or now - last > _TOKEN_TOUCH:
        db.execute("UPDATE tokens SET last_used_at = ? WHERE token_hash = ?", [now.isoformat(), digest])
    return {"username": row[0], "role": row[1]}


def check_password(db: HubDB, username: str, password: str) -> dict[str, Any] | None:
    """Return {"username", "role"} when the password is right for an active user, else None."""
    row = db.one("SELECT username, role, password_hash FROM users WHERE username = ? AND disabled = 0", [username])
    if row is None or not password_matches(password, row[2]):
        return None
    return {"username": row[0], "role": row[1]}


def _parse(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _api_error(status: int, code: str, vi: str, en: str) -> Any:
    response = jsonify({"code": code, "message": vi, "message_en": en})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="motcua-hub"'
    return response


def _is_api() -> bool:
    return request.path.startswith(("/api/", "/metrics"))


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_user() -> dict[str, Any] | None:
    """Return the request's user: from the bearer token on API paths, from the session on pages."""
    if "hub_user" in g:
        return cast(dict[str, Any] | None, g.hub_user)
    hub = current_app.extensions["motcua_hub"]
    user: dict[str, Any] | None = None
    if _is_api():
        token = _bearer()
        user = user_for_token(hub.db, token) if token else None
    else:
        name = session.get(SESSION_USER)
        if isinstance(name, str):
            row = hub.db.one("SELECT username, role FROM users WHERE username = ? AND disabled = 0", [name])
            user = {"username": row[0], "role": row[1]} if row else None
    g.hub_user = user
    return user


def require_user(role: str = "viewer") -> Callable[[F], F]:
    """Guard a view: API paths need a bearer token (401 JSON), pages a signed-in session (→ /login)."""
    if role not in _RANK:
        raise ValueError(f"unknown hub role {role!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                if _is_api():
                    return _api_error(
                        401,
                        "unauthorized",
                        "Cần mã truy cập hợp lệ (Authorization: Bearer …).",
                        "A valid API token is required (Authorization: Bearer …).",
                    )
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if _RANK.get(user["role"], 0) < _RANK[role]:
                vi, en = ROLES[role]
                return _api_error(
                    403,
                    "forbidden",
                    f"Thao tác này cần vai trò “{vi}”.",
                    f"This needs the “{en}” role.",
                )
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate
