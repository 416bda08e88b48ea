"""Enrolling the box with the hub: a one-time code exchanged for the box's secret (`motcua provision`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from edge import __version__, audit
from edge.box import Box
from edge.errors import ConfigError
from edge.store.db import write
from sync.client.config import SyncConfig, check_hub_url, require_sync_config, write_sync_config
from sync.client.errors import HubRefusedError, SyncClientError
from sync.client.transport import Transport

_HEX64 = re.compile(r"[0-9a-f]{64}")
# What the officer or technician reads for each refusal the enrollment may meet.
_ENROLL_MESSAGES = {
    "bad_enrollment_code": (
        "Mã đăng ký không đúng, đã được dùng hoặc đã hết hạn (7 ngày). Xin mã mới ở máy chủ tỉnh.",
        "The enrollment code is wrong, used or expired (7 days). Ask the hub for a new one.",
    ),
    "commune_mismatch": (
        "Mã đăng ký này được cấp cho một xã khác, không phải xã {commune} của máy này.",
        "This enrollment code was issued for another commune, not this box's commune {commune}.",
    ),
    "box_already_enrolled": (
        "Máy này đã được đăng ký ở máy chủ tỉnh; nhờ quản trị tỉnh thu hồi bản đăng ký cũ rồi cấp mã mới.",
        "This box is already enrolled at the hub; ask the province to revoke the old record and issue a new code.",
    ),
}


def _refused(err: HubRefusedError, commune: str) -> HubRefusedError:
    known = _ENROLL_MESSAGES.get(err.code)
    if known is None:
        return err
    vi, en = (text.format(commune=commune) for text in known)
    return HubRefusedError(vi, en, code=err.code, http_status=err.http_status, body=err.body)


def _bad_answer(what: str) -> SyncClientError:
    return SyncClientError(
        f"Máy chủ tỉnh trả lời đăng ký không hợp lệ ({what}).",
        f"The hub's enrollment answer is malformed ({what}).",
        code="bad_enrollment_answer",
    )


def provision(box: Box, hubs: list[str], code: str, ca_bundle: Path | str | None = None) -> SyncConfig:
    """Enroll the box at the first hub URL that answers and write sync.toml and the secret."""
    urls = [check_hub_url(u) for u in hubs]
    if not urls:
        raise ConfigError("Cần ít nhất một địa chỉ máy chủ tỉnh (--hub).", "Give at least one hub URL (--hub).")
    ca = Path(ca_bundle).resolve() if ca_bundle else None
    if ca is not None and not ca.is_file():
        raise ConfigError(f"Không thấy tệp chứng chỉ CA {ca}.", f"The CA bundle {ca} does not exist.", code="ca_bundle")
    settings = box.settings
    body = {
        "code": code.strip(),
        "box_id": settings.box_id,
        "commune_code": settings.commune_code,
        "agency_code": settings.agency_code,
        "name": settings.name,
        "version": __version__,
    }
    transport = Transport(urls, ca_bundle=str(ca) if ca else None, last_resort=True)
    try:
        response = transport.request(
            "POST",
            "/sync/v1/enroll",
            body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            content_type="application/json",
            signed=False,
        )
    except HubRefusedError as err:
        raise _refused(err, settings.commune_code) from err
    finally:
        transport.close()
    try:
        answer = response.json()
    except ValueError as err:
        raise _bad_answer("không phải JSON / not JSON") from err
    if not isinstance(answer, dict) or not _HEX64.fullmatch(str(answer.get("secret", ""))):
        raise _bad_answer("secret")
    if answer.get("commune_code") != settings.commune_code:
        vi, en = _ENROLL_MESSAGES["commune_mismatch"]
        raise HubRefusedError(
            vi.format(commune=settings.commune_code),
            en.format(commune=settings.commune_code),
            code="commune_mismatch",
            http_status=response.status_code,
            body=answer,
        )
    if answer.get("box_id") != settings.box_id:
        raise _bad_answer("box_id")
    write_sync_config(settings, urls, bytes.fromhex(answer["secret"]), str(answer.get("hub_id") or ""), ca)
    db = box.db()
    with write(db):
        audit.record(db, "cli", "sync_provisioned", target=settings.box_id, detail={"hubs": urls})
    return require_sync_config(settings)
