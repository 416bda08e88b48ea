"""Settings from motcua.toml and MOTCUA_* variables; creating a box."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from edge.box import init_box
from edge.config import load_secrets, load_settings
from edge.errors import ConfigError, ValidationError


def test_init_creates_a_box(tmp_path: Path) -> None:
    settings = init_box(tmp_path / "b", "12345", "000.00.00.H30", "UBND xã Tân Lập")
    for name in ("motcua.toml", "motcua.db", "secrets.toml"):
        assert (settings.data_dir / name).is_file()
    assert settings.blob_dir.is_dir()
    assert stat.S_IMODE(settings.secrets_path.stat().st_mode) == 0o600
    assert len(load_secrets(settings)["session_secret"]) == 64
    loaded = load_settings(settings.data_dir, env={})
    assert loaded == settings
    assert loaded.name == "UBND xã Tân Lập"


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    settings = init_box(tmp_path / "b", "12345", "000.00.00.H30", "UBND xã Tân Lập")
    before = settings.db_path.read_bytes()
    with pytest.raises(ConfigError) as err:
        init_box(tmp_path / "b", "54321", "000.00.00.H31", "UBND xã Khác")
    assert "không ghi đè" in err.value.message("vi")
    assert settings.db_path.read_bytes() == before


@pytest.mark.parametrize(("commune", "agency"), [("1234", "000.00.00.H30"), ("12345", "H30"), ("12345", "000.00;00")])
def test_init_validates_codes(tmp_path: Path, commune: str, agency: str) -> None:
    with pytest.raises(ValidationError):
        init_box(tmp_path / "b", commune, agency, "UBND xã A")
    assert not (tmp_path / "b").exists()


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    settings = init_box(tmp_path / "b", "12345", "000.00.00.H30", "UBND xã Tân Lập")
    loaded = load_settings(None, env={"MOTCUA_DATA": str(settings.data_dir), "MOTCUA_PORT": "9001",
                                      "MOTCUA_MAX_UPLOAD_MB": "2.5"})  # fmt: skip
    assert (loaded.port, loaded.max_upload_bytes) == (9001, int(2.5 * 1024 * 1024))
    with pytest.raises(ConfigError):
        load_settings(settings.data_dir, env={"MOTCUA_PORT": "tám"})


def test_broken_config_file_gives_a_clear_error(tmp_path: Path) -> None:
    settings = init_box(tmp_path / "b", "12345", "000.00.00.H30", "UBND xã Tân Lập")
    (settings.data_dir / "motcua.toml").write_text("[box\nname = ", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(settings.data_dir, env={})
    assert err.value.code == "config_syntax"
    with pytest.raises(ConfigError) as missing:
        load_settings(tmp_path / "nowhere", env={})
    assert "motcua init" in missing.value.message("vi")
