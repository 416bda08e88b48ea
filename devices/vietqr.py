"""VietQR payloads (NAPAS, EMVCo merchant-presented QR) for paying fees by bank transfer.

A payload is a string of TLV fields: two-digit id, two-digit length, value. The fields used here
are the ones DOMAIN.md lists: `00` format "01"; `01` "11" static / "12" dynamic (with an
amount); `38` the NAPAS account (`00` GUID A000000727, `01` with `00` bank BIN and `01` account,
`02` service QRIBFTTA); `53` currency "704"; `54` amount in VND; `58` "VN"; `62` with `08` the
purpose (ASCII only); `63` CRC-16/CCITT-FALSE over everything before it including "6304".
"""

from __future__ import annotations

import unicodedata

from devices.errors import DeviceError

NAPAS_GUID = "A000000727"
SERVICE_TO_ACCOUNT = "QRIBFTTA"
CURRENCY_VND = "704"
PURPOSE_MAX = 25  # ID 62-08 is "ans, up to 25" in the NAPAS table


class VietQRError(DeviceError):
    """A VietQR parameter or payload that is not valid."""

    code = "bad_vietqr"


def crc16_ccitt_false(data: bytes) -> int:
    """Return the CRC-16/CCITT-FALSE of data (poly 0x1021, init 0xFFFF, no reflection, no xor out)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _tlv(tag: str, value: str) -> str:
    if len(value) > 99:
        raise VietQRError(
            f"Trường {tag} của mã VietQR dài quá 99 ký tự.", f"VietQR field {tag} is longer than 99 characters."
        )
    return f"{tag}{len(value):02d}{value}"


def ascii_purpose(text: str) -> str:
    """Return text as plain ASCII for field 62-08: Vietnamese marks dropped, đ→d, Đ→D, spaces kept."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in text if not unicodedata.combining(ch))
    plain = "".join(ch if 32 <= ord(ch) < 127 else " " for ch in plain)
    return " ".join(plain.split())


def vietqr_payload(bank_bin: str, account: str, amount: int | None = None, purpose: str | None = None) -> str:
    """Return the VietQR payload for a transfer to account at bank_bin; dynamic when amount is given."""
    if not (isinstance(bank_bin, str) and len(bank_bin) == 6 and bank_bin.isascii() and bank_bin.isdigit()):
        raise VietQRError(
            f"Mã BIN ngân hàng “{bank_bin}” phải có đúng 6 chữ số.", f"Bank BIN “{bank_bin}” must be exactly 6 digits."
        )
    if not (isinstance(account, str) and 1 <= len(account) <= 19 and account.isascii() and account.isalnum()):
        raise VietQRError(
            f"Số tài khoản “{account}” phải gồm 1–19 chữ hoặc số, không dấu.",
            f"Account “{account}” must be 1–19 ASCII letters or digits.",
        )
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount < 10**13):
        raise VietQRError(
            f"Số tiền {amount!r} phải là số nguyên dương (đồng).", f"Amount {amount!r} must be a positive whole VND."
        )
    beneficiary = _tlv("00", bank_bin) + _tlv("01", account)
    merchant = _tlv("00", NAPAS_GUID) + _tlv("01", beneficiary) + _tlv("02", SERVICE_TO_ACCOUNT)
    parts = [_tlv("00", "01"), _tlv("01", "11" if amount is None else "12"), _tlv("38", merchant)]
    parts.append(_tlv("53", CURRENCY_VND))
    if amount is not None:
        parts.append(_tlv("54", str(amount)))
    parts.append(_tlv("58", "VN"))
    if purpose:
        text = ascii_purpose(purpose)[:PURPOSE_MAX].rstrip()
        if text:
            parts.append(_tlv("62", _tlv("08", text)))
    body = "".join(parts) + "6304"
    return body + f"{crc16_ccitt_false(body.encode('ascii')):04X}"


def _bad(payload: str, vi: str, en: str) -> VietQRError:
    return VietQRError(f"Mã VietQR không hợp lệ: {vi}.", f"Invalid VietQR payload: {en}.", payload=payload)


def parse_tlv(payload: str) -> dict[str, str]:
    """Split one level of TLV fields into {id: value}; raise VietQRError when the framing is broken."""
    if not isinstance(payload, str) or not payload.isascii():
        raise _bad(str(payload), "chỉ được chứa ký tự ASCII", "only ASCII characters are allowed")
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(payload):
        head = payload[pos : pos + 4]
        if len(head) < 4 or not head.isdigit():
            raise _bad(payload, f"đầu trường hỏng ở vị trí {pos}", f"broken field header at position {pos}")
        tag, size = head[:2], int(head[2:])
        value = payload[pos + 4 : pos + 4 + size]
        if len(value) != size:
            raise _bad(payload, f"trường {tag} bị cắt cụt", f"field {tag} is truncated")
        if tag in fields:
            raise _bad(payload, f"trường {tag} lặp lại", f"field {tag} appears twice")
        fields[tag] = value
        pos += 4 + size
    return fields


def check_payload(payload: str) -> dict[str, str]:
    """Check a VietQR payload's CRC and structure; return its top-level fields or raise VietQRError."""
    fields = parse_tlv(payload)
    if not payload.endswith(f"6304{fields.get('63', '')}") or len(fields.get("63", "")) != 4:
        raise _bad(payload, "thiếu mã kiểm tra 63 ở cuối", "the 63 checksum field is not last")
    expected = f"{crc16_ccitt_false(payload[:-4].encode('ascii')):04X}"
    if fields["63"].upper() != expected:
        raise _bad(
            payload, f"sai mã kiểm tra (ghi {fields['63']}, tính ra {expected})", f"CRC {fields['63']} != {expected}"
        )
    for tag, want in (("00", "01"), ("53", CURRENCY_VND), ("58", "VN")):
        if fields.get(tag) != want:
            raise _bad(payload, f"trường {tag} phải là “{want}”", f"field {tag} must be “{want}”")
    if fields.get("01") not in ("11", "12"):
        raise _bad(payload, "trường 01 phải là 11 hoặc 12", "field 01 must be 11 or 12")
    merchant = parse_tlv(fields.get("38", ""))
    if merchant.get("00") != NAPAS_GUID:
        raise _bad(payload, "trường 38 không mang mã NAPAS A000000727", "field 38 lacks the NAPAS GUID A000000727")
    beneficiary = parse_tlv(merchant.get("01", ""))
    if not beneficiary.get("00", "").isdigit() or not beneficiary.get("01"):
        raise _bad(payload, "thiếu mã BIN hoặc số tài khoản", "the bank BIN or the account is missing")
    if "54" in fields and not (fields["54"].isdigit() and int(fields["54"]) > 0):
        raise _bad(payload, "số tiền phải là số nguyên dương", "the amount must be a positive integer")
    if "62" in fields:
        parse_tlv(fields["62"])
    return fields
