"""Scans from the box to a real hub process over a slow link: packs, kept-alive connections, batched status, resume.

The hub is `motcua hub serve` (SQLite); the link is tests.faultproxy.FaultProxy with 300 ms latency
each way. A Transport subclass counts the requests the box makes.
"""

from __future__ import annotations

import collections
import hashlib
import io
import random
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from edge import intake, outbox
from edge.attachments import attach, blob_path
from edge.box import Box, open_box
from edge.config import Settings
from edge.users import get_user
from sync.client.config import load_sync_config
from sync.client.cycle import sync_once
from sync.client.errors import HubRefusedError, HubUnreachableError
from sync.client.push import CHUNK_BYTES, PACK_BYTES, BlobMeter, push_blobs
from sync.client.transport import Transport
from tests.conftest import applicant, dossier_body
from tests.faultproxy import FaultProxy
from tests.hubproc import Hub, make_box, provision

PNG = b"\x89PNG\r\n\x1a\n"


class Counting(Transport):
    """A transport that counts its requests by method and endpoint (blobs/status, blobs/pack, blobs/<sha> …)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: collections.Counter[str] = collections.Counter()
        self._count_lock = threading.Lock()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Count, then send."""
        parts = path.split("/")
        endpoint = "/".join(parts[3:5]) if parts[3] == "blobs" and len(parts[4]) != 64 else parts[3]
        with self._count_lock:
            self.calls[f"{method} {endpoint}"] += 1
        return super().request(method, path, **kwargs)


class OldHub(Counting):
    """A hub from before the batched endpoints: /blobs/status and /blobs/pack answer 404."""

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Refuse the batched endpoints as an older hub would."""
        if path in ("/sync/v1/blobs/status", "/sync/v1/blobs/pack"):
            with self._count_lock:
                self.calls[f"refused {path}"] += 1
            raise HubRefusedError("Không tìm thấy.", "Not found.", code="not_found", http_status=404)
        return super().request(method, path, **kwargs)


def counting(box: Box, kind: type[Counting] = Counting) -> Counting:
    config = load_sync_config(box.settings)
    assert config is not None
    return kind(config.hubs, box=box, box_id=config.box_id, secret=config.secret, last_resort=True)


def fill(settings: Settings, dossiers: int, sizes: list[int] | None = None, seed: int = 7) -> None:
    """Receive dossiers, each with 3 scans of 800–2400 bytes (or, with sizes, one scan of each size)."""
    rng = random.Random(seed)
    box = open_box(settings.data_dir)
    officer = get_user(box.db(), "canbo")
    for n in range(dossiers):
        person = applicant(id_number=f"001099{seed:02d}{n:04d}", phone=f"09{seed:02d}{n:06d}")
        state = intake.receive_dossier(box, officer, dossier_body(applicant=person), "test")
        for k, size in enumerate(sizes or [rng.randint(800, 2400) for _ in range(3)]):
            body = PNG + rng.randbytes(size)
            attach(box, officer, state["code"], io.BytesIO(body), f"scan-{n}-{k}.png", "test")
    box.close()


def box_scans(settings: Settings) -> dict[str, bytes]:
    box = open_box(settings.data_dir)
    shas = [r[0] for r in box.db().execute("SELECT sha256 FROM blobs")]
    box.close()
    return {sha: blob_path(settings.blob_dir, sha).read_bytes() for sha in shas}


def hub_scans(hub: Hub) -> dict[str, bytes]:
    """Every complete blob at the hub, read back from its chunks."""
    with sqlite3.connect(hub.data / "hub.db", timeout=30) as conn:
        complete = [r[0] for r in conn.execute("SELECT sha256 FROM blobs WHERE complete = 1")]
        return {
            sha: b"".join(
                r[0] for r in conn.execute('SELECT data FROM blob_chunks WHERE sha256 = ? ORDER BY "offset"', [sha])
            )
            for sha in complete
        }


def test_many_small_scans_go_in_a_few_packs_over_a_few_connections(tmp_path: Path, hub: Hub) -> None:
    settings = make_box(tmp_path)
    fill(settings, 80)  # 240 scans of about 1.6 KB
    with FaultProxy("127.0.0.1", hub.port) as proxy:
        provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), f"http://127.0.0.1:{proxy.port}")
        proxy.set_latency(0.3)
        proxy.clear_stats()
        box = open_box(settings.data_dir)
        link = counting(box)
        result = sync_once(box, transport=link)
        link.close()
        stats = proxy.stats()
    assert result.done, result.summary()
    assert result.blobs.confirmed == 240 and not result.blobs.failed
    # One status question for all 240, two packs (the first goes while the status is asked), no HEAD, no PUT.
    assert link.calls["POST blobs/status"] == 1
    assert 2 <= link.calls["POST blobs/pack"] <= 3
    assert not [c for c in link.calls if c.startswith(("HEAD", "PUT"))]
    assert sum(link.calls.values()) <= 10, link.calls
    assert stats.connections_accepted <= 6, stats  # was one new connection per scan
    assert outbox.pending_blobs(box.db()) == []
    box.close()
    scans = box_scans(settings)
    held = hub_scans(hub)
    assert len(scans) == 240 and all(held.get(sha) == data for sha, data in scans.items())
    assert all(hashlib.sha256(data).hexdigest() == sha for sha, data in held.items())


def test_a_big_scan_among_small_ones_resumes_after_a_reset_with_at_most_one_chunk_sent_again(
    tmp_path: Path, hub: Hub
) -> None:
    settings = make_box(tmp_path)
    fill(settings, 1, sizes=[1_000_000])  # four chunks of 256 KiB
    fill(settings, 20, seed=8)  # 60 small scans: one pack
    with FaultProxy("127.0.0.1", hub.port) as proxy:
        provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), f"http://127.0.0.1:{proxy.port}")
        proxy.set_latency(0.05)
        box = open_box(settings.data_dir)
        link = counting(box)
        proxy.set_resets(every_bytes=600_000)  # the big scan's connection breaks in its third chunk
        meter = BlobMeter()
        with pytest.raises(HubUnreachableError):
            push_blobs(box, link, meter=meter)
        assert proxy.stats().resets_injected == 1
        proxy.set_resets()
        result = push_blobs(box, link, meter=meter)  # the status says where the hub stopped
        link.close()
    assert outbox.pending_blobs(box.db()) == [] and not result.failed
    assert 0 < meter.resent <= CHUNK_BYTES
    scans = box_scans(settings)
    assert meter.sent - meter.resent == sum(len(d) for d in scans.values())
    assert link.calls["HEAD blobs"] == 0 and link.calls["PUT blobs"] >= 4
    held = hub_scans(hub)
    assert all(held.get(sha) == data for sha, data in scans.items())
    box.close()


def test_scans_the_hub_holds_are_confirmed_without_being_sent_again(tmp_path: Path, hub: Hub) -> None:
    settings = make_box(tmp_path)
    fill(settings, 200)  # 600 scans, about 1 MB
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    box = open_box(settings.data_dir)
    link = counting(box)
    first = push_blobs(box, link)
    assert first.confirmed == 600 and link.calls["POST blobs/pack"] >= 4
    # The box forgets it sent them (a restore from an older backup): the hub says it holds them all.
    with box.db().conn:
        box.db().execute("INSERT INTO blob_outbox (sha256, queued_at) SELECT sha256, '2026-01-01' FROM blobs")
    link.calls.clear()
    meter = BlobMeter()
    again = push_blobs(box, link, meter=meter)
    link.close()
    assert again.confirmed + again.already_held == 600 and again.already_held >= 600 - PACK_BYTES // 800
    assert meter.sent <= PACK_BYTES  # only the pack that goes while the status is asked
    assert link.calls["POST blobs/status"] == 1 and link.calls["POST blobs/pack"] <= 1
    assert outbox.pending_blobs(box.db()) == []
    box.close()


def test_a_damaged_scan_on_the_box_fails_alone_and_the_rest_of_its_pack_goes(tmp_path: Path, hub: Hub) -> None:
    settings = make_box(tmp_path)
    fill(settings, 4)
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    scans = box_scans(settings)
    damaged = sorted(scans)[0]
    blob_path(settings.blob_dir, damaged).write_bytes(b"not the scan any more")
    box = open_box(settings.data_dir)
    link = counting(box)
    result = push_blobs(box, link)
    link.close()
    assert result.confirmed == 11 and [sha for sha, _ in result.failed] == [damaged]
    assert "bị hỏng" in result.failed[0][1]
    assert outbox.pending_blobs(box.db()) == [damaged]
    assert damaged not in hub_scans(hub)
    box.close()


def test_an_older_hub_without_packs_gets_each_scan_with_head_and_chunks(tmp_path: Path, hub: Hub) -> None:
    settings = make_box(tmp_path)
    fill(settings, 3, sizes=[1500, 300_000])
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    box = open_box(settings.data_dir)
    link = counting(box, OldHub)
    result = push_blobs(box, link)
    link.close()
    assert result.confirmed == 6 and not result.failed
    assert link.calls["HEAD blobs"] == 6 and link.calls["PUT blobs"] == 3 + 3 * 2
    assert link.calls["POST blobs/pack"] == 0
    scans = box_scans(settings)
    assert all(hub_scans(hub).get(sha) == data for sha, data in scans.items())
    box.close()


def test_a_small_upload_size_asks_about_scans_window_by_window(tmp_path: Path, hub: Hub) -> None:
    """After resets shrank the upload size, a backlog goes in windows whose status request fits between resets."""
    settings = make_box(tmp_path)
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    fill(settings, 100)  # 300 scans
    box = open_box(settings.data_dir)
    link = counting(box)
    result = push_blobs(box, link, chunk=16 * 1024, pack_bytes=16 * 1024)
    assert result.confirmed == 300 and not result.failed
    # 16 KiB / 70 bytes a name → windows of 234 names: two status requests (one per window, minus lead packs).
    assert link.calls["POST blobs/status"] == 2, link.calls
    assert box_scans(settings).items() <= hub_scans(hub).items()
    link.close()
    box.close()
