"""How many calls one request makes of a tool, and which time zones it names: the same rule
for every tool, decided from the tool's own schema."""

from parley.tools.arguments import calls_for, time_zones_from_request
from parley.tools.hub import ToolSpec

CLOCK = ToolSpec(
    "time",
    "get_current_time",
    "The current time in a time zone.",
    {"properties": {"timezone": {"type": "string"}}, "required": ["timezone"]},
)
CONVERTER = ToolSpec(
    "time",
    "convert_time",
    "Convert a time between zones.",
    {
        "properties": {
            "source_timezone": {"type": "string"},
            "time": {"type": "string"},
            "target_timezone": {"type": "string"},
        },
        "required": ["source_timezone", "time", "target_timezone"],
    },
)
WEATHER = ToolSpec(
    "weather",
    "forecast",
    "Tomorrow's forecast.",
    {
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
)


def test_a_request_naming_several_places_calls_a_one_zone_tool_once_for_each() -> None:
    calls = calls_for(CLOCK, {"timezone": "Asia/Tokyo"}, "What time is it in Tokyo and in Paris?")
    assert calls == [{"timezone": "Asia/Tokyo"}, {"timezone": "Europe/Paris"}]


def test_any_tool_fans_out_over_the_values_of_its_enum_that_the_request_names() -> None:
    calls = calls_for(
        WEATHER, {"city": "Oslo"}, "Tomorrow in Oslo, in fahrenheit and in celsius please"
    )
    assert calls == [{"city": "Oslo", "unit": "fahrenheit"}, {"city": "Oslo", "unit": "celsius"}]


def test_a_from_to_pair_stays_one_call() -> None:
    arguments = {
        "source_timezone": "Asia/Tokyo",
        "time": "15:00",
        "target_timezone": "Europe/Paris",
    }
    assert calls_for(CONVERTER, arguments, "Convert 3 pm Tokyo time to Paris") == [arguments]


def test_a_valid_zone_the_llm_wrote_is_kept_and_a_wrong_one_is_taken_from_the_request() -> None:
    schema = {
        "properties": {"timezone": {"type": "string"}},
        "required": ["timezone"],
    }
    kept = time_zones_from_request(
        {"timezone": "Europe/Paris"}, schema, "What time is it in Paris?"
    )
    assert kept == {"timezone": "Europe/Paris"}
    repaired = time_zones_from_request({"timezone": "Paris"}, schema, "What time is it in Paris?")
    assert repaired == {"timezone": "Europe/Paris"}


def test_a_polite_request_tells_and_a_question_about_knowledge_calls_no_tool() -> None:
    from parley.tools.router import asks_for_knowledge, is_question

    assert not is_question("Can you set a timer for ten minutes?")
    assert not is_question("Could you please remind me to call Ana tomorrow?")
    assert is_question("Do you remember my name?")
    assert is_question("Can you tell me what time it is?")  # asks: nothing to change
    assert is_question("What is my name")
    assert asks_for_knowledge("What is a leap second?")
    assert asks_for_knowledge("How does a pressure cooker work?")
    assert not asks_for_knowledge("How does my timer work?")  # about the user's own things
    assert not asks_for_knowledge("What is the time in Tokyo?")
    assert asks_for_knowledge("How many days are there in a week?")
    assert asks_for_knowledge("How many legs does a spider have?")
    assert not asks_for_knowledge("How many minutes are left on the timer?")
    assert not asks_for_knowledge("How many days are there until Christmas?")
    # The calendar's order is knowledge; today's date is the clock's.
    assert asks_for_knowledge("Which month comes after October?")
    assert asks_for_knowledge("What day comes before Monday?")
    assert asks_for_knowledge("What is the last month of the year?")
    assert asks_for_knowledge("What is the day after Saturday?")
    assert asks_for_knowledge("What comes after Monday?")
    assert not asks_for_knowledge("What comes after today?")
    assert asks_for_knowledge("Which month is before March?")
    assert not asks_for_knowledge("What is the day after tomorrow?")
    assert not asks_for_knowledge("What day is it the day after tomorrow?")
    assert not asks_for_knowledge("What day is it today?")
    assert not asks_for_knowledge("What month is it?")
