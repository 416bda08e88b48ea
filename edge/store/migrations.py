"""Numbered schema migrations, applied in order at start; each runs in one transaction."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

from edge.store.db import connect

migrations = Migrations("motcua")


@migrations(name="0001_initial")
def m0001_initial(db: sqlite_utils.Database) -> None:
    """Create the box's first schema: meta, users, catalogue, events, projection, audit."""
    db.executescript(
        """
        CREATE TABLE box_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE users (
            username TEXT PRIMARY KEY,
            full_name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        );
        CREATE TABLE api_tokens (
            token_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL REFERENCES users(username),
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE TABLE procedures (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            field TEXT NOT NULL,
            level TEXT,
            processing_days REAL NOT NULL,
            same_day_cutoff TEXT,
            fees TEXT NOT NULL,
            documents TEXT NOT NULL,
            source TEXT,
            name_folded TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE dossier_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            dossier_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            actor TEXT NOT NULL,
            origin TEXT NOT NULL,
            wall_time TEXT NOT NULL,
            hlc TEXT NOT NULL
        );
        CREATE INDEX dossier_events_dossier ON dossier_events(dossier_id, hlc);
        CREATE INDEX dossier_events_hlc ON dossier_events(hlc);
        CREATE TABLE dossiers (
            id INTEGER PRIMARY KEY,
            dossier_id TEXT NOT NULL UNIQUE,
            code TEXT NOT NULL UNIQUE,
            procedure_code TEXT NOT NULL,
            procedure_name TEXT NOT NULL,
            status TEXT NOT NULL,
            status_code INTEGER NOT NULL,
            channel TEXT NOT NULL,
            return_method TEXT NOT NULL,
            applicant_name TEXT NOT NULL,
            applicant_id_number TEXT NOT NULL,
            applicant_phone TEXT,
            received_at TEXT,
            due_at TEXT,
            finished_at TEXT,
            returned_at TEXT,
            finished_late INTEGER NOT NULL DEFAULT 0,
            assignee TEXT,
            conflict INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_hlc TEXT NOT NULL,
            state TEXT NOT NULL
        );
        CREATE INDEX dossiers_status_due ON dossiers(status, due_at);
        CREATE INDEX dossiers_open_due ON dossiers(due_at) WHERE finished_at IS NULL;
        CREATE INDEX dossiers_received ON dossiers(received_at);
        CREATE INDEX dossiers_id_number ON dossiers(applicant_id_number);
        CREATE INDEX dossiers_conflict ON dossiers(conflict) WHERE conflict = 1;
        CREATE VIRTUAL TABLE dossier_search USING fts5(text, tokenize = 'unicode61');
        CREATE TABLE blobs (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            content_type TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE code_sequences (day TEXT PRIMARY KEY, last INTEGER NOT NULL);
        CREATE TABLE calendar_overrides (
            day TEXT PRIMARY KEY,
            working INTEGER NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT 'local',
            updated_at TEXT NOT NULL
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '{}',
            source TEXT NOT NULL DEFAULT ''
        );
        -- The audit log is append-only: the database itself refuses edits.
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
        -- Events are facts: never changed, never removed.
        CREATE TRIGGER dossier_events_no_update BEFORE UPDATE ON dossier_events
            BEGIN SELECT RAISE(ABORT, 'event log is append-only'); END;
        CREATE TRIGGER dossier_events_no_delete BEFORE DELETE ON dossier_events
            BEGIN SELECT RAISE(ABORT, 'event log is append-only'); END;
        """
    )


@migrations(name="0002_list_filter_indexes")
def m0002_list_filter_indexes(db: sqlite_utils.Database) -> None:
    """Index the dossier list's filters (procedure, assignee, finished late) newest first."""
    db.executescript(
        """
        CREATE INDEX dossiers_procedure ON dossiers(procedure_code, id);
        CREATE INDEX dossiers_assignee ON dossiers(assignee, id);
        CREATE INDEX dossiers_finished_late ON dossiers(id) WHERE finished_late = 1;
        """
    )


@migrations(name="0003_search_prefix_index")
def m0003_search_prefix_index(db: sqlite_utils.Database) -> None:
    """Give the search index prefix indexes, so "nguyen van a" costs the same at 1,000,000 dossiers."""
    # Without them FTS5 merges every term a prefix matches before the first row comes out;
    # with them a prefix query is one index lookup (measured in bench/intake.py).
    db.executescript(
        """
        CREATE VIRTUAL TABLE dossier_search_new USING fts5(text, tokenize = 'unicode61', prefix = '1 2 3 4 5 6');
        INSERT INTO dossier_search_new (rowid, text) SELECT rowid, text FROM dossier_search;
        DROP TABLE dossier_search;
        ALTER TABLE dossier_search_new RENAME TO dossier_search;
        """
    )


@migrations(name="0004_intake_keys")
def m0004_intake_keys(db: sqlite_utils.Database) -> None:
    """Remember the idempotency key of each intake form, so a double submit makes one dossier."""
    db.executescript(
        """
        CREATE TABLE intake_keys (
            key TEXT PRIMARY KEY,
            dossier_id TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """
    )


@migrations(name="0005_report_indexes")
def m0005_report_indexes(db: sqlite_utils.Database) -> None:
    """Keep a narrow copy of each received dossier clustered by received_at, for reports (edge.reports)."""
    # A year of a 1,000,000-dossier box is 333,000 rows: read through dossiers_received that is one
    # wide table row (state JSON inline) per dossier, and grouping by officer parses that JSON (4 s).
    # This table holds only what reports count, received_by included, in received_at order: the same
    # year is a sequential read of a few MB. Triggers keep it in step with every write to dossiers,
    # so edge.projection stays its only writer and `SELECT * FROM dossiers` does not change.
    db.executescript(
        """
        CREATE TABLE dossiers_by_received (
            received_at TEXT NOT NULL,
            id INTEGER NOT NULL,
            received_by TEXT,
            procedure_code TEXT NOT NULL,
            status TEXT NOT NULL,
            finished_late INTEGER NOT NULL,
            due_at TEXT,
            channel TEXT NOT NULL,
            return_method TEXT NOT NULL,
            PRIMARY KEY (received_at, id)
        ) WITHOUT ROWID;
        INSERT INTO dossiers_by_received
            SELECT received_at, id, json_extract(state, '$.received_by'), procedure_code, status, finished_late,
                   due_at, channel, return_method
            FROM dossiers WHERE received_at IS NOT NULL;
        CREATE TRIGGER dossiers_by_received_insert AFTER INSERT ON dossiers WHEN NEW.received_at IS NOT NULL
        BEGIN
            INSERT INTO dossiers_by_received VALUES (NEW.received_at, NEW.id, json_extract(NEW.state, '$.received_by'),
                NEW.procedure_code, NEW.status, NEW.finished_late, NEW.due_at, NEW.channel, NEW.return_method);
        END;
        CREATE TRIGGER dossiers_by_received_update AFTER UPDATE ON dossiers
        BEGIN
            DELETE FROM dossiers_by_received WHERE received_at = OLD.received_at AND id = OLD.id;
            INSERT INTO dossiers_by_received
                SELECT NEW.received_at, NEW.id, json_extract(NEW.state, '$.received_by'), NEW.procedure_code,
                       NEW.status, NEW.finished_late, NEW.due_at, NEW.channel, NEW.return_method
                WHERE NEW.received_at IS NOT NULL;
        END;
        CREATE TRIGGER dossiers_by_received_delete AFTER DELETE ON dossiers
        BEGIN
            DELETE FROM dossiers_by_received WHERE received_at = OLD.received_at AND id = OLD.id;
        END;
        -- "Returned today" on the officer's overview.
        CREATE INDEX dossiers_returned ON dossiers(returned_at);
        """
    )


@migrations(name="0006_outbox")
def m0006_outbox(db: sqlite_utils.Database) -> None:
    """Queue this box's own events and every stored scan for the hub (the sync outbox)."""
    db.executescript(
        """
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            queued_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            error_code TEXT,
            error_message TEXT,
            failed_at TEXT
        );
        CREATE INDEX outbox_failed ON outbox(error_code) WHERE error_code IS NOT NULL;
        INSERT INTO outbox (seq, event_id, queued_at)
            SELECT seq, event_id, wall_time FROM dossier_events
            WHERE origin = 'box:' || (SELECT value FROM box_meta WHERE key = 'box_id');
        CREATE TABLE blob_outbox (
            sha256 TEXT PRIMARY KEY,
            queued_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            error_code TEXT,
            error_message TEXT
        );
        INSERT INTO blob_outbox (sha256, queued_at) SELECT sha256, created_at FROM blobs;
        """
    )


@migrations(name="0007_sync_state")
def m0007_sync_state(db: sqlite_utils.Database) -> None:
    """Keep the sync client's small state (cursor, per-hub health, last runs) and unsent heartbeats."""
    db.executescript(
        """
        CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE heartbeat_buffer (seq INTEGER PRIMARY KEY, taken_at TEXT, body TEXT);
        """
    )


@migrations(name="0008_devices")
def m0008_devices(db: sqlite_utils.Database) -> None:
    """Keep print jobs, device health and errors, card payments, ratings and what each counter serves."""
    db.executescript(
        """
        CREATE TABLE print_jobs (
            id TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            kind TEXT NOT NULL,
            body TEXT NOT NULL,
            dossier_id TEXT,
            state TEXT NOT NULL CHECK (state IN ('queued', 'printing', 'printed', 'waiting', 'failed')),
            reason_code TEXT,
            reason_vi TEXT,
            reason_en TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            reprint_of TEXT,
            device_url TEXT,
            bytes_sent INTEGER,
            output TEXT,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            printed_at TEXT
        );
        CREATE INDEX print_jobs_open ON print_jobs(next_attempt_at) WHERE state IN ('queued', 'waiting');
        CREATE INDEX print_jobs_recent ON print_jobs(created_at);
        CREATE INDEX print_jobs_dossier ON print_jobs(dossier_id) WHERE dossier_id IS NOT NULL;
        CREATE TABLE device_health (
            role TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            last_state TEXT CHECK (last_state IN ('ok', 'error')),
            last_ok_at TEXT,
            last_error_at TEXT,
            last_error_code TEXT,
            last_error_vi TEXT,
            last_error_en TEXT,
            detail TEXT
        );
        CREATE TABLE device_errors (
            id INTEGER PRIMARY KEY,
            role TEXT NOT NULL,
            url TEXT NOT NULL,
            at TEXT NOT NULL,
            code TEXT NOT NULL,
            vi TEXT NOT NULL,
            en TEXT NOT NULL
        );
        CREATE TABLE card_payments (
            id TEXT PRIMARY KEY,
            reference TEXT NOT NULL UNIQUE,
            dossier_id TEXT,
            amount INTEGER NOT NULL CHECK (amount > 0),
            state TEXT NOT NULL CHECK (state IN (
                'pending', 'approved', 'declined', 'cancelled', 'unknown', 'not_charged', 'voided')),
            terminal_url TEXT NOT NULL,
            authorization TEXT,
            card TEXT,
            message_vi TEXT,
            message_en TEXT,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            reconciled_at TEXT
        );
        CREATE INDEX card_payments_open ON card_payments(created_at) WHERE state IN ('pending', 'unknown');
        CREATE TABLE ratings (
            id TEXT PRIMARY KEY,
            counter INTEGER NOT NULL,
            level INTEGER NOT NULL,
            scale INTEGER NOT NULL,
            dossier_id TEXT,
            ticket TEXT,
            officer TEXT,
            source TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX ratings_at ON ratings(at);
        CREATE TABLE counter_subjects (
            counter INTEGER PRIMARY KEY,
            dossier_id TEXT,
            ticket TEXT,
            officer TEXT,
            since TEXT NOT NULL
        );
        """
    )


@migrations(name="0009_queue")
def m0009_queue(db: sqlite_utils.Database) -> None:
    """Take-a-number queue: services (a default set), counters 1–3 serving every service, tickets."""
    db.executescript(
        """
        CREATE TABLE queue_services (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            prefix TEXT NOT NULL UNIQUE,
            active INTEGER NOT NULL DEFAULT 1,
            position INTEGER NOT NULL DEFAULT 0
        );
        INSERT INTO queue_services (code, name, prefix, position) VALUES
            ('HT', 'Hộ tịch', 'A', 1), ('CT', 'Chứng thực', 'B', 2), ('DD', 'Đất đai, xây dựng', 'C', 3),
            ('KH', 'Lĩnh vực khác', 'D', 4);
        CREATE TABLE queue_counters (
            number INTEGER PRIMARY KEY CHECK (number > 0),
            name TEXT NOT NULL,
            services TEXT NOT NULL DEFAULT '[]',
            active INTEGER NOT NULL DEFAULT 1
        );
        INSERT INTO queue_counters (number, name) VALUES (1, 'Quầy số 1'), (2, 'Quầy số 2'), (3, 'Quầy số 3');
        CREATE TABLE queue_sequences (
            day TEXT NOT NULL,
            service TEXT NOT NULL,
            last INTEGER NOT NULL,
            PRIMARY KEY (day, service)
        );
        CREATE TABLE queue_tickets (
            id TEXT PRIMARY KEY,
            day TEXT NOT NULL,
            service TEXT NOT NULL,
            seq INTEGER NOT NULL,
            number TEXT NOT NULL,
            priority TEXT,
            weight INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL CHECK (state IN ('waiting', 'called', 'serving', 'done', 'no_show')),
            issued_at TEXT NOT NULL,
            called_at TEXT,
            counter INTEGER,
            for_counter INTEGER,
            officer TEXT,
            calls INTEGER NOT NULL DEFAULT 0,
            started_at TEXT,
            finished_at TEXT,
            dossier_id TEXT,
            UNIQUE (day, service, seq)
        );
        CREATE INDEX queue_tickets_waiting ON queue_tickets(day, weight DESC, issued_at) WHERE state = 'waiting';
        CREATE TABLE queue_calls (
            id INTEGER PRIMARY KEY,
            ticket_id TEXT NOT NULL,
            number TEXT NOT NULL,
            service TEXT NOT NULL,
            counter INTEGER NOT NULL,
            at TEXT NOT NULL
        );
        """
    )


@migrations(name="0010_fees")
def m0010_fees(db: sqlite_utils.Database) -> None:
    """Fee payments (cash, card, VietQR) with gapless receipt numbers per form and series, refunds, cash-ups."""
    db.executescript(
        """
        CREATE TABLE fee_payments (
            id TEXT PRIMARY KEY,
            dossier_id TEXT NOT NULL,
            dossier_code TEXT NOT NULL,
            method TEXT NOT NULL CHECK (method IN ('cash', 'card', 'vietqr')),
            amount INTEGER NOT NULL CHECK (amount > 0),
            received INTEGER,
            change INTEGER,
            status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined', 'cancelled', 'unknown')),
            receipt_form TEXT,
            receipt_series TEXT,
            receipt_number INTEGER,
            vietqr_payload TEXT,
            card_payment_id TEXT UNIQUE,
            collected_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            paid_at TEXT,
            confirmed_at TEXT,
            confirmed_by TEXT,
            cancelled_at TEXT,
            cancelled_by TEXT,
            cancel_reason TEXT,
            refunded INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
            UNIQUE (receipt_form, receipt_series, receipt_number)
        );
        CREATE INDEX fee_payments_dossier ON fee_payments(dossier_id);
        CREATE INDEX fee_payments_paid ON fee_payments(paid_at);
        CREATE INDEX fee_payments_open ON fee_payments(created_at) WHERE status IN ('pending', 'unknown');
        CREATE TABLE fee_refunds (
            id TEXT PRIMARY KEY,
            payment_id TEXT NOT NULL REFERENCES fee_payments(id),
            amount INTEGER NOT NULL CHECK (amount > 0),
            reason TEXT NOT NULL,
            refunded_by TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX fee_refunds_payment ON fee_refunds(payment_id);
        CREATE INDEX fee_refunds_at ON fee_refunds(at);
        CREATE TABLE receipt_sequences (
            form TEXT NOT NULL,
            series TEXT NOT NULL,
            last INTEGER NOT NULL,
            PRIMARY KEY (form, series)
        );
        CREATE TABLE cashups (
            day TEXT PRIMARY KEY,
            summary TEXT NOT NULL,
            counts TEXT NOT NULL,
            discrepancy INTEGER NOT NULL,
            note TEXT NOT NULL,
            closed_by TEXT NOT NULL,
            closed_at TEXT NOT NULL
        );
        """
    )


@migrations(name="0011_queue_admin")
def m0011_queue_admin(db: sqlite_utils.Database) -> None:
    """Queue admin: priority groups in a table (weights 1–9); a prefix is unique among active services only."""
    db.executescript(
        """
        CREATE TABLE queue_priorities (
            code TEXT PRIMARY KEY,
            name_vi TEXT NOT NULL,
            name_en TEXT NOT NULL,
            weight INTEGER NOT NULL CHECK (weight BETWEEN 1 AND 9),
            active INTEGER NOT NULL DEFAULT 1,
            sort INTEGER NOT NULL DEFAULT 0
        );
        INSERT INTO queue_priorities (code, name_vi, name_en, weight, sort) VALUES
            ('elderly', 'Người cao tuổi', 'Elderly', 2, 1),
            ('disabled', 'Người khuyết tật', 'Person with a disability', 2, 2),
            ('pregnant', 'Phụ nữ mang thai', 'Pregnant woman', 2, 3);
        CREATE TABLE queue_services_new (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            prefix TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            position INTEGER NOT NULL DEFAULT 0
        );
        INSERT INTO queue_services_new (code, name, prefix, active, position)
            SELECT code, name, prefix, active, position FROM queue_services;
        DROP TABLE queue_services;
        ALTER TABLE queue_services_new RENAME TO queue_services;
        CREATE UNIQUE INDEX queue_services_active_prefix ON queue_services(prefix) WHERE active = 1;
        """
    )


@migrations(name="0012_ratings")
def m0012_ratings(db: sqlite_utils.Database) -> None:
    """The 9-indicator evaluation of a dossier (one each), keypad presses beyond the scale, report indexes."""
    db.executescript(
        """
        CREATE TABLE evaluations (
            id TEXT PRIMARY KEY,
            dossier_id TEXT NOT NULL UNIQUE,
            ticket TEXT,
            officer TEXT,
            procedure_code TEXT,
            answers TEXT NOT NULL,
            points INTEGER NOT NULL CHECK (points BETWEEN 0 AND 18),
            source TEXT NOT NULL,
            at TEXT NOT NULL,
            replaced INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX evaluations_at ON evaluations(at);
        CREATE TABLE rating_rejects (
            id INTEGER PRIMARY KEY,
            counter INTEGER NOT NULL,
            button INTEGER NOT NULL,
            scale INTEGER NOT NULL,
            source TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX rating_rejects_at ON rating_rejects(at);
        """
    )


@migrations(name="0013_office_outbox")
def m0013_office_outbox(db: sqlite_utils.Database) -> None:
    """Office events for the hub: closed tickets and ratings, each queued once (edge.officelog)."""
    db.executescript(
        """
        CREATE TABLE office_outbox (
            event_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            item_id TEXT NOT NULL,
            at TEXT NOT NULL,
            payload TEXT NOT NULL,
            queued_at TEXT NOT NULL,
            sent_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            error_code TEXT,
            error_message TEXT,
            failed_at TEXT,
            UNIQUE (kind, item_id)
        );
        CREATE INDEX office_outbox_waiting ON office_outbox(queued_at) WHERE sent_at IS NULL;
        CREATE TABLE office_cursors (source TEXT PRIMARY KEY, position INTEGER NOT NULL);
        """
    )


def schema_version(db: sqlite_utils.Database) -> int:
    """Return how many migrations have been applied."""
    return len(migrations.applied(db))


def latest_version() -> int:
    """Return how many migrations this version of the code knows."""
    return len(migrations._migrations)


def migrate(db: sqlite_utils.Database) -> None:
    """Apply every pending migration."""
    migrations.apply(db)


def migrate_path(path: str) -> None:
    """Open a DB file and migrate it (used by the CLI and tests)."""
    db = connect(path)
    try:
        migrate(db)
    finally:
        db.conn.close()
