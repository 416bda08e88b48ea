"""Ratings on 3 or 5 levels (the box's setting), presses beyond the scale, and satisfaction in figures."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from devices.keypad import KeypadSimulator, serve_keypad
from edge import evaluation, intake, queue, ratings, satisfaction
from edge.appliance import Devices
from edge.box import Box, open_box
from edge.calendar import TZ
from edge.config import Settings, load_settings, update_config_file
from edge.errors import ConfigError, ValidationError
from edge.users import User
from tests.conftest import FakeClock, dossier_body

GOOD = dict.fromkeys(evaluation.KEYS, 2)


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


# -- the setting ----------------------------------------------------------------------------------------


def test_the_scale_is_5_by_default_and_3_when_the_config_says_so(box_settings: Settings) -> None:
    assert load_settings(box_settings.data_dir).rating_scale == 5
    update_config_file(box_settings.data_dir, {"rating_scale": 3})
    assert "[ratings]\nrating_scale = 3" in (box_settings.data_dir / "motcua.toml").read_text(encoding="utf-8")
    assert load_settings(box_settings.data_dir).rating_scale == 3
    assert load_settings(box_settings.data_dir, env={"MOTCUA_RATING_SCALE": "5"}).rating_scale == 5


@pytest.mark.parametrize("value", [4, 0, "năm", True, 7])
def test_a_wrong_scale_in_the_config_is_a_clear_config_error(box_settings: Settings, value: object) -> None:
    path = box_settings.data_dir / "motcua.toml"
    written = {4: "4", 0: "0", "năm": '"năm"', True: "true", 7: "7"}[value]  # type: ignore[index]
    text = path.read_text(encoding="utf-8")
    assert "rating_scale = 5" in text
    path.write_text(text.replace("rating_scale = 5", f"rating_scale = {written}"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(box_settings.data_dir)
    assert "rating_scale" in caught.value.vi and caught.value.code == "config_value"
    with pytest.raises(ConfigError):
        update_config_file(box_settings.data_dir, {"rating_scale": 4})


# -- recording ------------------------------------------------------------------------------------------


def test_a_3_level_rating_is_stored_with_its_scale_and_a_button_beyond_it_is_refused_and_counted(box: Box) -> None:
    db = box.db()
    ratings.set_counter_subject(db, 1, dossier_id="D-1", officer="canbo")
    stored = ratings.record_rating(db, 1, 1, 3, "tablet")
    assert (stored["level"], stored["scale"], stored["label_vi"]) == (1, 3, "Hài lòng")
    assert ratings.record_rating(db, 1, 3, 3, "tablet")["label_vi"] == "Không hài lòng"
    for button in (4, 5, 0):
        with pytest.raises(ValidationError) as caught:
            ratings.record_rating(db, 1, button, 3, "keypad")
        assert caught.value.code == "invalid_rating" and "3 mức" in caught.value.vi
    assert db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 2
    assert db.execute("SELECT button, scale, source FROM rating_rejects ORDER BY id").fetchall() == [
        (4, 3, "keypad"), (5, 3, "keypad"), (0, 3, "keypad")
    ]  # fmt: skip
    with pytest.raises(ValidationError):
        ratings.record_rating(db, 1, 1, 4, "keypad")


def test_the_api_score_runs_1_to_the_scale_with_the_scale_the_best(box: Box, officer: User) -> None:
    db = box.db()
    code = intake.receive_dossier(box, officer, dossier_body())["code"]
    best = ratings.rate_service(db, box.now(), 3, dossier_code=code, scale=3)
    assert (best["level"], best["scale"], best["label_vi"]) == (1, 3, "Hài lòng")
    worst = ratings.rate_service(db, box.now(), 1, dossier_code=code, scale=3)
    assert worst["label_vi"] == "Không hài lòng"
    for score in (4, 5, 0, True, "3", None):
        with pytest.raises(ValidationError) as caught:
            ratings.rate_service(db, box.now(), score, dossier_code=code, scale=3)
        assert caught.value.code == "invalid_score" and caught.value.field == "score"
    assert ratings.rate_service(db, box.now(), 5, dossier_code=code)["label_vi"] == "Rất hài lòng"
    with pytest.raises(ValidationError) as caught:
        ratings.rate_service(db, box.now(), 3, scale=3)
    assert caught.value.code == "rating_without_subject" and caught.value.status == 422


def test_a_keypad_press_beyond_the_scale_is_refused_counted_and_the_pad_keeps_working(box: Box) -> None:
    pad = KeypadSimulator()  # five buttons
    server = serve_keypad("pty", sim=pad)
    update_config_file(box.settings.data_dir, {"rating_keypad": f"serial://{server.path}?baudrate=9600"})
    devices = Devices(load_settings(box.settings.data_dir))
    scale = {"now": 3}
    listener = ratings.KeypadListener(box.db, devices, counter=1, retry_s=0.2, scale=lambda: scale["now"])
    db = box.db()
    listener.start()
    try:
        assert wait_until(lambda: listener._thread.is_alive() and db.execute(
            "SELECT detail FROM device_health WHERE role = 'rating_keypad'").fetchone() == ("opened",))  # fmt: skip
        pad.press(5)
        assert wait_until(lambda: listener.rejected == 1)
        assert db.execute("SELECT button, scale, source FROM rating_rejects").fetchall() == [(5, 3, "keypad")]
        assert db.execute("SELECT detail FROM device_health WHERE role = 'rating_keypad'").fetchone() == (
            "button 5 refused (3 levels)",
        )
        time.sleep(0.35)  # past the de-bounce window
        pad.press(1)
        assert wait_until(lambda: len(ratings.recent_ratings(db)) == 1)
        assert (ratings.recent_ratings(db)[0]["level"], ratings.recent_ratings(db)[0]["scale"]) == (1, 3)
        scale["now"] = 5  # the admin switched back: button 5 is a level again
        time.sleep(0.35)
        pad.press(5)
        assert wait_until(lambda: len(ratings.recent_ratings(db)) == 2)
        assert ratings.recent_ratings(db)[0]["label_vi"] == "Rất không hài lòng"
        assert listener.rejected == 1
    finally:
        listener.stop()
        devices.close()
        server.stop()


# -- satisfaction -------------------------------------------------------------------------------------


def _rate(box: Box, clock: FakeClock, when: datetime, level: int, scale: int, **subject: str | None) -> None:
    clock.now = when
    ratings.set_counter_subject(box.db(), 1, **subject)
    ratings.record_rating(box.db(), 1, level, scale, "keypad", now=when)


def test_satisfaction_by_officer_procedure_and_month_on_hand_made_ratings(
    box: Box, clock: FakeClock, officer: User
) -> None:
    db = box.db()
    birth = intake.receive_dossier(box, officer, dossier_body())
    other = intake.receive_dossier(box, User("canbo2", "officer"), dossier_body("1.000894"))
    nov, dec = datetime(2026, 11, 25, 9, 0, tzinfo=TZ), datetime(2026, 12, 2, 10, 0, tzinfo=TZ)
    b, o = birth["dossier_id"], other["dossier_id"]
    # November, 5 levels: canbo on the birth dossier 1, 2, 3 (2 satisfied of 3); canbo2 on the other 1, 5.
    for level in (1, 2, 3):
        _rate(box, clock, nov, level, 5, dossier_id=b, officer="canbo")
    for level in (1, 5):
        _rate(box, clock, nov, level, 5, dossier_id=o, officer="canbo2")
    # December, switched to 3 levels: canbo 1, 1, 2 on the birth dossier (2 of 3); one with no subject: 1.
    for level in (1, 1, 2):
        _rate(box, clock, dec, level, 3, dossier_id=b, officer="canbo")
    _rate(box, clock, dec, 1, 3, dossier_id=None, officer=None)
    _rate(box, clock, datetime(2027, 1, 1, 0, 0, tzinfo=TZ), 1, 3, officer="canbo")  # the day after the range
    _rate(box, clock, datetime(2026, 10, 31, 23, 59, tzinfo=TZ), 5, 5, officer="canbo")  # the day before

    found = satisfaction.satisfaction(db, date(2026, 11, 1), date(2026, 12, 31), scale=3)
    by_officer = {r.key: (r.label, r.ratings, r.satisfied) for r in found.by["officer"] if not r.is_total}
    assert by_officer["canbo"][1:] == (6, 4) and by_officer["canbo2"][1:] == (2, 1)
    assert by_officer[""] == ("Không rõ cán bộ", 1, 1)
    assert found.by["officer"][-1].is_total and (found.by["officer"][-1].ratings, found.by["officer"][-1].satisfied) == (
        9, 6
    )  # fmt: skip
    assert found.by["officer"][-1].rate == pytest.approx(6 / 9)
    by_procedure = {r.key: (r.ratings, r.satisfied) for r in found.by["procedure"] if not r.is_total}
    assert by_procedure == {"1.001193": (6, 4), "1.000894": (2, 1), "": (1, 1)}
    assert found.by["procedure"][0].label.startswith("1.00")
    by_month = [(r.key, r.label, r.ratings, r.satisfied) for r in found.by["month"]]
    assert by_month == [("2026-11", "11/2026", 5, 3), ("2026-12", "12/2026", 4, 3), ("", "Tổng cộng", 9, 6)]
    levels = {(c.scale, c.level): (c.count, c.satisfied) for c in found.levels}
    assert levels == {(5, 1): (2, True), (5, 2): (1, True), (5, 3): (1, False), (5, 4): (0, False),
                      (5, 5): (1, False), (3, 1): (3, True), (3, 2): (1, False), (3, 3): (0, False)}  # fmt: skip
    assert found.rejected == 0 and found.evaluations == 0
    assert all(m.mean is None for m in found.indicators)
    only_5 = satisfaction.satisfaction(db, date(2026, 11, 1), date(2026, 11, 30), scale=5)
    assert {c.scale for c in only_5.levels} == {5}


def test_evaluation_means_per_indicator_and_rejected_presses_in_the_range(
    box: Box, clock: FakeClock, officer: User
) -> None:
    db = box.db()
    codes = [intake.receive_dossier(box, officer, dossier_body())["code"] for _ in range(3)]
    evaluation.record_evaluation(db, codes[0], GOOD, "kiosk", clock())
    evaluation.record_evaluation(db, codes[1], {**GOOD, "attitude": 0, "visits": 1}, "tablet", clock())
    evaluation.record_evaluation(db, codes[2], {**GOOD, "attitude": 1}, "kiosk", datetime(2026, 12, 1, tzinfo=TZ))
    with pytest.raises(ValidationError):
        ratings.record_rating(db, 1, 4, 3, "keypad", now=clock())
    found = satisfaction.satisfaction(db, date(2026, 11, 1), date(2026, 11, 30))
    means = {m.key: m.mean for m in found.indicators}
    assert found.evaluations == 2 and found.rejected == 1
    assert means["attitude"] == 1.0 and means["visits"] == 1.5 and means["total_time"] == 2.0
    assert means["total"] == pytest.approx((18 + 15) / 2)
    assert [m.number for m in found.indicators] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]


def test_the_csv_and_the_workbook_hold_the_figures(box: Box, clock: FakeClock, officer: User) -> None:
    db = box.db()
    dossier = intake.receive_dossier(box, officer, dossier_body())
    for level in (1, 2, 4, 5):
        _rate(box, clock, clock(), level, 5, dossier_id=dossier["dossier_id"], officer="canbo")
    evaluation.record_evaluation(db, dossier["code"], {**GOOD, "online": 1}, "kiosk", clock())
    found = satisfaction.satisfaction(db, date(2026, 11, 1), date(2026, 11, 30))
    lines = satisfaction.rows_csv(found.by["officer"]).decode("utf-8-sig").splitlines()
    assert lines[0] == "Mã,Cán bộ,Số lượt đánh giá,Hài lòng,Tỷ lệ hài lòng (%)"
    assert lines[1].startswith("canbo,") and lines[1].endswith(",4,2,50.0")
    assert lines[-1] == ",Tổng cộng,4,2,50.0"
    book = load_workbook(io.BytesIO(satisfaction.workbook_xlsx(found, "Mức độ hài lòng")))
    assert book.sheetnames == ["Theo cán bộ", "Theo thủ tục hành chính", "Theo tháng", "Số lượt theo mức",
                               "Đánh giá 9 chỉ số"]  # fmt: skip
    month = book["Theo tháng"]
    assert [c.value for c in month[3]] == ["2026-11", "11/2026", 4, 2, 0.5]
    assert month["E3"].number_format == "0.0%"
    levels = [[c.value for c in row] for row in book["Số lượt theo mức"].iter_rows(min_row=3)]
    assert levels[0] == [5, 1, "Rất hài lòng", "Có", 1] and levels[3] == [5, 4, "Không hài lòng", "Không", 1]
    indicators = [[c.value for c in row] for row in book["Đánh giá 9 chỉ số"].iter_rows(min_row=3)]
    assert (
        indicators[8][2] == "1,00"
        and indicators[0][2] == "2,00"
        and indicators[9][:4] == [None, "Tổng điểm", "17,00", 18]
    )
    assert indicators[8][4] == 0.5 and indicators[9][4] == pytest.approx(17 / 18)


def test_queue_tickets_tie_an_evaluation_to_the_ticket(box: Box, clock: FakeClock, officer: User) -> None:
    db = box.db()
    dossier = intake.receive_dossier(box, officer, dossier_body())
    ticket = queue.issue_ticket(db, "HT", clock())
    queue.call_next(db, 1, "canbo", clock())
    queue.finish(db, ticket["id"], clock(), dossier_id=dossier["dossier_id"])
    stored = evaluation.record_evaluation(db, dossier["code"], GOOD, "kiosk", clock())
    assert (stored["ticket"], stored["officer"], stored["points"]) == (ticket["id"], "canbo", 18)


def test_a_reopened_box_keeps_the_switched_scale(box_settings: Settings, clock: FakeClock) -> None:
    update_config_file(box_settings.data_dir, {"rating_scale": 3})
    reopened = open_box(box_settings.data_dir, clock=clock)
    try:
        assert reopened.settings.rating_scale == 3
    finally:
        reopened.close()
