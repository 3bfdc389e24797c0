"""Requests for the tools of MCP servers people commonly configure, for the router.

A server's tool descriptions are written for a model that reads them all ("Get current time in
a specific timezones"), not for comparing with what a user says; a tool with only that to go
by loses "What time is it in Tokyo?" to requests that merely talk about time. The reference
servers publish no examples of their own (Parley's built-in ones do, in `_meta`), so Parley
knows a few for theirs, by tool name. A server's config can add more (`examples:`).
Written apart from the labelled set tool choice is measured on (bench.tool_requests).
"""

from __future__ import annotations

KNOWN_EXAMPLES: dict[str, tuple[str, ...]] = {
    # mcp-server-time
    "get_current_time": (
        "current time in Nairobi",
        "what's the time over in Lagos now",
        "is it daytime in Hong Kong",
        "what's the date in Lima today",
        "the time now in Karachi",
    ),
    "convert_time": (
        "if it's 5 pm in Rome what time is it in Seoul",
        "convert 9:30 Lima time to Cairo time",
        "when it is midnight in Denver, what time is it in Oslo",
        "what's 6 am in Madrid in Mumbai time",
    ),
}
