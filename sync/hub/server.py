"""Serve the hub with waitress, with the forwarder to the national portal when it is installed."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import signal
import sys
from collections.abc import Callable
from types import FrameType

from waitress.server import create_server

from edge import sdnotify
from edge.logs import setup_logging
from sync.hub.app import create_hub_app
from sync.hub.config import HubSettings, load_hub_secrets
from sync.hub.context import EXTENSION, HubContext
from sync.hub.db import HubDB

FORWARD_MODULE = "sync.hub.forward"
# Request threads, each with its own database connection. A push spends a good part of its time
# waiting on PostgreSQL (round trips, the commit's flush); with hundreds of boxes pushing at once,
# 16 threads get more done than 8 (bench/sync_ingest.py on a busy 2-core machine: 9,500 vs 7,000 events/s).
THREADS = 16
log = logging.getLogger("motcua.hub")


def start_forwarder(ctx: HubContext) -> Callable[[], None] | None:
    """Start the forwarder if the sync.hub.forward module is installed; return its stop function."""
    if importlib.util.find_spec(FORWARD_MODULE) is None:
        return None
    module = importlib.import_module(FORWARD_MODULE)
    start = getattr(module, "start_forwarder", None)
    if not callable(start):
        return None
    stop: Callable[[], None] = start(ctx)
    return stop


def serve_hub(settings: HubSettings, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGTERM/SIGINT; print the URL first (with the real port when port is 0)."""
    host = host or settings.host
    port = settings.port if port is None else port
    setup_logging(settings.hub_id, "hub", settings.data_dir, load_hub_secrets(settings).values())
    db = HubDB(settings.database_url)
    db.create_schema()
    app = create_hub_app(settings, db)
    ctx: HubContext = app.extensions[EXTENSION]
    server = create_server(app, host=host, port=port, threads=THREADS, ident="motcua-hub")
    actual = getattr(server, "effective_port", port)
    print(f"Máy chủ tỉnh đang chạy tại http://{host}:{actual}", flush=True)
    log.info("hub listening on http://%s:%s", host, actual)
    stop_forwarder = start_forwarder(ctx)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        server.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    # Fed only while the hub answers a request to itself and its database a query.
    watchdog = sdnotify.start_watchdog(
        lambda: sdnotify.http_answers(host, actual, "/login", 5.0) and db.scalar("SELECT 1") == 1
    )
    sdnotify.notify("READY=1")
    try:
        server.run()
    finally:
        sdnotify.notify("STOPPING=1")
        log.info("hub stopping")
        if watchdog is not None:
            watchdog.stop()
        if stop_forwarder is not None:
            stop_forwarder()
        db.close()
