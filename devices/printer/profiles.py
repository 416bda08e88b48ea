"""Printer profiles: paper width in dots and what the printer's firmware can be trusted with.

Everything is printed as raster images unless a profile names a code page for text mode
(`text_codepage`, the ESC t number); then only rows that the code page can carry exactly, in the
normal size, go as text. `native_qr` says the printer has the GS ( k QR command; `status_query`
says it answers DLE EOT real-time status requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.errors import DeviceError

# ESC t numbers (Epson numbering) of code pages text mode can use, with the Python codec.
CODEPAGE_CODECS = {0: "cp437", 16: "cp1252", 52: "cp1258"}


@dataclass(frozen=True)
class PrinterProfile:
    """What one printer model can do."""

    name: str
    width_dots: int
    native_qr: bool
    text_codepage: int | None
    status_query: bool
    text_columns: int = 0  # characters per line of font A (12 dots wide) in text mode

    @property
    def width_bytes(self) -> int:
        """Bytes per full raster row."""
        return (self.width_dots + 7) // 8


PROFILES: dict[str, PrinterProfile] = {
    p.name: p
    for p in (
        # Unknown 58 mm printers: raster only, QR drawn as an image (cheap clones lack GS ( k).
        PrinterProfile("generic-58", 384, native_qr=False, text_codepage=None, status_query=True),
        # Unknown 80 mm printers: Epson-compatible firmware has GS ( k.
        PrinterProfile("generic-80", 576, native_qr=True, text_codepage=None, status_query=True),
        # Epson TM-T20II (80 mm, 72 mm printable = 576 dots): python-escpos's capabilities list
        # code page 52 as CP1258 (Vietnamese) and a QR command; 48 columns of font A.
        PrinterProfile("epson-tm-t20ii", 576, native_qr=True, text_codepage=52, status_query=True, text_columns=48),
        # Epson TM-T82 (80 mm, 576 dots): raster for Vietnamese, native QR.
        PrinterProfile("epson-tm-t82", 576, native_qr=True, text_codepage=None, status_query=True),
        # Xprinter XP-58 (58 mm, 384 dots): no QR command on the common firmware, no status.
        PrinterProfile("xprinter-xp58", 384, native_qr=False, text_codepage=None, status_query=False),
    )
}


def get_profile(name: str) -> PrinterProfile:
    """Return the named profile; raise DeviceError naming the known ones when it does not exist."""
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(PROFILES))
        raise DeviceError(
            f"Không có cấu hình máy in “{name}”. Chọn một trong: {known}.",
            f"Unknown printer profile “{name}”. Choose one of: {known}.",
            code="unknown_printer_profile",
        ) from None
