"""The card terminal driver: sale, void, last transaction and status over Concert E+.

Error contract (the payment state machine relies on it):

- `DeviceUnavailable`: the request was not delivered (port missing, no ACK to ENQ, terminal busy,
  frame refused). Nothing was charged; retrying is safe.
- `TerminalOutcomeUnknown`: the request was delivered (or may have been) but its outcome is not
  known (answer time-out, link lost mid-transaction, an answer that stayed garbled after NAKs, or
  an answer that is not about this payment). Call `last_transaction()` before any new attempt.

`reference` is the box's payment id, sent in Concert's 10-character private field (1 to 10
printable ASCII characters, no spaces) and echoed by the terminal; `last_transaction()` uses the
box's labelled extension message (see devices.terminal.protocol), which real Concert E+ lacks: a
terminal that refuses it gets a DeviceError with code "not_supported".
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import serial  # type: ignore[import-untyped]

from devices.errors import DeviceAddressError, DeviceError, DeviceUnavailable
from devices.terminal.link import ConcertLink, FrameRefused
from devices.terminal.protocol import (
    CURRENCY_VND,
    RC_CANCELLED,
    RC_NO_RECORD,
    STATUS_ACCEPTED,
    STATUS_REFUSED,
    TYPE_SALE,
    TYPE_VOID,
    Answer,
    Request,
    last_transaction_request,
    sale_request,
    void_request,
)
from devices.urls import parse_device_url

if TYPE_CHECKING:
    from devices.simio import PtyServer
    from devices.terminal.simulator import TerminalSimulator

Outcome = Literal["approved", "declined", "cancelled"]
DEFAULT_BAUDRATE = 9600  # Concert on USB-serial terminals; the URL's ?baudrate= overrides it

_MESSAGES: dict[str, tuple[str, str]] = {
    "approved": ("Giao dịch thẻ được chấp nhận.", "The card transaction was approved."),
    "declined": ("Giao dịch thẻ bị từ chối.", "The card transaction was declined."),
    "cancelled": ("Người trả tiền đã hủy giao dịch trên máy POS.", "The card holder cancelled on the terminal."),
    "no_record": ("Máy POS không tìm thấy giao dịch cần hủy.", "The terminal found no such transaction to void."),
}


class TerminalOutcomeUnknown(DeviceError):
    """The request reached the terminal but its outcome is not known: reconcile with last_transaction()."""

    code = "terminal_outcome_unknown"


@dataclass(frozen=True)
class TerminalResult:
    """The outcome of a sale or void, or the terminal's last transaction.

    `kind` is "sale" or "void" (what the result is about); `voided` is true for a sale the
    terminal has since voided (only known from last_transaction()).
    """

    outcome: Outcome
    amount: int
    reference: str
    authorization: str
    card: str
    raw: str
    message_vi: str
    message_en: str
    kind: Literal["sale", "void"] = "sale"
    voided: bool = False


@dataclass(frozen=True)
class TerminalStatus:
    """Whether the terminal takes a session now: state is "ready", "busy" or "offline"."""

    state: Literal["ready", "busy", "offline"]
    message_vi: str
    message_en: str

    @property
    def ready(self) -> bool:
        """Whether a sale can be started now."""
        return self.state == "ready"


class ConcertTerminal:
    """A Concert E+ card terminal on a serial port (one transaction at a time)."""

    def __init__(
        self,
        port: serial.Serial,
        *,
        answer_timeout: float = 120.0,
        ack_timeout: float = 2.0,
        server: PtyServer | None = None,
    ) -> None:
        self._port = port
        self._link = ConcertLink(port, ack_timeout=ack_timeout)
        self.answer_timeout = answer_timeout
        self._server = server
        self._lock = threading.Lock()

    @property
    def simulator(self) -> TerminalSimulator | None:
        """The in-process simulator behind a sim://terminal address, else None."""
        if self._server is None:
            return None
        from devices.terminal.simulator import TerminalSimulator

        return self._server.sim if isinstance(self._server.sim, TerminalSimulator) else None

    def sale(self, amount: int, reference: str) -> TerminalResult:
        """Charge amount đồng to a card under the box's payment id."""
        request = sale_request(amount, reference)
        return self._result(*self._transact(request), request)

    def void(self, reference: str, amount: int) -> TerminalResult:
        """Cancel the approved sale made under reference for amount đồng."""
        request = void_request(reference, amount)
        return self._result(*self._transact(request), request)

    def last_transaction(self) -> TerminalResult | None:
        """Return the terminal's last sale or void (None if it has none); box extension, see the module doc."""
        with self._lock:
            try:
                self._link.send(last_transaction_request().encode())
            except FrameRefused as err:
                raise _not_supported() from err
            raw = self._link.receive(self.answer_timeout)
            answer = Answer.parse(raw)
        if answer.report is None or not answer.report.extension:
            raise _not_supported()
        if answer.status == STATUS_REFUSED and answer.report.response_code == RC_NO_RECORD and not answer.reference:
            return None
        kind = TYPE_VOID if answer.report.kind == TYPE_VOID else TYPE_SALE
        request = Request(kind, answer.amount, answer.reference)
        return self._result(answer, raw, request, voided=answer.report.voided)

    def status(self) -> TerminalStatus:
        """Ask whether the terminal takes a session now (an empty ENQ … EOT session)."""
        with self._lock:
            try:
                state = self._link.ping()
            except DeviceError as err:
                return TerminalStatus("offline", err.vi, err.en)
        if state == "ready":
            return TerminalStatus("ready", "Máy POS sẵn sàng.", "The card terminal is ready.")
        if state == "busy":
            return TerminalStatus("busy", "Máy POS đang bận.", "The card terminal is busy.")
        return TerminalStatus(
            "offline", "Máy POS không trả lời; kiểm tra cáp và nguồn.", "The card terminal does not answer."
        )

    def close(self) -> None:
        """Close the port (and stop the in-process simulator, if any)."""
        with contextlib.suppress(OSError):
            self._port.close()
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> ConcertTerminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transact(self, request: Request) -> tuple[Answer, bytes]:
        with self._lock:
            try:
                self._link.send(request.encode())
            except DeviceUnavailable:
                raise  # provably not delivered: nothing charged
            except DeviceError as err:
                raise _unknown(err.vi, err.en) from err
            try:
                raw = self._link.receive(self.answer_timeout)
                answer = Answer.parse(raw)
            except DeviceError as err:
                raise _unknown(err.vi, err.en) from err
        if answer.reference != request.reference or answer.amount != request.amount:
            raise _unknown(
                f"kết quả nói về giao dịch khác ({answer.reference or 'trống'}, {answer.amount} đ)",
                f"the answer is about another transaction ({answer.reference or 'empty'}, {answer.amount} VND)",
            )
        if answer.currency != CURRENCY_VND:
            raise _unknown(f"mã tiền tệ lạ {answer.currency}", f"unexpected currency code {answer.currency}")
        if answer.status not in (STATUS_ACCEPTED, STATUS_REFUSED):
            raise _unknown("máy POS nhận yêu cầu nhưng không báo kết quả", "the terminal took it but gave no outcome")
        return answer, raw

    @staticmethod
    def _result(answer: Answer, raw: bytes, request: Request, *, voided: bool = False) -> TerminalResult:
        report = answer.report
        code = report.response_code if report is not None else ""
        outcome: Outcome
        if answer.status == STATUS_ACCEPTED:
            outcome = "approved"
        else:
            outcome = "cancelled" if code == RC_CANCELLED else "declined"
        key = "no_record" if outcome == "declined" and code == RC_NO_RECORD else outcome
        vi, en = _MESSAGES[key]
        return TerminalResult(
            outcome=outcome,
            amount=answer.amount,
            reference=answer.reference,
            authorization=report.authorization if report is not None else "",
            card=report.card if report is not None else "",
            raw=raw.decode("ascii"),
            message_vi=vi,
            message_en=en,
            kind="void" if request.kind == TYPE_VOID else "sale",
            voided=voided,
        )


def _unknown(vi: str, en: str) -> TerminalOutcomeUnknown:
    vi, en = vi.rstrip("."), en.rstrip(".")
    return TerminalOutcomeUnknown(
        f"Không rõ kết quả giao dịch thẻ ({vi}). Phải tra cứu giao dịch gần nhất trên máy POS trước khi thử lại.",
        f"The card transaction's outcome is not known ({en}). Query the terminal's last transaction before retrying.",
    )


def _not_supported() -> DeviceError:
    return DeviceError(
        "Máy POS này không hỗ trợ tra cứu giao dịch gần nhất; hãy xem trên máy POS hoặc sao kê ngân hàng.",
        "This card terminal does not support the last-transaction query; check the terminal or the bank statement.",
        code="not_supported",
    )


def open_terminal(url: str, *, answer_timeout: float = 120.0, ack_timeout: float = 2.0) -> ConcertTerminal:
    """Open the Concert terminal at a serial:// address, or start the simulator for sim://terminal."""
    address = parse_device_url(url)
    server: PtyServer | None = None
    if address.scheme == "sim" and address.path == "terminal":
        from devices.terminal.simulator import serve_terminal

        server = serve_terminal("pty")
        path, options = server.path, _serial_options(DEFAULT_BAUDRATE, 8, "N", 1)
    elif address.scheme == "serial":
        path = address.path
        parity = address.params.get("parity", "N").upper()
        if parity not in ("N", "E", "O"):
            raise DeviceAddressError(
                f"Địa chỉ “{url}”: parity phải là N, E hoặc O.", f"Address “{url}”: parity must be N, E or O."
            )
        options = _serial_options(
            address.param_int("baudrate", DEFAULT_BAUDRATE),
            address.param_int("bytesize", 8),
            parity,
            address.param_int("stopbits", 1),
        )
    else:
        raise DeviceAddressError(
            f"Máy POS phải có địa chỉ serial://… hoặc sim://terminal, không phải “{url}”.",
            f"A card terminal needs a serial://… or sim://terminal address, not “{url}”.",
        )
    try:
        port = serial.Serial(path, timeout=ack_timeout, rtscts=False, dsrdtr=False, xonxoff=False, **options)
    except (OSError, ValueError) as err:  # serial.SerialException is an OSError
        if server is not None:
            server.stop()
        if isinstance(err, ValueError):  # pyserial's word for a setting it cannot use (bytesize=9, …)
            raise DeviceAddressError(
                f"Địa chỉ “{url}” có tham số cổng không dùng được: {err}.", f"Address “{url}” has a bad setting: {err}."
            ) from err
        raise DeviceUnavailable(
            f"Không mở được cổng máy POS {path}: {err}.", f"Cannot open the card terminal's port {path}: {err}."
        ) from err
    return ConcertTerminal(port, answer_timeout=answer_timeout, ack_timeout=ack_timeout, server=server)


def _serial_options(baudrate: int, bytesize: int, parity: str, stopbits: int) -> dict[str, Any]:
    return {"baudrate": baudrate, "bytesize": bytesize, "parity": parity, "stopbits": stopbits}
