"""Reading dossiers: one in full with its timeline, or a filtered, searchable page of many."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from edge import events
from edge.errors import NotFoundError, ValidationError
from edge.lifecycle import STATUSES, allowed_actions, finished_late
from edge.search import plan_search

OVERDUE_STATUSES = ("new", "processing", "paying")  # the clock runs; waiting pauses it


def is_overdue(status: str, due_at: str | None, late: bool, now: datetime) -> bool:
    """Return whether a dossier is overdue now (computed, never stored as a status)."""
    if late:
        return True
    return bool(due_at) and status in OVERDUE_STATUSES and now > datetime.fromisoformat(str(due_at))


def dossier_view(state: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Return the API shape of a dossier from its folded state."""
    status = state["status"]
    _, label_vi, label_en = STATUSES[status]
    keys = (
        "dossier_id", "code", "status", "status_code", "procedure", "applicant", "documents", "channel",
        "return_method", "return_address", "received_at", "due_at", "original_due_at", "received_by",
        "finished_at", "returned_at", "return", "assignee", "steps", "supplement", "payment", "reschedules",
        "outcome", "attachments", "notes", "conflict", "conflicts", "resolutions", "origin", "created_at", "updated_at",
    )  # fmt: skip
    view = {k: state.get(k) for k in keys}
    view.update(
        procedure_code=state["procedure"]["code"],
        procedure_name=state["procedure"]["name"],
        status_label={"vi": label_vi, "en": label_en},
        overdue=is_overdue(status, state["due_at"], finished_late(state), now),
        allowed_actions=allowed_actions(status, state),
    )
    return view


def get_dossier(db: sqlite_utils.Database, code: str, now: datetime) -> dict[str, Any]:
    """Return one dossier with its event timeline."""
    row = db.execute("SELECT state FROM dossiers WHERE code = ?", [code]).fetchone()
    if not row:
        raise NotFoundError(
            f"Không tìm thấy hồ sơ mã “{code}”.", f"No dossier with code “{code}”.", code="dossier_not_found"
        )
    state = json.loads(row[0])
    view = dossier_view(state, now)
    view["events"] = [
        {k: v for k, v in e.to_dict().items() if k != "dossier_id"} for e in events.events_of(db, state["dossier_id"])
    ]
    return view


@dataclass(frozen=True)
class ListQuery:
    """Filters for the dossier list."""

    status: tuple[str, ...] = ()
    overdue: bool | None = None
    q: str | None = None
    procedure_code: str | None = None
    assignee: str | None = None
    conflict: bool | None = None
    due_within_days: int | None = None
    limit: int = 50
    cursor: int | None = None


def parse_status(value: str) -> tuple[str, ...]:
    """Turn "new,4" into status keys, accepting keys or national codes."""
    by_code = {str(v[0]): k for k, v in STATUSES.items()}
    out = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        key = by_code.get(part, part)
        if key not in STATUSES:
            raise ValidationError(
                f"Trạng thái “{part}” không tồn tại. Dùng: {', '.join(STATUSES)} hoặc mã 1–10.",
                f"Unknown status “{part}”. Use: {', '.join(STATUSES)} or codes 1–10.",
                code="invalid_status",
                field="status",
            )
        out.append(key)
    return tuple(out)


_LIST_COLUMNS = (
    "id", "code", "status", "status_code", "procedure_code", "procedure_name", "applicant_name",
    "applicant_id_number", "applicant_phone", "channel", "return_method", "received_at", "due_at",
    "finished_at", "returned_at", "finished_late", "assignee", "conflict",
)  # fmt: skip


def list_dossiers(db: sqlite_utils.Database, query: ListQuery, now: datetime) -> dict[str, Any]:
    """Return one page of dossiers, newest first, with a cursor for the next page."""
    where: list[str] = []
    args: list[Any] = []
    now_text = events.iso(now)
    if query.status:
        where.append(f"status IN ({', '.join('?' for _ in query.status)})")
        args += list(query.status)
    if query.overdue is True:
        marks = ", ".join("?" for _ in OVERDUE_STATUSES)
        where.append(f"((status IN ({marks}) AND due_at < ?) OR finished_late = 1)")
        args += [*OVERDUE_STATUSES, now_text]
    elif query.overdue is False:
        marks = ", ".join("?" for _ in OVERDUE_STATUSES)
        where.append(f"NOT ((status IN ({marks}) AND due_at < ?) OR finished_late = 1)")
        args += [*OVERDUE_STATUSES, now_text]
    if query.due_within_days is not None:
        limit_text = events.iso(now + timedelta(days=query.due_within_days))
        marks = ", ".join("?" for _ in OVERDUE_STATUSES)
        where.append(f"status IN ({marks}) AND due_at >= ? AND due_at <= ?")
        args += [*OVERDUE_STATUSES, now_text, limit_text]
    if query.procedure_code:
        where.append("procedure_code = ?")
        args.append(query.procedure_code)
    if query.assignee:
        where.append("assignee = ?")
        args.append(query.assignee)
    if query.conflict is not None:
        where.append("conflict = ?")
        args.append(int(query.conflict))
    table, order = "dossiers", "dossiers.id"
    if query.q and (plan := plan_search(db, query.q)) is not None:
        table, order = plan.table, plan.order
        where += plan.where
        args += plan.args
    if query.cursor is not None:
        where.append(f"{order} < ?")
        args.append(query.cursor)
    sql = f"SELECT {', '.join('dossiers.' + c for c in _LIST_COLUMNS)} FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order} DESC LIMIT ?"
    args.append(query.limit + 1)
    rows = [dict(zip(_LIST_COLUMNS, r, strict=True)) for r in db.execute(sql, args).fetchall()]
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = str(rows[-1]["id"]) if more and rows else None
    items = []
    for row in rows:
        late = bool(row.pop("finished_late"))
        row["conflict"] = bool(row["conflict"])
        row["overdue"] = is_overdue(row["status"], row["due_at"], late, now)
        row.pop("id")
        items.append(row)
    return {"items": items, "next_cursor": next_cursor}
