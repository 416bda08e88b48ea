"""Accent-insensitive search over code, name, CCCD and phone."""

from __future__ import annotations

from edge import intake
from edge.box import Box
from edge.queries import ListQuery, list_dossiers
from edge.users import User
from tests.conftest import FakeClock, applicant, dossier_body


def codes(box: Box, clock: FakeClock, q: str) -> list[str]:
    return [d["code"] for d in list_dossiers(box.db(), ListQuery(q=q), clock())["items"]]


def test_search_ignores_accents_and_case(box: Box, officer: User, clock: FakeClock) -> None:
    a = intake.receive_dossier(box, officer, dossier_body(applicant=applicant(full_name="Nguyễn Văn A")))["code"]
    b = intake.receive_dossier(box, officer, dossier_body(applicant=applicant(full_name="Đỗ Thị Ánh")))["code"]
    assert codes(box, clock, "nguyen van a") == [a]
    assert codes(box, clock, "NGUYỄN") == [a]
    assert codes(box, clock, "do thi anh") == [b]
    assert codes(box, clock, "đỗ ánh") == [b]
    assert codes(box, clock, "tran") == []


def test_search_by_cccd_phone_and_code(box: Box, officer: User, clock: FakeClock) -> None:
    first = intake.receive_dossier(box, officer, dossier_body())["code"]
    other = applicant(id_number="001099000111", phone="0987654321", full_name="Lê Văn Bình")
    second = intake.receive_dossier(box, officer, dossier_body(applicant=other))["code"]
    assert codes(box, clock, "001099012345") == [first]
    assert codes(box, clock, "0010990") == [second, first]  # a CCCD prefix, newest first
    assert codes(box, clock, "0987 654 321") == []  # spaces split the number into other words
    assert codes(box, clock, "0987654321") == [second]
    assert codes(box, clock, first) == [first]
    assert codes(box, clock, first.split("-", 1)[1]) == [first]  # date and sequence without the agency


def test_a_whole_code_finds_exactly_that_dossier(box: Box, officer: User, clock: FakeClock) -> None:
    # The sequence "0010" also starts CCCDs of men born in Hà Nội ("0010…"): a whole code must
    # find its own dossier, not every dossier of the day whose CCCD starts that way.
    many = [intake.receive_dossier(box, officer, dossier_body(applicant=applicant(id_number=f"0010990{i:05d}")))
            for i in range(10)]  # fmt: skip
    assert many[9]["code"].endswith("-0010")
    assert codes(box, clock, many[9]["code"]) == [many[9]["code"]]


def test_the_search_index_has_prefix_indexes(box: Box) -> None:
    sql = box.db().execute("SELECT sql FROM sqlite_master WHERE name = 'dossier_search'").fetchone()[0]
    assert "prefix" in sql


def test_code_typed_loosely_or_without_the_agency(box: Box, officer: User, clock: FakeClock) -> None:
    many = [intake.receive_dossier(box, officer, dossier_body(applicant=applicant(id_number=f"0010990{i:05d}")))
            for i in range(10)]  # fmt: skip
    code = many[9]["code"]  # 000.17.22.H56-261125-0010
    assert codes(box, clock, code.lower()) == [code]
    assert codes(box, clock, code.replace("-", " - ")) == [code]
    assert codes(box, clock, "261125-0010") == [code]
    assert codes(box, clock, "261125 - 0010") == [code]


def test_name_with_a_whole_cccd_finds_that_person(box: Box, officer: User, clock: FakeClock) -> None:
    first = intake.receive_dossier(box, officer, dossier_body())["code"]  # Nguyễn Văn An, 001099012345
    other = applicant(full_name="Nguyễn Văn Bình", id_number="001099000111")
    second = intake.receive_dossier(box, officer, dossier_body(applicant=other))["code"]
    again = intake.receive_dossier(box, officer, dossier_body())["code"]
    assert codes(box, clock, "nguyen van an 001099012345") == [again, first]
    assert codes(box, clock, "Nguyễn Văn Bình 001099000111") == [second]
    assert codes(box, clock, "nguyen van binh 001099012345") == []
    assert codes(box, clock, "001099000111") == [second]
    page = list_dossiers(box.db(), ListQuery(q="nguyen 001099012345", limit=1), clock())
    assert [d["code"] for d in page["items"]] == [again] and page["next_cursor"]
    rest = list_dossiers(box.db(), ListQuery(q="nguyen 001099012345", cursor=int(page["next_cursor"])), clock())
    assert [d["code"] for d in rest["items"]] == [first]
