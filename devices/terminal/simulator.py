"""A Concert E+ card terminal simulator: the terminal's side of the same bytes, faults on demand.

It plugs into devices.simio (`received(data, reply)`), so a driver meets it on a real
pseudo-terminal. It answers ENQ with ACK, checks each frame's LRC (NAK when wrong), and after the
box's EOT answers in its own ENQ … EOT session, `delay_s` seconds later. It keeps every sale and
void it processed, so the last-transaction extension and voids answer truthfully, including a sale
it approved while the box was not listening (mode "timeout": the reconciliation case).

Modes (settable any time):
    approve     sales and voids are approved
    decline     sales and voids are declined (ISO 8583 code 05)
    cancel      the card holder pressed cancel (code 17)
    timeout     the sale is approved but the answer is never sent (a last-transaction query is answered)
    silent_mid  the sale is approved; the terminal sends ENQ, then nothing more
    garbage     the sale is approved; the answer is noise and a frame with a wrong LRC, every time
    nak_once    the first request frame is NAKed, then the terminal behaves as "approve"
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from devices.errors import DeviceAddressError, DeviceError
from devices.simio import PtyServer, Reply
from devices.terminal.protocol import (
    ACK,
    ENQ,
    EOT,
    NAK,
    RC_APPROVED,
    RC_CANCELLED,
    RC_DECLINED,
    RC_NO_RECORD,
    STATUS_ACCEPTED,
    STATUS_REFUSED,
    TYPE_LAST,
    TYPE_SALE,
    TYPE_VOID,
    Answer,
    BadFrame,
    Control,
    Frame,
    FrameReader,
    Report,
    Request,
    frame,
)

MODES = ("approve", "decline", "cancel", "timeout", "silent_mid", "garbage", "nak_once")
NOISE = b"\xff\xfe#!%noise*"
MAX_RESENDS = 3

_IDLE, _REQ_FRAME, _REQ_EOT, _BUSY, _ANS_ACK, _ANS_FRAME_ACK = range(6)


@dataclass
class SimTransaction:
    """A sale or void the simulated terminal processed."""

    kind: str  # "sale" or "void"
    reference: str
    amount: int
    outcome: str  # "approved", "declined" or "cancelled"
    authorization: str = ""
    card: str = ""
    voided: bool = False


class TerminalSimulator:
    """The terminal side of Concert E+; see the module docstring for its modes."""

    def __init__(self, mode: str = "approve", *, delay_s: float = 0.0, card: str = "970436******1234") -> None:
        self.transactions: list[SimTransaction] = []
        self.requests: list[bytes] = []  # every well-formed request frame, as it came on the wire
        self.delay_s = delay_s
        self.card = card
        self.supports_last_transaction = True
        self._lock = threading.RLock()
        self._reader = FrameReader()
        self._state = _IDLE
        self._session = 0
        self._request: Request | None = None
        self._answer: bytes = b""
        self._resends = 0
        self._nak_pending = False
        self._mode = "approve"
        self.mode = mode

    @property
    def mode(self) -> str:
        """The behaviour for the next requests."""
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise DeviceError(
                f"Chế độ mô phỏng máy POS “{mode}” không có; chọn một trong {', '.join(MODES)}.",
                f"Terminal simulator mode “{mode}” does not exist; choose one of {', '.join(MODES)}.",
                code="bad_simulator_mode",
            )
        with self._lock:
            self._mode = mode
            self._nak_pending = mode == "nak_once"

    def charged_total(self) -> int:
        """Return the đồng charged to cards: approved sales not voided."""
        with self._lock:
            return sum(
                t.amount for t in self.transactions if t.kind == "sale" and t.outcome == "approved" and not t.voided
            )

    def received(self, data: bytes, reply: Reply) -> None:
        """Handle bytes from the box."""
        with self._lock:
            for event in self._reader.feed(data):
                self._handle(event, reply)

    def _handle(self, event: Frame | BadFrame | Control, reply: Reply) -> None:
        if isinstance(event, Control):
            self._control(event.byte, reply)
        elif self._state == _REQ_FRAME:
            if isinstance(event, BadFrame):
                reply(bytes([NAK]))
                return
            self._frame(event.message, reply)

    def _control(self, byte: int, reply: Reply) -> None:
        if byte == ENQ:  # the box opens a session
            if self._state == _BUSY:
                reply(bytes([NAK]))
                return
            self._session += 1
            self._state = _REQ_FRAME
            reply(bytes([ACK]))
        elif byte == EOT:
            if self._state == _REQ_EOT and self._request is not None:
                self._start_answer(self._request, reply)
            else:
                self._state = _IDLE
        elif byte == ACK and self._state == _ANS_ACK:
            if self._mode == "silent_mid":
                self._state = _IDLE
                return
            self._state = _ANS_FRAME_ACK
            self._resends = 0
            reply(self._answer)
        elif byte == ACK and self._state == _ANS_FRAME_ACK:
            self._state = _IDLE
            reply(bytes([EOT]))
        elif byte == NAK and self._state == _ANS_FRAME_ACK:
            self._resends += 1
            if self._resends >= MAX_RESENDS:
                self._state = _IDLE
                reply(bytes([EOT]))
            else:
                reply(self._answer)

    def _frame(self, message: bytes, reply: Reply) -> None:
        try:
            request = Request.parse(message)
        except DeviceError:
            reply(bytes([NAK]))
            return
        if self._nak_pending or (request.kind == TYPE_LAST and not self.supports_last_transaction):
            self._nak_pending = False
            reply(bytes([NAK]))
            return
        self.requests.append(frame(message))
        self._request = request
        self._state = _REQ_EOT
        reply(bytes([ACK]))

    def _start_answer(self, request: Request, reply: Reply) -> None:
        self._state = _BUSY
        session = self._session
        if self.delay_s > 0:
            timer = threading.Timer(self.delay_s, self._answer_now, args=(request, reply, session))
            timer.daemon = True
            timer.start()
        else:
            self._answer_now(request, reply, session)

    def _answer_now(self, request: Request, reply: Reply, session: int) -> None:
        with self._lock:
            answer = self._process(request)
            if self._state == _BUSY:
                self._state = _IDLE
            lost = self._mode == "timeout" and request.kind != TYPE_LAST  # the query is how the box finds out
            if session != self._session or lost:
                return
            body = frame(answer.encode())
            if self._mode == "garbage":
                body = NOISE + body[:-1] + bytes([body[-1] ^ 0xFF])
            self._answer = body
            self._state = _ANS_ACK
            reply(bytes([ENQ]))

    def _process(self, request: Request) -> Answer:
        if request.kind == TYPE_LAST:
            return self._last()
        outcome = {"decline": "declined", "cancel": "cancelled"}.get(self._mode, "approved")
        if request.kind == TYPE_SALE:
            return self._sale(request, outcome)
        return self._void(request, outcome)

    def _sale(self, request: Request, outcome: str) -> Answer:
        card = "" if outcome == "cancelled" else self.card
        auth = f"{len(self.transactions) + 100001:06d}" if outcome == "approved" else ""
        txn = SimTransaction("sale", request.reference, request.amount, outcome, auth, card)
        self.transactions.append(txn)
        return self._answer_for(txn, extension=False)

    def _void(self, request: Request, outcome: str) -> Answer:
        sale = next(
            (
                t
                for t in reversed(self.transactions)
                if t.kind == "sale" and t.reference == request.reference and t.outcome == "approved" and not t.voided
            ),
            None,
        )
        if sale is None or sale.amount != request.amount:
            txn = SimTransaction("void", request.reference, request.amount, "declined")
            self.transactions.append(txn)
            return Answer(STATUS_REFUSED, request.amount, request.reference, Report(response_code=RC_NO_RECORD))
        auth = f"{len(self.transactions) + 100001:06d}" if outcome == "approved" else ""
        txn = SimTransaction("void", request.reference, request.amount, outcome, auth, sale.card)
        if outcome == "approved":
            sale.voided = True
        self.transactions.append(txn)
        return self._answer_for(txn, extension=False)

    def _last(self) -> Answer:
        if not self.transactions:
            return Answer(STATUS_REFUSED, 0, "", Report(response_code=RC_NO_RECORD, extension=True))
        return self._answer_for(self.transactions[-1], extension=True)

    @staticmethod
    def _answer_for(txn: SimTransaction, *, extension: bool) -> Answer:
        code = {"approved": RC_APPROVED, "declined": RC_DECLINED, "cancelled": RC_CANCELLED}[txn.outcome]
        report = Report(
            card=txn.card,
            authorization=txn.authorization,
            response_code=code,
            kind=TYPE_SALE if txn.kind == "sale" else TYPE_VOID,
            voided=txn.voided,
            extension=extension,
        )
        status = STATUS_ACCEPTED if txn.outcome == "approved" else STATUS_REFUSED
        return Answer(status, txn.amount, txn.reference, report)


def serve_terminal(listen: str = "pty", sim: TerminalSimulator | None = None) -> PtyServer:
    """Start a terminal simulator behind a pseudo-terminal ("pty"); return the running server."""
    if listen != "pty":
        raise DeviceAddressError(
            f"Máy POS mô phỏng chỉ chạy trên cổng nối tiếp giả (pty), không trên “{listen}”.",
            f"The terminal simulator only listens on a pseudo-terminal (pty), not on “{listen}”.",
        )
    server = PtyServer(sim if sim is not None else TerminalSimulator())
    server.start()
    return server
