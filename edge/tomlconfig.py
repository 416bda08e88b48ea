"""Reading a TOML settings file and laying MOTCUA_* variables over it (shared by the box and the hub)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from edge.errors import ConfigError

Coerce = Callable[[str, Any, str], Any]


def read_toml(path: Path, what_vi: str = "Tệp cấu hình", what_en: str = "The config file") -> dict[str, Any]:
    """Return a TOML file's tables; a malformed or unreadable file is a ConfigError in vi and en."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"{what_vi} {path} bị lỗi: {err}.",
            f"{what_en} {path} is malformed: {err}.",
            code="config_syntax",
        ) from err
    except OSError as err:
        raise ConfigError(
            f"Không đọc được {what_vi.lower()} {path}: {err.strerror}.",
            f"Cannot read {what_en.lower()} {path}: {err.strerror}.",
            code="config_missing",
        ) from err


def settings_values(
    raw: Mapping[str, Any],
    sections: Mapping[str, Iterable[str]],
    path: Path,
    env: Mapping[str, str],
    prefix: str,
    keys: Iterable[str],
    coerce: Coerce,
) -> dict[str, Any]:
    """Return the settings a file's sections give, each overridden by its `prefix + KEY` variable."""
    values: dict[str, Any] = {}
    for section, names in sections.items():
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(
                f"Mục [{section}] trong {path} không hợp lệ.",
                f"Section [{section}] in {path} is not a table.",
                code="config_syntax",
            )
        for key in names:
            if key in table:
                values[key] = coerce(key, table[key], str(path))
    for key in keys:
        name = prefix + key.upper()
        if key != "data_dir" and name in env:
            values[key] = coerce(key, env[name], name)
    return values
