"""Wyoming clients that misbehave: malformed headers, lengths that lie or are huge, unknown
events, ten clients at once, clients that vanish mid-answer, addresses not allowed, one client
too many. Each gets an error event or a closed socket, and the next client is served."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize

from parley.config.settings import WyomingConfig
from tests.conftest import RunningServer, free_port, running_server

LONG_TEXT = " ".join(["The quick brown fox jumps over the lazy dog."] * 12)


@pytest.fixture(scope="module")
def wyoming_server(
    backends, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, int]]:  # type: ignore[no-untyped-def]
    port = free_port()
    with running_server(
        backends,
        tmp_path_factory.mktemp("wyoming-faults"),
        wyoming=WyomingConfig(uri=f"tcp://127.0.0.1:{port}", max_event_bytes=64 * 1024),
    ) as running:
        yield running, port


@pytest.fixture
def port(wyoming_server: tuple[RunningServer, int]) -> int:
    return wyoming_server[1]


async def raw_exchange(port: int, sent: bytes) -> list[dict[str, object]]:
    """Send raw bytes; the JSON headers the server wrote back until it closed the socket."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(sent)
    await writer.drain()
    received = await asyncio.wait_for(reader.read(), timeout=30)
    writer.close()
    headers = []
    for line in received.split(b"\n"):
        if line.startswith(b"{"):
            headers.append(json.loads(line))
    return headers


async def still_serves(port: int) -> None:
    async with AsyncTcpClient("127.0.0.1", port, read_timeout=30) as client:
        await client.write_event(Describe().event())
        event = await client.read_event()
    assert event is not None and Info.is_type(event.type)


def error_data(client_read: list[dict[str, object]]) -> list[dict[str, object]]:
    return [header for header in client_read if header.get("type") == "error"]


async def test_a_malformed_header_is_an_error_and_the_socket_closes(port: int) -> None:
    headers = await raw_exchange(port, b'{"type": "describe", oops\n')
    [error] = error_data(headers)
    assert error["data_length"]  # the error's text follows as data
    await still_serves(port)


async def test_a_header_that_is_not_an_event_is_an_error(port: int) -> None:
    assert error_data(await raw_exchange(port, b'["describe"]\n'))
    assert error_data(await raw_exchange(port, b'{"data": {}}\n'))
    await still_serves(port)


async def test_a_huge_payload_length_is_refused_before_it_is_read(port: int) -> None:
    header = {"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}}
    header["payload_length"] = 10 * 1024**3
    headers = await raw_exchange(port, json.dumps(header).encode() + b"\n")
    assert len(error_data(headers)) == 1
    await still_serves(port)


async def test_a_payload_shorter_than_its_length_says_is_an_error(port: int) -> None:
    # 100 bytes announced, 10 sent, then a new "header" where the payload should go on: the
    # bytes after are read as the payload, and what follows is not JSON.
    header = {"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}}
    header["payload_length"] = 100
    sent = json.dumps(header).encode() + b"\n" + b"\x00" * 10
    sent += json.dumps({"type": "describe"}).encode() + b"\n" + b"x" * 200 + b"\n"
    headers = await raw_exchange(port, sent)
    assert error_data(headers)
    await still_serves(port)


async def test_a_connection_that_ends_inside_an_event_hurts_nobody(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    header = {"type": "synthesize", "data_length": 500}
    writer.write(json.dumps(header).encode() + b"\n" + b'{"text": "Hel')
    await writer.drain()
    writer.close()
    await still_serves(port)


async def test_an_unknown_event_is_an_error_and_the_connection_goes_on(port: int) -> None:
    async with AsyncTcpClient("127.0.0.1", port, read_timeout=30) as client:
        await client.write_event(Event("make-coffee", {"strength": 11}))
        error = await client.read_event()
        await client.write_event(Describe().event())
        info = await client.read_event()
    assert error is not None and error.type == "error"
    assert error.data["code"] == "unknown_event" and "make-coffee" in error.data["text"]
    assert info is not None and info.type == "info"


async def test_bad_audio_is_an_error_and_the_transcript_still_comes(port: int) -> None:
    async with AsyncTcpClient("127.0.0.1", port, read_timeout=60) as client:
        await client.write_event(Event("transcribe"))
        await client.write_event(Event("audio-start", {"rate": 16000, "width": 3, "channels": 1}))
        await client.write_event(Event("audio-start", {"rate": 16000, "width": 2, "channels": 1}))
        await client.write_event(
            Event("audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, payload=b"\x00" * 3)
        )
        await client.write_event(Event("audio-stop"))
        events = []
        while (event := await client.read_event()) is not None:
            events.append(event)
            if event.type == "transcript-stop":
                break
    codes = [event.data.get("code") for event in events if event.type == "error"]
    assert codes == ["bad_audio", "bad_audio"]
    assert [event.data["text"] for event in events if event.type == "transcript"] == [""]


async def test_ten_clients_at_once_are_all_answered(port: int) -> None:
    async def speak(index: int) -> int:
        async with AsyncTcpClient("127.0.0.1", port, read_timeout=120) as client:
            await client.write_event(Synthesize(f"Client number {index} is here.").event())
            pcm = b""
            while (event := await client.read_event()) is not None:
                if event.type == "audio-chunk":
                    pcm += event.payload or b""
                if event.type in ("audio-stop", "error"):
                    assert event.type == "audio-stop", event.data
                    break
            return len(pcm)

    sizes = await asyncio.gather(*(speak(index) for index in range(10)))
    assert all(size > 20_000 for size in sizes), sizes


async def test_a_client_that_vanishes_mid_synthesis_leaves_the_next_one_served(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    event = Synthesize(LONG_TEXT).event()
    data = json.dumps(event.data).encode()
    writer.write(json.dumps({"type": event.type, "data_length": len(data)}).encode() + b"\n" + data)
    await writer.drain()
    await reader.readline()  # audio-start: it is speaking
    writer.transport.abort()  # gone, without a goodbye
    await still_serves(port)


async def test_a_vanished_client_mid_reply_does_not_stop_the_server(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps({"text": "Tell me a long story about a dragon."}).encode()
    writer.write(json.dumps({"type": "transcript", "data_length": len(data)}).encode() + b"\n")
    writer.write(data)
    await writer.drain()
    await reader.readline()  # handled-start
    writer.transport.abort()
    await still_serves(port)


async def test_wyoming_requests_are_counted_in_metrics_and_the_monitor(
    wyoming_server: tuple[RunningServer, int],
) -> None:
    server, port = wyoming_server
    async with AsyncTcpClient("127.0.0.1", port, read_timeout=60) as client:
        await client.write_event(Synthesize("Counting this one.").event())
        while (event := await client.read_event()) is not None and event.type != "audio-stop":
            pass

    def get(path: str) -> str:
        request = urllib.request.Request(
            server.base_url.removesuffix("/v1") + path,
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(response.read().decode())

    metrics = await asyncio.to_thread(get, "/metrics")
    monitor = json.loads(await asyncio.to_thread(get, "/v1/monitor"))
    assert 'parley_wyoming_requests_total{outcome="ok",program="tts"}' in metrics
    assert "parley_wyoming_first_answer_ms_bucket" in metrics
    assert monitor["wyoming"]["tts"]["requests"] >= 1


def test_an_address_not_allowed_is_refused(backends, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    config = WyomingConfig(uri=f"tcp://127.0.0.1:{port}", allowed_clients=["192.168.0.0/16"])
    with running_server(backends, tmp_path / "data", wyoming=config):
        headers = asyncio.run(raw_exchange(port, b'{"type": "describe"}\n'))
    [error] = error_data(headers)
    assert not [header for header in headers if header.get("type") == "info"]
    assert error["data_length"]


def test_one_client_over_the_limit_is_told_so_and_the_others_go_on(backends, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    config = WyomingConfig(uri=f"tcp://127.0.0.1:{port}", max_clients=2)

    async def three_clients() -> tuple[Event | None, list[Event | None]]:
        first = AsyncTcpClient("127.0.0.1", port, read_timeout=30)
        second = AsyncTcpClient("127.0.0.1", port, read_timeout=30)
        await first.connect()
        await second.connect()
        await asyncio.sleep(0.2)  # both are being served
        async with AsyncTcpClient("127.0.0.1", port, read_timeout=30) as third:
            refused = await third.read_event()
        answers = []
        for client in (first, second):
            await client.write_event(Describe().event())
            answers.append(await client.read_event())
            await client.disconnect()
        return refused, answers

    with running_server(backends, tmp_path / "data", wyoming=config):
        refused, answers = asyncio.run(three_clients())
    assert refused is not None and refused.type == "error" and refused.data["code"] == "busy"
    assert all(answer is not None and answer.type == "info" for answer in answers)


def test_an_announced_server_is_found_over_zeroconf_as_home_assistant_looks(
    backends, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncZeroconf

    port = free_port()
    config = WyomingConfig(
        uri=f"tcp://0.0.0.0:{port}", allowed_clients=["127.0.0.0/8"], is_announcing=True
    )

    async def browse() -> list[int]:
        found: list[str] = []
        browser_zeroconf = AsyncZeroconf()
        browser = AsyncServiceBrowser(
            browser_zeroconf.zeroconf,
            ["_wyoming._tcp.local."],
            handlers=[lambda zeroconf, service_type, name, state_change: found.append(name)],
        )
        for _ in range(50):
            if found:
                break
            await asyncio.sleep(0.1)
        ports = []
        for name in found:
            info = await browser_zeroconf.async_get_service_info("_wyoming._tcp.local.", name)
            if info is not None and name.startswith("Parley"):
                ports.append(info.port)
        await browser.async_cancel()
        await browser_zeroconf.async_close()
        return ports

    with running_server(backends, tmp_path / "data", wyoming=config):
        ports = asyncio.run(browse())
    assert port in ports
