"""The reference deployment (deploy/cluster/cluster.sh) as it runs: HAProxy in front of two
`parley serve` workers that share one real PostgreSQL with pgvector. The clients are the openai
SDK's realtime client and plain HTTP, all through the balancer unless a test says otherwise."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from openai import AsyncOpenAI

from tests.conftest import REPO, ask_in_text, free_port
from tests.e2e.test_cli_serve import parley_executable

pytestmark = pytest.mark.slow

CLUSTER_SCRIPT = REPO / "deploy" / "cluster" / "cluster.sh"


@dataclass
class Cluster:
    directory: Path
    balancer_url: str
    worker_urls: list[str]
    api_key: str

    def worker_pid(self, number: int) -> int:
        return int((self.directory / f"worker-{number}" / "pid").read_text())

    def get(self, url: str, path: str) -> Any:
        request = urllib.request.Request(
            url + path, headers={"Authorization": f"Bearer {self.api_key}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read().decode()
        return (
            json.loads(body) if response.headers.get_content_type() == "application/json" else body
        )

    def sessions_open(self, worker: int) -> float:
        metrics = self.get(self.worker_urls[worker - 1], "/metrics")
        [line] = [ln for ln in metrics.splitlines() if ln.startswith("parley_realtime_sessions ")]
        return float(line.split()[1])

    def turns_answered(self, worker: int) -> float:
        metrics = self.get(self.worker_urls[worker - 1], "/metrics")
        return sum(
            float(line.split()[1])
            for line in metrics.splitlines()
            if line.startswith("parley_turns_total{")
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("cluster")
    balancer_port, first_worker_port = free_port(), free_port(run_of=2)
    env = {
        **os.environ,
        "CLUSTER_DIR": str(directory),
        "WORKERS": "2",
        "BALANCER_PORT": str(balancer_port),
        "FIRST_WORKER_PORT": str(first_worker_port),
        "MODELS_DIR": str(models_dir),
        "PARLEY": parley_executable(),
        "PYTHON": sys.executable,
        "PARLEY_ENV": "testing",
    }
    started = subprocess.run(
        [str(CLUSTER_SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=600
    )
    try:
        assert started.returncode == 0, started.stderr
        yield Cluster(
            directory,
            f"http://127.0.0.1:{balancer_port}",
            [f"http://127.0.0.1:{first_worker_port + n}" for n in range(2)],
            (directory / "api_key").read_text().strip(),
        )
    finally:
        subprocess.run([str(CLUSTER_SCRIPT), "down"], env=env, capture_output=True, timeout=60)
        # `down` leaves nothing of the cluster running: balancer, workers and PostgreSQL.
        left = [
            " ".join(process.info["cmdline"] or [])[:120]
            for process in psutil.process_iter(["cmdline"])
            if str(directory) in " ".join(process.info["cmdline"] or [])
        ]
        assert left == []


async def _turn(
    cluster: Cluster, text: str, *, conversation_id: str | None = None, base_url: str | None = None
) -> tuple[str, str]:
    """One typed question on a new realtime connection; (conversation id, reply words)."""
    resume = {"conversation": conversation_id} if conversation_id else {}
    async with (
        AsyncOpenAI(
            base_url=(base_url or cluster.balancer_url) + "/v1", api_key=cluster.api_key
        ) as client,
        client.realtime.connect(model="parley", extra_query=resume) as connection,
    ):
        await connection.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await ask_in_text(connection, text)
        words = ""
        async for event in connection:
            if event.type == "response.output_text.done":
                words += event.text
            if event.type == "response.done":
                assert event.response.status == "completed", event.response
                return str(event.response.conversation_id), words
    raise AssertionError("the socket closed before response.done")


def test_a_conversation_alternating_between_workers_keeps_its_history_and_recalled_facts(
    cluster: Cluster,
) -> None:
    answered_before = [cluster.turns_answered(1), cluster.turns_answered(2)]
    conversation_id, told = asyncio.run(_turn(cluster, "Remember that my sister is called Ada."))
    assert "ada" in told.lower()
    memory = cluster.get(cluster.balancer_url, "/api/memory")
    assert any("Ada" in item["text"] for item in memory["data"]), memory
    # Round robin: each new socket goes to the other worker.
    same_id, _ = asyncio.run(
        _turn(cluster, "What is the capital of France?", conversation_id=conversation_id)
    )
    assert same_id == conversation_id
    # A new conversation, on a worker that did not hear the fact: only the shared memory knows.
    other_id, asked = asyncio.run(_turn(cluster, "What is my sister called?"))
    assert other_id != conversation_id
    assert "ada" in asked.lower(), asked
    answered_after = [cluster.turns_answered(1), cluster.turns_answered(2)]
    assert all(
        after > before for after, before in zip(answered_after, answered_before, strict=True)
    ), (
        answered_before,
        answered_after,
    )
    # Both workers' writes are one history, in order, read back through either worker.
    for url in cluster.worker_urls:
        shown = cluster.get(url, f"/api/conversations/{conversation_id}")
        assert [(m["role"], m["content"][:20]) for m in shown["messages"]][::2] == [
            ("user", "Remember that my sis"),
            ("user", "What is the capital "),
        ]
        assert "paris" in shown["messages"][3]["content"].lower()


def test_a_client_secret_minted_by_one_worker_opens_a_session_on_the_other(
    cluster: Cluster,
) -> None:
    request = urllib.request.Request(
        cluster.worker_urls[0] + "/v1/realtime/client_secrets",
        data=b"{}",
        headers={"Authorization": f"Bearer {cluster.api_key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        secret = json.loads(response.read())["value"]
    minted_elsewhere = Cluster(cluster.directory, cluster.balancer_url, cluster.worker_urls, secret)
    _, words = asyncio.run(
        _turn(minted_elsewhere, "What is two plus two?", base_url=cluster.worker_urls[1])
    )
    assert "4" in words or "four" in words.lower()


async def _asked_until_the_worker_is_killed(cluster: Cluster) -> tuple[str, int, list[str]]:
    """Two answered questions, then a third cut by kill -9 of the worker serving the socket
    as its reply streams. Returns the conversation, the killed worker and what was answered."""
    answered: list[str] = []
    async with (
        AsyncOpenAI(base_url=cluster.balancer_url + "/v1", api_key=cluster.api_key) as client,
        client.realtime.connect(model="parley") as connection,
    ):
        conversation_id = ""
        questions = ["What is the capital of Italy?", "What is three plus three?"]
        for question in questions:
            await ask_in_text(connection, question)
            async for event in connection:
                if event.type == "response.done":
                    conversation_id = str(event.response.conversation_id)
                    answered.append(question)
                    break
        [serving] = [w for w in (1, 2) if cluster.sessions_open(w) == 1]
        await ask_in_text(connection, "Tell me a long story about a whale.")
        with pytest.raises(Exception):  # noqa: B017 - the socket dies with its worker, any way
            async for event in connection:
                if event.type == "response.output_audio.delta":
                    os.kill(cluster.worker_pid(serving), signal.SIGKILL)
                if event.type == "response.done":
                    raise AssertionError("the reply finished before the worker was killed")
    return conversation_id, serving, answered


def test_killing_a_worker_mid_session_the_client_reconnects_through_the_balancer_and_loses_nothing(
    cluster: Cluster,
) -> None:
    conversation_id, killed, answered = asyncio.run(_asked_until_the_worker_is_killed(cluster))
    survivor = 2 if killed == 1 else 1
    # Straight back through the balancer, before its health check has noticed the dead worker.
    same_id, words = asyncio.run(
        _turn(cluster, "What is the capital of Spain?", conversation_id=conversation_id)
    )
    assert same_id == conversation_id
    assert "madrid" in words.lower()
    shown = cluster.get(cluster.worker_urls[survivor - 1], f"/api/conversations/{conversation_id}")
    said = [(m["role"], m["content"]) for m in shown["messages"]]
    users = [content for role, content in said if role == "user"]
    # Every committed turn is there, in order; the cut question is kept as heard (its words).
    assert users[:2] == answered
    assert users[-1] == "What is the capital of Spain?"
    assert said[0] == ("user", answered[0]) and "rome" in said[1][1].lower()
    assert said[2] == ("user", answered[1]) and ("6" in said[3][1] or "six" in said[3][1].lower())
    assert "madrid" in said[-1][1].lower()
    assert cluster.sessions_open(survivor) == 0  # the resumed socket closed cleanly
