"""A small MCP server that misbehaves on purpose, for Parley's fault tests (stdio)."""

import asyncio
import os
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("misbehaving")


@server.tool(description="Echo the text back.")
def echo(text: str) -> str:
    return text


@server.tool(description="Never answers in time.")
async def hang() -> str:
    await asyncio.sleep(3600)
    return "too late"


@server.tool(description="Fails with an error.")
def fail() -> str:
    raise RuntimeError("the database is on fire")


@server.tool(description="Returns megabytes of text.")
def flood() -> str:
    return "x" * (5 * 1024 * 1024)


@server.tool(description="Kills the server process mid-call.")
def crash() -> str:
    sys.stdout.flush()
    os._exit(3)


if __name__ == "__main__":
    server.run("stdio")
