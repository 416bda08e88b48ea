"""Concert E+ framing and messages: exact bytes, LRC, and property tests for the incremental reader."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import DeviceError, DeviceProtocolError
from devices.terminal.protocol import (
    ACK,
    ENQ,
    EOT,
    ETX,
    MAX_FRAME,
    STX,
    Answer,
    BadFrame,
    Control,
    Event,
    Frame,
    FrameReader,
    Report,
    Request,
    TerminalRequestError,
    frame,
    last_transaction_request,
    lrc,
    sale_request,
    void_request,
)

# Bytes a Concert message may hold: anything but the frame's own delimiters.
message_bytes = st.binary(min_size=0, max_size=120).filter(lambda b: STX not in b and ETX not in b)
references = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=10)


def frames_of(events: list[Event]) -> list[bytes]:
    return [e.message for e in events if isinstance(e, Frame)]


def test_lrc_known_values() -> None:
    assert lrc(b"") == 0
    assert lrc(b"\x03") == 0x03
    assert lrc(b"AB\x03") == 0x41 ^ 0x42 ^ 0x03
    assert frame(b"A") == b"\x02A\x03" + bytes([0x41 ^ 0x03])


def test_sale_request_exact_bytes() -> None:
    wire = frame(sale_request(150_000, "PAY0001").encode())
    assert wire == b"\x02" + b"0100150000110704PAY0001   A010B010" + b"\x03\x6f"


def test_void_and_last_transaction_requests_exact_text() -> None:
    assert void_request("PAY0001", 1_000).encode() == b"0100001000112704PAY0001   A010B010"
    assert last_transaction_request().encode() == b"0100000000" + b"11T704" + b" " * 10 + b"A010B010"


def test_largest_amount_fits_and_one_more_is_refused_in_both_languages() -> None:
    assert sale_request(99_999_999, "P").encode()[2:10] == b"99999999"
    with pytest.raises(TerminalRequestError) as err:
        sale_request(100_000_000, "P")
    assert "99.999.999 đ" in err.value.vi and "99,999,999 VND" in err.value.en


@pytest.mark.parametrize("amount", [0, -1, 1.5, True, "1000"])
def test_bad_amounts_are_refused(amount: object) -> None:
    with pytest.raises(DeviceError) as err:
        sale_request(amount, "P")  # type: ignore[arg-type]
    assert err.value.vi and err.value.en


@pytest.mark.parametrize("reference", ["", "ABCDEFGHIJK", "PAY 1", "Mã01", "A\x03"])
def test_bad_references_are_refused(reference: str) -> None:
    with pytest.raises(TerminalRequestError) as err:
        sale_request(1_000, reference)
    assert "Mã thanh toán" in err.value.vi and "Payment id" in err.value.en


def test_frame_refuses_delimiters_inside() -> None:
    with pytest.raises(TerminalRequestError):
        frame(b"A\x02B")


@given(st.lists(message_bytes, min_size=1, max_size=5), st.data())
def test_any_split_of_the_stream_gives_the_same_frames(messages: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(frame(m) for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader = FrameReader()
    events: list[Event] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        events += reader.feed(stream[start:cut])
        start = cut
    assert frames_of(events) == messages
    assert not reader.in_frame


@given(st.binary(max_size=60).filter(lambda b: STX not in b), message_bytes)
def test_noise_before_stx_is_skipped(noise: bytes, message: bytes) -> None:
    events = FrameReader().feed(noise + frame(message))
    assert frames_of(events) == [message]
    assert not any(isinstance(e, BadFrame) for e in events)


@given(message_bytes, st.integers(1, 255))
def test_a_wrong_lrc_is_reported_and_the_next_frame_still_read(message: bytes, flip: int) -> None:
    good = frame(message)
    bad = good[:-1] + bytes([good[-1] ^ flip])
    events = FrameReader().feed(bad + good)
    assert isinstance(events[0], BadFrame) and events[0].reason == "lrc"
    assert frames_of(events) == [message]


def test_control_bytes_outside_frames_are_events() -> None:
    events = FrameReader().feed(bytes([ENQ, 0x41, ACK]) + frame(b"X") + bytes([EOT]))
    assert events == [Control(ENQ), Control(ACK), Frame(b"X"), Control(EOT)]


def test_endless_frame_is_cut_as_bad() -> None:
    reader = FrameReader()
    events = reader.feed(b"\x02" + b"A" * (MAX_FRAME + 5))
    assert len(events) == 1 and isinstance(events[0], BadFrame) and events[0].reason == "too_long"
    assert frames_of(reader.feed(frame(b"OK"))) == [b"OK"]


@given(st.integers(1, 99_999_999), references, st.sampled_from(["0", "2"]))
def test_request_round_trip(amount: int, reference: str, kind: str) -> None:
    request = sale_request(amount, reference) if kind == "0" else void_request(reference, amount)
    message = request.encode()
    assert len(message) == 34
    assert Request.parse(message) == request


@given(
    st.sampled_from(["0", "7"]),
    st.integers(0, 99_999_999),
    references,
    st.booleans(),
    st.text(alphabet="0123456789*", max_size=19),
    st.text(alphabet="0123456789", max_size=6),
    st.sampled_from(["00", "05", "17", "25"]),
)
def test_answer_round_trip(
    status: str, amount: int, reference: str, voided: bool, card: str, auth: str, code: str
) -> None:
    report = Report(card=card, authorization=auth, response_code=code, voided=voided, extension=voided)
    answer = Answer(status, amount, reference, report)
    message = answer.encode()
    assert len(message) == 80
    assert Answer.parse(message) == answer
    short = Answer(status, amount, reference)
    assert len(short.encode()) == 25 and Answer.parse(short.encode()) == short


def test_rep_from_a_terminal_without_the_box_layout_yields_only_the_card() -> None:
    rep = f"{'4970101234561234 0626 101 ANY THING':<55}"
    report = Report.parse(rep)
    assert report == Report(card="4970101234561234")


@pytest.mark.parametrize(
    "message",
    [
        b"01000",  # wrong length
        b"0100001000A1704PAY1      ",  # non-digit amount
        b"01X000010001704PAY1      ",  # unknown status
        b"010000010001704PAY1\x07     ",  # control byte inside
        "010000010001704PAYé     ".encode(),  # not ASCII
    ],
)
def test_bad_answers_raise_protocol_errors_in_both_languages(message: bytes) -> None:
    with pytest.raises(DeviceProtocolError) as err:
        Answer.parse(message)
    assert "Concert" in err.value.vi and "Concert" in err.value.en


@pytest.mark.parametrize("message", [b"short", b"01000010001X704PAY1      A010B010"])
def test_bad_requests_raise_protocol_errors(message: bytes) -> None:
    with pytest.raises(DeviceProtocolError):
        Request.parse(message)
