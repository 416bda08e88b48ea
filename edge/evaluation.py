"""The citizen's fuller evaluation of a dossier's handling: nine indicators, 0, 1 or 2 points each.

Source: the nine indicators are those of Nghị định 61/2018/NĐ-CP on the one-stop mechanism (đánh giá
việc giải quyết thủ tục hành chính), as its guidance Thông tư 01/2018/TT-VPCP lays them out in the
evaluation form (phiếu đánh giá, mẫu số 01): each indicator scores at most 2 points, 18 in all. The
answers of indicators 1–4 (2 points sooner / fewer than the rule, 1 as the rule, 0 later / more)
follow that form as published by a provincial portal
(https://dichvucong.tuyenquang.gov.vn/tuyenquang/phieuchamdiem/inphieu_chamdiem_canbo). The answers
of indicators 5–9 were not found in a source we could read: they are written here in plain
Vietnamese on the same 2/1/0 scale (2 = as it should be, 1 = partly, 0 = not). The wording is ours,
short enough for a touch screen.

One evaluation per dossier: a second one is refused (ConflictError) unless the citizen confirms that
it replaces the first (`replace=True`); the row then counts how often it was replaced.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from edge.errors import ConflictError, NotFoundError, ValidationError
from edge.events import iso
from edge.store.db import write


@dataclass(frozen=True)
class Indicator:
    """One indicator: its key, its question in vi and en, and the answers (points, vi, en), best first."""

    key: str
    vi: str
    en: str
    answers: tuple[tuple[int, str, str], ...]


INDICATORS = (
    Indicator("total_time", "Tổng thời gian giải quyết hồ sơ so với thời hạn theo quy định",
              "Total handling time against the legal time limit",
              ((2, "Sớm hơn thời hạn", "Sooner than the limit"), (1, "Đúng thời hạn", "On the limit"),
               (0, "Quá thời hạn", "Later than the limit"))),
    Indicator("agency_time", "Thời gian xử lý của từng cơ quan, đơn vị tham gia (kể cả đơn vị phối hợp)",
              "Time taken by each agency involved (coordinating ones included)",
              ((2, "Sớm hơn thời hạn", "Sooner than its limit"), (1, "Đúng thời hạn", "On its limit"),
               (0, "Chậm hơn thời hạn", "Later than its limit"))),
    Indicator("visits", "Số lần phải liên hệ nơi tiếp nhận để hoàn thiện hồ sơ (kể cả trực tuyến)",
              "Times you had to contact the receiving office to complete the dossier (online included)",
              ((2, "Không lần nào", "Not once"), (1, "Một lần", "Once"),
               (0, "Hơn một lần (không do lỗi của người nộp)", "More than once (not the applicant's fault)"))),
    Indicator("agencies", "Số cơ quan, đơn vị phải liên hệ để hoàn thiện hồ sơ",
              "Agencies you had to contact to complete the dossier",
              ((2, "Không phải liên hệ cơ quan nào", "None"), (1, "Một cơ quan", "One agency"),
               (0, "Hơn một cơ quan", "More than one agency"))),
    Indicator("one_stop", "Tiếp nhận, giải quyết, trả kết quả tại Bộ phận Một cửa",
              "Receiving, handling and returning the result at the one-stop office",
              ((2, "Nộp và nhận kết quả đều tại Bộ phận Một cửa", "Filed and collected at the one-stop office"),
               (1, "Có một bước phải làm ở nơi khác", "One step had to be done elsewhere"),
               (0, "Không được tiếp nhận, trả kết quả tại Bộ phận Một cửa", "Not handled at the one-stop office"))),
    Indicator("public_listing", "Công khai thủ tục hành chính", "Public listing of the procedure",
              ((2, "Công khai đầy đủ, dễ tìm", "Fully listed, easy to find"),
               (1, "Có công khai nhưng chưa đầy đủ", "Listed, but not fully"), (0, "Không công khai", "Not listed"))),
    Indicator("attitude", "Thái độ của cán bộ khi hướng dẫn, tiếp nhận và giải quyết hồ sơ",
              "The officers' attitude when guiding, receiving and handling the dossier",
              ((2, "Lịch sự, tận tình", "Courteous and helpful"), (1, "Bình thường", "Ordinary"),
               (0, "Thiếu lịch sự, gây phiền hà", "Discourteous or obstructive"))),
    Indicator("feedback", "Tiếp thu, giải trình ý kiến phản ánh, kiến nghị",
              "How feedback and complaints were taken up and answered",
              ((2, "Được tiếp thu, trả lời đầy đủ, hoặc không có ý kiến", "Taken up and fully answered, or none given"),
               (1, "Được tiếp thu nhưng trả lời chậm hoặc chưa đầy đủ", "Taken up, answered late or partly"),
               (0, "Không được tiếp thu, trả lời", "Not taken up or answered"))),
    Indicator("online", "Tiến độ và chất lượng dịch vụ công trực tuyến",
              "Progress and quality of the online public service",
              ((2, "Theo dõi được tiến độ, đúng hẹn, hoặc không dùng trực tuyến",
                "Progress could be followed, on time, or not used online"),
               (1, "Theo dõi được nhưng chưa đầy đủ", "Could be followed, but not fully"),
               (0, "Không theo dõi được tiến độ", "Progress could not be followed"))),
)  # fmt: skip
KEYS = tuple(indicator.key for indicator in INDICATORS)
MAX_POINTS = 2 * len(INDICATORS)
SOURCES = ("kiosk", "tablet")


def check_answers(answers: Mapping[str, object]) -> tuple[dict[str, int], dict[str, ValidationError]]:
    """Read each indicator's answer (0, 1 or 2, as a number or its text); return the points and the errors."""
    points: dict[str, int] = {}
    errors: dict[str, ValidationError] = {}
    for number, indicator in enumerate(INDICATORS, start=1):
        raw = answers.get(indicator.key)
        value = raw.strip() if isinstance(raw, str) else raw
        if isinstance(value, str) and value in ("0", "1", "2"):
            points[indicator.key] = int(value)
        elif isinstance(value, int) and not isinstance(value, bool) and value in (0, 1, 2):
            points[indicator.key] = value
        else:
            errors[indicator.key] = ValidationError(
                f"Chọn một câu trả lời cho chỉ số {number}: {indicator.vi}.",
                f"Choose an answer for indicator {number}: {indicator.en}.",
                code="invalid_answer",
                field=indicator.key,
            )
    unknown = sorted(set(answers) - set(KEYS))
    if unknown:
        errors["_unknown"] = ValidationError(
            f"Chỉ số lạ: {', '.join(unknown)}.", f"Unknown indicator: {', '.join(unknown)}.", code="unknown_answer"
        )
    return points, errors


def _dossier(db: sqlite_utils.Database, code: str) -> tuple[str, str, str | None]:
    row = db.execute(
        "SELECT dossier_id, procedure_code, json_extract(state, '$.received_by') FROM dossiers WHERE code = ?", [code]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"Không có hồ sơ mã “{code}”.", f"No dossier “{code}”.", code="unknown_dossier")
    return row[0], row[1], row[2]


def get_evaluation(db: sqlite_utils.Database, code: str) -> dict[str, Any] | None:
    """Return the dossier's evaluation (None when it has none)."""
    dossier_id, _, _ = _dossier(db, code)
    keys = ("id", "dossier_id", "ticket", "officer", "procedure_code", "answers", "points", "source", "at", "replaced")
    row = db.execute(f"SELECT {', '.join(keys)} FROM evaluations WHERE dossier_id = ?", [dossier_id]).fetchone()
    if row is None:
        return None
    found = dict(zip(keys, row, strict=True))
    return {**found, "answers": json.loads(found["answers"])}


def record_evaluation(
    db: sqlite_utils.Database,
    code: str,
    answers: Mapping[str, object],
    source: str,
    now: datetime,
    *,
    replace: bool = False,
) -> dict[str, Any]:
    """Store the evaluation of a dossier (by its code), tied to its officer and queue ticket; return it.

    A dossier already evaluated is refused unless `replace`; then the new answers replace the old ones.
    """
    if source not in SOURCES:
        raise ValidationError(f"Nguồn đánh giá lạ: {source}.", f"Unknown evaluation source: {source}.")
    points, errors = check_answers(answers)
    if errors:
        raise next(iter(errors.values()))
    dossier_id, procedure_code, officer = _dossier(db, code)
    row = {
        "id": str(uuid.uuid4()), "dossier_id": dossier_id, "officer": officer, "procedure_code": procedure_code,
        "answers": json.dumps(points, sort_keys=True), "points": sum(points.values()), "source": source,
        "at": iso(now),
    }  # fmt: skip
    with write(db):
        ticket = db.execute(
            "SELECT id FROM queue_tickets WHERE dossier_id = ? ORDER BY issued_at DESC LIMIT 1", [dossier_id]
        ).fetchone()
        row["ticket"] = ticket[0] if ticket else None
        old = db.execute("SELECT at FROM evaluations WHERE dossier_id = ?", [dossier_id]).fetchone()
        if old is not None and not replace:
            raise ConflictError(
                f"Hồ sơ {code} đã được đánh giá lúc {old[0][11:16]} ngày {old[0][8:10]}/{old[0][5:7]}/{old[0][:4]}."
                " Chọn “Thay đánh giá cũ” nếu muốn gửi đánh giá này thay cho đánh giá trước.",
                f"Dossier {code} was already evaluated at {old[0][11:16]} on {old[0][:10]}."
                " Tick “Replace the earlier evaluation” to send this one instead.",
                code="already_evaluated",
            )
        if old is None:
            db.execute(
                "INSERT INTO evaluations (id, dossier_id, ticket, officer, procedure_code, answers, points, source, at)"
                " VALUES (:id, :dossier_id, :ticket, :officer, :procedure_code, :answers, :points, :source, :at)",
                row,
            )
        else:
            db.execute(
                "UPDATE evaluations SET id = :id, ticket = :ticket, officer = :officer,"
                " procedure_code = :procedure_code, answers = :answers, points = :points, source = :source,"
                " at = :at, replaced = replaced + 1"
                " WHERE dossier_id = :dossier_id",
                row,
            )
    found = get_evaluation(db, code)
    assert found is not None
    return found
