"""Find devices a technician can choose from: serial ports (pyserial) and USB printers (sysfs)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serial.tools import list_ports  # type: ignore[import-untyped]

from devices.errors import DeviceAddressError
from devices.urls import parse_device_url

log = logging.getLogger(__name__)
SYSFS_USB = Path("/sys/bus/usb/devices")
PRINTER_CLASS = 0x07  # USB interface class "Printer"


@dataclass(frozen=True)
class FoundDevice:
    """A device found on this machine, with the URL a driver opens it by."""

    url: str
    kind: str  # "serial" or "usb-printer"
    description: str
    hwid: str


def serial_port(info: Any) -> FoundDevice | None:
    """Describe one of pyserial's ListPortInfo as a FoundDevice; None if its path cannot be a device URL."""
    url = f"serial://{info.device}"
    try:
        parse_device_url(url)
    except DeviceAddressError:
        log.warning("serial port %r skipped: its path cannot be written as a device URL", info.device)
        return None
    return FoundDevice(url=url, kind="serial", description=str(info.description), hwid=str(info.hwid))


def serial_ports() -> list[FoundDevice]:
    """List the serial ports pyserial sees (no baud rate: a port does not say which one its device uses)."""
    found = (serial_port(info) for info in sorted(list_ports.comports(), key=lambda info: str(info.device)))
    return [device for device in found if device is not None]


def _read(folder: Path, name: str) -> str:
    try:
        return (folder / name).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _device_folder(sysfs: Path, interface: Path) -> Path:
    """Return the USB device an interface belongs to (its parent in /sys/devices, else by name)."""
    parent = interface.resolve().parent
    if (parent / "idVendor").exists():
        return parent
    return sysfs / interface.name.split(":", 1)[0]


def _usb_printer(device: Path) -> FoundDevice | None:
    try:
        vendor, product = int(_read(device, "idVendor"), 16), int(_read(device, "idProduct"), 16)
    except ValueError:
        return None
    if not (0 < vendor <= 0xFFFF and 0 < product <= 0xFFFF):
        return None
    names = " ".join(part for part in (_read(device, "manufacturer"), _read(device, "product")) if part)
    hwid = f"USB VID:PID={vendor:04X}:{product:04X}"
    serial_number = _read(device, "serial")
    if serial_number:
        hwid += f" SER={serial_number}"
    hwid += f" LOCATION={device.name}"
    return FoundDevice(
        url=f"usb://{vendor:04x}:{product:04x}",
        kind="usb-printer",
        description=names or f"USB printer {vendor:04x}:{product:04x}",
        hwid=hwid,
    )


def usb_printers(sysfs: Path = SYSFS_USB) -> list[FoundDevice]:
    """List USB devices with a printer-class interface, read from sysfs; [] when sysfs cannot be read."""
    try:
        entries = sorted(sysfs.iterdir())
    except OSError:
        return []
    devices: dict[Path, FoundDevice] = {}
    for entry in entries:
        if ":" not in entry.name:  # device folders are "1-1"; their interfaces are "1-1:1.0"
            continue
        try:
            if int(_read(entry, "bInterfaceClass") or "-1", 16) != PRINTER_CLASS:
                continue
        except ValueError:
            continue
        device = _device_folder(sysfs, entry)
        if device not in devices:
            printer = _usb_printer(device)
            if printer is not None:
                devices[device] = printer
    return list(devices.values())


def discover(sysfs: Path = SYSFS_USB) -> list[FoundDevice]:
    """List serial ports and USB printers; never raises (a source that cannot be read adds nothing)."""
    try:
        ports = serial_ports()
    except Exception as err:  # pyserial reads /dev and sysfs; a broken node must not break the device list
        log.warning("serial ports could not be listed: %s", err)
        ports = []
    return ports + usb_printers(sysfs)
