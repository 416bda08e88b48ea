"""The queue under load: tickets per second with 4 kiosks and 6 counters at once, and call → display latency.

    .venv/bin/python bench/queue_bench.py [--tickets 400] [--json]

(Not bench/queue.py, as the issue names it: a file called queue.py in bench/ would shadow the
standard library's `queue` for every script run from bench/, since Python puts the script's folder
first on sys.path.)

A real `motcua serve` on a fresh box: 4 kiosk threads take numbers through `POST /api/v1/queue/tickets`
while 6 counter threads call them through `POST /api/v1/counters/{n}/call-next`, and one display reads
`GET /api/v1/queue/events`. Figures:
- tickets/s through the API, and the ratio to the baseline measured in the same run: the same number
  of tickets taken in-process by edge.queue.issue_ticket on a box file of its own (what the HTTP layer,
  auth and the web server cost);
- the latency from a counter's call-next request being sent to the display receiving that call:
  median and p95 (target: p95 under 200 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from edge import queue
from edge.box import init_box, open_box
from edge.users import add_user, create_token

ROOT = Path(__file__).resolve().parents[1]
KIOSKS, COUNTERS = 4, 6
TARGET_P95_MS = 200.0
SERVICES = ("HT", "CT", "DD", "KH")


def _box(root: Path) -> tuple[Path, str]:
    settings = init_box(root, "00001", "000.17.22.H56", "UBND xã Đo Tải")
    box = open_box(settings.data_dir)
    db = box.db()
    add_user(db, "canbo", "officer", "matkhau-bench", "Cán bộ")
    db.conn.executemany(
        "INSERT INTO queue_counters (number, name) VALUES (?, ?)", [(n, f"Quầy số {n}") for n in (4, 5, 6)]
    )
    token = create_token(db, "canbo")
    box.close()
    return settings.data_dir, token


def baseline(tickets: int) -> float:
    """Seconds to take the tickets in-process (one thread, the same transaction per ticket)."""
    with tempfile.TemporaryDirectory(prefix="motcua-bench-queue-base-") as tmp:
        data, _ = _box(Path(tmp) / "box")
        box = open_box(data)
        started = time.perf_counter()
        for i in range(tickets):
            queue.issue_ticket(box.db(), SERVICES[i % len(SERVICES)], box.now())
        elapsed = time.perf_counter() - started
        box.close()
    return elapsed


def _display(url: str, headers: dict[str, str], arrivals: dict[str, float], stop: threading.Event) -> None:
    with requests.get(f"{url}/api/v1/queue/events", headers=headers, stream=True, timeout=60) as resp:
        name = ""
        for line in resp.iter_lines(decode_unicode=True):
            if stop.is_set():
                return
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name == "call":
                call = json.loads(line[6:])
                arrivals[f"{call['number']}@{call['counter']}"] = time.perf_counter()


def measure(tickets: int = 400) -> dict[str, Any]:
    """Run the load and return the figures."""
    base_s = baseline(tickets)
    with tempfile.TemporaryDirectory(prefix="motcua-bench-queue-") as tmp:
        data, token = _box(Path(tmp) / "box")
        process = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "serve", "--data", str(data), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            url = line[line.index("http://") :].split()[0].rstrip("/")
            headers = {"Authorization": f"Bearer {token}"}
            arrivals: dict[str, float] = {}
            stop = threading.Event()
            display = threading.Thread(target=_display, args=(url, headers, arrivals, stop), daemon=True)
            display.start()
            time.sleep(0.5)  # the display is connected before the first call
            sent: dict[str, float] = {}
            issued: list[str] = []
            lock = threading.Lock()
            done_issuing = threading.Event()

            def kiosk(k: int) -> None:
                session = requests.Session()
                for i in range(k, tickets, KIOSKS):
                    resp = session.post(f"{url}/api/v1/queue/tickets", json={"service": SERVICES[i % 4]},
                                        headers=headers, timeout=30)  # fmt: skip
                    resp.raise_for_status()
                    with lock:
                        issued.append(resp.json()["number"])

            def counter(n: int) -> None:
                session = requests.Session()
                while True:
                    before = time.perf_counter()
                    resp = session.post(f"{url}/api/v1/counters/{n}/call-next", headers=headers, timeout=30)
                    if resp.status_code == 204:
                        if done_issuing.is_set():
                            return
                        time.sleep(0.01)
                        continue
                    resp.raise_for_status()
                    with lock:
                        sent[f"{resp.json()['number']}@{n}"] = before

            started = time.perf_counter()
            kiosks = [threading.Thread(target=kiosk, args=(k,)) for k in range(KIOSKS)]
            counters = [threading.Thread(target=counter, args=(n,)) for n in range(1, COUNTERS + 1)]
            for t in kiosks + counters:
                t.start()
            for t in kiosks:
                t.join()
            api_s = time.perf_counter() - started
            done_issuing.set()
            for t in counters:
                t.join()
            deadline = time.monotonic() + 10
            while len(arrivals) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()
        finally:
            process.terminate()
            process.wait(timeout=30)
    latencies = sorted((arrivals[k] - sent[k]) * 1000 for k in sent if k in arrivals)
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("inf")
    return {
        "tickets": tickets,
        "kiosks": KIOSKS,
        "counters": COUNTERS,
        "issued": len(issued),
        "unique_numbers": len(set(issued)),
        "called": len(sent),
        "api_s": round(api_s, 2),
        "api_tickets_per_s": round(tickets / api_s, 1),
        "baseline_s": round(base_s, 2),
        "baseline_tickets_per_s": round(tickets / base_s, 1),
        "ratio": round(base_s / api_s, 3),
        "latency_median_ms": round(statistics.median(latencies), 1) if latencies else None,
        "latency_p95_ms": round(p95, 1),
        "display_received": len(latencies),
        "ok": p95 < TARGET_P95_MS and len(set(issued)) == tickets and len(latencies) == len(sent) == tickets,
    }


def main(argv: list[str] | None = None) -> int:
    """Run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.tickets)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"Queue bench: {result['tickets']} tickets, {KIOSKS} kiosks and {COUNTERS} counters at once")
    print(f"  API: {result['api_tickets_per_s']} tickets/s ({result['api_s']} s); in-process baseline: "
          f"{result['baseline_tickets_per_s']} tickets/s; ratio API/baseline {result['ratio']}")  # fmt: skip
    print(f"  numbers issued {result['issued']}, unique {result['unique_numbers']}, called {result['called']},"
          f" seen by the display {result['display_received']}")  # fmt: skip
    mark = "OK" if result["ok"] else "MISSED"
    print(f"  call-next → display: median {result['latency_median_ms']} ms, p95 {result['latency_p95_ms']} ms"
          f" (target p95 < {TARGET_P95_MS:.0f} ms)  {mark}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
