"""The running tool servers and the router in front of them, shared by every session, and the
one way a user's turns get them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from parley.config.settings import McpConfig, Settings
from parley.models.contracts import JsonWriter
from parley.models.embedding import MiniLmEmbedder
from parley.tools.hub import ToolHub
from parley.tools.router import ToolRouter
from parley.tools.timers import TimerClock
from parley.tools.tool_reply import ToolAwareReply

if TYPE_CHECKING:
    from parley.memory.store import ConversationStore
    from parley.models.loaded import Backends


@dataclass
class Toolbox:
    """The running tool servers and the router in front of them, shared by every session."""

    hub: ToolHub
    router: ToolRouter
    filler_text: str
    filler_after_ms: int

    @classmethod
    async def start(
        cls,
        config: McpConfig,
        *,
        memory: Any,
        embedder: MiniLmEmbedder | None,
        writer: JsonWriter | None,
        timers: TimerClock | None = None,
    ) -> Toolbox:
        from parley.tools.builtin import make_builtin_server

        builtin = make_builtin_server(memory, timers) if config.builtin_tools else None
        hub = ToolHub(config, builtin=builtin)
        await hub.start()
        router = ToolRouter(hub, embedder, writer, threshold=config.route_threshold)
        await asyncio.to_thread(router.warm)
        return cls(hub, router, config.filler_text, config.filler_after_ms)

    def reply_for(self, llm: Any, request: str) -> ToolAwareReply:
        return ToolAwareReply(
            llm,
            self.router,
            self.hub,
            request=request,
            filler_text=self.filler_text,
            filler_after_ms=self.filler_after_ms,
        )

    async def close(self) -> None:
        await self.hub.close()


async def start_user_toolbox(
    settings: Settings, backends: Backends, store: ConversationStore, timers: TimerClock
) -> Toolbox:
    """The tools a user's turns get (configured MCP servers and the built-in ones, with memory):
    `talk`, `chat`, `serve` and `bench` all start them this way, so they run one pipeline."""
    from parley.memory.recall import MemoryRecall

    memory = MemoryRecall(store, backends.embedder) if settings.memory.is_enabled else None
    return await Toolbox.start(
        settings.mcp,
        memory=memory,
        embedder=backends.embedder,
        writer=backends.llm_capabilities.json_writer,
        timers=timers,
    )
