"""The take-a-number queue: services with a letter, daily numbers, priority groups, counters.

A ticket's number is the service's prefix and its sequence of the day (A001, A002, …; numbering
starts again each day). Numbers are taken inside one IMMEDIATE transaction, so two kiosks pressing
at once never get the same number and none is skipped; calling the next ticket is one transaction
too, so two counters never call the same ticket. Priority groups (elderly, disabled, pregnant)
carry a weight 1–9 (kept on the ticket as issued): the heaviest waiting ticket is called first,
then the oldest. A new box has four services (A Hộ tịch, B Chứng thực, C Đất đai, xây dựng, D Lĩnh
vực khác), counters 1–3 serving all of them (migration 0009) and the three priority groups of weight
2 (migration 0011); an admin changes them (edge.queueconfig).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import sqlite_utils

from edge.errors import ConflictError, NotFoundError, ValidationError
from edge.events import iso
from edge.store.db import write

TICKET_STATES = {
    "waiting": ("Đang chờ", "Waiting"),
    "called": ("Đã gọi", "Called"),
    "serving": ("Đang phục vụ", "Being served"),
    "done": ("Đã xong", "Done"),
    "no_show": ("Vắng mặt", "No-show"),
}
_TICKET_COLUMNS = (
    "id", "day", "service", "seq", "number", "priority", "weight", "state", "issued_at", "called_at", "counter",
    "for_counter", "officer", "calls", "started_at", "finished_at", "dossier_id",
)  # fmt: skip


_RETURNING = ", ".join(_TICKET_COLUMNS)


def _row(values: Any) -> dict[str, Any]:
    ticket = dict(zip(_TICKET_COLUMNS, values, strict=True))
    ticket["state_vi"], ticket["state_en"] = TICKET_STATES[ticket["state"]]
    return ticket


def list_services(db: sqlite_utils.Database, active_only: bool = True) -> list[dict[str, Any]]:
    """Return the services a citizen can take a number for, in the kiosk's order."""
    where = "WHERE active = 1" if active_only else ""
    rows = db.execute(
        f"SELECT code, name, prefix, active, position FROM queue_services {where} ORDER BY position, code"
    ).fetchall()
    return [{"code": c, "name": n, "prefix": p, "active": bool(a), "position": o} for c, n, p, a, o in rows]


def list_counters(db: sqlite_utils.Database, active_only: bool = False) -> list[dict[str, Any]]:
    """Return the counters with the services each serves (all active services when none are named)."""
    every = [s["code"] for s in list_services(db)]
    out = []
    where = "WHERE active = 1" if active_only else ""
    for number, name, services, active in db.execute(
        f"SELECT number, name, services, active FROM queue_counters {where} ORDER BY number"
    ).fetchall():
        named = json.loads(services)
        out.append({"number": number, "name": name, "services": named or every, "active": bool(active)})
    return out


def list_priorities(db: sqlite_utils.Database, active_only: bool = True) -> list[dict[str, Any]]:
    """Return the priority groups (elderly, disabled, pregnant, …) in the kiosk's order."""
    where = "WHERE active = 1" if active_only else ""
    rows = db.execute(
        f"SELECT code, name_vi, name_en, weight, active, sort FROM queue_priorities {where} ORDER BY sort, code"
    )
    keys = ("code", "name_vi", "name_en", "weight", "active", "sort")
    return [{**dict(zip(keys, r, strict=True)), "active": bool(r[4])} for r in rows.fetchall()]


def priorities(db: sqlite_utils.Database) -> dict[str, tuple[str, str, int]]:
    """Return the active priority groups as code -> (Vietnamese name, English name, weight)."""
    return {p["code"]: (p["name_vi"], p["name_en"], p["weight"]) for p in list_priorities(db)}


def _service(db: sqlite_utils.Database, code: object) -> tuple[str, str]:
    found = db.execute(
        "SELECT code, prefix FROM queue_services WHERE code = ? AND active = 1", [code if isinstance(code, str) else ""]
    ).fetchone()
    if found is None:
        raise ValidationError(
            f"Không có dịch vụ “{code}”.", f"No service “{code}”.", code="unknown_service", field="service"
        )
    return str(found[0]), str(found[1])


def format_number(prefix: str, seq: int) -> str:
    """A001 … A999, then A1000: three digits at least."""
    return f"{prefix}{seq:03d}"


def issue_ticket(db: sqlite_utils.Database, service: object, now: datetime, priority: object = None) -> dict[str, Any]:
    """Take the next number of the day for a service; return the ticket and how many wait ahead of it."""
    code, prefix = _service(db, service)
    groups = priorities(db)
    if priority in ("", None):
        priority = None
    elif priority not in groups:
        raise ValidationError(
            f"Nhóm ưu tiên phải là một trong {', '.join(groups)}.",
            f"The priority must be one of {', '.join(groups)}.",
            code="unknown_priority",
            field="priority",
        )
    weight = groups[str(priority)][2] if priority else 0
    day, moment = now.date().isoformat(), iso(now)
    with write(db):
        seq = db.execute(
            "INSERT INTO queue_sequences (day, service, last) VALUES (?, ?, 1)"
            " ON CONFLICT (day, service) DO UPDATE SET last = last + 1 RETURNING last",
            [day, code],
        ).fetchone()[0]
        ticket_id = str(uuid.uuid4())
        db.execute(
            "INSERT INTO queue_tickets (id, day, service, seq, number, priority, weight, state, issued_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'waiting', ?)",
            [ticket_id, day, code, seq, format_number(prefix, seq), priority, weight, moment],
        )
        ahead = db.execute(
            "SELECT count(*) FROM queue_tickets WHERE day = ? AND service = ? AND state = 'waiting'"
            " AND (weight > ? OR (weight = ? AND seq < ?))",
            [day, code, weight, weight, seq],
        ).fetchone()[0]
    return {**get_ticket(db, ticket_id), "waiting_ahead": int(ahead)}


def get_ticket(db: sqlite_utils.Database, ticket_id: str) -> dict[str, Any]:
    """Return one ticket, or raise NotFoundError."""
    row = db.execute(f"SELECT {', '.join(_TICKET_COLUMNS)} FROM queue_tickets WHERE id = ?", [ticket_id]).fetchone()
    if row is None:
        raise NotFoundError(f"Không có số thứ tự {ticket_id}.", f"No ticket {ticket_id}.", code="ticket_not_found")
    return _row(row)


def _counter_services(db: sqlite_utils.Database, counter: int) -> list[str]:
    row = db.execute("SELECT services, active FROM queue_counters WHERE number = ?", [counter]).fetchone()
    if row is None:
        raise NotFoundError(f"Không có quầy số {counter}.", f"No counter {counter}.", code="counter_not_found")
    if not row[1]:
        raise ConflictError(
            f"Quầy số {counter} đang tạm ngừng; chọn quầy khác hoặc nhờ quản trị mở lại quầy.",
            f"Counter {counter} is closed; choose another counter or ask an administrator to open it.",
            code="counter_inactive",
        )
    return json.loads(row[0]) or [s["code"] for s in list_services(db)]


def call_next(db: sqlite_utils.Database, counter: int, officer: str, now: datetime) -> dict[str, Any] | None:
    """Call the next waiting ticket a counter serves (heaviest priority, then oldest); None when nobody waits."""
    services = _counter_services(db, counter)
    day, moment = now.date().isoformat(), iso(now)
    marks = ", ".join("?" * len(services))
    with write(db):
        row = db.execute(
            f"UPDATE queue_tickets SET state = 'called', counter = ?, officer = ?, called_at = ?, calls = calls + 1"
            f" WHERE id = (SELECT id FROM queue_tickets WHERE day = ? AND state = 'waiting'"
            f" AND (for_counter = ? OR (for_counter IS NULL AND service IN ({marks})))"
            f" ORDER BY for_counter IS NULL, weight DESC, issued_at, seq LIMIT 1) RETURNING {_RETURNING}",
            [counter, officer, moment, day, counter, *services],
        ).fetchone()
        if row is not None:
            _announce(db, _row(row))
    return _row(row) if row else None


def waiting(db: sqlite_utils.Database, now: datetime) -> list[dict[str, Any]]:
    """Return today's waiting tickets in the order they will be called (per service)."""
    rows = db.execute(
        f"SELECT {', '.join(_TICKET_COLUMNS)} FROM queue_tickets WHERE day = ? AND state = 'waiting'"
        " ORDER BY weight DESC, issued_at, seq",
        [now.date().isoformat()],
    ).fetchall()
    return [_row(r) for r in rows]


# --- what the officer at the counter does with the ticket called --------------------------------

_ACTIONS = {
    # action: (states it applies to, state after)
    "recall": (("called",), "called"),
    "no_show": (("called",), "no_show"),
    "start": (("called",), "serving"),
    "finish": (("called", "serving"), "done"),
    "transfer": (("called", "serving"), "waiting"),
}


def _act(db: sqlite_utils.Database, ticket_id: str, action: str, sets: str, params: list[Any]) -> dict[str, Any]:
    states, _ = _ACTIONS[action]
    with write(db):
        ticket = get_ticket(db, ticket_id)
        if ticket["state"] not in states:
            raise ConflictError(
                f"Số {ticket['number']} đang ở trạng thái “{ticket['state_vi']}”: không thể làm thao tác này.",
                f"Ticket {ticket['number']} is {ticket['state_en'].lower()}: this action is not possible.",
                code="ticket_state",
            )
        db.execute(f"UPDATE queue_tickets SET {sets} WHERE id = ?", [*params, ticket_id])
    return get_ticket(db, ticket_id)


def recall(db: sqlite_utils.Database, ticket_id: str, now: datetime) -> dict[str, Any]:
    """Call the same ticket again (the citizen did not come up yet)."""
    ticket = _act(db, ticket_id, "recall", "called_at = ?, calls = calls + 1", [iso(now)])
    with write(db):
        _announce(db, ticket)
    return ticket


def no_show(db: sqlite_utils.Database, ticket_id: str, now: datetime) -> dict[str, Any]:
    """The citizen called did not come: the ticket ends as a no-show."""
    return _act(db, ticket_id, "no_show", "state = 'no_show', finished_at = ?", [iso(now)])


def start(db: sqlite_utils.Database, ticket_id: str, now: datetime) -> dict[str, Any]:
    """The citizen is at the counter: service starts."""
    return _act(db, ticket_id, "start", "state = 'serving', started_at = ?", [iso(now)])


def finish(db: sqlite_utils.Database, ticket_id: str, now: datetime, dossier_id: str | None = None) -> dict[str, Any]:
    """Service is over (optionally: the dossier received from this ticket); without "start", it started at the call."""
    return _act(
        db, ticket_id, "finish", "state = 'done', finished_at = ?, started_at = coalesce(started_at, called_at, ?),"
        " dossier_id = coalesce(?, dossier_id)", [iso(now), iso(now), dossier_id],
    )  # fmt: skip


def transfer(
    db: sqlite_utils.Database, ticket_id: str, *, service: str | None = None, counter: int | None = None
) -> dict[str, Any]:
    """Send the citizen, with the same number, to another service or to one counter; they wait again."""
    if service is None and counter is None:
        raise ValidationError("Chọn dịch vụ hoặc quầy để chuyển đến.", "Choose a service or a counter.", field="to")
    if service is not None:
        service = _service(db, service)[0]
    if counter is not None:
        _counter_services(db, counter)
    return _act(
        db, ticket_id, "transfer", "state = 'waiting', service = coalesce(?, service), for_counter = ?,"
        " counter = NULL, called_at = NULL, started_at = NULL", [service, counter],
    )  # fmt: skip


def link_dossier(db: sqlite_utils.Database, ticket_id: str, dossier_id: str) -> dict[str, Any]:
    """Tie the dossier received from this ticket to it (for the statistics and the rating)."""
    get_ticket(db, ticket_id)
    with write(db):
        db.execute("UPDATE queue_tickets SET dossier_id = ? WHERE id = ?", [dossier_id, ticket_id])
    return get_ticket(db, ticket_id)


# --- what the display board shows and says ---------------------------------------------------------

_CALL_COLUMNS = ("id", "ticket_id", "number", "service", "counter", "at")


def _announce(db: sqlite_utils.Database, ticket: dict[str, Any]) -> None:
    """Append a call for the display board (inside the caller's transaction)."""
    db.execute(
        "INSERT INTO queue_calls (ticket_id, number, service, counter, at) VALUES (?, ?, ?, ?, ?)",
        [ticket["id"], ticket["number"], ticket["service"], ticket["counter"], ticket["called_at"]],
    )


def calls_after(db: sqlite_utils.Database, after: int, limit: int = 100) -> list[dict[str, Any]]:
    """Return the calls made after call id `after`, oldest first (what a display has not shown yet)."""
    rows = db.execute(
        f"SELECT {', '.join(_CALL_COLUMNS)} FROM queue_calls WHERE id > ? ORDER BY id LIMIT ?", [after, limit]
    ).fetchall()
    return [dict(zip(_CALL_COLUMNS, r, strict=True)) for r in rows]


def board(db: sqlite_utils.Database, now: datetime, recent: int = 8) -> dict[str, Any]:
    """Return today's display board: the last call of each counter, the last few calls, the last call id."""
    day = now.date().isoformat()
    rows = db.execute(
        f"SELECT {', '.join(_CALL_COLUMNS)} FROM queue_calls WHERE at >= ? ORDER BY id DESC LIMIT 200", [day]
    ).fetchall()
    calls = [dict(zip(_CALL_COLUMNS, r, strict=True)) for r in rows]
    current: dict[int, dict[str, Any]] = {}
    for call in calls:
        current.setdefault(call["counter"], call)
    last = db.execute("SELECT coalesce(max(id), 0) FROM queue_calls").fetchone()[0]
    return {"counters": [current[k] for k in sorted(current)], "recent": calls[:recent], "last_id": int(last)}


_LETTERS = {
    "A": "a", "B": "bê", "C": "xê", "D": "dê", "E": "e", "F": "ép", "G": "giê", "H": "hát", "I": "i", "J": "gi",
    "K": "ca", "L": "en lờ", "M": "em mờ", "N": "en nờ", "O": "o", "P": "pê", "Q": "quy", "R": "e rờ", "S": "ét",
    "T": "tê", "U": "u", "V": "vê", "W": "vê kép", "X": "ích", "Y": "i dài", "Z": "dét",
}  # fmt: skip
_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")


def call_text(number: str, counter: int) -> str:
    """What the display says aloud: "Mời số A, không, một, hai, đến quầy số hai" for A012 at counter 2."""
    spoken = [_LETTERS.get(ch, ch) if ch.isalpha() else _DIGITS[int(ch)] for ch in number if ch.isalnum()]
    counter_words = " ".join(_DIGITS[int(d)] for d in str(counter)) if counter < 10 else str(counter)
    return f"Mời số {', '.join(spoken)}, đến quầy số {counter_words}."


def at_counter(db: sqlite_utils.Database, counter: int, now: datetime) -> dict[str, Any] | None:
    """Return the ticket a counter has called or is serving now, if any."""
    row = db.execute(
        f"SELECT {_RETURNING} FROM queue_tickets WHERE day = ? AND counter = ? AND state IN ('called', 'serving')"
        " ORDER BY called_at DESC LIMIT 1",
        [now.date().isoformat(), counter],
    ).fetchone()
    return _row(row) if row else None
