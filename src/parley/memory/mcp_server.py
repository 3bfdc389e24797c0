"""Parley as an MCP server over the user's memory and conversations, so other agents (Claude
Desktop, IDEs) can use a person's local voice history: `parley mcp` over stdio, and /mcp on
the HTTP server behind the same credentials as every other route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parley.memory.recall import MemoryRecall
from parley.memory.store import LOCAL_USER, ConversationStore
from parley.models.contracts import ChatMessage


def make_parley_mcp_server(
    store: ConversationStore | Callable[[], ConversationStore],
    memory: MemoryRecall | Callable[[], MemoryRecall],
    llm: Any | None,
) -> Any:
    """``store`` and ``memory`` may be given late (as getters), for a server whose models load
    after its routes are made."""
    get_store = store if callable(store) else (lambda: store)
    get_memory = memory if callable(memory) else (lambda: memory)
    return _make(get_store, get_memory, llm)


def _make(
    store_of: Callable[[], ConversationStore],
    memory_of: Callable[[], MemoryRecall],
    llm: Any | None,
) -> Any:
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(
        "parley",
        instructions="The user's local voice assistant: what they told it, and their conversations.",
    )

    @server.tool(
        description="Search what the user told Parley about themselves (name, preferences, facts)."
    )
    def search_memory(query: str, limit: int = 5) -> list[dict[str, Any]]:
        return [
            {"id": found.item.id, "text": found.item.text, "score": found.score}
            for found in memory_of().search(LOCAL_USER, query, limit=max(1, min(limit, 20)))
        ]

    @server.tool(description="The user's most recent conversations with Parley, newest first.")
    def list_conversations(limit: int = 20) -> list[dict[str, Any]]:
        return store_of().conversations(LOCAL_USER, limit=max(1, min(limit, 200)))

    @server.tool(description="Every message of one conversation, by id (see list_conversations).")
    def read_conversation(conversation_id: str) -> list[dict[str, Any]]:
        if not store_of().has_conversation(conversation_id, user_id=LOCAL_USER):
            raise ValueError(f"No conversation {conversation_id}.")
        return [
            {
                "role": m.role,
                "content": m.content,
                "is_interrupted": m.is_interrupted,
                "created_at": m.created_at,
            }
            for m in store_of().messages(conversation_id)
        ]

    if llm is not None:

        @server.tool(
            description="Ask Parley a question in text; it answers with what it knows about the user."
        )
        async def ask(question: str) -> str:
            facts = memory_of().recall_for_prompt(LOCAL_USER, question, budget_chars=600)
            context = " ".join(facts)
            messages = [
                ChatMessage("system", "You are Parley, the user's assistant. Answer briefly."),
                ChatMessage(
                    "user",
                    f"(What I told you before: {context})\n{question}" if facts else question,
                ),
            ]
            model = llm() if callable(llm) and not hasattr(llm, "stream") else llm
            return "".join([delta async for delta in model.stream(messages)]).strip()

    return server
