"""Every route of the box's app × every role (and no session): the status each one gets, as decided here.

A route added without a line in ROUTES fails test_every_route_has_a_decision; a route whose guard
differs from its line fails test_role_matrix with the whole list of differences.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge import intake
from edge.box import open_box
from edge.config import Settings
from edge.users import PERMISSIONS, ROLES, User, add_user, create_token
from tests.conftest import PASSWORD, FakeClock, dossier_body
from ui.api import SESSION_ENDPOINTS
from ui.app import create_app

USERS = {"officer": "canbo", "leader": "lanhdao", "admin": "quantri", "technician": "kythuat", "kiosk": "kiosk1"}
ANON = "none"
FAKE = "khong-co"  # an id no payment, job or ticket has
SHA = "0" * 64


@dataclass(frozen=True)
class Route:
    """The decision for one endpoint and method: who may open it, and what those who may get."""

    url: str
    who: str  # "public", "login", a permission of edge.users.PERMISSIONS, or "api:<permission>"
    ok: int | frozenset[int]  # what a role that may gets (with the empty form sent); a set where state decides
    refused: int = 403  # what a signed-in role that may not gets
    by_role: tuple[tuple[str, int], ...] = ()  # a role that gets something else, e.g. the kiosk sent to its page


ROUTES: dict[tuple[str, str], Route] = {
    # the frame: public pages, sign-in, language, health, metrics (loopback only: the test client is 127.0.0.1)
    ("healthz", "GET"): Route("/healthz", "public", 200),
    ("openapi", "GET"): Route("/api/openapi.yaml", "public", 200),
    ("static", "GET"): Route("/static/css/app.css", "public", 200),
    ("metrics.metrics", "GET"): Route("/metrics", "public", 200),
    ("auth.login", "GET"): Route("/login", "public", 200),
    ("auth.login", "POST"): Route("/login", "public", 200),
    ("auth.set_language", "GET"): Route("/lang/en", "public", 302),
    ("auth.logout", "POST"): Route("/logout", "login", 302),
    ("pages.today", "GET"): Route("/", "login", 200, by_role=(("kiosk", 302),)),
    # administration
    ("pages.admin", "GET"): Route("/admin", "users.manage", 200),
    ("pages.admin_add_user", "POST"): Route("/admin/users", "users.manage", 302),
    ("pages.admin_calendar", "POST"): Route("/admin/calendar", "users.manage", 302),
    ("pages.admin_rating_scale", "POST"): Route("/admin/rating-scale", "users.manage", 302),
    ("pages.sync", "GET"): Route("/sync", "sync.read", 200),
    ("pages.sync_now", "POST"): Route("/sync/now", "sync.now", 302),
    ("pages.sync_retry", "POST"): Route("/sync/retry", "sync.now", 302),
    ("queueadmin.index", "GET"): Route("/queue/admin", "queue.admin", 200),
    ("queueadmin.add", "GET"): Route("/queue/admin/services/new", "queue.admin", 200),
    ("queueadmin.add", "POST"): Route("/queue/admin/services/new", "queue.admin", 422),
    ("queueadmin.edit", "GET"): Route(f"/queue/admin/services/{FAKE}", "queue.admin", 404),
    ("queueadmin.edit", "POST"): Route(f"/queue/admin/services/{FAKE}", "queue.admin", 404),
    # devices (technician, admin)
    ("devices.index", "GET"): Route("/devices", "devices.manage", 200),
    ("devices.config", "POST"): Route("/devices/config", "devices.manage", 409),
    ("devices.self_test", "POST"): Route(f"/devices/test/{FAKE}", "devices.manage", 404),
    ("devices.reprint", "POST"): Route(f"/devices/jobs/{FAKE}/reprint", "devices.manage", 302),
    ("devices.page", "GET"): Route("/devices/pages/receipt/test", "devices.manage", 409),
    ("diagnostics.download", "GET"): Route("/devices/diagnostics", "devices.manage", 200),
    # the counter's queue, the display board, the kiosk
    ("desk.index", "GET"): Route("/counter", "queue.call", 200),
    ("desk.call_next", "POST"): Route("/counter/1/call-next", "queue.call", 302),
    ("desk.act", "POST"): Route(f"/counter/tickets/{FAKE}/recall", "queue.call", 302),
    ("display.index", "GET"): Route("/display", "queue.read", 200),
    ("display.voice", "GET"): Route("/display/voice/A001/1.wav", "queue.read", 200),
    ("kiosk.index", "GET"): Route("/kiosk", "kiosk.use", 200),
    ("kiosk.ticket", "POST"): Route("/kiosk/ticket", "kiosk.use", 422),
    ("kiosk.lookup", "GET"): Route("/kiosk/lookup", "kiosk.use", 200),
    ("kiosk.lookup", "POST"): Route("/kiosk/lookup", "kiosk.use", 422),
    ("evaluation.at_kiosk", "GET"): Route("/kiosk/evaluate", "kiosk.use", 200),
    ("evaluation.at_kiosk", "POST"): Route("/kiosk/evaluate", "kiosk.use", 422),
    # intake
    ("intake.form", "GET"): Route("/intake", "dossier.create", 200),
    ("intake.save", "POST"): Route("/intake", "dossier.create", 422),
    ("intake.applicant", "GET"): Route("/intake/applicant?id_number=001099012345", "dossier.create", 200),
    ("intake.procedure", "GET"): Route("/intake/procedure?code=1.001193", "dossier.create", 200),
    ("intake.due_date", "GET"): Route("/intake/due-date?procedure_code=1.001193", "dossier.create", 200),
    ("intake.saved", "GET"): Route("/intake/saved", "dossier.create", 200),
    # dossiers and their prints
    ("dossiers.index", "GET"): Route("/dossiers", "dossier.read", 200),
    ("dossiers.detail", "GET"): Route("/dossiers/{code}", "dossier.read", 200),
    ("dossiers.act", "POST"): Route("/dossiers/{code}/actions/transfer", "dossier.act", 422),
    ("dossiers.attachment", "GET"): Route(f"/dossiers/{{code}}/attachments/{SHA}", "dossier.read", 404),
    ("prints.receipt", "GET"): Route("/dossiers/{code}/print/receipt", "dossier.read", 200),
    ("prints.supplement", "GET"): Route("/dossiers/{code}/print/supplement", "dossier.read", 409),
    ("prints.refusal", "GET"): Route("/dossiers/{code}/print/refusal", "dossier.read", 409),
    ("prints.apology", "GET"): Route("/dossiers/{code}/print/apology", "dossier.read", 409),
    ("prints.control", "GET"): Route("/dossiers/{code}/print/control", "dossier.read", 200),
    ("prints.logbook", "GET"): Route("/logbook/print", "dossier.read", 200),
    ("counter.print_receipt", "POST"): Route("/dossiers/{code}/print-receipt", "dossier.act", 302),
    ("counter.reprint", "POST"): Route(f"/dossiers/{{code}}/print-jobs/{FAKE}/reprint", "dossier.act", 302),
    ("counter.card_payment_action", "POST"): Route(
        f"/dossiers/{{code}}/card-payments/{FAKE}/retry", "dossier.act", 404
    ),
    ("counter.settle", "POST"): Route(f"/dossiers/{{code}}/card-payments/{FAKE}/settle", "payment.settle", 302),
    ("counter.rate_page", "GET"): Route("/rate", "dossier.act", 200),
    ("counter.rate", "POST"): Route("/rate", "dossier.act", 302),
    ("counter.ask_rating", "POST"): Route("/dossiers/{code}/rating", "dossier.act", 302),
    ("evaluation.by_officer", "GET"): Route("/dossiers/{code}/evaluate", "dossier.act", 200),
    ("evaluation.by_officer", "POST"): Route("/dossiers/{code}/evaluate", "dossier.act", 422),
    # fees and the day's cash-up
    ("fees.take_form", "GET"): Route("/dossiers/{code}/payments/new", "fees.collect", 200),
    ("fees.take", "POST"): Route("/dossiers/{code}/payments", "fees.collect", 422),
    ("fees.adjust_form", "GET"): Route("/dossiers/{code}/fees/adjust", "fees.adjust", 200),
    ("fees.adjust", "POST"): Route("/dossiers/{code}/fees/adjust", "fees.adjust", 422),
    ("fees.payment", "GET"): Route(f"/payments/{FAKE}", "fees.read", 404),
    ("fees.confirm", "POST"): Route(f"/payments/{FAKE}/confirm", "fees.collect", 404),
    ("fees.reconcile", "POST"): Route(f"/payments/{FAKE}/reconcile", "fees.collect", 404),
    ("fees.cancel", "POST"): Route(f"/payments/{FAKE}/cancel", "fees.read", 404),
    ("fees.refund", "POST"): Route(f"/payments/{FAKE}/refund", "fees.read", 404),
    ("fee_receipts.print_receipt", "POST"): Route(f"/payments/{FAKE}/print", "fees.collect", 404),
    ("fee_receipts.receipt", "GET"): Route(f"/payments/{FAKE}/receipt", "fees.read", 404),
    ("cashup.day", "GET"): Route("/payments/cashup", "fees.read", 200),
    ("cashup.close", "POST"): Route("/payments/cashup/close", "cashup.close", frozenset({302, 409})),  # closed once
    ("cashup.print_view", "GET"): Route("/payments/cashup/print", "fees.read", 200),
    ("cashup.export", "GET"): Route("/payments/cashup/export.csv", "fees.read", 200),
    # reports
    ("reports.index", "GET"): Route("/reports", "reports.read", 200),
    ("reports.export_csv", "GET"): Route("/reports/export.csv", "reports.read", 200),
    ("reports.export_xlsx", "GET"): Route("/reports/export.xlsx", "reports.read", 200),
    ("reports.logbook_csv", "GET"): Route("/reports/logbook.csv", "reports.read", 200),
    ("reports.logbook_xlsx", "GET"): Route("/reports/logbook.xlsx", "reports.read", 200),
    ("reports.queue", "GET"): Route("/reports/queue", "reports.read", 200),
    ("reports.queue_csv", "GET"): Route("/reports/queue.csv", "reports.read", 200),
    ("reports.queue_xlsx", "GET"): Route("/reports/queue.xlsx", "reports.read", 200),
    ("satisfaction.index", "GET"): Route("/reports/satisfaction", "reports.read", 200),
    ("satisfaction.export_csv", "GET"): Route("/reports/satisfaction.csv", "reports.read", 200),
    ("satisfaction.export_xlsx", "GET"): Route("/reports/satisfaction.xlsx", "reports.read", 200),
    # the JSON API: a bearer token, never the session cookie
    ("api.list_dossiers", "GET"): Route("/api/v1/dossiers", "api:dossier.read", 200),
    ("api.create_dossier", "POST"): Route("/api/v1/dossiers", "api:dossier.create", 422),
    ("api.get_dossier", "GET"): Route("/api/v1/dossiers/{code}", "api:dossier.read", 200),
    ("api.act", "POST"): Route("/api/v1/dossiers/{code}/actions/transfer", "api:dossier.act", 422),
    ("api.add_attachment", "POST"): Route("/api/v1/dossiers/{code}/attachments", "api:dossier.act", 422),
    ("api.get_attachment", "GET"): Route(f"/api/v1/dossiers/{{code}}/attachments/{SHA}", "api:dossier.read", 404),
    ("api.take_payment", "POST"): Route("/api/v1/dossiers/{code}/payments", "api:fees.collect", 422),
    ("api.get_payment", "GET"): Route(f"/api/v1/payments/{FAKE}", "api:fees.read", 404),
    ("api.confirm", "POST"): Route(f"/api/v1/payments/{FAKE}/confirm", "api:fees.collect", 404),
    ("api.refund", "POST"): Route(f"/api/v1/payments/{FAKE}/refund", "api:fees.refund", 422),
    ("api.cancel", "POST"): Route(f"/api/v1/payments/{FAKE}/cancel", "api:fees.read", 422),
    ("api.bank_notification", "POST"): Route(
        "/api/v1/payments/bank-notification", "public", 403
    ),  # X-Notify-Token, not a user
    ("api.cashup_day", "GET"): Route("/api/v1/cashups/2026-11-25", "api:fees.read", 200),
    ("api.procedures", "GET"): Route("/api/v1/procedures", "api:catalogue.read", 200),
    ("api.procedure", "GET"): Route("/api/v1/procedures/1.001193", "api:catalogue.read", 200),
    ("api.due_date", "GET"): Route("/api/v1/procedures/1.001193/due-date", "api:catalogue.read", 200),
    ("api.queue_services", "GET"): Route("/api/v1/queue/services", "api:queue.read", 200),
    ("api.queue_counters", "GET"): Route("/api/v1/queue/counters", "api:queue.read", 200),
    ("api.queue_priorities", "GET"): Route("/api/v1/queue/priorities", "api:queue.read", 200),
    ("api.queue_events", "GET"): Route("/api/v1/queue/events", "api:queue.read", 200),
    ("api.issue_ticket", "POST"): Route("/api/v1/queue/tickets", "api:queue.issue", 422),
    ("api.rate", "POST"): Route("/api/v1/ratings", "api:queue.read", 422),
    ("api.call_next", "POST"): Route("/api/v1/counters/1/call-next", "api:queue.call", 204),
}


def expected(route: Route, role: str) -> int | frozenset[int]:
    """Return the status this role (or ANON) must get at this route."""
    who = route.who.removeprefix("api:")
    api = route.who.startswith("api:")
    if who == "public":
        return route.ok
    if role == ANON:
        return 401 if api else 302
    if who == "login" or role in PERMISSIONS[who]:
        return dict(route.by_role).get(role, route.ok)
    return route.refused


@pytest.fixture
def app(box_settings: Settings, clock: FakeClock) -> Iterator[tuple[Flask, str, dict[str, str]]]:
    box = open_box(box_settings.data_dir, clock=clock)
    add_user(box.db(), "kiosk1", "kiosk", PASSWORD, "Kiosk sảnh")
    code = intake.receive_dossier(box, User("canbo", "officer"), dossier_body())["code"]
    tokens = {role: create_token(box.db(), username) for role, username in USERS.items()}
    yield create_app(box, {"WTF_CSRF_ENABLED": False, "TESTING": True}), code, tokens
    box.close()


def rules(app: Flask) -> set[tuple[str, str]]:
    """Return every (endpoint, method) the app answers, HEAD and OPTIONS aside."""
    return {(r.endpoint, m) for r in app.url_map.iter_rules() for m in (r.methods or set()) - {"HEAD", "OPTIONS"}}


def test_every_route_has_a_decision(app: tuple[Flask, str, dict[str, str]]) -> None:
    flask_app = app[0]
    assert sorted(rules(flask_app) - set(ROUTES)) == [], "a route without a line in ROUTES"
    assert sorted(set(ROUTES) - rules(flask_app)) == [], "a line in ROUTES for a route that is gone"
    for route in ROUTES.values():
        assert route.who in ("public", "login") or route.who.removeprefix("api:") in PERMISSIONS, route


def client_for(flask_app: Flask, role: str) -> FlaskClient:
    client = flask_app.test_client()
    if role != ANON:
        resp = client.post("/login", data={"username": USERS[role], "password": PASSWORD})
        assert resp.status_code == 302, resp.text
    return client


def test_role_matrix(app: tuple[Flask, str, dict[str, str]]) -> None:
    flask_app, code, tokens = app
    differences = []
    for role in [*ROLES, ANON]:
        client = client_for(flask_app, role)
        for (endpoint, method), route in sorted(ROUTES.items()):
            if endpoint == "auth.logout":
                continue  # signs the client out: checked last
            headers = (
                {"Authorization": f"Bearer {tokens[role]}"} if route.who.startswith("api:") and role in tokens else {}
            )
            resp = client.open(route.url.format(code=code), method=method, headers=headers, data={})
            resp.close()
            want = expected(route, role)
            if resp.status_code not in (want if isinstance(want, frozenset) else {want}):
                differences.append(f"{role:10} {method:4} {endpoint:32} got {resp.status_code}, want {want}")
            elif want == 302 and role == ANON and route.who != "public":
                assert resp.headers["Location"].startswith("/login"), (endpoint, resp.headers["Location"])
        logout = client.post("/logout")
        want = expected(ROUTES[("auth.logout", "POST")], role)
        if logout.status_code != want:
            differences.append(f"{role:10} POST auth.logout got {logout.status_code}, want {want}")
    assert differences == [], "\n".join(differences)


def test_a_session_cookie_opens_no_api_route_but_the_event_stream(app: tuple[Flask, str, dict[str, str]]) -> None:
    flask_app, code, _ = app
    client = client_for(flask_app, "leader")
    assert {method for (endpoint, method) in ROUTES if endpoint in SESSION_ENDPOINTS} == {"GET"}
    for (endpoint, method), route in ROUTES.items():
        if route.who.startswith("api:"):
            resp = client.open(route.url.format(code=code), method=method)
            resp.close()
            assert resp.status_code == (200 if endpoint in SESSION_ENDPOINTS else 401), route.url
