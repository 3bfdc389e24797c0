"""Parley as a systemd service: the unit that runs `parley serve`, for a user or the system.

The unit restarts Parley when it fails and confines it: no new privileges, the file system
read-only but for the data directory, a private /tmp, no access to kernel tunables or control
groups. A system service runs as a dynamic user with its own state directory
(/var/lib/parley); a user service keeps the user's data directory.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Scope = Literal["user", "system"]
UNIT_NAME = "parley.service"
SYSTEM_DATA_DIR = Path("/var/lib/parley")


@dataclass(frozen=True, slots=True)
class ServiceUnit:
    scope: Scope
    executable: Path  # the `parley` command, by its absolute path
    data_dir: Path
    config_file: Path | None = None

    @property
    def path(self) -> Path:
        """Where systemd looks for the unit."""
        if self.scope == "system":
            return Path("/etc/systemd/system") / UNIT_NAME
        return Path.home() / ".config" / "systemd" / "user" / UNIT_NAME

    def text(self) -> str:
        command = [str(self.executable), "serve", "--data-dir", str(self.data_dir)]
        if self.config_file is not None:
            command += ["--config", str(self.config_file)]
        system_only = (
            [
                "DynamicUser=yes",
                "StateDirectory=parley",
                "ProtectHome=yes",
            ]
            if self.scope == "system"
            else []
        )
        lines = [
            "[Unit]",
            "Description=Parley, a local voice assistant (parley serve)",
            "After=network.target",
            "",
            "[Service]",
            "Type=exec",
            f"ExecStart={shlex.join(command)}",
            # `systemctl reload parley` re-reads the config file (it is also watched).
            "ExecReload=/bin/kill -HUP $MAINPID",
            "Environment=PARLEY_ENV=production",
            # What Parley derives from its models and keeps between starts (models/
            # derived_files.py) goes in the one writable directory, not the read-only ~/.cache.
            f"Environment=XDG_CACHE_HOME={self.data_dir / 'cache'}",
            "Restart=on-failure",
            "RestartSec=5",
            # SIGTERM lets sessions close and the database checkpoint; then it is killed.
            "TimeoutStopSec=30",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            f"ReadWritePaths={self.data_dir}",
            "PrivateTmp=yes",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectControlGroups=yes",
            "RestrictSUIDSGID=yes",
            "LockPersonality=yes",
            *system_only,
            "",
            "[Install]",
            f"WantedBy={'multi-user.target' if self.scope == 'system' else 'default.target'}",
            "",
        ]
        return "\n".join(lines)
