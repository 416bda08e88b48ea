"""The box's sync identity: DIR/sync.toml (hub URLs, ids) and DIR/sync-secret.toml (the secret, mode 0600).

sync.toml, written by `motcua provision`::

    [sync]
    box_id = "…"                 # must be this box's id (motcua.toml)
    commune_code = "00001"       # must be this box's commune
    hub_id = "…"
    hubs = ["https://hub1.example/", "https://hub2.example/"]   # tried in this order
    ca_bundle = "/etc/motcua/province-ca.pem"                   # optional: the province's CA
    interval_s = 60              # the worker's periodic cycle; MOTCUA_SYNC_INTERVAL_S overrides
    check_s = 1                  # how often the worker looks for local writes; MOTCUA_SYNC_CHECK_S
    workers = 3                  # push batches in flight at once

sync-secret.toml holds ``secret = "<64 hex>"`` and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edge.config import Settings
from edge.errors import ConfigError
from sync.client.errors import NotProvisionedError

SYNC_FILE = "sync.toml"
SECRET_FILE = "sync-secret.toml"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ENV = {"interval_s": "MOTCUA_SYNC_INTERVAL_S", "check_s": "MOTCUA_SYNC_CHECK_S", "workers": "MOTCUA_SYNC_WORKERS"}


@dataclass(frozen=True)
class SyncConfig:
    """Everything the sync client needs to talk to the hub as this box."""

    data_dir: Path
    box_id: str
    commune_code: str
    hubs: tuple[str, ...]
    secret: bytes = field(repr=False)
    hub_id: str = ""
    ca_bundle: Path | None = None
    interval_s: float = 60.0
    check_s: float = 1.0
    workers: int = 3


def _bad(path: Path, vi: str, en: str, code: str = "sync_config") -> ConfigError:
    return ConfigError(f"Tệp {path} không hợp lệ: {vi}.", f"The file {path} is invalid: {en}.", code=code)


def check_hub_url(url: object) -> str:
    """Return a hub URL without its trailing slash, or raise ConfigError."""
    text = url.strip() if isinstance(url, str) else ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"Địa chỉ máy chủ tỉnh “{text}” không hợp lệ (dạng https://ten-may:cong/).",
            f"The hub address “{text}” is invalid (form https://host:port/).",
            code="bad_hub_url",
        )
    return text.rstrip("/")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise _bad(path, f"sai cú pháp TOML ({err})", f"not valid TOML ({err})", "sync_config_syntax") from err
    except OSError as err:
        raise ConfigError(
            f"Không đọc được tệp {path} ({err.strerror}).", f"Cannot read {path} ({err.strerror}).", code="sync_config"
        ) from err


def _number(path: Path, key: str, value: object, kind: type[int] | type[float]) -> float:
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(value)
        number = kind(value)
    except (TypeError, ValueError) as err:
        raise _bad(path, f"{key} phải là số", f"{key} must be a number") from err
    if number <= 0:
        raise _bad(path, f"{key} phải lớn hơn 0", f"{key} must be positive")
    return number


def _read_secret(path: Path) -> bytes:
    if not path.is_file():
        raise ConfigError(
            f"Thiếu tệp bí mật {path}: chạy lại 'motcua provision'.",
            f"The secret file {path} is missing: run 'motcua provision' again.",
            code="sync_secret",
        )
    if path.stat().st_mode & 0o077:
        raise ConfigError(
            f"Tệp bí mật {path} phải chỉ chủ sở hữu đọc được (chmod 600).",
            f"The secret file {path} must be readable by its owner only (chmod 600).",
            code="sync_secret",
        )
    secret = _read_toml(path).get("secret")
    if not isinstance(secret, str) or not _HEX64.fullmatch(secret):
        raise _bad(path, "secret phải gồm 64 ký tự hex", "secret must be 64 hex characters", "sync_secret")
    return bytes.fromhex(secret)


def load_sync_config(settings: Settings, env: Mapping[str, str] | None = None) -> SyncConfig | None:
    """Read the box's sync identity; None when the box was never provisioned."""
    env = os.environ if env is None else env
    path = settings.data_dir / SYNC_FILE
    if not path.exists():
        return None
    raw = _read_toml(path).get("sync")
    if not isinstance(raw, dict):
        raise _bad(path, "thiếu mục [sync]", "the [sync] section is missing")
    for key in ("box_id", "commune_code"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise _bad(path, f"thiếu {key}", f"{key} is missing")
    if raw["box_id"] != settings.box_id or raw["commune_code"] != settings.commune_code:
        raise _bad(
            path,
            f"được cấp cho máy {raw['box_id']} (xã {raw['commune_code']}), không phải máy này",
            f"it was issued to box {raw['box_id']} (commune {raw['commune_code']}), not this box",
            "sync_config_other_box",
        )
    hubs = raw.get("hubs")
    if not isinstance(hubs, list) or not hubs:
        raise _bad(path, "hubs phải là danh sách địa chỉ máy chủ tỉnh", "hubs must be a list of hub URLs")
    try:
        urls = tuple(check_hub_url(u) for u in hubs)
    except ConfigError as err:
        raise _bad(path, err.vi.rstrip("."), err.en.rstrip("."), "bad_hub_url") from err
    ca = raw.get("ca_bundle")
    if ca is not None and (not isinstance(ca, str) or not Path(ca).is_file()):
        raise _bad(path, f"không thấy tệp chứng chỉ CA {ca!r}", f"the CA bundle {ca!r} does not exist")
    numbers: dict[str, Any] = {}
    for key, env_name in _ENV.items():
        value = env.get(env_name, raw.get(key))
        if value is not None:
            kind = int if key == "workers" else float
            numbers[key] = kind(_number(path, key, value, kind))
    return SyncConfig(
        data_dir=settings.data_dir,
        box_id=raw["box_id"],
        commune_code=raw["commune_code"],
        hubs=urls,
        secret=_read_secret(settings.data_dir / SECRET_FILE),
        hub_id=str(raw.get("hub_id") or ""),
        ca_bundle=Path(ca) if ca else None,
        **numbers,
    )


def _write_atomically(path: Path, text: str, mode: int) -> None:
    """Write a file through a temporary sibling, fsync it, and rename it over the old one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_sync_config(
    settings: Settings, hubs: list[str], secret: bytes, hub_id: str, ca_bundle: Path | None = None
) -> None:
    """Write sync-secret.toml (0600) then sync.toml, each atomically."""
    _write_atomically(settings.data_dir / SECRET_FILE, f'secret = "{secret.hex()}"\n', 0o600)
    lines = [
        "# Một Cửa Edge: this box's link to the provincial hub (written by `motcua provision`).",
        "[sync]",
        f"box_id = {json.dumps(settings.box_id)}",
        f"commune_code = {json.dumps(settings.commune_code)}",
        f"hub_id = {json.dumps(hub_id, ensure_ascii=False)}",
        "hubs = [" + ", ".join(json.dumps(u) for u in hubs) + "]",
    ]
    if ca_bundle is not None:
        lines.append(f"ca_bundle = {json.dumps(str(ca_bundle.resolve()), ensure_ascii=False)}")
    _write_atomically(settings.data_dir / SYNC_FILE, "\n".join(lines) + "\n", 0o640)


def require_sync_config(settings: Settings) -> SyncConfig:
    """Return the sync identity, or raise NotProvisionedError."""
    config = load_sync_config(settings)
    if config is None:
        raise NotProvisionedError(
            "Máy chưa được đăng ký với máy chủ tỉnh: chạy 'motcua provision --hub URL --code MÃ' trước.",
            "The box is not enrolled with the provincial hub: run 'motcua provision --hub URL --code CODE' first.",
        )
    return config
