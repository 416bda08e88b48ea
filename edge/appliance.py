"""Wiring devices into edge: the box's DeviceOpener (edge.ports) over the drivers in devices/.

This is part of the composition root (DESIGN.md): the one place that imports both edge and
devices. It opens the device configured for a role in motcua.toml (re-read when the file
changes, so the technician page's changes take effect at once), turns every driver error into
edge's failure kinds, and keeps one simulator per role running for `sim://` addresses, so a
simulated terminal remembers its transactions and a simulated printer keeps its pages (under
DATA/prints/ROLE/) across jobs.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from devices.errors import DeviceAddressError, DeviceError, DeviceUnavailable
from devices.simulate import Running, start_simulator
from edge.config import CONFIG_FILE, Settings, load_settings
from edge.errors import ValidationError
from edge.ports import (
    PRINTER_ROLES,
    ROLE_NAMES,
    CardResult,
    DeviceFailure,
    Document,
    KeyPress,
    NotConfigured,
    NotDelivered,
    NotReady,
    OutcomeUnknown,
    PrinterState,
    PrintOutcome,
)

_SIM_KIND = {"receipt_printer": "printer", "ticket_printer": "printer", "card_terminal": "terminal",
             "rating_keypad": "keypad"}  # fmt: skip
# The transports each role's driver speaks.
_SCHEMES = {
    "receipt_printer": ("serial", "tcp", "usb", "file", "sim"),
    "ticket_printer": ("serial", "tcp", "usb", "file", "sim"),
    "card_terminal": ("serial", "sim"),
    "rating_keypad": ("serial", "sim"),
}
_NOT_READY = ("printer_paper_out", "printer_cover_open", "printer_offline", "paper_out", "cover_open")
_PAGE_NAME = re.compile(r"[0-9]{4,}\.(png|txt)", re.ASCII)
TERMINAL_ANSWER_S = 120.0  # a card holder may take this long at the terminal
KEYPAD_IDENTIFY_S = 1.0  # a keypad says how many buttons it has within this
SIM_SETTLE_S = 5.0  # how long a simulated printer may take to decode a job


def translate(err: DeviceError, *, sent: bool) -> DeviceFailure:
    """Return edge's failure for a driver error; `sent` says whether the request may have gone out."""
    kind: type[DeviceFailure]
    if err.code in _NOT_READY:
        kind = NotReady  # the printer refused before printing
    elif isinstance(err, DeviceAddressError | DeviceUnavailable) or not sent:
        kind = NotDelivered  # never reached the device, or the device refused it whole
    else:
        kind = OutcomeUnknown  # a time-out, a lost link or garbled bytes once the request was out
    return kind(err.vi, err.en, code=err.code)


def document_for(document: Document) -> Any:
    """Return the printer layout object for an edge Document."""
    from devices.printer import layout

    fields = dict(document.fields)
    kinds: dict[str, Any] = {"ticket": layout.Ticket, "dossier_receipt": layout.DossierReceipt,
                             "fee_receipt": layout.FeeReceipt, "test_page": layout.TestPage}  # fmt: skip
    if document.kind not in kinds:
        raise DeviceFailure(
            f"Không có mẫu in “{document.kind}”.", f"No print layout “{document.kind}”.", code="unknown_layout"
        )
    try:
        if document.kind == "fee_receipt":
            fields["lines"] = tuple(layout.FeeLine(str(x["name"]), int(x["amount"])) for x in fields.get("lines", []))
        return kinds[document.kind](**fields)
    except (TypeError, ValueError, KeyError) as err:  # a job whose fields do not fit the layout
        raise DeviceFailure(
            f"Nội dung lệnh in không khớp mẫu “{document.kind}”: {err}.",
            f"The print job's fields do not fit the “{document.kind}” layout: {err}.",
            code="bad_print_fields",
        ) from err
    except DeviceError as err:  # the layout refused them (e.g. a fee total that is not the sum)
        raise DeviceFailure(err.vi, err.en, code=err.code) from err


class PrinterAdapter:
    """A devices.printer Printer seen through edge.ports.Printer."""

    def __init__(self, driver: Any, url: str, running: Running | None) -> None:
        self._driver = driver
        self.url = url
        self._running = running

    def status(self) -> PrinterState | None:
        try:
            state = self._driver.status()
        except DeviceError as err:
            raise translate(err, sent=False) from err
        if state is None:
            return None
        return PrinterState(state.online, state.paper_near_end, state.paper_out, state.cover_open)

    def print(self, document: Document) -> PrintOutcome:
        doc = document_for(document)
        sim = self._running.sim if self._running else None
        pages_before = len(sim.pages) if sim else 0  # type: ignore[attr-defined]
        try:
            self._driver.check_ready()  # paper, cover, offline: refused before a byte of the job goes out
        except DeviceError as err:
            raise translate(err, sent=False) from err
        try:
            sent = int(self._driver.print_document(doc))
        except DeviceError as err:
            raise translate(err, sent=True) from err
        if sim is None:
            return PrintOutcome(sent)
        # The simulator reads on its own thread: every document ends with a cut, so wait for its page.
        deadline = time.monotonic() + SIM_SETTLE_S
        while len(sim.pages) <= pages_before and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.01)
        sim.feed(b"")  # type: ignore[attr-defined]  # waits for the chunk being decoded (feed holds its lock)
        pages = sim.pages[pages_before:]  # type: ignore[attr-defined]
        return PrintOutcome(sent, tuple(str(p.png_path) for p in pages if p.png_path))

    def close(self) -> None:
        self._driver.close()


class TerminalAdapter:
    """A devices.terminal ConcertTerminal seen through edge.ports.CardTerminal."""

    def __init__(self, driver: Any, url: str) -> None:
        self._driver = driver
        self.url = url

    @staticmethod
    def _result(result: Any) -> CardResult:
        return CardResult(
            result.outcome, result.amount, result.reference, result.authorization, result.card, result.message_vi,
            result.message_en,
        )  # fmt: skip

    def sale(self, amount: int, reference: str) -> CardResult:
        try:
            return self._result(self._driver.sale(amount, reference))
        except DeviceError as err:
            raise translate(err, sent=True) from err

    def void(self, reference: str, amount: int) -> CardResult:
        try:
            return self._result(self._driver.void(reference, amount))
        except DeviceError as err:
            raise translate(err, sent=True) from err

    def last_transaction(self) -> CardResult | None:
        try:
            last = self._driver.last_transaction()
        except DeviceError as err:
            raise translate(err, sent=False) from err
        if last is None:
            return None
        # A sale voided since (or the void itself) is reported as the approved sale, voided.
        voided = bool(last.voided) or last.kind == "void"
        return replace(self._result(last), outcome="approved" if voided else last.outcome, voided=voided)

    def status(self) -> tuple[str, str]:
        try:
            state = self._driver.status()
        except DeviceError as err:
            raise translate(err, sent=False) from err
        if not state.ready:  # busy or offline: no sale can start now
            raise NotDelivered(state.message_vi, state.message_en, code=f"terminal_{state.state}")
        return str(state.message_vi), str(state.message_en)

    def close(self) -> None:
        self._driver.close()


class KeypadAdapter:
    """A devices.keypad SerialKeypad seen through edge.ports.RatingPad."""

    def __init__(self, driver: Any, url: str) -> None:
        self._driver = driver
        self.url = url
        self.buttons = int(driver.buttons)

    def read_press(self, timeout: float) -> KeyPress | None:
        try:
            press = self._driver.read_press(timeout)
        except DeviceError as err:
            raise translate(err, sent=False) from err
        return None if press is None else KeyPress(press.button, press.at)

    def close(self) -> None:
        self._driver.close()


class Devices:
    """The box's devices by role, from DATA/motcua.toml (implements edge.ports.DeviceOpener)."""

    def __init__(self, settings: Settings, *, follow_file: bool = True) -> None:
        self._settings = settings
        self._follow = follow_file  # False: settings given for one run (a --printer URL), not the file's
        self._stamp = self._mtime()
        self._sims: dict[str, Running] = {}
        self._lock = threading.Lock()

    def _mtime(self) -> float:
        try:
            return (self._settings.data_dir / CONFIG_FILE).stat().st_mtime
        except OSError:
            return 0.0

    @property
    def settings(self) -> Settings:
        """The settings as the config file says now."""
        stamp = self._mtime()
        if self._follow and stamp != self._stamp:
            self._stamp = stamp
            self._settings = load_settings(self._settings.data_dir)
        return self._settings

    def url(self, role: str) -> str:
        return str(getattr(self.settings, role, "") or "")

    def urls(self) -> dict[str, str]:
        """Every role's configured URL."""
        return {role: self.url(role) for role in _SIM_KIND}

    def simulator(self, role: str) -> Running | None:
        """The simulator serving a role's sim:// address, once started."""
        return self._sims.get(role)

    def _address(self, role: str) -> tuple[str, Running | None]:
        """Return the address a driver opens for a role (a simulator's own, for sim://)."""
        url = self.url(role)
        if not url:
            name = {"card_terminal": "máy POS", "rating_keypad": "bàn phím đánh giá"}.get(role, "máy in")
            raise NotConfigured(
                f"Chưa cấu hình {name} cho máy này (trang Thiết bị).",
                f"No {role.replace('_', ' ')} is set up on this box (Devices page).",
            )
        if not url.startswith("sim://"):
            return url, None
        with self._lock:
            running = self._sims.get(role)
            if running is None:
                out = self.settings.data_dir / "prints" / role if role in PRINTER_ROLES else None
                if out is not None:
                    out.mkdir(parents=True, exist_ok=True)
                listen = "tcp://127.0.0.1:0" if role in PRINTER_ROLES else "pty"
                try:
                    running = start_simulator(_SIM_KIND[role], listen, out_dir=out)
                except DeviceError as err:
                    raise translate(err, sent=False) from err
                self._sims[role] = running
            return running.url, running

    def printer(self, role: str) -> PrinterAdapter:
        from devices.printer.transport import open_printer

        address, running = self._address(role)
        profile = str(getattr(self.settings, f"{role}_profile", "generic-80"))
        try:
            driver = open_printer(address, profile=profile)
        except DeviceError as err:
            raise translate(err, sent=False) from err
        return PrinterAdapter(driver, self.url(role), running)

    def terminal(self) -> TerminalAdapter:
        from devices.terminal import open_terminal

        address, _ = self._address("card_terminal")
        try:
            driver = open_terminal(address, answer_timeout=TERMINAL_ANSWER_S)
        except DeviceError as err:
            raise translate(err, sent=False) from err
        return TerminalAdapter(driver, self.url("card_terminal"))

    def keypad(self) -> KeypadAdapter:
        from devices.keypad import open_keypad

        address, _ = self._address("rating_keypad")
        try:
            driver = open_keypad(address)
        except DeviceError as err:
            raise translate(err, sent=False) from err
        with contextlib.suppress(DeviceError):
            driver.identify(KEYPAD_IDENTIFY_S)  # learns 3 or 5 buttons; a pad that does not answer keeps 5
        return KeypadAdapter(driver, self.url("rating_keypad"))

    def check_address(self, url: str, role: str) -> None:
        from devices.urls import parse_device_url

        try:
            address = parse_device_url(url)
        except DeviceError as err:
            raise ValidationError(err.vi, err.en, code=err.code, field=role) from err
        allowed = _SCHEMES[role]
        kind = _SIM_KIND[role]
        if address.scheme not in allowed or (address.scheme == "sim" and address.path != kind):
            names = ", ".join(f"sim://{kind}" if s == "sim" else f"{s}://" for s in allowed)
            raise ValidationError(
                f"Địa chỉ “{url}” không dùng được cho {ROLE_NAMES[role][0].lower()}: chỉ nhận {names}.",
                f"“{url}” cannot be used for the {ROLE_NAMES[role][1].lower()}: only {names}.",
                code="bad_device_address",
                field=role,
            )

    def printer_profiles(self) -> list[str]:
        from devices.printer.profiles import PROFILES

        return sorted(PROFILES)

    def discover(self) -> list[dict[str, str]]:
        from devices.discovery import discover

        return [{"url": d.url, "kind": d.kind, "description": d.description} for d in discover()]

    def page_file(self, role: str, name: str) -> Path | None:
        folder = prints_dir(self.settings.data_dir, role)
        if role not in PRINTER_ROLES or not _PAGE_NAME.fullmatch(name):
            return None
        path = folder / name
        return path if path.is_file() else None

    def close(self) -> None:
        """Stop the simulators this box started."""
        with self._lock:
            for running in self._sims.values():
                running.stop()
            self._sims.clear()


def prints_dir(data_dir: Path, role: str) -> Path:
    """Where the simulated printer of a role saves its pages."""
    return data_dir / "prints" / role
