"""Tools through MCP: Parley is a client of the configured servers and of its own built-in one.

Each server is held open by a supervisor task (the `mcp` SDK's client must be entered and left
in one task); calls reach it through a queue and run concurrently. A server that fails to
start or dies is restarted with back-off, and its tools are reported as down meanwhile; a call
that arrives then waits for it, within the call timeout. A call that overruns its timeout is
cancelled alone: the server's session and its other tools stay up.
Every failure a tool can have becomes a `ToolResult` with `is_error`, never an exception in the
turn, so the model can still say something useful.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from parley.config.settings import McpConfig, McpServerConfig
from parley.tools.known_examples import KNOWN_EXAMPLES

log = logging.getLogger(__name__)

_RESTART_DELAYS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
BUILTIN_SERVER = "parley"
# The built-in tool that stores a fact: called only on a clear request to remember (router).
REMEMBER_TOOL = "remember"
END_CONVERSATION_TOOL = "end_conversation"
# The key of a tool's MCP `_meta` under which a server lists requests that call it.
EXAMPLES_META_KEY = "parley/examples"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]
    # The tool says it changes something (MCP's readOnlyHint stated false): a question, which
    # only asks, never calls it. A tool that says nothing is not presumed either way.
    is_writing: bool = False
    # Requests that call this tool, in a user's words: the router compares a request with them
    # as well as with the description. From the tool's `_meta` (EXAMPLES_META_KEY) or config.
    examples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolResult:
    name: str
    arguments: dict[str, Any]
    text: str
    is_error: bool
    duration_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arguments": self.arguments,
            "result": self.text,
            "is_error": self.is_error,
            "duration_ms": round(self.duration_ms, 1),
        }


@dataclass
class _Call:
    name: str
    arguments: dict[str, Any]
    reply: asyncio.Future[tuple[str, bool]]
    deadline: float  # event-loop time by which the call must have answered


@dataclass
class _Server:
    name: str
    target: Callable[[], Any]  # builds what mcp.Client connects to
    # Requests that call each tool, from the server's config (McpServerConfig.examples).
    examples: dict[str, list[str]] = field(default_factory=dict)
    # The tools of the last listing; kept while the server restarts, so that a call for one of
    # them can wait for the server to come back.
    tools: list[ToolSpec] = field(default_factory=list)
    last_error: str = ""
    calls: asyncio.Queue[_Call] = field(default_factory=asyncio.Queue)
    supervisor: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # up, or failed once at start
    up: asyncio.Event = field(default_factory=asyncio.Event)
    starts: int = 0  # sessions opened so far; a restart adds one

    @property
    def is_up(self) -> bool:
        return self.up.is_set()


def _client_target(config: McpServerConfig) -> Callable[[], Any]:
    def build() -> Any:
        if config.url is not None:
            if config.headers:
                import httpx2
                from mcp.client.streamable_http import streamable_http_client

                return streamable_http_client(
                    config.url, http_client=httpx2.AsyncClient(headers=config.headers)
                )
            return config.url
        from mcp.client.stdio import StdioServerParameters

        assert config.command is not None
        return StdioServerParameters(
            command=config.command[0], args=config.command[1:], env=config.env or None
        )

    return build


def _text_of(result: Any) -> str:
    parts = []
    for block in getattr(result, "content", None) or []:
        text = getattr(block, "text", None)
        parts.append(text if text is not None else f"[{getattr(block, 'type', 'content')}]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content))
    return "\n".join(parts)


class ToolHub:
    """All tools of all servers, callable by name."""

    def __init__(self, config: McpConfig, *, builtin: Any | None = None) -> None:
        self._config = config
        self._servers: dict[str, _Server] = {}
        # Told of every call's result (the server's metrics time each tool).
        self.call_observers: list[Callable[[ToolResult], None]] = []
        if builtin is not None:
            self._servers[BUILTIN_SERVER] = _Server(BUILTIN_SERVER, lambda: builtin)
        for server in config.servers:
            if server.name in self._servers:
                log.warning("MCP server name %r is used twice; the second is ignored", server.name)
                continue
            self._servers[server.name] = _Server(
                server.name, _client_target(server), examples=server.examples
            )

    async def start(self, *, wait_s: float = 20.0) -> None:
        """Start every server; wait (a bounded time) until each is up or has failed once."""
        for server in self._servers.values():
            server.supervisor = asyncio.create_task(
                self._supervise(server), name=f"mcp-{server.name}"
            )
        waits = [asyncio.create_task(s.ready.wait()) for s in self._servers.values()]
        if waits:
            await asyncio.wait(waits, timeout=wait_s)
            for wait in waits:
                wait.cancel()

    async def close(self) -> None:
        for server in self._servers.values():
            if server.supervisor is not None:
                server.supervisor.cancel()
        for server in self._servers.values():
            if server.supervisor is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await server.supervisor

    def status(self) -> list[tuple[str, bool, str, list[ToolSpec]]]:
        return [(s.name, s.is_up, s.last_error, list(s.tools)) for s in self._servers.values()]

    def session_starts(self, server_name: str) -> int:
        """How many sessions the server has had: 1 means it never had to be restarted."""
        return self._servers[server_name].starts

    def tools(self) -> list[ToolSpec]:
        return [tool for server in self._servers.values() if server.is_up for tool in server.tools]

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        timeout_s = self._config.call_timeout_s
        deadline = loop.time() + timeout_s

        def result(text: str, is_error: bool) -> ToolResult:
            limit = self._config.max_result_chars
            if len(text) > limit:
                text = text[:limit] + f" … [cut: {len(text):,} characters in all]"
            called = ToolResult(
                name, arguments, text, is_error, (time.perf_counter() - started) * 1000
            )
            for observer in self.call_observers:
                observer(called)
            return called

        owners = [s for s in self._servers.values() if any(t.name == name for t in s.tools)]
        server = next((s for s in owners if s.is_up), owners[0] if owners else None)
        if server is None:
            return result(f"There is no tool named {name!r} available right now.", True)
        if not server.is_up:
            try:  # restarting: wait for it rather than fail a call it will answer in a moment
                await asyncio.wait_for(server.up.wait(), timeout=deadline - loop.time())
            except TimeoutError:
                return result(
                    f"The tool {name} is unavailable: its server {server.name} is restarting "
                    f"({server.last_error or 'no answer'}).",
                    True,
                )
        reply: asyncio.Future[tuple[str, bool]] = loop.create_future()
        server.calls.put_nowait(_Call(name, arguments, reply, deadline))
        try:
            # The server side enforces the deadline and cancels the call there; this bound only
            # guards against a supervisor that never picks the call up.
            text, is_error = await asyncio.wait_for(reply, timeout=timeout_s + 1.0)
        except TimeoutError:
            text, is_error = _timed_out(name, timeout_s), True
        return result(text, is_error)

    async def _supervise(self, server: _Server) -> None:
        from mcp import Client

        attempt = 0
        while True:
            try:
                # No session-wide read timeout: each call has its own deadline, and one slow call
                # must not end the session that its server's other tools share.
                async with Client(server.target()) as client:
                    listed = await asyncio.wait_for(
                        client.list_tools(), timeout=self._config.call_timeout_s
                    )
                    server.tools = [
                        ToolSpec(
                            server.name,
                            t.name,
                            t.description or "",
                            dict(t.input_schema or {}),
                            is_writing=t.annotations is not None
                            and t.annotations.read_only_hint is False,
                            examples=_examples_of(t.name, t.meta, server.examples.get(t.name, [])),
                        )
                        for t in listed.tools
                    ]
                    server.last_error, attempt = "", 0
                    server.starts += 1
                    server.up.set()
                    server.ready.set()
                    log.info("MCP server %s is up with %d tools", server.name, len(server.tools))
                    await self._serve_calls(server, client)
            except asyncio.CancelledError:
                server.up.clear()
                raise
            except BaseException as error:  # a dead or broken server: restart it, never crash
                server.up.clear()
                server.last_error = _describe(error)
                server.ready.set()
                log.warning("MCP server %s failed: %s", server.name, server.last_error)
            server.up.clear()
            delay = _RESTART_DELAYS_S[min(attempt, len(_RESTART_DELAYS_S) - 1)]
            attempt += 1
            await asyncio.sleep(delay)

    async def _serve_calls(self, server: _Server, client: Any) -> None:
        failures: asyncio.Queue[BaseException] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def run(call: _Call) -> None:
            try:
                response = await asyncio.wait_for(
                    client.call_tool(call.name, call.arguments),
                    timeout=max(0.0, call.deadline - loop.time()),
                )
                outcome = (_text_of(response), bool(getattr(response, "is_error", False)))
            except TimeoutError:
                # Cancelled on its own; the session and the server's other tools stay up.
                outcome = (_timed_out(call.name, self._config.call_timeout_s), True)
            except Exception as error:
                # Tool-level failures arrive as results; an exception means the session itself
                # broke (the process died, the pipe closed): start afresh.
                outcome = (f"The tool {call.name} failed: {_describe(error)}", True)
                server.up.clear()  # before the caller hears of it: its next call waits for the restart
                failures.put_nowait(error)
            if not call.reply.done():
                call.reply.set_result(outcome)

        running: dict[asyncio.Task[None], _Call] = {}
        try:
            while True:
                get_call = asyncio.create_task(server.calls.get())
                get_failure = asyncio.create_task(failures.get())
                done, _ = await asyncio.wait(
                    {get_call, get_failure}, return_when=asyncio.FIRST_COMPLETED
                )
                get_call.cancel()
                get_failure.cancel()
                if get_call in done and not get_call.cancelled():
                    call = get_call.result()
                    if get_failure in done:
                        server.calls.put_nowait(call)  # for the next session, not lost
                    else:
                        task = asyncio.create_task(run(call))
                        running[task] = call
                        task.add_done_callback(lambda done_task: running.pop(done_task, None))
                if get_failure in done and not get_failure.cancelled():
                    raise get_failure.result()
        finally:
            for task, call in list(running.items()):
                task.cancel()
                if not call.reply.done():
                    call.reply.set_result(
                        (f"The tool {call.name} failed: its server {server.name} stopped.", True)
                    )


def _timed_out(name: str, timeout_s: float) -> str:
    return f"The tool {name} did not answer within {timeout_s:g} s."


def _describe(error: BaseException) -> str:
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in error.exceptions)
    return f"{type(error).__name__}: {error}"[:300]


def _examples_of(name: str, meta: dict[str, Any] | None, configured: list[str]) -> tuple[str, ...]:
    """The tool's own examples (its `_meta`), or those Parley knows for a common server's tool
    of that name, then those its server's config adds."""
    listed = (meta or {}).get(EXAMPLES_META_KEY)
    own = [e for e in listed if isinstance(e, str)] if isinstance(listed, list) else []
    return tuple(dict.fromkeys([*(own or KNOWN_EXAMPLES.get(name, ())), *configured]))
