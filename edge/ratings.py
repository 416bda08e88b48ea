"""Citizens' ratings from the counter's keypad, each tied to what that counter is serving.

The officer's screen tells the box what a counter serves now (a dossier, or a queue ticket);
a press on that counter's keypad becomes a rating of it, with the officer. A press while the
counter serves nothing is still kept (tied to the counter and officer only), never dropped.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any

import sqlite_utils

from edge import devicehealth
from edge.calendar import TZ
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
    """Store one rating for what the counter serves now; return it."""
    if scale not in LEVELS or not 1 <= button <= scale:
        raise ValidationError(
            f"Nút đánh giá {button} không có trên bàn phím {scale} mức.",
            f"Rating button {button} is not on a {scale}-level pad.",
            code="invalid_rating",
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
) -> dict[str, Any]:
    """Record a rating of a ticket of today (by its number) or of a dossier (by its code); 5 is best.

    The score runs the other way from the keypad's buttons (button 1 = very satisfied): score 5 is
    level 1 on the 5-level scale.
    """
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError(
            "Điểm đánh giá là số nguyên từ 1 (rất không hài lòng) đến 5 (rất hài lòng).",
            "The score is a whole number from 1 (very dissatisfied) to 5 (very satisfied).",
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
        "id": str(uuid.uuid4()), "counter": counter or 0, "level": 6 - score, "scale": 5, "dossier_id": dossier_id,
        "ticket": ticket_id, "officer": officer, "source": source, "at": _now(now),
    }  # fmt: skip
    with write(db):
        db.execute(
            "INSERT INTO ratings (id, counter, level, scale, dossier_id, ticket, officer, source, at)"
            " VALUES (:id, :counter, :level, :scale, :dossier_id, :ticket, :officer, :source, :at)",
            rating,
        )
    label = LEVELS[5][rating["level"] - 1]
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

    def __init__(self, db_factory: Any, opener: DeviceOpener, counter: int, retry_s: float = 5.0) -> None:
        self._db_factory = db_factory
        self._opener = opener
        self._counter = counter
        self._retry_s = retry_s
        self._stop = threading.Event()
        self.last: dict[str, Any] | None = None
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
                        self.last = record_rating(db, self._counter, press.button, pad.buttons, "keypad")
                        devicehealth.record_ok(db, "rating_keypad", url, detail=f"button {press.button}")
            except DeviceFailure as err:
                devicehealth.record_error(db, "rating_keypad", url, err)
                self._stop.wait(self._retry_s)
            except EdgeError:
                self._stop.wait(self._retry_s)  # the DB refused (busy, full): keep the listener alive
            finally:
                pad.close()
