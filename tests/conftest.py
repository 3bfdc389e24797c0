"""Shared fixtures: real models loaded once per run, generated test speech, temporary data dirs.

Markers come from the directory (unit, integration, e2e), so no test can forget its category.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import uvicorn

from parley.config.settings import Settings, load_settings
from parley.models.catalogue import assemble
from parley.server.app import create_app, uvicorn_options

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
# `make test` fills it before pytest starts (`parley models install --real-speech`): the
# embedded models and the recorded speech. No test fetches anything.
TEST_DATA_DIR = CACHE / "test-data"
TEST_MODELS_DIR = TEST_DATA_DIR / "models"
SPEECH_DIR = CACHE / "test-speech"


# Every process this run starts inherits this mark, so the run's end finds those left behind,
# even one whose parent died and which the kernel handed to init.
RUN_MARK = "PARLEY_TEST_RUN"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault(RUN_MARK, f"{os.getpid()}-{time.time_ns()}")
    # What Parley derives from the models and keeps between starts (models/derived_files.py)
    # stays in the clone, as the models do, shared by every server the run starts.
    os.environ["XDG_CACHE_HOME"] = str(CACHE / "derived")


def processes_of_this_run() -> list[psutil.Process]:
    mark = os.environ.get(RUN_MARK)
    own = {os.getpid(), *(parent.pid for parent in psutil.Process().parents())}
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.pid in own or process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(RUN_MARK) == mark:
                found.append(process)
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No process a test started outlives the run: each is ended by its fixture; one that was
    not fails the run, named, and is ended here."""
    if os.environ.get(RUN_MARK, "").split("-")[0] != str(os.getpid()):
        return  # a nested pytest (a test running pytest) checks nothing of its parent's
    left = processes_of_this_run()
    # A fixture's process may still be on its way out (PostgreSQL stopping): given a moment.
    _gone, left = psutil.wait_procs(left, timeout=15)
    if not left:
        return
    names = []
    for process in left:
        with contextlib.suppress(psutil.Error):
            names.append(f"{process.pid} {' '.join(process.cmdline())[:160]}")
            process.kill()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"FAILED: {len(left)} process(es) started by the tests outlived them:", red=True
        )
        for name in names:
            reporter.write_line(f"  {name}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def end_process(process: subprocess.Popen[Any], *, grace_s: float = 30) -> None:
    """Stop a process a test started, whatever state it is in: asked first (SIGTERM), then
    killed if it has not gone within ``grace_s``; never left running."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        if parts and parts[0] in {"unit", "integration", "e2e"}:
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The embedded models, assembled once into the repo's cache (skipped when present)."""
    assemble(TEST_MODELS_DIR)
    return TEST_MODELS_DIR


def make_data_dir(root: Path, models_dir: Path) -> Path:
    """A fresh data directory whose models are the shared, already assembled ones."""
    root.mkdir(parents=True, exist_ok=True)
    link = root / "models"
    if not link.exists():
        link.symlink_to(models_dir, target_is_directory=True)
    return root


@pytest.fixture
def data_dir(tmp_path: Path, models_dir: Path) -> Path:
    return make_data_dir(tmp_path / "data", models_dir)


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return load_settings(profile="testing", data_dir=data_dir)


@dataclass
class PostgresForTests:
    """One real PostgreSQL 16 with pgvector (pgserver's) for the run; a new database each ask."""

    admin_url: str
    bin_dir: Path
    _uri_of: Callable[[str], str]

    def new_database_url(self) -> str:
        import uuid

        import psycopg

        name = "parley_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self._uri_of(name)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresForTests]:
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime directory as it is imported, which warns
        # where XDG_RUNTIME_DIR is unset (as under CI); its socket goes in its data directory.
        warnings.simplefilter("ignore", UserWarning)
        import pgserver
        from pgserver._commands import POSTGRES_BIN_PATH

        server = pgserver.get_server(tmp_path_factory.mktemp("postgres"), cleanup_mode="stop")
    try:
        yield PostgresForTests(server.get_uri(), Path(POSTGRES_BIN_PATH), server.get_uri)
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def backends(models_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from parley.models.loaded import Backends

    root = make_data_dir(tmp_path_factory.mktemp("shared-data"), models_dir)
    return Backends.load(load_settings(profile="testing", data_dir=root))


def _espeak(text: str, path: Path, voice: str) -> None:
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(raw), text], check=True)
    # 16 kHz mono with a little silence before, as a microphone would start.
    subprocess.run(
        ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path), "pad", "0.4", "0"],
        check=True,
    )
    raw.unlink()


@pytest.fixture(scope="session")
def speech() -> Callable[..., Path]:
    """Generate spoken test audio with espeak-ng (cached across runs by text and voice)."""
    SPEECH_DIR.mkdir(parents=True, exist_ok=True)

    def say(text: str, *, voice: str = "en-us") -> Path:
        slug = "".join(c if c.isalnum() else "-" for c in text.lower())[:60].strip("-")
        path = SPEECH_DIR / f"{voice}-{slug}.wav"
        if not path.exists():
            _espeak(text, path, voice)
        return path

    return say


@pytest.fixture(scope="session")
def piper_speech(backends):  # type: ignore[no-untyped-def]
    """Spoken test audio in Piper's natural voice (espeak's robotic one trips Whisper tiny on
    some words), 16 kHz mono with a little silence first; cached across runs."""
    import asyncio
    import concurrent.futures

    import numpy as np

    from parley.audio.pcm import resample, write_wav

    SPEECH_DIR.mkdir(parents=True, exist_ok=True)

    async def synthesize(text: str) -> np.ndarray:
        chunks = [chunk async for chunk in backends.tts.synthesize(text)]
        return resample(np.concatenate(chunks), backends.tts.sample_rate_hz, 16_000)

    def say(text: str) -> Path:
        slug = "".join(c if c.isalnum() else "-" for c in text.lower())[:60].strip("-")
        path = SPEECH_DIR / f"piper-{slug}.wav"
        if not path.exists():
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                audio = pool.submit(asyncio.run, synthesize(text)).result()
            write_wav(path, np.concatenate([np.zeros(6_400, np.int16), audio]), 16_000)
        return path

    return say


@pytest.fixture(scope="session")
def whisper_check(backends):  # type: ignore[no-untyped-def]
    """Transcribe audio back to text with the real Whisper model, as a listener would."""
    import asyncio
    import concurrent.futures

    import numpy as np

    from parley.audio.pcm import resample

    def transcribe(samples: np.ndarray, sample_rate_hz: int) -> str:
        # Lead-in silence, as before any utterance; Whisper clips words that start at sample 0.
        audio = np.concatenate(
            [np.zeros(8_000, np.int16), resample(samples, sample_rate_hz, 16_000)]
        )
        # A fresh loop in a worker thread, so this works from sync and async tests alike.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, backends.stt.transcribe(audio)).result().text

    return transcribe


@pytest.fixture
def parley_cli(data_dir: Path) -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    """Run the installed `parley` command in a subprocess, in the testing profile."""
    executable = shutil.which("parley") or str(REPO / ".venv" / "bin" / "parley")

    def run(
        *args: str, env: dict[str, str] | None = None, timeout_s: float = 240
    ) -> subprocess.CompletedProcess[str]:
        import os

        full_env = {
            **os.environ,
            "PARLEY_ENV": "testing",
            "PARLEY_DATA_DIR": str(data_dir),
            **(env or {}),
        }
        return subprocess.run(
            [executable, *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout_s,
            check=False,
        )

    yield run


def sounds_like(expected_word: str, transcript: str) -> bool:
    """Whether Whisper heard the word, allowing its spelling and spacing slips ("Parris",
    "Parishes the" for "Paris is the")."""
    import difflib

    letters = "".join(c for c in transcript.lower() if c.isalpha())
    size = len(expected_word)
    return any(
        difflib.SequenceMatcher(None, expected_word, letters[start : start + width]).ratio() >= 0.8
        for width in (size - 1, size, size + 1)
        for start in range(max(1, len(letters) - width + 1))
    )


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    ws_url: str
    api_key: str
    data_dir: Path
    port: int

    def login_code(self) -> str:
        """A one-time browser login code, as `parley login` prints for this data directory."""
        from parley.server.auth import authenticator_for

        settings = load_settings(profile="testing", data_dir=self.data_dir)
        return authenticator_for(settings, self.api_key).mint_login_code()


def _first_ephemeral_port() -> int:
    try:
        low, _high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low)
    except (OSError, ValueError):
        return 32768  # Linux's default


_HANDED_OUT: set[int] = set()


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, run_of: int = 1) -> int:
    """A loopback port that is free now, with the ``run_of - 1`` ports after it, chosen below
    the kernel's ephemeral range. A port the kernel handed out (bind to 0) can be given again,
    as the local port of any outgoing connection, before the server that was meant to bind it
    does: a cluster worker's port was taken that way by a health-check connection."""
    top = _first_ephemeral_port() - run_of
    for _ in range(200):
        first = random.randrange(10_000, top)
        run = range(first, first + run_of)
        if _HANDED_OUT.isdisjoint(run) and all(port_is_free(port) for port in run):
            _HANDED_OUT.update(run)  # not handed out twice, though not yet bound
            return first
    raise RuntimeError(f"no {run_of} free loopback ports in a row below {top}")


@pytest.fixture(scope="module")
def server(backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:  # type: ignore[no-untyped-def]
    """A real Parley server on a loopback port, in a thread, sharing the loaded models."""
    with running_server(backends, tmp_path_factory.mktemp("server-data")) as running:
        yield running


@contextlib.contextmanager
def running_server(
    backends, data_dir: Path, *, port: int | None = None, **overrides: Any
) -> Iterator[RunningServer]:  # type: ignore[no-untyped-def]
    """``overrides``: config sections for this server (``alerts=AlertsConfig(...)``)."""
    settings = load_settings(profile="testing", data_dir=data_dir, **overrides)
    api_key = "pk-test-" + "x" * 20
    app = create_app(settings, api_key=api_key, backends=backends)
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="on", **uvicorn_options(settings)
    )
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvicorn_server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the Parley server did not start")
        time.sleep(0.05)
    try:
        yield RunningServer(
            base_url=f"http://127.0.0.1:{port}/v1",
            ws_url=f"ws://127.0.0.1:{port}/v1/realtime",
            api_key=api_key,
            data_dir=data_dir,
            port=port,
        )
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)


async def ask_in_text(connection: Any, text: str) -> None:
    """A user message typed into a realtime connection (the openai SDK's), then a reply asked
    for."""
    await connection.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    )
    await connection.response.create()
