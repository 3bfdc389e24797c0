"""`parley serve` as a user starts it: a real process on a loopback port."""

import contextlib
import json
import os
import shutil
import stat
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import AsyncOpenAI, OpenAI

from tests.conftest import ask_in_text, end_process, free_port

REPO = Path(__file__).resolve().parents[2]


def parley_executable() -> str:
    return shutil.which("parley") or str(REPO / ".venv" / "bin" / "parley")


@contextlib.contextmanager
def serving(
    args: list[str], env: dict[str, str], log_path: Path
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`parley serve` with ``args`` on a free port, until it answers /health; stopped after."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [parley_executable(), "serve", "--port", str(port), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    end_process(process)
                    pytest.fail(f"parley serve did not start: {log_path.read_text()}")
                time.sleep(0.2)
        try:
            yield url, process
        finally:
            end_process(process)


@pytest.fixture
def served(data_dir: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "PARLEY_ENV": "testing", "PARLEY_DATA_DIR": str(data_dir)}
    env.pop("PARLEY_API_KEY", None)
    with serving([], env, log_path) as (url, _process):
        yield url, log_path


@pytest.mark.slow
async def test_serve_creates_a_private_key_prints_a_login_url_and_answers(
    served: tuple[str, Path], data_dir: Path
) -> None:
    url, log_path = served
    key_file = data_dir / "api_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    api_key = key_file.read_text().strip()
    log_text = log_path.read_text()
    assert api_key not in log_text, "the API key must never be printed or logged"
    with OpenAI(base_url=f"{url}/v1", api_key=api_key) as sync_client:
        assert "parley" in [m.id for m in sync_client.models.list()]
    async with (
        AsyncOpenAI(base_url=f"{url}/v1", api_key=api_key) as client,
        client.realtime.connect(model="parley") as connection,
    ):
        await ask_in_text(connection, "What is the capital of France?")
        transcript = ""
        async for event in connection:
            if event.type == "response.output_audio_transcript.done":
                transcript = event.transcript
            if event.type == "response.done":
                assert event.response.status == "completed"
                break
    assert "paris" in transcript.lower()


def test_the_printed_login_code_and_parley_login_sign_a_browser_in(
    served: tuple[str, Path], data_dir: Path
) -> None:
    url, log_path = served
    log_text = log_path.read_text()
    printed_code = log_text.split(f"{url}/?login=", 1)[1].split()[0]
    fresh_code = (
        subprocess.run(
            [parley_executable(), "login", "--data-dir", str(data_dir)],
            env={**os.environ, "PARLEY_ENV": "testing"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        .stdout.split("?login=", 1)[1]
        .split()[0]
    )
    for code in (printed_code, fresh_code):
        request = urllib.request.Request(
            f"{url}/v1/login",
            data=json.dumps({"code": code}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["value"]


def test_serve_refuses_a_public_address_without_expose(data_dir: Path) -> None:
    done = subprocess.run(
        [parley_executable(), "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env={**os.environ, "PARLEY_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--expose" in done.stderr and "Traceback" not in done.stderr


def test_health_reports_the_version(served: tuple[str, Path]) -> None:
    url, _ = served
    from parley import __version__

    with urllib.request.urlopen(f"{url}/health") as response:
        assert json.loads(response.read()) == {"status": "ok", "version": __version__}


def test_sighup_without_a_config_file_is_logged_and_the_server_keeps_serving(
    data_dir: Path, tmp_path: Path
) -> None:
    import signal

    env = {**os.environ, "PARLEY_ENV": "testing", "PARLEY_DATA_DIR": str(data_dir)}
    env.pop("PARLEY_CONFIG", None)
    log_path = tmp_path / "serve.log"
    with serving([], env, log_path) as (url, process):
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "no config file to reload" not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()[-2000:]
            time.sleep(0.1)
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            assert response.status == 200
        assert process.poll() is None


def test_serve_refuses_wyoming_on_a_public_address_without_expose(data_dir: Path) -> None:
    done = subprocess.run(
        [parley_executable(), "serve", "--wyoming", f"tcp://0.0.0.0:{free_port()}"],
        env={**os.environ, "PARLEY_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "no credentials" in done.stderr and "--expose" in done.stderr


async def test_serve_with_wyoming_answers_home_assistant_beside_http(
    data_dir: Path, tmp_path: Path
) -> None:
    from wyoming.client import AsyncTcpClient
    from wyoming.info import Describe, Info

    wyoming_port = free_port()
    env = {**os.environ, "PARLEY_ENV": "testing", "PARLEY_DATA_DIR": str(data_dir)}
    log_path = tmp_path / "serve.log"
    with serving(["--wyoming", f"tcp://127.0.0.1:{wyoming_port}"], env, log_path):
        async with AsyncTcpClient("127.0.0.1", wyoming_port, read_timeout=30) as client:
            await client.write_event(Describe().event())
            event = await client.read_event()
    assert event is not None
    info = Info.from_event(event)
    assert info.asr and info.tts and info.handle
    assert "Wyoming Protocol" in log_path.read_text()  # how to add it in Home Assistant
