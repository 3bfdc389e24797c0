"""The browser client in Debian's headless Chromium, driven by Playwright, with a spoken WAV as
the fake microphone (see BROWSER.md), against a real Parley server with the real models."""

from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, RunningServer, running_server

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "artifacts" / "screenshots"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)"
)


def microphone_wav(speech: Callable[..., Path], parts: list[str | float], name: str) -> Path:
    """Spoken parts and silences (seconds), as one 48 kHz WAV for Chromium's fake microphone."""
    pieces: list[str] = []
    scratch = speech("What is the capital of France?").parent
    for index, part in enumerate(parts):
        if isinstance(part, str):
            pieces.append(str(speech(part)))
        else:
            silence = scratch / f"silence-{index}-{part}.wav"
            subprocess.run(
                [
                    "sox",
                    "-n",
                    "-r",
                    "16000",
                    "-c",
                    "1",
                    "-b",
                    "16",
                    str(silence),
                    "trim",
                    "0",
                    str(part),
                ],
                check=True,
            )
            pieces.append(str(silence))
    target = scratch / f"mic-{name}.wav"
    subprocess.run(["sox", *pieces, "-r", "48000", "-c", "1", "-b", "16", str(target)], check=True)
    return target


@pytest.fixture
def browser_for() -> Iterator[Callable[[Path | None], Any]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browsers: list[Any] = []

        def launch(microphone: Path | None) -> Any:
            args = [
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                # WebRTC calls to a server on loopback: Chromium hides its own addresses behind
                # mDNS names and skips loopback candidates unless told.
                "--allow-loopback-in-peer-connection",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
            ]
            if microphone is not None:
                args.append(f"--use-file-for-fake-audio-capture={microphone}%noloop")
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
            browsers.append(browser)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            lines: list[str] = []
            page.on("console", lambda message: lines.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: lines.append(f"pageerror: {error}"))
            CONSOLES[id(page)] = lines
            return page

        yield launch
        for browser in browsers:
            browser.close()


# Each page's console, kept so that a wait that times out can say what the page saw.
CONSOLES: dict[int, list[str]] = {}

# What the page holds when a wait times out: enough to tell whether the microphone never sent,
# the server never heard, or the page never showed.
PAGE_STATE = """JSON.stringify({listening: window.parley.listening, mic: !!window.parley.mic,
  ctx: window.parley.ctx && window.parley.ctx.state, micPeak: window.parley.micPeakSeen,
  framesSent: window.parley.framesSent, link: window.parley.link && window.parley.link.kind,
  linkOpen: window.parley.link && window.parley.link.isOpen(), playing: window.parley.playing,
  bubbles: [...document.querySelectorAll('.transcript > *')].map(e => e.className + ': ' + e.textContent),
  spoken: [...document.querySelectorAll('.transcript .spoken')].map(e => e.textContent),
  events: window.parley.recentEvents,
  notice: document.getElementById('notice').textContent, errors: window.parley.errors})"""


def wait_in_page(page: Any, expression: str, timeout_ms: int) -> None:
    """``page.wait_for_function``, saying on a timeout what the page and its console held."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(expression, timeout=timeout_ms)
    except PlaywrightTimeout:
        held = page.evaluate(PAGE_STATE)
        console = "\n".join(CONSOLES.get(id(page), [])[-40:])
        pytest.fail(f"the page never showed {expression!r}\npage: {held}\nconsole:\n{console}")


def open_parley(page: Any, server: RunningServer) -> None:
    page.goto(f"http://127.0.0.1:{server.port}/?login={server.login_code()}")
    wait_in_page(page, "document.getElementById('status').textContent === 'Connected'", 20_000)


# How many lit pixels the waveform has above its line (the microphone) and below (Parley's voice).
LIT_WAVEFORM = """(() => { const c = document.getElementById('wave'); const g = c.getContext('2d');
  const lit = (y0, y1) => { const d = g.getImageData(0, y0, c.width, y1 - y0).data;
    let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i + 1] > 120; return n; };
  return { mic: lit(0, c.height / 2 - 1), voice: lit(c.height / 2 + 2, c.height) }; })()"""


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


def stored_messages(server: RunningServer, conversation_id: str) -> list[dict[str, Any]]:
    """A conversation's messages as the server stored them."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/conversations/{conversation_id}",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    return json.loads(urllib.request.urlopen(request, timeout=10).read())["messages"]  # type: ignore[no-any-return]


@contextlib.contextmanager
def transport_chosen(server: RunningServer, transport: str) -> Iterator[None]:
    """The page's Connection setting, as a person would save it, put back after."""
    url = f"{server.base_url.removesuffix('/v1')}/api/preferences"
    headers = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}

    def put(value: str) -> None:
        current = json.loads(
            urllib.request.urlopen(urllib.request.Request(url, headers=headers)).read()
        )
        body = json.dumps({**current, "transport": value}).encode()
        urllib.request.urlopen(
            urllib.request.Request(url, data=body, headers=headers, method="PUT")
        )

    put(transport)
    try:
        yield
    finally:
        put("webrtc")


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["webrtc", "websocket"])
def test_a_spoken_question_gets_a_spoken_transcribed_reply_in_the_page(
    server: RunningServer,
    piper_speech: Callable[..., Path],
    browser_for: Callable[[Path | None], Any],
    transport: str,
) -> None:
    page = browser_for(
        microphone_wav(piper_speech, [0.5, "What is the capital of France?", 6.0], "question")
    )
    with transport_chosen(server, transport):
        open_parley(page, server)
        # The first connection is a call; the saved setting, read next, may choose the socket.
        wait_in_page(
            page,
            f"window.parley.link && window.parley.link.kind === '{transport}'"
            " && window.parley.link.isOpen()",
            20_000,
        )
    assert "login=" not in page.url, "the login code must leave the address bar"
    exposed = page.evaluate("JSON.stringify(window.parley) + JSON.stringify(sessionStorage)")
    assert server.api_key not in exposed, "the page must never hold the API key"
    # Nothing failed on the way in (the browser's own /favicon.ico request once got a 401).
    assert not [line for line in CONSOLES[id(page)] if line.startswith(("error", "pageerror"))]
    screenshot(page, "1-connected")
    page.click("#talk")
    # The question's words, up to its last one: the live decode (Whisper tiny.en through the
    # clip-length window) hears "France" as "friends" at some alignments of the audio to its
    # 10 ms frames, which a browser's capture start decides. The reply still says Paris.
    wait_in_page(
        page,
        "[...document.querySelectorAll('.transcript .user')].some(e => /what is the capital of/i.test(e.textContent))",
        30_000,
    )
    # The waveform drew the question above its line (it scrolls: seen while still recent).
    assert page.evaluate(LIT_WAVEFORM)["mic"] > 0
    wait_in_page(
        page,
        "[...document.querySelectorAll('.transcript .assistant')].some(e => /paris/i.test(e.textContent))",
        30_000,
    )
    wait_in_page(page, "window.parley.turns.length >= 1 && window.parley.played > 0", 30_000)
    displayed = page.text_content("#fig-v2v")
    assert displayed and displayed.endswith("ms")
    turn = page.evaluate("window.parley.turns[0]")
    assert turn["v2v"] > 0 and turn["ttft"] > 0
    assert page.evaluate("window.parley.playedTotal") > 24_000 // 2, (
        "less than half a second of reply audio reached the player"
    )
    # The reply's words light up as they are played: all of them once it has played out.
    wait_in_page(
        page,
        "(() => { const b = [...document.querySelectorAll('.transcript .assistant')].pop();"
        " return b && /paris/i.test(b.querySelector('.spoken')?.textContent || '')"
        " && b.querySelector('.unspoken').textContent.trim() === '' && !window.parley.playing; })()",
        30_000,
    )
    # The waveform drew Parley's voice below its line.
    assert page.evaluate(LIT_WAVEFORM)["voice"] > 0
    # The Health panel shows the server's own figures for the turn just taken.
    wait_in_page(page, "window.parley.health && window.parley.health.turns >= 1", 20_000)
    assert page.text_content("#health-v2v").endswith("ms")
    assert "tok/s" in page.text_content("#health-tps")
    raised = page.evaluate("window.parley.health.alerts.map(a => a.name + ': ' + a.message)")
    shown = page.evaluate(
        "[...document.querySelectorAll('#health-alerts li')].map(e => e.textContent)"
    )
    assert shown == (raised or ["No alerts"])
    screenshot(page, "2-answered")
    page.locator(".health").screenshot(path=str(ARTIFACTS / "health-panel.png"))
    print(f"voice-to-voice displayed by the page: {displayed}")


@pytest.mark.slow
def test_talking_over_a_reply_stops_it_and_the_next_question_is_answered(
    server: RunningServer,
    piper_speech: Callable[..., Path],
    browser_for: Callable[[Path | None], Any],
) -> None:
    microphone = microphone_wav(
        piper_speech,
        [
            0.5,
            "Tell me a long story about a dragon who bakes bread.",
            # Spoken over the reply's first seconds: the model sometimes declines in one short
            # sentence ("I'm sorry, but I can't assist with that request.", 2 of 6 tries), over
            # before a question 4 s later (a run of the page tests found nothing to interrupt).
            2.0,
            "What is the capital of France?",
            6.0,
        ],
        "barge-in",
    )
    page = browser_for(microphone)
    open_parley(page, server)
    page.click("#talk")
    wait_in_page(page, "document.querySelector('.transcript .assistant.interrupted')", 40_000)
    screenshot(page, "3-interrupted")
    # The second question was heard and answered after the interruption.
    wait_in_page(page, "document.querySelectorAll('.transcript .user').length === 2", 40_000)
    wait_in_page(page, "window.parley.turns.length === 2", 40_000)
    assert page.locator(".transcript .assistant").nth(1).text_content()
    screenshot(page, "4-after-interruption")
    # The server kept only what the page said it played of the first reply.
    messages = stored_messages(server, page.evaluate("window.parley.conversationId"))
    first_reply = messages[1]
    assert first_reply["role"] == "assistant" and first_reply["is_interrupted"]
    shown = page.locator(".transcript .assistant").first.text_content() or ""
    # What was stored is the opening of what the page showed (on a loaded machine the story may
    # have had no words out yet when the question came: then both are empty).
    stored = first_reply["content"].split()
    assert stored == shown.split()[: len(stored)], (first_reply["content"], shown)


def test_a_reply_the_server_cut_after_it_was_all_written_is_shown_cut(
    server: RunningServer, browser_for: Callable[[Path | None], Any]
) -> None:
    # On a call the server holds a reply's audio at most half a second ahead of its track, so
    # its response is done while that last half second plays. Cut then (the user spoke, or
    # pressed Stop), only conversation.item.truncated says so. The server's events for that,
    # given to the page in order (a real server cuts in that window only by chance).
    page = browser_for(None)
    open_parley(page, server)
    wait_in_page(page, "window.parley.link && window.parley.link.kind === 'webrtc'", 20_000)
    response = {"id": "resp_cut", "status": "completed", "output": [], "metadata": None}
    events = [
        {"type": "response.created", "response": {**response, "status": "in_progress"}},
        {"type": "response.output_item.added", "item": {"id": "item_cut"}},
        {"type": "response.output_audio_transcript.delta", "delta": "Paris is the capital."},
        {"type": "output_audio_buffer.started", "response_id": "resp_cut"},
        {"type": "response.output_audio_transcript.done", "transcript": "Paris is the capital."},
        {"type": "response.done", "response": response},
        {"type": "output_audio_buffer.cleared", "response_id": "resp_cut"},
        {
            "type": "conversation.item.truncated",
            "item_id": "item_cut",
            "content_index": 0,
            "audio_end_ms": 400,
        },
    ]
    page.evaluate(
        """async (events) => {
          const view = await import("/static/conversation.js");
          for (const event of events) view.handleEvent(event);
        }""",
        events,
    )
    cut = page.locator(".transcript .assistant.interrupted")
    assert cut.count() == 1 and "Paris" in (cut.text_content() or "")


def test_a_bad_or_reused_login_code_shows_a_clear_error(
    server: RunningServer, browser_for: Callable[[Path | None], Any]
) -> None:
    page = browser_for(None)
    page.goto(f"http://127.0.0.1:{server.port}/?login=not-a-code")
    page.wait_for_selector("#notice:not([hidden])", timeout=10_000)
    assert "refused" in (page.text_content("#notice") or "")
    screenshot(page, "5-bad-token")
    code = server.login_code()
    first = browser_for(None)
    first.goto(f"http://127.0.0.1:{server.port}/?login={code}")
    first.wait_for_function(
        "document.getElementById('status').textContent === 'Connected'", timeout=20_000
    )
    second = browser_for(None)  # the same address, opened again elsewhere
    second.goto(f"http://127.0.0.1:{server.port}/?login={code}")
    second.wait_for_selector("#notice:not([hidden])", timeout=10_000)
    assert "used already" in (second.text_content("#notice") or "")


def test_without_a_token_the_page_says_where_to_get_one(
    server: RunningServer, browser_for: Callable[[Path | None], Any]
) -> None:
    page = browser_for(None)
    page.goto(f"http://127.0.0.1:{server.port}/")
    page.wait_for_selector("#notice:not([hidden])", timeout=10_000)
    assert "make run" in (page.text_content("#notice") or "")


@pytest.mark.slow
def test_the_page_reconnects_after_the_server_restarts(
    backends: Any, tmp_path: Path, browser_for: Callable[[Path | None], Any]
) -> None:
    page = browser_for(None)
    with running_server(backends, tmp_path / "data") as first:
        open_parley(page, first)
        port = first.port
    wait_in_page(
        page,
        "/reconnecting|unreachable/i.test(document.getElementById('status').textContent)",
        15_000,
    )
    screenshot(page, "6-reconnecting")
    with running_server(backends, tmp_path / "data", port=port):
        wait_in_page(page, "document.getElementById('status').textContent === 'Connected'", 30_000)


@pytest.mark.slow
def test_history_lists_past_conversations_and_deletes_them(
    server: RunningServer, browser_for: Callable[[Path | None], Any]
) -> None:
    # A past conversation in the server's database, then found, read and deleted in the page.
    from parley.memory.sqlite_store import SqliteStore

    store = SqliteStore(server.data_dir / "parley.sqlite3")
    conversation = store.create_conversation()
    store.add_message(conversation, "user", "Remind me what a haiku is.")
    store.add_message(conversation, "assistant", "A short poem in three lines.")
    store.close()
    page = browser_for(None)
    open_parley(page, server)
    page.click("text=History")
    page.wait_for_selector(".conversations li", timeout=10_000)
    page.locator(".conversations li button.open", has_text="haiku").click()
    page.wait_for_selector(".conversation-view p", timeout=10_000)
    assert "three lines" in (page.text_content(".conversation-view") or "")
    screenshot(page, "7-history")
    before = page.locator(".conversations li").count()
    page.locator(".conversations li button.delete").first.click()
    page.wait_for_function(
        f"document.querySelectorAll('.conversations li').length === {before - 1}", timeout=10_000
    )


@pytest.mark.slow
def test_a_voice_chosen_in_settings_is_the_voice_the_session_speaks_with(
    server: RunningServer, browser_for: Callable[[Path | None], Any]
) -> None:
    page = browser_for(None)
    open_parley(page, server)
    wait_in_page(page, "window.parley.voice === 'en_US-joe-medium'", 10_000)
    page.click("text=Settings")
    # The list is filled from /api/voices once the page has its preferences.
    wait_in_page(page, "document.querySelector('select[name=voice]').options.length > 1", 10_000)
    voices = page.evaluate(
        "[...document.querySelector('select[name=voice]').options].map(o => o.value)"
    )
    assert {"", "en_US-joe-medium", "flite-slt", "flite-rms", "flite-awb", "espeak-fr-fr"} <= set(
        voices
    )
    try:
        page.select_option("select[name=voice]", "flite-slt")
        page.click("#settings-form button[type=submit]")
        wait_in_page(page, "window.parley.voice === 'flite-slt'", 10_000)
        stored = json.loads(
            urllib.request.urlopen(
                urllib.request.Request(
                    f"{server.base_url.removesuffix('/v1')}/api/preferences",
                    headers={"Authorization": f"Bearer {server.api_key}"},
                ),
                timeout=10,
            ).read()
        )
        assert stored["voice"] == "flite-slt"
        # A new page (a new session) starts with the stored choice.
        page.reload()
        wait_in_page(page, "window.parley.voice === 'flite-slt'", 10_000)
    finally:
        urllib.request.urlopen(
            urllib.request.Request(
                f"{server.base_url.removesuffix('/v1')}/api/preferences",
                data=json.dumps({"voice": ""}).encode(),
                method="PUT",
                headers={
                    "Authorization": f"Bearer {server.api_key}",
                    "Content-Type": "application/json",
                },
            ),
            timeout=10,
        )


@pytest.mark.slow
def test_a_timer_set_by_voice_goes_off_in_the_page_unprompted(
    server: RunningServer,
    piper_speech: Callable[..., Path],
    browser_for: Callable[[Path | None], Any],
) -> None:
    page = browser_for(
        microphone_wav(piper_speech, [0.5, "Set a timer for three seconds.", 12.0], "timer")
    )
    open_parley(page, server)
    page.click("#talk")
    wait_in_page(
        page,
        "[...document.querySelectorAll('.transcript .assistant')].some(e => /timer is set/i.test(e.textContent))",
        30_000,
    )
    # Nobody asked: Parley's own response, marked as a timer's, and the page says so.
    wait_in_page(
        page,
        "[...document.querySelectorAll('.transcript .assistant.timer')].some(e => /is done/i.test(e.textContent))",
        30_000,
    )
    wait_in_page(
        page,
        "/timer you set for 3 seconds is done/i.test(document.getElementById('notice').textContent)",
        30_000,
    )
    screenshot(page, "timer-went-off")
