"""Applicant autofill: the last dossier of a person, found by ID number."""

from __future__ import annotations

import pytest

from edge.applicants import APPLICANT_FIELDS, last_known, last_known_applicant, normalise_id_number
from edge.box import Box
from edge.intake import receive_dossier
from edge.users import User
from tests.conftest import FakeClock, applicant, dossier_body


def test_unknown_number_gives_none(box: Box) -> None:
    assert last_known_applicant(box.db(), "001099012345") is None


def test_returns_the_applicant_of_the_only_dossier(box: Box, officer: User) -> None:
    state = receive_dossier(box, officer, dossier_body())
    found = last_known_applicant(box.db(), "001099012345")
    assert found == {key: state["applicant"][key] for key in APPLICANT_FIELDS}
    assert found["full_name"] == "Nguyễn Văn An"
    assert found["date_of_birth"] == "1999-03-04"
    assert set(found) == set(APPLICANT_FIELDS)  # nothing else of the dossier leaks into the form


def test_the_most_recent_dossier_wins(box: Box, officer: User, clock: FakeClock) -> None:
    receive_dossier(box, officer, dossier_body(applicant=applicant(phone="0912345678")))
    clock.advance(days=1)
    later = receive_dossier(box, officer, dossier_body(applicant=applicant(phone="0987654321", address="Thôn Đông")))
    clock.advance(hours=1)
    receive_dossier(box, officer, dossier_body(applicant=applicant(id_number="079199012345", full_name="Trần Thị Bình",
                                                                  sex="female", date_of_birth="1999-01-01")))  # fmt: skip
    known = last_known(box.db(), "001099012345")
    assert known is not None
    assert known.code == later["code"]
    assert known.applicant["phone"] == "0987654321"
    assert known.applicant["address"] == "Thôn Đông"
    assert known.received_at == later["received_at"]


def test_same_number_written_differently_is_found(box: Box, officer: User) -> None:
    receive_dossier(box, officer, dossier_body())
    assert last_known_applicant(box.db(), " 001 099 012 345 ") is not None
    assert last_known_applicant(box.db(), "００１０９９０１２３４５") is not None  # full-width digits


def test_passport_numbers_are_matched_in_upper_case(box: Box, officer: User) -> None:
    body = dossier_body(applicant=applicant(id_type="passport", id_number="c1234567"))
    receive_dossier(box, officer, body)
    found = last_known_applicant(box.db(), "c1234567")
    assert found is not None and found["id_type"] == "passport" and found["id_number"] == "C1234567"


@pytest.mark.parametrize("value", ["", "   ", "0010990123", "x" * 200, "001099012345' OR 1=1 --", None, 12])
def test_unusable_or_partial_input_finds_nothing(box: Box, officer: User, value: object) -> None:
    receive_dossier(box, officer, dossier_body())
    assert last_known_applicant(box.db(), value) is None


def test_normalise_id_number() -> None:
    assert normalise_id_number(" 0010 9901 2345") == "001099012345"
    assert normalise_id_number("b7654321") == "B7654321"
    assert normalise_id_number("12-34") is None
    assert normalise_id_number("") is None
    assert normalise_id_number(["001099012345"]) is None
