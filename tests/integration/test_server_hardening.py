"""A real server tried as an attacker and as a careless client would: each test reproduces one
way to stall, exhaust or fool it, and checks the answer a client gets instead."""

from __future__ import annotations

import io
import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import jwt
import numpy as np
import pytest
import soundfile

from parley.config.settings import load_settings
from parley.errors import ConfigError
from parley.server.auth import authenticator_for, load_or_create_api_key
from parley.server.guard import host_name
from tests.conftest import RunningServer


def raw_request(port: int, head: str, body: bytes = b"", *, timeout_s: float = 5.0) -> bytes:
    """Send a request by hand (the head, then only the first bytes of what it announces) and
    return what the server answers before `timeout_s` runs out."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as connection:
        connection.sendall(head.encode("latin-1") + body)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or len(answer) < 12:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
            # The JSON body follows the head; read what has arrived of it.
            connection.settimeout(0.5)
            while chunk := connection.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    return answer


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), f"no HTTP answer: {answer[:80]!r}"
    return int(answer.split(b" ", 2)[1])


def call(
    url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_an_unauthenticated_huge_body_is_refused_before_it_is_read(server: RunningServer) -> None:
    for path in ("/v1/chat/completions", "/v1/audio/transcriptions"):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Type: text/plain\r\nContent-Length: 8000000000\r\n\r\n"
        )
        answer = raw_request(server.port, head, b"x" * 1000)
        assert status_of(answer) == 401, answer[:200]
        assert b"missing credential" in answer


def test_bodies_are_capped_per_route_with_a_json_413(server: RunningServer) -> None:
    auth = f"Authorization: Bearer {server.api_key}\r\n"
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{auth}"
        "Content-Type: application/json\r\nContent-Length: 2000000000\r\n\r\n"
    )
    answer = raw_request(server.port, head, b"{")
    assert status_of(answer) == 413, answer[:200]
    upload = (
        f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{auth}"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 20000000000\r\n\r\n"
    )
    answer = raw_request(server.port, upload, b"--b\r\n")
    assert status_of(answer) == 413, answer[:200]
    assert b'"error"' in answer


def _flac_of_silence(seconds: int, *, channels: int, rate_hz: int) -> bytes:
    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", rate_hz, channels, format="FLAC") as sound:
        minute = np.zeros((rate_hz * 60, channels), np.int16)
        for _ in range(seconds // 60):
            sound.write(minute)
    return buffer.getvalue()


def _multipart(payload: bytes) -> tuple[bytes, str]:
    boundary = "parley-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.flac"\r\n'
            "Content-Type: audio/flac\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_an_audio_decompression_bomb_is_refused_from_its_header(server: RunningServer) -> None:
    # Eleven minutes of eight channels: ~0.3 MB that decode to 1 GB of float samples. Past the
    # 600 s limit by enough that the refusal's figure shows it came from the header's count
    # (660 s), not from a decode stopped at the limit.
    bomb = _flac_of_silence(11 * 60, channels=8, rate_hz=48_000)
    assert len(bomb) < 1024 * 1024
    body, content_type = _multipart(bomb)
    status, answer = call(
        f"{server.base_url}/audio/transcriptions",
        data=body,
        headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": content_type},
    )
    assert status == 400
    assert "longer than Parley takes (660 s" in str(answer["error"])
    # The server is still there for everyone else.
    assert call(f"http://127.0.0.1:{server.port}/health")[0] == 200


def test_only_health_and_sign_in_answer_without_a_credential(server: RunningServer) -> None:
    root = f"http://127.0.0.1:{server.port}"
    assert call(f"{root}/health")[0] == 200
    for path in ("/docs", "/redoc", "/openapi.json", "/metrics", "/api/conversations", "/mcp"):
        request = urllib.request.Request(f"{root}{path}")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401, path
    status, document = call(
        f"{root}/openapi.json", headers={"Authorization": f"Bearer {server.api_key}"}
    )
    assert status == 200 and "/v1/chat/completions" in document["paths"]  # type: ignore[operator]


def test_a_foreign_host_name_is_not_served(server: RunningServer) -> None:
    head = f"GET /health HTTP/1.1\r\nHost: attacker.example:{server.port}\r\n\r\n"
    answer = raw_request(server.port, head)
    assert status_of(answer) == 421 and b"server.allowed_hosts" in answer
    head = f"GET /health HTTP/1.1\r\nHost: localhost:{server.port}\r\n\r\n"
    assert status_of(raw_request(server.port, head)) == 200
    assert host_name("[::1]:8765") == "::1" and host_name("LOCALHOST") == "localhost"


def test_a_login_code_works_once_and_its_browser_token_only_mints_client_secrets(
    server: RunningServer,
) -> None:
    root = f"http://127.0.0.1:{server.port}"
    code = server.login_code()
    status, signed_in = call(
        f"{root}/v1/login",
        data=json.dumps({"code": code}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 200
    browser_token = str(signed_in["value"])
    again = call(
        f"{root}/v1/login",
        data=json.dumps({"code": code}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert again[0] == 401 and "used already" in str(again[1])
    as_browser = {"Authorization": f"Bearer {browser_token}"}
    assert call(f"{root}/api/conversations", headers=as_browser)[0] == 401
    status, secret = call(f"{root}/v1/realtime/client_secrets", data=b"{}", headers=as_browser)
    assert status == 200
    client_secret = {"Authorization": f"Bearer {secret['value']}"}
    assert call(f"{root}/api/conversations", headers=client_secret)[0] == 200
    # A client secret cannot mint more of itself.
    assert call(f"{root}/v1/realtime/client_secrets", data=b"{}", headers=client_secret)[0] == 401


def test_tokens_cannot_be_forged_from_the_api_key_alone(server: RunningServer) -> None:
    import hashlib

    # Signed as an earlier Parley did, with a key derived from the API key and a constant.
    old_key = hashlib.sha256(b"parley-client-secret:" + server.api_key.encode()).digest()
    forged = jwt.encode(
        {"sub": "local", "aud": "parley-realtime", "exp": int(time.time()) + 600},
        old_key,
        algorithm="HS256",
    )
    status, _ = call(
        f"http://127.0.0.1:{server.port}/api/conversations",
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert status == 401


def test_an_empty_or_short_api_key_stops_parley(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_SERVER__API_KEY", "")
    with pytest.raises(ConfigError, match="api_key"):
        load_settings(profile="testing", data_dir=tmp_path)
    monkeypatch.setenv("PARLEY_SERVER__API_KEY", "short")
    with pytest.raises(ConfigError, match="api_key"):
        load_settings(profile="testing", data_dir=tmp_path)
    monkeypatch.delenv("PARLEY_SERVER__API_KEY")
    settings = load_settings(profile="testing", data_dir=tmp_path)
    with pytest.raises(ConfigError):
        authenticator_for(settings, "")
    # An empty key file, as a failed first write leaves, is replaced by a new key.
    (tmp_path / "api_key").write_text("")
    key = load_or_create_api_key(settings)
    assert len(key) >= 32 and (tmp_path / "api_key").read_text().strip() == key
    assert (tmp_path / "api_key").stat().st_mode & 0o777 == 0o600
    authenticator_for(settings, key)
    assert (tmp_path / "token_signing_secret").stat().st_mode & 0o777 == 0o600


# ---- the realtime socket ------------------------------------------------------------------


async def _connect(server: RunningServer, **options: object):  # type: ignore[no-untyped-def]
    import websockets

    return await websockets.connect(
        f"{server.ws_url}?token={server.api_key}", max_size=None, **options
    )


async def _next_of(socket, kind: str, *, timeout_s: float = 30) -> dict[str, object]:  # type: ignore[no-untyped-def]
    import asyncio

    async def read() -> dict[str, object]:
        while True:
            event = json.loads(await socket.recv())
            if event["type"] == kind:
                return event  # type: ignore[no-any-return]

    return await asyncio.wait_for(read(), timeout_s)


def _health_answers(server: RunningServer) -> bool:
    """The health check answers within 2 s: no session may stall the server for the others."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health", timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


async def test_a_text_made_to_backtrack_neither_stalls_the_server_nor_is_taken_whole(
    server: RunningServer,
) -> None:
    import asyncio

    socket = await _connect(server)
    try:
        await _next_of(socket, "session.created")
        for text in ("remember x" + "." * 60_000 + "x", "remember x" + "." * 7_000 + "x"):
            item = {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            }
            await socket.send(json.dumps({"type": "conversation.item.create", "item": item}))
            healthy = await asyncio.to_thread(_health_answers, server)
            assert healthy, "the server stopped answering while it read one session's text"
        error = await _next_of(socket, "error")
        assert error["error"]["code"] == "text_too_long"  # type: ignore[index]
        added = await _next_of(socket, "conversation.item.done")  # the 7,000-character one
        assert added["item"]["role"] == "user"  # type: ignore[index]
    finally:
        await socket.close()


async def test_per_session_growth_is_capped_with_clear_errors(server: RunningServer) -> None:
    import base64

    socket = await _connect(server)
    try:
        await _next_of(socket, "session.created")
        update = {
            "type": "session.update",
            "session": {"audio": {"input": {"turn_detection": None}}},
        }
        await socket.send(json.dumps(update))
        await _next_of(socket, "session.updated")
        second = base64.b64encode(np.zeros(24_000, "<i2").tobytes()).decode()
        for _ in range(125):  # 125 s of audio, never committed; the cap is 120 s
            await socket.send(json.dumps({"type": "input_audio_buffer.append", "audio": second}))
        error = await _next_of(socket, "error")
        assert error["error"]["code"] == "input_audio_buffer_full"  # type: ignore[index]
        await socket.send(json.dumps({"type": "input_audio_buffer.clear"}))
        await _next_of(socket, "input_audio_buffer.cleared")
        tools = [
            {"type": "function", "name": f"tool_{n}", "description": "d", "parameters": {}}
            for n in range(100)
        ]
        await socket.send(json.dumps({"type": "session.update", "session": {"tools": tools}}))
        error = await _next_of(socket, "error")
        assert error["error"]["code"] == "too_many_tools"  # type: ignore[index]
        nan_threshold = '{"type": "session.update", "session": {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": NaN}}}}}'
        await socket.send(nan_threshold)
        error = await _next_of(socket, "error")
        assert "threshold" in error["error"]["message"]  # type: ignore[index]
    finally:
        await socket.close()


@pytest.mark.slow
async def test_a_client_that_stops_reading_is_dropped_and_its_slot_freed(
    backends: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from tests.conftest import running_server

    monkeypatch.setenv("PARLEY_SERVER__MAX_SEND_STALL_S", "2")
    with running_server(backends, tmp_path / "data") as server:
        # A receive buffer of a few kilobytes: the server's sends block as soon as it is full.
        tiny = socket.create_connection(("127.0.0.1", server.port))
        tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled = await _connect(server, sock=tiny, max_queue=1)
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Tell me a long story about a whale."}],
        }
        await stalled.send(json.dumps({"type": "conversation.item.create", "item": item}))
        await stalled.send(json.dumps({"type": "response.create"}))
        # ... and then it never reads again (nor answers the server's pings).
        metrics = f"http://127.0.0.1:{server.port}/metrics"
        auth = {"Authorization": f"Bearer {server.api_key}"}

        def scrape() -> str:
            request = urllib.request.Request(metrics, headers=auth)
            with urllib.request.urlopen(request, timeout=5) as reply:
                return str(reply.read().decode())

        deadline = time.monotonic() + 60
        while "parley_realtime_sessions 0.0" not in await asyncio.to_thread(scrape):
            assert time.monotonic() < deadline, "the stalled client's slot was not freed"
            await asyncio.sleep(0.5)
        other = await _connect(server)
        await _next_of(other, "session.created")
        item["content"] = [{"type": "input_text", "text": "What is the capital of France?"}]
        await other.send(json.dumps({"type": "conversation.item.create", "item": item}))
        await other.send(json.dumps({"type": "response.create"}))
        done = await _next_of(other, "response.done", timeout_s=60)
        assert done["response"]["status"] == "completed"  # type: ignore[index]
        await other.close()
        stalled.transport.abort()  # the socket is the transport's now: it closes it
        await asyncio.sleep(0)
        tiny.close()  # and this test's own handle on it, whatever the transport got to


async def test_simultaneous_handshakes_cannot_exceed_the_session_limit(
    server: RunningServer,
) -> None:
    import asyncio

    import websockets

    limit = load_settings(profile="testing", data_dir=server.data_dir).server.max_sessions

    async def attempt() -> object:
        try:
            socket = await websockets.connect(f"{server.ws_url}?token={server.api_key}")
            await _next_of(socket, "session.created", timeout_s=20)
            return socket
        except websockets.exceptions.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        except websockets.exceptions.InvalidStatus as refused:
            return refused.response.status_code

    outcomes = await asyncio.gather(*(attempt() for _ in range(30)))
    opened = [o for o in outcomes if not isinstance(o, int | None)]
    try:
        assert len(opened) == limit
        # Refused before the handshake completes: an HTTP 403, and no session was started.
        assert all(o == 403 for o in outcomes if isinstance(o, int)), outcomes
    finally:
        for socket in opened:
            await socket.close()  # type: ignore[attr-defined]


def test_chat_completions_keep_within_the_context_window(server: RunningServer) -> None:
    url = f"{server.base_url}/chat/completions"
    headers = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}
    too_long = {"messages": [{"role": "user", "content": "word " * 40_000}]}
    status, answer = call(url, data=json.dumps(too_long).encode(), headers=headers)
    assert status == 400 and answer["error"]["code"] == "context_length_exceeded"  # type: ignore[index]


def test_a_connection_that_never_finishes_its_headers_is_closed(
    backends: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import running_server

    monkeypatch.setenv("PARLEY_SERVER__HEADER_TIMEOUT_S", "1")
    with running_server(backends, tmp_path / "data") as server:
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # and no more
        # Closed by the server (its deadline is 1 s; this socket would give up after 10).
        assert slow.recv(1024) == b""
        slow.close()
        # A prompt client on the same server is unaffected.
        assert _health_answers(server)


async def test_a_realtime_socket_outlives_the_header_deadline(
    backends: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from tests.conftest import running_server

    monkeypatch.setenv("PARLEY_SERVER__HEADER_TIMEOUT_S", "1")
    with running_server(backends, tmp_path / "data") as server:
        socket_ = await _connect(server)
        await _next_of(socket_, "session.created")
        await asyncio.sleep(2.5)  # past the deadline: it was for the headers, not the session
        await socket_.send(json.dumps({"type": "input_audio_buffer.clear"}))
        assert (await _next_of(socket_, "input_audio_buffer.cleared"))["type"]
        await socket_.close()


async def test_a_huge_audio_append_keeps_the_server_answering(server: RunningServer) -> None:
    import asyncio
    import base64

    socket_ = await _connect(server)
    try:
        await _next_of(socket_, "session.created")
        noise = np.random.default_rng(7).integers(-3000, 3000, 1_400_000).astype("<i2")
        append = {
            "type": "input_audio_buffer.append",
            "audio": base64.b64encode(noise.tobytes()).decode(),
        }
        await socket_.send(json.dumps(append))  # ~3.7 MB: just under the message limit
        healthy = await asyncio.to_thread(_health_answers, server)
        assert healthy, "one session's append stalled the event loop"
    finally:
        await socket_.close()
