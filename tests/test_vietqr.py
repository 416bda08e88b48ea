"""VietQR payloads: CRC, generator against published vectors, parser and checker, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import DeviceError
from devices.vietqr import (
    ascii_purpose,
    check_payload,
    crc16_ccitt_false,
    parse_tlv,
    vietqr_payload,
)

# Published example strings (third-party READMEs; each ends with its CRC as published):
# - github.com/subiz/vietqr README: Generate(120000, "970415", "0011001932418", "ủng hộ lũ lụt")
SUBIZ = (
    "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA"
    "530370454061200005802VN62170813ung ho lu lut6304C15C"
)
# - github.com/duyquoc1508/napas-qr README (dynamic, 62 with bill number 01 and purpose 08)
NAPAS_QR = (
    "00020101021238530010A0000007270123000697041601092245284790208QRIBFTTA"
    "53037045405100005802VN62340107NPS68690819TRANSFER TO SOMEONE6304AC13"
)
# - pkg.go.dev/github.com/thanhtinhpas1/vietqr-parser README (format indicator "00": CRC only)
PARSER_README = "00020001021238570010A00000072701270006970436011308810004580860208QRIBFTTA53037045802VN6304CD60"


def test_crc_check_value() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc16_ccitt_false(b"") == 0xFFFF


@pytest.mark.parametrize("payload", [SUBIZ, NAPAS_QR, PARSER_README])
def test_crc_of_published_vectors(payload: str) -> None:
    assert f"{crc16_ccitt_false(payload[:-4].encode()):04X}" == payload[-4:]


def test_generator_matches_published_vector() -> None:
    assert vietqr_payload("970415", "0011001932418", 120000, "ủng hộ lũ lụt") == SUBIZ


def test_static_payload_fields() -> None:
    payload = vietqr_payload("970436", "0881000458086")
    fields = check_payload(payload)
    assert fields["01"] == "11"
    assert "54" not in fields and "62" not in fields
    assert payload.startswith("000201010211")
    assert fields["38"] == "0010A00000072701270006970436011308810004580860208QRIBFTTA"


def test_published_napas_vector_checks() -> None:
    fields = check_payload(NAPAS_QR)
    assert fields["54"] == "10000"
    assert parse_tlv(fields["62"]) == {"01": "NPS6869", "08": "TRANSFER TO SOMEONE"}


def test_purpose_is_ascii() -> None:
    assert ascii_purpose("Lệ phí hộ tịch: Đăng ký khai sinh") == "Le phi ho tich: Dang ky khai sinh"
    payload = vietqr_payload("970415", "123", 50000, "Đóng phí hồ sơ H01.02-2026 đợt 1 rất dài thêm")
    purpose = parse_tlv(check_payload(payload)["62"])["08"]
    assert purpose == "Dong phi ho so H01.02-202"
    assert len(purpose) <= 25 and purpose.isascii()


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (("97041", "1"), "BIN"),
        (("97041a", "1"), "BIN"),
        (("970415", ""), "Account"),
        (("970415", "số tài"), "Account"),
        (("970415", "1" * 20), "Account"),
        (("970415", "1", 0), "Amount"),
        (("970415", "1", -5), "Amount"),
    ],
)
def test_bad_parameters(args: tuple[object, ...], word: str) -> None:
    with pytest.raises(DeviceError) as err:
        vietqr_payload(*args)  # type: ignore[arg-type]
    assert word in err.value.en
    assert err.value.vi and err.value.vi != err.value.en


@pytest.mark.parametrize(
    ("payload", "word"),
    [
        (SUBIZ[:-1] + ("D" if SUBIZ[-1] != "D" else "E"), "CRC"),
        (SUBIZ[:-10], "truncated"),
        ("0002010102", "truncated"),
        ("00X2", "header"),
        ("Đ0020101", "ASCII"),
        (PARSER_README, "field 00"),
        ("000201010211" + "5303704" + "5802VN" + "6304", "truncated"),
    ],
)
def test_bad_payloads(payload: str, word: str) -> None:
    with pytest.raises(DeviceError) as err:
        check_payload(payload)
    assert word in err.value.en
    assert "VietQR" in err.value.vi


def test_missing_napas_guid() -> None:
    body = "000201010211" + "38080004ABCD" + "5303704" + "5802VN" + "6304"
    payload = body + f"{crc16_ccitt_false(body.encode()):04X}"
    with pytest.raises(DeviceError, match="NAPAS"):
        check_payload(payload)


@given(
    bank_bin=st.from_regex(r"\A9704[0-9]{2}\Z"),
    account=st.from_regex(r"\A[0-9A-Z]{1,19}\Z"),
    amount=st.one_of(st.none(), st.integers(min_value=1, max_value=10**12)),
    purpose=st.one_of(st.none(), st.text(alphabet="abcdđĐeêếệơưạ ABC0123.-", max_size=40)),
)
def test_round_trip(bank_bin: str, account: str, amount: int | None, purpose: str | None) -> None:
    payload = vietqr_payload(bank_bin, account, amount, purpose)
    fields = check_payload(payload)
    merchant = parse_tlv(fields["38"])
    assert parse_tlv(merchant["01"]) == {"00": bank_bin, "01": account}
    assert fields["01"] == ("11" if amount is None else "12")
    assert fields.get("54") == (None if amount is None else str(amount))
    if "62" in fields:
        text = parse_tlv(fields["62"])["08"]
        assert text.isascii() and 0 < len(text) <= 25
        assert text == ascii_purpose(purpose or "")[:25].rstrip()
    else:
        assert not ascii_purpose(purpose or "")
