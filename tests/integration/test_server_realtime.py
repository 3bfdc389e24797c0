"""The realtime WebSocket with the real `openai` SDK client: spoken turns, barge-in, truncation,
manual commits, text items, and every kind of bad input."""

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import websockets
from openai import AsyncOpenAI

from parley.audio.pcm import decode_file, resample
from parley.memory.database import sqlite3
from tests.conftest import RunningServer, ask_in_text, sounds_like

FRAME_MS = 20


@contextlib.asynccontextmanager
async def realtime(server: RunningServer) -> AsyncIterator[Any]:
    """A realtime connection through the official SDK; client and socket closed after."""
    async with (
        AsyncOpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0) as client,
        client.realtime.connect(model="parley") as connection,
    ):
        yield connection


def pcm24(path: Path) -> np.ndarray:
    return resample(decode_file(path), 16_000, 24_000)


async def stream_audio(connection: Any, samples: np.ndarray, *, rate_hz: int = 24_000) -> None:
    """Send audio as a microphone would: 20 ms appends, in real time."""
    step = rate_hz * FRAME_MS // 1000
    start = time.perf_counter()
    for index, offset in enumerate(range(0, samples.size, step)):
        chunk = samples[offset : offset + step].astype("<i2").tobytes()
        await connection.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        delay = start + (index + 1) * FRAME_MS / 1000 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


def silence(seconds: float, rate_hz: int = 24_000) -> np.ndarray:
    return np.zeros(int(seconds * rate_hz), dtype=np.int16)


def stored_messages(
    server: RunningServer, conversation_id: str, *, at_least: int = 2
) -> list[tuple[str, str, int]]:
    """The conversation's rows; response.done may reach the client just before the row lands."""
    deadline = time.monotonic() + 5
    while True:
        connection = sqlite3.connect(server.data_dir / "parley.sqlite3")
        rows = connection.execute(
            "SELECT role, content, is_interrupted FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ).fetchall()
        connection.close()
        if len(rows) >= at_least or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


async def ask_by_voice(connection: Any, question: Path) -> list[Any]:
    """A spoken question streamed in real time, then 3 s of silence; its events up to
    response.done."""
    feeding = asyncio.create_task(
        stream_audio(connection, np.concatenate([pcm24(question), silence(3)]))
    )
    try:
        return await collect_until(connection, lambda e: e.type == "response.done")
    finally:
        feeding.cancel()


async def collect_until(
    connection: Any, predicate: Callable[[Any], bool], *, timeout_s: float = 60
) -> list[Any]:
    events: list[Any] = []

    async def read() -> None:
        async for event in connection:
            events.append(event)
            if predicate(event):
                return

    await asyncio.wait_for(read(), timeout=timeout_s)
    return events


@pytest.mark.slow
async def test_a_spoken_question_over_the_socket_gets_a_spoken_answer(
    piper_speech: Callable[..., Path],
    server: RunningServer,
    speech: Callable[..., Path],
    whisper_check: Callable[[np.ndarray, int], str],
) -> None:
    async with realtime(server) as connection:
        events = await ask_by_voice(connection, piper_speech("What is the capital of France?"))
    kinds = [e.type for e in events]
    assert kinds[0] == "session.created"
    order = [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.done",
    ]
    positions = [kinds.index(kind) for kind in order]
    assert positions == sorted(positions), kinds
    transcript = next(
        e for e in events if e.type == "conversation.item.input_audio_transcription.completed"
    )
    assert "capital of france" in transcript.transcript.lower()
    done = events[-1]
    assert done.response.status == "completed"
    spoken = next(e for e in events if e.type == "response.output_audio_transcript.done").transcript
    assert "paris" in spoken.lower()
    audio = np.frombuffer(
        b"".join(
            base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
        ),
        dtype="<i2",
    )
    heard_back = whisper_check(audio, 24_000)
    assert sounds_like("paris", heard_back), heard_back
    metadata = done.response.metadata
    assert float(metadata["voice_to_voice_ms"]) > 0 and float(metadata["llm_ttft_ms"]) > 0
    usage = done.response.usage
    # The prompt (instructions and question) and the reply, by the model's tokenizer.
    assert usage.input_tokens > 20 and 0 < usage.output_tokens < 100
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    rows = stored_messages(server, done.response.conversation_id)
    assert [r[0] for r in rows] == ["user", "assistant"]
    assert "paris" in rows[1][1].lower()


@pytest.mark.slow
async def test_speaking_over_a_reply_cancels_it_and_the_next_question_is_answered(
    piper_speech: Callable[..., Path], server: RunningServer, speech: Callable[..., Path]
) -> None:
    story = pcm24(speech("Tell me a long story about a dragon who bakes bread."))
    question = pcm24(piper_speech("What is the capital of France?"))
    async with realtime(server) as connection:
        feeding = asyncio.create_task(
            stream_audio(connection, np.concatenate([story, silence(30)]))
        )
        events = await collect_until(connection, lambda e: e.type == "response.output_audio.delta")
        first_response_id = events[-1].response_id
        await asyncio.sleep(0.5)  # the user hears half a second, then talks over it
        feeding.cancel()
        feeding = asyncio.create_task(
            stream_audio(connection, np.concatenate([question, silence(5)]))
        )
        later = await collect_until(
            connection, lambda e: e.type == "response.done" and e.response.id != first_response_id
        )
        feeding.cancel()
    kinds = [e.type for e in later]
    barge_in = kinds.index("input_audio_buffer.speech_started")
    first_done = next(
        e.response
        for e in events + later
        if e.type == "response.done" and e.response.id == first_response_id
    )
    if first_done.status == "cancelled":
        # The reply was still being generated: it was cancelled, and quickly reported.
        cancelled = next(
            i
            for i, e in enumerate(later)
            if e.type == "response.done" and e.response.id == first_response_id
        )
        assert barge_in < cancelled
        assert first_done.status_details.reason == "turn_detected"
        assert float(first_done.metadata["interruption_ms"]) > 0
    else:
        # The reply had been sent whole but was still playing: Parley cut its stored text.
        assert "conversation.item.truncated" in kinds[barge_in:]
    # No audio of the first reply reached the client after the user started speaking.
    assert not [
        e
        for e in later[barge_in:]
        if e.type == "response.output_audio.delta" and e.response_id == first_response_id
    ]
    second_done = later[-1].response
    assert second_done.status == "completed"
    answer = next(
        e.transcript
        for e in later
        if e.type == "response.output_audio_transcript.done" and e.response_id == second_done.id
    )
    assert "paris" in answer.lower(), answer
    rows = stored_messages(server, second_done.conversation_id, at_least=4)
    assert [(r[0], r[2]) for r in rows] == [
        ("user", 0),
        ("assistant", 1),
        ("user", 0),
        ("assistant", 0),
    ]
    full_story = " ".join(
        e.delta
        for e in events + later
        if e.type == "response.output_audio_transcript.delta" and e.response_id == first_response_id
    )
    # The stored reply holds what was heard, the story's opening words (on a loaded machine
    # its second piece may not have been written by then: what was heard is then all it said).
    heard = rows[1][1].split()
    assert heard and heard == full_story.split()[: len(heard)], (rows[1][1], full_story)


@pytest.mark.slow
async def test_manual_commit_at_16_khz_then_text_items_and_truncation(
    piper_speech: Callable[..., Path], server: RunningServer, speech: Callable[..., Path]
) -> None:
    question16 = decode_file(piper_speech("What is the capital of France?"))
    async with realtime(server) as connection:
        await connection.session.update(
            session={
                "type": "realtime",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 16000},
                        "turn_detection": None,
                    }
                },  # type: ignore[typeddict-item]
            }
        )
        updated = await collect_until(connection, lambda e: e.type == "session.updated")
        assert updated[-1].session.audio.input.turn_detection is None
        step = 320
        for offset in range(0, question16.size, step):
            chunk = question16[offset : offset + step].astype("<i2").tobytes()
            await connection.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        await connection.input_audio_buffer.commit()
        committed = await collect_until(
            connection, lambda e: e.type == "conversation.item.input_audio_transcription.completed"
        )
        assert "capital of france" in committed[-1].transcript.lower()
        assert not [e for e in committed if e.type == "response.created"], (
            "no reply without response.create"
        )
        await connection.response.create()
        answered = await collect_until(connection, lambda e: e.type == "response.done")
        assert (
            "paris"
            in next(
                e.transcript for e in answered if e.type == "response.output_audio_transcript.done"
            ).lower()
        )
        item_id = next(e.item.id for e in answered if e.type == "response.output_item.added")
        # The client played only the first 300 ms of that answer.
        await connection.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=300
        )
        truncated = await collect_until(
            connection, lambda e: e.type in {"conversation.item.truncated", "error"}
        )
        assert truncated[-1].type == "conversation.item.truncated"
        conversation_id = answered[-1].response.conversation_id
        rows = stored_messages(server, conversation_id)
        assert rows[-1][2] == 1 and len(rows[-1][1].split()) < 3

        # A typed message and a text-only reply.
        await connection.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await ask_in_text(connection, "What is the capital of Spain?")
        texts = await collect_until(connection, lambda e: e.type == "response.done")
        assert not [e for e in texts if e.type == "response.output_audio.delta"]
        text = next(e.text for e in texts if e.type == "response.output_text.done")
        assert "madrid" in text.lower()


async def test_bad_events_get_error_events_and_the_socket_stays_usable(
    server: RunningServer,
) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with websockets.connect(
        server.ws_url, additional_headers=headers, max_size=None
    ) as socket:
        assert json.loads(await socket.recv())["type"] == "session.created"

        async def error_for(message: str) -> dict[str, Any]:
            await socket.send(message)
            event = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert event["type"] == "error", event
            return event["error"]  # type: ignore[no-any-return]

        assert (await error_for("{not json"))["code"] == "invalid_json"
        assert (await error_for("[1, 2]"))["code"] == "invalid_event"
        unknown = await error_for(json.dumps({"type": "session.explode", "event_id": "ev_7"}))
        assert unknown["code"] == "unknown_event" and unknown["event_id"] == "ev_7"
        bad_audio = await error_for(
            json.dumps({"type": "input_audio_buffer.append", "audio": "%%%not-base64"})
        )
        assert bad_audio["code"] == "invalid_audio"
        odd = await error_for(
            json.dumps(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"abc").decode()}
            )
        )
        assert odd["code"] == "invalid_audio"
        huge = await error_for(
            json.dumps({"type": "input_audio_buffer.append", "audio": "A" * (5 * 1024 * 1024)})
        )
        assert huge["code"] == "message_too_large"
        rate = await error_for(
            json.dumps(
                {
                    "type": "session.update",
                    "session": {
                        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 44100}}}
                    },
                }
            )
        )
        assert rate["code"] == "unsupported_audio_format"
        # One voice: asking for another is refused whole (its instructions are not applied).
        voice = await error_for(
            json.dumps(
                {
                    "type": "session.update",
                    "session": {
                        "instructions": "Be a pirate.",
                        "audio": {"output": {"voice": "alloy"}},
                    },
                }
            )
        )
        assert voice["code"] == "unsupported_voice" and "en_US-joe-medium" in voice["message"]
        assert (await error_for(json.dumps({"type": "response.cancel"})))[
            "code"
        ] == "response_cancel_not_active"
        assert (await error_for(json.dumps({"type": "response.create"})))[
            "code"
        ] == "response_failed"
        # Still alive and answering after all that.
        await socket.send(
            json.dumps({"type": "session.update", "session": {"instructions": "Be brief."}})
        )
        updated = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert updated["type"] == "session.updated"
        assert updated["session"]["instructions"] == "Be brief."
        assert updated["session"]["audio"]["output"]["voice"] == "en_US-joe-medium"


async def test_credentials_on_the_socket(server: RunningServer) -> None:
    for headers, url in (
        ({}, server.ws_url),
        ({"Authorization": "Bearer wrong"}, server.ws_url),
        (
            {"Authorization": f"Bearer {server.api_key}", "Origin": "http://evil.example"},
            server.ws_url,
        ),
    ):
        with pytest.raises(websockets.exceptions.WebSocketException):
            async with websockets.connect(url, additional_headers=headers) as socket:
                await asyncio.wait_for(socket.recv(), 5)
    # A browser's way in: mint a client secret with the key, then use it as a subprotocol or query.
    async with AsyncOpenAI(base_url=server.base_url, api_key=server.api_key) as client:
        secret = await client.realtime.client_secrets.create()
    assert secret.value and secret.expires_at > time.time()
    async with websockets.connect(
        server.ws_url,
        subprotocols=["realtime", f"openai-insecure-api-key.{secret.value}"],  # type: ignore[list-item]
        additional_headers={"Origin": f"http://127.0.0.1:{server.port}"},
    ) as socket:
        assert socket.subprotocol == "realtime"
        assert json.loads(await socket.recv())["type"] == "session.created"
    async with websockets.connect(f"{server.ws_url}?token={secret.value}") as socket:
        assert json.loads(await socket.recv())["type"] == "session.created"


@pytest.mark.slow
async def test_a_client_that_disconnects_mid_reply_does_not_hurt_the_next(
    server: RunningServer, speech: Callable[..., Path]
) -> None:
    async with realtime(server) as connection:
        await ask_in_text(connection, "Tell me a long story about a knight.")
        await collect_until(connection, lambda e: e.type == "response.output_audio.delta")
    # Gone mid-reply. A new client is served normally.
    async with realtime(server) as connection:
        await ask_in_text(connection, "What is the capital of France?")
        events = await collect_until(connection, lambda e: e.type == "response.done")
        assert events[-1].response.status == "completed"
        assert (
            "paris"
            in next(
                e.transcript for e in events if e.type == "response.output_audio_transcript.done"
            ).lower()
        )


@pytest.mark.slow
async def test_a_client_function_tool_is_called_and_its_output_answers(
    server: RunningServer,
) -> None:
    weather = {
        "type": "function",
        "name": "get_weather",
        "description": "Get the current weather (temperature and sky) in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name, e.g. Paris"}},
            "required": ["city"],
        },
    }
    async with realtime(server) as connection:
        await connection.session.update(
            session={
                "type": "realtime",
                "output_modalities": ["text"],
                "tools": [weather],
                "tool_choice": "auto",
            }  # type: ignore[typeddict-item,list-item]
        )

        async def ask(text: str) -> list[Any]:
            await ask_in_text(connection, text)
            return await collect_until(connection, lambda e: e.type == "response.done")

        plain = await ask("What is the capital of France?")
        assert not [e for e in plain if e.type.startswith("response.function_call")]
        called = await ask("What is the weather like in Paris today?")
        done = next(e for e in called if e.type == "response.function_call_arguments.done")
        assert done.name == "get_weather"
        assert json.loads(done.arguments)["city"].lower().startswith("paris")
        assert called[-1].response.output[0].type == "function_call"
        await connection.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": done.call_id,
                "output": json.dumps({"temperature_c": 18, "sky": "sunny"}),
            }
        )
        await connection.response.create()
        answered = await collect_until(connection, lambda e: e.type == "response.done")
        text = next(e.text for e in answered if e.type == "response.output_text.done").lower()
        assert "18" in text or "eighteen" in text or "sunny" in text, text


@pytest.mark.slow
async def test_a_goodbye_is_said_in_words_and_the_socket_stays_open(
    server: RunningServer,
) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with websockets.connect(
        server.ws_url, additional_headers=headers, max_size=None
    ) as socket:

        async def ask(text: str) -> str:
            item = {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            }
            await socket.send(json.dumps({"type": "conversation.item.create", "item": item}))
            await socket.send(json.dumps({"type": "response.create"}))
            while (event := json.loads(await asyncio.wait_for(socket.recv(), 60)))[
                "type"
            ] != "response.output_text.done":
                pass
            while json.loads(await asyncio.wait_for(socket.recv(), 60))["type"] != "response.done":
                pass
            return str(event["text"])

        await socket.send(
            json.dumps({"type": "session.update", "session": {"output_modalities": ["text"]}})
        )
        goodbye = await ask("Goodbye, that's all for now.")
        # The model's own goodbye, or the tool's, which is one too: never an instruction.
        assert goodbye.strip() and "conversation is over" not in goodbye.lower(), goodbye
        assert "say goodbye" not in goodbye.lower(), goodbye
        # Ending is the client's to do: the socket still answers.
        assert "paris" in (await ask("What is the capital of France?")).lower()
        # Words that only contain "stop" or "goodbye" are requests like any other.
        moon = await ask("Stop. Actually, tell me about the moon instead.")
        assert "moon" in moon.lower() and "goodbye" not in moon.lower(), moon
        french = await ask("Say goodbye in French.")
        assert "conversation is over" not in french.lower(), french
        assert "rome" in (await ask("What is the capital of Italy?")).lower()
