"""Exports read back: CSV with the csv module, Excel with openpyxl; Vietnamese text intact."""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from edge import exports, reports
from edge.box import Box
from edge.users import User
from tests.conftest import FakeClock
from tests.test_reports import BINH, NOW, build_scenario

REPORT_HEADER = [
    "Mã", "Tháng", "Tiếp nhận", "Đã giải quyết", "Giải quyết đúng hạn", "Giải quyết trễ hạn", "Tỷ lệ đúng hạn (%)",
    "Đang giải quyết", "Đang quá hạn", "Từ chối tiếp nhận", "Rút hồ sơ", "Dừng xử lý", "Nộp trực tuyến",
    "Tỷ lệ trực tuyến (%)", "Trả qua bưu chính", "Tỷ lệ trả qua bưu chính (%)",
]  # fmt: skip
LOGBOOK_HEADER = [
    "STT", "Mã hồ sơ", "Tên thủ tục hành chính", "Số lượng (bộ)", "Người nộp hồ sơ", "Địa chỉ, số điện thoại",
    "Cơ quan chủ trì giải quyết", "Nhận hồ sơ (ngày, giờ)", "Hẹn trả kết quả (ngày, giờ)", "Chuyển xử lý (ngày, giờ)",
    "Người xử lý", "Nhận kết quả (ngày, giờ)", "Trả kết quả (ngày, giờ)", "Hình thức trả", "Ký nhận", "Ghi chú",
]  # fmt: skip


@pytest.fixture
def scenario(box: Box, clock: FakeClock, officer: User) -> dict[str, str]:
    return build_scenario(box, clock, officer)


def month_rows(box: Box) -> list[reports.Row]:
    return reports.summary(box.db(), date(2026, 9, 1), date(2026, 11, 30), "month", now=NOW)


def lines_of(box: Box) -> list[reports.LogbookLine]:
    return reports.logbook(box.db(), date(2026, 9, 1), date(2026, 11, 30))


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    assert b"\r\n" in data
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    for line in table:
        assert all(unicodedata.is_normalized("NFC", cell) for cell in line)
    return table


def read_xlsx(data: bytes) -> Worksheet:
    assert data.startswith(b"PK")
    ws = load_workbook(io.BytesIO(data)).active
    assert isinstance(ws, Worksheet)
    for row in ws.iter_rows(values_only=True):
        assert all(unicodedata.is_normalized("NFC", v) for v in row if isinstance(v, str))
    return ws


def test_report_csv(box: Box, scenario: dict[str, str]) -> None:
    table = read_csv(exports.report_csv(month_rows(box)))
    assert table[0] == REPORT_HEADER
    assert [line[:2] for line in table[1:]] == [
        ["2026-09", "Tháng 09/2026"],
        ["2026-10", "Tháng 10/2026"],
        ["2026-11", "Tháng 11/2026"],
        ["total", "Tổng cộng"],
    ]
    sep, oct_, _, total = table[1:]
    assert sep[2:] == ["2", "2", "1", "1", "50.0", "0", "0", "0", "0", "0", "0", "0.0", "1", "50.0"]
    assert oct_[6] == "" and oct_[13] == "33.3"  # no dossier finished: no on-time rate
    assert total[2:9] == ["11", "3", "2", "1", "66.7", "5", "1"]


def test_report_csv_headers_follow_the_grouping(box: Box, scenario: dict[str, str]) -> None:
    for group_by, header in (("day", "Ngày"), ("quarter", "Quý"), ("procedure", "Thủ tục hành chính"),
                             ("officer", "Cán bộ tiếp nhận")):  # fmt: skip
        rows = reports.summary(box.db(), date(2026, 11, 1), date(2026, 11, 30), group_by, now=NOW)
        table = read_csv(exports.report_csv(rows))
        assert table[0][:2] == ["Mã", header] and len(table) == len(rows) + 1
    officers = read_csv(
        exports.report_csv(reports.summary(box.db(), date(2026, 1, 1), date(2026, 12, 31), "officer", now=NOW))
    )
    assert [line[1] for line in officers[1:]] == ["canbo", BINH, "Tổng cộng"]
    assert read_csv(exports.report_csv([])) == [REPORT_HEADER]


def test_report_xlsx(box: Box, scenario: dict[str, str]) -> None:
    rows = month_rows(box)
    title = "Báo cáo tiếp nhận theo tháng, quý 3–4/2026"
    ws = read_xlsx(exports.report_xlsx(rows, title))
    assert ws.title == title[:31] == "Báo cáo tiếp nhận theo tháng, q"  # 31 characters at most
    assert ws["A1"].value == "Báo cáo tiếp nhận theo tháng, quý 3–4/2026" and ws["A1"].font.b
    header = [c.value for c in ws[2]]
    assert header == [h.removesuffix(" (%)") for h in REPORT_HEADER]
    assert all(c.font.b for c in ws[2])
    assert ws.freeze_panes == "A3"
    assert ws.column_dimensions["B"].width == 22 and ws.column_dimensions["G"].width == 11
    sep = [c for c in ws[3]]
    assert [c.value for c in sep[:6]] == ["2026-09", "Tháng 09/2026", 2, 2, 1, 1]
    assert sep[6].value == 0.5 and sep[6].number_format == "0.0%"
    assert sep[2].number_format == "#,##0"
    assert ws["G4"].value is None  # October: no on-time rate
    total = ws[6]
    assert (
        total[1].value == "Tổng cộng" and total[2].value == 11 and all(c.font.b for c in total if c.value is not None)
    )
    assert total[6].value == pytest.approx(2 / 3)
    assert not any(c.font.b for c in ws[5])
    assert ws.auto_filter.ref == "A2:P5"  # the total row is not sorted with the months
    assert ws.max_row == 2 + len(rows)
    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == "9"  # A4


def test_logbook_csv(box: Box, scenario: dict[str, str]) -> None:
    lines = lines_of(box)
    table = read_csv(exports.logbook_csv(lines))
    assert table[0] == LOGBOOK_HEADER
    assert len(table) == 12
    a = dict(zip(LOGBOOK_HEADER, table[1], strict=True))
    assert a == {
        "STT": "1",
        "Mã hồ sơ": scenario["A"],
        "Tên thủ tục hành chính": lines[0].procedure_name,
        "Số lượng (bộ)": "3",
        "Người nộp hồ sơ": "Nguyễn Văn An",
        "Địa chỉ, số điện thoại": "Số 12 phố Hàng Bạc, 0912345678",
        "Cơ quan chủ trì giải quyết": "UBND xã Thử Nghiệm",
        "Nhận hồ sơ (ngày, giờ)": "14/09/2026 09:00",
        "Hẹn trả kết quả (ngày, giờ)": "21/09/2026 09:00",
        "Chuyển xử lý (ngày, giờ)": "14/09/2026 10:00",
        "Người xử lý": BINH,
        "Nhận kết quả (ngày, giờ)": "16/09/2026 09:00",
        "Trả kết quả (ngày, giờ)": "17/09/2026 09:00",
        "Hình thức trả": "Qua bưu chính",
        "Ký nhận": "",
        "Ghi chú": "Đã trả kết quả",
    }
    f = dict(zip(LOGBOOK_HEADER, table[6], strict=True))
    assert f["Người nộp hồ sơ"] == "Nguyễn Thị Ánh"
    assert (f["Chuyển xử lý (ngày, giờ)"], f["Trả kết quả (ngày, giờ)"], f["Hình thức trả"]) == ("", "", "")
    assert table[3][-1] == "Từ chối tiếp nhận: Sai thẩm quyền giải quyết"
    assert read_csv(exports.logbook_csv([])) == [LOGBOOK_HEADER]


def test_logbook_xlsx(box: Box, scenario: dict[str, str]) -> None:
    lines = lines_of(box)
    ws = read_xlsx(exports.logbook_xlsx(lines, "Sổ theo dõi hồ sơ 01/09/2026–30/11/2026"))
    assert ws.title == "Sổ theo dõi hồ sơ 01 09 2026–30"  # "/" is not allowed in a sheet name
    assert ws["A1"].value == "Sổ theo dõi hồ sơ 01/09/2026–30/11/2026"
    assert [c.value for c in ws[2]] == LOGBOOK_HEADER and all(c.font.b for c in ws[2])
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref == "A2:P13"
    assert ws.max_row == 2 + len(lines)
    a = [c for c in ws[3]]
    assert [c.value for c in a[:7]] == [
        1, scenario["A"], lines[0].procedure_name, 3, "Nguyễn Văn An", "Số 12 phố Hàng Bạc, 0912345678",
        "UBND xã Thử Nghiệm",
    ]  # fmt: skip
    # Moments are real dates (Vietnam wall time) shown as dd/mm/yyyy hh:mm.
    assert a[7].value == datetime(2026, 9, 14, 9, 0) and a[7].is_date
    assert a[7].number_format == "dd/mm/yyyy hh:mm"
    assert [a[i].value for i in (8, 9, 11, 12)] == [
        datetime(2026, 9, 21, 9),
        datetime(2026, 9, 14, 10),
        datetime(2026, 9, 16, 9),
        datetime(2026, 9, 17, 9),
    ]
    assert (a[10].value, a[13].value, a[15].value) == (BINH, "Qua bưu chính", "Đã trả kết quả")
    assert ws["J4"].value is None  # B was never transferred
    assert ws.cell(row=8, column=5).value == "Nguyễn Thị Ánh"
    # A4 landscape, one page wide, the header repeated on every page.
    setup = ws.page_setup
    assert setup.orientation == "landscape" and str(setup.paperSize) == "9"
    assert setup.fitToWidth == 1 and setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr is not None and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$2:$2"
    for letter, width in (("A", 6), ("B", 26), ("P", 30)):
        assert ws.column_dimensions[letter].width == width


def test_text_that_looks_like_a_formula_stays_text(box: Box, scenario: dict[str, str]) -> None:
    line = replace(
        lines_of(box)[0], note='=HYPERLINK("http://x","bấm")', applicant_name="@Lê Văn C", phone="+84912345678"
    )
    table = read_csv(exports.logbook_csv([line]))
    assert table[1][-1] == '\'=HYPERLINK("http://x","bấm")'
    assert table[1][4] == "'@Lê Văn C"
    ws = read_xlsx(exports.logbook_xlsx([line], "Sổ"))
    assert ws["P3"].value == '=HYPERLINK("http://x","bấm")' and ws["P3"].data_type == "s"
    assert ws["E3"].value == "@Lê Văn C"


def test_decomposed_and_control_characters_are_cleaned() -> None:
    nfd = unicodedata.normalize("NFD", "Phạm Thị Hồng Nhung")
    assert nfd != "Phạm Thị Hồng Nhung"
    line = reports.LogbookLine(
        no=1, code="000.17.22.H56-261125-0001", procedure_code="1.001193", procedure_name="Khai sinh",
        quantity=1, applicant_name=nfd, address="Thôn Đông\x07", phone="", agency="UBND xã A",
        received_at=NOW, due_at=None, transferred_at=None, transferred_to="", result_at=None, returned_at=None,
        returned_via="", status="new", note="Đã tiếp nhận",
    )  # fmt: skip
    table = read_csv(exports.logbook_csv([line]))
    assert table[1][4] == "Phạm Thị Hồng Nhung" and table[1][5] == "Thôn Đông"
    ws = read_xlsx(exports.logbook_xlsx([line], nfd))
    assert ws["E3"].value == "Phạm Thị Hồng Nhung" and ws["A1"].value == "Phạm Thị Hồng Nhung"
    assert ws["H3"].value == datetime(2026, 11, 25, 9, 0)
    # Another time zone is written as Vietnam wall time.
    utc = replace(line, received_at=datetime(2026, 11, 24, 19, 0, tzinfo=UTC))
    assert read_csv(exports.logbook_csv([utc]))[1][7] == "25/11/2026 02:00"


def test_empty_exports_are_valid_workbooks() -> None:
    ws = read_xlsx(exports.report_xlsx([], "Báo cáo"))
    assert ws.max_row == 2 and ws["A2"].value == "Mã"
    ws = read_xlsx(exports.logbook_xlsx([], "Sổ theo dõi hồ sơ"))
    assert ws.max_row == 2 and ws["A2"].value == "STT"
