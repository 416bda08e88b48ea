"""The payments API on a real `motcua serve` process: every answer checked against ui/openapi.yaml.

The box's card terminal is the Concert simulator (sim://terminal, started by the server itself);
VietQR is set up in motcua.toml with a bank notification token.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from openapi_core import OpenAPI

from devices.vietqr import check_payload, parse_tlv
from edge.box import open_box
from edge.calendar import TZ
from edge.config import Settings, update_config_file
from edge.users import create_token
from tests.conftest import Server, dossier_body, read_url, start_server, stop_server
from tests.test_openapi import SPEC_PATH, Checker

TOKEN = "thong-bao-ngan-hang-2026"


@pytest.fixture
def api(box_settings: Settings) -> Iterator[Server]:
    """A served box with a simulated card terminal and a VietQR account."""
    update_config_file(box_settings.data_dir, {
        "card_terminal": "sim://terminal", "vietqr_bank_bin": "970436", "vietqr_account": "0011001234567",
        "vietqr_account_name": "UBND XA THU NGHIEM", "vietqr_notify_token": TOKEN,
    })  # fmt: skip
    box = open_box(box_settings.data_dir)
    tokens = {u: create_token(box.db(), u) for u in ("canbo", "lanhdao", "kythuat")}
    box.close()
    process = start_server(box_settings)
    try:
        yield Server(read_url(process), box_settings, process, tokens)
    finally:
        stop_server(process)


@pytest.fixture
def check(api: Server) -> Checker:
    return Checker(OpenAPI.from_file_path(str(SPEC_PATH)), api)


def dossier(check: Checker) -> str:
    code: str = check("POST", "/api/v1/dossiers", 201, json=dossier_body())["code"]  # 16.000 ₫ due
    return code


def test_cash_card_and_vietqr_round_trips(check: Checker) -> None:
    code = dossier(check)
    paid = check(
        "POST", f"/api/v1/dossiers/{code}/payments", 201, json={"method": "cash", "amount": 5_000, "received": 10_000}
    )
    assert (paid["status"], paid["change"], paid["receipt_number"], paid["dossier_code"]) == (
        "approved",
        5_000,
        "0000001",
        code,
    )
    assert check("GET", f"/api/v1/payments/{paid['id']}", 200) == paid

    by_card = check("POST", f"/api/v1/dossiers/{code}/payments", 201, json={"method": "card", "amount": 3_000})
    assert (by_card["status"], by_card["receipt_number"]) == ("approved", "0000002")

    pending = check("POST", f"/api/v1/dossiers/{code}/payments", 201, json={"method": "vietqr", "amount": 8_000})
    assert pending["status"] == "pending" and pending["receipt_number"] is None
    fields = check_payload(pending["vietqr_payload"])
    assert fields["54"] == "8000" and parse_tlv(fields["62"])["08"] == code
    confirmed = check("POST", f"/api/v1/payments/{pending['id']}/confirm", 200)
    assert (confirmed["status"], confirmed["receipt_number"], confirmed["confirmed_by"]) == (
        "approved",
        "0000003",
        "canbo",
    )
    check("POST", f"/api/v1/payments/{pending['id']}/confirm", 409)
    over = check("POST", f"/api/v1/dossiers/{code}/payments", 422, json={"method": "cash", "amount": 1, "received": 1})
    assert over["error"]["code"] == "amount_exceeds_due"

    refunded = check("POST", f"/api/v1/payments/{paid['id']}/refund", 200, user="lanhdao",
                     json={"amount": 2_000, "reason": "Thu thừa hai nghìn"})  # fmt: skip
    assert refunded["refunded"] == 2_000
    too_much = check("POST", f"/api/v1/payments/{paid['id']}/refund", 422, user="lanhdao",
                     json={"amount": 3_001, "reason": "Hoàn thêm"})  # fmt: skip
    assert too_much["error"]["code"] == "refund_exceeds_payment"
    check("POST", f"/api/v1/payments/{paid['id']}/refund", 403, json={"amount": 1, "reason": "Hoàn thêm"})
    check("POST", f"/api/v1/payments/{by_card['id']}/cancel", 403, json={"reason": "Quẹt nhầm thẻ"})
    voided = check(
        "POST", f"/api/v1/payments/{by_card['id']}/cancel", 200, user="lanhdao", json={"reason": "Quẹt nhầm thẻ"}
    )
    assert (voided["status"], voided["receipt_number"]) == ("cancelled", "0000002")

    day = datetime.now(TZ).date().isoformat()
    summary = check("GET", f"/api/v1/cashups/{day}", 200)
    assert summary["by_method"] == {"cash": 5_000, "card": 0, "vietqr": 8_000} and summary["refunds_total"] == 2_000
    assert not summary["blocked"] and summary["closed"] is None
    check("GET", "/api/v1/cashups/hom-nay", 422)
    check("GET", f"/api/v1/cashups/{day}", 403, user="kythuat")


def test_bad_input_and_unknown_things(check: Checker) -> None:
    code = dossier(check)
    path = f"/api/v1/dossiers/{code}/payments"
    for body, field in (
        ({"method": "cash", "amount": -5, "received": 10}, "amount"),
        ({"method": "cash", "amount": 10**12, "received": 10**12}, "amount"),
        ({"method": "cash", "amount": "8000", "received": 8000}, "amount"),
        ({"method": "cash", "amount": 8_000}, "received"),
        ({"method": "sec", "amount": 8_000}, "method"),
    ):
        assert check("POST", path, 422, json=body)["error"].get("field") == field, body
    assert check("POST", path, 422, json={"method": "cash", "amount": 1, "tip": 1})["error"]["code"] == "invalid"
    check("POST", path, 400, data=b"{", headers={"Content-Type": "application/json"})
    check("POST", path, 401, user=None, json={"method": "cash", "amount": 1, "received": 1})
    check("POST", path, 403, user="kythuat", json={"method": "cash", "amount": 1, "received": 1})
    check(
        "POST",
        "/api/v1/dossiers/000.17.22.H56-261125-9999/payments",
        404,
        json={"method": "cash", "amount": 1, "received": 1},
    )
    check("GET", "/api/v1/payments/khong-co", 404)
    check("POST", "/api/v1/payments/khong-co/confirm", 404)
    check("POST", "/api/v1/payments/khong-co/refund", 404, user="lanhdao", json={"amount": 1, "reason": "Hoàn tiền"})
    check("POST", "/api/v1/payments/khong-co/cancel", 404, user="lanhdao", json={"reason": "Hủy khoản thu"})


def test_a_bank_notification_needs_the_token_and_a_matching_transfer(check: Checker, api: Server) -> None:
    code = dossier(check)
    pending = check("POST", f"/api/v1/dossiers/{code}/payments", 201, json={"method": "vietqr", "amount": 16_000})
    url = "/api/v1/payments/bank-notification"
    body: dict[str, Any] = {"dossier_code": code, "amount": 16_000, "description": f"{code} chuyen tien"}
    check("POST", url, 403, user=None, json=body)
    check("POST", url, 403, user=None, json=body, headers={"X-Notify-Token": "sai"})
    wrong = check("POST", url, 409, user=None, json=body | {"amount": 15_000}, headers={"X-Notify-Token": TOKEN})
    assert wrong["error"]["code"] == "amount_mismatch"
    paid = check("POST", url, 200, user=None, json=body, headers={"X-Notify-Token": TOKEN})
    assert (paid["id"], paid["status"], paid["confirmed_by"]) == (pending["id"], "approved", "bank")
    check("POST", url, 404, user=None, json=body, headers={"X-Notify-Token": TOKEN})
    check("POST", url, 404, user=None, json=body | {"dossier_code": "000.17.22.H56-261125-9999"},
          headers={"X-Notify-Token": TOKEN})  # fmt: skip
    check("POST", url, 422, user=None, json={"amount": 16_000}, headers={"X-Notify-Token": TOKEN})
    plain = requests.post(f"{api.url}{url}", json=body, headers=api.headers(), timeout=10)  # a user's token is no key
    assert plain.status_code == 403
