"""Serve the box's web app with waitress."""

from __future__ import annotations

import logging
import signal
import sqlite3
import sys
import threading
from types import FrameType

from waitress.server import create_server

from edge import sdnotify
from edge.appliance import Devices
from edge.box import Box
from edge.config import load_secrets
from edge.logs import setup_logging
from edge.printing import PrintWorker
from edge.ratings import KeypadListener
from edge.store.db import AUTOCHECKPOINT_PAGES, checkpoint, connect
from ui.api.queue import stop_streams
from ui.app import create_app

CHECKPOINT_SECONDS = 2.0
log = logging.getLogger("motcua.server")


def _checkpoint_loop(box: Box, stop: threading.Event) -> None:
    # Checkpoint off the request path: a request that commits past the autocheckpoint limit
    # would otherwise copy the whole WAL into the DB file before it answers.
    db = connect(box.settings.db_path)
    try:
        while not stop.wait(CHECKPOINT_SECONDS):
            try:
                checkpoint(db)
            except sqlite3.Error as err:
                log.warning("background checkpoint failed: %s", err)
    finally:
        db.conn.close()


def answers(box: Box, host: str, port: int, timeout: float) -> bool:
    """Return whether the server answers a request to itself and its database a query (the watchdog's check)."""
    if not sdnotify.http_answers(host, port, "/login", timeout):
        return False
    db = connect(box.settings.db_path)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        db.conn.close()
    return True


def serve(box: Box, host: str, port: int, banner: str = "") -> None:
    """Serve until SIGTERM/SIGINT; print the URL (with the real port when port is 0)."""
    setup_logging(box.settings.box_id, "web", box.settings.data_dir, load_secrets(box.settings).values())
    box.autocheckpoint = 20 * AUTOCHECKPOINT_PAGES  # a safety net; the loop below does the work
    stopping = threading.Event()
    threading.Thread(target=_checkpoint_loop, args=(box, stopping), name="checkpoint", daemon=True).start()
    devices = Devices(box.settings)
    printer = PrintWorker(box.db, devices)
    printer.start()
    keypad = KeypadListener(box.db, devices, box.settings.keypad_counter, scale=lambda: box.settings.rating_scale)
    keypad.start()
    app = create_app(box, devices=devices, wake_printer=printer.wake)
    server = create_server(app, host=host, port=port, threads=8, ident="motcua")
    # A single listen address gives a server that knows the port it bound (port 0 = any free one).
    actual = getattr(server, "effective_port", port)
    print(f"Máy “{box.settings.name}” đang chạy tại http://{host}:{actual}/ {banner}".rstrip(), flush=True)
    log.info("web service listening on http://%s:%s/", host, actual)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stop_streams()
        server.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    watchdog = sdnotify.start_watchdog(lambda: answers(box, host, actual, timeout=5.0))
    sdnotify.notify("READY=1")
    try:
        server.run()
    finally:
        sdnotify.notify("STOPPING=1")
        log.info("web service stopping")
        if watchdog is not None:
            watchdog.stop()
        stopping.set()
        keypad.stop()
        printer.stop()
        devices.close()
        box.close()
