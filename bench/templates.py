"""Template dossiers for the bench's bulk generator, planned and folded by the real code.

For every ~12 dossiers of a working day, bench/generate.py asks the Generator here for one template
dossier: its events are planned on the box's working calendar (channel, procedure, receive / refuse
/ transfer / supplement / payment / reschedule / stop / withdraw / approve / return, with due dates
from `edge.intake.due_for` and `edge.deadline.extend_for_pause`), folded by `edge.lifecycle.fold`
and projected by `edge.projection.row_of`, with @@SLOT@@ placeholders where one copy differs from
the next (ids, code, applicant, HLC stamps). Each dossier then fills in the slots with its own values.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from edge import events, sample
from edge.box import Box
from edge.calendar import WorkCalendar
from edge.deadline import extend_for_pause
from edge.dossier_fields import parse_applicant, parse_documents, procedure_snapshot
from edge.hlc import format_hlc
from edge.intake import due_for
from edge.lifecycle import fold
from edge.procedures import list_procedures
from edge.projection import row_of
from edge.text import fold as fold_text


@dataclass
class Planned:
    """One planned event of a dossier: when, what, by whom."""

    at: datetime
    kind: str
    payload: dict[str, Any]
    actor: str


class Slotted:
    """Text with @@NAME@@ slots (made by the real code from placeholder values), filled per dossier."""

    __slots__ = ("keys", "text")

    def __init__(self, text: str) -> None:
        parts = _SLOT.split(text)
        self.keys = parts[1::2]
        self.text = "%s".join(part.replace("%", "%%") for part in parts[::2])

    def fill(self, values: dict[str, str]) -> str:
        """Return the text with every slot replaced by its value."""
        return self.text % tuple(map(values.__getitem__, self.keys))


_SLOT = re.compile(r"(@@[A-Z0-9]+@@)")
# What varies from one dossier of a template to the next; id_type and email are the same for all
# sample applicants (checked when the pool is made).
PLACEHOLDER_APPLICANT = {
    "full_name": "@@NAME@@",
    "id_type": "cccd",
    "id_number": "@@ID@@",
    "date_of_birth": "@@DOB@@",
    "sex": "@@SEX@@",
    "phone": "@@PHONE@@",
    "email": None,
    "address": "@@ADDR@@",
}


@dataclass(frozen=True)
class Person:
    """A sample applicant validated by the real intake code, ready to fill slots."""

    values: dict[str, str]
    id_prefix: str  # province, century-and-sex, year of birth: the rest of a CCCD is free
    name_folded: str


@dataclass(frozen=True)
class TemplateEvent:
    """One event of a template dossier."""

    kind: str
    payload: Slotted
    actor: str
    wall_time: str
    second_ms: int
    audit_action: str
    audit_detail: str


@dataclass(frozen=True)
class Template:
    """A dossier planned and folded by the real code, with placeholders for what varies per copy."""

    row: list[Any]  # projection row values in column order; Slotted where a value varies
    events: list[TemplateEvent]


class FrozenBox(Box):
    """The box with its working calendar read once: the generator owns the DB file while it writes."""

    def __init__(self, box: Box) -> None:
        super().__init__(box.settings, box.clock)
        self._frozen = box.calendar()

    def calendar(self) -> WorkCalendar:
        """Return the calendar read when the generator started."""
        return self._frozen


class Generator:
    """Plans dossiers on the box's working calendar and folds them with the real code."""

    def __init__(self, box: Box, rng: random.Random) -> None:
        self.box = FrozenBox(box)
        self.cal = self.box.calendar()
        self.rng = rng
        self.origin = box.origin
        procs = list_procedures(box.db())
        self.snapshots = [procedure_snapshot(p) for p in procs]
        self.documents = {
            p.code: parse_documents([{"name": d.name, "kind": d.kind, "quantity": d.quantity} for d in p.documents])
            for p in procs
        }
        # Same-day services (certified copies, signatures, birth registration) dominate the counter.
        self.weights = [6.0 if s["processing_days"] == 0 else 1.0 for s in self.snapshots]
        self.hlc_used: dict[int, dict[int, int]] = {}
        self.columns: tuple[str, ...] = ()

    def people(self, size: int, today: datetime) -> list[Person]:
        """Return sample applicants (edge.sample) validated by edge.dossier_fields.parse_applicant."""
        out: list[Person] = []
        while len(out) < size:
            parsed = parse_applicant(sample.applicant(self.rng), today)
            same = {k: v for k, v in PLACEHOLDER_APPLICANT.items() if not str(v).startswith("@@")}
            if set(parsed) != set(PLACEHOLDER_APPLICANT) or any(parsed[k] != v for k, v in same.items()):
                raise AssertionError(f"sample applicant does not fit the template: {parsed}")
            values = {str(PLACEHOLDER_APPLICANT[k]): str(parsed[k]) for k in PLACEHOLDER_APPLICANT if k not in same}
            if any(json.dumps(v, ensure_ascii=False)[1:-1] != v for v in values.values()):
                continue  # a value JSON would escape: slot filling assumes none
            out.append(Person(values, parsed["id_number"][:6], fold_text(parsed["full_name"])))
        return out

    def advance(self, t: datetime, minutes: float) -> datetime:
        """Return t plus working minutes, to the second (as box.now() gives)."""
        moved = self.cal.add_working_minutes(t, minutes) + timedelta(microseconds=500_000)
        return moved.replace(microsecond=0)

    def hlc(self, second_ms: int) -> str:
        """Return a unique HLC stamp for an event in the second starting at second_ms."""
        ms = second_ms + self.rng.randrange(1000)
        used = self.hlc_used.setdefault(ms // 86_400_000, {})
        counter = used.get(ms, -1) + 1
        used[ms] = counter
        return format_hlc(ms, counter)

    def forget_before(self, ms: int) -> None:
        """Drop the HLC collision table of days no future event can fall on."""
        for old in [d for d in self.hlc_used if d < ms // 86_400_000 - 1]:
            del self.hlc_used[old]

    def template(self, created: datetime, end: datetime) -> Template:
        """Plan one dossier received at `created`, fold it and project it with the real code."""
        plan = self.plan(created, end)
        stamped = [
            events.Event(f"@@E{i:02d}@@", "@@DOSSIER@@", p.kind, p.payload, p.actor, self.origin, events.iso(p.at),
                         f"@@H{i:02d}@@")
            for i, p in enumerate(plan)
        ]  # fmt: skip
        state = fold(stamped)
        assert state is not None
        row = row_of(state)
        self.columns = self.columns or tuple(row)
        out_events = []
        for p, event in zip(plan, stamped, strict=True):
            if event.kind == "created":
                action, detail = "dossier_received", {"channel": state["channel"]}
            else:
                action, detail = f"dossier_{event.kind}", dict(event.payload)
            out_events.append(
                TemplateEvent(
                    event.kind,
                    Slotted(json.dumps(event.payload, ensure_ascii=False, sort_keys=True)),
                    event.actor,
                    event.wall_time,
                    int(p.at.timestamp()) * 1000,
                    action,
                    json.dumps(detail, ensure_ascii=False),
                )
            )
        values = [Slotted(v) if isinstance(v, str) and "@@" in v else v for v in row.values()]
        return Template(values, out_events)

    def plan(self, created: datetime, end: datetime) -> list[Planned]:
        """Return every event of one dossier received at `created`, up to `end`."""
        rng = self.rng
        snapshot = rng.choices(self.snapshots, self.weights)[0]
        roll = rng.random()
        channel = "online" if roll < 0.15 else "post" if roll < 0.18 else "counter"
        return_method = "post" if rng.random() < 0.12 else "counter"
        status = "receiving" if channel == "online" else "new"
        due = due_for(self.box, snapshot, created) if status == "new" else None
        payload = {
            "code": "@@CODE@@",
            "procedure": snapshot,
            "applicant": dict(PLACEHOLDER_APPLICANT),
            "documents": self.documents[snapshot["code"]],
            "channel": channel,
            "return_method": return_method,
            "return_address": PLACEHOLDER_APPLICANT["address"] if return_method == "post" else None,
            "status": status,
            "received_at": events.iso(created) if due else None,
            "due_at": events.iso(due) if due else None,
            "notes": "Công dân hẹn nhận kết quả buổi sáng" if rng.random() < 0.03 else "",
        }
        plan = [Planned(created, "created", payload, "canbo")]
        self._lifecycle(plan, snapshot, due, return_method)
        return [p for p in plan if p.at <= end]

    def _lifecycle(self, plan: list[Planned], snapshot: dict[str, Any], due: datetime | None, method: str) -> None:
        """Append the events a dossier goes through (the caller cuts those after the end)."""
        rng = self.rng
        now = plan[0].at
        if due is None:  # filed online: an officer receives (or refuses) it a few hours later
            now = self.advance(now, rng.uniform(10, 600))
            if rng.random() < 0.05:
                plan.append(Planned(now, "refused", {"reason": "Hồ sơ nộp trực tuyến thiếu bản quét CCCD"}, "canbo"))
                return
            due = due_for(self.box, snapshot, now)
            plan.append(Planned(now, "received", {"received_at": events.iso(now), "due_at": events.iso(due)}, "canbo"))
        elif rng.random() < 0.015:
            now = self.advance(now, rng.uniform(1, 20))
            plan.append(Planned(now, "refused", {"reason": "Không thuộc thẩm quyền giải quyết của xã"}, "canbo"))
            return
        same_day = snapshot["processing_days"] == 0
        if rng.random() < 0.015:
            now = self.advance(now, rng.uniform(30, 900))
            plan.append(Planned(now, "withdrawn", {"reason": "Công dân xin rút hồ sơ"}, "canbo"))
            return
        if not same_day or rng.random() < 0.2:
            now = self.advance(now, rng.uniform(2, 90))
            assignee = rng.choice(("canbo2", "lanhdao"))
            plan.append(Planned(now, "transferred", {"assignee": assignee}, "canbo"))
        if not same_day and rng.random() < 0.07:
            total = max(self.cal.working_minutes_between(now, due), 30.0)
            now = self.advance(now, rng.uniform(0.1, 0.5) * total)
            missing = [{"name": "Bản sao CCCD", "kind": "photocopy", "quantity": 1}]
            payload = {"reason": "Thiếu bản sao giấy tờ tùy thân", "missing_documents": missing}
            plan.append(Planned(now, "supplement_requested", payload, "canbo2"))
            if rng.random() < 0.1:
                return  # the citizen never came back: waits for a supplement forever
            back = self.advance(now, rng.uniform(60, 5 * 480))
            due = extend_for_pause(self.cal, due, now, back)
            plan.append(Planned(back, "supplement_received", {"due_at": events.iso(due)}, "canbo"))
            now = back
        fees = sum(int(f["amount"]) for f in snapshot.get("fees", []))
        if fees and not same_day and rng.random() < 0.1:
            now = self.advance(now, rng.uniform(10, 240))
            plan.append(Planned(now, "payment_requested", {"amount": fees}, "canbo2"))
        if rng.random() < 0.01:
            now = self.advance(now, rng.uniform(10, 480))
            plan.append(Planned(now, "stopped", {"reason": "Người yêu cầu đã chết trước khi có kết quả"}, "lanhdao"))
            return
        if not same_day and rng.random() < 0.02:
            now = self.advance(now, rng.uniform(10, 120))
            if now < due:
                new_due = self.advance(due, 2 * self.cal.hours.minutes_per_day)
                payload = {
                    "reason": "Cần xác minh thêm tại nơi cư trú",
                    "new_due_at": events.iso(new_due),
                    "old_due_at": events.iso(due),
                }
                plan.append(Planned(now, "rescheduled", payload, "canbo2"))
                due = new_due
        if rng.random() < 0.06:  # finished late
            approved = self.advance(due, rng.uniform(30, 3 * 480))
        else:
            left = max(self.cal.working_minutes_between(now, due), 5.0)
            approved = self.advance(now, rng.uniform(0.2, 0.95) * left)
        plan.append(Planned(approved, "approved", {"note": "Đủ điều kiện"} if rng.random() < 0.2 else {}, "lanhdao"))
        returned = self.advance(approved, rng.uniform(5, 3 * 480) if not same_day else rng.uniform(1, 60))
        if rng.random() < 0.97:
            plan.append(Planned(returned, "result_returned", {"method": method}, "canbo"))
