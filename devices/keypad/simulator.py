"""A rating keypad simulator that speaks the keypad's bytes behind a real pseudo-terminal."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from devices.errors import DeviceAddressError, DeviceError, DeviceUnavailable
from devices.keypad.protocol import IDENTIFY, KeypadInfo, check_pad_size, identify_answer, press_line
from devices.simio import PtyServer

Write = Callable[[bytes], None]
GARBAGE = b"\x00\xff#K\xfe?!noise\r\n"


class KeypadSimulator:
    """A keypad: answers the identify query, and sends a line for each press made with `press`."""

    def __init__(self, buttons: int = 5, model: str = "MCK-SIM") -> None:
        self.buttons = check_pad_size(buttons)
        if not model or not model.isascii() or not model.isprintable() or " " in model:
            raise DeviceError(
                f"Tên mẫu bàn phím phải là một từ ASCII, không phải {model!r}.",
                f"The keypad model must be one ASCII word, not {model!r}.",
                code="bad_parameter",
            )
        self.info = KeypadInfo(model, self.buttons)
        self.queries = 0  # identify queries answered
        self._write: Write | None = None
        self._pending = b""
        self._lock = threading.Lock()

    def attach(self, write: Write) -> None:
        """Give the simulator the function that sends bytes to the driver (the server's `write`)."""
        self._write = write

    def received(self, data: bytes, reply: Write) -> None:
        """Answer each identify query in the bytes the driver wrote; ignore anything else."""
        with self._lock:
            buffer = self._pending + data
            count = buffer.count(IDENTIFY)
            self._pending = buffer.rsplit(IDENTIFY, 1)[-1][-(len(IDENTIFY) - 1) :]
            self.queries += count
        for _ in range(count):
            reply(identify_answer(self.info))

    def press(self, button: int) -> None:
        """Press a button once: send its line."""
        if isinstance(button, bool) or not isinstance(button, int) or not 1 <= button <= self.buttons:
            raise DeviceError(
                f"Bàn phím mô phỏng không có nút {button!r} (có 1..{self.buttons}).",
                f"The simulated keypad has no button {button!r} (it has 1..{self.buttons}).",
                code="bad_parameter",
            )
        self.send(press_line(button))

    def chatter(self, button: int, times: int = 3, gap_s: float = 0.01) -> None:
        """Press a button with bouncing contacts: its line `times` times, gap_s apart."""
        for i in range(times):
            if i:
                time.sleep(gap_s)
            self.press(button)

    def garbage(self, data: bytes = GARBAGE) -> None:
        """Send bytes that are not the protocol (line noise, a faulty keypad)."""
        self.send(data)

    def send(self, data: bytes) -> None:
        """Send raw bytes to the driver."""
        if self._write is None:
            raise DeviceUnavailable(
                "Bàn phím mô phỏng chưa được gắn vào cổng nào.", "The simulated keypad is not attached to any port."
            )
        self._write(data)


def serve_keypad(listen: str = "pty", *, sim: KeypadSimulator | None = None) -> PtyServer:
    """Start a keypad simulator on a new pseudo-terminal; return the started server (`.path`, `.sim`)."""
    if listen != "pty":
        raise DeviceAddressError(
            f"Bàn phím mô phỏng chỉ chạy trên cổng giả lập (pty), không tại “{listen}”.",
            f"The keypad simulator runs on a pseudo-terminal (pty) only, not at “{listen}”.",
        )
    sim = sim if sim is not None else KeypadSimulator()
    server = PtyServer(sim)
    sim.attach(server.write)
    server.start()
    return server
