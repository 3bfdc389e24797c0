"""`parley service`: the systemd unit it writes is one systemd accepts, and where systemd does
not run, installing says so plainly."""

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _verified(unit_text: str, directory: Path) -> subprocess.CompletedProcess[str]:
    unit = directory / "parley.service"
    unit.write_text(unit_text)
    return subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
@pytest.mark.parametrize("scope", ["--user", "--system"])
def test_the_unit_verifies_and_confines_the_server(
    parley_cli: Cli, data_dir: Path, tmp_path: Path, scope: str
) -> None:
    done = parley_cli("service", "install", scope, "--print")
    assert done.returncode == 0, done.stderr
    unit = done.stdout
    served_dir = data_dir if scope == "--user" else Path("/var/lib/parley")
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    executable, *arguments = exec_start.removeprefix("ExecStart=").split()
    assert Path(executable).is_absolute() and Path(executable).exists()
    assert arguments == ["serve", "--data-dir", str(served_dir)]
    for setting in (
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        f"ReadWritePaths={served_dir}",
        # What is derived from the models is kept where the service may write.
        f"Environment=XDG_CACHE_HOME={served_dir / 'cache'}",
        "PrivateTmp=yes",
    ):
        assert setting in unit.splitlines(), setting
    assert ("DynamicUser=yes" in unit) == (scope == "--system")
    verified = _verified(unit, tmp_path)
    # systemd-analyze exits 0 even for a setting it ignores; any line it prints is a fault.
    assert verified.returncode == 0 and verified.stderr.strip() == "", verified.stderr


def test_installing_where_systemd_does_not_run_writes_the_unit_and_says_so(
    parley_cli: Cli, tmp_path: Path
) -> None:
    if shutil.which("systemctl") is None:
        pytest.skip("needs systemctl (to see it refuse)")
    done = parley_cli("service", "install", env={"HOME": str(tmp_path)})
    unit = tmp_path / ".config" / "systemd" / "user" / "parley.service"
    assert unit.exists() and "ExecStart=" in unit.read_text()
    if done.returncode == 0:
        pytest.skip("systemd runs for this user here: the service was really installed")
    assert done.returncode == 9, done.stderr
    assert "systemctl --user daemon-reload" in done.stderr and "Traceback" not in done.stderr
