"""`motcua devices …` as a technician types it: the real command in a real process, on a box `motcua init` made.

Printers and terminals are the real simulators: sim:// addresses (started by the command), a
terminal on a pseudo-terminal served here, and the foreground `devices simulate` processes the
test connects to with the real drivers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devices.discovery import discover
from devices.keypad import open_keypad
from devices.printer.layout import TestPage
from devices.printer.simulator import decode_escpos
from devices.printer.transport import open_printer
from devices.terminal import open_terminal
from devices.terminal.simulator import TerminalSimulator, serve_terminal
from devices.urls import parse_device_url
from devices.vietqr import check_payload, parse_tlv
from edge.config import CONFIG_FILE, load_settings
from edge.ports import ROLES

VIETNAMESE = set("ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without MOTCUA_* settings (the command must read the box's own file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    return {**env, **extra}


def motcua(*args: str, lang: str = "vi", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `motcua ARGS…` (python -m edge.cli) and return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(MOTCUA_LANG=lang),
    )


def refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Check a command failed with one clear line on stderr (Vietnamese, NFC) holding `words`; return it."""
    assert result.returncode != 0, result.stdout
    message = result.stderr.strip()
    assert message.startswith("motcua: ") and "\n" not in message, result.stderr
    assert "Traceback" not in result.stderr
    assert unicodedata.is_normalized("NFC", message)
    assert VIETNAMESE & set(message.lower()), message
    for word in words:
        assert word in message, message
    return message


@pytest.fixture(scope="module")
def made_box(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One box made by `motcua init`; each test works on its own copy."""
    data = tmp_path_factory.mktemp("made") / "box"
    result = motcua(
        "init", "--data", str(data), "--commune-code", "00001", "--agency-code", "000.17.22.H56",
        "--name", "UBND xã Thử Nghiệm",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Đã tạo máy" in result.stdout
    return data


@pytest.fixture
def data(made_box: Path, tmp_path: Path) -> str:
    target = tmp_path / "box"
    shutil.copytree(made_box, target)
    return str(target)


def configured(data: str) -> dict[str, Any]:
    """The device part of the box's settings as the file says now."""
    settings = load_settings(data, env={})
    return {role: getattr(settings, role) for role in ROLES} | {
        "receipt_printer_profile": settings.receipt_printer_profile
    }


def listing(data: str) -> dict[str, Any]:
    result = motcua("devices", "list", "--data", data, "--json")
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


# -- list and set ----------------------------------------------------------------------------------


def test_list_shows_every_role_and_the_devices_found(data: str) -> None:
    result = motcua("devices", "list", "--data", data)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Thiết bị đã cấu hình:"
    assert lines[1:5] == [
        "  Máy in biên nhận: — [chưa cấu hình]",
        "  Máy in số thứ tự: — [chưa cấu hình]",
        "  Máy POS thanh toán thẻ: — [chưa cấu hình]",
        "  Bàn phím đánh giá: — [chưa cấu hình]",
    ]
    assert lines[5] == "Thiết bị tìm thấy trên máy:"
    found = [d.url for d in discover()]
    assert lines[6:] == ([f"  {d.url}  ({d.kind}: {d.description})" for d in discover()] or ["  (không có)"])

    listed = listing(data)
    assert [c["role"] for c in listed["configured"]] == list(ROLES)
    assert {c["state"] for c in listed["configured"]} == {"none"}
    assert [d["url"] for d in listed["discovered"]] == found
    for device in listed["discovered"]:
        parse_device_url(device["url"])
        assert set(device) == {"url", "kind", "description"}

    english = motcua("devices", "list", "--data", data, lang="en")
    assert "Configured devices:" in english.stdout and "Receipt printer: — [not set up]" in english.stdout


def test_set_writes_a_valid_address_and_list_shows_its_state(data: str) -> None:
    result = motcua(
        "devices", "set", "--data", data, "receipt_printer", "tcp://192.0.2.10:9100", "--profile", "generic-58"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Đã đặt Máy in biên nhận: tcp://192.0.2.10:9100."
    result = motcua("devices", "set", "--data", data, "card_terminal", "serial:///dev/ttyUSB0?baudrate=9600")
    assert result.returncode == 0, result.stderr
    assert configured(data) == {
        "receipt_printer": "tcp://192.0.2.10:9100", "ticket_printer": "", "rating_keypad": "",
        "card_terminal": "serial:///dev/ttyUSB0?baudrate=9600", "receipt_printer_profile": "generic-58",
    }  # fmt: skip
    states = {c["role"]: (c["url"], c["state"]) for c in listing(data)["configured"]}
    assert states["receipt_printer"] == ("tcp://192.0.2.10:9100", "unknown")
    assert states["ticket_printer"] == ("", "none")

    result = motcua("devices", "set", "--data", data, "card_terminal", "")  # an empty address takes it off
    assert result.returncode == 0 and "(không có)" in result.stdout
    assert configured(data)["card_terminal"] == ""


@pytest.mark.parametrize(("args", "words"), [
    (("receipt_printer", "bogus://x"), ("bogus://x", "không dùng được")),
    (("receipt_printer", "tcp://printer"), ("cần máy và cổng",)),
    (("card_terminal", "serial://"), ("đường dẫn cổng",)),
    (("card_terminal", "serial:///dev/ttyUSB0?baudrate=abc"), ("baudrate",)),
    (("scanner", "sim://printer"), ("Vai trò thiết bị",)),
    (("receipt_printer", "sim://printer", "--profile", "no-such-model"), ("no-such-model",)),
    (("card_terminal", "sim://terminal", "--profile", "generic-80"), ("Chỉ máy in",)),
])  # fmt: skip
def test_set_refuses_a_bad_address_and_changes_nothing(
    data: str, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    config = Path(data) / CONFIG_FILE
    before = config.read_bytes()
    result = motcua("devices", "set", "--data", data, *args)
    refused(result, *words)
    assert result.stdout == ""
    assert config.read_bytes() == before


def test_set_explains_in_english_when_asked(data: str) -> None:
    result = motcua("devices", "set", "--data", data, "receipt_printer", "bogus://x", lang="en")
    assert result.returncode != 0 and result.stderr.startswith("motcua: ") and "bogus://x" in result.stderr
    assert not VIETNAMESE & set(result.stderr.lower())


@pytest.mark.parametrize(
    ("role", "url"), [("card_terminal", "tcp://192.0.2.10:9100"), ("rating_keypad", "usb://04b8:0202")]
)
def test_set_refuses_an_address_the_role_cannot_use(data: str, role: str, url: str) -> None:
    before = (Path(data) / CONFIG_FILE).read_bytes()
    refused(motcua("devices", "set", "--data", data, role, url))
    assert (Path(data) / CONFIG_FILE).read_bytes() == before


# -- print-test ------------------------------------------------------------------------------------


def test_print_test_on_the_simulated_printer_saves_the_page(data: str) -> None:
    assert motcua("devices", "set", "--data", data, "receipt_printer", "sim://printer").returncode == 0
    result = motcua("devices", "print-test", "--data", data)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"Đã in trang thử \(\d+ byte\) ra sim://printer\.", lines[0]), lines
    assert lines[1] == "Trạng thái: sẵn sàng."
    saved = [line.removeprefix("Trang in đã lưu: ") for line in lines if line.startswith("Trang in đã lưu: ")]
    assert len(saved) == 1
    page = Path(saved[0])
    assert page.parent == Path(data).resolve() / "prints" / "receipt_printer"
    assert page.read_bytes().startswith(b"\x89PNG")
    assert "[QR] MOTCUA-TEST sim://printer" in page.with_suffix(".txt").read_text(encoding="utf-8")
    receipt = listing(data)["configured"][0]
    assert (receipt["state"], receipt["detail"]) == ("ok", "print-test")


def test_print_test_to_a_file_writes_escpos_bytes(data: str, tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    result = motcua("devices", "print-test", "--data", data, "--printer", f"file://{out}")
    assert result.returncode == 0, result.stderr
    said = re.search(r"\((\d+) byte\)", result.stdout)
    assert said is not None, result.stdout
    sent = int(said.group(1))
    data_bytes = out.read_bytes()
    assert len(data_bytes) == sent > 1000
    pages = decode_escpos(data_bytes)
    assert len(pages) == 1 and pages[0].cut
    assert pages[0].qr == [f"MOTCUA-TEST file://{out}"]
    assert pages[0].image.height > 300
    assert "Trạng thái" not in result.stdout  # a file cannot say how the printer is
    assert configured(data)["receipt_printer"] == ""  # --printer is for this run only
    assert listing(data)["configured"][0]["state"] == "none"


def test_print_test_failures_are_one_clear_line(data: str) -> None:
    refused(motcua("devices", "print-test", "--data", data), "Chưa cấu hình máy in")
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused(motcua("devices", "print-test", "--data", data, "--printer", f"tcp://127.0.0.1:{port}"), "Không mở được")
    refused(motcua("devices", "print-test", "--data", data, "--printer", "serial:///dev/no-such-tty"), "no-such-tty")
    bad_role = motcua("devices", "print-test", "--data", data, "--role", "card_terminal")
    assert bad_role.returncode == 2 and "--role" in bad_role.stderr


# -- terminal-test ---------------------------------------------------------------------------------


def test_terminal_test_on_the_simulator_sells_and_voids_1000_dong(data: str) -> None:
    assert motcua("devices", "set", "--data", data, "card_terminal", "sim://terminal").returncode == 0
    result = motcua("devices", "terminal-test", "--data", data)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Máy POS sim://terminal: ") and "Máy POS sẵn sàng." in lines[0]
    assert lines[1:] == [
        "Giao dịch gần nhất: không có.",
        "Bán thử 1.000 đ: chấp nhận.",
        "Hủy giao dịch thử: chấp nhận.",
    ]
    terminal = listing(data)["configured"][2]
    assert (terminal["role"], terminal["state"], terminal["detail"]) == ("card_terminal", "ok", "terminal-test")


@pytest.fixture
def serial_terminal() -> Iterator[tuple[str, TerminalSimulator]]:
    """A Concert terminal simulator on a pseudo-terminal served by the test: a "real" serial terminal."""
    sim = TerminalSimulator()
    server = serve_terminal("pty", sim)
    yield f"serial://{server.path}?baudrate=9600", sim
    server.stop()


def test_terminal_test_on_a_serial_terminal_makes_no_sale(
    data: str, serial_terminal: tuple[str, TerminalSimulator]
) -> None:
    url, sim = serial_terminal
    with open_terminal(url, answer_timeout=5) as terminal:
        assert terminal.sale(12_345, "QUAY0001").outcome == "approved"
    result = motcua("devices", "terminal-test", "--data", data, "--terminal", url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Máy POS {url}: ") and "sẵn sàng" in lines[0]
    assert lines[1].startswith("Giao dịch gần nhất: QUAY0001 ") and lines[1].endswith("chấp nhận.")
    assert lines[2] == "Không bán thử trên máy POS thật (chỉ trên trình mô phỏng)."
    assert len(lines) == 3
    assert [(t.kind, t.reference) for t in sim.transactions] == [("sale", "QUAY0001")]  # nothing sold by the test
    assert sim.charged_total() == 12_345
    assert configured(data)["card_terminal"] == ""

    english = motcua("devices", "terminal-test", "--data", data, "--terminal", url, lang="en")
    assert "No test sale on a real terminal (only on the simulator)." in english.stdout
    assert len(sim.transactions) == 1


def test_terminal_test_failures_are_one_clear_line(data: str) -> None:
    refused(motcua("devices", "terminal-test", "--data", data), "Chưa cấu hình máy POS")
    refused(
        motcua("devices", "terminal-test", "--data", data, "--terminal", "serial:///dev/no-such-tty"),
        "/dev/no-such-tty",
    )
    refused(motcua("devices", "terminal-test", "--data", data, "--terminal", "tcp://192.0.2.10:9100"), "serial://")


# -- vietqr ----------------------------------------------------------------------------------------


def test_vietqr_prints_a_valid_payload_with_the_purpose_in_ascii() -> None:
    result = motcua(
        "devices", "vietqr", "--bank-bin", "970436", "--account", "0011001234567", "--amount", "50000",
        "--purpose", "Phí hồ sơ",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = result.stdout.strip()
    assert result.stdout == payload + "\n"
    fields = check_payload(payload)
    assert fields["01"] == "12" and fields["54"] == "50000"
    assert parse_tlv(fields["62"])["08"] == "Phi ho so"
    beneficiary = parse_tlv(parse_tlv(fields["38"])["01"])
    assert beneficiary == {"00": "970436", "01": "0011001234567"}

    static = motcua("devices", "vietqr", "--bank-bin", "970436", "--account", "0011001234567")
    assert static.returncode == 0
    fields = check_payload(static.stdout.strip())
    assert fields["01"] == "11" and "54" not in fields and "62" not in fields


@pytest.mark.parametrize(("args", "words"), [
    (("--bank-bin", "97043", "--account", "0011001234567"), ("Mã BIN ngân hàng", "6 chữ số")),
    (("--bank-bin", "970436", "--account", "tài khoản"), ("Số tài khoản",)),
    (("--bank-bin", "970436", "--account", "0011001234567", "--amount", "0"), ("Số tiền",)),
    (("--bank-bin", "970436", "--account", "0011001234567", "--amount", "-5"), ("Số tiền",)),
])  # fmt: skip
def test_vietqr_refuses_bad_arguments(args: tuple[str, ...], words: tuple[str, ...]) -> None:
    result = motcua("devices", "vietqr", *args)
    refused(result, *words)
    assert result.stdout == ""


@pytest.mark.parametrize(("args", "word"), [
    (("--bank-bin", "970436"), "--account"),
    (("--bank-bin", "970436", "--account", "1", "--amount", "năm mươi"), "--amount"),
])  # fmt: skip
def test_vietqr_usage_errors(args: tuple[str, ...], word: str) -> None:
    result = motcua("devices", "vietqr", *args)
    assert result.returncode == 2 and word in result.stderr and "Traceback" not in result.stderr


# -- simulate --------------------------------------------------------------------------------------


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Start `motcua devices simulate ARGS…` in the foreground; return it and the address its first line names."""
    process = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "devices", "simulate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(MOTCUA_LANG="vi"),
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"đang nghe tại (\S+?)(;|$)", line.strip())
    if found is None:
        process.kill()
        pytest.fail(f"no address in {line!r}: {process.communicate()}")
    return process, found.group(1)


def interrupt(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Ctrl-C the simulator; return its exit code and what else it printed."""
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    return process.returncode, out, err


def test_simulate_printer_on_tcp_prints_what_a_driver_sends(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    process, url = start("printer", "--listen", "tcp://127.0.0.1:0", "--out", str(pages))
    try:
        assert re.fullmatch(r"tcp://127\.0\.0\.1:[1-9]\d*", url)
        with open_printer(url, timeout=5) as printer:
            state = printer.status()
            assert state is not None and state.online and not state.paper_out
            assert printer.print_document(TestPage("UBND xã Thử Nghiệm", url)) > 1000
        deadline = time.monotonic() + 10
        while not list(pages.glob("*.txt")) and time.monotonic() < deadline:
            time.sleep(0.05)
        texts = list(pages.glob("*.txt"))
        assert len(texts) == 1 and texts[0].with_suffix(".png").is_file()
        time.sleep(0.1)  # the PNG is written right after the text
        assert f"[QR] MOTCUA-TEST {url}" in texts[0].read_text(encoding="utf-8")
    finally:
        code, out, err = interrupt(process)
    assert (code, out, err) == (130, "", "")
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # the port is closed with the process


def test_simulate_terminal_on_a_pty_by_default() -> None:
    process, url = start("terminal")
    try:
        assert re.fullmatch(r"serial:///dev/pts/\d+\?baudrate=9600", url)
        with open_terminal(url, answer_timeout=5) as terminal:
            assert terminal.status().ready
            assert terminal.sale(1000, "CLISIM1").outcome == "approved"
            last = terminal.last_transaction()
            assert last is not None and (last.reference, last.amount) == ("CLISIM1", 1000)
    finally:
        code, out, err = interrupt(process)
    assert (code, out, err) == (130, "", "")


def test_simulate_keypad_answers_who_it_is() -> None:
    process, url = start("keypad", "--pty")
    try:
        assert url.startswith("serial:///dev/pts/")
        keypad = open_keypad(url)
        try:
            info = keypad.identify(2.0)
        finally:
            keypad.close()
        assert info.buttons == 5 and info.model
    finally:
        code, _, err = interrupt(process)
    assert (code, err) == (130, "")


@pytest.mark.parametrize(("args", "words"), [
    (("terminal", "--listen", "tcp://127.0.0.1:0"), ("pty",)),
    (("printer", "--listen", "udp://127.0.0.1:9100"), ("udp://127.0.0.1:9100",)),
])  # fmt: skip
def test_simulate_refuses_where_it_cannot_listen(args: tuple[str, ...], words: tuple[str, ...]) -> None:
    refused(motcua("devices", "simulate", *args, timeout=20), *words)


def test_simulate_usage_errors() -> None:
    for args in (("scanner",), ("printer", "--pty", "--listen", "tcp://127.0.0.1:0")):
        result = motcua("devices", "simulate", *args)
        assert result.returncode == 2 and "--help" in result.stderr and "Traceback" not in result.stderr


# -- exit codes ------------------------------------------------------------------------------------


def test_a_device_that_fails_exits_2(data: str) -> None:
    assert motcua("devices", "print-test", "--data", data, "--printer", "serial:///dev/no-such-tty").returncode == 2


def test_refused_input_exits_1(data: str) -> None:
    assert motcua("devices", "set", "--data", data, "scanner", "sim://printer").returncode == 1
    assert (
        motcua("devices", "set", "--data", data, "receipt_printer", "sim://printer", "--profile", "x").returncode == 1
    )


def test_devices_test_asks_every_configured_device_without_printing_or_charging(data: str) -> None:
    for role, url in (("receipt_printer", "sim://printer"), ("card_terminal", "sim://terminal"),
                      ("rating_keypad", "sim://keypad"), ("ticket_printer", "tcp://127.0.0.1:9")):  # fmt: skip
        assert motcua("devices", "set", "--data", data, role, url).returncode == 0
    result = motcua("devices", "test", "--data", data)
    assert result.returncode == 2, result.stdout + result.stderr  # one device is not there
    lines = result.stdout.splitlines()
    assert lines[0] == "TỐT  Máy in biên nhận (sim://printer): sẵn sàng"
    assert lines[1].startswith("LỖI  Máy in số thứ tự (tcp://127.0.0.1:9): ")
    assert lines[2].startswith("TỐT  Máy POS thanh toán thẻ (sim://terminal): ")
    assert lines[3] == "TỐT  Bàn phím đánh giá (sim://keypad): trả lời, 5 nút"
    assert not list((Path(data) / "prints").rglob("*.png"))  # nothing printed
    english = motcua("devices", "test", "--data", data, "card_terminal", lang="en")
    assert english.returncode == 0 and english.stdout.startswith("OK  Card terminal (sim://terminal): ")
    states = {d["role"]: d["state"] for d in listing(data)["configured"]}
    assert states == {"receipt_printer": "ok", "ticket_printer": "error", "card_terminal": "ok", "rating_keypad": "ok"}
