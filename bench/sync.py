"""Sync over a real WAN: goodput, resume waste, reconnect time and hub ingest, each against a baseline.

    .venv/bin/python bench/sync.py [--part goodput|resume|reconnect|ingest|all] [--quick] [--json]

1. goodput: the box's push (an in-process `sync_once` loop until nothing waits) of N MB of dossiers
   with mixed-size scans to a real `motcua hub serve`, vs one plain HTTP POST of the same number of
   bytes to a sink, each through a link of the same profile (512 kbit/s + 300 ms, 8 Mbit/s + 50 ms).
   ratio = baseline_s / push_s, target ≥ 0.9.
2. resume: one big scan, the link reset once part-way; waste = bytes of that scan the client sent
   minus its size (the push code's BlobMeter), target ≤ 256 KiB.
3. reconnect: a `motcua sync-worker` process, the link down ~20 s while dossiers are received at the
   box; time from the link's return to the first byte up, target ≤ 10 s (max of the repeats).
4. ingest: bench.sync_ingest (hub on PostgreSQL, many boxes at once vs raw executemany).

The exit code is 0 whatever the figures (a measurement, not a gate); non-zero only when the bench
itself failed. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time as timer
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/sync.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import bodies
from bench.sync_links import FAST, SLOW, LinkProxy, Profile, plain_upload
from edge import catalogue, intake, outbox
from edge.attachments import attach
from edge.box import Box, init_box, open_box
from edge.config import Settings
from edge.procedures import upsert_procedures
from edge.users import add_user, get_user
from sync.client.cycle import CycleResult, sync_once
from sync.client.push import BlobMeter

PARTS = ("goodput", "resume", "reconnect", "ingest")
TARGET_GOODPUT = 0.9
TARGET_WASTE = 256 * 1024
TARGET_RECONNECT_S = 10.0
PNG_HEAD = b"\x89PNG\r\n\x1a\n"
KB, MB = 1000, 1_000_000
AGENCY = "000.00.01.H01"


@dataclass(frozen=True)
class Sizes:
    """How big a run is: goodput payload per profile, scan ranges, resume scan, reconnect repeats, ingest."""

    goodput: dict[str, int]
    small_scan: tuple[int, int]
    big_scan: tuple[int, int]
    resume_scan: int
    resume_reset_after: int
    down_s: float
    repeats: int
    ingest_boxes: int
    ingest_events: int
    ingest_rounds: int


FULL = Sizes(
    goodput={SLOW.name: 2 * 1024 * 1024, FAST.name: 8 * 1024 * 1024},
    small_scan=(20 * KB, 200 * KB),
    big_scan=(1 * MB, 2 * MB),
    resume_scan=3 * MB,
    resume_reset_after=1_300_000,
    down_s=20.0,
    repeats=3,
    ingest_boxes=200,
    ingest_events=250,
    ingest_rounds=3,
)
QUICK = Sizes(
    goodput={SLOW.name: 160 * 1024, FAST.name: 640 * 1024},
    small_scan=(10 * KB, 40 * KB),
    big_scan=(80 * KB, 150 * KB),
    resume_scan=1 * MB,
    resume_reset_after=450_000,
    down_s=4.0,
    repeats=1,
    ingest_boxes=10,
    ingest_events=50,
    ingest_rounds=1,
)


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[sync bench] {message}", file=sys.stderr, flush=True)


# -- real processes and boxes (through the documented commands) ----------------------------------------


def motcua(*args: str) -> str:
    """Run `motcua ARGS`; return its stdout (stripped) or raise with its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode:
        raise RuntimeError(f"motcua {' '.join(args)} -> {done.returncode}: {done.stderr}{done.stdout}")
    return done.stdout.strip()


@contextmanager
def hub_served(root: Path) -> Iterator[tuple[Path, int]]:
    """`motcua hub init` (SQLite) and `motcua hub serve --port 0`; yield its data dir and port."""
    data = root / "hub"
    motcua("hub", "init", "--data", str(data))
    with open(root / "hub.log", "w", encoding="utf-8") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "hub", "serve", "--data", str(data), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "http://" not in line:
            raise RuntimeError(f"the hub did not start: {line!r}; see {root / 'hub.log'}")
        yield data, int(line[line.index("http://") :].split()[0].rstrip("/").rsplit(":", 1)[1])
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM a process this bench started, then SIGKILL if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def new_box(root: Path, commune: str, hub_data: Path, hub_url: str) -> Settings:
    """A box with the sample catalogue and the officer `canbo`, enrolled with the hub at hub_url."""
    settings = init_box(root / f"box-{commune}", commune, AGENCY, f"UBND xã {commune}")
    box = open_box(settings.data_dir)
    upsert_procedures(box.db(), catalogue.sample_catalogue(), actor="bench")
    add_user(box.db(), "canbo", "officer", "mat-khau-bench-2026")
    box.close()
    code = motcua("hub", "box", "add", "--data", str(hub_data), "--commune-code", commune, "--name", f"Xã {commune}")
    motcua("provision", "--data", str(settings.data_dir), "--hub", hub_url, "--code", code)
    return settings


def plan_scans(rng: random.Random, total: int, small: tuple[int, int], big: tuple[int, int]) -> list[int]:
    """Scan sizes adding up to about `total`: mostly small ones, a few big ones (the first one big)."""
    sizes: list[int] = []
    if total // 2 >= big[0]:
        sizes.append(rng.randint(big[0], min(big[1], total // 2)))
    while (left := total - sum(sizes)) >= small[0]:
        size = rng.randint(*big) if rng.random() < 0.05 else rng.randint(*small)
        sizes.append(min(size, left))
    return sizes


@dataclass(frozen=True)
class Filled:
    """What a box holds for the hub: dossiers, scans and events, and their bytes."""

    dossiers: int
    scans: int
    scan_bytes: int
    events: int
    event_bytes: int

    @property
    def payload(self) -> int:
        """Scan bytes plus the events' JSON bytes."""
        return self.scan_bytes + self.event_bytes


def fill(settings: Settings, scans: Sequence[int], seed: int) -> Filled:
    """Receive dossiers at the box, each with 1–3 of the scans (PNG-headed random bytes)."""
    rng = random.Random(seed)
    stream = bodies(seed)
    box = open_box(settings.data_dir)
    officer = get_user(box.db(), "canbo")
    dossiers, i = 0, 0
    while i < len(scans):
        state = intake.receive_dossier(box, officer, next(stream), "bench")
        dossiers += 1
        for _ in range(rng.randint(1, 3)):
            if i == len(scans):
                break
            body = PNG_HEAD + rng.randbytes(scans[i] - len(PNG_HEAD))
            attach(box, officer, state["code"], io.BytesIO(body), f"scan-{i}.png", "bench")
            i += 1
    events = outbox.pending_events(box.db(), limit=10**7)
    event_bytes = sum(len(json.dumps(e.to_dict(), ensure_ascii=False).encode("utf-8")) for e in events)
    box.close()
    return Filled(dossiers, len(scans), sum(scans), len(events), event_bytes)


def sync_until_done(box: Box, *, deadline_s: float, meter: BlobMeter | None = None) -> tuple[float, int]:
    """Call sync_once until nothing waits; return the seconds it took and how many cycles."""
    started = timer.perf_counter()
    cycles = 0
    while True:
        result: CycleResult = sync_once(box, meter=meter, last_resort=True)
        cycles += 1
        if result.done:
            return timer.perf_counter() - started, cycles
        if result.refused or timer.perf_counter() - started > deadline_s:
            raise RuntimeError(f"sync did not finish after {cycles} cycles: {result.summary()}")
        if not result.online:
            timer.sleep(0.1)


# -- 1. goodput ------------------------------------------------------------------------------------------


def goodput_profile(profile: Profile, size: int, sizes: Sizes, seed: int) -> dict[str, Any]:
    """Our push of `size` bytes of dossiers vs one plain POST of as many bytes, through the same link."""
    with tempfile.TemporaryDirectory(prefix="motcua-bench-sync-") as tmp:
        root = Path(tmp)
        with hub_served(root) as (hub_data, hub_port), LinkProxy(hub_port) as proxy:
            settings = new_box(root, "00001", hub_data, f"http://127.0.0.1:{proxy.port}")
            scans = plan_scans(random.Random(seed), size, sizes.small_scan, sizes.big_scan)
            filled = fill(settings, scans, seed)
            log(
                f"goodput {profile.describe()}: {filled.payload:,} bytes ({filled.scans} scans, {filled.events} events)"
            )
            baseline_s, baseline_link = plain_upload(profile, filled.payload)
            log(f"  baseline: one POST in {baseline_s:.2f} s")
            proxy.shape(profile)
            before = proxy.stats()
            box = open_box(settings.data_dir)
            try:
                push_s, cycles = sync_until_done(box, deadline_s=max(120.0, 20 * baseline_s))
            finally:
                box.close()
            after = proxy.stats()
            log(f"  sync_once: {push_s:.2f} s in {cycles} cycle(s)")
    ratio = baseline_s / push_s
    return {
        "profile": profile.name,
        "bandwidth_bps": profile.bps,
        "latency_ms": profile.latency_s * 1000,
        "dossiers": filled.dossiers,
        "scans": filled.scans,
        "scan_bytes": filled.scan_bytes,
        "events": filled.events,
        "event_bytes": filled.event_bytes,
        "payload_bytes": filled.payload,
        "link_s": round(filled.payload * 8 / profile.bps, 3),
        "baseline_s": round(baseline_s, 3),
        "push_s": round(push_s, 3),
        "cycles": cycles,
        "ratio": round(ratio, 3),
        "baseline_bytes_up": baseline_link.bytes_up,
        "push_bytes_up": after.bytes_up - before.bytes_up,
        "push_bytes_down": after.bytes_down - before.bytes_down,
        "push_connections": after.connections - before.connections,
        "ok": ratio >= TARGET_GOODPUT,
    }


def goodput(sizes: Sizes, seed: int) -> dict[str, Any]:
    """Both link profiles."""
    profiles = {p.name: goodput_profile(p, sizes.goodput[p.name], sizes, seed) for p in (SLOW, FAST)}
    return {
        "profiles": profiles,
        "target": {"ratio_min": TARGET_GOODPUT},
        "ok": all(p["ok"] for p in profiles.values()),
    }


# -- 2. resume waste -------------------------------------------------------------------------------------


def resume(sizes: Sizes, seed: int) -> dict[str, Any]:
    """One big scan, the link reset once part-way: what was sent twice."""
    profile = FAST
    with tempfile.TemporaryDirectory(prefix="motcua-bench-sync-") as tmp:
        root = Path(tmp)
        with hub_served(root) as (hub_data, hub_port), LinkProxy(hub_port, profile) as proxy:
            url = f"http://127.0.0.1:{proxy.port}"
            figures: dict[str, Any] = {}
            for label, commune, reset in (("clean", "00001", False), ("reset", "00002", True)):
                settings = new_box(root, commune, hub_data, url)
                fill(settings, [sizes.resume_scan], seed + (1 if reset else 0))  # not the same scan: no dedup
                meter = BlobMeter()
                before = proxy.stats()
                if reset:
                    proxy.reset_once_after(sizes.resume_reset_after)
                box = open_box(settings.data_dir)
                try:
                    seconds, cycles = sync_until_done(box, deadline_s=300.0, meter=meter)
                finally:
                    box.close()
                after = proxy.stats()
                figures[label] = {
                    "seconds": round(seconds, 3),
                    "cycles": cycles,
                    "scan_bytes_sent": meter.sent,
                    "scan_bytes_resent": meter.resent,
                    "bytes_up": after.bytes_up - before.bytes_up,
                    "resets": after.resets - before.resets,
                }
                log(f"resume {label}: {figures[label]}")
    reset_run = figures["reset"]
    waste = reset_run["scan_bytes_sent"] - sizes.resume_scan
    return {
        "profile": profile.name,
        "scan_bytes": sizes.resume_scan,
        "reset_after_bytes_up": sizes.resume_reset_after,
        "clean": figures["clean"],
        "reset": reset_run,
        "waste_bytes": waste,
        "link_waste_bytes": reset_run["bytes_up"] - figures["clean"]["bytes_up"],
        "target": {"waste_max_bytes": TARGET_WASTE},
        # A run where the link never reset measured nothing.
        "ok": reset_run["resets"] == 1 and waste <= TARGET_WASTE,
    }


# -- 3. reconnect ----------------------------------------------------------------------------------------


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll check() every 0.1 s until it holds; raise after timeout_s."""
    end = timer.monotonic() + timeout_s
    while not check():
        if timer.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        timer.sleep(0.1)


def reconnect(sizes: Sizes, seed: int) -> dict[str, Any]:
    """A sync-worker process; the link goes down while dossiers are received; time to the first byte up after."""
    stream = bodies(seed)
    seconds: list[float] = []
    with tempfile.TemporaryDirectory(prefix="motcua-bench-sync-") as tmp:
        root = Path(tmp)
        with hub_served(root) as (hub_data, hub_port), LinkProxy(hub_port, FAST) as proxy:
            settings = new_box(root, "00001", hub_data, f"http://127.0.0.1:{proxy.port}")
            box = open_box(settings.data_dir)
            officer = get_user(box.db(), "canbo")

            def drained() -> bool:
                return outbox.status(box.db()).events == 0

            with open(root / "worker.log", "w", encoding="utf-8") as out:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "edge.cli", "sync-worker", "--data", str(settings.data_dir)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            try:
                intake.receive_dossier(box, officer, next(stream), "bench")
                wait_for(drained, 60, "the worker's first push")
                for n in range(sizes.repeats):
                    proxy.down()
                    started = timer.monotonic()
                    for at in (0.2, 0.5, 0.9):  # dossiers received while the link is down
                        timer.sleep(max(0.0, started + at * sizes.down_s - timer.monotonic()))
                        intake.receive_dossier(box, officer, next(stream), "bench")
                    timer.sleep(max(0.0, started + sizes.down_s - timer.monotonic()))
                    base = proxy.stats().bytes_up
                    t0 = timer.monotonic()
                    proxy.up()
                    while proxy.stats().bytes_up == base:
                        if timer.monotonic() - t0 > 120:
                            raise RuntimeError("no byte went up within 120 s of the link's return")
                        timer.sleep(0.01)
                    seconds.append(timer.monotonic() - t0)
                    log(f"reconnect {n + 1}/{sizes.repeats}: first byte up {seconds[-1]:.2f} s after the link returned")
                    wait_for(drained, 60, "the worker to push what was received offline")
            finally:
                stop_process(worker)
                box.close()
    worst = max(seconds)
    return {
        "profile": FAST.name,
        "down_s": sizes.down_s,
        "repeats": sizes.repeats,
        "seconds": [round(s, 3) for s in seconds],
        "max_s": round(worst, 3),
        "median_s": round(statistics.median(seconds), 3),
        "target": {"max_s": TARGET_RECONNECT_S},
        "ok": worst <= TARGET_RECONNECT_S,
    }


# -- 4. ingest -------------------------------------------------------------------------------------------


def ingest(sizes: Sizes, seed: int) -> dict[str, Any]:
    """bench.sync_ingest's comparison (PostgreSQL at 127.0.0.1:5432)."""
    from bench.sync_ingest import TARGET_EPS, TARGET_RATIO, measure_ingest

    log(
        f"ingest: {sizes.ingest_boxes} boxes x {sizes.ingest_events} events, 2 hub processes,"
        f" {sizes.ingest_rounds} rounds"
    )
    figures = measure_ingest(sizes.ingest_boxes, sizes.ingest_events, hubs=2, seed=seed, rounds=sizes.ingest_rounds)
    return {**figures, "target": {"ratio_min": TARGET_RATIO, "events_per_s_min": TARGET_EPS}}


# -- the command -----------------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def table(result: dict[str, Any]) -> str:
    """The human report."""
    lines = [f"Sync bench ({'quick' if result['quick'] else 'full'} sizes), {result['wall_seconds']} s"]
    if "goodput" in result:
        part = result["goodput"]
        lines += ["", f"1. goodput (target ratio >= {part['target']['ratio_min']})"]
        lines.append(
            f"  {'link':<18} {'payload':>11} {'scans':>5} {'events':>6} {'link s':>7} {'plain POST s':>12}"
            f" {'sync s':>7} {'ratio':>6} {'bytes up':>11} {'conns':>5}"
        )
        for p in part["profiles"].values():
            link = Profile(p["profile"], p["bandwidth_bps"], p["latency_ms"] / 1000).describe()
            lines.append(
                f"  {link:<18} {p['payload_bytes']:>11,} {p['scans']:>5} {p['events']:>6} {p['link_s']:>7.1f}"
                f" {p['baseline_s']:>12.2f} {p['push_s']:>7.2f} {p['ratio']:>6.3f} {p['push_bytes_up']:>11,}"
                f" {p['push_connections']:>5}  {_mark(p['ok'])}"
            )
    if "resume" in result:
        part = result["resume"]
        lines += ["", f"2. resume waste (target <= {part['target']['waste_max_bytes']:,} bytes)"]
        lines.append(
            f"  one scan of {part['scan_bytes']:,} bytes, link reset once after {part['reset_after_bytes_up']:,}"
            f" bytes up (resets seen: {part['reset']['resets']})"
        )
        lines.append(
            f"  scan bytes sent {part['reset']['scan_bytes_sent']:,}, waste {part['waste_bytes']:,} bytes"
            f" (link: {part['link_waste_bytes']:,} more bytes up than the same scan without a reset)"
            f"  {_mark(part['ok'])}"
        )
    if "reconnect" in result:
        part = result["reconnect"]
        lines += ["", f"3. reconnect (target <= {part['target']['max_s']} s)"]
        lines.append(
            f"  link down {part['down_s']} s, {part['repeats']} times: first byte up after"
            f" {', '.join(f'{s:.2f}' for s in part['seconds'])} s; max {part['max_s']:.2f} s,"
            f" median {part['median_s']:.2f} s  {_mark(part['ok'])}"
        )
    if "ingest" in result:
        part = result["ingest"]
        target = part["target"]
        lines += ["", f"4. ingest (targets ratio >= {target['ratio_min']}, >= {target['events_per_s_min']:,.0f} ev/s)"]
        lines.append(
            f"  {part['boxes']} boxes, {part['events']:,} events a round, {part['hub_processes']} hub processes,"
            f" medians of {part['rounds']} rounds: API {part['api_events_per_s']:,} ev/s ({part['api_s']} s),"
            f" raw {part['raw_events_per_s']:,} ev/s ({part['raw_s']} s), ratio {part['ratio']}"
            f" (rounds {', '.join(map(str, part['round_ratios']))})  {_mark(part['ok'])}"
        )
    lines += ["", f"All targets met: {result['ok']}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen parts and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="small sizes (the smoke test)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON only")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    runs: dict[str, Callable[[Sizes, int], dict[str, Any]]] = {
        "goodput": goodput,
        "resume": resume,
        "reconnect": reconnect,
        "ingest": ingest,
    }
    started = timer.perf_counter()
    result: dict[str, Any] = {"quick": args.quick}
    for name in PARTS if args.part == "all" else (args.part,):
        result[name] = runs[name](sizes, args.seed)
    result["wall_seconds"] = round(timer.perf_counter() - started, 1)
    result["ok"] = all(result[name]["ok"] for name in PARTS if name in result)
    print(json.dumps(result, ensure_ascii=False, indent=1) if args.json else table(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
