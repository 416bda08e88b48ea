"""Credentials shared by the box's users and the hub's: the rules for a new account, password and token hashing.

Pure functions, no database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection

from edge.errors import ValidationError

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}", re.ASCII)
MIN_PASSWORD = 8

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """Hash a password with scrypt and a random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Return whether the password matches the stored hash."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        fresh = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except ValueError:
        return False
    return hmac.compare_digest(fresh.hex(), digest)


def token_hash(token: str) -> str:
    """Return what is stored of an API token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_new_account(username: object, role: object, password: object, roles: Collection[str]) -> None:
    """Raise ValidationError (vi and en) unless the username, role and password make a valid new account."""
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise ValidationError(
            "Tên đăng nhập chỉ gồm chữ thường không dấu, số và . _ -, dài 2–32 ký tự.",
            "A username is 2–32 lower-case letters, digits and . _ -.",
            code="invalid_username",
            field="username",
        )
    if role not in roles:
        raise ValidationError(
            f"Vai trò phải là một trong: {', '.join(roles)}.",
            f"The role must be one of: {', '.join(roles)}.",
            code="invalid_role",
            field="role",
        )
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"Mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự.",
            f"The password must have at least {MIN_PASSWORD} characters.",
            code="weak_password",
            field="password",
        )
