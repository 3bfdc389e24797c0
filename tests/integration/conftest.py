"""A real Parley server on a loopback port, in a thread, sharing the session's loaded models."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from parley.config import load_settings
from parley.server.app import create_app
from parley.session import Backends


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    ws_url: str
    api_key: str
    data_dir: Path
    port: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("server-data")
    settings = load_settings(profile="testing", data_dir=data_dir)
    api_key = "pk-test-" + "x" * 20
    app = create_app(settings, api_key=api_key, backends=backends)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvicorn_server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the Parley server did not start")
        time.sleep(0.05)
    yield RunningServer(
        base_url=f"http://127.0.0.1:{port}/v1",
        ws_url=f"ws://127.0.0.1:{port}/v1/realtime",
        api_key=api_key,
        data_dir=data_dir,
        port=port,
    )
    uvicorn_server.should_exit = True
    thread.join(timeout=10)
