"""Users, passwords, tokens, roles and the append-only audit log."""

from __future__ import annotations

import sqlite3

import pytest

from edge import audit, intake
from edge.box import Box
from edge.errors import AuthError, ConflictError, ValidationError
from edge.users import User, add_user, authenticate, check_password, create_token, hash_password, user_for_token
from tests.conftest import PASSWORD, dossier_body


def test_password_hash_round_trip() -> None:
    stored = hash_password("mật khẩu dài")
    assert stored.startswith("scrypt$") and "mật" not in stored
    assert check_password("mật khẩu dài", stored)
    assert not check_password("mat khau dai", stored)
    assert not check_password("x", "garbage")


def test_authenticate_and_tokens(box: Box) -> None:
    db = box.db()
    assert authenticate(db, "canbo", PASSWORD).role == "officer"
    with pytest.raises(AuthError) as err:
        authenticate(db, "canbo", "sai-mat-khau")
    assert err.value.message("vi") == "Sai tên đăng nhập hoặc mật khẩu."
    token = create_token(db, "lanhdao")
    assert user_for_token(db, token).role == "leader"
    stored = db.execute("SELECT token_hash FROM api_tokens").fetchall()
    assert all(token not in row[0] for row in stored)
    with pytest.raises(AuthError):
        user_for_token(db, token + "x")


def test_user_validation(box: Box) -> None:
    db = box.db()
    with pytest.raises(ValidationError):
        add_user(db, "Cán Bộ", "officer", PASSWORD)
    with pytest.raises(ValidationError):
        add_user(db, "moi", "boss", PASSWORD)
    with pytest.raises(ValidationError):
        add_user(db, "moi", "officer", "ngan")
    with pytest.raises(ConflictError):
        add_user(db, "canbo", "officer", PASSWORD)


def test_every_change_is_audited_and_the_log_is_append_only(box: Box, officer: User) -> None:
    state = intake.receive_dossier(box, officer, dossier_body(), source="10.0.0.5")
    entry = audit.entries(box.db(), target=state["code"])[0]
    assert (entry["actor"], entry["action"], entry["source"]) == ("canbo", "dossier_received", "10.0.0.5")
    conn = sqlite3.connect(box.settings.db_path)
    try:
        for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "DELETE FROM dossier_events",
                    "UPDATE dossier_events SET kind = 'x'"):  # fmt: skip
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute(sql)
    finally:
        conn.close()
