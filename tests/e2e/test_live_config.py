"""Editing the config file of a running `parley serve` reaches its next turn; a broken edit is
refused with the dotted path and the running configuration stays; SIGHUP reloads too, and a key
that needs a restart is named."""

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI

from tests.conftest import ask_in_text
from tests.e2e.test_cli_serve import serving

API_KEY = "pk-live-config-" + "y" * 20


@pytest.fixture
def served_with_config(
    data_dir: Path, tmp_path: Path
) -> Iterator[tuple[str, Path, Path, subprocess.Popen[str]]]:
    config = tmp_path / "parley.yaml"
    config.write_text("llm:\n  max_reply_tokens: 120\n", encoding="utf-8")
    log_path = tmp_path / "serve.log"
    env = {
        **os.environ,
        "PARLEY_ENV": "testing",
        "PARLEY_DATA_DIR": str(data_dir),
        "PARLEY_API_KEY": API_KEY,
    }
    with serving(["--config", str(config)], env, log_path) as (url, process):
        yield url, config, log_path, process


def config_state(url: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/v1/monitor", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        state: dict[str, Any] = json.loads(response.read())["config"]
        return state


def wait_for(url: str, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while not predicate(state := config_state(url)):
        if time.monotonic() > deadline:
            pytest.fail(f"the config was not reloaded: {state}")
        time.sleep(0.2)
    return state


async def reply_tokens(url: str) -> tuple[int, str]:
    async with (
        AsyncOpenAI(base_url=f"{url}/v1", api_key=API_KEY, max_retries=0) as client,
        client.realtime.connect(model="parley") as connection,
    ):
        await ask_in_text(connection, "Tell me about the Moon in two sentences.")
        async for event in connection:
            if event.type == "response.done":
                usage = event.response.usage
                text = event.response.output[0].content[0].transcript or ""
                return usage.output_tokens, text
    raise AssertionError("no response.done")


@pytest.mark.slow
async def test_an_edit_reaches_the_next_turn_and_a_broken_one_is_refused(
    served_with_config: tuple[str, Path, Path, subprocess.Popen[str]],
) -> None:
    url, config, log_path, process = served_with_config
    tokens, before = await reply_tokens(url)
    assert tokens > 6, before

    config.write_text("llm:\n  max_reply_tokens: 3\n", encoding="utf-8")
    wait_for(url, lambda state: state["reloads"] == 1)
    tokens, after = await reply_tokens(url)
    assert tokens <= 3 and len(after.split()) <= 3, after

    config.write_text("llm:\n  max_reply_tokens: 3\nvad:\n  threshold: 7\n", encoding="utf-8")
    state = wait_for(url, lambda state: state["last_error"] is not None)
    assert "vad.threshold" in state["last_error"]
    assert (
        "vad.threshold" in log_path.read_text()
        and "running configuration stays" in log_path.read_text()
    )
    tokens, still = await reply_tokens(url)
    assert tokens <= 3, still  # the running configuration stayed

    config.write_text("llm:\n  max_reply_tokens: 120\nstt:\n  model: base\n", encoding="utf-8")
    state = wait_for(url, lambda state: state["reloads"] == 2 and state["last_error"] is None)
    assert state["needs_restart"] == ["stt.model"]
    # SIGHUP reloads the unchanged file, and names again what waits for a restart.
    process.send_signal(signal.SIGHUP)
    wait_for(url, lambda state: state["reloads"] == 3)
    assert "config changed (SIGHUP): stt.model need a restart" in log_path.read_text()
    tokens, restored = await reply_tokens(url)
    assert tokens > 6, restored
    assert process.poll() is None  # SIGHUP reloaded; it did not stop the server
