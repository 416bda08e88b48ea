"""Reading dossiers: one in full with its timeline, or a filtered, searchable page of many."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlite_utils

from edge import events
from edge.calendar import TZ
from edge.errors import NotFoundError, ValidationError
from edge.lifecycle import STATUSES, allowed_actions, finished_late
from edge.search import FTS_TABLE, SearchPlan, plan_search

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
    """Filters for the dossier list.

    received_from / received_to: received on or after / on or before these days (Vietnam time);
    with either of them the page is ordered by the moment of receipt, newest first.
    due_on: due on that day, the clock running (new, processing, paying).
    """

    status: tuple[str, ...] = ()
    overdue: bool | None = None
    q: str | None = None
    procedure_code: str | None = None
    assignee: str | None = None
    conflict: bool | None = None
    due_within_days: int | None = None
    limit: int = 50
    cursor: int | None = None
    received_from: date | None = None
    received_to: date | None = None
    due_on: date | None = None


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


# A filter that matches fewer rows than this drives the page: its rows are read through its
# index and sorted. Otherwise the page walks an index already in the page's order (the table
# by id, procedure or assignee by id, the day of receipt) and stops at the page's last row.
PROBE_LIMIT = 5000
SEARCH_PROBE_LIMIT = 300
DUE_SOON_DAYS = 2


def is_due_soon(status: str, due_at: str | None, now: datetime, days: int = DUE_SOON_DAYS) -> bool:
    """Return whether a dossier falls due within `days` from now (clock running, not yet overdue)."""
    if not due_at or status not in OVERDUE_STATUSES:
        return False
    return now <= datetime.fromisoformat(str(due_at)) <= now + timedelta(days=days)


def day_start(day: date) -> str:
    """Return the first moment of a day in Vietnam time, as stored (ISO 8601, +07:00)."""
    return events.iso(datetime.combine(day, time(0), tzinfo=TZ))


@dataclass(frozen=True)
class _Filter:
    """One condition of the list. `sql` names columns as {c}col so that the same test can be
    written for an index ({c} = "dossiers.") or with indexes off ({c} = "+dossiers.")."""

    sql: str
    args: tuple[Any, ...]
    index: str | None = None  # the index that reads exactly this filter's rows
    probe: bool = False  # whether counting its rows is cheap (an index reads them)
    order: str | None = None  # the page order its index already gives ("id" or "received")
    rows: str | None = None  # for a test no one index reads (an OR): the ids it matches, through indexes

    def indexed(self) -> str:
        if self.rows is not None:
            return f"dossiers.id IN ({self.rows})"
        return self.sql.format(c="dossiers.")

    def plain(self) -> str:
        return self.sql.format(c="+dossiers.")


def _marks(values: tuple[Any, ...]) -> str:
    return ", ".join("?" for _ in values)


def _filters(query: ListQuery, now: datetime) -> list[_Filter]:
    """Return the list's conditions other than the free-text search."""
    out: list[_Filter] = []
    now_text = events.iso(now)
    running = f"{{c}}status IN ({_marks(OVERDUE_STATUSES)})"
    late = f"(({running} AND {{c}}due_at < ?) OR {{c}}finished_late = 1)"
    if query.status:
        out.append(_Filter(f"{{c}}status IN ({_marks(query.status)})", query.status, "dossiers_status_due", probe=True))
    if query.overdue is True:
        rows = (
            f"SELECT id FROM dossiers INDEXED BY dossiers_status_due WHERE {running.format(c='')} AND due_at < ?"
            " UNION ALL SELECT id FROM dossiers INDEXED BY dossiers_finished_late WHERE finished_late = 1"
        )
        out.append(_Filter(late, (*OVERDUE_STATUSES, now_text), probe=True, rows=rows))
    elif query.overdue is False:
        out.append(_Filter(f"NOT {late}", (*OVERDUE_STATUSES, now_text)))
    if query.due_within_days is not None:
        limit_text = events.iso(now + timedelta(days=query.due_within_days))
        out.append(
            _Filter(
                f"{running} AND {{c}}due_at >= ? AND {{c}}due_at <= ?",
                (*OVERDUE_STATUSES, now_text, limit_text),
                "dossiers_status_due",
                probe=True,
            )
        )
    if query.due_on is not None:
        out.append(
            _Filter(
                f"{running} AND {{c}}due_at >= ? AND {{c}}due_at < ?",
                (*OVERDUE_STATUSES, day_start(query.due_on), day_start(query.due_on + timedelta(days=1))),
                "dossiers_status_due",
                probe=True,
            )
        )
    if query.procedure_code:
        out.append(
            _Filter("{c}procedure_code = ?", (query.procedure_code,), "dossiers_procedure", probe=True, order="id")
        )
    if query.assignee:
        out.append(_Filter("{c}assignee = ?", (query.assignee,), "dossiers_assignee", probe=True, order="id"))
    if query.conflict is True:
        out.append(_Filter("{c}conflict = 1", (), "dossiers_conflict", probe=True))
    elif query.conflict is False:
        out.append(_Filter("{c}conflict = 0", ()))
    if query.received_from is not None or query.received_to is not None:
        parts, args = [], []
        if query.received_from is not None:
            parts.append("{c}received_at >= ?")
            args.append(day_start(query.received_from))
        if query.received_to is not None:
            parts.append("{c}received_at < ?")
            args.append(day_start(query.received_to + timedelta(days=1)))
        out.append(_Filter(" AND ".join(parts), tuple(args), "dossiers_received", probe=True, order="received"))
    return out


def _count_upto(db: sqlite_utils.Database, f: _Filter, limit: int) -> int:
    """Count a filter's rows through its index, stopping at `limit` (cheap whatever the box size)."""
    if f.rows is not None:
        sql = f"SELECT count(*) FROM ({f.rows} LIMIT ?)"
    else:
        hint = f" INDEXED BY {f.index}" if f.index else ""
        sql = f"SELECT count(*) FROM (SELECT 1 FROM dossiers{hint} WHERE {f.indexed()} LIMIT ?)"
    return int(db.execute(sql, [*f.args, limit]).fetchone()[0])


def _page(db: sqlite_utils.Database, sql: str, args: list[Any], query: ListQuery, now: datetime) -> dict[str, Any]:
    rows = [dict(zip(_LIST_COLUMNS, r, strict=True)) for r in db.execute(sql, [*args, query.limit + 1]).fetchall()]
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


_SELECT = f"SELECT {', '.join('dossiers.' + c for c in _LIST_COLUMNS)}"
_EMPTY: dict[str, Any] = {"items": [], "next_cursor": None}


def _most_selective(db: sqlite_utils.Database, filters: list[_Filter], limit: int) -> tuple[_Filter | None, int]:
    """Return the filter with the fewest rows if it has fewer than `limit` (and how many), else None."""
    best: _Filter | None = None
    smallest = limit
    for f in filters:
        if not f.probe:
            continue
        count = _count_upto(db, f, limit)
        if count < smallest:
            best, smallest = f, count
        if count == 0:
            break
    return best, smallest


def _sql(driver: _Filter | None, filters: list[_Filter], extra: list[str], order: str) -> tuple[str, list[Any]]:
    """Return the page's SELECT: the driver's test free to use its index, every other test not."""
    where = [driver.indexed()] if driver else []
    where += [f.plain() for f in filters if f is not driver]
    args = [*(driver.args if driver else ()), *(a for f in filters if f is not driver for a in f.args)]
    hint = f" INDEXED BY {driver.index}" if driver is not None and driver.index and driver.rows is None else ""
    sql = f"{_SELECT} FROM dossiers{hint}"
    if where or extra:
        sql += " WHERE " + " AND ".join([*where, *extra])
    return f"{sql} ORDER BY {order} LIMIT ?", args


def list_dossiers(db: sqlite_utils.Database, query: ListQuery, now: datetime) -> dict[str, Any]:
    """Return one page of dossiers, newest first, with a cursor for the next page.

    Newest first is by id (the order dossiers reached this box); with a received-date filter
    and no search it is by the moment of receipt. The cursor is the last row's id either way.
    Each filter is cheap to count up to a bound through its index, so the query reads either the
    few rows of its most selective filter, or walks an index in the page's order and stops at
    the page's last row: no query reads the whole box.
    """
    filters = _filters(query, now)
    plan = plan_search(db, query.q) if query.q else None
    if plan is not None:
        return _search_page(db, plan, filters, query, now)
    by_received = any(f.order == "received" for f in filters)
    driver, count = _most_selective(db, filters, PROBE_LIMIT)
    if count == 0:
        return dict(_EMPTY)
    if driver is None:
        wanted = "received" if by_received else "id"
        driver = next((f for f in filters if f.order == wanted), None)
    extra: list[str] = []
    args: list[Any] = []
    if query.cursor is not None and by_received:
        row = db.execute("SELECT received_at FROM dossiers WHERE id = ?", [query.cursor]).fetchone()
        if row is None or row[0] is None:
            return dict(_EMPTY)
        c = "dossiers." if driver is not None and driver.order == "received" else "+dossiers."
        extra.append(f"{c}received_at <= ? AND ({c}received_at < ? OR dossiers.id < ?)")
        args += [row[0], row[0], query.cursor]
    elif query.cursor is not None:
        extra.append("dossiers.id < ?")
        args.append(query.cursor)
    order = "dossiers.received_at DESC, dossiers.id DESC" if by_received else "dossiers.id DESC"
    sql, filter_args = _sql(driver, filters, extra, order)
    return _page(db, sql, [*filter_args, *args], query, now)


def _search_page(
    db: sqlite_utils.Database, plan: SearchPlan, filters: list[_Filter], query: ListQuery, now: datetime
) -> dict[str, Any]:
    """Return a page of a free-text search (newest first by id), with the other filters applied."""
    if plan.table == FTS_TABLE and filters:
        # Checking one row against the search index costs far more than reading it, so a filter
        # drives only when it has very few rows; otherwise the search index does.
        driver, count = _most_selective(db, filters, SEARCH_PROBE_LIMIT)
        if count == 0:
            return dict(_EMPTY)
        if driver is not None:
            extra = [
                "EXISTS (SELECT 1 FROM dossier_search WHERE dossier_search MATCH ?"
                " AND dossier_search.rowid = dossiers.id)"
            ]
            args = list(plan.args)
            if query.cursor is not None:
                extra.append("dossiers.id < ?")
                args.append(query.cursor)
            sql, filter_args = _sql(driver, filters, extra, "dossiers.id DESC")
            return _page(db, sql, [*filter_args, *args], query, now)
    where = [*plan.where, *(f.plain() for f in filters)]
    args = [*plan.args, *(a for f in filters for a in f.args)]
    if query.cursor is not None:
        where.append(f"{plan.order} < ?")
        args.append(query.cursor)
    sql = f"{_SELECT} FROM {plan.table} WHERE {' AND '.join(where)} ORDER BY {plan.order} DESC LIMIT ?"
    return _page(db, sql, args, query, now)
