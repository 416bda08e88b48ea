"""The serial rating keypad driver: a reader thread stamps, frames, de-bounces and queues presses."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

import serial  # type: ignore[import-untyped]

from devices.errors import DeviceAddressError, DeviceError, DeviceProtocolError, DeviceTimeout, DeviceUnavailable
from devices.keypad.protocol import (
    IDENTIFY,
    KeypadInfo,
    LineSplitter,
    Press,
    check_pad_size,
    parse_button,
    parse_identify,
)
from devices.urls import parse_device_url

if TYPE_CHECKING:
    from devices.keypad.simulator import KeypadSimulator
    from devices.simio import PtyServer

DEFAULT_BAUDRATE = 9600
_POLL_S = 0.05  # how long one read waits; bounds how fast close() returns
_WRITE_TIMEOUT_S = 1.0  # a query is 3 bytes: a port that cannot take them in a second is stuck


def check_seconds(name: str, value: float) -> float:
    """Return value if it is a finite number of seconds >= 0; raise DeviceError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise DeviceError(
            f"{name} phải là số giây không âm, không phải {value!r}.",
            f"{name} must be a non-negative number of seconds, not {value!r}.",
            code="bad_parameter",
        )
    return float(value)


class SerialKeypad:
    """A rating keypad on a serial port (see devices.keypad.protocol for the bytes)."""

    def __init__(
        self,
        port: serial.Serial,
        *,
        debounce_s: float = 0.3,
        buttons: int = 5,
        server: PtyServer | None = None,
        simulator: KeypadSimulator | None = None,
    ) -> None:
        self.debounce_s = check_seconds("debounce_s", debounce_s)
        self.buttons = check_pad_size(buttons)
        self.name = str(port.port)
        self.debounced = 0  # presses dropped as contact chatter
        self._port = port
        self._server = server  # the in-process simulator's pty this keypad owns (sim://keypad)
        self._simulator = simulator
        self._splitter = LineSplitter()
        self._bad_lines = 0
        self._presses: deque[Press] = deque()
        self._answers: deque[bytes] = deque()
        self._last: Press | None = None
        self._failure: DeviceError | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"keypad {self.name}", daemon=True)
        self._thread.start()

    @property
    def simulator(self) -> KeypadSimulator | None:
        """The simulator behind a sim://keypad, to press its buttons; None for a real keypad."""
        return self._simulator

    @property
    def errors(self) -> int:
        """How many lines were skipped: garbage, overlong, or a button the pad does not have."""
        with self._cond:
            return self._bad_lines + self._splitter.overlong

    def read_press(self, timeout: float) -> Press | None:
        """Return the next press, waiting up to timeout seconds; None if there was none."""
        deadline = time.monotonic() + check_seconds("timeout", timeout)
        with self._cond:
            while not self._presses:
                self._raise_if_broken()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self._presses.popleft()

    def identify(self, timeout: float = 1.0) -> KeypadInfo:
        """Ask the keypad for its model and number of buttons; raise DeviceTimeout if it does not answer."""
        deadline = time.monotonic() + check_seconds("timeout", timeout)
        with self._cond:
            self._raise_if_broken()
            self._answers.clear()
        try:
            self._port.write(IDENTIFY)
        except serial.SerialTimeoutException as err:
            raise DeviceTimeout(
                f"Không gửi được câu hỏi tới bàn phím đánh giá tại {self.name}: cổng không nhận dữ liệu.",
                f"Could not send the query to the rating keypad at {self.name}: the port takes no data.",
            ) from err
        except (serial.SerialException, OSError) as err:
            raise self._unavailable(err) from err
        with self._cond:
            while not self._answers:
                self._raise_if_broken()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DeviceTimeout(
                        f"Bàn phím đánh giá tại {self.name} không trả lời sau {timeout:g} giây.",
                        f"The rating keypad at {self.name} did not answer within {timeout:g} s.",
                    )
                self._cond.wait(remaining)
            line = self._answers.popleft()
            info = parse_identify(line)
            if info is None:
                self._bad_lines += 1
                raise DeviceProtocolError(
                    f"Bàn phím đánh giá tại {self.name} trả lời sai giao thức: {line!r}.",
                    f"The rating keypad at {self.name} answered outside its protocol: {line!r}.",
                )
            self.buttons = info.buttons
            return info

    def close(self) -> None:
        """Stop reading and close the port (and the simulator this keypad started, if any)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._stop.set()
        self._thread.join(timeout=2)
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.close()
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> SerialKeypad:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _raise_if_broken(self) -> None:
        if self._closed:
            raise DeviceUnavailable(
                f"Bàn phím đánh giá tại {self.name} đã đóng.", f"The rating keypad at {self.name} is closed."
            )
        if self._failure is not None:
            raise self._failure

    def _unavailable(self, err: Exception) -> DeviceUnavailable:
        return DeviceUnavailable(
            f"Mất kết nối với bàn phím đánh giá tại {self.name} (có thể đã rút cáp): {err}",
            f"Lost the rating keypad at {self.name} (unplugged?): {err}",
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._port.read(max(1, self._port.in_waiting))
            except (serial.SerialException, OSError, TypeError) as err:
                # TypeError: pyserial's read on a port closed under it; either way the keypad is gone.
                with self._cond:
                    if not self._closed:
                        self._failure = self._unavailable(err)
                    self._cond.notify_all()
                return
            if data:
                self._take(data, time.monotonic())

    def _take(self, data: bytes, at: float) -> None:
        with self._cond:
            for line in self._splitter.feed(data):
                self._take_line(line, at)
            self._cond.notify_all()

    def _take_line(self, line: bytes, at: float) -> None:
        button = parse_button(line)
        if button is None:
            if line.startswith(b"OK"):
                self._answers.append(line)
            else:
                self._bad_lines += 1
            return
        if not 1 <= button <= self.buttons:
            self._bad_lines += 1
            return
        last = self._last
        if last is not None and last.button == button and at - last.at < self.debounce_s:
            self.debounced += 1
            return
        self._last = Press(button, at)
        self._presses.append(self._last)


def _open_port(path: str, url_text: str, baudrate: int, bytesize: int, parity: str, stopbits: int) -> serial.Serial:
    try:
        return serial.Serial(
            port=path,
            baudrate=baudrate,
            bytesize=bytesize,
            parity=parity,
            stopbits=stopbits,
            timeout=_POLL_S,
            write_timeout=_WRITE_TIMEOUT_S,
            xonxoff=False,
            rtscts=False,
            dsrdtr=False,
        )
    except ValueError as err:
        raise DeviceAddressError(
            f"Tham số cổng nối tiếp của “{url_text}” không dùng được: {err}",
            f"The serial settings in “{url_text}” cannot be used: {err}",
        ) from err
    except (serial.SerialException, OSError) as err:
        raise DeviceUnavailable(
            f"Không mở được cổng {path} của bàn phím đánh giá: {err}",
            f"Cannot open the rating keypad's port {path}: {err}",
        ) from err


def open_keypad(url: str, *, debounce_s: float = 0.3, buttons: int = 5) -> SerialKeypad:
    """Open the rating keypad at a serial:// URL, or start the in-process simulator for sim://keypad."""
    address = parse_device_url(url)
    check_seconds("debounce_s", debounce_s)
    if address.scheme == "sim" and address.path == "keypad":
        from devices.keypad.simulator import KeypadSimulator, serve_keypad

        simulator = KeypadSimulator(buttons=address.param_int("buttons", buttons))
        server = serve_keypad(sim=simulator)
        try:
            port = _open_port(server.path, url, DEFAULT_BAUDRATE, 8, "N", 1)
        except DeviceError:
            server.stop()
            raise
        return SerialKeypad(port, debounce_s=debounce_s, buttons=simulator.buttons, server=server, simulator=simulator)
    if address.scheme != "serial":
        raise DeviceAddressError(
            f"Bàn phím đánh giá nối qua serial:// hoặc sim://keypad, không qua “{url}”.",
            f"A rating keypad is reached through serial:// or sim://keypad, not “{url}”.",
        )
    check_pad_size(buttons)
    baudrate = address.param_int("baudrate", DEFAULT_BAUDRATE)
    if baudrate <= 0:
        raise DeviceAddressError(
            f"Tốc độ baud trong “{url}” phải lớn hơn 0.", f"The baud rate in “{url}” must be greater than 0."
        )
    port = _open_port(
        address.path,
        url,
        baudrate,
        address.param_int("bytesize", 8),
        address.params.get("parity", "N").upper(),
        address.param_int("stopbits", 1),
    )
    return SerialKeypad(port, debounce_s=debounce_s, buttons=buttons)
