"""Settings: one object built from the data dir's motcua.toml and MOTCUA_* variables."""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import Any

from edge.errors import ConfigError
from edge.tomlconfig import read_toml, settings_values

CONFIG_FILE = "motcua.toml"
SECRETS_FILE = "secrets.toml"
DB_FILE = "motcua.db"
ENV_PREFIX = "MOTCUA_"


@dataclass(frozen=True)
class Settings:
    """Everything the box needs to know about itself, read once and passed in."""

    data_dir: Path
    box_id: str
    commune_code: str
    agency_code: str
    name: str
    host: str = "127.0.0.1"
    port: int = 8080
    working_hours: str = "07:00-11:30,13:30-17:00"
    max_upload_mb: float = 20.0
    log_level: str = "INFO"
    # Devices: a device URL each ("" = none), see devices/urls.py and edge/devicecfg.py.
    receipt_printer: str = ""
    receipt_printer_profile: str = "generic-80"
    ticket_printer: str = ""
    ticket_printer_profile: str = "generic-80"
    card_terminal: str = ""
    rating_keypad: str = ""
    keypad_counter: int = 1
    # Fee receipts (biên lai): form (mẫu số) and series (ký hiệu; "" = "BL" and the year's two digits).
    receipt_form: str = "01BLP0-001"
    receipt_series: str = ""
    fees_before_result: int = 0  # 1: the result is returned only once a requested payment is paid in full
    # VietQR transfers to the office's account ("" = not set up); notify_token authenticates bank notifications.
    vietqr_bank_bin: str = ""
    vietqr_account: str = ""
    vietqr_account_name: str = ""
    vietqr_notify_token: str = ""
    rating_scale: int = 5  # levels of a counter rating: 3 or 5 (edge/ratings.py LEVELS)

    @property
    def db_path(self) -> Path:
        """Return the path of the box's SQLite file."""
        return self.data_dir / DB_FILE

    @property
    def blob_dir(self) -> Path:
        """Return the folder of content-addressed attachments."""
        return self.data_dir / "blobs"

    @property
    def state_dir(self) -> Path:
        """Return the folder of small state files kept beside the DB (high-water marks)."""
        return self.data_dir / "state"

    @property
    def secrets_path(self) -> Path:
        """Return the path of the 0600 secrets file."""
        return self.data_dir / SECRETS_FILE

    @property
    def max_upload_bytes(self) -> int:
        """Return the attachment size limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)


# Keys in motcua.toml: section -> keys of Settings it may set.
_SECTIONS = {
    "box": ("box_id", "commune_code", "agency_code", "name"),
    "server": ("host", "port", "log_level"),
    "rules": ("working_hours",),
    "attachments": ("max_upload_mb",),
    "devices": (
        "receipt_printer", "receipt_printer_profile", "ticket_printer", "ticket_printer_profile", "card_terminal",
        "rating_keypad", "keypad_counter",
    ),
    "receipts": ("receipt_form", "receipt_series", "fees_before_result"),
    "vietqr": ("vietqr_bank_bin", "vietqr_account", "vietqr_account_name", "vietqr_notify_token"),
    "ratings": ("rating_scale",),
}  # fmt: skip
_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(key: str, value: Any, source: str) -> Any:
    kind = _TYPES[key]
    try:
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            number = int(value)
            if key == "rating_scale" and number not in (3, 5):
                raise ConfigError(
                    f"'rating_scale' trong {source} phải là 3 hoặc 5 (số mức đánh giá), không phải {value!r}.",
                    f"'rating_scale' in {source} must be 3 or 5 (rating levels), not {value!r}.",
                    code="config_value",
                )
            return number
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"Giá trị '{key}' trong {source} không hợp lệ: {value!r}.",
            f"Invalid value for '{key}' in {source}: {value!r}.",
            code="config_value",
        ) from err
    if not isinstance(value, str):
        raise ConfigError(
            f"Giá trị '{key}' trong {source} phải là chuỗi ký tự.",
            f"'{key}' in {source} must be a string.",
            code="config_value",
        )
    return value


def load_settings(data_dir: Path | str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build the Settings from DIR/motcua.toml, overridden by MOTCUA_* variables."""
    env = os.environ if env is None else env
    if data_dir is None:
        data_dir = env.get(ENV_PREFIX + "DATA")
    if not data_dir:
        raise ConfigError(
            "Chưa chỉ thư mục dữ liệu: dùng --data DIR hoặc biến MOTCUA_DATA.",
            "No data directory given: use --data DIR or MOTCUA_DATA.",
            code="config_missing",
        )
    root = Path(data_dir).resolve()
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"Không thấy máy ở {root}: chạy 'motcua init' trước.",
            f"No box at {root}: run 'motcua init' first.",
            code="config_missing",
        )
    raw = read_toml(path)
    values = settings_values(raw, _SECTIONS, path, env, ENV_PREFIX, _TYPES, _coerce)
    missing = [k for k in _SECTIONS["box"] if not values.get(k)]
    if missing:
        raise ConfigError(
            f"Tệp cấu hình {path} thiếu: {', '.join(missing)}.",
            f"The config file {path} lacks: {', '.join(missing)}.",
            code="config_missing",
        )
    return Settings(data_dir=root, **values)


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string for everything JSON escapes.
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _write_config(data_dir: Path, values: Mapping[str, Any]) -> None:
    """Write motcua.toml from {key: value} atomically (a power cut leaves the old or the new file)."""
    lines = ["# Một Cửa Edge box configuration. MOTCUA_<KEY> variables override these."]
    for section, keys in _SECTIONS.items():
        lines.append(f"\n[{section}]")
        lines += [f"{key} = {_toml_value(values[key])}" for key in keys if key in values]
    path = data_dir / CONFIG_FILE
    tmp = path.with_suffix(".toml.tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def write_settings(settings: Settings) -> None:
    """Write the box's motcua.toml (by init)."""
    _write_config(settings.data_dir, {key: getattr(settings, key) for keys in _SECTIONS.values() for key in keys})


def update_config_file(data_dir: Path, changes: Mapping[str, Any]) -> None:
    """Change some keys of motcua.toml, keeping the file's other values as written (not the environment's)."""
    path = data_dir / CONFIG_FILE
    raw = read_toml(path)
    values: dict[str, Any] = {
        f.name: f.default for f in fields(Settings) if f.name != "data_dir" and f.default is not MISSING
    }
    for section, keys in _SECTIONS.items():
        table = raw.get(section, {})
        values.update({k: table[k] for k in keys if isinstance(table, dict) and k in table})
    for key, value in changes.items():
        if not any(key in keys for keys in _SECTIONS.values()):
            raise ConfigError(f"Không có khóa cấu hình '{key}'.", f"No configuration key '{key}'.", code="config_key")
        values[key] = _coerce(key, value, "cấu hình thiết bị")
    _write_config(data_dir, values)


def create_secrets(settings: Settings) -> None:
    """Create the box's secrets file with mode 0600, refusing to replace one."""
    fd = os.open(settings.secrets_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f'session_secret = "{secrets.token_hex(32)}"\n')
        out.write(f'box_secret = "{secrets.token_hex(32)}"\n')


def load_secrets(settings: Settings) -> dict[str, str]:
    """Read the secrets file."""
    try:
        data = tomllib.loads(settings.secrets_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(
            f"Không đọc được tệp bí mật {settings.secrets_path}.",
            f"Cannot read the secrets file {settings.secrets_path}.",
            code="secrets",
        ) from err
    return {k: str(v) for k, v in data.items()}


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    """Return a copy of settings with command-line overrides applied."""
    return replace(settings, **{k: v for k, v in changes.items() if v is not None})
