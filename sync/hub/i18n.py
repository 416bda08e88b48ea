"""The dashboard's words in Vietnamese (default) and English, and how a request picks its language.

The language comes from `?lang=vi|en` (remembered in the session), else from Accept-Language.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGS = ("vi", "en")

WORDS: Mapping[str, tuple[str, str]] = {
    "hub": ("Máy chủ tỉnh", "Provincial hub"),
    "skip": ("Bỏ qua, đến nội dung chính", "Skip to main content"),
    "nav": ("Chức năng", "Sections"),
    "fleet_title": ("Giám sát thiết bị xã", "Commune boxes"),
    "alerts_title": ("Cảnh báo", "Alerts"),
    "box_title": ("Thiết bị {name}", "Box {name}"),
    "login_title": ("Đăng nhập", "Sign in"),
    "username": ("Tên đăng nhập", "Username"),
    "password": ("Mật khẩu", "Password"),
    "sign_in": ("Đăng nhập", "Sign in"),
    "sign_out": ("Đăng xuất", "Sign out"),
    "bad_login": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password."),
    "bad_form": (
        "Phiên làm việc đã hết hạn. Tải lại trang rồi gửi lại.",
        "The form expired. Reload the page and send it again.",
    ),
    "other_lang": ("English", "Tiếng Việt"),
    "state": ("Trạng thái", "State"),
    "commune": ("Xã", "Commune"),
    "name": ("Tên thiết bị", "Name"),
    "box_id": ("Mã thiết bị", "Box id"),
    "last_seen": ("Liên lạc gần nhất", "Last seen"),
    "last_heartbeat": ("Tín hiệu gần nhất", "Last heartbeat"),
    "backlog": ("Chờ đồng bộ", "Backlog"),
    "oldest": ("Chờ lâu nhất", "Oldest unsent"),
    "version": ("Phiên bản", "Version"),
    "disk": ("Ổ đĩa trống", "Disk free"),
    "clock": ("Lệch đồng hồ", "Clock offset"),
    "errors": ("Lỗi", "Errors"),
    "alerts": ("Cảnh báo", "Alerts"),
    "alert": ("Cảnh báo", "Alert"),
    "search": ("Tìm kiếm", "Search"),
    "filter": ("Lọc", "Filter"),
    "all": ("Tất cả", "All"),
    "any_alert": ("Có cảnh báo", "Any alert"),
    "text": ("Từ khóa", "Text"),
    "count_boxes": ("{n} thiết bị", "{n} boxes"),
    "none": ("Không có", "None"),
    "no_boxes": ("Không có thiết bị nào khớp bộ lọc.", "No box matches the filters."),
    "no_alerts": ("Không có cảnh báo nào.", "No alerts."),
    "never": ("chưa bao giờ", "never"),
    "not_enrolled": ("Chưa đăng ký", "Not enrolled"),
    "events_unit": ("{n} sự kiện", "{n} events"),
    "heartbeats": ("Lịch sử tín hiệu", "Heartbeat history"),
    "taken_at": ("Thời điểm đo", "Taken at"),
    "received_at": ("Nhận lúc", "Received at"),
    "uptime": ("Thời gian chạy", "Uptime"),
    "push": ("Gửi lên", "Push"),
    "pull": ("Nhận về", "Pull"),
    "devices": ("Thiết bị ngoại vi", "Devices"),
    "device_ok": ("Bình thường", "OK"),
    "device_bad": ("Lỗi", "Failing"),
    "last_errors": ("Lỗi gần nhất", "Last errors"),
    "forwards_title": ("Gửi hồ sơ lên Cổng DVC quốc gia", "Forwarding to the national portal"),
    "forwards_failing": ("Hồ sơ gửi lỗi", "Failing forwards"),
    "no_forward_failures": ("Không có hồ sơ nào gửi lỗi.", "No failing forwards."),
    "dossier_code": ("Mã hồ sơ", "Dossier code"),
    "attempts": ("Số lần thử", "Attempts"),
    "last_error": ("Lỗi gần nhất", "Last error"),
    "next_attempt": ("Thử lại lúc", "Next attempt"),
    "sort_by": ("Sắp xếp theo {col}", "Sort by {col}"),
    "not_found": ("Không có thiết bị này.", "No such box."),
    "back": ("Về danh sách", "Back to the list"),
    "seconds": ("{n} giây", "{n} s"),
    "minutes": ("{n} phút", "{n} min"),
    "hours": ("{n} giờ", "{n} h"),
    "days": ("{n} ngày", "{n} days"),
    "counter_title": ("Báo cáo quầy một cửa", "Counter report"),
    "counter_range": ("Từ {first} đến {last}", "From {first} to {last}"),
    "date_from": ("Từ ngày", "From"),
    "date_to": ("Đến ngày", "To"),
    "show": ("Xem", "Show"),
    "province_total": ("Toàn tỉnh", "Province"),
    "tickets_issued": ("Số phiếu", "Tickets"),
    "tickets_served": ("Đã phục vụ", "Served"),
    "tickets_no_show": ("Vắng mặt", "No-show"),
    "mean_waiting": ("Chờ trung bình", "Mean wait"),
    "mean_service": ("Phục vụ trung bình", "Mean service"),
    "ratings_count": ("Lượt đánh giá", "Ratings"),
    "satisfied_share": ("Hài lòng", "Satisfied"),
    "payments_count": ("Lượt nộp phí", "Payments"),
    "payments_amount": ("Số tiền thu", "Amount paid"),
    "refunds": ("Hoàn trả", "Refunds"),
    "cancelled_payments": ("Đã hủy", "Cancelled"),
    "net_amount": ("Thực thu", "Net"),
    "method_cash": ("Tiền mặt", "Cash"),
    "method_card": ("Thẻ", "Card"),
    "method_vietqr": ("VietQR", "VietQR"),
    "queue_section": ("Xếp hàng và đánh giá", "Queue and ratings"),
    "fees_section": ("Phí, lệ phí", "Fees"),
    "counter_note": (
        "Số phiếu tính theo ngày lấy số, khi phiếu đã xong hoặc vắng mặt; hài lòng: 2 mức cao nhất của thang 5"
        " hoặc mức cao nhất của thang 3; tiền tính theo ngày nộp, hoàn trả hoặc hủy (đồng).",
        "Tickets count on the day they were issued, once served or no-show; satisfied: the top two levels of five"
        " or the top level of three; money on the day it was paid, refunded or cancelled (VND).",
    ),
}
STATE_WORDS = {"online": ("Trực tuyến", "Online"), "late": ("Chậm", "Late"), "offline": ("Mất liên lạc", "Offline")}
ALERT_WORDS = {
    "silent": ("Mất tín hiệu", "Silent"),
    "backlog": ("Tồn đọng đồng bộ", "Sync backlog"),
    "disk_low": ("Sắp đầy ổ đĩa", "Low disk"),
    "clock_skew": ("Lệch đồng hồ", "Clock skew"),
    "device": ("Lỗi thiết bị", "Device failing"),
    "forward_failing": ("Gửi Cổng DVC lỗi", "Forward failing"),
}


def pick_lang(query: str | None, remembered: object, accept: str | None) -> str:
    """Return "vi" or "en": the query wins, then the remembered choice, then Accept-Language."""
    if query in LANGS:
        return str(query)
    if remembered in LANGS:
        return str(remembered)
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("vi"):
            return "vi"
        if tag.startswith("en"):
            return "en"
    return "vi"


def word(key: str, lang: str, **values: object) -> str:
    """Return a word in the language, with {placeholders} filled in."""
    vi, en = WORDS[key]
    text = en if lang == "en" else vi
    return text.format(**values) if values else text


def pair(words: tuple[str, str], lang: str) -> str:
    """Return the vi or en half of a (vi, en) pair."""
    return words[1] if lang == "en" else words[0]
