"""A tool call's arguments from the request's own words: the values it names for each argument
(an enum's, a city's time zone), one call per value when it names several."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from parley.tools.hub import ToolSpec

# A tool argument of this name is given the user's request word for word (a tool that reads
# times and durations itself is not handed the small LLM's paraphrase of them).
REQUEST_ARGUMENT = "request"


def calls_for(tool: ToolSpec, arguments: dict[str, Any], request: str) -> list[dict[str, Any]]:
    """One call per value when the request names several for one argument ("in Tokyo and in
    Paris", "in celsius and fahrenheit"), else the one call. The same rule for every tool: the
    values an argument can take are found in the request by the argument's kind (its enum, or
    a time zone's city), and only an argument with several named values is fanned out."""
    schema = argument_schema(tool.input_schema)
    several = [
        (name, values)
        for name, spec in schema["properties"].items()
        if len(values := _named_values(name, spec, request)) >= 2
    ]
    if len(several) != 1:
        return [arguments]  # none, or several arguments named twice (a from/to pair): one call
    name, values = several[0]
    return [{**arguments, name: value} for value in values]


def _named_values(name: str, spec: dict[str, Any], request: str) -> list[str]:
    """The values of one argument that the request names, in the order named."""
    if isinstance(enum := spec.get("enum"), list):
        lowered = request.lower()
        named = [(lowered.find(str(v).lower()), str(v)) for v in enum if str(v).lower() in lowered]
        return [value for _position, value in sorted(named)]
    if _is_time_zone_field(name):
        return named_time_zones(request)
    return []


def _is_time_zone_field(name: str) -> bool:
    lowered = name.lower()
    return "timezone" in lowered or "time_zone" in lowered


def time_zones_from_request(
    arguments: dict[str, Any], schema: dict[str, Any], request: str
) -> dict[str, Any]:
    """Time-zone arguments the LLM left out or got wrong, taken from the cities the user named.

    The small model knows "Tokyo" is Asia/Tokyo but not that Paris is Europe/Paris; the IANA
    database itself does, and it is exact. A zone the LLM wrote is kept if the request names it;
    the named zones fill the other fields in the order they were named.
    """

    fields = [name for name in schema["properties"] if _is_time_zone_field(name)]
    if not fields:
        return arguments
    zones = named_time_zones(request)
    if not zones:
        # None named: leave optional zone fields out, so a tool uses its own local time.
        optional = [name for name in fields if name not in schema["required"]]
        return {key: value for key, value in arguments.items() if key not in optional}
    # A zone the LLM wrote is kept only if the request names it: asked about London and
    # Sydney, the small model has written New York.
    repaired = {
        key: value for key, value in arguments.items() if key not in fields or value in zones
    }
    unused = [zone for zone in zones if zone not in repaired.values()]
    for name in fields:
        if name not in repaired and unused:
            repaired[name] = unused.pop(0)
    return repaired


def named_time_zones(text: str) -> list[str]:
    """IANA zones whose city is named in ``text``, in the order they appear."""
    from zoneinfo import available_timezones

    lowered = text.lower()
    found: list[tuple[int, str]] = []
    for zone in available_timezones():
        if "/" not in zone or zone.startswith(("Etc/", "SystemV/", "US/")):
            continue
        city = zone.rsplit("/", 1)[1].replace("_", " ").lower()
        position = lowered.find(city)
        if position >= 0 and len(city) > 3 and not any(z == zone for _, z in found):
            found.append((position, zone))
    found.sort()
    unique: list[str] = []
    for _, zone in found:
        if zone not in unique:
            unique.append(zone)
    return unique


def argument_schema(input_schema: dict[str, Any]) -> dict[str, Any]:
    properties = {
        name: {key: value for key, value in spec.items() if key in {"type", "description", "enum"}}
        for name, spec in (input_schema.get("properties") or {}).items()
        if isinstance(spec, dict)
    }
    for spec in properties.values():
        spec.setdefault("type", "string")
    return {
        "type": "object",
        "properties": properties,
        "required": list(input_schema.get("required") or []),
    }


# A time of day as people say it: "9 am", "10:30", "noon", "three pm", "8 in the evening".
_CLOCK_TIME = re.compile(
    r"\b(\d{1,2}(:\d{2})?\s*(am|pm|a\.m\.|p\.m\.|o'clock)|\d{1,2}:\d{2}|noon|midday|midnight"
    r"|(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+(am|pm|o'clock)"
    r"|in the (morning|afternoon|evening))\b",
    re.IGNORECASE,
)


def _time_zone_fields(tool: ToolSpec) -> list[str]:
    return [n for n in argument_schema(tool.input_schema)["properties"] if _is_time_zone_field(n)]


def fitting_tool(chosen: ToolSpec, offered: Sequence[ToolSpec], request: str) -> ToolSpec:
    """Between time tools, the one whose arguments the request fills: a time of day named in
    one zone and asked for in another ("If it is 9 am in London, what time is it in Sydney?")
    is a conversion, which takes two zones; anything else is a clock, which takes at most one.
    Sentence vectors tell time requests from others, but not these two apart."""
    zone_count = len(_time_zone_fields(chosen))
    if not zone_count:
        return chosen
    is_conversion = bool(_CLOCK_TIME.search(request)) and len(named_time_zones(request)) >= 2
    if is_conversion == (zone_count >= 2):
        return chosen
    fitting = [
        tool
        for tool in offered
        if (count := len(_time_zone_fields(tool))) and (count >= 2) == is_conversion
    ]
    return fitting[0] if fitting else chosen
