"""The keypad's line protocol: framing bytes into lines, and what each line means.

Wire format (ASCII, 9600 baud 8N1 by default, no flow control, no modem lines):

- keypad → box, one line per press: ``K<n>\\r\\n``, n the button 1..buttons (``K3\\r\\n``);
- box → keypad: ``?\\r\\n`` (identify); keypad → box: ``OK <model> <buttons>\\r\\n``
  (``OK MCK-SIM 5\\r\\n``), model one token of printable ASCII, buttons 3 or 5.

A line ends at LF; a CR before it is dropped. A line longer than `MAX_LINE` bytes, a line that is
not one of the above, or a button outside 1..buttons is an error the driver counts and skips.

Satisfaction levels (DOMAIN.md "Satisfaction"): button 1 is always the best answer and the highest
button the worst. A 5-button pad maps straight onto the five levels; a 3-button pad keeps both ends
and the middle (1 → very satisfied, 2 → neutral, 3 → very dissatisfied), so reports can add up pads
of both kinds on one scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.errors import DeviceError

MAX_LINE = 64
IDENTIFY = b"?\r\n"
PAD_SIZES = (3, 5)

# Level 1..5 → (Vietnamese, English); 1 is the best.
LEVELS: dict[int, tuple[str, str]] = {
    1: ("Rất hài lòng", "Very satisfied"),
    2: ("Hài lòng", "Satisfied"),
    3: ("Bình thường", "Neutral"),
    4: ("Không hài lòng", "Dissatisfied"),
    5: ("Rất không hài lòng", "Very dissatisfied"),
}


@dataclass(frozen=True)
class Press:
    """One accepted button press; `at` is time.monotonic() when its line arrived."""

    button: int
    at: float


@dataclass(frozen=True)
class KeypadInfo:
    """What a keypad says about itself when asked."""

    model: str
    buttons: int


def check_pad_size(buttons: int) -> int:
    """Return buttons if a keypad can have that many; raise DeviceError otherwise."""
    if isinstance(buttons, bool) or not isinstance(buttons, int) or buttons not in PAD_SIZES:
        raise DeviceError(
            f"Bàn phím đánh giá phải có 3 hoặc 5 nút, không phải {buttons!r}.",
            f"A rating keypad has 3 or 5 buttons, not {buttons!r}.",
            code="bad_parameter",
        )
    return buttons


def satisfaction_level(button: int, buttons: int) -> int:
    """Return the 1..5 satisfaction level (1 = very satisfied) of a button on a 3- or 5-button pad."""
    check_pad_size(buttons)
    if isinstance(button, bool) or not isinstance(button, int) or not 1 <= button <= buttons:
        raise DeviceError(
            f"Nút {button!r} không có trên bàn phím {buttons} nút.",
            f"Button {button!r} is not on a {buttons}-button keypad.",
            code="bad_parameter",
        )
    return button if buttons == 5 else 2 * button - 1


def press_line(button: int) -> bytes:
    """Return the bytes a keypad sends for a press of `button`."""
    return b"K%d\r\n" % button


def identify_answer(info: KeypadInfo) -> bytes:
    """Return the bytes a keypad answers to the identify query."""
    return f"OK {info.model} {info.buttons}\r\n".encode("ascii")


def parse_button(line: bytes) -> int | None:
    """Return the button of a ``K<n>`` line (without range check), or None if the line is not one."""
    digits = line[1:]
    if line[:1] != b"K" or not 1 <= len(digits) <= 2 or not digits.isdigit():
        return None
    return int(digits)


def parse_identify(line: bytes) -> KeypadInfo | None:
    """Return the KeypadInfo of an ``OK <model> <buttons>`` line, or None if the line is not one."""
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        return None
    parts = text.split(" ")
    if len(parts) != 3 or parts[0] != "OK" or not parts[1].isprintable() or not parts[1]:
        return None
    if not parts[2].isdigit() or int(parts[2]) not in PAD_SIZES:
        return None
    return KeypadInfo(parts[1], int(parts[2]))


class LineSplitter:
    """Cut a byte stream into lines; drop (and count) lines longer than MAX_LINE bytes."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self.overlong = 0
        self._buffer = bytearray()
        self._skipping = False  # inside an overlong line: drop bytes up to the next LF

    def feed(self, data: bytes) -> list[bytes]:
        """Take bytes as they arrived; return the complete lines in them (without CR LF)."""
        *complete, tail = data.split(b"\n")
        lines: list[bytes] = []
        for part in complete:
            lines.extend(self._end_line(part))
        self._add(tail)
        return lines

    def _end_line(self, part: bytes) -> list[bytes]:
        self._add(part)
        if self._skipping:
            self._skipping = False
            return []
        line = bytes(self._buffer)
        self._buffer.clear()
        line = line.removesuffix(b"\r")
        return [line] if line else []

    def _add(self, part: bytes) -> None:
        if self._skipping:
            return
        self._buffer += part
        if len(self._buffer) > self.limit:
            self._buffer.clear()
            self._skipping = True
            self.overlong += 1
