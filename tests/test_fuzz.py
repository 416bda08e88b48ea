"""Hypothesis fuzz of the parsers that read bytes from outside: sync batches, acks and packs, the card
terminal's frames and messages, the keypad's lines, the printer's status bytes and ESC/POS stream.

Each may refuse what it reads only with its own module's error types; anything else (a KeyError, a
TypeError, a RecursionError…) is a crash the fuzz reports.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.errors import DeviceError
from devices.keypad.protocol import PAD_SIZES, LineSplitter, parse_button, parse_identify
from devices.printer.escpos_decode import EscposDecoder
from devices.printer.simulator import STATUS_FIXED, PrinterSimulator
from devices.printer.transport import PrinterStatus, open_printer, parse_status
from devices.terminal.protocol import Answer, FrameReader, Report, Request, frame, sale_request
from sync.hub.blobs import decode_pack
from sync.protocol import decode_ack, encode_ack, encode_batch
from sync.protocol.errors import SyncError
from sync.protocol.office import decode_office_batch, encode_office_batch
from sync.protocol.wire import Batch, decode_batch
from tests.hub_support import dossier_events
from tests.test_office_sync import rating

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_BYTES, MAX_EVENTS = 1 << 20, 500

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)


def gz(data: Any) -> bytes:
    return gzip.compress(json.dumps(data, ensure_ascii=False).encode("utf-8"), mtime=0)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """A valid document with a few of its fields (at any depth) replaced, removed or added."""
    doc = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 4))):
        node: Any = doc
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
            if not isinstance(node[key], dict | list):
                break
            node = node[key]
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)) | st.text(max_size=10))
            if draw(st.booleans()):
                node[key] = draw(json_values)
            else:
                node.pop(key, None)
        elif isinstance(node, list) and node:
            node[draw(st.integers(0, len(node) - 1))] = draw(json_values)
    return doc


def valid_batch() -> dict[str, Any]:
    return json.loads(
        gzip.decompress(encode_batch(dossier_events(2, extra=1), box_id="hop-1", batch_id=str(uuid.uuid4())))
    )


def valid_office_batch() -> dict[str, Any]:
    body = encode_office_batch([rating()], box_id="hop-1", commune_code="00001", batch_id=str(uuid.uuid4()))
    return json.loads(gzip.decompress(body))


# --- sync batches, acks, packs --------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=300) | st.binary(max_size=300).map(gzip.compress))
def test_batch_decoder_on_any_bytes(body: bytes) -> None:
    for strict in (True, False):
        with contextlib.suppress(SyncError):
            assert isinstance(decode_batch(body, MAX_BYTES, MAX_EVENTS, strict=strict), Batch)


@FUZZ
@given(json_values | mutated(valid_batch()))
def test_batch_decoder_on_any_json(data: Any) -> None:
    for strict in (True, False):
        try:
            batch = decode_batch(gz(data), MAX_BYTES, MAX_EVENTS, strict=strict)
        except SyncError:
            continue
        assert all(isinstance(e, dict) for e in batch.events)


@FUZZ
@given(st.binary(max_size=300) | json_values.map(gz) | mutated(valid_office_batch()).map(gz))
def test_office_batch_decoder(body: bytes) -> None:
    with contextlib.suppress(SyncError):
        decode_office_batch(body, MAX_BYTES, MAX_EVENTS)


ACK = json.loads(encode_ack(batch_id=str(uuid.uuid4()), accepted=[str(uuid.uuid4())], already_held=[], rejected=[]))


@FUZZ
@given(
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | mutated(ACK).map(lambda v: json.dumps(v).encode())
)
def test_ack_decoder(body: bytes) -> None:
    with contextlib.suppress(SyncError):
        decode_ack(body)


@FUZZ
@given(st.binary(max_size=200), st.binary(max_size=200))
def test_pack_decoder(head: bytes, tail: bytes) -> None:
    for body in (head, b"MCP1" + head, b"MCP1" + bytes(32) + head + tail):
        with contextlib.suppress(SyncError):
            decode_pack(body)


# --- the card terminal ------------------------------------------------------------------------------


@FUZZ
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_terminal_frame_reader_on_any_stream(chunks: list[bytes]) -> None:
    reader = FrameReader()
    for chunk in chunks:
        reader.feed(chunk)
    reader.feed(frame(sale_request(1000, "THU-0001").encode()))  # and still reads a good frame after it all
    assert reader.in_frame is False or reader.feed(b"") == []


@FUZZ
@given(st.binary(max_size=80) | st.binary(min_size=34, max_size=34) | st.text(max_size=60).map(lambda t: t.encode()))
def test_terminal_message_parsers(message: bytes) -> None:
    for parse in (Request.parse, Answer.parse):
        with contextlib.suppress(DeviceError):
            parse(message)
    with contextlib.suppress(DeviceError):
        Report.parse(message.decode("latin-1"))


@FUZZ
@given(st.data())
def test_terminal_parsers_on_a_good_message_with_bytes_changed(data: st.DataObject) -> None:
    good = bytearray(sale_request(25_000, "THU-0042").encode())
    for _ in range(data.draw(st.integers(1, 4))):
        good[data.draw(st.integers(0, len(good) - 1))] = data.draw(st.integers(0, 255))
    for parse in (Request.parse, Answer.parse):
        with contextlib.suppress(DeviceError):
            parse(bytes(good))


# --- the keypad -----------------------------------------------------------------------------------


@FUZZ
@given(st.lists(st.binary(max_size=90), max_size=8))
def test_keypad_lines_from_any_stream(chunks: list[bytes]) -> None:
    splitter = LineSplitter()
    for chunk in chunks:
        for line in splitter.feed(chunk):
            button = parse_button(line)
            assert button is None or 1 <= button <= 99
            info = parse_identify(line)
            assert info is None or info.buttons in PAD_SIZES


# --- the printer ----------------------------------------------------------------------------------


@FUZZ
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
def test_printer_status_bytes_always_read(printer: int, offline: int, paper: int) -> None:
    assert isinstance(parse_status(printer, offline, paper), PrinterStatus)


class AnsweringPrinter(PrinterSimulator):
    """The printer simulator answering each status request with the bytes given to it."""

    def __init__(self, answers: list[bytes]) -> None:
        super().__init__()
        self.answers = answers

    def feed(self, data: bytes) -> bytes:
        return self.answers.pop(0) if data.startswith(b"\x10\x04") and self.answers else b""


@FUZZ
@given(
    st.lists(
        st.binary(max_size=3) | st.integers(0, 255).map(lambda b: bytes([b | STATUS_FIXED])), min_size=3, max_size=3
    )
)
def test_printer_status_from_any_answer(answers: list[bytes]) -> None:
    with open_printer("sim://printer", timeout=0.05) as printer:
        printer.simulator = AnsweringPrinter(answers)
        with contextlib.suppress(DeviceError):
            assert isinstance(printer.status(), PrinterStatus)


@FUZZ
@given(st.lists(st.binary(max_size=120), max_size=5))
def test_escpos_decoder_on_any_stream(chunks: list[bytes]) -> None:
    decoder = EscposDecoder(width_dots=384)
    for chunk in chunks:
        decoder.feed(chunk)
    decoder.finish()
