"""Serve the box's web app with waitress."""

from __future__ import annotations

import signal
import sys
from types import FrameType

from waitress.server import create_server

from edge.box import Box
from ui.app import create_app


def serve(box: Box, host: str, port: int, banner: str = "") -> None:
    """Serve until SIGTERM/SIGINT; print the URL (with the real port when port is 0)."""
    app = create_app(box)
    server = create_server(app, host=host, port=port, threads=8, ident="motcua")
    # A single listen address gives a server that knows the port it bound (port 0 = any free one).
    actual = getattr(server, "effective_port", port)
    print(f"Máy “{box.settings.name}” đang chạy tại http://{host}:{actual}/ {banner}".rstrip(), flush=True)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        server.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    finally:
        box.close()
