"""Password and token hashing, shared by the box's users and the hub's (pure: no database)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

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
