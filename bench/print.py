"""Printing bench: bytes on the wire and seconds at serial speeds, efficient encoding vs the naive raster.

For a queue ticket and a dossier receipt on 80 mm (generic-80: native QR) and 58 mm (generic-58:
raster QR) paper it prints:

- bytes on the wire of the efficient encoding (blank rows fed with ESC J, inked bands sent as only
  the byte columns they need: cut at the last inked byte, or centred / right-aligned with ESC a on
  profiles whose firmware documents ESC a for raster images; native QR where the profile has one)
  and of the naive one (the whole page as one raster);
- seconds "computed": bytes x 10 bits (8N1) / baud, what a real serial printer needs;
- seconds "pty": measured by writing through a real pseudo-terminal at that baud setting into the
  printer simulator until the page is cut. Ptys do not throttle to the baud rate, so these are
  much smaller: they show the cost of encoding plus the link, not of the wire;
- whether the efficient page prints pixel-identical text rows to the naive page in the simulator,
  and whether the QR code carries the same payload (native QR: the simulator reports the payload;
  raster QR: the image is compared with the naive page's).

Targets (at 115200 baud, computed from bytes): ticket < 1 s, dossier receipt < 3 s, and at least
2x fewer bytes than the naive raster. Run: `.venv/bin/python bench/print.py [--quick] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/print.py`: make our packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import serial  # type: ignore[import-untyped]  # pyserial ships no type hints

from devices.printer.encode import block_image, encode_document, encode_naive, qr_image
from devices.printer.layout import QR, Cut, Document, DossierReceipt, Feed, TextRow, Ticket, layout_document
from devices.printer.profiles import PrinterProfile, get_profile
from devices.printer.simulator import PrintedPage, PrinterSimulator, decode_escpos
from devices.simio import PtyServer

BAUDS = (115200, 38400)
TARGET_SECONDS = {"ticket": 1.0, "receipt": 3.0}
TARGET_RATIO = 2.0
DOCS: dict[str, Document] = {
    "ticket": Ticket("UBND xã Tân Phú — Bộ phận một cửa", "A012", "Hộ tịch, chứng thực", "15/03/2026 08:05", 3),
    "receipt": DossierReceipt(
        "UBND xã Tân Phú — Bộ phận một cửa",
        "H01.02-260315-0001",
        "Đăng ký khai sinh cho trẻ em có yếu tố nước ngoài",
        "Nguyễn Thị Ánh Tuyết",
        "15/03/2026 08:15",
        "20/03/2026 16:30",
    ),
}


@dataclass
class Row:
    """Figures for one document on one paper width."""

    doc: str
    profile: str
    width_dots: int
    bytes_efficient: int
    bytes_naive: int
    ratio: float
    computed_s: dict[str, float]  # baud -> seconds from bytes at 10 bits a byte (efficient)
    computed_naive_s: dict[str, float]
    pty_s: dict[str, float]  # baud -> seconds measured through a pty (median)
    text_rows: int
    text_identical: bool
    qr: str  # "native", "raster" or "none"
    qr_ok: bool


def computed_seconds(size: int, baud: int) -> float:
    """Seconds a serial line at baud needs for size bytes (8N1: 10 bits a byte)."""
    return size * 10 / baud


def print_through_pty(data: bytes, width: int, baud: int) -> tuple[float, PrintedPage]:
    """Write data through a real pty at baud into the simulator; return seconds until the cut and the page."""
    sim = PrinterSimulator(width_dots=width)
    with PtyServer(sim) as server:
        port = serial.Serial(server.path, baudrate=baud, timeout=2, write_timeout=10, rtscts=False, dsrdtr=False)
        try:
            started = time.perf_counter()
            port.write(data)
            deadline = started + 30
            while not sim.pages and time.perf_counter() < deadline:
                time.sleep(0.001)
            elapsed = time.perf_counter() - started
        finally:
            port.close()
    if not sim.pages:
        raise RuntimeError(f"the simulator printed nothing within 30 s ({len(data)} bytes at {baud} baud)")
    return elapsed, sim.pages[0]


def bands(doc: Document, profile: PrinterProfile) -> list[tuple[str, int, int]]:
    """Return (kind, top, bottom) of every text row and QR in the naive page, top to bottom."""
    out: list[tuple[str, int, int]] = []
    y = 0
    for block in layout_document(doc, profile.width_dots):
        if isinstance(block, Cut):
            break
        image = block_image(block, profile.width_dots)
        height = 0 if image is None else image.height
        if isinstance(block, TextRow | QR):
            out.append(("qr" if isinstance(block, QR) else "text", y, y + height))
        elif not isinstance(block, Feed):
            out.append(("rule", y, y + height))
        y += height
    return out


def compare(
    doc: Document, profile: PrinterProfile, efficient: PrintedPage, naive: PrintedPage
) -> tuple[int, bool, str, bool]:
    """Compare the two printed pages band by band: (text rows, text identical, QR kind, QR ok)."""
    width = profile.width_dots
    qr_blocks = [b for b in layout_document(doc, width) if isinstance(b, QR)]
    shift = efficient.image.height - naive.image.height  # a native QR may differ in height from ours
    text_rows, identical, seen_qr = 0, True, False
    qr_ok = True
    for kind, top, bottom in bands(doc, profile):
        offset = shift if seen_qr else 0
        mine = efficient.image.crop((0, top + offset, width, bottom + offset)).tobytes()
        theirs = naive.image.crop((0, top, width, bottom)).tobytes()
        if kind == "qr":
            seen_qr = True
            if not profile.native_qr:
                qr_ok = qr_ok and mine == theirs
            continue
        text_rows += kind == "text"
        identical = identical and mine == theirs
    if not qr_blocks:
        return text_rows, identical, "none", qr_ok
    payloads = [b.payload for b in qr_blocks]
    if profile.native_qr:
        return text_rows, identical, "native", efficient.qr == payloads
    expected = qr_image(qr_blocks[0].payload, qr_blocks[0].module, width).tobytes()
    in_naive = any(
        naive.image.crop((0, top, width, bottom)).tobytes() == expected
        for kind, top, bottom in bands(doc, profile)
        if kind == "qr"
    )
    return text_rows, identical, "raster", qr_ok and in_naive


def measure(name: str, doc: Document, profile: PrinterProfile, repeats: int) -> Row:
    """Encode one document both ways, print it through ptys, compare the pages."""
    efficient = encode_document(doc, profile)
    naive = encode_naive(doc, profile)
    pty_s: dict[str, float] = {}
    page: PrintedPage | None = None
    for baud in BAUDS:
        times = []
        for _ in range(repeats):
            elapsed, page = print_through_pty(efficient, profile.width_dots, baud)
            times.append(elapsed)
        pty_s[str(baud)] = round(statistics.median(times), 4)
    assert page is not None
    naive_page = decode_escpos(naive, profile.width_dots)[0]
    text_rows, identical, qr_kind, qr_ok = compare(doc, profile, page, naive_page)
    return Row(
        doc=name,
        profile=profile.name,
        width_dots=profile.width_dots,
        bytes_efficient=len(efficient),
        bytes_naive=len(naive),
        ratio=round(len(naive) / len(efficient), 3),
        computed_s={str(b): round(computed_seconds(len(efficient), b), 4) for b in BAUDS},
        computed_naive_s={str(b): round(computed_seconds(len(naive), b), 4) for b in BAUDS},
        pty_s=pty_s,
        text_rows=text_rows,
        text_identical=identical,
        qr=qr_kind,
        qr_ok=qr_ok,
    )


def targets(rows: list[Row]) -> list[dict[str, Any]]:
    """Check each row against the targets."""
    out = []
    for row in rows:
        label = f"{row.doc} {row.profile}"
        seconds = row.computed_s["115200"]
        limit = TARGET_SECONDS[row.doc]
        out += [
            {"target": f"{label}: < {limit:g} s at 115200 (computed)", "value": seconds, "ok": seconds < limit},
            {"target": f"{label}: naive/efficient >= {TARGET_RATIO:g}", "value": row.ratio, "ok": row.ratio >= 2},
            {"target": f"{label}: text rows pixel-identical", "value": row.text_identical, "ok": row.text_identical},
            {"target": f"{label}: QR ({row.qr}) same payload", "value": row.qr_ok, "ok": row.qr_ok},
        ]
    return out


def run(quick: bool) -> dict[str, Any]:
    """Measure every document on every width; return the figures and the verdicts."""
    repeats = 1 if quick else 5
    rows = [
        measure(name, doc, get_profile(profile), repeats)
        for profile in ("generic-80", "generic-58")
        for name, doc in DOCS.items()
    ]
    checks = targets(rows)
    return {
        "quick": quick,
        "bauds": list(BAUDS),
        "rows": [asdict(row) for row in rows],
        "targets": checks,
        "ok": all(check["ok"] for check in checks),
    }


def report(result: dict[str, Any]) -> str:
    """Format the figures as a small table and the targets as OK/MISSED lines."""
    lines = [
        "doc      profile     bytes eff  bytes naive  ratio  s@115200 comp (naive)  s@38400 comp (naive)"
        "  s@115200 pty  s@38400 pty  text  QR",
    ]
    for row in result["rows"]:
        comp, naive, pty_s = row["computed_s"], row["computed_naive_s"], row["pty_s"]
        lines.append(
            f"{row['doc']:<8} {row['profile']:<11} {row['bytes_efficient']:>9} {row['bytes_naive']:>12} "
            f"{row['ratio']:>6.2f} {comp['115200']:>8.3f} ({naive['115200']:>6.3f})     "
            f"{comp['38400']:>7.3f} ({naive['38400']:>6.3f})     {pty_s['115200']:>8.4f}  {pty_s['38400']:>11.4f}"
            f"  {'same' if row['text_identical'] else 'DIFF':<4}  {row['qr']}:{'ok' if row['qr_ok'] else 'BAD'}"
        )
    lines.append("comp = bytes x 10 bits / baud (a real serial printer); pty = measured through a pseudo-terminal,")
    lines.append("which does not throttle to the baud rate (encoding and link cost only).")
    for check in result["targets"]:
        lines.append(f"{'OK    ' if check['ok'] else 'MISSED'} {check['target']} ({check['value']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the bench; print a table (or JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one pty run per figure instead of five")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = run(args.quick)
    print(json.dumps(result, indent=2, ensure_ascii=False) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
