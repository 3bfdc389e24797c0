"""Memory as a user meets it: facts survive a restart, the CLI manages them, and committed
turns survive `kill -9` of the server."""

import asyncio
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI

from parley.memory.database import sqlite3  # the same SQLite library as Parley
from parley.memory.sqlite_store import SqliteStore
from tests.conftest import ask_in_text, end_process, free_port
from tests.e2e.conftest import small_worker_config
from tests.e2e.test_cli_serve import parley_executable

Cli = Callable[..., subprocess.CompletedProcess[str]]


def talk(cli: Cli, audio: Path, output: Path) -> dict:  # type: ignore[type-arg]
    done = cli("talk", str(audio), "--output", str(output), "--json", "--fast")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.slow
def test_a_fact_told_by_voice_is_recalled_in_a_new_conversation_after_a_restart(
    parley_cli: Cli, piper_speech: Callable[..., Path], tmp_path: Path
) -> None:
    # Said without being asked to keep, a fact is not stored; asked, it is.
    said = talk(parley_cli, piper_speech("My favourite food is curry."), tmp_path / "0.wav")
    assert "curry" in said["transcript"].lower()
    assert "curry" not in parley_cli("memory", "list").stdout.lower()
    told = talk(
        parley_cli,
        piper_speech("Please remember that my favourite colour is teal."),
        tmp_path / "1.wav",
    )
    assert "teal" in told["transcript"].lower()
    # A new process and a new conversation: only the memory can know.
    asked = talk(parley_cli, piper_speech("What is my favourite colour?"), tmp_path / "2.wav")
    assert asked["conversation_id"] != told["conversation_id"]
    assert "teal" in asked["reply_text"].lower()


@pytest.mark.slow
def test_remember_and_forget_by_voice_and_the_memory_commands(
    parley_cli: Cli, piper_speech: Callable[..., Path], tmp_path: Path
) -> None:
    reply = talk(parley_cli, piper_speech("Remember that I am vegetarian."), tmp_path / "1.wav")
    assert "remember" in reply["reply_text"].lower() and "vegetarian" in reply["reply_text"].lower()
    listed = parley_cli("memory", "list")
    assert "The user is vegetarian" in listed.stdout
    added = parley_cli("memory", "add", "I have a dog called Rex")
    assert added.returncode == 0 and "The user has a dog called Rex" in added.stdout
    found = parley_cli("memory", "search", "pets at home")
    assert found.stdout.splitlines()[0].endswith("The user has a dog called Rex")
    item_id = found.stdout.split()[0]
    assert parley_cli("memory", "forget", item_id).returncode == 0
    assert "Rex" not in parley_cli("memory", "list").stdout
    forgot = talk(parley_cli, piper_speech("Forget that I am vegetarian."), tmp_path / "2.wav")
    assert "forgotten" in forgot["reply_text"].lower()
    assert "vegetarian" not in parley_cli("memory", "list").stdout
    missing = parley_cli("memory", "forget", "9999")
    assert missing.returncode == 2 and "No memory 9999" in missing.stderr


@pytest.mark.slow
def test_conversations_export_import_backup_and_restore_from_the_cli(
    parley_cli: Cli, tmp_path: Path, data_dir: Path
) -> None:
    assert parley_cli("chat", "What is the capital of France?").returncode == 0
    listed = parley_cli("conversations", "list")
    conversation_id = listed.stdout.split()[0]
    shown = parley_cli("conversations", "show", conversation_id)
    assert "you: What is the capital of France?" in shown.stdout
    export = tmp_path / "all.jsonl"
    assert parley_cli("conversations", "export", str(export)).returncode == 0
    again = parley_cli("conversations", "import", str(export))
    assert "imported 0 conversations, skipped 1" in again.stdout
    markdown = tmp_path / "all.md"
    assert (
        parley_cli("conversations", "export", str(markdown), "--format", "markdown").returncode == 0
    )
    assert "**You:** What is the capital of France?" in markdown.read_text()
    made = parley_cli("backup", "--keep", "3")
    assert made.returncode == 0
    backup_file = Path(made.stdout.strip().rsplit(" ", 1)[-1])
    assert parley_cli("restore", str(backup_file)).returncode == 0
    assert conversation_id in parley_cli("conversations", "list").stdout


KILL_TEST_KEY = "pk-kill-test-0123456789"


def serve_until_healthy(
    data_dir: Path,
    log_path: Path,
    env: dict[str, str] | None = None,
    *,
    model_server_url: str | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """`parley serve` in a subprocess on a free port, once /health answers; with
    ``model_server_url``, a small worker whose models are that server's (what the restart tests
    test is the store, not the loading of models, which would take most of their time)."""
    args = []
    if model_server_url is not None:
        config = small_worker_config(log_path.with_suffix(".yaml"), model_server_url)
        args = ["--config", str(config)]
    port = free_port()
    env = {
        **os.environ,
        "PARLEY_ENV": "testing",
        "PARLEY_DATA_DIR": str(data_dir),
        "PARLEY_API_KEY": KILL_TEST_KEY,
        **(env or {}),
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [parley_executable(), "serve", "--port", str(port), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                end_process(process)
                raise AssertionError(log_path.read_text()) from None
            time.sleep(0.1)


async def _three_turns_killed_during_the_last(port: int, process: subprocess.Popen[bytes]) -> str:
    conversation_id = ""
    async with (
        AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KILL_TEST_KEY) as client,
        client.realtime.connect(model="parley") as connection,
    ):
        questions = [
            "What is the capital of France?",
            "What is two plus two?",
            "Tell me a long story about a whale.",
        ]
        for number, question in enumerate(questions):
            await ask_in_text(connection, question)
            async for event in connection:
                if number == 2 and event.type == "response.output_audio.delta":
                    process.send_signal(signal.SIGKILL)  # mid-reply: no chance to clean up
                    return conversation_id
                if event.type == "response.done":
                    conversation_id = event.response.conversation_id
                    break
    return conversation_id


@pytest.mark.slow
def test_committed_turns_survive_kill_9_of_the_server(
    data_dir: Path, tmp_path: Path, model_server: tuple[str, Path]
) -> None:
    process, port = serve_until_healthy(
        data_dir, tmp_path / "serve.log", model_server_url=model_server[0]
    )
    try:
        conversation_id = asyncio.run(_three_turns_killed_during_the_last(port, process))
        process.wait(timeout=10)
    finally:
        end_process(process)
    assert process.returncode == -signal.SIGKILL
    database = data_dir / "parley.sqlite3"
    assert sqlite3.connect(database).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    messages = SqliteStore(database).messages(conversation_id)
    assert [m.role for m in messages[:4]] == ["user", "assistant", "user", "assistant"]
    assert "paris" in messages[1].content.lower()
    assert messages[4].content == "Tell me a long story about a whale."


async def _talk_until_killed(
    port: int,
    process: subprocess.Popen[bytes],
    conversation_id: str | None,
    *,
    turns_first: int,
    kill_after_s: float,
) -> tuple[str, list[str]]:
    """Questions in one conversation: ``turns_first`` answered in full, then the server killed
    ``kill_after_s`` after the next question is sent (a moment anywhere in a turn: reading it,
    answering, storing, or already in the one after). The kill follows the turns, not the
    clock, so a slow machine sees as many turns committed as a fast one. Returns the
    conversation and each question whose response.done arrived before the kill."""
    import random

    answered: list[str] = []
    resume = {"conversation": conversation_id} if conversation_id else {}
    killer: asyncio.TimerHandle | None = None
    try:
        async with (
            AsyncOpenAI(
                base_url=f"http://127.0.0.1:{port}/v1",
                api_key=KILL_TEST_KEY,
                max_retries=0,
            ) as client,
            client.realtime.connect(
                model="parley", extra_query=resume, max_retries=0
            ) as connection,
        ):
            for turn in range(20):
                question = (
                    f"Question {random.randrange(10**6)}: "
                    f"what is {random.randint(2, 9)} plus {random.randint(2, 9)}?"
                )
                await ask_in_text(connection, question)
                if turn == turns_first:
                    killer = asyncio.get_running_loop().call_later(
                        kill_after_s, process.send_signal, signal.SIGKILL
                    )
                async for event in connection:
                    if event.type == "response.done":
                        conversation_id = event.response.conversation_id
                        if event.response.status == "completed":
                            answered.append(question)
                        break
    except Exception:
        pass  # the kill ends the socket mid-whatever: that is the point
    finally:
        if killer is not None:
            killer.cancel()
    return conversation_id or "", answered


@pytest.mark.slow
# Twenty starts of a server (each ~6 s, twice that with the other core busy), and up to 6 s of
# talk each: more than the suite's 300 s, which is sized for one test's worth of work.
@pytest.mark.timeout(900)
def test_twenty_kill_9s_at_random_moments_lose_no_committed_turn(
    data_dir: Path, tmp_path: Path, model_server: tuple[str, Path]
) -> None:
    import random

    rng = random.Random(20)
    database = data_dir / "parley.sqlite3"
    conversation_id: str | None = None
    committed: list[str] = []
    for round_number in range(20):
        process, port = serve_until_healthy(
            data_dir, tmp_path / f"serve-{round_number}.log", model_server_url=model_server[0]
        )
        try:
            conversation_id, answered = asyncio.run(
                # Up to 3 s into a turn: on an AVX2-only EPYC a spoken answer takes about 3 s.
                _talk_until_killed(
                    port,
                    process,
                    conversation_id,
                    turns_first=rng.randint(0, 1),
                    kill_after_s=rng.uniform(0.0, 3.0),
                )
            )
            committed += answered
            process.wait(timeout=15)
        finally:
            end_process(process)
        check = sqlite3.connect(database)
        try:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            check.close()
        if conversation_id:
            store = SqliteStore(database)
            stored = store.messages(conversation_id)
            store.close()
            questions = [m.content for m in stored if m.role == "user"]
            # Every answer the client was told of is on disk, after its question.
            for question in committed:
                assert question in questions, (round_number, question)
            assert sum(1 for m in stored if m.role == "assistant" and m.content) >= len(committed)
    assert len(committed) >= 5, "too few turns finished between kills to show anything"
    print(f"kill -9 rounds: 20, turns committed before a kill: {len(committed)}")


async def _story_stopped_by_sigterm(port: int, process: subprocess.Popen[bytes]) -> tuple[str, Any]:
    """A story asked for, SIGTERM sent once its audio starts; the conversation, and how the
    socket was closed."""
    import websockets

    async with (
        AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KILL_TEST_KEY) as client,
        client.realtime.connect(model="parley") as connection,
    ):
        await ask_in_text(connection, "Tell me a long story about a whale.")
        conversation_id = ""
        stopping: asyncio.TimerHandle | None = None
        try:
            async for event in connection:
                if event.type == "response.created":
                    conversation_id = event.response.conversation_id or ""
                if event.type == "response.output_audio.delta" and stopping is None:
                    # The user hears two seconds of the story, then the server is stopped.
                    stopping = asyncio.get_running_loop().call_later(
                        2.0, process.send_signal, signal.SIGTERM
                    )
        except websockets.ConnectionClosed as closed:
            return conversation_id, closed.rcvd
    return conversation_id, None


@pytest.mark.slow
def test_sigterm_mid_reply_stores_what_was_said_and_closes_the_socket_with_a_reason(
    data_dir: Path, tmp_path: Path, model_server: tuple[str, Path]
) -> None:
    process, port = serve_until_healthy(
        data_dir, tmp_path / "serve.log", model_server_url=model_server[0]
    )
    try:
        conversation_id, close = asyncio.run(_story_stopped_by_sigterm(port, process))
        process.wait(timeout=60)
    finally:
        end_process(process)
    # uvicorn shuts down gracefully, then re-raises SIGTERM: the status systemd counts as clean.
    log = (tmp_path / "serve.log").read_text()
    assert process.returncode in {0, -signal.SIGTERM}, log[-3000:]
    assert close is not None and close.code in {1001, 1012}, close
    database = data_dir / "parley.sqlite3"
    # Closed cleanly: SQLite folded its write-ahead log into the database and removed it.
    assert not database.with_name("parley.sqlite3-wal").exists()
    assert sqlite3.connect(database).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    messages = SqliteStore(database).messages(conversation_id)
    assert [m.role for m in messages] == ["user", "assistant"]
    heard = messages[1].content
    assert messages[1].is_interrupted and 2 <= len(heard.split()) <= 20, heard


async def _one_text_turn(port: int) -> str:
    async with (
        AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KILL_TEST_KEY) as client,
        client.realtime.connect(model="parley") as connection,
    ):
        await ask_in_text(connection, "What is the capital of France?")
        async for event in connection:
            if event.type == "response.done":
                return event.response.conversation_id or ""
    return ""


@pytest.mark.slow
def test_json_logs_name_the_session_on_every_line_and_never_a_credential(
    data_dir: Path, tmp_path: Path
) -> None:
    log_path = tmp_path / "serve.log"
    process, port = serve_until_healthy(data_dir, log_path, env={"PARLEY_LOG_FORMAT": "json"})
    try:
        conversation_id = asyncio.run(_one_text_turn(port))
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        end_process(process)
    text = log_path.read_text()
    assert KILL_TEST_KEY not in text
    # The lines `parley serve` prints for a person (the address, the login code) are not log
    # lines; every log line is one JSON object.
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert entries and all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    of_the_session = [e for e in entries if e.get("session") == conversation_id]
    assert conversation_id and of_the_session, entries[-5:]
