"""Pulling the commune's change feed from the hub, page by page from the box's cursor.

Each page is applied and the cursor moved in one transaction (edge.replication.apply_feed), so the
cursor survives restarts and a page is never half applied. Repair, never a silent skip
(PROTOCOL.md): when the first item is not cursor+1, a seq repeats or jumps, the head is behind the
cursor (the hub was restored) or an own_event names an event this box does not hold, the repair
is audited ("feed_repair"), the cursor goes back to 0 and the whole feed is read again, with the
box's own events whole (a box restored from an old backup gets back what it made since).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge import syncstate
from edge.backup import recover_marks
from edge.box import Box
from edge.replication import apply_feed, missing_events, reset_feed
from sync.client.errors import SyncClientError
from sync.client.transport import Transport

CURSOR_KEY = "feed_cursor"
PAGE_SIZE = 500


@dataclass
class PullResult:
    """What one pull did."""

    pages: int = 0
    items: int = 0
    applied: int = 0
    cursor: int = 0
    head: int = 0
    repairs: list[str] = field(default_factory=list)


def check_page(page: object, cursor: int, commune_code: str) -> tuple[list[dict[str, Any]], int, dict[str, Any] | None]:
    """Return (items, head, problem): problem names why the feed must be repaired, or is None."""
    if not isinstance(page, dict) or not isinstance(page.get("items"), list) or not isinstance(page.get("head"), int):
        raise SyncClientError(
            "Máy chủ tỉnh trả về luồng thay đổi sai định dạng.", "The hub's feed page is malformed.", code="bad_feed"
        )
    if page.get("commune_code") not in (None, commune_code):
        raise SyncClientError(
            f"Máy chủ tỉnh trả về dữ liệu của xã {page.get('commune_code')}, không phải xã {commune_code}.",
            f"The hub answered with commune {page.get('commune_code')}'s feed, not {commune_code}'s.",
            code="bad_feed",
        )
    items: list[dict[str, Any]] = page["items"]
    head: int = page["head"]
    if head < cursor:
        return items, head, {"reason": "head_behind_cursor", "head": head, "cursor": cursor}
    expected = cursor + 1
    for item in items:
        seq = item.get("seq") if isinstance(item, dict) else None
        if not isinstance(seq, int) or seq != expected:
            kind = "repeated_seq" if isinstance(seq, int) and seq < expected else "gap"
            return items, head, {"reason": kind, "expected": expected, "got": seq, "cursor": cursor}
        expected += 1
    return items, head, None


def pull_feed(
    box: Box,
    transport: Transport,
    commune_code: str,
    *,
    limit: int = PAGE_SIZE,
    should_stop: Callable[[], bool] = lambda: False,
) -> PullResult:
    """Read and apply the feed from the cursor to the head; repair once if the feed does not line up."""
    result = PullResult()
    db = box.db()
    while not should_stop():
        cursor = int(syncstate.get(db, CURSOR_KEY, 0))
        # After a repair the box's own events come whole: a restored box gets back those it lost.
        query: dict[str, str | int] = {"after": cursor, "limit": limit, **({"own": "full"} if result.repairs else {})}
        response = transport.request("GET", f"/sync/v1/communes/{commune_code}/feed", query=query)
        items, head, problem = check_page(response.json(), cursor, commune_code)
        result.head = head
        if problem is None and not result.repairs:
            own = [str(i.get("event_id")) for i in items if i.get("type") == "own_event"]
            missing = missing_events(box, own)
            if missing:
                problem = {"reason": "own_event_missing", "event_ids": missing[:20], "cursor": cursor}
        if problem is not None:
            if result.repairs:
                raise SyncClientError(
                    f"Luồng thay đổi của máy chủ tỉnh vẫn không khớp sau khi đọc lại ({problem['reason']}); "
                    "báo quản trị tỉnh kiểm tra.",
                    f"The hub's feed still does not line up after a full re-read ({problem['reason']}); "
                    "ask the province to check it.",
                    code="feed_inconsistent",
                )
            reset_feed(box, CURSOR_KEY, problem)
            result.repairs.append(str(problem["reason"]))
            continue
        result.pages += 1
        if not items:
            result.cursor = cursor
            break
        counts = apply_feed(box, items, cursor_key=CURSOR_KEY, new_cursor=items[-1]["seq"])
        result.items += len(items)
        result.applied += counts["applied"]
        result.cursor = items[-1]["seq"]
        if result.cursor >= head:
            break
    if result.repairs and result.applied:
        recover_marks(box, why="feed_repair")  # numbers the events brought back hold are not issued again
    return result
