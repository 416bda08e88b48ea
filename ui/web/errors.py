"""Error pages for people: Vietnamese (or English), no stack traces, a way back."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from edge.errors import EdgeError
from ui.web.common import lang


def _page(status: int, heading: str, message: str, relogin: str | None = None) -> tuple[str, int]:
    return render_template("errors/error.html", heading=heading, message=message, relogin=relogin), status


def edge_error_page(err: EdgeError) -> tuple[str, int]:
    """Render an edge error (not found, forbidden, storage…) as a page."""
    headings = {
        403: _("Không có quyền"),
        404: _("Không tìm thấy"),
        409: _("Không thực hiện được"),
        413: _("Tệp quá lớn"),
        503: _("Máy chưa lưu được"),
    }
    return _page(err.status, headings.get(err.status, _("Có lỗi")), err.message(lang()))


def http_error_page(err: HTTPException) -> tuple[str, int]:
    """Render an HTTP error (404, 405, 500, an expired form) as a page."""
    status = err.code or 500
    if isinstance(err, CSRFError):
        return _page(
            400,
            _("Biểu mẫu đã hết hạn"),
            _(
                "Phiên làm việc đã hết hạn hoặc biểu mẫu đã cũ. Quay lại, tải lại trang rồi gửi lại; "
                "dữ liệu đang nhập dở được giữ trên máy này."
            ),
            relogin=url_for("auth.login", next=request.path),
        )
    messages = {
        400: (_("Yêu cầu không hợp lệ"), _("Trang không hiểu yêu cầu này. Quay lại và thử lại.")),
        403: (_("Không có quyền"), _("Vai trò của bạn không được mở trang này.")),
        404: (_("Không tìm thấy"), _("Không có trang này. Kiểm tra lại địa chỉ.")),
        405: (_("Không thực hiện được"), _("Trang này không nhận thao tác đó.")),
        413: (_("Tệp quá lớn"), _("Nội dung gửi lên quá lớn. Quét lại tệp với độ phân giải thấp hơn.")),
    }
    heading, message = messages.get(
        status, (_("Lỗi máy chủ"), _("Máy gặp lỗi khi xử lý. Thử lại; nếu vẫn lỗi, báo kỹ thuật viên."))
    )
    return _page(status, heading, message)
