"""What every hub request handler needs: the settings, the database and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

from edge.calendar import TZ
from edge.events import iso
from sync.hub.config import HubSettings
from sync.hub.db import HubDB

EXTENSION = "motcua_hub"


@dataclass
class HubContext:
    """The hub's parts, built once per process and shared by its request handlers."""

    settings: HubSettings
    db: HubDB
    clock: Callable[[], float] = field(default=time.time)

    def now(self) -> datetime:
        """Return the hub's clock as a moment in Vietnam time."""
        return datetime.fromtimestamp(self.clock(), TZ)

    def now_iso(self) -> str:
        """Return the hub's clock as ISO 8601 with the +07:00 offset, to the second."""
        return iso(self.now())

    def now_ms(self) -> int:
        """Return the hub's clock in Unix milliseconds."""
        return int(self.clock() * 1000)


def hub_context() -> HubContext:
    """Return the HubContext of the Flask app handling the current request."""
    ctx: HubContext = current_app.extensions[EXTENSION]
    return ctx
