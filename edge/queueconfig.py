"""What an administrator configures of the queue: services, counters and priority groups.

Each save checks every field first and then changes one row inside one transaction, with its
audit entry: a wrong input changes nothing. A service's letter is unique among the active services
and is not given to a service while another one's numbers of today start with it, so two tickets
of one day never share a number. A service or counter that citizens still wait for today cannot be
closed. The kiosk, the counters and the API read these tables on every request: a change shows at
once.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import sqlite_utils

from edge import audit
from edge.errors import ConflictError, NotFoundError, ValidationError
from edge.store.db import write

_CODE = re.compile(r"[A-Z0-9]{1,8}", re.ASCII)
_PREFIX = re.compile(r"[A-Z]", re.ASCII)
_PRIORITY_CODE = re.compile(r"[a-z][a-z0-9_]{0,19}", re.ASCII)
_INT = re.compile(r"-?[0-9]{1,6}", re.ASCII)
WEIGHTS = (1, 9)  # a priority group's weight; an ordinary ticket weighs 0


def _text(value: object, field: str, longest: int, vi: str, en: str) -> str:
    text = " ".join(value.split()) if isinstance(value, str) else ""
    if not 1 <= len(text) <= longest:
        raise ValidationError(f"{vi} dài 1–{longest} ký tự.", f"{en} is 1–{longest} characters.", field=field)
    return text


def _int(value: object, field: str, lowest: int, highest: int, vi: str, en: str) -> int:
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
        raise ValidationError(
            f"{vi} là một số nguyên từ {lowest} đến {highest}.",
            f"{en} is a whole number from {lowest} to {highest}.",
            field=field,
        )
    return value


def _check_new(found: object, new: bool, vi_what: str, en_what: str) -> None:
    """Refuse adding what exists (it would be overwritten) and changing what does not."""
    if new and found is not None:
        raise ConflictError(
            f"{vi_what} đã có; hãy sửa mục đó thay vì thêm mới.", f"{en_what} exists; edit it instead.",
            code="exists", field="code",
        )  # fmt: skip
    if not new and found is None:
        raise NotFoundError(f"Không có {vi_what[0].lower()}{vi_what[1:]}.", f"No {en_what[0].lower()}{en_what[1:]}.")


def save_service(
    db: sqlite_utils.Database, code: object, name: object, prefix: object, *, active: bool = True,
    position: object = 0, actor: str, now: datetime, new: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Add (new=True) or change a service; return it."""
    code = code.strip().upper() if isinstance(code, str) else ""
    prefix = prefix.strip().upper() if isinstance(prefix, str) else ""
    if not _CODE.fullmatch(code):
        raise ValidationError(
            "Mã dịch vụ gồm 1–8 chữ in hoa hoặc số.", "A service code is 1–8 capital letters or digits.", field="code"
        )
    name = _text(name, "name", 100, "Tên dịch vụ", "The service name")
    if not _PREFIX.fullmatch(prefix):
        raise ValidationError("Chữ đầu số là một chữ cái A–Z.", "The prefix is one letter A–Z.", field="prefix")
    position = _int(position, "position", 0, 999, "Thứ tự", "The order")
    day = now.date().isoformat()
    with write(db):
        found = db.execute("SELECT prefix, active FROM queue_services WHERE code = ?", [code]).fetchone()
        _check_new(found, new, f"Dịch vụ mã {code}", f"Service {code}")
        if active:
            _check_prefix(db, code, prefix, day, unchanged=found is not None and tuple(found) == (prefix, 1))
        elif found is not None and found[1]:
            waiting = db.execute(
                "SELECT count(*) FROM queue_tickets WHERE day >= ? AND service = ? AND state = 'waiting'", [day, code]
            ).fetchone()[0]
            if waiting:
                raise ConflictError(
                    f"Dịch vụ {name} còn {waiting} số đang chờ hôm nay: gọi hết hoặc chuyển các số này sang"
                    " dịch vụ khác rồi mới tạm ngừng dịch vụ.",
                    f"Service {name} still has {waiting} ticket(s) waiting today: call them or transfer them to"
                    " another service before closing it.",
                    code="service_has_waiting", field="active",
                )  # fmt: skip
        db.execute(
            "INSERT INTO queue_services (code, name, prefix, active, position) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (code) DO UPDATE SET name = excluded.name, prefix = excluded.prefix,"
            " active = excluded.active, position = excluded.position",
            [code, name, prefix, int(active), position],
        )
        detail = {"name": name, "prefix": prefix, "active": active, "position": position, "new": new}
        audit.record(db, actor, "queue_service_saved", target=f"queue_service:{code}", detail=detail)
    return {"code": code, "name": name, "prefix": prefix, "active": active, "position": position}


def _check_prefix(db: sqlite_utils.Database, code: str, prefix: str, day: str, *, unchanged: bool) -> None:
    taken = db.execute(
        "SELECT code FROM queue_services WHERE prefix = ? AND code != ? AND active = 1", [prefix, code]
    ).fetchone()
    if taken:
        raise ConflictError(
            f"Chữ {prefix} đã dùng cho dịch vụ {taken[0]}; chọn chữ khác.",
            f"Prefix {prefix} is used by service {taken[0]}; choose another letter.",
            code="prefix_taken", field="prefix",
        )  # fmt: skip
    if unchanged:
        return
    used = db.execute(
        "SELECT number FROM queue_tickets WHERE day >= ? AND substr(number, 1, 1) = ? AND service != ? LIMIT 1",
        [day, prefix, code],
    ).fetchone()
    if used:
        raise ConflictError(
            f"Hôm nay đã có số {used[0]} bắt đầu bằng chữ {prefix}; chọn chữ khác hoặc đổi vào ngày mai.",
            f"Today's ticket {used[0]} already starts with {prefix}; choose another letter or change it tomorrow.",
            code="prefix_used_today", field="prefix",
        )  # fmt: skip


def save_counter(
    db: sqlite_utils.Database, number: object, name: object, services: list[str], *, active: bool = True,
    actor: str, now: datetime, new: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Add (new=True) or change a counter and the services it serves; return it."""
    number = _int(number, "number", 1, 99, "Số quầy", "The counter number")
    name = _text(name, "name", 50, "Tên quầy", "The counter name")
    day = now.date().isoformat()
    with write(db):
        known = [r[0] for r in db.execute("SELECT code FROM queue_services WHERE active = 1 ORDER BY position, code")]
        unknown = sorted(set(services) - set(known))
        if unknown:
            raise ValidationError(
                f"Không có dịch vụ {', '.join(unknown)}.", f"No service {', '.join(unknown)}.", field="services"
            )
        served = [code for code in known if code in services]
        if not served:
            raise ValidationError(
                "Chọn ít nhất một dịch vụ quầy phục vụ.", "Choose at least one service the counter serves.",
                field="services",
            )  # fmt: skip
        found = db.execute("SELECT active FROM queue_counters WHERE number = ?", [number]).fetchone()
        _check_new(found, new, f"Quầy số {number}", f"Counter {number}")
        if not active and found is not None and found[0]:
            _check_counter_idle(db, number, day)
        db.execute(
            "INSERT INTO queue_counters (number, name, services, active) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (number) DO UPDATE SET name = excluded.name, services = excluded.services,"
            " active = excluded.active",
            [number, name, json.dumps(served), int(active)],
        )
        detail = {"name": name, "services": served, "active": active, "new": new}
        audit.record(db, actor, "queue_counter_saved", target=f"queue_counter:{number}", detail=detail)
    return {"number": number, "name": name, "services": served, "active": active}


def _check_counter_idle(db: sqlite_utils.Database, number: int, day: str) -> None:
    """A counter with a citizen at it, or citizens sent to it, cannot close."""
    at = db.execute(
        "SELECT number FROM queue_tickets WHERE day >= ? AND counter = ? AND state IN ('called', 'serving')",
        [day, number],
    ).fetchone()
    sent = db.execute(
        "SELECT count(*) FROM queue_tickets WHERE day >= ? AND for_counter = ? AND state = 'waiting'", [day, number]
    ).fetchone()[0]
    if at:
        raise ConflictError(
            f"Quầy số {number} đang phục vụ số {at[0]}: xong số này rồi mới tạm ngừng quầy.",
            f"Counter {number} is serving ticket {at[0]}: finish it before closing the counter.",
            code="counter_busy", field="active",
        )  # fmt: skip
    if sent:
        raise ConflictError(
            f"Còn {sent} số được chuyển đến quầy số {number} đang chờ: gọi hoặc chuyển các số này trước.",
            f"{sent} ticket(s) sent to counter {number} still wait: call or transfer them first.",
            code="counter_has_waiting", field="active",
        )  # fmt: skip


def save_priority(
    db: sqlite_utils.Database, code: object, name_vi: object, name_en: object, weight: object, *,
    active: bool = True, sort: object = 0, actor: str, new: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Add (new=True) or change a priority group; tickets already issued keep the weight they got."""
    code = code.strip().lower() if isinstance(code, str) else ""
    if not _PRIORITY_CODE.fullmatch(code) or code == "new":  # /queue/admin/priorities/new is the add page
        raise ValidationError(
            "Mã nhóm ưu tiên gồm 1–20 chữ thường không dấu, số hoặc dấu _, bắt đầu bằng chữ (không dùng “new”).",
            "A priority code is 1–20 lower-case letters, digits or _, starting with a letter (not “new”).",
            field="code",
        )
    name_vi = _text(name_vi, "name_vi", 60, "Tên tiếng Việt", "The Vietnamese name")
    name_en = _text(name_en, "name_en", 60, "Tên tiếng Anh", "The English name")
    weight = _int(weight, "weight", *WEIGHTS, "Trọng số", "The weight")
    sort = _int(sort, "sort", 0, 99, "Thứ tự", "The order")
    with write(db):
        found = db.execute("SELECT 1 FROM queue_priorities WHERE code = ?", [code]).fetchone()
        _check_new(found, new, f"Nhóm ưu tiên {code}", f"Priority group {code}")
        db.execute(
            "INSERT INTO queue_priorities (code, name_vi, name_en, weight, active, sort) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (code) DO UPDATE SET name_vi = excluded.name_vi, name_en = excluded.name_en,"
            " weight = excluded.weight, active = excluded.active, sort = excluded.sort",
            [code, name_vi, name_en, weight, int(active), sort],
        )
        detail = {"name_vi": name_vi, "name_en": name_en, "weight": weight, "active": active, "sort": sort, "new": new}
        audit.record(db, actor, "queue_priority_saved", target=f"queue_priority:{code}", detail=detail)
    return {"code": code, "name_vi": name_vi, "name_en": name_en, "weight": weight, "active": active, "sort": sort}
