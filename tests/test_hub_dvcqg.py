"""The DongBoHoSoMC record: every field from the folded dossier, dates yyyyMMddHHmmss in Vietnam time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync.hub.dvcqg import agency_of, envelope, portal_date, to_dongbo
from sync.hub.records import find_dossier
from tests.conftest import AGENCY
from tests.hub_fixtures import DossierWriter, Hub, make_hub

SHA_FORM = "1" * 64
SHA_RESULT = "2" * 64


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return make_hub(tmp_path / "hub")


def test_portal_dates() -> None:
    assert portal_date("2026-11-25T09:05:07+07:00") == "20261125090507"
    assert portal_date("2026-11-25T23:30:00+00:00") == "20261126063000"
    assert portal_date("2026-11-25T09:05:07") == "20261125090507"  # naive: read as Vietnam time
    assert portal_date(None) is None and portal_date("") is None and portal_date("hôm qua") is None
    assert agency_of(f"{AGENCY}-261125-0042") == AGENCY and agency_of("weird") == ""


def _life(hub: Hub) -> DossierWriter:
    """A dossier received at the counter, supplemented, approved with a result scan, returned by post."""
    w = DossierWriter(hub, code=f"{AGENCY}-261125-0042")
    w.create(return_method="post", return_address="Số 5 phố Hàng Đào")
    w.add(
        "attachment_added", {"sha256": SHA_FORM, "size": 2048, "name": "to-khai.pdf", "content_type": "application/pdf"}
    )
    w.add(
        "supplement_requested",
        {
            "reason": "Thiếu bản sao giấy chứng sinh",
            "missing_documents": [{"name": "Giấy chứng sinh", "kind": "certified_copy", "quantity": 1}],
        },
    )
    w.add("supplement_received", {"due_at": "2026-11-30T09:00:00+07:00"})
    w.add("approved", {"note": "Đã ký"})
    w.add(
        "attachment_added",
        {"sha256": SHA_RESULT, "size": 999, "name": "giay-khai-sinh.pdf", "content_type": "application/pdf"},
    )
    w.add("result_returned", {"method": "post"})
    return w


def test_a_whole_dossier_life_maps_to_the_record(hub: Hub) -> None:
    w = _life(hub)
    held = find_dossier(hub.db, w.code)
    assert held is not None
    record = to_dongbo(held, held["events"])
    events = held["events"]
    stamp = {e["kind"]: re.sub(r"\D", "", e["wall_time"])[:14] for e in events}
    assert record["MaHoSo"] == w.code and record["DonViXuLy"] == AGENCY
    assert record["MaTTHC"] == held["procedure"]["code"] and record["TenTTHC"] == held["procedure"]["name"]
    assert record["MaLinhVuc"] == held["procedure"]["field"]
    assert (record["KenhThucHien"], record["HinhThuc"], record["LoaiDoiTuong"]) == (1, 1, 1)
    assert (record["ChuHoSo"], record["SoCMND"], record["SoGiayToChuHoSo"]) == (
        "Nguyễn Văn An",
        "001099012345",
        "001099012345",
    )
    assert (record["Email"], record["SoDienThoai"]) == ("an.nguyen@example.vn", "0912345678")
    assert record["TrichYeuHoSo"] == f"{held['procedure']['name']} – Nguyễn Văn An"
    assert record["TrangThaiHoSo"] == 10
    assert record["NgayTiepNhan"] == stamp["created"]
    assert record["NgayHenTra"] == "20261130090000"
    assert record["NgayKetThucXuLy"] == stamp["approved"]
    assert record["NgayTra"] == stamp["result_returned"]
    assert record["TaiLieuNop"] == [
        {"TenTaiLieu": "Tờ khai đăng ký khai sinh", "LoaiBan": "original", "SoLuong": 1, "DuocSoHoa": 0},
        {"TenTaiLieu": "to-khai.pdf", "TepDinhKemId": SHA_FORM, "KichThuoc": 2048, "DuocSoHoa": 1},
    ]
    assert record["DanhSachHoSoBoSung"] == [
        {
            "NgayYeuCauBoSung": stamp["supplement_requested"],
            "NgayTiepNhanBoSung": stamp["supplement_received"],
            "NoiDungBoSung": "Thiếu bản sao giấy chứng sinh",
            "GiayToCanBoSung": ["Giấy chứng sinh"],
            "NgayHenTraCu": "20261127090000",
            "NgayHenTraMoi": "20261130090000",
        }
    ]
    result_event = next(e for e in events if e["kind"] == "attachment_added" and e["payload"]["sha256"] == SHA_RESULT)
    assert record["DanhSachGiayToKetQua"] == [
        {
            "TenGiayTo": "giay-khai-sinh.pdf",
            "TepDinhKemId": SHA_RESULT,
            "NgayCoKetQua": portal_date(result_event["wall_time"]),
        }
    ]
    fees = held["procedure"]["fees"]
    assert record["DanhSachLePhi"] == [
        {"TenPhiLePhi": f["name"], "LoaiPhiLePhi": 1 if f["kind"] == "fee" else 2, "MucPhi": f["amount"]} for f in fees
    ]


def test_a_fresh_online_filing_has_no_dates_yet(hub: Hub) -> None:
    w = DossierWriter(hub)
    w.create(channel="online", status="receiving", received_at=None, due_at=None)
    held = find_dossier(hub.db, w.code)
    assert held is not None
    record = to_dongbo(held, held["events"])
    assert record["KenhThucHien"] == 2 and record["TrangThaiHoSo"] == 1 and record["HinhThuc"] == 0
    assert all(record[k] is None for k in ("NgayTiepNhan", "NgayHenTra", "NgayTra", "NgayKetThucXuLy"))
    assert record["DanhSachHoSoBoSung"] == [] and record["DanhSachGiayToKetQua"] == []


def test_statuses_follow_the_national_numbering(hub: Hub) -> None:
    w = DossierWriter(hub)
    w.create()
    w.add("refused", {"reason": "Không thuộc thẩm quyền"})
    held = find_dossier(hub.db, w.code)
    assert held is not None
    record = to_dongbo(held, held["events"])
    assert record["TrangThaiHoSo"] == 3 and record["NgayKetThucXuLy"] is not None and record["NgayTra"] is None


def test_passport_holder_has_no_cmnd_number(hub: Hub) -> None:
    w = DossierWriter(hub)
    created = w.create()
    held = find_dossier(hub.db, w.code)
    assert held is not None
    held["applicant"] = {
        **created["payload"]["applicant"],
        "id_type": "passport",
        "id_number": "C1234567",
        "email": None,
    }
    record = to_dongbo(held, held["events"])
    assert (record["SoCMND"], record["SoGiayToChuHoSo"], record["Email"]) == ("", "C1234567", "")


def test_approved_without_result_scan_names_the_outcome(hub: Hub) -> None:
    w = DossierWriter(hub)
    w.create()
    w.add("approved", {"note": ""})
    held = find_dossier(hub.db, w.code)
    assert held is not None
    [result] = to_dongbo(held, held["events"])["DanhSachGiayToKetQua"]
    assert result["TenGiayTo"].startswith("Kết quả giải quyết thủ tục") and result["TepDinhKemId"] is None
    assert result["NgayCoKetQua"] == portal_date(held["outcome"]["at"])


def test_endpoint_and_envelope(hub: Hub) -> None:
    w = _life(hub)
    answer = hub.client().get(f"/api/v1/dossiers/{w.code}/dvcqg", headers=hub.headers("theodoi"))
    assert answer.status_code == 200
    record = answer.get_json()
    held = find_dossier(hub.db, w.code)
    assert held is not None and record == to_dongbo(held, held["events"])
    assert re.fullmatch(r"\d{14}", record["NgayTiepNhan"])
    assert envelope([record]) == {"service": "DongBoHoSoMC", "isUpdating": "true", "data": [record]}
    assert envelope([], updating=False)["isUpdating"] == "false"
