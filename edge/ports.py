"""The ports edge drives the office's devices through (DESIGN.md "Devices").

Edge never imports a driver: the composition root (edge.appliance) opens the device configured
for a role and hands edge an object with these shapes, translating driver errors into the
`DeviceFailure` family below. What a failure means for money and paper is decided here, by kind:

- `NotDelivered`: the request never reached the device (unplugged, refused, no handshake) —
  nothing was printed or charged; trying again is safe.
- `NotReady`: a printer said before anything was sent that it cannot print now (paper out,
  cover open, offline) — nothing was printed; try again when it is fixed.
- `OutcomeUnknown`: the request reached the device but what it did is not known (a card
  terminal that stopped answering mid-transaction, a printer that stalled mid-job). A card
  payment must be reconciled before any new attempt; a print job is not repeated by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from edge.errors import EdgeError

PRINTER_ROLES = ("receipt_printer", "ticket_printer")
ROLES = (*PRINTER_ROLES, "card_terminal", "rating_keypad")
ROLE_NAMES = {
    "receipt_printer": ("Máy in biên nhận", "Receipt printer"),
    "ticket_printer": ("Máy in số thứ tự", "Ticket printer"),
    "card_terminal": ("Máy POS thanh toán thẻ", "Card terminal"),
    "rating_keypad": ("Bàn phím đánh giá", "Rating keypad"),
}


class DeviceFailure(EdgeError):
    """A device could not do what was asked (see the module docstring for the kinds)."""

    status = 503
    default_code = "device_failure"


class NotConfigured(DeviceFailure):
    """No device is set up for this role."""

    status = 409
    default_code = "device_not_configured"


class NotDelivered(DeviceFailure):
    """The request never reached the device: nothing was done, trying again is safe."""

    default_code = "device_unavailable"


class NotReady(DeviceFailure):
    """The printer refused before anything was sent: paper out, cover open, offline."""

    default_code = "printer_not_ready"


class OutcomeUnknown(DeviceFailure):
    """The request reached the device but its outcome is not known."""

    default_code = "outcome_unknown"


@dataclass(frozen=True)
class PrinterState:
    """What a printer says about itself."""

    online: bool
    paper_near_end: bool
    paper_out: bool
    cover_open: bool


@dataclass(frozen=True)
class Document:
    """Something to print: a layout kind (ticket, dossier_receipt, fee_receipt, test_page) and its fields."""

    kind: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PrintOutcome:
    """A finished print: how many bytes went to the printer, and where a simulator saved the page."""

    bytes_sent: int
    saved: tuple[str, ...] = ()


@dataclass(frozen=True)
class CardResult:
    """A card terminal's answer: approved, declined or cancelled (unknown is raised, not returned)."""

    outcome: str
    amount: int
    reference: str
    authorization: str = ""
    card: str = ""
    message_vi: str = ""
    message_en: str = ""
    voided: bool = False  # from a last-transaction query: the sale was approved, then voided


@dataclass(frozen=True)
class KeyPress:
    """One accepted (de-bounced) press of a rating keypad button."""

    button: int
    at: float


class Printer(Protocol):
    """A receipt or ticket printer."""

    url: str

    def status(self) -> PrinterState | None:
        """Return the printer's state, or None when the transport cannot ask."""

    def print(self, document: Document) -> PrintOutcome:
        """Print a document; raise NotDelivered, NotReady or OutcomeUnknown."""

    def close(self) -> None:
        """Release the port."""


class CardTerminal(Protocol):
    """A card POS terminal."""

    url: str

    def sale(self, amount: int, reference: str) -> CardResult:
        """Charge an amount in đồng; raise NotDelivered (nothing charged) or OutcomeUnknown."""

    def void(self, reference: str, amount: int) -> CardResult:
        """Cancel an approved sale."""

    def last_transaction(self) -> CardResult | None:
        """Return the terminal's last transaction, or None if it has none."""

    def status(self) -> tuple[str, str]:
        """Return the terminal's status in Vietnamese and English (raises NotDelivered when it does not answer)."""

    def close(self) -> None:
        """Release the port."""


class RatingPad(Protocol):
    """A satisfaction-rating keypad."""

    url: str
    buttons: int

    def read_press(self, timeout: float) -> KeyPress | None:
        """Wait up to timeout seconds for a press."""

    def close(self) -> None:
        """Release the port."""


class DeviceOpener(Protocol):
    """Opens the device configured for a role (the composition root provides it)."""

    def url(self, role: str) -> str:
        """Return the configured device URL for a role ("" when none)."""

    def printer(self, role: str) -> Printer:
        """Open the printer of a role; raise NotConfigured or DeviceFailure."""

    def terminal(self) -> CardTerminal:
        """Open the card terminal; raise NotConfigured or DeviceFailure."""

    def keypad(self) -> RatingPad:
        """Open the rating keypad; raise NotConfigured or DeviceFailure."""

    def check_address(self, url: str, role: str) -> None:
        """Raise ValidationError when a device URL cannot be used, or not for this role."""

    def printer_profiles(self) -> list[str]:
        """Return the printer profile names a printer role may use."""

    def discover(self) -> list[dict[str, str]]:
        """Return the devices found on the box: {url, kind, description}."""

    def page_file(self, role: str, name: str) -> Path | None:
        """Return a page a simulated printer of the role saved (by file name), or None."""
