"""The citizen's 9-indicator evaluation on a touch screen: at the kiosk (dossier code and the phone's last
4 digits, like the kiosk lookup), or on the counter's tablet the officer hands over from the dossier.

The kiosk form carries the code and the 4 digits it was opened with, and they are checked again when
the answers come: the answers of someone else's dossier cannot be sent. A dossier already evaluated
is refused unless the citizen ticks "replace the earlier evaluation" (edge.evaluation).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from edge import evaluation
from edge.errors import EdgeError
from edge.lookup import lookup as find_dossier
from edge.queries import get_dossier
from ui.web.common import box, lang, requires

bp = Blueprint("evaluation", __name__)


def _form(code: str, source: str, **extra: Any) -> str:
    return render_template(
        "evaluation/form.html",
        code=code,
        source=source,
        indicators=evaluation.INDICATORS,
        earlier=evaluation.get_evaluation(box().db(), code),
        en=lang() == "en",
        **{"answers": {}, "errors": {}, "error": None, "phone_last4": "", **extra},
    )


def _answer(code: str, source: str, phone_last4: str = "") -> tuple[str, int]:
    """Check and store the answers of the form; on an error, the form again with every problem named."""
    answers = {key: request.form.get(key, "") for key in evaluation.KEYS}
    _, errors = evaluation.check_answers(answers)
    if errors:
        messages = {key: err.message(lang()) for key, err in errors.items()}
        return _form(code, source, answers=answers, errors=messages, phone_last4=phone_last4), 422
    try:
        stored = evaluation.record_evaluation(
            box().db(), code, answers, source, box().now(), replace=request.form.get("replace") == "1"
        )
    except EdgeError as err:
        page = _form(code, source, answers=answers, error=err.message(lang()), phone_last4=phone_last4)
        return page, err.status
    return render_template(
        "evaluation/done.html", stored=stored, max_points=evaluation.MAX_POINTS, again=source == "kiosk"
    ), 201


@bp.route("/kiosk/evaluate", methods=["GET", "POST"])
@requires("kiosk.use")
def at_kiosk() -> tuple[str, int]:
    """Find the dossier by its code and the phone's last 4 digits, then answer the nine questions."""
    if request.method == "GET":
        return render_template("evaluation/find.html", error=None, values={}), 200
    code = request.form.get("code", "").strip()
    phone = request.form.get("phone_last4", "").strip()
    try:
        found = find_dossier(box().db(), code, phone, box().now())
    except EdgeError as err:
        values = {"code": code[:64]}
        return render_template("evaluation/find.html", error=err.message(lang()), values=values), err.status
    if request.form.get("step") != "answers":
        return _form(found["code"], "kiosk", phone_last4=phone), 200
    return _answer(found["code"], "kiosk", phone)


@bp.route("/dossiers/<code>/evaluate", methods=["GET", "POST"])
@requires("dossier.act")
def by_officer(code: str) -> tuple[str, int]:
    """The same questions on the counter's tablet, for the dossier the officer hands over."""
    dossier = get_dossier(box().db(), code, box().now())
    if request.method == "GET":
        return _form(dossier["code"], "tablet"), 200
    return _answer(dossier["code"], "tablet")
