"""The bench's figures per search group and kind, the like-for-like verdict, and the printed report."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from typing import Any

from bench.generate import GEN_VERSION
from bench.measure import TARGET_P95_MS, TARGET_RATIO, Served, compare
from bench.searches import GROUP_TITLES, GROUPS, KIND_TITLES, VERDICT_GROUPS, Picked

ITEMS_TOLERANCE = 0.10  # a group whose average item counts differ more than this is not like-for-like


def items_differ(small: float, large: float) -> bool:
    """Return whether two average item counts are more than ITEMS_TOLERANCE apart."""
    return abs(large - small) > ITEMS_TOLERANCE * max(small, large)


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 1) if values else 0.0


def _kind(kind: str, boxes: Sequence[Served], picks: Sequence[Picked]) -> dict[str, Any]:
    s, g = boxes
    ps, pg = picks
    matches = [statistics.fmean(p.matches[kind]) for p in picks]
    return {
        **compare(s.search_ms[kind], g.search_ms[kind]),
        "title": KIND_TITLES[kind],
        "items_small": _mean(s.search_items[kind]),
        "items_large": _mean(g.search_items[kind]),
        "matches_small": round(matches[0], 1),
        "matches_large": round(matches[1], 1),
        "per_1k_small": round(1000 * matches[0] / ps.dossiers, 1),
        "per_1k_large": round(1000 * matches[1] / pg.dossiers, 1),
        "queries_small": len(ps.queries[kind]),
        "queries_large": len(pg.queries[kind]),
        "dropped_small": ps.rejected.get(kind, 0),
        "dropped_large": pg.rejected.get(kind, 0),
        "examples": ps.queries[kind][:2],
    }


def summarise(boxes: Sequence[Served], picks: Sequence[Picked]) -> dict[str, Any]:
    """Return the search figures per group and kind, the like-for-like verdict and the warnings."""
    s, g = boxes
    groups: dict[str, Any] = {}
    warnings: list[str] = []
    for group, kinds in GROUPS.items():
        part: dict[str, Any] = compare(
            [ms for k in kinds for ms in s.search_ms[k]], [ms for k in kinds for ms in g.search_ms[k]]
        )
        part["title"] = GROUP_TITLES[group]
        part["items_small"] = _mean([n for k in kinds for n in s.search_items[k]])
        part["items_large"] = _mean([n for k in kinds for n in g.search_items[k]])
        part["items_differ"] = items_differ(part["items_small"], part["items_large"])
        part["in_verdict"] = group in VERDICT_GROUPS
        part["kinds"] = {k: _kind(k, boxes, picks) for k in kinds}
        if part["in_verdict"]:
            for name, figures in [(group, part), *part["kinds"].items()]:
                if items_differ(figures["items_small"], figures["items_large"]):
                    warnings.append(
                        f"{name}: {figures['items_small']} items per search in the small box, {figures['items_large']}"
                        f" in the large one (more than {ITEMS_TOLERANCE:.0%} apart): not like-for-like"
                    )
        else:
            a, b = part["items_small"], part["items_large"]
            part["excluded"] = (
                f"excluded from the verdict: {a} items per search in the small box, {b} in the large one; finding"
                f" and returning {b:.0f} items costs more than {a:.0f} at any box size, so this ratio mixes result"
                " size with box size"
                if items_differ(a, b)
                else f"excluded from the verdict: not chosen for equal results ({a} vs {b} items in this run)"
            )
        groups[group] = part
    like = [k for group in VERDICT_GROUPS for k in GROUPS[group]]
    verdict = compare([ms for k in like for ms in s.search_ms[k]], [ms for k in like for ms in g.search_ms[k]])
    verdict["groups"] = list(VERDICT_GROUPS)
    verdict["items_small"] = _mean([n for k in like for n in s.search_items[k]])
    verdict["items_large"] = _mean([n for k in like for n in g.search_items[k]])
    verdict["combined_ok"] = verdict["ok"]
    verdict["ok"] = verdict["ok"] and all(groups[group]["ok"] for group in VERDICT_GROUPS)
    verdict["kinds_over_target"] = [
        {"kind": k, "ratio_p50": f["ratio_p50"], "ratio_p95": f["ratio_p95"]}
        for group in VERDICT_GROUPS
        for k, f in groups[group]["kinds"].items()
        if not f["flat"]
    ]
    verdict["like_for_like"] = not warnings
    every = [k for kinds in GROUPS.values() for k in kinds]
    search_all = compare([ms for k in every for ms in s.search_ms[k]], [ms for k in every for ms in g.search_ms[k]])
    search_all["items_small"] = _mean([n for k in every for n in s.search_items[k]])
    search_all["items_large"] = _mean([n for k in every for n in g.search_items[k]])
    return {"search": verdict, "search_groups": groups, "search_all": search_all, "warnings": warnings}


# --------------------------------------------------------------------------------------------
# Printed report
# --------------------------------------------------------------------------------------------

_HEAD = f"{'':44}{'---- small box ----':>22}   {'---- large box ----':>22}   {'large/small':>13}"
_COLS = f"{'':44}{'p50':>8}{'p95':>8}{'items':>7}   {'p50':>8}{'p95':>8}{'items':>7}   {'p50':>6}{'p95':>7}"


def _row(label: str, part: dict[str, Any], extra: str = "") -> str:
    a, b = part["small"], part["large"]
    return (
        f"{label:44}{a['p50']:>8.2f}{a['p95']:>8.2f}{part['items_small']:>7.1f}   {b['p50']:>8.2f}{b['p95']:>8.2f}"
        f"{part['items_large']:>7.1f}   {part['ratio_p50']:>6.2f}{part['ratio_p95']:>7.2f}{extra}"
    )


def _kind_extra(group: str, part: dict[str, Any]) -> str:
    mark = " ! " if group in VERDICT_GROUPS and not part["flat"] else "   "
    return mark + _kind_note(group, part)


def _kind_note(group: str, part: dict[str, Any]) -> str:
    if group == "selective":
        dropped = part["dropped_small"] + part["dropped_large"]
        note = f", {dropped} candidates dropped (matched > 1)" if dropped else ""
        return f"{part['queries_small']} / {part['queries_large']} queries, each matching 1 dossier{note}"
    if group == "broad":
        shown = ", ".join(repr(q) for q in part["examples"])
        return f"{shown}: {part['per_1k_small']:.0f} / {part['per_1k_large']:.0f} matches per 1,000 dossiers"
    return f"{part['matches_small']:.1f} / {part['matches_large']:.1f} matches, e.g. {part['examples'][0]!r}"


def _search_lines(result: dict[str, Any]) -> list[str]:
    verdict, groups = result["search"], result["search_groups"]
    lines = ["search GET /api/v1/dossiers?q= (items = average items returned per search in that box)", _HEAD, _COLS]
    lines.append(_row("LIKE-FOR-LIKE: selective + broad (verdict)", verdict))
    for group, part in groups.items():
        if not part["in_verdict"]:
            lines += ["", "NOT LIKE-FOR-LIKE, informational (not in the verdict):"]
        lines.append(_row(f"  {part['title'][:42]}", part))
        for kind, figures in part["kinds"].items():
            lines.append(_row(f"    {kind:12} {figures['title'][:27]}", figures, _kind_extra(group, figures)))
        if not part["in_verdict"]:
            lines.append(f"  {part['excluded']}")
    lines.append(_row("  all three groups mixed (the old measure)", result["search_all"]))
    if verdict["kinds_over_target"]:
        lines.append(
            f"! = this kind alone is over the {TARGET_RATIO} ratio; kinds are not the verdict (fewer samples each),"
            " see the in-process figures below"
        )
    return lines


def _diagnosis_lines(diagnosis: dict[str, Any]) -> list[str]:
    lines = [
        f"in-process edge.queries.list_dossiers (ms: median over up to {diagnosis['per_kind']} queries per kind,"
        f" best of {diagnosis['repeat']} each; 'asc' = the same FTS statement oldest first)",
        f"search table: {diagnosis['fts_table']}"
        + ("" if diagnosis["same_fts_table"] else "  (DIFFERENT in the small box)"),
        f"{'':16}{'small':>8}{'large':>8}{'ratio':>7}{'items':>12}   {'large asc':>9}",
    ]
    for kind, part in diagnosis["kinds"].items():
        a, b = part["small"], part["large"]
        ratio = f"{part['ratio']:>7.2f}" if part["ratio"] is not None else f"{'-':>7}"
        asc = f"{b['ms_asc']:>9.3f}" if b["ms_asc"] is not None else f"{'-':>9}"
        lines.append(
            f"  {kind:14}{a['ms']:>8.3f}{b['ms']:>8.3f}{ratio}{a['items']:>6.1f}/{b['items']:<5.1f}   {asc}"
            f"   same plan in both boxes: {'yes' if part['same_plan'] else 'NO'}"
        )
        for statement in b["statements"]:
            lines.append(f"      sql:  {statement['sql']}")
            lines.extend(f"      plan: {step}" for step in statement["plan"])
    return lines


def table(result: dict[str, Any]) -> str:
    """Return the human-readable report."""
    sizes = result["boxes"]
    lines = [
        f"Một Cửa Edge — intake & search bench (data v{GEN_VERSION}, {os.cpu_count()} cores,"
        f" SQLite {result['sqlite']})",
        f"small box: {sizes['small']['dossiers']:,} dossiers   large box: {sizes['large']['dossiers']:,} dossiers",
    ]
    for label in ("small", "large"):
        gen = sizes[label]["generation"]
        how = "cached" if gen.get("cached") else "generated now"
        lines.append(
            f"  {label}: {how}; generation {gen['seconds']} s (rows {gen['seconds_rows']} s, indexes"
            f" {gen['seconds_indexes']} s), {gen['events']:,} events  [{sizes[label]['path']}]"
        )
    lines.append(
        f"{result['requests']} rounds after {result['warmup']} warm-up rounds; each round, to each box (alternating"
        f" which goes first): 1 POST and 1 search per group ({', '.join(GROUPS)}); run {result['seconds']} s"
    )
    lines += ["", f"{'':24}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'mean ms':>10}"]
    intake = result["intake"]
    for label in ("small", "large"):
        s = intake[label]
        lines.append(f"{'intake ' + label:24}{s['p50']:>10.2f}{s['p95']:>10.2f}{s['p99']:>10.2f}{s['mean']:>10.2f}")
    lines.append(f"{'intake ratio large/small':24}{intake['ratio_p50']:>10.2f}{intake['ratio_p95']:>10.2f}")
    lines += ["", *_search_lines(result), "", *_diagnosis_lines(result["diagnosis"]), ""]
    if result["warnings"]:
        lines += ["WARNINGS:", *(f"  {w}" for w in result["warnings"]), ""]
    lines.append(f"targets: ratio large/small < {TARGET_RATIO} (p50 and p95), p95 < {TARGET_P95_MS:.0f} ms")
    search, groups = result["search"], result["search_groups"]
    checks = [("intake", intake), ("search, like-for-like", search)]
    checks += [(f"  {group}", groups[group]) for group in search["groups"]]
    for name, part in checks:
        lines.append(
            f"  {name:22} {'OK  ' if part['ok'] else 'FAIL'}  flat: {'yes' if part['flat'] else 'no'}"
            f" (p50 x{part['ratio_p50']}, p95 x{part['ratio_p95']}),"
            f" fast: {'yes' if part['fast'] else 'no'} (p95 {part['large']['p95']} ms large,"
            f" {part['small']['p95']} ms small)"
        )
    lines.append(
        "  (search is OK when selective + broad together and each of the two groups meet the targets;"
        " the informational group is not in it)"
    )
    for over in search["kinds_over_target"]:
        lines.append(
            f"  note: kind {over['kind']} alone is over the ratio target (p50 x{over['ratio_p50']},"
            f" p95 x{over['ratio_p95']})"
        )
    return "\n".join(lines)
