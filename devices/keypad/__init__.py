"""The satisfaction-rating keypad at a counter: a serial line protocol, its driver and a simulator.

Protocol (ASCII lines, 9600 baud 8N1 unless the URL says otherwise, no flow control, modem lines
never used):

- a press: the keypad sends ``K<n>\\r\\n``, n the button (1..5 on a 5-button pad, 1..3 on a
  3-button pad); button 1 is always "very satisfied" and the highest button the worst answer
  (see `satisfaction_level` for how 3- and 5-button pads map onto one 1..5 scale);
- identify: the box sends ``?\\r\\n`` and the keypad answers ``OK <model> <buttons>\\r\\n``.

The driver (`open_keypad`) reads in a thread, stamps each line with time.monotonic() when it
arrives and de-bounces: the same button again within `debounce_s` of the last accepted press is
contact chatter and is dropped (counted in `.debounced`); a different button is always a new press.
Garbage, lines over 64 bytes and buttons the pad does not have are skipped and counted (`.errors`).

USB-HID keypads need no driver: they are keyboards that type the digits 1..5, so the kiosk page
listens to digit keys itself. Only serial keypads (USB-serial adapters included) come through here.
"""

from devices.keypad.driver import SerialKeypad, open_keypad
from devices.keypad.protocol import LEVELS, MAX_LINE, KeypadInfo, Press, satisfaction_level
from devices.keypad.simulator import KeypadSimulator, serve_keypad

__all__ = [
    "LEVELS",
    "MAX_LINE",
    "KeypadInfo",
    "KeypadSimulator",
    "Press",
    "SerialKeypad",
    "open_keypad",
    "satisfaction_level",
    "serve_keypad",
]
