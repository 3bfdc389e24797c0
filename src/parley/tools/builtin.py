"""Parley's own tools, served by an in-process MCP server so they take the same path as any
configured server's: the date and time, memory, and ending the conversation."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parley.memory.facts import third_person
from parley.memory.recall import MemoryRecall
from parley.memory.store import LOCAL_USER


def make_builtin_server(memory: MemoryRecall | None) -> Any:
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    read_only = ToolAnnotations(read_only_hint=True)

    server = MCPServer("parley", instructions="Parley's built-in tools.")

    @server.tool(
        description="Today's date and the current local time on this computer, or in a given "
        "IANA time zone. Answers: what time is it, what day is it, what is the date today.",
        annotations=read_only,
    )
    def current_date_and_time(timezone: str = "") -> str:
        try:
            zone = ZoneInfo(timezone) if timezone else None
        except (ZoneInfoNotFoundError, ValueError):
            return f"Unknown time zone {timezone!r}; use an IANA name such as Europe/Paris."
        now = datetime.datetime.now(zone).astimezone(zone)
        clock = now.strftime("%I:%M %p").lstrip("0")
        where = f" in {timezone}" if timezone else ""
        return f"It is {clock}{where} on {now.strftime('%A %d %B %Y')}."

    if memory is not None:

        @server.tool(
            description="Search what the user told you before: their name, preferences and facts about them.",
            annotations=read_only,
        )
        def search_memory(query: str) -> str:
            found = memory.search(LOCAL_USER, query, limit=5)
            return "\n".join(r.item.text for r in found) or "Nothing remembered about that."

        @server.tool(
            description="Remember a fact the user wants you to keep, in their own words.",
            annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False),
        )
        def remember(fact: str) -> str:
            text = third_person(fact)
            return (
                f"Remembered: {text}"
                if memory.remember(LOCAL_USER, text)
                else f"Already known: {text}"
            )

    @server.tool(
        description="End the conversation when the user says goodbye or asks to stop talking.",
        annotations=read_only,
    )
    def end_conversation() -> str:
        # The words a reply may say as they are: a small model often repeats a tool's answer,
        # so the answer is the goodbye itself, never an instruction. Nothing hangs up: ending
        # a conversation is the user's or their client's to do.
        return "Goodbye, talk to you soon!"

    return server
