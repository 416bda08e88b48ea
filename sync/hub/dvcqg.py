"""A hub dossier as the national portal's (Cổng DVC quốc gia, DVCQG) `DongBoHoSoMC` record.

Dates are `yyyyMMddHHmmss` in Asia/Ho_Chi_Minh; a date the dossier does not have yet is null.
Field mapping (state = the edge.lifecycle fold the hub holds; events = the dossier's events):

| DVCQG field | from |
|---|---|
| `MaHoSo` | state.code |
| `MaTTHC`, `TenTTHC` | state.procedure.code, .name (the snapshot taken at filing) |
| `MaLinhVuc` | state.procedure.field (the catalogue holds the field's name, not a separate code) |
| `KenhThucHien` | state.channel: counter 1, online 2, post 3 |
| `ChuHoSo` | state.applicant.full_name |
| `SoCMND` | state.applicant.id_number when id_type is cccd or cmnd, else empty |
| `SoGiayToChuHoSo` | state.applicant.id_number (any document type) |
| `LoaiDoiTuong` | 1 (citizen): the box files individuals only; 2 (business) is never produced |
| `Email`, `SoDienThoai` | state.applicant.email, .phone ("" when absent) |
| `TrichYeuHoSo` | "<procedure name> – <applicant name>" |
| `NgayTiepNhan`, `NgayHenTra` | state.received_at, state.due_at (current due date, after moves) |
| `NgayTra` | state.returned_at (result handed over) |
| `NgayKetThucXuLy` | state.finished_at (refused, withdrawn, stopped or result ready) |
| `TrangThaiHoSo` | state.status_code: the 1–10 numbering of edge.lifecycle.STATUSES |
| `HinhThuc` | state.return_method: 0 at the counter, 1 by post |
| `DonViXuLy` | the agency identifier, the part of the dossier code before `-yyMMdd-NNNN` |
| `TaiLieuNop` | documents brought, then scans submitted (see below) |
| `DanhSachLePhi` | state.procedure.fees: {TenPhiLePhi, LoaiPhiLePhi (1 phí / 2 lệ phí), MucPhi (VND)} |
| `DanhSachHoSoBoSung` | the supplement, at most one (see below) |
| `DanhSachGiayToKetQua` | result scans (see below) |

- `TaiLieuNop`: each document brought, {TenTaiLieu, LoaiBan, SoLuong, DuocSoHoa 0}, then each scan
  held, {TenTaiLieu = file name, TepDinhKemId = SHA-256, KichThuoc, DuocSoHoa 1}; scans attached at
  or after the `approved` event are results, not submissions.
- `DanhSachHoSoBoSung`: {NgayYeuCauBoSung, NgayTiepNhanBoSung, NoiDungBoSung, GiayToCanBoSung,
  NgayHenTraCu (the due date before), NgayHenTraMoi (the due date set when the supplement came in,
  from its event; null while waiting)}.
- `DanhSachGiayToKetQua`: scans attached at or after the `approved` event, {TenGiayTo,
  TepDinhKemId, NgayCoKetQua}; with none, one entry naming the outcome once approved.

`envelope` wraps records the way the portal's sync service takes them (`service`, `isUpdating`, `data`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from edge.calendar import TZ

SERVICE = "DongBoHoSoMC"
CHANNEL_CODES = {"counter": 1, "online": 2, "post": 3}
RETURN_CODES = {"counter": 0, "post": 1}
FEE_KIND_CODES = {"fee": 1, "charge": 2}
CITIZEN = 1


def portal_date(value: object) -> str | None:
    """Return an ISO moment as yyyyMMddHHmmss in Vietnam time, None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TZ)
    return moment.astimezone(TZ).strftime("%Y%m%d%H%M%S")


def agency_of(code: str) -> str:
    """Return the agency identifier a dossier code starts with."""
    parts = code.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else ""


def _approved_hlc(events: Sequence[dict[str, Any]]) -> str | None:
    return next((str(e["hlc"]) for e in events if e.get("kind") == "approved"), None)


def _attachment_events(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("kind") == "attachment_added" and isinstance(e.get("payload"), dict)]


def _submitted(state: dict[str, Any], events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"TenTaiLieu": d.get("name", ""), "LoaiBan": d.get("kind", ""), "SoLuong": d.get("quantity", 1), "DuocSoHoa": 0}
        for d in state.get("documents") or []
    ]
    approved = _approved_hlc(events)
    seen: set[str] = set()
    for event in _attachment_events(events):
        payload = event["payload"]
        sha = str(payload.get("sha256", ""))
        if sha in seen or (approved is not None and str(event["hlc"]) >= approved):
            continue
        seen.add(sha)
        out.append(
            {
                "TenTaiLieu": payload.get("name", ""),
                "TepDinhKemId": sha,
                "KichThuoc": payload.get("size"),
                "DuocSoHoa": 1,
            }
        )
    return out


def _results(state: dict[str, Any], events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    approved = _approved_hlc(events)
    if approved is None:
        return []
    out = [
        {
            "TenGiayTo": e["payload"].get("name", ""),
            "TepDinhKemId": e["payload"].get("sha256", ""),
            "NgayCoKetQua": portal_date(e.get("wall_time")),
        }
        for e in _attachment_events(events)
        if str(e["hlc"]) >= approved
    ]
    if not out:
        outcome = state.get("outcome") or {}
        name = f"Kết quả giải quyết thủ tục {state['procedure'].get('name', '')}".strip()
        out.append({"TenGiayTo": name, "TepDinhKemId": None, "NgayCoKetQua": portal_date(outcome.get("at"))})
    return out


def _supplements(state: dict[str, Any], events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    supplement = state.get("supplement")
    if not supplement:
        return []
    came_in = next((e for e in events if e.get("kind") == "supplement_received"), None)
    new_due = None
    if came_in is not None:
        new_due = (came_in.get("payload") or {}).get("due_at", supplement.get("due_at_before"))
    return [
        {
            "NgayYeuCauBoSung": portal_date(supplement.get("requested_at")),
            "NgayTiepNhanBoSung": portal_date(supplement.get("received_at")),
            "NoiDungBoSung": supplement.get("reason", ""),
            "GiayToCanBoSung": [
                d.get("name", "") if isinstance(d, dict) else str(d) for d in supplement.get("missing_documents") or []
            ],
            "NgayHenTraCu": portal_date(supplement.get("due_at_before")),
            "NgayHenTraMoi": portal_date(new_due),
        }
    ]


def to_dongbo(state: dict[str, Any], events: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Return the DongBoHoSoMC record of a folded dossier (events in fold order, wire shape)."""
    procedure = state.get("procedure") or {}
    applicant = state.get("applicant") or {}
    id_number = applicant.get("id_number") or ""
    return {
        "MaHoSo": state["code"],
        "MaTTHC": procedure.get("code", ""),
        "TenTTHC": procedure.get("name", ""),
        "MaLinhVuc": procedure.get("field", ""),
        "KenhThucHien": CHANNEL_CODES.get(state.get("channel", "counter"), 1),
        "ChuHoSo": applicant.get("full_name", ""),
        "SoCMND": id_number if applicant.get("id_type") in ("cccd", "cmnd") else "",
        "SoGiayToChuHoSo": id_number,
        "LoaiDoiTuong": CITIZEN,
        "Email": applicant.get("email") or "",
        "SoDienThoai": applicant.get("phone") or "",
        "TrichYeuHoSo": f"{procedure.get('name', '')} – {applicant.get('full_name', '')}",
        "NgayTiepNhan": portal_date(state.get("received_at")),
        "NgayHenTra": portal_date(state.get("due_at")),
        "NgayTra": portal_date(state.get("returned_at")),
        "NgayKetThucXuLy": portal_date(state.get("finished_at")),
        "TrangThaiHoSo": int(state["status_code"]),
        "HinhThuc": RETURN_CODES.get(state.get("return_method", "counter"), 0),
        "DonViXuLy": agency_of(str(state["code"])),
        "TaiLieuNop": _submitted(state, events),
        "DanhSachLePhi": [
            {
                "TenPhiLePhi": f.get("name", ""),
                "LoaiPhiLePhi": FEE_KIND_CODES.get(f.get("kind", ""), 2),
                "MucPhi": f.get("amount", 0),
            }
            for f in procedure.get("fees") or []
        ],
        "DanhSachHoSoBoSung": _supplements(state, events),
        "DanhSachGiayToKetQua": _results(state, events),
    }


def envelope(records: Sequence[dict[str, Any]], updating: bool = True) -> dict[str, Any]:
    """Wrap records for the portal's sync service."""
    return {"service": SERVICE, "isUpdating": "true" if updating else "false", "data": list(records)}
