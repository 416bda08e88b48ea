"""A box restored from an old backup against a real hub process: nothing lost, nothing twice, no number reused.

Dossiers with fees are made, backed up (`motcua backup`), synced; more are made and synced; the old
backup is restored into a new folder (`motcua restore`, which syncs once): the box gets its own
later events back from the hub, and its next dossier code and receipt number are new.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge import audit, cashier, intake
from edge.box import Box, open_box
from edge.config import Settings
from edge.users import User
from sync.client.cycle import sync_once
from tests.conftest import applicant, dossier_body
from tests.hubproc import Hub, make_box, motcua, provision

OFFICER = User("canbo", "officer")


def receive(settings: Settings, n: int, seed: int) -> list[tuple[str, str | None]]:
    """Receive n dossiers and take each one's 16.000 ₫ in cash; return (code, receipt number)."""
    box = open_box(settings.data_dir)
    made = []
    for i in range(n):
        body = dossier_body(applicant=applicant(id_number=f"0010992{seed:02d}{i:03d}"))
        state = intake.receive_dossier(box, OFFICER, body)
        paid = cashier.take_payment(box, None, state["code"], "cash", 16000, OFFICER, received=16000)
        made.append((state["code"], paid["receipt_number"]))
    box.close()
    return made


def hub_codes(hub: Hub) -> list[str]:
    with sqlite3.connect(hub.data / "hub.db", timeout=30) as conn:
        return [r[0] for r in conn.execute("SELECT code FROM dossiers ORDER BY code")]


def hub_event_ids(hub: Hub) -> list[str]:
    with sqlite3.connect(hub.data / "hub.db", timeout=30) as conn:
        return [r[0] for r in conn.execute("SELECT event_id FROM events")]


def held(box: Box) -> tuple[list[str], list[str]]:
    db = box.db()
    codes = [r[0] for r in db.execute("SELECT code FROM dossiers ORDER BY code")]
    return codes, [r[0] for r in db.execute("SELECT event_id FROM dossier_events")]


def test_a_box_restored_from_an_old_backup_gets_its_events_back_and_reuses_no_number(tmp_path: Path, hub: Hub) -> None:
    settings = make_box(tmp_path)
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    before = receive(settings, 3, seed=1)
    usb = tmp_path / "usb"
    usb.mkdir()
    motcua("backup", "--data", str(settings.data_dir), "--to", str(usb))  # its outbox still holds the 3
    (made,) = usb.iterdir()
    box = open_box(settings.data_dir)
    assert sync_once(box).done
    box.close()
    after = receive(settings, 2, seed=2)
    box = open_box(settings.data_dir)
    assert sync_once(box).done
    _, old_events = held(box)
    box.close()
    codes = [c for c, _ in before + after]
    assert hub_codes(hub) == sorted(codes)
    at_hub = hub_event_ids(hub)

    # The box's disk dies; the old backup goes into a new folder; restore syncs once with the hub.
    out = motcua("restore", "--data", str(tmp_path / "new"), "--from", str(made))
    assert "Đã đồng bộ với máy chủ tỉnh" in out and "motcua sync once" not in out
    restored = open_box(tmp_path / "new")
    got_codes, got_events = held(restored)
    assert got_codes == sorted(codes)  # every dossier once, those made after the backup included
    assert sorted(got_events) == sorted(old_events) and len(set(got_events)) == len(got_events)
    assert sorted(hub_event_ids(hub)) == sorted(at_hub)  # the old outbox went again: the hub kept each once
    actions = [e["action"] for e in audit.entries(restored.db(), limit=100)]
    assert "feed_repair" in actions and "sequence_fenced" in actions
    restored.close()

    # The next dossier code and receipt number are new, and the hub takes the new dossier once.
    ((code, receipt),) = receive(restored.settings, 1, seed=3)
    assert code not in codes and code > max(codes)
    assert receipt is not None and int(receipt) == max(int(r or 0) for _, r in before + after) + 1
    restored = open_box(tmp_path / "new")
    result = sync_once(restored)
    assert result.done and not result.pulled.repairs
    restored.close()
    assert hub_codes(hub) == sorted([*codes, code])
    stored = hub_event_ids(hub)
    assert len(stored) == len(set(stored)) == len(at_hub) + 2  # dossier_received and fee_paid of the new one
