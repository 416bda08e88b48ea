"""Do the officer's dossier list and search pages stay fast and flat as the box fills up?

Times the web UI's dossier list (`GET /dossiers`, with a few filters) and its search
(`GET /dossiers?q=...`) as a signed-in officer (a cookie session: GET /login, the form's
csrf_token, POST /login) against two real `motcua serve` processes, a small box (1,000 dossiers)
and a large one (1,000,000), in the same run and alternating between the two so machine noise
hits both. Prints p50/p95/p99 per box and the ratio large/small.

Like for like, as bench/intake.py: a page of 50 rows costs more to find and render than a page of
1 at any box size, so the verdict only uses list filters and searches that return the same number
of rows in both boxes (list: no filter, a status, a procedure, an officer, the second page;
search: the selective and broad groups of bench/searches.py). Filters that return a few rows in
the small box and a full page in the large one (overdue, due soon, the last 30 days) and
full-name searches are printed apart, not judged.

Targets: ratio large/small under 1.5 for p50 and p95, and p95 under 100 ms (2-core box).

The boxes come from bench/generate.py: the small one fresh in a scratch folder, the large one
from the cache under bench/out/ (`box-v<GEN_VERSION>-<N>-s<seed+1>`, shared with bench/intake.py;
generated only when missing, never rebuilt here). The bench only reads: the large box gains one
audit line per run (the sign-in). See bench/README.md.

Run: .venv/bin/python bench/ui.py [--small N] [--large N] [--requests N] [--warmup N] [--json]
                                  [--out DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time as timer
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

if __package__ in (None, ""):  # run as `python bench/ui.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from bench.generate import GEN_VERSION, PASSWORD, Prepared, prepare
from bench.measure import TARGET_RATIO, box_size_parser, parse_box_sizes, prewarm, serve, stop
from bench.measure import compare as measure_compare
from bench.report import ITEMS_TOLERANCE, items_differ
from bench.searches import GROUP_TITLES, GROUPS, KIND_TITLES, VERDICT_GROUPS, Picked, pick
from edge.calendar import TZ

TARGET_P95_MS = 100.0
USER = "canbo"  # an officer: sees every dossier, as the counter does
PAGE_SIZE = 50


@dataclass(frozen=True)
class ListKind:
    """One filter of the dossier list: its query string (the second page is found at run time)."""

    name: str
    title: str
    params: Mapping[str, str]
    in_verdict: bool


def list_kinds(today: datetime) -> tuple[ListKind, ...]:
    """Return the list filters measured: the first five fill a page in both boxes, the rest do not."""
    month_ago = (today - timedelta(days=30)).date().isoformat()
    return (
        ListKind("all", "no filter, newest first", {}, True),
        ListKind("status", "status: done", {"status": "done"}, True),
        ListKind("procedure", "procedure 1.001193 (birth)", {"procedure": "1.001193"}, True),
        ListKind("assignee", "officer canbo2", {"assignee": "canbo2"}, True),
        ListKind("page2", "no filter, page 2 (cursor)", {}, True),
        ListKind("overdue", "overdue only", {"overdue": "true"}, False),
        ListKind("due_soon", "due in 2 days", {"due": "soon"}, False),
        ListKind("received", "received in the last 30 days", {"received_from": month_ago}, False),
    )


_ROW = re.compile(r"<tr\b[^>]*\sdata-code=\"")
_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_LINK = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"([a-zA-Z_:-]+)\s*=\s*\"([^\"]*)\"")


def _attrs(tag: str) -> dict[str, str]:
    return {k.lower(): html.unescape(v) for k, v in _ATTR.findall(tag)}


def csrf_token(page: str) -> str:
    """Return the value of the page's hidden csrf_token input."""
    for tag in _INPUT.findall(page):
        attrs = _attrs(tag)
        if attrs.get("name") == "csrf_token" and attrs.get("value"):
            return attrs["value"]
    raise RuntimeError("no csrf_token input on the login page")


def next_page(page: str) -> dict[str, str]:
    """Return the query of the list page's "next page" link (rel="next")."""
    for tag in _LINK.findall(page):
        attrs = _attrs(tag)
        if "next" in attrs.get("rel", "").split() and attrs.get("href"):
            return dict(parse_qsl(urlsplit(attrs["href"]).query))
    raise RuntimeError("the dossier list has no next-page link: is the box smaller than one page?")


def rows(page: str) -> int:
    """Return how many dossiers a list page shows (its rows carry data-code)."""
    return len(_ROW.findall(page))


def login(url: str, username: str, password: str) -> requests.Session:
    """Sign in through the login form, as a browser does, and return the session."""
    session = requests.Session()
    form = session.get(f"{url}/login", timeout=60)
    form.raise_for_status()
    data = {"csrf_token": csrf_token(form.text), "username": username, "password": password}
    answer = session.post(f"{url}/login", data=data, allow_redirects=False, timeout=60)
    if answer.status_code != 302 or "/login" in answer.headers.get("Location", ""):
        raise RuntimeError(f"sign-in as {username} failed: {answer.status_code} {answer.text[:200]}")
    check = session.get(f"{url}/dossiers", allow_redirects=False, timeout=60)
    if check.status_code != 200:
        raise RuntimeError(f"GET /dossiers after sign-in -> {check.status_code}")
    return session


@dataclass
class Served:
    """A running `motcua serve` process, a signed-in session to it and what it measured."""

    prepared: Prepared
    process: subprocess.Popen[str]
    url: str
    session: requests.Session
    picked: Picked
    params: dict[str, dict[str, str]] = field(default_factory=dict)  # list kind -> query string
    ms: dict[str, list[float]] = field(default_factory=dict)
    items: dict[str, list[int]] = field(default_factory=dict)

    def get(self, params: Mapping[str, str]) -> tuple[float, int]:
        """GET /dossiers with the query; return the milliseconds and the rows shown."""
        start = timer.perf_counter()
        resp = self.session.get(f"{self.url}/dossiers", params=params, allow_redirects=False, timeout=60)
        elapsed = (timer.perf_counter() - start) * 1000
        if resp.status_code != 200:
            raise RuntimeError(f"GET {resp.url} -> {resp.status_code}: {resp.text[:300]}")
        return elapsed, rows(resp.text)

    def record(self, kind: str, ms: float, items: int) -> None:
        self.ms.setdefault(kind, []).append(ms)
        self.items.setdefault(kind, []).append(items)


def run(boxes: Sequence[Served], kinds: Sequence[ListKind], rounds: int, warmup: int) -> None:
    """Each round: every list filter, then one search per group, to each box; the order flips every round."""
    visits = [dict.fromkeys(KIND_TITLES, 0) for _ in boxes]
    for round_no in range(warmup + rounds):
        keep = round_no >= warmup
        order = list(enumerate(boxes)) if round_no % 2 == 0 else list(reversed(list(enumerate(boxes))))
        for kind in kinds:
            for _, served in order:
                ms, items = served.get(served.params[kind.name])
                if keep:
                    served.record(f"list:{kind.name}", ms, items)
        for group_kinds in GROUPS.values():
            kind_name = group_kinds[round_no % len(group_kinds)]
            for i, served in order:
                choices = served.picked.queries[kind_name]
                q = choices[visits[i][kind_name] % len(choices)]
                visits[i][kind_name] += 1
                ms, items = served.get({"q": q})
                if keep:
                    served.record(f"search:{kind_name}", ms, items)


# --- figures ---------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 1) if values else 0.0


def compare(small: Sequence[float], large: Sequence[float]) -> dict[str, Any]:
    """Return both boxes' figures, the ratios large/small and whether the UI targets are met."""
    return measure_compare(small, large, p95_target=TARGET_P95_MS)


def part(boxes: Sequence[Served], keys: Sequence[str]) -> dict[str, Any]:
    """Return the figures of some measured kinds taken together, with the average rows per page."""
    s, g = boxes
    out = compare([ms for k in keys for ms in s.ms[k]], [ms for k in keys for ms in g.ms[k]])
    out["items_small"] = _mean([n for k in keys for n in s.items[k]])
    out["items_large"] = _mean([n for k in keys for n in g.items[k]])
    out["items_differ"] = items_differ(out["items_small"], out["items_large"])
    return out


def summarise(boxes: Sequence[Served], kinds: Sequence[ListKind]) -> dict[str, Any]:
    """Return the list and search figures, their like-for-like verdicts and the warnings."""
    warnings: list[str] = []

    def check(name: str, figures: dict[str, Any]) -> None:
        if figures["items_differ"]:
            warnings.append(
                f"{name}: {figures['items_small']} rows per page in the small box, {figures['items_large']} in the"
                f" large one (more than {ITEMS_TOLERANCE:.0%} apart): not like-for-like"
            )

    list_parts: dict[str, Any] = {}
    for kind in kinds:
        figures = part(boxes, [f"list:{kind.name}"])
        figures.update(
            title=kind.title,
            params_small=boxes[0].params[kind.name],
            params_large=boxes[1].params[kind.name],
            in_verdict=kind.in_verdict,
        )
        if kind.in_verdict:
            check(f"list {kind.name}", figures)
        list_parts[kind.name] = figures
    list_verdict = part(boxes, [f"list:{k.name}" for k in kinds if k.in_verdict])
    list_verdict["kinds"] = [k.name for k in kinds if k.in_verdict]
    list_verdict["kinds_over_target"] = [k for k in list_verdict["kinds"] if not list_parts[k]["flat"]]

    groups: dict[str, Any] = {}
    for group, group_kinds in GROUPS.items():
        figures = part(boxes, [f"search:{k}" for k in group_kinds])
        figures.update(title=GROUP_TITLES[group], in_verdict=group in VERDICT_GROUPS, kinds={})
        for search_kind in group_kinds:
            one = part(boxes, [f"search:{search_kind}"])
            one.update(title=KIND_TITLES[search_kind], examples=boxes[0].picked.queries[search_kind][:2])
            figures["kinds"][search_kind] = one
            if figures["in_verdict"]:
                check(f"search {search_kind}", one)
        if figures["in_verdict"]:
            check(f"search {group}", figures)
        groups[group] = figures
    like = [f"search:{k}" for group in VERDICT_GROUPS for k in GROUPS[group]]
    search_verdict = part(boxes, like)
    search_verdict["groups"] = list(VERDICT_GROUPS)
    search_verdict["ok"] = search_verdict["ok"] and all(groups[g]["ok"] for g in VERDICT_GROUPS)
    search_verdict["kinds_over_target"] = [
        k for g in VERDICT_GROUPS for k, f in groups[g]["kinds"].items() if not f["flat"]
    ]
    return {
        "list": list_verdict,
        "list_kinds": list_parts,
        "search": search_verdict,
        "search_groups": groups,
        "warnings": warnings,
        "like_for_like": not warnings,
    }


# --- the printed report ----------------------------------------------------------------------

_HEAD = f"{'':46}{'---- small box ----':>22}   {'---- large box ----':>22}   {'large/small':>13}"
_COLS = f"{'':46}{'p50':>8}{'p95':>8}{'rows':>6}   {'p50':>8}{'p95':>8}{'rows':>6}   {'p50':>6}{'p95':>7}"


def _line(label: str, figures: dict[str, Any], extra: str = "") -> str:
    a, b = figures["small"], figures["large"]
    return (
        f"{label[:46]:46}{a['p50']:>8.2f}{a['p95']:>8.2f}{figures['items_small']:>6.1f}   {b['p50']:>8.2f}"
        f"{b['p95']:>8.2f}{figures['items_large']:>6.1f}   {figures['ratio_p50']:>6.2f}{figures['ratio_p95']:>7.2f}"
        f"{extra}"
    )


def _verdict(name: str, figures: dict[str, Any]) -> str:
    worst = max(figures["small"]["p95"], figures["large"]["p95"])
    return (
        f"{name}: {'OK' if figures['ok'] else 'NOT MET'} (ratio p50 {figures['ratio_p50']:.2f}, p95"
        f" {figures['ratio_p95']:.2f}, target < {TARGET_RATIO}; worst p95 {worst:.2f} ms,"
        f" target < {TARGET_P95_MS:.0f} ms)"
    )


def table(result: dict[str, Any]) -> str:
    """Return the human-readable report."""
    sizes = result["boxes"]
    lines = [
        f"Một Cửa Edge — UI list & search pages bench (data v{GEN_VERSION}, {os.cpu_count()} cores,"
        f" SQLite {result['sqlite']})",
        f"small box: {sizes['small']['dossiers']:,} dossiers   large box: {sizes['large']['dossiers']:,} dossiers"
        f"   signed in as {result['user']} (cookie session)",
        f"  [{sizes['small']['path']}]  [{sizes['large']['path']}]",
        f"{result['requests']} rounds after {result['warmup']} warm-up rounds; each round, to each box (alternating"
        f" which goes first): GET /dossiers once per list filter ({len(result['list_kinds'])}) and"
        f" GET /dossiers?q= once per search group ({len(result['search_groups'])}); run {result['seconds']} s",
        "milliseconds, client side (request to the whole HTML page read); rows = average dossiers on the page",
        "",
        "dossier list GET /dossiers",
        _HEAD,
        _COLS,
        _line("LIKE-FOR-LIKE filters (verdict)", result["list"]),
    ]
    informational = False
    for name, figures in result["list_kinds"].items():
        if not figures["in_verdict"] and not informational:
            informational = True
            lines.append("NOT LIKE-FOR-LIKE, informational (not in the verdict):")
        mark = " !" if figures["in_verdict"] and not figures["flat"] else ""
        lines.append(_line(f"  {name:10} {figures['title']}", figures, mark))
    lines += [
        "",
        "search GET /dossiers?q=",
        _HEAD,
        _COLS,
        _line("LIKE-FOR-LIKE: selective + broad (verdict)", result["search"]),
    ]
    for figures in result["search_groups"].values():
        if not figures["in_verdict"]:
            lines.append("NOT LIKE-FOR-LIKE, informational (not in the verdict):")
        lines.append(_line(f"  {figures['title']}", figures))
        for kind, one in figures["kinds"].items():
            mark = " !" if figures["in_verdict"] and not one["flat"] else ""
            lines.append(_line(f"    {kind:12} {one['title']}", one, mark))
    if result["list"]["kinds_over_target"] or result["search"]["kinds_over_target"]:
        lines.append(f"! = this filter or kind alone is over the {TARGET_RATIO} ratio (fewer samples; not the verdict)")
    lines += ["", _verdict("list", result["list"]), _verdict("search", result["search"])]
    lines += [f"warning: {w}" for w in result["warnings"]]
    lines.append(f"wall time {result['wall_seconds']} s")
    return "\n".join(lines)


# --- the command -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = box_size_parser(
        __doc__.splitlines()[0] if __doc__ else None,
        200,
        "measured rounds (default 200): per box, one GET per list filter",
    )
    return parse_box_sizes(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    started = timer.perf_counter()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="small-ui-", dir=out))
    processes: list[subprocess.Popen[str]] = []
    try:
        small = prepare("small", args.small, args.seed, scratch, cache=False, rebuild=True, log=log)
        # Same name and seed as bench/intake.py's large box: the cached one is reused, never rebuilt.
        large = prepare("large", args.large, args.seed + 1, out, cache=True, rebuild=False, log=log)
        kinds = list_kinds(datetime.now(TZ))
        rng = random.Random(args.seed)
        served: list[Served] = []
        for prepared in (small, large):
            picked = pick(prepared.data_dir, rng)
            prewarm(prepared.data_dir / "motcua.db")
            process, url = serve(prepared, scratch / f"serve-{prepared.label}.log")
            processes.append(process)
            session = login(url, USER, PASSWORD)
            box = Served(prepared, process, url, session, picked)
            for kind in kinds:
                box.params[kind.name] = dict(kind.params)
            first = session.get(f"{url}/dossiers", timeout=60)
            box.params["page2"] = next_page(first.text) if prepared.dossiers > PAGE_SIZE else {}
            served.append(box)
        log(f"measuring: {args.requests} rounds (+{args.warmup} warm-up) of {len(kinds)} list pages + 3 searches")
        run_start = timer.perf_counter()
        run(served, kinds, args.requests, args.warmup)
        run_seconds = timer.perf_counter() - run_start
        result: dict[str, Any] = {
            "version": GEN_VERSION,
            "sqlite": sqlite3.sqlite_version,
            "requests": args.requests,
            "warmup": args.warmup,
            "seconds": round(run_seconds, 1),
            "user": USER,
            "boxes": {
                p.label: {"dossiers": p.dossiers, "path": str(p.data_dir), "generation": p.generation}
                for p in (small, large)
            },
            **summarise(served, kinds),
            "targets": {"ratio": TARGET_RATIO, "p95_ms": TARGET_P95_MS},
        }
        result["ok"] = result["list"]["ok"] and result["search"]["ok"]
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(scratch, ignore_errors=True)
    result["wall_seconds"] = round(timer.perf_counter() - started, 1)
    print(json.dumps(result, ensure_ascii=False, indent=1) if args.json else table(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
