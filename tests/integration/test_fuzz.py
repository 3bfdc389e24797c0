"""Property-based fuzzing of a real server: hypothesis drives the realtime socket with malformed,
oversized and out-of-order client events, and schemathesis drives every REST route from the
server's own OpenAPI document, with a credential. Throughout, the server answers no 500 (no
`server_error` event), /health answers, and another session keeps talking."""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from tests.conftest import RunningServer

pytestmark = pytest.mark.slow

_EVENT_TYPES = [
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.cancel",
    "session.explode",  # unknown
    "",
]
_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.text(max_size=40),
)
_json = st.recursive(
    _json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
_audio = st.one_of(
    st.binary(max_size=4000).map(lambda raw: base64.b64encode(raw).decode()),
    st.text(max_size=60),
)
_session = st.fixed_dictionaries(
    {},
    optional={
        "instructions": st.one_of(st.text(max_size=60), _json),
        "output_modalities": st.one_of(st.just(["text"]), st.just(["audio"]), _json),
        "audio": st.one_of(
            _json,
            st.just({"input": {"turn_detection": None}}),
            st.just({"input": {"format": {"type": "audio/pcm", "rate": 16000}}}),
            st.just({"output": {"speed": 9}}),
        ),
        "tools": st.one_of(_json, st.lists(_json, max_size=40)),
        "tool_choice": _json,
    },
)
_item = st.one_of(
    _json,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["message", "function_call_output", "nonsense"]),
            "role": st.sampled_from(["user", "assistant", "system", "tool", 7]),
            "content": st.one_of(
                _json,
                st.lists(
                    st.fixed_dictionaries(
                        {"type": st.just("input_text"), "text": st.text(max_size=80)}
                    ),
                    max_size=3,
                ),
            ),
        },
        optional={"call_id": _json, "output": _json, "id": _json},
    ),
)


@st.composite
def _client_event(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(_EVENT_TYPES))
    event: dict[str, Any] = {"type": kind}
    if draw(st.booleans()):
        event["event_id"] = draw(st.one_of(st.text(max_size=20), _json))
    if kind == "session.update":
        event["session"] = draw(st.one_of(_session, _json))
    elif kind == "input_audio_buffer.append":
        event["audio"] = draw(_audio)
    elif kind == "conversation.item.create":
        event["item"] = draw(_item)
        event["previous_item_id"] = draw(_json)
    elif kind in {"conversation.item.truncate", "conversation.item.delete"}:
        event["item_id"] = draw(_json)
        event["audio_end_ms"] = draw(_json)
        event["content_index"] = draw(_json)
    text = json.dumps(event)
    # Now and then the bytes themselves are broken: cut short, not JSON, or not an object.
    return draw(
        st.sampled_from(
            [text, text, text, text[: max(1, len(text) // 2)], "[" + text, "null", "{}"]
        )
    )


def _health(server: RunningServer) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health", timeout=2) as reply:
        return int(reply.status)


def _drain(socket: ClientConnection) -> list[dict[str, Any]]:
    """Every event the server has sent so far (it answers each client event at once)."""
    events = []
    while True:
        try:
            events.append(json.loads(socket.recv(timeout=0.3)))
        except TimeoutError:
            return events


_counts = {"events": 0, "examples": 0}


# The server runs in a thread of this process, and its WebSocket keepalive pings draw their
# payload from the global `random` (websockets: random.getrandbits). A ping that lands while
# Hypothesis draws an example changes that state, which Hypothesis takes for a strategy using
# `random`: a warning about the test's neighbours, not about the strategy (which uses none).
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
def test_the_realtime_socket_survives_fuzzed_client_events(server: RunningServer) -> None:
    with connect(f"{server.ws_url}?token={server.api_key}", max_size=None) as socket:
        # Commit by hand: fuzzed audio never starts a spoken turn (that is tested elsewhere).
        socket.send(
            json.dumps(
                {
                    "type": "session.update",
                    "session": {"audio": {"input": {"turn_detection": None}}},
                }
            )
        )

        @settings(
            max_examples=120,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(st.lists(_client_event(), min_size=1, max_size=8))
        def run(messages: list[str]) -> None:
            for message in messages:
                socket.send(message)
            _counts["events"] += len(messages)
            _counts["examples"] += 1
            events = _drain(socket)
            crashes = [
                e
                for e in events
                if e.get("type") == "error" and e["error"]["code"] == "server_error"
            ]
            assert not crashes, (messages, crashes)
            assert _health(server) == 200

        run()
    print(f"realtime fuzz: {_counts['events']} events in {_counts['examples']} examples")
    # Another session still talks after all of that.
    with connect(f"{server.ws_url}?token={server.api_key}", max_size=None) as other:
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "What is the capital of France?"}],
        }
        other.send(
            json.dumps({"type": "session.update", "session": {"output_modalities": ["text"]}})
        )
        other.send(json.dumps({"type": "conversation.item.create", "item": item}))
        other.send(json.dumps({"type": "response.create"}))
        while (event := json.loads(other.recv(timeout=60)))["type"] != "response.done":
            pass
        assert event["response"]["status"] == "completed"


def test_every_rest_route_answers_without_a_server_error(server: RunningServer) -> None:
    schema = schemathesis.openapi.from_url(
        f"http://127.0.0.1:{server.port}/openapi.json",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    routes = cases = 0
    for loaded in schema.get_all_operations():
        operation = loaded.ok()
        routes += 1

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            nonlocal cases
            cases += 1
            response = case.call(
                base_url=f"http://127.0.0.1:{server.port}",
                headers={"Authorization": f"Bearer {server.api_key}"},
                timeout=60,
            )
            assert response.status_code < 500, (
                case.method,
                case.path,
                response.status_code,
                response.text[:300],
            )

        call()
        assert _health(server) == 200
    print(f"REST fuzz: {cases} cases over {routes} routes")
    assert routes >= 10
