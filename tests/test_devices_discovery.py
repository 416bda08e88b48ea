"""Discovery: USB printers read from a sysfs tree laid out like the kernel's, serial ports from pyserial."""

from __future__ import annotations

import os
from pathlib import Path

from serial.tools import list_ports, list_ports_common, list_ports_linux

from devices.discovery import FoundDevice, discover, serial_port, serial_ports, usb_printers
from devices.keypad import serve_keypad
from devices.keypad.driver import open_keypad
from devices.urls import parse_device_url


def _files(folder: Path, **values: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in values.items():
        (folder / name).write_text(value + "\n")
    return folder


def kernel_like_sysfs(root: Path) -> Path:
    """Build /sys/devices/... with real folders and /sys/bus/usb/devices with symlinks, as the kernel does."""
    hub = root / "devices" / "pci0000:00" / "0000:00:14.0" / "usb1"
    bus = root / "bus" / "usb" / "devices"
    bus.mkdir(parents=True)
    layout = {
        # an Epson receipt printer: one printer interface
        "1-1": (
            {"idVendor": "04b8", "idProduct": "0202", "manufacturer": "EPSON", "product": "TM-T20II", "serial": "X4"},
            ["07"],
        ),
        # a keyboard: not a printer
        "1-2": ({"idVendor": "046d", "idProduct": "c31c", "manufacturer": "Logitech", "product": "Keyboard"}, ["03"]),
        # a composite device with two printer interfaces and no names: listed once
        "1-3": ({"idVendor": "0fe6", "idProduct": "811e"}, ["07", "07"]),
        # a broken device record: skipped
        "1-4": ({"idVendor": "zzzz", "idProduct": "0001"}, ["07"]),
    }
    for name, (attrs, classes) in layout.items():
        device = _files(hub / name, **attrs)
        (bus / name).symlink_to(device)
        for number, cls in enumerate(classes):
            iface = _files(device / f"{name}:1.{number}", bInterfaceClass=cls, bInterfaceSubClass="01")
            (bus / iface.name).symlink_to(iface)
    (bus / "usb1").symlink_to(_files(hub, idVendor="1d6b", idProduct="0002", bDeviceClass="09"))
    return bus


def test_usb_printers_from_a_kernel_like_sysfs(tmp_path: Path) -> None:
    found = usb_printers(kernel_like_sysfs(tmp_path))
    assert found == [
        FoundDevice("usb://04b8:0202", "usb-printer", "EPSON TM-T20II", "USB VID:PID=04B8:0202 SER=X4 LOCATION=1-1"),
        FoundDevice("usb://0fe6:811e", "usb-printer", "USB printer 0fe6:811e", "USB VID:PID=0FE6:811E LOCATION=1-3"),
    ]
    address = parse_device_url(found[0].url)
    assert (address.vendor_id, address.product_id) == (0x04B8, 0x0202)


def test_usb_printers_from_a_flat_tree(tmp_path: Path) -> None:
    """Some tools copy sysfs without its symlinks: interfaces then find their device by name."""
    _files(tmp_path / "2-1", idVendor="0519", idProduct="2013", product="Star TSP100")
    _files(tmp_path / "2-1:1.0", bInterfaceClass="07")
    _files(tmp_path / "2-2:1.0", bInterfaceClass="07")  # its device folder is missing: skipped
    assert usb_printers(tmp_path) == [
        FoundDevice("usb://0519:2013", "usb-printer", "Star TSP100", "USB VID:PID=0519:2013 LOCATION=2-1")
    ]


def test_an_unreadable_sysfs_gives_nothing(tmp_path: Path) -> None:
    assert usb_printers(tmp_path / "missing") == []
    (tmp_path / "file").write_text("not a folder")
    assert usb_printers(tmp_path / "file") == []


def test_discover_never_raises_and_lists_both_kinds(tmp_path: Path) -> None:
    found = discover(kernel_like_sysfs(tmp_path))
    assert [d.kind for d in found].count("usb-printer") == 2
    assert [d for d in found if d.kind == "serial"] == serial_ports()
    assert [d.kind for d in discover(tmp_path / "missing")] == ["serial"] * len(serial_ports())


def test_serial_ports_are_what_pyserial_sees_as_device_urls() -> None:
    ports = serial_ports()
    assert [d.url for d in ports] == sorted(f"serial://{p.device}" for p in list_ports.comports())
    for device in ports:
        address = parse_device_url(device.url)
        assert address.scheme == "serial" and os.path.exists(address.path)
        assert "baudrate" not in address.params  # a port does not say its device's speed


def test_a_described_pty_opens_with_the_keypad_driver() -> None:
    """pyserial's Linux lister skips pseudo-terminals, so describe one through its own SysFS record."""
    server = serve_keypad()
    try:
        found = serial_port(list_ports_linux.SysFS(server.path))
        assert found is not None and found.kind == "serial"
        assert found.url == f"serial://{server.path}"
        with open_keypad(found.url) as pad:
            assert pad.identify(2.0).buttons == 5
    finally:
        server.stop()


def test_a_port_path_that_cannot_be_a_url_is_skipped() -> None:
    assert serial_port(list_ports_common.ListPortInfo("/dev/tty?odd", skip_link_detection=True)) is None
