"""The Concert link layer on a serial port: ENQ/ACK handshake, frames with NAK/resend, EOT, time-outs.

The link only moves messages; it does not read them. Its errors say how far a request got, which
is what the payment state machine needs:

- `DeviceUnavailable` from `send`: the terminal provably did not take the request (no ACK to ENQ,
  port missing, or every frame NAKed — `FrameRefused`). Nothing can have been charged.
- any other `DeviceError` from `send` (no ACK after the frame, link lost after the frame was
  written) or from `receive`: the request may have been taken; its outcome is not known.

Modem lines (DTR/RTS/CTS) are never used: the port is opened with rtscts=False, dsrdtr=False.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol

from devices.errors import DeviceError, DeviceProtocolError, DeviceTimeout, DeviceUnavailable
from devices.terminal.protocol import ACK, ENQ, EOT, NAK, BadFrame, Control, Event, Frame, FrameReader, frame

RETRIES = 3


class SerialPort(Protocol):
    """What the link needs of a pyserial port."""

    timeout: float | None

    @property
    def in_waiting(self) -> int:
        """Bytes ready to read."""

    def read(self, size: int = 1) -> bytes:
        """Read up to size bytes, waiting at most `timeout`."""

    def write(self, data: bytes, /) -> int | None:
        """Write bytes."""

    def reset_input_buffer(self) -> None:
        """Drop bytes not read yet."""


class LinkLost(DeviceError):
    """The serial port failed (unplugged, closed) while talking to the terminal."""

    code = "terminal_link_lost"


class FrameRefused(DeviceUnavailable):
    """The terminal NAKed the request frame every time: it did not take the request."""

    code = "terminal_refused_frame"


class ConcertLink:
    """Send and receive Concert messages on an open serial port."""

    def __init__(self, port: SerialPort, *, ack_timeout: float = 2.0, retries: int = RETRIES) -> None:
        self._port = port
        self.ack_timeout = ack_timeout
        self.retries = retries
        self._reader = FrameReader()
        self._events: deque[Event] = deque()

    def send(self, message: bytes) -> None:
        """Deliver one message in an ENQ … EOT session; see the module docstring for the errors."""
        data = frame(message)
        try:
            self._fresh()
            self._open_session()
            self._write(data)
        except LinkLost as err:
            raise DeviceUnavailable(err.vi, err.en) from err
        for attempt in range(self.retries + 1):  # the first sending, then up to `retries` after a NAK
            if attempt:
                self._write(data)
            reply = self._wait_control({ACK, NAK}, self.ack_timeout)
            if reply == ACK:
                self._write(bytes([EOT]))
                return
            if reply is None:
                raise DeviceTimeout(
                    "Máy POS không xác nhận yêu cầu đã gửi; không rõ nó đã nhận hay chưa.",
                    "The card terminal did not acknowledge the request sent; whether it took it is not known.",
                )
        self._write(bytes([EOT]))
        raise FrameRefused(
            f"Máy POS từ chối yêu cầu {self.retries + 1} lần liền (NAK); yêu cầu chưa được nhận.",
            f"The card terminal refused the request {self.retries + 1} times (NAK); it was not taken.",
        )

    def receive(self, timeout: float) -> bytes:
        """Wait up to timeout for the terminal's ENQ, then take its frame; return the message."""
        if self._wait_control({ENQ}, timeout) is None:
            raise DeviceTimeout(
                f"Máy POS không trả lời trong {timeout:g} giây.",
                f"The card terminal did not answer within {timeout:g} seconds.",
            )
        self._write(bytes([ACK]))
        bad = 0
        while True:
            event = self._next_event(time.monotonic() + self.ack_timeout)
            if event is None:
                raise DeviceTimeout(
                    "Máy POS ngừng giữa chừng khi đang gửi kết quả.",
                    "The card terminal went silent in the middle of sending its answer.",
                )
            if isinstance(event, Frame):
                self._write(bytes([ACK]))
                self._wait_control({EOT}, self.ack_timeout)
                return event.message
            if isinstance(event, BadFrame):
                bad += 1
                if bad > self.retries:
                    self._write(bytes([EOT]))
                    raise DeviceProtocolError(
                        f"Máy POS gửi kết quả hỏng {bad} lần liền (sai mã kiểm tra LRC).",
                        f"The card terminal sent a corrupted answer {bad} times in a row (bad LRC).",
                    )
                self._write(bytes([NAK]))
            elif event.byte == ENQ:  # our ACK was lost: the terminal asks again
                self._write(bytes([ACK]))

    def ping(self) -> str:
        """Open and close an empty session; return "ready" (ACK), "busy" (NAK) or "offline" (silence)."""
        self._fresh()
        self._write(bytes([ENQ]))
        reply = self._wait_control({ACK, NAK}, self.ack_timeout)
        if reply == ACK:
            self._write(bytes([EOT]))
            return "ready"
        return "busy" if reply == NAK else "offline"

    def _open_session(self) -> None:
        busy = False
        for _ in range(self.retries):
            self._write(bytes([ENQ]))
            reply = self._wait_control({ACK, NAK}, self.ack_timeout)
            if reply == ACK:
                return
            busy = busy or reply == NAK
        if busy:
            raise DeviceUnavailable(
                "Máy POS đang bận (trả lời NAK); chưa gửi yêu cầu nào.",
                "The card terminal is busy (it answered NAK); no request was sent.",
            )
        raise DeviceUnavailable(
            "Máy POS không trả lời (không có ACK); kiểm tra dây cáp và nguồn. Chưa gửi yêu cầu nào.",
            "The card terminal does not answer (no ACK); check its cable and power. No request was sent.",
        )

    def _fresh(self) -> None:
        """Forget bytes left from an earlier session (a late answer must not be read as this one's)."""
        self._events.clear()
        self._reader = FrameReader()
        try:
            self._port.reset_input_buffer()
        except (OSError, ValueError) as err:
            raise _lost(err) from err

    def _wait_control(self, wanted: set[int], timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while True:
            event = self._next_event(deadline)
            if event is None:
                return None
            if isinstance(event, Control) and event.byte in wanted:
                return event.byte

    def _next_event(self, deadline: float) -> Event | None:
        while not self._events:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._events.extend(self._reader.feed(self._read(remaining)))
        return self._events.popleft()

    def _read(self, timeout: float) -> bytes:
        try:
            self._port.timeout = timeout
            data = self._port.read(1)
            waiting = self._port.in_waiting if data else 0
            return data + self._port.read(waiting) if waiting else data
        except (OSError, ValueError) as err:  # serial.SerialException is an OSError
            raise _lost(err) from err

    def _write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except (OSError, ValueError) as err:
            raise _lost(err) from err


def _lost(err: Exception) -> LinkLost:
    return LinkLost(
        f"Mất kết nối với máy POS ({err}).",
        f"The link to the card terminal was lost ({err}).",
    )
