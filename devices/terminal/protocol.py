"""Ingenico Telium "Concert" (protocol E+, also called Concert v2) messages and framing, without any I/O.

Sources read (none copied): the French "Association du Paiement" description of the Concert
versions E, E+ and V3 (associationdupaiement.fr), pyTeliumManager (Ousret, `telium/payment.py`,
`telium/manager.py`), the JavaScript `ConcertProtocolMessage` of the "eve-connector" kiosks, and
PayXpert's Concert V3.20 notes (tags CD "type of action", CF "private field echoed back").

Link (both directions are the same): the sender writes ENQ and waits for ACK; writes
STX message ETX LRC and waits for ACK (NAK: send the frame again, at most 3 times); writes EOT.
LRC is the XOR of every byte after STX up to and including ETX. The box sends the request; the
terminal answers later (when the card holder is done) with its own ENQ … EOT session.

Request, box → terminal (34 ASCII characters):

    field          len  meaning
    pos              2  cash desk number, "01"
    amount           8  amount, zero-padded digits; VND has no minor units (ISO 4217 exponent 0),
                        so this is đồng as they are: at most 99,999,999 đ
    answer flag      1  "1": the answer carries the 55-character REP field
    payment mode     1  "1": card
    type             1  "0" debit (sale), "2" cancellation (void of a previous sale),
                        "T" last transaction (box extension, see below)
    currency         3  ISO 4217 numeric, "704" (VND)
    private         10  the box's payment id (1 to 10 printable ASCII characters, no spaces),
                        left-justified and space-padded; the terminal echoes it in its answer
    delay            4  "A010": answer at the end of the transaction (not "A011", immediately)
    authorization    4  "B010": the terminal decides whether to ask the bank

Answer, terminal → box (80 characters with REP, 25 without):

    pos              2  cash desk number
    status           1  "0" accepted, "7" not accepted, "9" request taken (immediate answers only)
    amount           8  amount, as in the request
    payment mode     1  "1" card
    REP             55  report; only when the answer flag was "1"
    currency         3  "704"
    private         10  the request's private field, echoed

REP: Concert E+ leaves its content to the terminal's payment application. Every terminal puts the
card number first, up to the first space (pyTeliumManager reads it so); this box reads that as
the (masked) card number. The rest is this box's layout, which the simulator fills and which a
real terminal may not: a terminal that does not follow it simply yields no authorization code and
no reason code (the outcome then comes from the status alone: "7" reads as declined):

    0-18   card number, masked (e.g. 970436******1234), space-padded
    19     space
    20-25  authorization code (6), spaces when none
    26     space
    27-28  ISO 8583 response code: "00" approved, "05" declined, "17" cancelled by the card
           holder, "25" no such transaction, "12" invalid transaction
    29     space
    30     type of the transaction reported: "0" sale, "2" void
    31     "V" when that sale has since been voided, else space
    32-49  spaces
    50-54  "MCX01" marker, only in answers to the last-transaction extension

Last transaction (box extension, labelled as such): Concert E+ has no message to learn the last
transaction's outcome (V3.20 terminals offer an action type "T", Transaction Status, but over the
V3 tag format, not E+). The box sends an ordinary E+ request with type "T", amount 00000000 and
spaces in the private field; a terminal that knows the extension answers with the last sale or
void it processed (private = that payment's id, REP marked "MCX01", response code "25" and status
"7" when it has none). A terminal that refuses it NAKs the frame or answers without the marker.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import xor

from devices.errors import DeviceError, DeviceProtocolError

ENQ = 0x05
ACK = 0x06
NAK = 0x15
EOT = 0x04
STX = 0x02
ETX = 0x03
CONTROL_BYTES = frozenset({ENQ, ACK, NAK, EOT})

TYPE_SALE = "0"
TYPE_VOID = "2"
TYPE_LAST = "T"  # box extension: last transaction
CURRENCY_VND = "704"
MAX_AMOUNT = 99_999_999
REFERENCE_LEN = 10
REP_LEN = 55
REQUEST_LEN = 34
ANSWER_LEN_FULL = 80
ANSWER_LEN_SHORT = 25
EXTENSION_MARK = "MCX01"
MAX_FRAME = 512  # longer than any Concert E+ message: anything beyond is noise

STATUS_ACCEPTED = "0"
STATUS_REFUSED = "7"
STATUS_TAKEN = "9"

RC_APPROVED = "00"
RC_DECLINED = "05"
RC_INVALID = "12"
RC_CANCELLED = "17"
RC_NO_RECORD = "25"


class TerminalRequestError(DeviceError):
    """A request the box asked for cannot be sent (amount out of range, bad payment id)."""

    code = "bad_terminal_request"


def lrc(data: bytes) -> int:
    """Return the Concert check byte: XOR of the bytes after STX up to and including ETX."""
    return reduce(xor, data, 0)


def frame(message: bytes) -> bytes:
    """Wrap a message as STX message ETX LRC."""
    if STX in message or ETX in message:
        raise TerminalRequestError(
            "Bản tin gửi máy POS không được chứa ký tự STX hoặc ETX.",
            "A message to the card terminal must not contain STX or ETX.",
        )
    body = message + bytes([ETX])
    return bytes([STX]) + body + bytes([lrc(body)])


@dataclass(frozen=True)
class Frame:
    """A complete frame whose LRC was right; `message` is what lay between STX and ETX."""

    message: bytes


@dataclass(frozen=True)
class BadFrame:
    """A frame whose LRC was wrong or that was too long; the link answers it with NAK."""

    raw: bytes
    reason: str


@dataclass(frozen=True)
class Control:
    """A control byte (ENQ, ACK, NAK, EOT) seen outside a frame."""

    byte: int


Event = Frame | BadFrame | Control


class FrameReader:
    """Turn chunks of bytes, split anywhere, into Frame / BadFrame / Control events.

    Bytes outside a frame that are not control bytes are noise and only counted. A STX inside a
    frame starts the frame again (the sender restarted), so noise that holds a STX loses at most
    that noise.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_frame = False
        self._want_lrc = False
        self.noise = 0

    def feed(self, data: bytes) -> list[Event]:
        """Consume bytes; return the events they complete, in order."""
        events: list[Event] = []
        for byte in data:
            if self._want_lrc:
                self._want_lrc = self._in_frame = False
                body = bytes(self._buf)
                self._buf.clear()
                if lrc(body) == byte:
                    events.append(Frame(body[:-1]))
                else:
                    events.append(BadFrame(bytes([STX]) + body + bytes([byte]), "lrc"))
            elif self._in_frame:
                if byte == STX:
                    self.noise += len(self._buf) + 1
                    self._buf.clear()
                    continue
                self._buf.append(byte)
                if byte == ETX:
                    self._want_lrc = True
                elif len(self._buf) > MAX_FRAME:
                    events.append(BadFrame(bytes([STX]) + bytes(self._buf), "too_long"))
                    self._buf.clear()
                    self._in_frame = False
            elif byte == STX:
                self._in_frame = True
            elif byte in CONTROL_BYTES:
                events.append(Control(byte))
            else:
                self.noise += 1
        return events

    @property
    def in_frame(self) -> bool:
        """Whether a frame has started and is not complete yet."""
        return self._in_frame


def check_amount(amount: int, *, allow_zero: bool = False) -> int:
    """Return amount if it fits Concert's 8-digit field in whole đồng, else raise TerminalRequestError."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TerminalRequestError(
            "Số tiền phải là số nguyên đồng.", "The amount must be a whole number of đồng.", amount=repr(amount)
        )
    low = 0 if allow_zero else 1
    if not low <= amount <= MAX_AMOUNT:
        raise TerminalRequestError(
            f"Số tiền {amount:,} đ ngoài khoảng máy POS nhận được (1 đến 99.999.999 đ).".replace(",", "."),
            f"The amount {amount:,} VND is outside what the card terminal takes (1 to 99,999,999 VND).",
            amount=amount,
        )
    return amount


def check_reference(reference: str) -> str:
    """Return the payment id if it fits the private field (1-10 printable ASCII, no spaces), else raise."""
    ok = (
        isinstance(reference, str)
        and 1 <= len(reference) <= REFERENCE_LEN
        and all("!" <= ch <= "~" for ch in reference)
    )
    if not ok:
        raise TerminalRequestError(
            f"Mã thanh toán “{reference}” không gửi được cho máy POS: cần 1 đến 10 ký tự ASCII, không dấu cách.",
            f"Payment id “{reference}” cannot be sent to the card terminal: 1 to 10 ASCII characters, no spaces.",
            reference=repr(reference),
        )
    return reference


@dataclass(frozen=True)
class Request:
    """A box → terminal request (sale, void, or the last-transaction extension)."""

    kind: str
    amount: int
    reference: str = ""
    pos: str = "01"
    currency: str = CURRENCY_VND

    def encode(self) -> bytes:
        """Return the 34-character message (without STX/ETX/LRC)."""
        text = f"{self.pos}{self.amount:08d}11{self.kind}{self.currency}{self.reference:<{REFERENCE_LEN}}A010B010"
        return text.encode("ascii")

    @classmethod
    def parse(cls, message: bytes) -> Request:
        """Read a request (the simulator's side); raise DeviceProtocolError on bad bytes."""
        text = _ascii(message, "yêu cầu", "request")
        if len(text) != REQUEST_LEN:
            raise _bad("yêu cầu", "request", f"dài {len(text)} ký tự, cần 34", f"{len(text)} characters long, not 34")
        pos, amount, kind, currency, private = text[0:2], text[2:10], text[12], text[13:16], text[16:26]
        if not (pos.isdigit() and amount.isdigit() and currency.isdigit()):
            raise _bad("yêu cầu", "request", "trường số có ký tự lạ", "a numeric field holds a non-digit")
        if kind not in (TYPE_SALE, TYPE_VOID, TYPE_LAST):
            raise _bad("yêu cầu", "request", f"loại giao dịch “{kind}” lạ", f"unknown transaction type “{kind}”")
        return cls(kind, int(amount), private.rstrip(" "), pos, currency)


def sale_request(amount: int, reference: str) -> Request:
    """Build a debit request for amount đồng under the box's payment id."""
    return Request(TYPE_SALE, check_amount(amount), check_reference(reference))


def void_request(reference: str, amount: int) -> Request:
    """Build a cancellation of the sale made under reference for amount đồng."""
    return Request(TYPE_VOID, check_amount(amount), check_reference(reference))


def last_transaction_request() -> Request:
    """Build the last-transaction query (box extension, type "T")."""
    return Request(TYPE_LAST, 0)


@dataclass(frozen=True)
class Report:
    """What the box reads in the 55-character REP field (see the module docstring)."""

    card: str = ""
    authorization: str = ""
    response_code: str = ""
    kind: str = TYPE_SALE
    voided: bool = False
    extension: bool = False

    def encode(self) -> str:
        """Return the 55-character REP field in the box's layout."""
        text = (
            f"{self.card:<19.19} {self.authorization:<6.6} {self.response_code:<2.2} {self.kind:1.1}"
            f"{'V' if self.voided else ' '}"
        )
        return f"{text:<50}{EXTENSION_MARK if self.extension else '':<5}"

    @classmethod
    def parse(cls, rep: str) -> Report:
        """Read a REP field; parts outside the box's layout are left empty."""
        card = rep.split(" ", 1)[0]
        if len(rep) != REP_LEN or rep[19] != " " or rep[26] != " " or not rep[27:29].isdigit():
            return cls(card=card)
        return cls(
            card=card,
            authorization=rep[20:26].strip(),
            response_code=rep[27:29],
            kind=rep[30] if rep[30] in (TYPE_SALE, TYPE_VOID) else TYPE_SALE,
            voided=rep[31] == "V",
            extension=rep[50:55] == EXTENSION_MARK,
        )


@dataclass(frozen=True)
class Answer:
    """A terminal → box answer."""

    status: str
    amount: int
    reference: str
    report: Report | None = None
    pos: str = "01"
    mode: str = "1"
    currency: str = CURRENCY_VND

    def encode(self) -> bytes:
        """Return the 80- (with REP) or 25-character message."""
        rep = self.report.encode() if self.report is not None else ""
        text = (
            f"{self.pos}{self.status}{self.amount:08d}{self.mode}{rep}{self.currency}{self.reference:<{REFERENCE_LEN}}"
        )
        return text.encode("ascii")

    @classmethod
    def parse(cls, message: bytes) -> Answer:
        """Read a terminal's answer; raise DeviceProtocolError when it does not follow Concert E+."""
        text = _ascii(message, "trả lời", "answer")
        if len(text) == ANSWER_LEN_FULL:
            rep: str | None = text[12:67]
            tail = text[67:]
        elif len(text) == ANSWER_LEN_SHORT:
            rep, tail = None, text[12:]
        else:
            raise _bad(
                "trả lời",
                "answer",
                f"dài {len(text)} ký tự, cần 80 hoặc 25",
                f"{len(text)} characters long, not 80 or 25",
            )
        pos, status, amount, mode, currency, private = text[0:2], text[2], text[3:11], text[11], tail[:3], tail[3:]
        if not (pos.isdigit() and amount.isdigit() and currency.isdigit()):
            raise _bad("trả lời", "answer", "trường số có ký tự lạ", "a numeric field holds a non-digit")
        if status not in (STATUS_ACCEPTED, STATUS_REFUSED, STATUS_TAKEN):
            raise _bad("trả lời", "answer", f"trạng thái “{status}” lạ", f"unknown status “{status}”")
        report = Report.parse(rep) if rep is not None else None
        return cls(status, int(amount), private.rstrip(" "), report, pos, mode, currency)


def _ascii(message: bytes, what_vi: str, what_en: str) -> str:
    if any(b < 0x20 or b > 0x7E for b in message):
        raise _bad(what_vi, what_en, "có byte không phải ASCII in được", "it holds bytes that are not printable ASCII")
    return message.decode("ascii")


def _bad(what_vi: str, what_en: str, vi: str, en: str) -> DeviceProtocolError:
    return DeviceProtocolError(
        f"Máy POS gửi {what_vi} sai giao thức Concert: {vi}.",
        f"The card terminal sent a Concert {what_en} that does not follow the protocol: {en}.",
    )
