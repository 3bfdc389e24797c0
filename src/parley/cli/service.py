"""`parley service install|uninstall|status|logs`: Parley's server as a systemd service."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from parley.cli.app import ConfigOption, DataDirOption, app, guarded, settings_for
from parley.errors import ServiceError

service_app = typer.Typer(help="Parley's server as a systemd service.", no_args_is_help=True)
app.add_typer(service_app, name="service")

SystemOption = Annotated[
    bool,
    typer.Option(
        "--system/--user",
        help="A system service (its own user and /var/lib/parley) or one for you (default).",
    ),
]


def _systemctl(is_system: bool, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = ["systemctl", *([] if is_system else ["--user"]), *arguments]
    if shutil.which("systemctl") is None:
        raise ServiceError("systemctl is not installed: this machine does not run systemd.")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServiceError(
            f"`{' '.join(command)}` failed: {(done.stderr or done.stdout).strip()} "
            "(is systemd running here? The unit is written; start it where it is.)"
        )
    return done


def _executable() -> Path:
    """The `parley` command of this installation, by its absolute path."""
    found = shutil.which("parley") or str(Path(sys.executable).parent / "parley")
    return Path(found).resolve()


@service_app.command("install")
@guarded
def service_install(
    is_system: SystemOption = False,
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the unit and write nothing.")
    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write the systemd unit for `parley serve`, then enable and start it."""
    from parley.models.catalogue import assemble
    from parley.ops.service import SYSTEM_DATA_DIR, ServiceUnit

    settings = settings_for(config, data_dir)
    unit = ServiceUnit(
        scope="system" if is_system else "user",
        executable=_executable(),
        data_dir=SYSTEM_DATA_DIR if is_system else settings.data_dir,
        config_file=config.resolve() if config is not None else None,
    )
    if print_only:
        typer.echo(unit.text(), nl=False)
        return
    assemble(unit.data_dir / "models")  # the service finds its models where it runs
    unit.path.parent.mkdir(parents=True, exist_ok=True)
    unit.path.write_text(unit.text(), encoding="utf-8")
    typer.echo(f"wrote {unit.path}")
    _systemctl(is_system, "daemon-reload")
    _systemctl(is_system, "enable", "--now", "parley.service")
    typer.echo("parley.service is enabled and started; `parley service logs` follows it")


@service_app.command("uninstall")
@guarded
def service_uninstall(is_system: SystemOption = False) -> None:
    """Stop and disable the service and remove its unit (the data directory stays)."""
    from parley.ops.service import ServiceUnit

    unit = ServiceUnit(
        scope="system" if is_system else "user", executable=_executable(), data_dir=Path()
    )
    if not unit.path.exists():
        raise ServiceError(f"There is no unit at {unit.path}: nothing to uninstall.")
    _systemctl(is_system, "disable", "--now", "parley.service")
    unit.path.unlink()
    _systemctl(is_system, "daemon-reload")
    typer.echo(f"removed {unit.path}; the data directory is kept")


@service_app.command("status")
@guarded
def service_status(is_system: SystemOption = False) -> None:
    """systemd's account of the service."""
    typer.echo(_systemctl(is_system, "status", "--no-pager", "parley.service").stdout, nl=False)


@service_app.command("logs")
@guarded
def service_logs(
    is_system: SystemOption = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
) -> None:
    """The service's log, from the journal."""
    if shutil.which("journalctl") is None:
        raise ServiceError("journalctl is not installed: this machine does not run systemd.")
    command = ["journalctl", *([] if is_system else ["--user"]), "-u", "parley.service"]
    subprocess.run([*command, *(["--follow"] if follow else ["--no-pager"])], check=False)
