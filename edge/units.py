"""The systemd units of an install: the box's web service, its sync worker and the provincial hub.

Each runs as a dedicated system user, Type=notify (READY=1 once it serves, WATCHDOG=1 while it
works; edge/sdnotify.py), restarted when it dies or hangs, with the file system read-only but
for its data dir. systemd/*.service in the repository are these units for the default install.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA = Path("/var/lib/motcua")
DEFAULT_HUB_DATA = Path("/var/lib/motcua-hub")
DEFAULT_EXEC = "/usr/local/bin/motcua"
DEFAULT_USER = "motcua"
ENV_DIR = Path("/etc/motcua")
WATCHDOG_SEC = 60


@dataclass(frozen=True)
class Install:
    """Where this install's command, data and user are."""

    executable: str = DEFAULT_EXEC
    data: Path = DEFAULT_DATA
    hub_data: Path | None = None
    user: str = DEFAULT_USER


@dataclass(frozen=True)
class Unit:
    """One unit file: its name and its text."""

    name: str
    text: str


def _quote(path: Path | str) -> str:
    text = str(path)
    return f'"{text}"' if any(c.isspace() for c in text) else text


def _service(install: Install, description: str, command: str, data: Path, env_file: str, extra_unit: str = "") -> str:
    exe = install.executable
    # A venv under /home or /root must stay readable to run; everything else of home stays hidden.
    home = "read-only" if exe.startswith(("/home/", "/root/")) else "yes"
    return f"""# {description} — written by `motcua install-systemd`; edit with `systemctl edit`, not here.
[Unit]
Description={description}
After=network-online.target
Wants=network-online.target
{extra_unit}
[Service]
Type=notify
NotifyAccess=main
User={install.user}
Group={install.user}
SupplementaryGroups=dialout lp
EnvironmentFile=-{ENV_DIR / env_file}
ExecStart={_quote(exe)} {command} --data {_quote(data)}
Restart=always
RestartSec=3
TimeoutStartSec=120
WatchdogSec={WATCHDOG_SEC}
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=strict
ProtectHome={home}
ReadWritePaths={_quote(data)}
UMask=0027

[Install]
WantedBy=multi-user.target
"""


def render_units(install: Install) -> list[Unit]:
    """Return the units for this install: web and sync for the box, and the hub when it has a data dir."""
    units = [
        Unit("motcua-web.service", _service(install, "Một Cửa Edge web service", "serve", install.data, "motcua.env")),
        Unit(
            "motcua-sync.service",
            _service(
                install,
                "Một Cửa Edge sync worker",
                "sync-worker",
                install.data,
                "motcua.env",
                # Not provisioned yet: nothing to run (and no restart loop) until `motcua provision`.
                f"ConditionPathExists={_quote(install.data / 'sync.toml')}\n",
            ),
        ),
    ]
    if install.hub_data is not None:
        units.append(
            Unit(
                "motcua-hub.service",
                _service(install, "Một Cửa provincial hub", "hub serve", install.hub_data, "hub.env"),
            )
        )
    return units
