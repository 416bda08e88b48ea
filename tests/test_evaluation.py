"""The 9-indicator evaluation of a dossier: every answer checked, one per dossier, a replacement only when asked."""

from __future__ import annotations

import json

import pytest

from edge import evaluation, intake
from edge.box import Box
from edge.errors import ConflictError, NotFoundError, ValidationError
from edge.users import User
from tests.conftest import FakeClock, dossier_body

GOOD = dict.fromkeys(evaluation.KEYS, "2")


def test_nine_indicators_of_0_1_or_2_points_in_the_order_of_the_form() -> None:
    assert len(evaluation.INDICATORS) == 9 and evaluation.MAX_POINTS == 18
    assert evaluation.KEYS == ("total_time", "agency_time", "visits", "agencies", "one_stop", "public_listing",
                               "attitude", "feedback", "online")  # fmt: skip
    for indicator in evaluation.INDICATORS:
        assert [points for points, _, _ in indicator.answers] == [2, 1, 0]
        assert indicator.vi and indicator.en and all(vi and en for _, vi, en in indicator.answers)


def test_an_evaluation_is_stored_with_the_dossier_officer_procedure_and_points(
    box: Box, clock: FakeClock, officer: User
) -> None:
    db = box.db()
    dossier = intake.receive_dossier(box, officer, dossier_body())
    answers = {**GOOD, "visits": "1", "attitude": 0, "online": " 1 "}
    stored = evaluation.record_evaluation(db, dossier["code"], answers, "kiosk", clock())
    assert (stored["dossier_id"], stored["officer"], stored["procedure_code"]) == (
        dossier["dossier_id"], "canbo", "1.001193"
    )  # fmt: skip
    assert (stored["points"], stored["source"], stored["replaced"], stored["ticket"]) == (14, "kiosk", 0, None)
    assert stored["answers"]["attitude"] == 0 and stored["answers"]["visits"] == 1
    raw = db.execute("SELECT answers, at FROM evaluations").fetchone()
    assert json.loads(raw[0]) == stored["answers"] and raw[1] == "2026-11-25T09:00:00+07:00"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"attitude": "3"}, "attitude"),
        ({"visits": "-1"}, "visits"),
        ({"online": ""}, "online"),
        ({"feedback": "hai"}, "feedback"),
        ({"one_stop": True}, "one_stop"),
        ({"agencies": 1.5}, "agencies"),
        ({"total_time": None}, "total_time"),
    ],
)
def test_every_answer_is_checked(box: Box, clock: FakeClock, officer: User, change: dict[str, object],
                                 field: str) -> None:  # fmt: skip
    db = box.db()
    code = intake.receive_dossier(box, officer, dossier_body())["code"]
    with pytest.raises(ValidationError) as caught:
        evaluation.record_evaluation(db, code, {**GOOD, **change}, "kiosk", clock())
    assert caught.value.field == field and caught.value.code == "invalid_answer" and caught.value.status == 422
    assert db.execute("SELECT count(*) FROM evaluations").fetchone()[0] == 0


def test_all_missing_answers_are_named_and_unknown_ones_refused() -> None:
    points, errors = evaluation.check_answers({"attitude": "2"})
    assert points == {"attitude": 2} and set(errors) == set(evaluation.KEYS) - {"attitude"}
    assert errors["visits"].vi.startswith("Chọn một câu trả lời cho chỉ số 3:")
    _, errors = evaluation.check_answers({**GOOD, "speed": "2"})
    assert set(errors) == {"_unknown"} and "speed" in errors["_unknown"].en


def test_a_second_evaluation_is_refused_unless_it_replaces_the_first(box: Box, clock: FakeClock, officer: User) -> None:
    db = box.db()
    code = intake.receive_dossier(box, officer, dossier_body())["code"]
    evaluation.record_evaluation(db, code, GOOD, "kiosk", clock())
    clock.advance(minutes=5)
    with pytest.raises(ConflictError) as caught:
        evaluation.record_evaluation(db, code, {**GOOD, "attitude": "0"}, "tablet", clock())
    assert caught.value.code == "already_evaluated" and "09:00 ngày 25/11/2026" in caught.value.vi
    assert evaluation.get_evaluation(db, code)["points"] == 18  # type: ignore[index]
    again = evaluation.record_evaluation(db, code, {**GOOD, "attitude": "0"}, "tablet", clock(), replace=True)
    assert (again["points"], again["source"], again["replaced"], again["at"]) == (
        16, "tablet", 1, "2026-11-25T09:05:00+07:00"
    )  # fmt: skip
    assert db.execute("SELECT count(*) FROM evaluations").fetchone()[0] == 1


def test_an_unknown_dossier_or_source_is_refused(box: Box, clock: FakeClock, officer: User) -> None:
    db = box.db()
    with pytest.raises(NotFoundError):
        evaluation.record_evaluation(db, "không-có", GOOD, "kiosk", clock())
    code = intake.receive_dossier(box, officer, dossier_body())["code"]
    with pytest.raises(ValidationError):
        evaluation.record_evaluation(db, code, GOOD, "web", clock())
    assert evaluation.get_evaluation(db, code) is None
