"""End-of-day cash-up: totals by method and officer, expected against counted cash, closing once, export."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from edge import cashier, cashup
from edge.box import Box
from edge.errors import ConflictError, PermissionDeniedError, ValidationError
from edge.users import User
from tests.conftest import FakeClock
from tests.test_cashier import LEADER, OFFICER, OFFICER2, cash, new_dossier, qr, with_vietqr

DAY = "2026-11-25"


def test_the_day_is_summed_by_method_and_officer(box: Box, clock: FakeClock) -> None:
    with_vietqr(box)
    a, b, c = (new_dossier(box)["code"] for _ in range(3))
    cash(box, a, 16_000)
    kept = cash(box, b, 8_000, actor=OFFICER2)
    voided = cash(box, b, 8_000, actor=OFFICER2)
    cashier.cancel(box, voided["id"], "Thu trùng hai lần", LEADER)
    transfer = qr(box, c, 10_000)
    cashier.confirm_vietqr(box, transfer["id"], OFFICER)
    waiting = qr(box, c, 6_000)
    cashier.refund(box, kept["id"], 3_000, "Miễn phí bản sao", LEADER)
    clock.advance(days=1)
    cash(box, new_dossier(box)["code"], 1_000)  # the next day's: not in this day's sums
    s = cashup.day_summary(box.db(), DAY)
    assert s["by_method"] == {"cash": 24_000, "card": 0, "vietqr": 10_000}
    assert (s["total"], s["refunds_total"], s["net"]) == (34_000, 3_000, 31_000)
    officers = {o["officer"]: o for o in s["by_officer"]}
    assert (officers["canbo"]["cash"], officers["canbo"]["vietqr"], officers["canbo"]["expected_cash"]) == (
        16_000,
        10_000,
        16_000,
    )
    assert (officers["canbo2"]["cash"], officers["canbo2"]["expected_cash"]) == (8_000, 8_000)
    assert officers["lanhdao"]["refunds"] == 3_000 and officers["lanhdao"]["expected_cash"] == -3_000
    assert [p["receipt_number"] for p in s["payments"]] == ["0000001", "0000002", "0000004"]
    assert [p["id"] for p in s["cancellations"]] == [voided["id"]]
    assert [p["id"] for p in s["pending_vietqr"]] == [waiting["id"]] and not s["blocked"]


def test_closing_flags_the_differences_and_happens_once(box: Box) -> None:
    a = new_dossier(box)["code"]
    cash(box, a, 10_000)
    cash(box, a, 6_000, actor=OFFICER2)
    with pytest.raises(PermissionDeniedError):
        cashup.close_day(
            box.db(), DAY, {"canbo": 10_000, "canbo2": 6_000}, "", User("kythuat", "technician"), box.now()
        )
    with pytest.raises(ValidationError) as missing:
        cashup.close_day(box.db(), DAY, {"canbo": 10_000}, "", OFFICER, box.now())
    assert missing.value.code == "counts_missing" and "canbo2" in missing.value.vi
    with pytest.raises(ValidationError) as negative:
        cashup.close_day(box.db(), DAY, {"canbo": -1, "canbo2": 6_000}, "", OFFICER, box.now())
    assert negative.value.code == "invalid_counts"
    closed = cashup.close_day(box.db(), DAY, {"canbo": 10_000, "canbo2": 5_000}, "Thiếu 5.000 ₫", LEADER, box.now())
    assert closed["discrepancy"] and closed["closed_by"] == "lanhdao" and closed["note"] == "Thiếu 5.000 ₫"
    assert closed["counts"] == [
        {"officer": "canbo", "expected": 10_000, "counted": 10_000, "difference": 0, "flagged": False},
        {"officer": "canbo2", "expected": 6_000, "counted": 5_000, "difference": -1_000, "flagged": True},
    ]
    assert closed["summary"]["total"] == 16_000
    assert cashup.day_summary(box.db(), DAY)["closed"] == cashup.get_cashup(box.db(), DAY) == closed
    with pytest.raises(ConflictError) as again:
        cashup.close_day(box.db(), DAY, {"canbo": 10_000, "canbo2": 6_000}, "", LEADER, box.now())
    assert again.value.code == "cashup_closed"
    assert cashup.get_cashup(box.db(), "2026-11-24") is None
    with pytest.raises(ValidationError):
        cashup.close_day(box.db(), "2026-11-26", {}, "", LEADER, box.now())  # tomorrow
    with pytest.raises(ValidationError):
        cashup.day_summary(box.db(), "25/11/2026")


def test_the_cashup_exports_as_csv_and_excel(box: Box) -> None:
    a = new_dossier(box)["code"]
    paid = cash(box, a, 16_000)
    cashier.refund(box, paid["id"], 1_000, "Thu thừa một nghìn", LEADER)
    summary = cashup.day_summary(box.db(), DAY)
    rows = list(csv.reader(io.StringIO(cashup.cashup_csv(summary).decode("utf-8-sig"))))
    assert rows[0][0] == "Loại" and rows[0][6] == "Số tiền (đồng)"
    assert rows[1] == ["Thu", "25/11/2026 09:00", a, "BL26 – 0000001", "Tiền mặt", "canbo", "16000", ""]
    assert rows[2][0] == "Hoàn tiền" and rows[2][6] == "-1000" and rows[2][7] == "Thu thừa một nghìn"
    assert rows[-1][4:7] == ["Thực thu", "", "15000"]
    book = load_workbook(io.BytesIO(cashup.cashup_xlsx(summary, "Kết sổ thu ngày 25/11/2026")))
    sheet = book.active
    assert sheet is not None and sheet["A1"].value == "Kết sổ thu ngày 25/11/2026" and sheet["G3"].value == 16_000
