"""OpenAI's own browser SDK (``@openai/agents-realtime``, its prebuilt bundle from npm, loaded by a
plain page) talking to Parley over WebRTC in Debian's headless Chromium, a spoken WAV as the
microphone: the question is heard, the agent's client tool is called, the answer is spoken on
the call's track and heard back by Whisper; ``session.interrupt()`` cuts a reply where it was."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import RunningServer
from tests.e2e.test_web_client import CHROMIUM, browser_for, microphone_wav
from tests.integration.test_server_realtime import stored_messages

SDK_DIR = Path(__file__).parent / "agents_sdk"
BUNDLE = SDK_DIR / "node_modules/@openai/agents-realtime/dist/bundle/openai-realtime-agents.umd.js"

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="make test installs Debian's chromium"),
    pytest.mark.skipif(
        not BUNDLE.exists(), reason="make test installs the SDK (npm ci in tests/e2e/agents_sdk)"
    ),
]
__all__ = ["browser_for"]  # the page fixture, shared with the page's own tests

SDK_STATE = """JSON.stringify({state: t.state, toolCalls: t.toolCalls, errors: t.errors,
  events: t.events.map(e => e.type).slice(-40)})"""


@pytest.fixture
def sdk_page(
    server: RunningServer, browser_for: Callable[[Path | None], Any]
) -> Iterator[Callable[[Path], Any]]:
    """A page on the server's origin (Playwright answers for the page and the bundle, so the
    SDK's fetch of /v1/realtime/calls is same-origin), its call connected."""

    def open_page(microphone: Path) -> Any:
        page = browser_for(microphone)
        origin = f"http://127.0.0.1:{server.port}"
        page.route(
            f"{origin}/agents-sdk/page.html",
            lambda route: route.fulfill(path=str(SDK_DIR / "page.html")),
        )
        page.route(
            f"{origin}/agents-sdk/openai-realtime-agents.umd.js",
            lambda route: route.fulfill(path=str(BUNDLE), content_type="text/javascript"),
        )
        page.goto(f"{origin}/agents-sdk/page.html")
        page.evaluate("(secret) => startCall(secret)", client_secret(server))
        return page

    yield open_page


def client_secret(server: RunningServer) -> str:
    """An ephemeral key, as a page gets one: the SDK takes it without `useInsecureApiKey`."""
    request = urllib.request.Request(
        f"{server.base_url}/realtime/client_secrets",
        data=b"{}",
        headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        value: str = json.load(answer)["value"]
    assert value.startswith("ek_")
    return value


def sdk_wait(page: Any, expression: str, timeout_ms: int) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(expression, timeout=timeout_ms)
    except PlaywrightTimeout:
        pytest.fail(f"the SDK never showed {expression!r}: {page.evaluate(SDK_STATE)}")


def events_of(page: Any, kind: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = page.evaluate(
        "(kind) => t.events.filter(e => e.type === kind)", kind
    )
    return events


def heard_since(page: Any, index: int = 0) -> np.ndarray:
    encoded = page.evaluate("(i) => heardSince(i)", index)
    return np.frombuffer(base64.b64decode(encoded), dtype="<i2").astype(np.int16)


@pytest.mark.slow
def test_the_agents_sdk_asks_by_voice_calls_its_tool_and_hears_the_answer(
    server: RunningServer,
    piper_speech: Callable[..., Path],
    sdk_page: Callable[[Path], Any],
    whisper_check: Callable[[np.ndarray, int], str],
) -> None:
    # The microphone plays from the moment the SDK opens it: silence while the call connects.
    page = sdk_page(
        microphone_wav(
            piper_speech, [4.0, "What is the weather like in Paris today?", 12.0], "sdk-weather"
        )
    )
    sdk_wait(page, "t.toolCalls.length > 0", 40_000)
    assert page.evaluate("t.toolCalls")[0].lower().startswith("paris")
    heard = events_of(page, "conversation.item.input_audio_transcription.completed")
    assert "weather" in heard[0]["transcript"].lower()
    # The tool's output goes back, and the answer is spoken from it.
    sdk_wait(
        page,
        "t.events.filter(e => e.type === 'response.done' && e.response.output.length && "
        "e.response.output[0].type === 'message').length > 0",
        40_000,
    )
    sdk_wait(page, "t.events.some(e => e.type === 'output_audio_buffer.stopped')", 30_000)
    page.wait_for_timeout(500)  # the track's last packets
    done = events_of(page, "response.done")[-1]
    answer = done["response"]["output"][0]["content"][0]["transcript"].lower()
    assert "18" in answer or "eighteen" in answer or "sunny" in answer, answer
    spoken = whisper_check(heard_since(page), 48_000).lower()
    assert "18" in spoken or "eighteen" in spoken or "sunny" in spoken, spoken
    assert not page.evaluate("t.errors"), page.evaluate("t.errors")
    rows = stored_messages(server, done["response"]["conversation_id"], at_least=3)
    assert rows[0][0] == "user" and "weather" in rows[0][1].lower()


@pytest.mark.slow
def test_interrupting_through_the_agents_sdk_stops_the_reply_where_it_was_heard(
    server: RunningServer,
    speech: Callable[..., Path],
    sdk_page: Callable[[Path], Any],
) -> None:
    page = sdk_page(microphone_wav(speech, [30.0], "sdk-quiet"))
    page.evaluate(
        "session.sendMessage('Tell me a long story about a lighthouse keeper and the sea.')"
    )
    sdk_wait(page, "t.events.some(e => e.type === 'output_audio_buffer.started')", 40_000)
    page.wait_for_timeout(2_000)
    page.evaluate("session.interrupt()")
    interrupted_at = page.evaluate("t.heard.length")
    sdk_wait(page, "t.events.some(e => e.type === 'output_audio_buffer.cleared')", 10_000)
    sdk_wait(page, "t.events.some(e => e.type === 'response.done')", 20_000)
    page.wait_for_timeout(1_000)
    done = events_of(page, "response.done")[-1]
    assert done["response"]["status"] == "cancelled"
    # The call's audio stops: past what was in flight, the track plays silence.
    after = heard_since(page, interrupted_at)
    loud = np.flatnonzero(np.abs(after) > 500)
    assert loud.size == 0 or loud[-1] < 48_000 * 0.4, f"sound {loud[-1] / 48_000:.2f} s on"
    rows = stored_messages(server, done["response"]["conversation_id"])
    reply, was_interrupted = rows[-1][1], rows[-1][2]
    assert rows[-1][0] == "assistant" and was_interrupted == 1
    # About two seconds were played: a few words of the story, not all of it.
    assert 2 <= len(reply.split()) <= 20, reply
    assert json.dumps(done["response"]["output"][0]["content"][0]["transcript"]) == json.dumps(
        reply
    )
