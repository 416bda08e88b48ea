"""The box's sync client against a real hub process on 127.0.0.1: provision, push, pull, repair, failover, TLS.

Boxes are real data dirs; the hub is `motcua hub serve` (SQLite) started through the CLI; links go
through tests.faultproxy.FaultProxy or tests.tlsproxy.TlsProxy where a test needs them.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import trustme

from edge import actions, audit, events, intake, outbox, syncstate
from edge.attachments import attach, blob_path
from edge.box import open_box
from edge.catalogue import dump_file, sample_catalogue
from edge.config import Settings
from edge.replication import apply_events
from edge.users import get_user
from sync.client.config import load_sync_config
from sync.client.cycle import sync_once
from sync.client.errors import HubUnreachableError
from sync.client.pull import CURSOR_KEY
from sync.client.push import CHUNK_BYTES, BlobMeter, push_blobs
from sync.client.status import status
from sync.client.transport import Backoff, Transport, transport_for
from tests.conftest import applicant, dossier_body
from tests.faultproxy import FaultProxy
from tests.hubproc import Hub, make_box, motcua, provision
from tests.tlsproxy import TlsProxy

PNG = b"\x89PNG\r\n\x1a\n"


def fill(settings: Settings, count: int, *, seed: int = 1, big: int = 0) -> list[dict[str, object]]:
    """Receive dossiers at the box, each with one scan; the first `big` scans span several 256 KiB chunks."""
    rng = random.Random(seed)
    box = open_box(settings.data_dir)
    officer = get_user(box.db(), "canbo")
    made = []
    for n in range(count):
        person = applicant(id_number=f"001099{seed:02d}{n:04d}")
        state = intake.receive_dossier(box, officer, dossier_body(applicant=person), "test")
        size = 700_000 + n if n < big else rng.randint(500, 3000)
        attach(box, officer, state["code"], io.BytesIO(PNG + rng.randbytes(size)), f"scan-{n}.png", "test")
        made.append(state)
    box.close()
    return made


def hub_db(hub: Hub) -> sqlite3.Connection:
    return sqlite3.connect(hub.data / "hub.db", timeout=30)


def own_event_ids(settings: Settings) -> set[str]:
    box = open_box(settings.data_dir)
    rows = box.db().execute("SELECT event_id FROM dossier_events WHERE origin = ?", [box.origin]).fetchall()
    box.close()
    return {r[0] for r in rows}


def outbox_sha(settings: Settings) -> str:
    box = open_box(settings.data_dir)
    (sha,) = [r[0] for r in box.db().execute("SELECT sha256 FROM blobs")]
    box.close()
    return sha


def sync_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "sync", *args, "--data", str(settings.data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_provision_then_push_50_dossiers_with_scans_exactly_once(tmp_path: Path, hub: Hub) -> None:
    settings = make_box(tmp_path)
    fill(settings, 50, big=3)
    out = provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    assert "Đã đăng ký" in out
    assert (settings.data_dir / "sync-secret.toml").stat().st_mode & 0o777 == 0o600

    done = sync_cli(settings, "once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "còn chờ 0 sự kiện, 0 tệp scan" in done.stdout
    with hub_db(hub) as conn:
        stored = [r[0] for r in conn.execute("SELECT event_id FROM events")]
        blobs = dict(conn.execute("SELECT sha256, complete FROM blobs").fetchall())
    assert len(stored) == len(set(stored)) == 100
    assert set(stored) == own_event_ids(settings)
    box = open_box(settings.data_dir)
    shas = [r[0] for r in box.db().execute("SELECT sha256 FROM blobs")]
    assert len(shas) == 50 and all(blobs.get(s) == 1 for s in shas)
    biggest = max(shas, key=lambda s: blob_path(settings.blob_dir, s).stat().st_size)
    got = requests.get(f"{hub.url}/api/v1/blobs/{biggest}", headers=hub.headers(), timeout=30)
    assert hashlib.sha256(got.content).hexdigest() == biggest
    assert all(outbox.dossier_synced(box.db(), r[0]) for r in box.db().execute("SELECT dossier_id FROM dossiers"))
    box.close()

    # Nothing twice: a second run sends nothing and still exits 0.
    again = sync_cli(settings, "once")
    assert again.returncode == 0 and "gửi 0 sự kiện, 0 tệp scan" in again.stdout
    with hub_db(hub) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 100
        # The heartbeats reached the hub, oldest first.
        beats = [json.loads(r[0]) for r in conn.execute("SELECT body FROM heartbeats ORDER BY rowid")]
    assert beats and beats[-1]["outbox_events"] == 0 and beats[-1]["version"]

    shown = json.loads(sync_cli(settings, "status", "--json").stdout)
    assert shown["online"] and shown["waiting"] == 0 and shown["hubs"][0]["state"] == "ok"
    assert shown["clock_offset_ms"] is not None and abs(shown["clock_offset_ms"]) < 5000

    # The hub stops: `sync once` says so in one line and exits 1; the heartbeat waits in the buffer.
    hub.stop()
    fill(settings, 1, seed=9)
    down = sync_cli(settings, "once")
    assert down.returncode == 1
    assert "Không kết nối được máy chủ tỉnh" in down.stdout
    box = open_box(settings.data_dir)
    assert syncstate.heartbeat_backlog(box.db()) == 1
    assert status(box)["hubs"][0]["state"] in ("backing_off", "down")
    box.close()
    hub.start(hub.port)
    assert sync_cli(settings, "once").returncode == 0


def test_a_wrong_enrollment_code_and_another_communes_code_are_refused_in_vietnamese(tmp_path: Path, hub: Hub) -> None:
    settings = make_box(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "provision", "--data", str(settings.data_dir), "--hub", hub.url,
         "--code", "ABCD-EFGH-JKLM-NPQR"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "Mã đăng ký không đúng" in done.stderr
    other = hub.add_box("00002", "UBND xã Khác")
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "provision", "--data", str(settings.data_dir), "--hub", hub.url,
         "--code", other],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "xã khác" in done.stderr and "00001" in done.stderr
    assert not (settings.data_dir / "sync.toml").exists()


def test_a_dossier_filed_at_the_hub_and_the_catalogue_arrive_at_the_box(tmp_path: Path, hub: Hub) -> None:
    catalogue_file = tmp_path / "catalogue.json"
    dump_file(catalogue_file, sample_catalogue())
    hub.cli("catalogue", "import", str(catalogue_file))
    settings = make_box(tmp_path)
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm", "000.00.01.H01"), hub.url)
    filed = requests.post(
        f"{hub.url}/api/v1/communes/00001/dossiers",
        json=dossier_body(applicant=applicant(full_name="Trần Thị Bình")),
        headers=hub.headers(),
        timeout=30,
    )
    if filed.status_code == 404 and "communes" not in filed.text:
        pytest.skip("online filing at the hub is not built yet")
    assert filed.status_code == 201, filed.text
    code = filed.json()["code"]

    box = open_box(settings.data_dir)
    result = sync_once(box)
    assert not result.errors, result.errors
    row = box.db().execute("SELECT status, applicant_name, channel FROM dossiers WHERE code = ?", [code]).fetchone()
    assert row == ("receiving", "Trần Thị Bình", "online")
    assert int(code.rsplit("-", 1)[1]) >= 8000  # the hub's half of the day's numbers
    assert syncstate.get(box.db(), CURSOR_KEY) == result.pulled.head > 0
    # The hub's event is not sent back, and the cursor survives a restart: nothing is applied twice.
    assert outbox.pending_events(box.db()) == []
    box.close()
    box = open_box(settings.data_dir)
    again = sync_once(box)
    assert again.pulled.items == 0 and again.pulled.cursor == result.pulled.head
    box.close()


def test_the_feed_is_repaired_never_skipped(tmp_path: Path, hub: Hub) -> None:
    settings = make_box(tmp_path)
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    fill(settings, 3)
    box = open_box(settings.data_dir)
    first = sync_once(box)
    head = first.pulled.head
    assert head >= 6 and not first.pulled.repairs

    # The hub was restored from an older backup: its head is behind the box's cursor.
    syncstate.set_value(box.db(), CURSOR_KEY, head + 40)
    repaired = sync_once(box)
    assert repaired.pulled.repairs == ["head_behind_cursor"] and not repaired.errors
    assert syncstate.get(box.db(), CURSOR_KEY) == head  # read again from 0, every item applied idempotently
    entry = next(e for e in audit.entries(box.db(), limit=20) if e["action"] == "feed_repair")
    assert "head_behind_cursor" in json.dumps(entry["detail"])

    # A gap in the hub's feed: repaired once (cursor back to 0), and when it persists it is an error, not a skip.
    with hub_db(hub) as conn:
        conn.execute("DELETE FROM feed WHERE commune_code = '00001' AND seq = 2")
    syncstate.set_value(box.db(), CURSOR_KEY, 0)
    broken = sync_once(box)
    assert any("không khớp" in e for e in broken.errors) and broken.online
    gaps = [e for e in audit.entries(box.db(), limit=50) if e["action"] == "feed_repair" and "gap" in str(e["detail"])]
    assert len(gaps) == 1  # repaired once, then reported: never a loop, never a silent skip
    assert syncstate.get(box.db(), CURSOR_KEY) == 0
    assert "không khớp" in status(box)["last_pull_error"]
    box.close()


def test_failover_to_the_second_data_centre_and_back(tmp_path: Path, hub: Hub) -> None:
    hub2 = Hub(data=hub.data, admin_token=hub.admin_token, env=hub.env).start()  # the second data centre
    settings = make_box(tmp_path)
    try:
        with FaultProxy("127.0.0.1", hub.port) as dc1, FaultProxy("127.0.0.1", hub2.port) as dc2:
            urls = (f"http://127.0.0.1:{dc1.port}", f"http://127.0.0.1:{dc2.port}")
            provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), *urls)
            box = open_box(settings.data_dir)
            config = load_sync_config(box.settings)
            assert config is not None and config.hubs == urls
            now = [time.time()]
            link = Transport(config.hubs, box=box, box_id=config.box_id, secret=config.secret,
                             clock=lambda: now[0], rng=lambda: 1.0, backoff=Backoff(base_s=4, cap_s=60))  # fmt: skip

            fill(settings, 2, seed=1)
            assert sync_once(box, config=config, transport=link).done
            assert dc2.stats().bytes_up == 0  # the first data centre first

            dc1.down()
            fill(settings, 2, seed=2)
            assert sync_once(box, config=config, transport=link).done  # failed over within the cycle
            assert dc2.stats().bytes_up > 0
            first, second = status(box)["hubs"]
            assert first["state"] == "backing_off" and first["last_error"].startswith("Không kết nối được")
            assert second["state"] == "ok"

            dc1.up()
            fill(settings, 2, seed=3)
            before = dc1.stats().bytes_up
            assert sync_once(box, config=config, transport=link).done
            assert dc1.stats().bytes_up == before  # still backing off: dc2 carries on
            now[0] += 5  # the backoff (4 s after one failure) expired
            fill(settings, 1, seed=4)
            assert sync_once(box, config=config, transport=link).done
            assert dc1.stats().bytes_up > before  # back to the first
            assert [h["state"] for h in status(box)["hubs"]] == ["ok", "ok"]
            link.close()
            box.close()
    finally:
        hub2.stop()
    with hub_db(hub) as conn:
        stored = [r[0] for r in conn.execute("SELECT event_id FROM events")]
    assert len(stored) == len(set(stored)) and set(stored) == own_event_ids(settings)


def test_the_hub_behind_tls_with_the_provinces_ca(tmp_path: Path, hub: Hub) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "province-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with TlsProxy("127.0.0.1", hub.port, ca.issue_cert("127.0.0.1", "localhost")) as tls:
        url = f"https://127.0.0.1:{tls.port}"
        settings = make_box(tmp_path)
        code = hub.add_box("00001", "UBND xã Thử Nghiệm")
        # Without the province's CA the box does not trust the hub, and says so.
        refused = motcua("provision", "--data", str(settings.data_dir), "--hub", url, "--code", code, check=False)
        assert refused == "" and not (settings.data_dir / "sync.toml").exists()
        motcua("provision", "--data", str(settings.data_dir), "--hub", url, "--code", code, "--ca-bundle", str(bundle))
        fill(settings, 3)
        done = sync_cli(settings, "once")
        assert done.returncode == 0, done.stdout + done.stderr
    with hub_db(hub) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 6


def test_a_scan_resumes_after_a_reset_with_at_most_one_chunk_sent_again(tmp_path: Path, hub: Hub) -> None:
    settings = make_box(tmp_path)
    with FaultProxy("127.0.0.1", hub.port) as link:
        provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), f"http://127.0.0.1:{link.port}")
        fill(settings, 1, big=1)  # 700 KB: two whole chunks and a part
        box = open_box(settings.data_dir)
        config = load_sync_config(box.settings)
        assert config is not None
        transport = transport_for(box, config, last_resort=True)
        link.set_resets(every_bytes=600_000)  # the connection breaks in the middle of the third chunk
        meter = BlobMeter()
        with pytest.raises(HubUnreachableError):
            push_blobs(box, transport, meter=meter)
        assert link.stats().resets_injected == 1
        result = push_blobs(box, transport, meter=meter)  # HEAD says where the hub stopped
        transport.close()
        assert result.confirmed == 1 and outbox.pending_blobs(box.db()) == []
        assert 0 < meter.resent <= CHUNK_BYTES
        assert meter.sent - meter.resent == blob_path(settings.blob_dir, outbox_sha(settings)).stat().st_size
        box.close()


def test_a_refused_event_is_shown_blocks_nothing_and_goes_after_a_fix(tmp_path: Path, hub: Hub) -> None:
    # Box 1 (commune 00001) files dossier D at the hub; box 2 (commune 00002) acts on D: the hub refuses that.
    one = make_box(tmp_path / "one")
    two = make_box(tmp_path / "two", commune_code="00002", agency_code="000.00.02.H01", name="UBND xã Hai")
    provision(one, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    provision(two, hub.add_box("00002", "UBND xã Hai"), hub.url)
    (state,) = fill(one, 1)
    assert sync_cli(one, "once").returncode == 0
    box1 = open_box(one.data_dir)
    foreign = [e.to_dict() for e in events.events_of(box1.db(), str(state["dossier_id"]))]
    box1.close()

    box2 = open_box(two.data_dir)
    apply_events(box2, foreign)
    officer = get_user(box2.db(), "canbo")
    actions.act(box2, officer, str(state["code"]), "transfer", {"assignee": "canbo2"})
    fill(two, 1, seed=5)  # box 2's own dossier goes through regardless
    result = sync_once(box2)
    assert result.pushed.rejected == 1 and result.refused == 1 and not result.done
    shown = status(box2, detail=True)
    assert shown["refused"] == 1 and shown["waiting_events"] == 2 - 2  # its own dossier's events all went
    (refused,) = shown["refused_events"]
    assert refused["code"] == "wrong_commune" and refused["kind"] == "transferred"
    assert sync_cli(two, "once").returncode == 1  # refused events are not "done"

    # The province fixes the dossier's commune at the hub; the box sends the event again.
    with hub_db(hub) as conn:
        conn.execute("UPDATE dossiers SET commune_code = '00002' WHERE dossier_id = ?", [state["dossier_id"]])
    assert outbox.retry_refused(box2.db()) == 1
    after = sync_once(box2)
    assert after.pushed.accepted == 1 and after.done
    box2.close()


def test_a_box_whose_clock_is_wrong_measures_the_offset_and_still_signs_in_the_hubs_time(
    tmp_path: Path, hub: Hub
) -> None:
    settings = make_box(tmp_path)
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    box = open_box(settings.data_dir)
    config = load_sync_config(box.settings)
    assert config is not None
    skew = 1800.0  # the box's clock is half an hour behind: outside the hub's ±300 s window
    link = Transport(config.hubs, box=box, box_id=config.box_id, secret=config.secret,
                     clock=lambda: time.time() - skew)  # fmt: skip
    page = link.request("GET", "/sync/v1/communes/00001/feed", query={"after": 0, "limit": 5})
    assert page.status_code == 200 and "head" in page.json()
    assert link.clock_offset_ms == pytest.approx(skew * 1000, abs=5000)
    assert syncstate.get(box.db(), "clock_offset_ms") == pytest.approx(skew * 1000, abs=5000)
    link.close()
    box.close()
