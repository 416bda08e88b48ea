"""The technician's Devices page: each device's state, its address, a self-test, recent errors and prints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from edge import devicehealth, payments, printing, ratings
from edge.config import update_config_file
from edge.errors import EdgeError
from edge.ports import PRINTER_ROLES, ROLE_NAMES, ROLES, DeviceOpener, Document, NotConfigured
from ui.web.common import box, current_user, lang, requires

bp = Blueprint("devices", __name__)
SELF_TEST_WAIT_S = 15.0


def opener() -> DeviceOpener:
    """Return the box's devices, or refuse when this app runs without them (tests, tools)."""
    found: DeviceOpener | None = current_app.extensions.get("devices")
    if found is None:
        raise NotConfigured(
            "Dịch vụ thiết bị không chạy trong tiến trình này.", "The device service is not running in this process."
        )
    return found


def wake_printer() -> None:
    """Tell the print worker a job is waiting."""
    current_app.extensions["wake_printer"]()


def _urls(devices: DeviceOpener | None) -> dict[str, str]:
    if devices is not None:
        return {role: devices.url(role) for role in ROLES}
    settings = box().settings
    return {role: str(getattr(settings, role, "")) for role in ROLES}


@bp.get("/devices")
@requires("devices.manage")
def index() -> str:
    """Show every device: state, address, self-test, recent errors, prints and ratings."""
    db = box().db()
    devices: DeviceOpener | None = current_app.extensions.get("devices")
    settings = box().settings
    return render_template(
        "pages/devices.html",
        running=devices is not None,
        health=devicehealth.health(db, _urls(devices)),
        profiles=devices.printer_profiles() if devices else [],
        current_profiles={role: getattr(settings, f"{role}_profile") for role in PRINTER_ROLES},
        found=devices.discover() if devices else [],
        errors=devicehealth.recent_errors(db, 15),
        jobs=printing.list_jobs(db, 15),
        card_payments=payments.list_payments(db, 10),
        ratings=ratings.recent_ratings(db, 10),
        en=lang() == "en",
        role_names=ROLE_NAMES,
    )


@bp.post("/devices/config")
@requires("devices.manage")
def config() -> BaseResponse:
    """Save the device addresses (and printer profiles) in the box's configuration file."""
    devices = opener()
    changes: dict[str, Any] = {}
    try:
        for role in ROLES:
            url = request.form.get(role, "").strip()
            if url:
                devices.check_address(url, role)
            changes[role] = url
        for role in PRINTER_ROLES:
            profile = request.form.get(f"{role}_profile", "").strip()
            if profile:
                if profile not in devices.printer_profiles():
                    raise EdgeError(f"Không có mẫu máy in “{profile}”.", f"No printer profile “{profile}”.")
                changes[f"{role}_profile"] = profile
        update_config_file(box().settings.data_dir, changes)
    except EdgeError as err:
        flash(err.message(lang()), "error")
        return redirect(url_for("devices.index"))
    flash(_("Đã lưu cấu hình thiết bị."), "success")
    return redirect(url_for("devices.index"))


def _printer_test(role: str) -> None:
    db = box().db()
    job = printing.enqueue(
        db,
        role,
        Document("test_page", {"office": box().settings.name, "target": opener().url(role) or "—"}),
        current_user().username,
    )
    wake_printer()
    done = printing.wait_for(db, job, SELF_TEST_WAIT_S)
    if done["state"] == "printed":
        flash(_("Đã in trang thử."), "success")
    else:
        reason = done["reason_en"] if lang() == "en" else done["reason_vi"]
        flash(_("Chưa in được trang thử: %(reason)s", reason=reason or done["state_vi"]), "error")


def _terminal_test() -> None:
    devices = opener()
    db = box().db()
    url = devices.url("card_terminal")
    terminal = devices.terminal()
    try:
        status = terminal.status()[1 if lang() == "en" else 0]
        last = terminal.last_transaction()
        flash(_("Máy POS trả lời: %(status)s", status=status), "success")
        if last is not None:
            flash(_("Giao dịch gần nhất: %(ref)s, %(amount)s đ.", ref=last.reference, amount=last.amount), "success")
    finally:
        terminal.close()
    devicehealth.record_ok(db, "card_terminal", url, detail="self-test")
    if url.startswith("sim://"):  # a test sale only on the simulator, never on a real terminal
        payment = payments.pay_by_card(db, devices, 1000, current_user().username)
        if payment["state"] == "approved":
            payment = payments.void(db, devices, payment["id"], current_user().username)
        flash(_("Bán thử 1.000 đ rồi hủy trên trình mô phỏng: %(state)s.", state=payment["state_vi"]), "success")


@bp.post("/devices/test/<role>")
@requires("devices.manage")
def self_test(role: str) -> BaseResponse:
    """Run a device's self-test and say how it went."""
    if role not in ROLES:
        abort(404)
    try:
        if role in PRINTER_ROLES:
            _printer_test(role)
        elif role == "card_terminal":
            _terminal_test()
        else:
            flash(_("Bấm một nút trên bàn phím đánh giá: lần bấm sẽ hiện trong bảng “Đánh giá gần đây”."), "success")
    except EdgeError as err:
        devicehealth.record_error(box().db(), role, _urls(current_app.extensions.get("devices"))[role], err)
        flash(err.message(lang()), "error")
    return redirect(url_for("devices.index"))


@bp.post("/devices/jobs/<job_id>/reprint")
@requires("devices.manage")
def reprint(job_id: str) -> BaseResponse:
    """Print a job's document again as a new job."""
    try:
        printing.reprint(box().db(), job_id, current_user().username)
        wake_printer()
        flash(_("Đã gửi lệnh in lại."), "success")
    except EdgeError as err:
        flash(err.message(lang()), "error")
    return redirect(request.referrer or url_for("devices.index"))


@bp.get("/devices/pages/<role>/<name>")
@requires("devices.manage")
def page(role: str, name: str) -> BaseResponse:
    """Show a page a simulated printer printed (PNG, or its text)."""
    path = opener().page_file(role, name)
    if path is None:
        abort(404)
    return send_file(path, mimetype="image/png" if name.endswith(".png") else "text/plain; charset=utf-8")
