"""Local users, roles, password hashing and API tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlite_utils

from edge import audit
from edge.errors import AuthError, ConflictError, NotFoundError, PermissionDeniedError
from edge.events import now_iso
from edge.passwords import check_new_account, check_password, hash_password, token_hash
from edge.store.db import write

ROLES = {
    "officer": ("Cán bộ một cửa", "Officer"),
    "leader": ("Lãnh đạo", "Leader"),
    "admin": ("Quản trị", "Administrator"),
    "technician": ("Kỹ thuật viên", "Technician"),
    "kiosk": ("Máy lấy số (kiosk)", "Kiosk"),
}
STAFF = frozenset({"officer", "leader", "admin", "technician"})  # people; the kiosk account is a machine
PERMISSIONS: dict[str, frozenset[str]] = {
    "dossier.read": frozenset({"officer", "leader", "admin"}),
    "dossier.create": frozenset({"officer", "leader"}),
    "dossier.act": frozenset({"officer", "leader"}),
    "dossier.resolve": frozenset({"leader"}),
    "payment.settle": frozenset({"leader"}),
    "fees.read": frozenset({"officer", "leader"}),
    "fees.collect": frozenset({"officer", "leader"}),
    "fees.adjust": frozenset({"leader"}),
    "fees.cancel": frozenset({"leader"}),
    "fees.refund": frozenset({"leader"}),
    "cashup.close": frozenset({"officer", "leader"}),
    "queue.read": frozenset(ROLES),
    "queue.issue": frozenset(ROLES),
    "kiosk.use": frozenset({"kiosk", "officer", "leader", "admin"}),
    "queue.call": frozenset({"officer", "leader"}),
    "queue.admin": frozenset({"admin"}),
    "catalogue.read": STAFF,
    "catalogue.write": frozenset({"admin"}),
    "users.manage": frozenset({"admin"}),
    "reports.read": frozenset({"officer", "leader"}),
    "sync.read": STAFF,
    "sync.now": frozenset({"officer", "leader", "admin", "technician"}),
    "devices.manage": frozenset({"technician", "admin"}),
}


@dataclass(frozen=True)
class User:
    """A signed-in person."""

    username: str
    role: str
    full_name: str = ""

    def can(self, permission: str) -> bool:
        """Return whether the user's role grants the permission."""
        return self.role in PERMISSIONS[permission]


def require(user: User, permission: str) -> None:
    """Raise PermissionDeniedError unless the user may do this."""
    if not user.can(permission):
        label = ROLES[user.role]
        raise PermissionDeniedError(
            f"Vai trò “{label[0]}” không được phép thực hiện thao tác này.",
            f"The role “{label[1]}” may not do this.",
            code="forbidden",
        )


def add_user(
    db: sqlite_utils.Database, username: str, role: str, password: str, full_name: str = "", actor: str = "cli"
) -> User:
    """Create a local user."""
    check_new_account(username, role, password, ROLES)
    with write(db):
        if db.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            raise ConflictError(
                f"Đã có người dùng “{username}”.", f"The user “{username}” already exists.", code="user_exists"
            )
        db.execute(
            "INSERT INTO users (username, full_name, role, password_hash, active, created_at)"
            " VALUES (?, ?, ?, ?, 1, ?)",
            [username, full_name, role, hash_password(password), now_iso()],
        )
        audit.record(db, actor, "user_added", target=username, detail={"role": role})
    return User(username, role, full_name)


def get_user(db: sqlite_utils.Database, username: str) -> User:
    """Return an active user or raise NotFoundError."""
    row = db.execute(
        "SELECT username, role, full_name FROM users WHERE username = ? AND active = 1", [username]
    ).fetchone()
    if not row:
        raise NotFoundError(
            f"Không có người dùng “{username}”.", f"No user “{username}”.", code="user_not_found", field="username"
        )
    return User(*row)


def authenticate(db: sqlite_utils.Database, username: str, password: str) -> User:
    """Return the user if the password is right, else raise AuthError."""
    row = db.execute(
        "SELECT username, role, full_name, password_hash FROM users WHERE username = ? AND active = 1", [username]
    ).fetchone()
    if not row or not check_password(password, row[3]):
        raise AuthError("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password.", code="bad_credentials")
    return User(row[0], row[1], row[2])


def create_token(db: sqlite_utils.Database, username: str, actor: str = "cli") -> str:
    """Create an API token for a user and return it (only its hash is stored)."""
    get_user(db, username)
    token = "mc_" + secrets.token_urlsafe(32)
    with write(db):
        db.execute(
            "INSERT INTO api_tokens (token_hash, username, created_at) VALUES (?, ?, ?)",
            [token_hash(token), username, now_iso()],
        )
        audit.record(db, actor, "token_created", target=username)
    return token


def user_for_token(db: sqlite_utils.Database, token: str) -> User:
    """Return the user a bearer token belongs to, or raise AuthError."""
    row = db.execute(
        "SELECT u.username, u.role, u.full_name FROM api_tokens t JOIN users u ON u.username = t.username"
        " WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.active = 1",
        [token_hash(token)],
    ).fetchone()
    if not row:
        raise AuthError(
            "Mã truy cập (token) không hợp lệ hoặc đã bị thu hồi.",
            "The API token is invalid or revoked.",
            code="bad_token",
        )
    return User(*row)


def list_users(db: sqlite_utils.Database) -> list[dict[str, object]]:
    """Return every local user (without password hashes), by username."""
    rows = db.execute("SELECT username, full_name, role, active, created_at FROM users ORDER BY username").fetchall()
    keys = ("username", "full_name", "role", "active", "created_at")
    return [{**dict(zip(keys, r, strict=True)), "active": bool(r[3])} for r in rows]
