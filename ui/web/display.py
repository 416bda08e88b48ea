"""The display board for the hall's TV: the calls per counter, live, and the voice call."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, send_file
from werkzeug.wrappers import Response as BaseResponse

from edge import queue
from edge.voice import speak_to_wav
from ui.web.common import box, requires

bp = Blueprint("display", __name__)


@bp.get("/display")
@requires("queue.read")
def index() -> str:
    """The board: filled and kept live by the event stream (GET /api/v1/queue/events)."""
    return render_template("display/index.html", counters=queue.list_counters(box().db()))


@bp.get("/display/voice/<number>/<int:counter>.wav")
@requires("queue.read")
def voice(number: str, counter: int) -> BaseResponse:
    """The spoken call "Mời số … đến quầy số …" as a WAV made on the box."""
    if not (1 <= len(number) <= 8 and number.isalnum() and number.isascii()) or not 1 <= counter <= 99:
        abort(404)
    path = speak_to_wav(box().settings.data_dir / "cache" / "voice", queue.call_text(number.upper(), counter))
    return send_file(path, mimetype="audio/wav", max_age=86400)
