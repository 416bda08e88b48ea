"""The end-of-day cash-up page on a real box file, CSRF on: blocked by an unknown card payment, closed, exported."""

from __future__ import annotations

import csv
import io
import re

from flask import Flask
from openpyxl import load_workbook

from edge import cashier, cashup
from edge.appliance import Devices
from edge.box import Box
from tests.test_ui_fees import (
    LEADER,
    OFFICER,
    OFFICER2,
    error_of,
    flashes,
    new_code,
    send,
    signed_in,
    simulator,
    token,
    wired,
)

__all__ = ["wired"]  # the fixture, shared with the fee screens' tests
DAY = "2026-11-25"
PAGE = f"/payments/cashup?day={DAY}"


def test_an_unknown_card_payment_blocks_the_close_until_it_is_reconciled(wired: tuple[Flask, Box, Devices]) -> None:
    app, box, devices = wired
    sim = simulator(devices)
    cashier.take_payment(box, None, new_code(box), "cash", 16_000, OFFICER, received=20_000)
    code = new_code(box)
    sim.mode = "silent_mid"  # the terminal charges, its answer breaks off
    lost = cashier.take_payment(box, devices, code, "card", 16_000, OFFICER)
    assert lost["status"] == "unknown"

    client = signed_in(app, "canbo")
    page = client.get(PAGE).text
    unknown = page.index("data-unknown-cards")
    assert unknown < page.index("data-by-method")  # shown first
    assert f'data-unknown="{lost["id"]}"' in page and f'href="/payments/{lost["id"]}">Đối soát' in page
    assert re.search(r"data-close disabled", page) and "data-blocked" in page
    sent = client.post("/payments/cashup/close", data={"day": DAY, "officer": "canbo", "counted_canbo": "16.000",
                                                       "csrf_token": token(page)})  # fmt: skip
    assert sent.status_code == 409 and "đối soát với máy POS rồi mới kết sổ" in error_of(sent.text, "form")
    assert cashup.get_cashup(box.db(), DAY) is None

    sim.mode = "approve"
    send(client, f"/payments/{lost['id']}", f"/payments/{lost['id']}/reconcile", {})
    page = client.get(PAGE).text
    assert "data-unknown-cards" not in page and "data-blocked" not in page
    assert re.search(r'data-method="card"><td>Thẻ</td><td class="num">16\.000 ₫', page)
    assert re.search(r"data-total>32\.000 ₫<", page)
    _, closed = send(client, PAGE, "/payments/cashup/close",
                     {"day": DAY, "officer": "canbo", "counted_canbo": "15.000", "note": "Thiếu 1.000 đ"})  # fmt: skip
    assert "Đã kết sổ ngày 25/11/2026." in flashes(closed)
    assert 'data-closed="yes"' in closed and "Có chênh lệch tiền mặt." in closed
    assert re.search(r'data-officer="canbo" class="flagged" data-flagged>.*?−?-1\.000 ₫', closed, re.S)
    stored = cashup.get_cashup(box.db(), DAY)
    assert stored is not None and stored["discrepancy"] and stored["counts"][0]["difference"] == -1_000
    again = client.post("/payments/cashup/close", data={"day": DAY, "officer": "canbo", "counted_canbo": "16000",
                                                        "csrf_token": token(closed)})  # fmt: skip
    assert again.status_code == 409 and "đã kết sổ" in error_of(again.text, "form")


def test_wrong_counts_are_refused_by_their_input_and_nothing_closes(wired: tuple[Flask, Box, Devices]) -> None:
    app, box, _ = wired
    cashier.take_payment(box, None, new_code(box), "cash", 16_000, OFFICER, received=16_000)
    cashier.take_payment(box, None, new_code(box), "cash", 8_000, OFFICER2, received=8_000)
    client = signed_in(app, "lanhdao")
    page = client.get(PAGE).text
    assert 'data-count-row="canbo"' in page and 'data-count-row="canbo2"' in page
    base = {"day": DAY, "officer": ["canbo", "canbo2"], "csrf_token": token(page)}
    sent = client.post("/payments/cashup/close", data={**base, "counted_canbo": "mười sáu", "counted_canbo2": "8000"})
    assert sent.status_code == 422 and "Số tiền phải là số nguyên đồng" in error_of(sent.text, "counted_canbo")
    assert 'value="mười sáu"' in sent.text  # what was typed stays
    sent = client.post("/payments/cashup/close", data={**base, "counted_canbo": "16000", "counted_canbo2": ""})
    assert sent.status_code == 422 and "Chưa nhập tiền mặt đếm được của: canbo2" in error_of(sent.text, "form")
    sent = client.post("/payments/cashup/close", data={**base, "day": "2026-11-26", "counted_canbo": "16000",
                                                       "counted_canbo2": "8000"})  # fmt: skip
    assert sent.status_code == 422 and "chưa tới" in error_of(sent.text, "form")
    assert cashup.get_cashup(box.db(), DAY) is None
    assert client.get("/payments/cashup?day=hom-nay").status_code == 422
    _, closed = send(
        client, PAGE, "/payments/cashup/close", {**base, "counted_canbo": "16.000", "counted_canbo2": "8.000"}
    )
    assert "Đã kết sổ ngày 25/11/2026." in flashes(closed) and "Có chênh lệch tiền mặt." not in closed
    assert signed_in(app, "kythuat").get(PAGE).status_code == 403


def test_the_day_prints_on_a4_and_exports_to_csv_and_excel(wired: tuple[Flask, Box, Devices]) -> None:
    app, box, _ = wired
    kept = cashier.take_payment(box, None, new_code(box), "cash", 16_000, OFFICER, received=20_000)
    cashier.refund(box, kept["id"], 8_000, "Miễn phí bản sao", LEADER)
    client = signed_in(app, "canbo")
    printed = client.get(f"/payments/cashup/print?day={DAY}")
    assert printed.status_code == 200 and "SỔ KẾT THU PHÍ, LỆ PHÍ NGÀY 25/11/2026" in printed.text
    assert "CHƯA KẾT SỔ" in printed.text and "Miễn phí bản sao" in printed.text

    got = client.get(f"/payments/cashup/export.csv?day={DAY}")
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))
    assert rows[0][0] == "Loại" and [r[0] for r in rows[1:3]] == ["Thu", "Hoàn tiền"]
    assert rows[2][6] == "-8000"

    got = client.get(f"/payments/cashup/export.xlsx?day={DAY}")
    assert got.status_code == 200 and "k%E1%BA%BFt-s%E1%BB%95" in got.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(got.data)).active
    assert sheet is not None
    values = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "Kết sổ thu tiền ngày 25/11/2026 – UBND xã Thử Nghiệm"
    assert [row[0] for row in values[2:4]] == ["Thu", "Hoàn tiền"] and (values[2][6], values[3][6]) == (16_000, -8_000)
    assert ("Tổng", None, None, None, "Thực thu", None, 8_000, None) in values
    assert client.get(f"/payments/cashup/export.pdf?day={DAY}").status_code == 422
