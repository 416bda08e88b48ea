"""Citizens' ratings from the counter's keypad, each tied to what that counter is serving.

The officer's screen tells the box what a counter serves now (a dossier, or a queue ticket);
a press on that counter's keypad becomes a rating of it, with the officer. A press while the
counter serves nothing is still kept (tied to the counter and officer only), never dropped.

The box rates on 3 or 5 levels (motcua.toml [ratings] rating_scale). Each rating keeps the scale it
was given on, so 5-level ratings still count after a switch to 3. A press of a button beyond the
scale (button 4 of a 5-button pad on a 3-level box) is refused and counted in `rating_rejects`,
never stored as a rating.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from edge import audit, devicehealth
from edge.calendar import TZ
from edge.config import update_config_file
from edge.errors import EdgeError, ValidationError
from edge.events import iso
from edge.ports import DeviceFailure, DeviceOpener, KeyPress, NotConfigured
from edge.store.db import write

# Levels for a 5-button and a 3-button pad, button 1 first (DOMAIN.md "Satisfaction and KPIs").
LEVELS = {
    5: (
        ("Rất hài lòng", "Very satisfied"),
        ("Hài lòng", "Satisfied"),
        ("Bình thường", "Neutral"),
        ("Không hài lòng", "Dissatisfied"),
        ("Rất không hài lòng", "Very dissatisfied"),
    ),
    3: (("Hài lòng", "Satisfied"), ("Bình thường", "Neutral"), ("Không hài lòng", "Dissatisfied")),
}
# The levels that count as satisfied: "Rất hài lòng" and "Hài lòng" of 5, "Hài lòng" of 3.
SATISFIED = {5: frozenset({1, 2}), 3: frozenset({1})}


def check_scale(scale: object) -> int:
    """Return the scale (3 or 5), or raise a ValidationError."""
    if isinstance(scale, bool) or scale not in LEVELS:
        raise ValidationError(
            f"Thang đánh giá phải có 3 hoặc 5 mức, không phải {scale!r}.",
            f"The rating scale has 3 or 5 levels, not {scale!r}.",
            code="invalid_scale",
            field="rating_scale",
        )
    return int(scale)


def switch_scale(db: sqlite_utils.Database, data_dir: Path, scale: object, actor: str) -> int:
    """Write the box's rating scale (3 or 5, as a number or its text) to motcua.toml, audited; return it."""
    wanted = check_scale(int(scale) if isinstance(scale, str) and scale.strip().isdigit() else scale)
    update_config_file(data_dir, {"rating_scale": wanted})
    with write(db):
        audit.record(db, actor, "rating_scale_set", target=str(wanted))
    return wanted


def _now(now: datetime | None) -> str:
    return iso(now or datetime.now(TZ))


def set_counter_subject(
    db: sqlite_utils.Database,
    counter: int,
    *,
    dossier_id: str | None = None,
    ticket: str | None = None,
    officer: str | None = None,
    now: datetime | None = None,
) -> None:
    """Say what a counter serves now (both None: nothing)."""
    with write(db):
        db.execute(
            "INSERT INTO counter_subjects (counter, dossier_id, ticket, officer, since) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (counter) DO UPDATE SET dossier_id = excluded.dossier_id, ticket = excluded.ticket,"
            " officer = excluded.officer, since = excluded.since",
            [counter, dossier_id, ticket, officer, _now(now)],
        )


def record_rating(
    db: sqlite_utils.Database, counter: int, button: int, scale: int, source: str, now: datetime | None = None
) -> dict[str, Any]:
    """Store one rating for what the counter serves now; return it.

    A button beyond the scale is counted in `rating_rejects` and refused (ValidationError).
    """
    check_scale(scale)
    if not 1 <= button <= scale:
        with write(db):
            db.execute(
                "INSERT INTO rating_rejects (counter, button, scale, source, at) VALUES (?, ?, ?, ?, ?)",
                [counter, button, scale, source, _now(now)],
            )
        raise ValidationError(
            f"Nút đánh giá {button} không có trong thang {scale} mức: lần bấm không được ghi.",
            f"Rating button {button} is not on the {scale}-level scale: the press is not recorded.",
            code="invalid_rating",
            field="level",
        )
    subject = db.execute(
        "SELECT dossier_id, ticket, officer FROM counter_subjects WHERE counter = ?", [counter]
    ).fetchone() or (None, None, None)
    rating = {
        "id": str(uuid.uuid4()),
        "counter": counter,
        "level": button,
        "scale": scale,
        "dossier_id": subject[0],
        "ticket": subject[1],
        "officer": subject[2],
        "source": source,
        "at": _now(now),
    }
    with write(db):
        db.execute(
            "INSERT INTO ratings (id, counter, level, scale, dossier_id, ticket, officer, source, at)"
            " VALUES (:id, :counter, :level, :scale, :dossier_id, :ticket, :officer, :source, :at)",
            rating,
        )
    label = LEVELS[scale][button - 1]
    return {**rating, "label_vi": label[0], "label_en": label[1]}


def rate_service(
    db: sqlite_utils.Database,
    now: datetime,
    score: object,
    *,
    ticket: object = None,
    dossier_code: object = None,
    source: str = "api",
    scale: int = 5,
) -> dict[str, Any]:
    """Record a rating of a ticket of today (by its number) or of a dossier (by its code); `scale` is best.

    The score runs the other way from the keypad's buttons (button 1 = the most satisfied level):
    score 5 is level 1 on the 5-level scale, score 3 is level 1 on the 3-level scale.
    """
    check_scale(scale)
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= scale:
        worst, best = LEVELS[scale][-1], LEVELS[scale][0]
        raise ValidationError(
            f"Điểm đánh giá là số nguyên từ 1 ({worst[0].lower()}) đến {scale} ({best[0].lower()}).",
            f"The score is a whole number from 1 ({worst[1].lower()}) to {scale} ({best[1].lower()}).",
            code="invalid_score",
            field="score",
        )
    found: tuple[Any, ...] | None = None
    if ticket not in (None, ""):
        found = db.execute(
            "SELECT id, dossier_id, officer, counter FROM queue_tickets WHERE day = ? AND number = ?",
            [now.date().isoformat(), ticket if isinstance(ticket, str) else ""],
        ).fetchone()
        if found is None:
            raise ValidationError(
                f"Hôm nay không có số thứ tự “{ticket}”.", f"No ticket “{ticket}” today.", code="unknown_ticket",
                field="ticket",
            )  # fmt: skip
        ticket_id, dossier_id, officer, counter = found
    elif dossier_code not in (None, ""):
        row = db.execute(
            "SELECT dossier_id, json_extract(state, '$.received_by') FROM dossiers WHERE code = ?",
            [dossier_code if isinstance(dossier_code, str) else ""],
        ).fetchone()
        if row is None:
            raise ValidationError(
                f"Không có hồ sơ mã “{dossier_code}”.", f"No dossier “{dossier_code}”.", code="unknown_dossier",
                field="dossier_code",
            )  # fmt: skip
        ticket_id, dossier_id, officer, counter = None, row[0], row[1], 0
    else:
        raise ValidationError(
            "Đánh giá phải gắn với một số thứ tự (ticket) hoặc một mã hồ sơ (dossier_code).",
            "A rating needs a ticket number (ticket) or a dossier code (dossier_code).",
            code="rating_without_subject",
            field="ticket",
        )
    rating = {
        "id": str(uuid.uuid4()), "counter": counter or 0, "level": scale + 1 - score, "scale": scale,
        "dossier_id": dossier_id,
        "ticket": ticket_id, "officer": officer, "source": source, "at": _now(now),
    }  # fmt: skip
    with write(db):
        db.execute(
            "INSERT INTO ratings (id, counter, level, scale, dossier_id, ticket, officer, source, at)"
            " VALUES (:id, :counter, :level, :scale, :dossier_id, :ticket, :officer, :source, :at)",
            rating,
        )
    label = LEVELS[scale][rating["level"] - 1]
    return {**rating, "score": score, "label_vi": label[0], "label_en": label[1]}


def recent_ratings(db: sqlite_utils.Database, limit: int = 20) -> list[dict[str, Any]]:
    """Return the newest ratings first, with their labels."""
    keys = ("id", "counter", "level", "scale", "dossier_id", "ticket", "officer", "source", "at")
    rows = db.execute(f"SELECT {', '.join(keys)} FROM ratings ORDER BY at DESC, rowid DESC LIMIT ?", [limit])
    out = []
    for row in rows.fetchall():
        rating = dict(zip(keys, row, strict=True))
        levels = LEVELS.get(rating["scale"])
        label = levels[rating["level"] - 1] if levels and 1 <= rating["level"] <= len(levels) else ("?", "?")
        out.append({**rating, "label_vi": label[0], "label_en": label[1]})
    return out


class KeypadListener:
    """A thread that turns the counter keypad's presses into ratings, reopening the port when it fails."""

    def __init__(
        self,
        db_factory: Any,
        opener: DeviceOpener,
        counter: int,
        retry_s: float = 5.0,
        scale: Callable[[], int] | None = None,
    ) -> None:
        self._db_factory = db_factory
        self._opener = opener
        self._counter = counter
        self._retry_s = retry_s
        self._scale = scale  # the box's rating scale now (None: as many levels as the pad has buttons)
        self._stop = threading.Event()
        self.last: dict[str, Any] | None = None
        self.rejected = 0  # presses beyond the scale, refused
        self._thread = threading.Thread(target=self._run, name="keypad", daemon=True)

    def start(self) -> None:
        """Start listening."""
        self._thread.start()

    def stop(self) -> None:
        """Stop listening."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        db = self._db_factory()
        while not self._stop.is_set():
            url = self._opener.url("rating_keypad")
            try:
                pad = self._opener.keypad()
            except NotConfigured:
                self._stop.wait(self._retry_s)  # none set up (yet): look again later
                continue
            except DeviceFailure as err:
                devicehealth.record_error(db, "rating_keypad", url, err)
                self._stop.wait(self._retry_s)
                continue
            try:
                devicehealth.record_ok(db, "rating_keypad", url, detail="opened")
                while not self._stop.is_set():
                    press: KeyPress | None = pad.read_press(0.5)
                    if press is not None:
                        self._press(db, url, press.button, self._scale() if self._scale else pad.buttons)
            except DeviceFailure as err:
                devicehealth.record_error(db, "rating_keypad", url, err)
                self._stop.wait(self._retry_s)
            except EdgeError:
                self._stop.wait(self._retry_s)  # the DB refused (busy, full): keep the listener alive
            finally:
                pad.close()

    def _press(self, db: sqlite_utils.Database, url: str, button: int, scale: int) -> None:
        try:
            self.last = record_rating(db, self._counter, button, scale, "keypad")
        except ValidationError:  # beyond the scale: counted by record_rating, the pad keeps working
            self.rejected += 1
            devicehealth.record_ok(db, "rating_keypad", url, detail=f"button {button} refused ({scale} levels)")
            return
        devicehealth.record_ok(db, "rating_keypad", url, detail=f"button {button}")
