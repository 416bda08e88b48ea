"""The bad-input sweep: fuzz of everything that reads bytes or requests from outside.

Hypothesis feeds the parsers (sync batches, acks and packs, the card terminal's frames and messages,
the keypad's lines, the printer's status bytes and ESC/POS stream): each may refuse what it reads
only with its own module's error types; anything else (a KeyError, a TypeError…) is a crash.
Schemathesis sends valid and invalid requests for every operation of the box's and the hub's
OpenAPI documents to real servers: none may answer 5xx. Short in CI, long with `-m soak`.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from devices.errors import DeviceError
from devices.keypad.protocol import PAD_SIZES, LineSplitter, parse_button, parse_identify
from devices.printer.escpos_decode import EscposDecoder
from devices.printer.simulator import STATUS_FIXED, PrinterSimulator
from devices.printer.transport import PrinterStatus, open_printer, parse_status
from devices.terminal.protocol import Answer, FrameReader, Report, Request, frame, sale_request
from sync.hub.blobs import decode_pack
from sync.protocol import decode_ack, encode_ack, encode_batch, sign
from sync.protocol.errors import SyncError
from sync.protocol.office import decode_office_batch, encode_office_batch
from sync.protocol.wire import Batch, decode_batch
from tests.conftest import Server
from tests.hub_support import dossier_events
from tests.hubproc import Hub as ProcHub
from tests.hubproc import make_hub
from tests.test_api import make_box, serve_box
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


# --- schemathesis: the box's and the hub's APIs, served for real, never answer 5xx ---------------

BOX_SPEC = Path(__file__).resolve().parents[1] / "ui" / "openapi.yaml"
HUB_SPEC = Path(__file__).resolve().parents[1] / "sync" / "protocol" / "openapi.yaml"
SHORT, SOAK = 3, 150  # examples per operation and generation mode: in CI, and in `make soak`


def _raw(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False).encode("utf-8")


@schemathesis.serializer("application/vnd.motcua.batch+gzip")
def _batch_body(ctx: Any, value: Any) -> bytes:
    return gzip.compress(_raw(value), mtime=0)


@schemathesis.serializer("application/vnd.motcua.blobpack")
def _pack_body(ctx: Any, value: Any) -> bytes:
    return b"MCP1" + _raw(value)


class Sweep:
    """Send schemathesis' valid and invalid requests for every operation of a spec; keep each 5xx."""

    def __init__(self, base_url: str, authorize: Callable[[requests.PreparedRequest], None]) -> None:
        self.base_url, self.authorize = base_url, authorize
        self.session = requests.Session()
        self.failures: list[str] = []
        self.sent = 0

    def run(self, spec: Path, examples: int) -> list[str]:
        with self.session:
            for result in schemathesis.openapi.from_path(str(spec)).get_all_operations():
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    self.operation(result.ok(), mode, examples)
        return self.failures

    def operation(self, operation: schemathesis.APIOperation, mode: GenerationMode, examples: int) -> None:
        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy(mode))
        def send(case: schemathesis.Case) -> None:
            kwargs = case.as_transport_kwargs(base_url=self.base_url)
            kwargs.pop("cookies", None)
            try:
                prepared = self.session.prepare_request(requests.Request(**kwargs))
                self.authorize(prepared)
                answer = self.session.send(prepared, timeout=30, stream=True)  # the queue's event stream never ends
            except (ValueError, requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL):
                return  # a request `requests` itself refuses to send (a header with a newline…)
            except requests.exceptions.ConnectionError as err:
                self.failures.append(f"{operation.label} [{mode.value}]: connection lost {err}")
                return
            self.sent += 1
            with answer:
                if answer.status_code >= 500:
                    where = f"{operation.label} [{mode.value}] {prepared.url}"
                    self.failures.append(f"{where}: {answer.status_code} {answer.raw.read(300)!r}")

        try:
            send()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, operation.label  # nothing in it can be made invalid


@pytest.fixture(scope="module")
def box_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_box(make_box(tmp_path_factory.mktemp("schemathesis-box"))) as server:
        yield server


def box_sweep(server: Server, examples: int) -> Sweep:
    def authorize(prepared: requests.PreparedRequest) -> None:
        prepared.headers["Authorization"] = server.headers("lanhdao")["Authorization"]

    found = Sweep(server.url, authorize)
    found.run(BOX_SPEC, examples)
    return found


def hub_sweep(hub: SignedHub, examples: int) -> Sweep:
    found = Sweep(hub.hub.url, hub.authorize)
    found.run(HUB_SPEC, examples)
    return found


@dataclass
class SignedHub:
    """A real `motcua hub serve` with one enrolled box (its id and secret) and the admin's token."""

    hub: ProcHub
    box_id: str
    secret: bytes

    def authorize(self, prepared: requests.PreparedRequest) -> None:
        url = urlsplit(prepared.url or "")
        if url.path.startswith("/sync/v1/") and url.path != "/sync/v1/enroll":
            body = prepared.body.encode() if isinstance(prepared.body, str) else (prepared.body or b"")
            sig = sign(self.secret, self.box_id, prepared.method or "GET", url.path, url.query or None, body)
            prepared.headers.update(sig)
        else:
            prepared.headers["Authorization"] = self.hub.headers()["Authorization"]


@pytest.fixture(scope="module")
def hub_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignedHub]:
    hub = make_hub(tmp_path_factory.mktemp("schemathesis-hub") / "hub").start()
    try:
        code = hub.add_box("00001", "UBND xã Thử Nghiệm")
        box_id = str(uuid.uuid4())
        body = {
            "code": code,
            "box_id": box_id,
            "commune_code": "00001",
            "name": "UBND xã Thử Nghiệm",
            "version": "0.9.0",
        }
        answer = requests.post(f"{hub.url}/sync/v1/enroll", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        yield SignedHub(hub, box_id, bytes.fromhex(answer.json()["secret"]))
    finally:
        hub.stop()


def test_box_api_answers_no_5xx_to_any_request(box_api: Server) -> None:
    done = box_sweep(box_api, SHORT)
    assert done.failures == [] and done.sent > 100
    assert box_api.process.poll() is None


def test_hub_api_answers_no_5xx_to_any_request(hub_api: SignedHub) -> None:
    done = hub_sweep(hub_api, SHORT)
    assert done.failures == [] and done.sent > 60
    assert hub_api.hub.process is not None and hub_api.hub.process.poll() is None


@pytest.mark.soak
def test_box_api_soak(box_api: Server) -> None:
    assert box_sweep(box_api, SOAK).failures == []


@pytest.mark.soak
def test_hub_api_soak(hub_api: SignedHub) -> None:
    assert hub_sweep(hub_api, SOAK).failures == []
