"""``RealtimeConnection``: the OpenAI Realtime protocol over one Session, driven through a fake
client socket (an in-memory pipe, named so: no browser or SDK is under test here) with fakes of
the model Protocols and a real SQLite file.

What a client sees is asserted: the events, their order and their words; and what the store
keeps. The LLM fake writes its words only when the test lets it, so "a reply in flight" is a
state the test holds, not a moment it races for.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from parley.config.settings import load_settings
from parley.memory.sqlite_store import SqliteStore
from parley.models.loaded import Backends
from parley.ops.metrics import ServerMetrics
from parley.pipeline.runtime import Runtime
from parley.server.realtime.connection import RealtimeConnection
from parley.server.realtime.pipe import SERVICE_RESTART, PipeClosed, PipeGone
from tests.unit.fakes import FakeDeafStt, FakeHeldLlm, FakeToneVoice


class FakeClientPipe:
    """Stands in for a client's WebSocket: the test writes what the client sends, and reads
    every event the server wrote, in order."""

    def __init__(self) -> None:
        self._incoming: asyncio.Queue[str | bytes | PipeClosed] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self.is_gone = False

    def send(self, event: dict[str, Any] | str | bytes) -> None:
        self._incoming.put_nowait(json.dumps(event) if isinstance(event, dict) else event)

    def hang_up(self, code: int | None = 1000) -> None:
        self._incoming.put_nowait(PipeClosed(code))

    async def receive(self) -> str | bytes | PipeClosed:
        return await self._incoming.get()

    async def send_text(self, text: str) -> None:
        if self.is_gone:
            raise PipeGone("the fake client hung up")
        async with self._changed:
            self.sent.append(json.loads(text))
            self._changed.notify_all()

    async def close(self, code: int, reason: str) -> None:
        del code, reason
        self.is_gone = True

    async def next_of(self, kind: str, *, after: int = 0) -> dict[str, Any]:
        """The first event of type ``kind`` the server wrote at index ``after`` or later."""
        async with self._changed:
            while True:
                for event in self.sent[after:]:
                    if event["type"] == kind:
                        return event
                await self._changed.wait()

    def types(self) -> list[str]:
        return [event["type"] for event in self.sent]


@asynccontextmanager
async def connected(
    tmp_path: Path, llm: FakeHeldLlm
) -> AsyncIterator[tuple[FakeClientPipe, RealtimeConnection, asyncio.Task[None], SqliteStore]]:
    settings = load_settings(
        profile="testing",
        data_dir=tmp_path / "data",
        memory={"is_enabled": False},
        mcp={"builtin_tools": False},
    )
    backends = Backends(settings=settings, stt=FakeDeafStt(), llm=llm, tts=FakeToneVoice())
    async with Runtime.open(
        settings, backends=backends, database_path=tmp_path / "parley.sqlite3"
    ) as runtime:
        pipe = FakeClientPipe()
        connection = RealtimeConnection(pipe, runtime=runtime, metrics=ServerMetrics())
        running = asyncio.create_task(connection.run())
        try:
            assert isinstance(runtime.store, SqliteStore)
            yield pipe, connection, running, runtime.store
        finally:
            if not running.done():
                pipe.hang_up()
            await running


def ask(pipe: FakeClientPipe, text: str, *, is_text_only: bool = True) -> None:
    pipe.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )
    response: dict[str, Any] = {"output_modalities": ["text"]} if is_text_only else {}
    pipe.send({"type": "response.create", "response": response})


async def test_a_text_question_gets_the_reply_s_words_in_order_and_both_are_stored(
    tmp_path: Path,
) -> None:
    llm = FakeHeldLlm("Paris is the capital of France.", is_held=False)
    async with connected(tmp_path, llm) as (pipe, connection, running, store):
        ask(pipe, "What is the capital of France?")
        done = await pipe.next_of("response.done")
        assert done["response"]["status"] == "completed"
        words = "".join(e["delta"] for e in pipe.sent if e["type"] == "response.output_text.delta")
        assert words.strip() == "Paris is the capital of France."
        types = pipe.types()
        assert types[0] == "session.created"
        assert types.index("response.created") < types.index("response.output_text.delta")
        assert types.index("response.output_text.delta") < types.index("response.done")
        pipe.hang_up()
        await running  # every row is written by the time the connection ends
        messages = [(m.role, m.content) for m in store.messages(connection.session.conversation_id)]
    assert ("user", "What is the capital of France?") in messages
    assert ("assistant", "Paris is the capital of France.") in messages


async def test_malformed_json_gets_an_error_and_the_socket_goes_on(tmp_path: Path) -> None:
    llm = FakeHeldLlm("Still here.", is_held=False)
    async with connected(tmp_path, llm) as (pipe, _connection, running, _store):
        pipe.send("{not json")
        error = await pipe.next_of("error")
        assert error["error"]["type"] == "invalid_request_error"
        ask(pipe, "Are you there?")
        done = await pipe.next_of("response.done")
        assert done["response"]["status"] == "completed"
        assert not running.done()


async def test_binary_and_unknown_events_are_named_in_errors_and_change_nothing(
    tmp_path: Path,
) -> None:
    llm = FakeHeldLlm("Fine.", is_held=False)
    async with connected(tmp_path, llm) as (pipe, _connection, _running, _store):
        pipe.send(b"\x00\x01")
        binary = await pipe.next_of("error")
        assert "JSON text" in binary["error"]["message"]
        pipe.send({"type": "session.teleport", "event_id": "evt_7"})
        seen = len(pipe.sent)
        unknown = await pipe.next_of("error", after=seen - 1)
        while "session.teleport" not in unknown["error"]["message"]:
            seen = pipe.sent.index(unknown) + 1
            unknown = await pipe.next_of("error", after=seen)
        assert unknown["error"]["code"] == "unknown_event"
        assert unknown["error"]["event_id"] == "evt_7"
        assert not llm.asked.is_set()


async def test_clearing_output_audio_over_a_socket_says_what_to_send_instead(
    tmp_path: Path,
) -> None:
    llm = FakeHeldLlm("Fine.", is_held=False)
    async with connected(tmp_path, llm) as (pipe, _connection, _running, _store):
        pipe.send({"type": "output_audio_buffer.clear"})
        error = await pipe.next_of("error")
        assert "conversation.item.truncate" in error["error"]["message"]


async def test_a_second_response_while_one_is_live_is_refused_and_the_first_completes(
    tmp_path: Path,
) -> None:
    llm = FakeHeldLlm("One answer only.")
    async with connected(tmp_path, llm) as (pipe, _connection, _running, _store):
        ask(pipe, "Tell me something.")
        await pipe.next_of("response.created")
        pipe.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        error = await pipe.next_of("error")
        assert error["error"]["code"] == "conversation_already_has_active_response"
        llm.go.set()
        done = await pipe.next_of("response.done")
        assert done["response"]["status"] == "completed"
        assert pipe.types().count("response.created") == 1


async def test_response_cancel_ends_a_reply_in_flight_as_cancelled(tmp_path: Path) -> None:
    llm = FakeHeldLlm("A long story about the sea.")
    async with connected(tmp_path, llm) as (pipe, _connection, _running, _store):
        ask(pipe, "Tell me a story.")
        await llm.asked.wait()
        pipe.send({"type": "response.cancel"})
        done = await pipe.next_of("response.done")
        assert done["response"]["status"] == "cancelled"
        pipe.send({"type": "response.cancel"})
        error = await pipe.next_of("error")
        assert error["error"]["code"] == "response_cancel_not_active"


async def test_a_client_that_hangs_up_mid_reply_ends_the_connection_and_nothing_else(
    tmp_path: Path,
) -> None:
    llm = FakeHeldLlm("Words nobody will read.")
    async with connected(tmp_path, llm) as (pipe, connection, running, store):
        ask(pipe, "Tell me a story.")
        await llm.asked.wait()
        pipe.hang_up()
        await running  # the connection ends by itself: the held reply is cancelled
        conversation_id = connection.session.conversation_id
        messages = [(m.role, m.content) for m in store.messages(conversation_id)]
    assert ("user", "Tell me a story.") in messages
    assert not any(role == "assistant" and "nobody" in text for role, text in messages)


async def test_a_server_restart_closes_the_connection_with_nothing_left_running(
    tmp_path: Path,
) -> None:
    llm = FakeHeldLlm("Hello.", is_held=False)
    async with connected(tmp_path, llm) as (pipe, _connection, running, _store):
        ask(pipe, "Hello?")
        await pipe.next_of("response.done")
        pipe.hang_up(SERVICE_RESTART)
        await running
        assert running.exception() is None
