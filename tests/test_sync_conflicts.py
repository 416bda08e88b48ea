"""Events from both ends on one dossier, through a real hub process: merged by the same fold, real conflicts flagged on both sides."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from edge import actions, intake
from edge.box import Box, open_box
from edge.queries import get_dossier
from edge.users import get_user
from sync.client.cycle import sync_once
from tests.conftest import applicant, dossier_body
from tests.hubproc import Hub, make_box, make_hub, provision


@pytest.fixture
def linked(tmp_path: Path) -> Iterator[tuple[Hub, Box]]:
    """A hub process and a box provisioned with it."""
    hub = make_hub(tmp_path / "hub").start()
    settings = make_box(tmp_path)
    provision(settings, hub.add_box("00001", "UBND xã Thử Nghiệm"), hub.url)
    box = open_box(settings.data_dir)
    try:
        yield hub, box
    finally:
        box.close()
        hub.stop()


def at_hub(hub: Hub, code: str) -> dict[str, Any]:
    got = requests.get(f"{hub.url}/api/v1/dossiers/{code}", headers=hub.headers(), timeout=10)
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def withdraw_at_hub(hub: Hub, code: str, status: int = 200) -> dict[str, Any]:
    resp = requests.post(
        f"{hub.url}/api/v1/dossiers/{code}/withdraw",
        json={"reason": "Công dân rút hồ sơ trên Cổng dịch vụ công"},
        headers=hub.headers(),
        timeout=10,
    )
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    return body


def receive(box: Box, n: int = 1) -> str:
    officer = get_user(box.db(), "canbo")
    state = intake.receive_dossier(box, officer, dossier_body(applicant=applicant(id_number=f"00109900123{n}")))
    return str(state["code"])


def test_a_withdrawal_made_upstream_comes_down_and_folds_the_same_on_both_sides(linked: tuple[Hub, Box]) -> None:
    hub, box = linked
    code = receive(box)
    assert sync_once(box).done
    assert withdraw_at_hub(hub, code)["status"] == "cancelled"
    assert sync_once(box).done
    mine = get_dossier(box.db(), code, box.now())
    assert mine["status"] == "cancelled" and not mine["conflict"]
    theirs = at_hub(hub, code)
    assert (theirs["status"], theirs["conflict"]) == ("cancelled", False)
    assert [e["event_id"] for e in theirs["events"]] == [e["event_id"] for e in mine["events"]]


def test_a_real_conflict_is_flagged_on_both_sides_and_resolved_by_a_person(linked: tuple[Hub, Box]) -> None:
    hub, box = linked
    code = receive(box, 2)
    assert sync_once(box).done
    # The link is down: the office returns the result, while the citizen withdraws at the portal.
    officer, leader = get_user(box.db(), "canbo"), get_user(box.db(), "lanhdao")
    actions.act(box, leader, code, "approve", {})
    actions.act(box, officer, code, "return-result", {})
    withdraw_at_hub(hub, code)
    result = sync_once(box)
    assert result.done, result.summary()
    mine, theirs = get_dossier(box.db(), code, box.now()), at_hub(hub, code)
    assert mine["conflict"] and theirs["conflict"], "a real conflict must be shown to a person on both sides"
    assert mine["status"] == theirs["status"]  # the same fold over the same events, whatever the order
    assert {e["event_id"] for e in mine["events"]} == {e["event_id"] for e in theirs["events"]}
    # A withdrawal on a dossier the hub already holds as cancelled is refused at once, stating why.
    assert withdraw_at_hub(hub, code, status=409)["code"] == "illegal_transition"
    # A leader resolves it at the box; the resolution goes up and clears the flag at the hub too.
    actions.act(box, leader, code, "resolve-conflict", {"note": "Đã trả kết quả trước khi rút; giữ kết quả."})
    assert sync_once(box).done
    assert not get_dossier(box.db(), code, box.now())["conflict"]
    assert not at_hub(hub, code)["conflict"]
