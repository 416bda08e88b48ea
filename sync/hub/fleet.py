"""The fleet view: one row per box, computed from its record, its newest heartbeat and the time now.

State comes from the age of the newest heartbeat (`taken_at`, PROTOCOL.md): online up to
`late_after_s`, late up to `offline_after_s`, offline after that or when never heard from.
Alerts (code, Vietnamese, English):

| code | when |
|---|---|
| `silent` | no heartbeat for more than `silent_alert_hours` (never: counted from enrolment) |
| `backlog` | the oldest event waiting to be sent is more than 24 hours old |
| `disk_low` | under 15 % of the disk is free |
| `clock_skew` | the box's clock is more than 2 minutes off the hub's |
| `device` | a device reports not ok (one alert per device) |
| `forward_failing` | a dossier of the box's commune failed 3+ times to reach the national portal |

`compute_row` and the sort/filter helpers are pure; `load_fleet` reads the hub database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from edge.text import fold
from sync.hub.db import HubDB

STATES: dict[str, tuple[str, str]] = {
    "online": ("Trực tuyến", "Online"),
    "late": ("Chậm", "Late"),
    "offline": ("Mất liên lạc", "Offline"),
}
BACKLOG_ALERT_S = 86_400
DISK_ALERT_PCT = 15.0
CLOCK_SKEW_ALERT_MS = 120_000
FORWARD_ALERT_ATTEMPTS = 3
ALERT_CODES = ("silent", "backlog", "disk_low", "clock_skew", "device", "forward_failing")
SORT_KEYS = (
    "box_id",
    "commune_code",
    "name",
    "state",
    "last_seen",
    "heartbeat_age_s",
    "outbox_events",
    "outbox_bytes",
    "oldest_unsent_age_s",
    "version",
    "disk_free_pct",
    "clock_offset_ms",
    "alerts",
)
_STATE_ORDER = {"offline": 0, "late": 1, "online": 2}


@dataclass(frozen=True)
class Thresholds:
    """The limits that turn heartbeat ages into states and alerts (taken from HubSettings)."""

    late_after_s: float = 900
    offline_after_s: float = 3600
    silent_alert_hours: float = 24

    @classmethod
    def of(cls, settings: Any) -> Thresholds:
        """Read the thresholds from the hub's settings."""
        return cls(settings.late_after_s, settings.offline_after_s, settings.silent_alert_hours)


@dataclass(frozen=True)
class Alert:
    """One thing provincial IT should look at, in Vietnamese and English."""

    code: str
    message: str
    message_en: str

    def to_dict(self) -> dict[str, str]:
        """Return the alert as JSON-ready data."""
        return asdict(self)


@dataclass
class FleetRow:
    """What the fleet page and API show for one box."""

    box_id: str | None
    record_id: str
    commune_code: str
    commune_name: str
    name: str
    enrolled: bool
    state: str
    last_seen: str | None
    last_heartbeat_at: str | None
    heartbeat_age_s: float | None
    outbox_events: int | None
    outbox_bytes: int | None
    oldest_unsent_age_s: float | None
    version: str | None
    disk_free_pct: float | None
    clock_offset_ms: int | None
    last_push_at: str | None
    last_pull_at: str | None
    last_push_error: str | None
    last_pull_error: str | None
    errors: list[str]
    devices: list[dict[str, Any]]
    alerts: list[Alert] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the row as the JSON the fleet API answers with."""
        data = asdict(self)
        data["alerts"] = [a.to_dict() for a in self.alerts]
        data["last_error"] = self.errors[0] if self.errors else None
        return data


def parse_moment(text: object) -> datetime | None:
    """Return an ISO 8601 moment with its offset, or None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def age_s(moment: str | None, now: float) -> float | None:
    """Return how many seconds ago an ISO moment was (None when unknown)."""
    parsed = parse_moment(moment)
    return None if parsed is None else round(now - parsed.timestamp(), 3)


def state_for(heartbeat_age: float | None, limits: Thresholds) -> str:
    """Return online, late or offline for the age of the newest heartbeat."""
    if heartbeat_age is None or heartbeat_age > limits.offline_after_s:
        return "offline"
    return "late" if heartbeat_age > limits.late_after_s else "online"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: object) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def disk_free_pct(body: dict[str, Any]) -> float | None:
    """Return the free share of the box's disk in percent, or None when not reported."""
    free, total = _number(body.get("disk_free_bytes")), _number(body.get("disk_total_bytes"))
    if free is None or not total or total <= 0:
        return None
    return round(100.0 * free / total, 1)


def _duration(seconds: float) -> tuple[str, str]:
    hours = seconds / 3600
    if hours >= 48:
        return f"{hours / 24:.0f} ngày", f"{hours / 24:.0f} days"
    return f"{hours:.0f} giờ", f"{hours:.0f} hours"


def alerts_for(row: FleetRow, enrolled_age_s: float | None, failing_forwards: int, limits: Thresholds) -> list[Alert]:
    """Return the alerts of one box row, in a fixed order."""
    out: list[Alert] = []
    silent_s = limits.silent_alert_hours * 3600
    if row.enrolled:
        quiet = row.heartbeat_age_s if row.heartbeat_age_s is not None else enrolled_age_s
        if quiet is not None and quiet > silent_s:
            vi, en = _duration(quiet)
            out.append(Alert("silent", f"Không nhận được tín hiệu từ thiết bị {vi}.", f"No heartbeat for {en}."))
    if row.oldest_unsent_age_s is not None and row.oldest_unsent_age_s > BACKLOG_ALERT_S:
        vi, en = _duration(row.oldest_unsent_age_s)
        out.append(
            Alert(
                "backlog",
                f"Có dữ liệu chờ đồng bộ quá {vi} ({row.outbox_events or 0} sự kiện).",
                f"Data has waited {en} to sync ({row.outbox_events or 0} events).",
            )
        )
    if row.disk_free_pct is not None and row.disk_free_pct < DISK_ALERT_PCT:
        pct = f"{row.disk_free_pct:g}"
        out.append(
            Alert(
                "disk_low",
                f"Ổ đĩa sắp đầy: chỉ còn {pct.replace('.', ',')} % trống.",
                f"The disk is nearly full: {pct} % free.",
            )
        )
    if row.clock_offset_ms is not None and abs(row.clock_offset_ms) > CLOCK_SKEW_ALERT_MS:
        secs = round(row.clock_offset_ms / 1000)
        out.append(
            Alert(
                "clock_skew",
                f"Đồng hồ của thiết bị lệch {secs:+d} giây so với máy chủ tỉnh.",
                f"The box's clock is {secs:+d} s off the hub's.",
            )
        )
    for device in row.devices:
        if device.get("ok") is False:
            name = str(device.get("name") or device.get("kind") or "?")
            err = str(device.get("last_error") or "")
            out.append(
                Alert(
                    "device",
                    f"Thiết bị “{name}” đang lỗi{': ' + err if err else ''}.",
                    f"Device “{name}” is failing{': ' + err if err else ''}.",
                )
            )
    if failing_forwards:
        out.append(
            Alert(
                "forward_failing",
                f"{failing_forwards} hồ sơ không gửi được lên Cổng DVC quốc gia (đã thử từ 3 lần).",
                f"{failing_forwards} dossiers failed to reach the national portal (3+ attempts).",
            )
        )
    return out


def compute_row(
    box: dict[str, Any], now: float, limits: Thresholds, commune_name: str = "", failing_forwards: int = 0
) -> FleetRow:
    """Return a box's fleet row from its boxes-table row (as a dict), the time now and the limits."""
    body = _heartbeat_body(box.get("last_heartbeat"))
    newest = _text(box.get("last_heartbeat_at")) or _text(body.get("taken_at"))
    hb_age = age_s(newest, now)
    errors = [e for e in (_text(body.get("last_push_error")), _text(body.get("last_pull_error"))) if e]
    devices = [d for d in body.get("devices") or [] if isinstance(d, dict)]
    errors += [f"{d.get('name')}: {d['last_error']}" for d in devices if d.get("ok") is False and d.get("last_error")]
    row = FleetRow(
        box_id=_text(box.get("box_id")),
        record_id=str(box.get("record_id") or ""),
        commune_code=str(box.get("commune_code") or ""),
        commune_name=commune_name,
        name=str(box.get("name") or ""),
        enrolled=bool(box.get("enrolled_at")) and not box.get("revoked_at"),
        state=state_for(hb_age, limits),
        last_seen=_text(box.get("last_seen_at")),
        last_heartbeat_at=newest,
        heartbeat_age_s=hb_age,
        outbox_events=_int(body.get("outbox_events")),
        outbox_bytes=_int(body.get("outbox_bytes")),
        oldest_unsent_age_s=_number(body.get("oldest_unsent_age_s")),
        version=_text(body.get("version")) or _text(box.get("version")),
        disk_free_pct=disk_free_pct(body),
        clock_offset_ms=_int(body.get("clock_offset_ms")),
        last_push_at=_text(body.get("last_push_at")),
        last_pull_at=_text(body.get("last_pull_at")),
        last_push_error=_text(body.get("last_push_error")),
        last_pull_error=_text(body.get("last_pull_error")),
        errors=errors,
        devices=devices,
    )
    row.alerts = alerts_for(row, age_s(_text(box.get("enrolled_at")), now), failing_forwards, limits)
    return row


def _heartbeat_body(raw: object) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw:
        try:
            data = json.loads(raw)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return {}


def filter_rows(
    rows: Iterable[FleetRow],
    *,
    state: str | None = None,
    commune: str | None = None,
    alert: str | None = None,
    text: str | None = None,
) -> list[FleetRow]:
    """Keep the rows matching every filter given (text matches box id, name, commune, accents ignored)."""
    needle = fold(text).lower().strip() if text else ""
    out = []
    for row in rows:
        if state and row.state != state:
            continue
        if commune and row.commune_code != commune:
            continue
        if alert and not any(a.code == alert for a in row.alerts) and not (alert == "any" and row.alerts):
            continue
        if needle:
            hay = fold(" ".join([row.box_id or "", row.name, row.commune_code, row.commune_name])).lower()
            if needle not in hay:
                continue
        out.append(row)
    return out


def _sort_value(row: FleetRow, key: str) -> tuple[int, Any]:
    if key == "state":
        return (0, _STATE_ORDER[row.state])
    if key == "alerts":
        return (0, len(row.alerts))
    value = getattr(row, key)
    # Unknown values sort last whichever way the column is sorted (see sort_rows).
    return (1, 0) if value is None else (0, fold(value).lower() if isinstance(value, str) else value)


def sort_rows(rows: Sequence[FleetRow], key: str = "state", descending: bool = False) -> list[FleetRow]:
    """Sort rows by a column (SORT_KEYS); unknown values go last; ties by commune then box id."""
    if key not in SORT_KEYS:
        key = "state"
    known = [r for r in rows if _sort_value(r, key)[0] == 0]
    unknown = [r for r in rows if _sort_value(r, key)[0] == 1]
    tie = sorted(known, key=lambda r: (r.commune_code, r.box_id or "", r.record_id))
    ordered = sorted(tie, key=lambda r: _sort_value(r, key)[1], reverse=descending)
    return ordered + sorted(unknown, key=lambda r: (r.commune_code, r.box_id or "", r.record_id))


_BOX_COLUMNS = (
    "record_id",
    "box_id",
    "commune_code",
    "name",
    "agency_code",
    "enrolled_at",
    "revoked_at",
    "created_at",
    "version",
    "last_seen_at",
    "last_heartbeat",
    "last_heartbeat_at",
)


def failing_forwards_by_commune(db: HubDB) -> dict[str, int]:
    """Return, per commune, how many dossiers failed 3+ times to reach the national portal."""
    rows = db.query(
        "SELECT d.commune_code, count(*) FROM forwards f JOIN dossiers d ON d.dossier_id = f.dossier_id"
        " WHERE f.wanted_version > f.sent_version AND f.attempts >= ? GROUP BY d.commune_code",
        [FORWARD_ALERT_ATTEMPTS],
    )
    return {str(r[0]): int(r[1]) for r in rows}


def box_record(db: HubDB, box_id: str) -> dict[str, Any] | None:
    """Return the active (or else newest) boxes-table row of a box id as a dict."""
    row = db.one(
        f"SELECT {', '.join(_BOX_COLUMNS)} FROM boxes WHERE box_id = ?"
        " ORDER BY CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END, created_at DESC",
        [box_id],
    )
    return dict(zip(_BOX_COLUMNS, row, strict=True)) if row else None


def load_fleet(db: HubDB, now: float, limits: Thresholds) -> list[FleetRow]:
    """Return the row of every box not revoked (enrolled or waiting for enrolment)."""
    names = {str(r[0]): str(r[1] or "") for r in db.query("SELECT commune_code, name FROM communes")}
    failing = failing_forwards_by_commune(db)
    rows = db.query(f"SELECT {', '.join(_BOX_COLUMNS)} FROM boxes WHERE revoked_at IS NULL")
    out = []
    for raw in rows:
        box = dict(zip(_BOX_COLUMNS, raw, strict=True))
        commune = str(box["commune_code"])
        out.append(compute_row(box, now, limits, names.get(commune, ""), failing.get(commune, 0)))
    return sort_rows(out)


def fleet_row(db: HubDB, box_id: str, now: float, limits: Thresholds) -> FleetRow | None:
    """Return one box's row, or None when the hub has no box with this id."""
    box = box_record(db, box_id)
    if box is None:
        return None
    commune = str(box["commune_code"])
    name = db.scalar("SELECT name FROM communes WHERE commune_code = ?", [commune]) or ""
    failing = failing_forwards_by_commune(db).get(commune, 0)
    return compute_row(box, now, limits, str(name), failing)


def heartbeat_history(db: HubDB, box_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """Return a box's heartbeats, newest first: each body with taken_at and received_at."""
    rows = db.query(
        "SELECT taken_at, received_at, body FROM heartbeats WHERE box_id = ? ORDER BY taken_at DESC, id DESC LIMIT ?",
        [box_id, limit],
    )
    out = []
    for taken_at, received_at, body in rows:
        data = _heartbeat_body(body)
        out.append({**data, "taken_at": taken_at, "received_at": received_at})
    return out
