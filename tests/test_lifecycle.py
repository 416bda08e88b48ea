"""The dossier lifecycle through the edge services: every action, the rules, the errors."""

from __future__ import annotations

from datetime import datetime

import pytest

from edge import actions, intake
from edge.box import Box
from edge.calendar import TZ
from edge.errors import PermissionDeniedError, TransitionError, ValidationError
from edge.queries import dossier_view
from edge.users import User
from tests.conftest import FakeClock, dossier_body

FIVE_DAY = "1.001731"  # a procedure with 5 working days in the sample catalogue


def receive(box: Box, officer: User, **changes: object) -> dict:
    return intake.receive_dossier(box, officer, dossier_body(**changes))


def test_receive_at_counter_gives_code_and_due_date(box: Box, officer: User) -> None:
    state = receive(box, officer, procedure_code=FIVE_DAY)
    assert state["status"] == "new" and state["status_code"] == 2
    assert state["code"] == "000.17.22.H56-261125-0001"
    assert state["received_at"] == "2026-11-25T09:00:00+07:00"
    # Wed 09:00 + 5 working days (40 h) = next Wed 09:00.
    assert state["due_at"] == "2026-12-02T09:00:00+07:00"


def test_same_day_procedure_after_cutoff_is_due_next_working_day(box: Box, officer: User, clock: FakeClock) -> None:
    clock.set(datetime(2026, 11, 27, 15, 30, tzinfo=TZ))  # Friday, after the 15:00 cut-off
    state = receive(box, officer)  # 1.001193 khai sinh: same day, cut-off 15:00
    assert state["due_at"] == "2026-11-30T17:00:00+07:00"


def test_online_dossier_waits_then_is_received(box: Box, officer: User, clock: FakeClock) -> None:
    state = receive(box, officer, channel="online")
    assert state["status"] == "receiving" and state["received_at"] is None and state["due_at"] is None
    clock.advance(hours=1)
    state = actions.act(box, officer, state["code"], "receive", {})
    assert state["status"] == "new" and state["received_at"] == "2026-11-25T10:00:00+07:00"
    assert state["received_by"] == "canbo"


def test_full_path_to_result_returned(box: Box, officer: User, leader: User, clock: FakeClock) -> None:
    code = receive(box, officer, procedure_code=FIVE_DAY)["code"]
    state = actions.act(box, officer, code, "transfer", {"assignee": "canbo2", "step_due_at": "2026-11-27T17:00:00"})
    assert state["status"] == "processing" and state["assignee"] == "canbo2"
    assert state["steps"][0]["step_due_at"] == "2026-11-27T17:00:00+07:00"
    state = actions.act(box, officer, code, "transfer", {"assignee": "lanhdao"})
    assert [s["assignee"] for s in state["steps"]] == ["canbo2", "lanhdao"]
    assert state["steps"][1]["from"] == "canbo2"
    clock.advance(days=1)
    state = actions.act(box, leader, code, "approve", {})
    assert state["status"] == "releasing" and state["finished_at"] == "2026-11-26T09:00:00+07:00"
    state = actions.act(box, officer, code, "return-result", {"method": "post"})
    assert state["status"] == "done" and state["status_code"] == 10 and state["return"]["method"] == "post"
    assert not dossier_view(state, clock()).get("overdue")


def test_supplement_pauses_the_clock_and_only_once(box: Box, officer: User, clock: FakeClock) -> None:
    code = receive(box, officer, procedure_code=FIVE_DAY)["code"]
    body = {
        "reason": "Thiếu bản sao sổ hộ khẩu",
        "missing_documents": [{"name": "Bản sao", "kind": "photocopy", "quantity": 1}],
    }
    state = actions.act(box, officer, code, "request-supplement", body)
    assert state["status"] == "waiting" and state["status_code"] == 5
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=TZ))  # one working day later
    state = actions.act(box, officer, code, "supplement-received", {})
    assert state["status"] == "new"
    assert state["due_at"] == "2026-12-03T09:00:00+07:00"  # moved by exactly one working day
    with pytest.raises(TransitionError) as err:
        actions.act(box, officer, code, "request-supplement", body)
    assert err.value.code == "supplement_already_requested"
    assert "một lần" in err.value.message("vi")


def test_illegal_transition_names_the_current_status(box: Box, officer: User) -> None:
    code = receive(box, officer)["code"]
    with pytest.raises(TransitionError) as err:
        actions.act(box, officer, code, "return-result", {})
    assert "Đã tiếp nhận" in err.value.message("vi") and "(new)" in err.value.message("vi")
    assert "Received" in err.value.message("en")
    actions.act(box, officer, code, "refuse", {"reason": "Không thuộc thẩm quyền của xã"})
    for action in ("transfer", "approve", "withdraw", "stop", "receive"):
        with pytest.raises(TransitionError) as err:
            actions.act(box, officer, code, action, {"assignee": "canbo2", "reason": "x"})
        assert "Từ chối tiếp nhận" in err.value.message("vi")


@pytest.mark.parametrize(("action", "status", "code"), [("withdraw", "cancelled", 7), ("stop", "unresolved", 8)])
def test_withdraw_and_stop_need_a_reason(box: Box, officer: User, action: str, status: str, code: int) -> None:
    dossier = receive(box, officer)["code"]
    with pytest.raises(ValidationError):
        actions.act(box, officer, dossier, action, {})
    state = actions.act(box, officer, dossier, action, {"reason": "Công dân đề nghị"})
    assert (state["status"], state["status_code"]) == (status, code)
    assert state["outcome"]["reason"] == "Công dân đề nghị"


def test_payment_request_then_approve(box: Box, officer: User) -> None:
    code = receive(box, officer)["code"]
    state = actions.act(box, officer, code, "request-payment", {})
    assert state["status"] == "paying" and state["payment"]["amount"] == 16000
    assert actions.act(box, officer, code, "approve", {})["status"] == "releasing"


def test_reschedule_only_before_due(box: Box, officer: User, clock: FakeClock) -> None:
    code = receive(box, officer, procedure_code=FIVE_DAY)["code"]
    with pytest.raises(ValidationError):
        actions.act(
            box, officer, code, "reschedule", {"reason": "Cần xác minh", "new_due_at": "2026-12-01T09:00:00+07:00"}
        )
    state = actions.act(
        box, officer, code, "reschedule", {"reason": "Cần xác minh thêm", "new_due_at": "2026-12-04T16:00:00+07:00"}
    )
    assert state["due_at"] == "2026-12-04T16:00:00+07:00" and state["original_due_at"] == "2026-12-02T09:00:00+07:00"
    assert state["reschedules"][0]["old_due_at"] == "2026-12-02T09:00:00+07:00"
    clock.set(datetime(2026, 12, 5, 9, 0, tzinfo=TZ))
    assert dossier_view(state, clock())["overdue"] is True
    with pytest.raises(TransitionError) as err:
        actions.act(box, officer, code, "reschedule", {"reason": "Muộn", "new_due_at": "2026-12-10T16:00:00+07:00"})
    assert err.value.code == "reschedule_after_due"


def test_finished_late_counts_as_overdue(box: Box, officer: User, clock: FakeClock) -> None:
    code = receive(box, officer)["code"]  # due today 17:00
    clock.set(datetime(2026, 11, 26, 8, 0, tzinfo=TZ))
    state = actions.act(box, officer, code, "approve", {})
    assert dossier_view(state, clock())["overdue"] is True


def test_transfer_checks_the_assignee(box: Box, officer: User) -> None:
    code = receive(box, officer)["code"]
    with pytest.raises(ValidationError) as err:
        actions.act(box, officer, code, "transfer", {"assignee": "kythuat"})
    assert err.value.code == "invalid_assignee"
    with pytest.raises(ValidationError):
        actions.act(box, officer, code, "transfer", {"assignee": "canbo2", "step_due_at": "2026-11-24T09:00:00+07:00"})


def test_roles_are_enforced(box: Box, officer: User) -> None:
    with pytest.raises(PermissionDeniedError):
        intake.receive_dossier(box, User("kythuat", "technician"), dossier_body())
    code = receive(box, officer)["code"]
    with pytest.raises(PermissionDeniedError):
        actions.act(box, User("quantri", "admin"), code, "approve", {})


def test_allowed_actions_follow_the_status(box: Box, officer: User, clock: FakeClock) -> None:
    state = receive(box, officer)
    allowed = dossier_view(state, clock())["allowed_actions"]
    assert "transfer" in allowed and "receive" not in allowed and "return-result" not in allowed
    state = actions.act(box, officer, state["code"], "approve", {})
    assert dossier_view(state, clock())["allowed_actions"] == ["return-result"]


def test_local_override_moves_due_dates(box: Box, officer: User) -> None:
    from datetime import date

    box.set_override(date(2026, 11, 26), False, "Nghỉ bù theo quyết định của tỉnh", actor="quantri")
    state = receive(box, officer, procedure_code=FIVE_DAY)
    assert state["due_at"] == "2026-12-03T09:00:00+07:00"  # one working day later than without it
    box.set_override(date(2026, 11, 28), True, "Làm bù thứ Bảy", actor="quantri")
    state = receive(box, officer, procedure_code=FIVE_DAY)
    assert state["due_at"] == "2026-12-02T09:00:00+07:00"
    assert [o["day"] for o in box.overrides()] == ["2026-11-26", "2026-11-28"]


def test_calendar_cli_sets_an_override(box: Box, officer: User) -> None:
    from edge.cli import main

    assert main(["calendar", "set", "--data", str(box.settings.data_dir), "2026-11-26", "--off", "--note", "Bão"]) == 0
    state = receive(box, officer, procedure_code=FIVE_DAY)  # the open box sees the change at once
    assert state["due_at"] == "2026-12-03T09:00:00+07:00"
    assert main(["calendar", "set", "--data", str(box.settings.data_dir), "26/11/2026", "--off"]) == 1


def test_double_submit_with_one_key_makes_one_dossier(box: Box, officer: User) -> None:
    first = intake.receive_dossier(box, officer, dossier_body(), idempotency_key="form-1234-abcd")
    again = intake.receive_dossier(box, officer, dossier_body(), idempotency_key="form-1234-abcd")
    assert again["code"] == first["code"]
    other = intake.receive_dossier(box, officer, dossier_body(), idempotency_key="form-9999-abcd")
    assert other["code"] != first["code"]
    assert box.db().execute("SELECT count(*) FROM dossiers").fetchone()[0] == 2
    with pytest.raises(ValidationError):
        intake.receive_dossier(box, officer, dossier_body(), idempotency_key="x; drop")


def test_the_same_scan_attached_twice_is_one_attachment(box: Box, officer: User) -> None:
    import io

    from edge import attachments
    from edge.events import events_of

    state = receive(box, officer)
    png = b"\x89PNG\r\n\x1a\n" + b"scan" * 100
    first = attachments.attach(box, officer, state["code"], io.BytesIO(png), "scan.png")
    again = attachments.attach(box, officer, state["code"], io.BytesIO(png), "scan-again.png")
    assert again["sha256"] == first["sha256"]
    kinds = [e.kind for e in events_of(box.db(), state["dossier_id"])]
    assert kinds.count("attachment_added") == 1
