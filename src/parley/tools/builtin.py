"""Parley's own tools, served by an in-process MCP server so they take the same path as any
configured server's: the date and time, memory, and ending the conversation."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from parley.memory.fact_voice import second_person
from parley.memory.facts import third_person
from parley.memory.recall import MemoryRecall
from parley.memory.store import LOCAL_USER
from parley.tools.hub import EXAMPLES_META_KEY, REMEMBER_TOOL
from parley.tools.speakable import NOTHING_REMEMBERED
from parley.tools.spoken_time import moment_sentence
from parley.tools.timers import TimerClock

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

# Requests in a user's words that call each tool, for the router (tools.router). They are
# written apart from the labelled set tool choice is measured on (bench.tool_requests).
_CLOCK_EXAMPLES = [
    "what time is it now",
    "tell me the time",
    "what's the date",
    "which day is today",
    "what day of the week is it today",
    "is today a weekday",
    "what is the current year and month",
    "what hour is it",
    "what time is it in Rome",
    "the current time in Mexico City",
    "is it evening in Seoul now",
]
_RECALL_EXAMPLES = [
    "what is my name",
    "do you know where I was born",
    "what did I tell you my hobby was",
    "what's my son called",
    "do you remember my favourite film",
    "what have I told you about myself",
    "which city do I live in",
    "what do I do for work",
    "when is my anniversary",
    "what's my cat's name again",
    "which sport did I say I play",
    "when did I say my holiday starts",
]
_REMEMBER_EXAMPLES = [
    "remember that my name is Sam",
    "please remember my birthday is in June",
    "I'm allergic to cats, keep that in mind",
    "remember that I live in Porto",
    "don't forget my wife is called Maria",
    "note that I like jazz",
    "my favourite food is curry, please remember it",
    "save the fact that I am a nurse",
    "keep in mind that I have two kids",
    "I want you to know that my mother is called Rosa",
    "make a note: my bike is red",
    "bear in mind that I'm left-handed",
    "my phone number ends in 42, remember",
]
_GOODBYE_EXAMPLES = [
    "ok bye now",
    "goodbye then",
    "see you later",
    "bye bye, thanks",
    "ok that's all, goodbye",
    "gotta run, see ya",
    "thank you, see you tomorrow",
    "good night",
    "we are done, bye",
    "talk to you later",
]


_SET_TIMER_EXAMPLES = [
    "set a timer for five minutes",
    "start a ten minute timer",
    "timer for twenty minutes please",
    "can you set a pasta timer for 12 minutes",
    "count down three minutes",
    "put a timer on for half an hour",
    "I need a timer for the rice, 15 minutes",
    "time me for two minutes",
    "start a countdown of 90 seconds",
    "set an egg timer for six minutes",
    "set the timer to four minutes",
    "give me a 30 second timer",
    "can you time 20 minutes for me",
    "I'd like a timer of one hour",
    "begin a three minute countdown",
]
_SET_REMINDER_EXAMPLES = [
    "remind me to call mum at 5",
    "remind me in an hour to take the laundry out",
    "set an alarm for 7 am",
    "wake me up at six thirty",
    "remind me tomorrow morning to buy bread",
    "don't let me forget to water the plants at 8",
    "set a reminder for my meeting at 3 pm",
    "remind me about the dentist on Tuesday",
    "can you remind me to feed the cat tonight",
    "alarm at 6:45 tomorrow",
    "remind me this evening to lock the door",
    "please remind me on Sunday to ring grandma",
    "set my alarm for half past five",
    "I need a reminder at 4 to pick up the kids",
    "alert me in 30 minutes to check the washing",
    "wake me in twenty minutes",
]
_TIME_LEFT_EXAMPLES = [
    "how long is left on my timer",
    "how much time is left",
    "how many minutes are left on the pasta timer",
    "when will my timer go off",
    "what timers do I have",
    "is my timer still running",
    "what reminders have I set",
    "how long until the alarm",
    "is the timer done yet",
    "how long have I got left on it",
    "when does my reminder go off",
    "check my timer",
]
_CANCEL_TIMER_EXAMPLES = [
    "cancel the timer",
    "stop the pasta timer",
    "delete my reminder",
    "cancel my alarm",
    "turn off the timer",
    "never mind the timer",
    "cancel all my timers",
    "remove the reminder about the dentist",
    "delete the timer",
    "I don't need the timer any more",
    "switch off my alarm",
]
_REQUEST = "the user's request, word for word"


def make_builtin_server(memory: MemoryRecall | None, timers: TimerClock | None = None) -> Any:
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    read_only = ToolAnnotations(read_only_hint=True)

    server = MCPServer("parley", instructions="Parley's built-in tools.")

    @server.tool(
        description="Today's date and the current local time on this computer, or in a given "
        "IANA time zone. Answers: what time is it, what day is it, what is the date today.",
        annotations=read_only,
        meta={EXAMPLES_META_KEY: _CLOCK_EXAMPLES},
    )
    def current_date_and_time(timezone: str = "") -> str:
        try:
            zone = ZoneInfo(timezone) if timezone else None
        except (ZoneInfoNotFoundError, ValueError):
            return f"Unknown time zone {timezone!r}; use an IANA name such as Europe/Paris."
        now = datetime.datetime.now(zone).astimezone(zone)
        return moment_sentence(now, timezone or None)

    if memory is not None:

        @server.tool(
            description="Search what the user told you before: their name, preferences and facts about them.",
            annotations=read_only,
            meta={EXAMPLES_META_KEY: _RECALL_EXAMPLES},
        )
        def search_memory(request: str) -> str:
            # Handed the user's question word for word (tools.arguments): it is what the facts
            # are weighed against, and no model need spend ~0.6 s writing it again.
            return "\n".join(memory.answering(LOCAL_USER, request)) or NOTHING_REMEMBERED

        @server.tool(
            name=REMEMBER_TOOL,
            description="Remember a fact the user wants you to keep, in their own words.",
            annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False),
            meta={EXAMPLES_META_KEY: _REMEMBER_EXAMPLES},
        )
        def remember(fact: str) -> str:
            # Said to the user as it is (tools.speakable): in their own person.
            text = third_person(fact)
            said = second_person(text).rstrip(".")
            said = said[0].lower() + said[1:] if said else said
            if memory.remember(LOCAL_USER, text):
                return f"OK, I'll remember that {said}."
            return f"I know: {said}."

    if timers is not None:
        _add_timer_tools(server, timers)

    @server.tool(
        description="End the conversation when the user says goodbye or asks to stop talking.",
        annotations=read_only,
        meta={EXAMPLES_META_KEY: _GOODBYE_EXAMPLES},
    )
    def end_conversation() -> str:
        # The words a reply may say as they are: a small model often repeats a tool's answer,
        # so the answer is the goodbye itself, never an instruction. Nothing hangs up: ending
        # a conversation is the user's or their client's to do.
        return "Goodbye, talk to you soon!"

    return server


def _add_timer_tools(server: MCPServer, timers: TimerClock) -> None:
    """Timers and reminders. Each takes the user's words as they are (tools.router fills an
    argument named ``request`` with them): durations and times are read by tools.when, never
    worked out by the LLM."""
    from mcp.types import ToolAnnotations

    changes = ToolAnnotations(read_only_hint=False, destructive_hint=False)

    @server.tool(
        description="Set a countdown timer for a length of time (minutes, seconds, hours), "
        "optionally named (a pasta timer).",
        annotations=changes,
        meta={EXAMPLES_META_KEY: _SET_TIMER_EXAMPLES},
    )
    def set_timer(request: Annotated[str, Field(description=_REQUEST)]) -> str:
        return timers.set_timer(request)

    @server.tool(
        description="Set a reminder or an alarm for a time of day or a day (at 6:30, tomorrow "
        "at noon, in an hour), optionally with what to remind the user of.",
        annotations=changes,
        meta={EXAMPLES_META_KEY: _SET_REMINDER_EXAMPLES},
    )
    def set_reminder(request: Annotated[str, Field(description=_REQUEST)]) -> str:
        return timers.set_reminder(request)

    @server.tool(
        description="How long is left on the user's timers, and when their reminders and "
        "alarms are due.",
        annotations=ToolAnnotations(read_only_hint=True),
        meta={EXAMPLES_META_KEY: _TIME_LEFT_EXAMPLES},
    )
    def timers_left(request: Annotated[str, Field(description=_REQUEST)]) -> str:
        return timers.time_left(request)

    @server.tool(
        description="Cancel a running timer, reminder or alarm (the one named, or the only one).",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True),
        meta={EXAMPLES_META_KEY: _CANCEL_TIMER_EXAMPLES},
    )
    def cancel_timer(request: Annotated[str, Field(description=_REQUEST)]) -> str:
        return timers.cancel(request)
