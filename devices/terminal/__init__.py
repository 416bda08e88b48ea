"""Card POS terminal: Ingenico Telium "Concert" E+ over serial (protocol, link, driver) and its simulator.

`open_terminal(url)` gives a `ConcertTerminal` for serial://… or sim://terminal; see
devices.terminal.driver for the error contract (DeviceUnavailable vs TerminalOutcomeUnknown) and
devices.terminal.protocol for the message layout and the last-transaction extension.
"""

from devices.terminal.driver import (
    ConcertTerminal,
    TerminalOutcomeUnknown,
    TerminalResult,
    TerminalStatus,
    open_terminal,
)

__all__ = ["ConcertTerminal", "TerminalOutcomeUnknown", "TerminalResult", "TerminalStatus", "open_terminal"]
