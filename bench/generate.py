"""Bulk generation of benchmark boxes: rows, the cache under bench/out/, and a refold check.

A box is made as `motcua init` makes one, then filled in one process with executemany in one big
transaction (journal off, secondary indexes dropped and re-created from their own CREATE INDEX text,
WAL restored at the end). Each dossier is a copy of a template dossier of its day (bench/templates.py)
with its own id, code, applicant, event ids and HLC stamps; events and audit entries go in in global
clock order, projection rows in creation order, search rows with rowid = dossiers.id, and
`code_sequences` and the codes high-water file are filled so new codes never collide. A sample is
then refolded from its events by the real code and must match its stored rows.
"""

from __future__ import annotations

import gc
import heapq
import json
import random
import shutil
import sqlite3
import time as timer
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bench.templates import Generator, Slotted
from edge import catalogue, codes, events
from edge.box import Box, init_box, open_box
from edge.calendar import TZ
from edge.dossier_fields import parse_applicant
from edge.hlc import format_hlc
from edge.lifecycle import fold
from edge.procedures import upsert_procedures
from edge.projection import row_of, search_text
from edge.text import fold as fold_text
from edge.users import add_user, create_token

# Bump when the generated data changes shape: the cache folder is named after it.
GEN_VERSION = "1"
AGENCY = "000.17.22.H56"
COMMUNE = "00001"
PASSWORD = "bench-matkhau-2026"
USERS = (("canbo", "officer"), ("canbo2", "officer"), ("lanhdao", "leader"))
OUT_DIR = Path(__file__).resolve().parent / "out"
YEARS = 3
SOURCE = "127.0.0.1"  # what the audit log records for requests from the counter PC
TEMPLATE_GROUP = 12  # dossiers per template dossier folded by the real code, on average


@dataclass
class Batch:
    """Rows to write together."""

    dossiers: list[tuple[Any, ...]] = field(default_factory=list)
    search: list[tuple[int, str]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    audit: list[tuple[Any, ...]] = field(default_factory=list)


class Writer:
    """Writes batches of rows with executemany. Events and audit entries wait in a heap and go out
    in clock order, as the box would have appended them."""

    def __init__(self, conn: sqlite3.Connection, columns: tuple[str, ...]) -> None:
        self.conn = conn
        marks = ", ".join("?" for _ in range(len(columns) + 1))
        self.insert_dossier = f"INSERT INTO dossiers (id, {', '.join(columns)}) VALUES ({marks})"
        self.batch = Batch()
        self.pending: list[tuple[str, tuple[Any, ...], tuple[Any, ...]]] = []  # heap by HLC

    def release_before(self, hlc: str) -> None:
        """Move every pending event stamped before hlc to the batch (in clock order)."""
        pending, pop, events_out, audit_out = self.pending, heapq.heappop, self.batch.events, self.batch.audit
        while pending and pending[0][0] < hlc:
            _, event_row, audit_row = pop(pending)
            events_out.append(event_row)
            audit_out.append(audit_row)

    def write(self) -> None:
        """Write the batch and start a new one."""
        batch, conn = self.batch, self.conn
        conn.executemany(self.insert_dossier, batch.dossiers)
        conn.executemany("INSERT INTO dossier_search (rowid, text) VALUES (?, ?)", batch.search)
        conn.executemany(
            "INSERT INTO dossier_events (event_id, dossier_id, kind, payload, actor, origin, wall_time, hlc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            batch.events,
        )
        conn.executemany(
            "INSERT INTO audit_log (at, actor, action, target, detail, source) VALUES (?, ?, ?, ?, ?, ?)",
            batch.audit,
        )
        self.batch = Batch()


def working_days(box: Box, first: date, last: date) -> list[date]:
    """Return the box's working days from first to last."""
    cal = box.calendar()
    out, day = [], first
    while day <= last:
        if cal.is_working_day(day):
            out.append(day)
        day += timedelta(days=1)
    return out


def new_box(data_dir: Path) -> Box:
    """Create a box like `motcua init` does, with the sample catalogue and the bench's users."""
    init_box(data_dir, COMMUNE, AGENCY, "UBND xã Thử Tải")
    box = open_box(data_dir)
    upsert_procedures(box.db(), catalogue.sample_catalogue(), actor="init")
    for username, role in USERS:
        add_user(box.db(), username, role, PASSWORD)
    return box


def _secondary_indexes(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('dossiers', 'dossier_events')"
    ).fetchall()
    return [(str(name), str(sql)) for name, sql in rows]


def _uuid(rng: random.Random) -> str:
    """Return a random version-4 UUID, as str(uuid.uuid4()) would, drawn from rng (reproducible)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def generate(box: Box, count: int, seed: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Fill a new box with `count` dossiers received over the last YEARS years; return stats.

    Per working day, one template dossier per TEMPLATE_GROUP dossiers (on average) is planned,
    folded and projected by the real code; each dossier is a copy of one of its day's templates
    with its own id, code, applicant, event ids and HLC stamps filled in.
    """
    started = timer.perf_counter()
    rng = random.Random(seed)
    gen = Generator(box, rng)
    now = box.now()
    today = now.date()
    days = working_days(box, today.replace(year=today.year - YEARS), today - timedelta(days=1))
    end = datetime.combine(today, time(), TZ)  # no event after the start of today
    per_day = [0] * len(days)
    for i in rng.choices(range(len(days)), k=count):
        per_day[i] += 1
    pool = gen.people(min(max(count // 50, 500), 20_000), now)
    gen.template(end, end)  # learns the projection's columns
    box.close()
    conn = sqlite3.connect(str(box.settings.db_path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")  # back to WAL at the end; a failed build is deleted
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    conn.execute("PRAGMA temp_store=MEMORY")
    indexes = _secondary_indexes(conn)
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.execute("BEGIN")
    writer = Writer(conn, gen.columns)
    dossier_no, events_total, templates_total = 0, 0, 0
    sequences: list[tuple[str, int]] = []
    marks: dict[str, int] = {}
    origin = box.origin
    seconds_per_day = gen.cal.hours.minutes_per_day * 60
    heappush, randrange, hlc_of = heapq.heappush, rng.randrange, gen.hlc
    hlc_keys = [f"@@H{i:02d}@@" for i in range(100)]
    gc.disable()  # millions of short-lived tuples and no cycles: the collector only costs time
    try:
        for index, (day, number) in enumerate(zip(days, per_day, strict=True)):
            day_start = datetime.combine(day, time(), TZ)
            day_ms = int(day_start.timestamp()) * 1000
            writer.release_before(format_hlc(day_ms, 0))
            gen.forget_before(day_ms)
            yymmdd = day.strftime("%y%m%d")
            prefix = f"{AGENCY}-{yymmdd}-"
            prefix_folded = fold_text(prefix)
            group_count = -(-number // TEMPLATE_GROUP)
            offsets = sorted(randrange(seconds_per_day) for _ in range(group_count))
            sizes = [0] * group_count
            for i in rng.choices(range(group_count), k=number):
                sizes[i] += 1
            seq = 0
            batch = writer.batch
            for offset, size in zip(offsets, sizes, strict=True):
                if not size:
                    continue
                template = gen.template(gen.advance(day_start, offset / 60), end)
                templates_total += 1
                for _ in range(size):
                    seq += 1
                    person = pool[randrange(len(pool))]
                    id_number = f"{person.id_prefix}{randrange(1_000_000):06d}"
                    phone = f"09{randrange(100_000_000):08d}"
                    code = f"{prefix}{seq:04d}"
                    dossier_id = _uuid(rng)
                    values = person.values.copy()
                    values["@@ID@@"] = id_number
                    values["@@PHONE@@"] = phone
                    values["@@CODE@@"] = code
                    values["@@DOSSIER@@"] = dossier_id
                    stamps = [hlc_of(e.second_ms) for e in template.events]
                    values.update(zip(hlc_keys, stamps, strict=False))
                    dossier_no += 1
                    batch.dossiers.append(
                        (dossier_no, *[v.fill(values) if isinstance(v, Slotted) else v for v in template.row])
                    )
                    batch.search.append(
                        (dossier_no, f"{prefix_folded}{seq:04d} {person.name_folded} {id_number} {phone}")
                    )
                    for e, stamp in zip(template.events, stamps, strict=True):
                        event_row = (_uuid(rng), dossier_id, e.kind, e.payload.fill(values), e.actor, origin,
                                     e.wall_time, stamp)  # fmt: skip
                        audit_row = (e.wall_time, e.actor, e.audit_action, code, e.audit_detail, SOURCE)
                        heappush(writer.pending, (stamp, event_row, audit_row))
                    events_total += len(stamps)
            if number:
                sequences.append((yymmdd, number))
                marks[yymmdd] = number
            if len(batch.dossiers) >= 10_000:
                writer.write()
            if dossier_no and index % 100 == 0:
                log(f"  {dossier_no:,}/{count:,} dossiers ({timer.perf_counter() - started:.0f} s)")
        writer.release_before("~")
        writer.write()
    finally:
        gc.enable()
    conn.executemany("INSERT INTO code_sequences (day, last) VALUES (?, ?)", sequences)
    conn.execute("COMMIT")
    built = timer.perf_counter()
    log(f"  {dossier_no:,} dossiers, {events_total:,} events written ({built - started:.0f} s); indexing")
    for _, sql in indexes:
        conn.execute(sql)
    indexed = timer.perf_counter()
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    # The code allocator's high-water file, written by its own code (which keeps its window of days).
    codes._write_marks(box.settings.state_dir / codes.HIGH_WATER_FILE, marks)
    check_sample(box, rng, dossier_no, now)
    return {
        "dossiers": dossier_no,
        "events": events_total,
        "templates": templates_total,
        "days": len(days),
        "seconds": round(timer.perf_counter() - started, 1),
        "seconds_rows": round(built - started, 1),
        "seconds_indexes": round(indexed - built, 1),
    }


def check_sample(box: Box, rng: random.Random, count: int, now: datetime, size: int = 500) -> None:
    """Refold generated dossiers from their events with the real code: projection and search must match."""
    db = box.db()
    columns = [d[0] for d in db.execute("SELECT * FROM dossiers LIMIT 0").description]
    picked = range(1, count + 1) if count <= 2 * size else rng.sample(range(1, count + 1), size)
    for dossier_no in picked:
        stored = dict(zip(columns, db.execute("SELECT * FROM dossiers WHERE id = ?", [dossier_no]).fetchone(),
                          strict=True))  # fmt: skip
        state = fold(events.events_of(db, stored["dossier_id"]))
        assert state is not None
        if stored != {"id": dossier_no, **row_of(state)}:
            raise AssertionError(f"generated dossier {dossier_no} does not refold to its projection row")
        if parse_applicant(state["applicant"], now) != state["applicant"]:
            raise AssertionError(f"generated dossier {dossier_no} has an applicant intake would not store")
        text = db.execute("SELECT text FROM dossier_search WHERE rowid = ?", [dossier_no]).fetchone()
        if text is None or text[0] != search_text(state):
            raise AssertionError(f"generated dossier {dossier_no} has a wrong search row")
        _, day, number = stored["code"].rsplit("-", 2)
        last = db.execute("SELECT last FROM code_sequences WHERE day = ?", [day]).fetchone()
        if last is None or last[0] < int(number):
            raise AssertionError(f"code_sequences is behind dossier {stored['code']}")
    total = db.execute("SELECT count(*), (SELECT count(*) FROM dossier_search) FROM dossiers").fetchone()
    if total != (count, count):
        raise AssertionError(f"expected {count} dossiers and search rows, found {total}")
    box.close()


@dataclass
class Prepared:
    """A box ready to serve: where it is, a token, how it was made."""

    label: str
    data_dir: Path
    token: str
    dossiers: int
    generation: dict[str, Any]


def prepare(
    label: str, count: int, seed: int, root: Path, cache: bool, rebuild: bool, log: Callable[[str], None]
) -> Prepared:
    """Return a box holding `count` generated dossiers, from the cache when allowed."""
    data_dir = root / f"box-v{GEN_VERSION}-{count}-s{seed}"
    meta_path = data_dir / "bench.json"
    if cache and not rebuild and meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        box = open_box(data_dir)
        try:
            held = box.db().execute("SELECT count(*) FROM dossiers").fetchone()[0]
        finally:
            box.close()
        log(f"{label}: cached box {data_dir} ({held:,} dossiers)")
        return Prepared(label, data_dir, meta["token"], held, {**meta["generation"], "cached": True})
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    log(f"{label}: generating {count:,} dossiers in {data_dir}")
    try:
        box = new_box(data_dir)
        stats = generate(box, count, seed, log)
        box = open_box(data_dir)
        token = create_token(box.db(), "canbo", actor="bench")
        box.close()
    except BaseException:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise
    log(f"{label}: generated in {stats['seconds']} s ({stats['events']:,} events)")
    meta_path.write_text(json.dumps({"token": token, "generation": stats}, indent=1), encoding="utf-8")
    return Prepared(label, data_dir, token, stats["dossiers"], {**stats, "cached": False})
