"""The `motcua hub …` commands and the hub's settings."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.cli import main
from edge.errors import ConfigError
from sync.hub.config import init_hub, load_hub_settings, open_hub
from sync.hub.db import HubDB
from sync.hub.feed import read_feed
from sync.hub.users import user_for_token
from tests.hub_support import pg_database

ROOT = Path(__file__).resolve().parents[1]
CODE = re.compile(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `motcua ARGV` in this process; return (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def hub_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    data = tmp_path / "hub"
    assert run(capsys, "hub", "init", "--data", str(data))[0] == 0
    yield data
    HubDB.for_path(data / "hub.db").close()


def test_init_writes_config_secrets_and_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "hub"
    code, out, _ = run(capsys, "hub", "init", "--data", str(data))
    assert code == 0 and "Đã tạo máy chủ tỉnh" in out
    assert stat.S_IMODE((data / "hub-secrets.toml").stat().st_mode) == 0o600
    settings = load_hub_settings(data, env={})
    assert settings.hub_id.startswith("hub-") and settings.database_url == f"sqlite:///{data / 'hub.db'}"
    assert (settings.host, settings.port, settings.signature_window_s) == ("127.0.0.1", 8090, 300)
    assert HubDB(settings.database_url).scalar("SELECT value FROM meta WHERE key = 'schema_version'") == "1"
    code, _, err = run(capsys, "hub", "init", "--data", str(data))
    assert code == 2 and err.startswith("motcua: Đã có một máy chủ tỉnh") and err.count("\n") == 1
    assert load_hub_settings(data, env={}).hub_id == settings.hub_id


def test_init_on_postgresql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pg_database("hub_cli") as url:
        data = tmp_path / "hub"
        assert run(capsys, "hub", "init", "--data", str(data), "--database-url", url)[0] == 0
        settings, db = open_hub(data, env={})
        assert settings.database_url == url and not (data / "hub.db").exists()
        assert (
            run(capsys, "hub", "box", "add", "--data", str(data), "--commune-code", "00001", "--name", "Xã A")[0] == 0
        )
        assert db.scalar("SELECT count(*) FROM boxes") == 1
        db.close()


def test_unreachable_database_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    code, _, err = run(capsys, "hub", "init", "--data", str(tmp_path / "hub"), "--database-url", url)
    assert code == 2 and "Không mở được cơ sở dữ liệu" in err and "nobody" not in err
    assert not (tmp_path / "hub" / "hub.toml").exists()
    code, _, err = run(capsys, "hub", "init", "--data", str(tmp_path / "hub"), "--database-url", "mysql://x")
    assert code == 2 and "Địa chỉ cơ sở dữ liệu không hợp lệ" in err


def test_settings_from_env_and_bad_files(hub_dir: Path) -> None:
    env = {
        "MOTCUA_HUB_PORT": "9000",
        "MOTCUA_HUB_PUBLIC_URLS": "https://a.example.vn, https://b.example.vn",
        "MOTCUA_HUB_FORWARD_URL": "https://dvcqg.example.vn/api",
        "MOTCUA_HUB_FORWARD_INTERVAL_S": "2.5",
    }
    settings = load_hub_settings(hub_dir, env=env)
    assert settings.port == 9000 and settings.forward_interval_s == 2.5
    assert settings.public_urls == ("https://a.example.vn", "https://b.example.vn")
    assert settings.forward_url == "https://dvcqg.example.vn/api" and settings.forward_token is None
    assert load_hub_settings(env={"MOTCUA_HUB_DATA": str(hub_dir)}).data_dir == hub_dir.resolve()
    with pytest.raises(ConfigError) as bad_port:
        load_hub_settings(hub_dir, env={"MOTCUA_HUB_PORT": "many"})
    assert "không hợp lệ" in bad_port.value.vi and "Invalid value" in bad_port.value.en
    with pytest.raises(ConfigError):
        load_hub_settings(env={})
    config = hub_dir / "hub.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[sync]\npublic_urls = [1, 2]\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_hub_settings(hub_dir, env={})
    config.write_text("[hub\nhub_id = 'x'", encoding="utf-8")
    with pytest.raises(ConfigError) as broken:
        load_hub_settings(hub_dir, env={})
    assert broken.value.code == "config_syntax" and "bị lỗi" in broken.value.vi and "malformed" in broken.value.en
    with pytest.raises(ConfigError) as missing:
        load_hub_settings(hub_dir.parent / "elsewhere", env={})
    assert "motcua hub init" in missing.value.vi


def test_init_hub_refuses_an_existing_hub(hub_dir: Path) -> None:
    with pytest.raises(ConfigError) as err:
        init_hub(hub_dir)
    assert err.value.code == "hub_exists" and "không ghi đè" in err.value.vi


def test_box_add_list_revoke(hub_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(hub_dir)
    code, out, _ = run(
        capsys, "hub", "box", "add", "--data", data, "--commune-code", "00001", "--name", "UBND xã Phúc Xá",
        "--agency-code", "000.17.22.H56",
    )  # fmt: skip
    assert code == 0 and CODE.fullmatch(out.strip()) and out.count("\n") == 1
    code, out, _ = run(capsys, "hub", "box", "list", "--data", data)
    record_id, commune, name, state, seen = out.strip().split("\t")
    assert (commune, name, state, seen) == ("00001", "UBND xã Phúc Xá", "chờ đăng ký", "-")
    assert run(capsys, "hub", "box", "revoke", "--data", data, record_id)[0] == 0
    assert run(capsys, "hub", "box", "list", "--data", data)[1].strip().split("\t")[3] == "đã thu hồi"
    code, _, err = run(capsys, "hub", "box", "revoke", "--data", data, record_id)
    assert code == 1 and "Không có hộp" in err
    code, _, err = run(capsys, "hub", "box", "add", "--data", data, "--commune-code", "1", "--name", "X")
    assert code == 1 and "5 chữ số" in err


def test_catalogue_and_calendar_import(hub_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(hub_dir)
    run(capsys, "hub", "box", "add", "--data", data, "--commune-code", "00001", "--name", "Xã A")
    sample = ROOT / "edge" / "data" / "procedures.json"
    code, out, _ = run(capsys, "hub", "catalogue", "import", "--data", data, str(sample))
    count = len(json.loads(sample.read_text(encoding="utf-8")))
    assert code == 0 and f"Đã công bố {count} thủ tục" in out
    days = tmp_path / "days.json"
    days.write_text(json.dumps({"days": [{"day": "2026-12-31", "working": False, "note": "Nghỉ"}]}), encoding="utf-8")
    assert run(capsys, "hub", "calendar", "import", "--data", data, str(days))[0] == 0
    days.write_text(json.dumps([{"day": "2027-01-02", "working": True, "note": "Làm bù"}]), encoding="utf-8")
    assert run(capsys, "hub", "calendar", "import", "--data", data, str(days))[0] == 0
    _, db = open_hub(hub_dir, env={})
    assert db.scalar("SELECT count(*) FROM catalogue") == count
    assert db.scalar("SELECT count(*) FROM calendar") == 2
    items = read_feed(db, "00001", 0, 10, None)["items"]
    assert [i["type"] for i in items] == ["catalogue", "calendar", "calendar"]
    days.write_text("{oops", encoding="utf-8")
    code, _, err = run(capsys, "hub", "calendar", "import", "--data", data, str(days))
    assert code == 1 and "không phải JSON" in err
    days.write_text(json.dumps([{"day": "2027-01-02", "working": "yes"}]), encoding="utf-8")
    assert run(capsys, "hub", "calendar", "import", "--data", data, str(days))[0] == 1
    code, _, err = run(capsys, "hub", "calendar", "import", "--data", data, str(tmp_path / "missing.json"))
    assert code == 1 and "Không đọc được tệp" in err
    assert db.scalar("SELECT count(*) FROM calendar") == 2
    db.close()


def test_user_add_and_token_create(hub_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(hub_dir)
    code, out, _ = run(
        capsys, "hub", "user", "add", "--data", data, "quantri", "--role", "admin", "--password", "mat-khau-1"
    )
    assert code == 0 and "quantri" in out
    code, out, _ = run(capsys, "hub", "token", "create", "--data", data, "quantri")
    token = out.strip()
    assert code == 0 and out.count("\n") == 1 and " " not in token
    _, db = open_hub(hub_dir, env={})
    assert (user_for_token(db, token) or {}).get("role") == "admin"
    db.close()
    code, _, err = run(capsys, "hub", "token", "create", "--data", data, "nobody")
    assert code == 1 and err.startswith("motcua: ")
