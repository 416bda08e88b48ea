"""Hub settings: one object built from DIR/hub.toml and MOTCUA_HUB_* variables."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from edge.errors import ConfigError
from edge.tomlconfig import read_toml, settings_values
from sync.hub.db import HubDB

CONFIG_FILE = "hub.toml"
SECRETS_FILE = "hub-secrets.toml"
DB_FILE = "hub.db"
ENV_PREFIX = "MOTCUA_HUB_"


@dataclass(frozen=True)
class HubSettings:
    """Everything a hub process needs to know, read once and passed in."""

    data_dir: Path
    hub_id: str
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8090
    signature_window_s: int = 300
    late_after_s: int = 900
    offline_after_s: int = 3600
    silent_alert_hours: int = 24
    forward_url: str | None = None
    forward_token: str | None = None
    forward_interval_s: float = 30.0
    public_urls: tuple[str, ...] = ()
    max_chunk_bytes: int = 1048576

    @property
    def secrets_path(self) -> Path:
        """Return the path of the 0600 secrets file."""
        return self.data_dir / SECRETS_FILE


# Sections of hub.toml: section -> the HubSettings keys it may set.
_SECTIONS: dict[str, tuple[str, ...]] = {
    "hub": ("hub_id", "database_url"),
    "server": ("host", "port"),
    "sync": ("signature_window_s", "max_chunk_bytes", "public_urls"),
    "fleet": ("late_after_s", "offline_after_s", "silent_alert_hours"),
    "forward": ("forward_url", "forward_token", "forward_interval_s"),
}
_TYPES = {f.name: str(f.type) for f in fields(HubSettings)}


def _bad_value(key: str, value: object, source: str) -> ConfigError:
    return ConfigError(
        f"Giá trị '{key}' trong {source} không hợp lệ: {value!r}.",
        f"Invalid value for '{key}' in {source}: {value!r}.",
        code="config_value",
    )


def _coerce(key: str, value: Any, source: str) -> Any:
    """Return a value from the file or the environment in the type of its setting."""
    kind = _TYPES[key]
    if kind in ("int", "float"):
        if isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
            raise _bad_value(key, value, source)
        try:
            number = int(value) if kind == "int" else float(value)
        except (TypeError, ValueError) as err:
            raise _bad_value(key, value, source) from err
        if number < 0 or (number == 0 and key != "port"):
            raise _bad_value(key, value, source)
        return number
    if kind.startswith("tuple"):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
            raise _bad_value(key, value, source)
        return tuple(v.strip() for v in items if v.strip())
    if not isinstance(value, str):
        raise ConfigError(
            f"Giá trị '{key}' trong {source} phải là chuỗi ký tự.",
            f"'{key}' in {source} must be a string.",
            code="config_value",
        )
    if kind.endswith("None"):
        return value.strip() or None
    return value


def _data_dir(data_dir: Path | str | None, env: Mapping[str, str]) -> Path:
    if data_dir is None:
        data_dir = env.get(ENV_PREFIX + "DATA")
    if not data_dir:
        raise ConfigError(
            "Chưa chỉ thư mục dữ liệu của máy chủ tỉnh: dùng --data DIR hoặc biến MOTCUA_HUB_DATA.",
            "No hub data directory given: use --data DIR or MOTCUA_HUB_DATA.",
            code="config_missing",
        )
    return Path(data_dir).resolve()


def load_hub_settings(data_dir: Path | str | None = None, env: Mapping[str, str] | None = None) -> HubSettings:
    """Build the HubSettings from DIR/hub.toml, overridden by MOTCUA_HUB_* variables."""
    env = os.environ if env is None else env
    root = _data_dir(data_dir, env)
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"Không thấy máy chủ tỉnh ở {root}: chạy 'motcua hub init' trước.",
            f"No hub at {root}: run 'motcua hub init' first.",
            code="config_missing",
        )
    raw = read_toml(path)
    values = settings_values(raw, _SECTIONS, path, env, ENV_PREFIX, _TYPES, _coerce)
    missing = [k for k in _SECTIONS["hub"] if not values.get(k)]
    if missing:
        raise ConfigError(
            f"Tệp cấu hình {path} thiếu: {', '.join(missing)}.",
            f"The config file {path} lacks: {', '.join(missing)}.",
            code="config_missing",
        )
    return HubSettings(data_dir=root, **values)


def load_hub_secrets(settings: HubSettings) -> dict[str, str]:
    """Read the hub's secrets file (session_secret)."""
    data = read_toml(settings.secrets_path, "Tệp bí mật", "The secrets file")
    return {k: str(v) for k, v in data.items()}


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def write_hub_settings(settings: HubSettings) -> None:
    """Write DIR/hub.toml (used once, by init_hub); unset optional keys are left out."""
    lines = ["# Một Cửa Edge provincial hub configuration. MOTCUA_HUB_<KEY> variables override these."]
    for section, keys in _SECTIONS.items():
        lines.append(f"\n[{section}]")
        lines += [f"{k} = {_toml_value(getattr(settings, k))}" for k in keys if getattr(settings, k) is not None]
    # 0640 from the start: database_url may carry the PostgreSQL password.
    fd = os.open(settings.data_dir / CONFIG_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def init_hub(data_dir: Path | str, database_url: str | None = None) -> HubSettings:
    """Create a new hub in data_dir (config, secrets, schema); never overwrite one."""
    root = Path(data_dir).resolve()
    for existing in (CONFIG_FILE, SECRETS_FILE):
        if (root / existing).exists():
            raise ConfigError(
                f"Đã có một máy chủ tỉnh ở {root}; không ghi đè. Chọn thư mục khác.",
                f"A hub already exists at {root}; refusing to overwrite it. Choose another folder.",
                code="hub_exists",
            )
    url = database_url or f"sqlite:///{root / DB_FILE}"
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigError(
            f"Địa chỉ cơ sở dữ liệu không hợp lệ: {url!r} (dùng sqlite:///… hoặc postgresql://…).",
            f"Invalid database URL: {url!r} (use sqlite:///… or postgresql://…).",
            code="config_value",
        )
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o750)
    settings = HubSettings(data_dir=root, hub_id="hub-" + secrets.token_hex(6), database_url=url)
    _create_schema(HubDB(url))
    fd = os.open(settings.secrets_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f'session_secret = "{secrets.token_hex(32)}"\n')
    write_hub_settings(settings)
    return settings


def open_hub(data_dir: Path | str | None = None, env: Mapping[str, str] | None = None) -> tuple[HubSettings, HubDB]:
    """Load the settings and open the database, creating missing tables (idempotent)."""
    settings = load_hub_settings(data_dir, env)
    db = HubDB(settings.database_url)
    _create_schema(db)
    return settings, db


def _create_schema(db: HubDB) -> None:
    """Create the tables, turning a database that cannot be reached into a ConfigError."""
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    if db.kind == "postgresql":
        import psycopg

        errors = (psycopg.Error,)
    try:
        db.create_schema()
    except errors as err:
        where = db.url.split("@")[-1]  # never print a password from the URL
        raise ConfigError(
            f"Không mở được cơ sở dữ liệu của máy chủ tỉnh ({where}): {err}",
            f"Cannot open the hub database ({where}): {err}",
            code="database",
        ) from err
    finally:
        db.close()
