"""The labelled requests tool choice is measured on stay apart from what the router is fitted
to: a request copied into a tool's examples or the no-tool list would measure nothing."""

import re

from parley.bench.tool_requests import HELD_OUT_REQUESTS, LABELLED_REQUESTS
from parley.tools import builtin
from parley.tools.known_examples import KNOWN_EXAMPLES
from parley.tools.request_classifier import NEEDS_NO_TOOL


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def test_no_labelled_request_is_among_the_router_s_own_texts() -> None:
    fitted = {
        _words(text)
        for text in (
            *builtin._CLOCK_EXAMPLES,
            *builtin._RECALL_EXAMPLES,
            *builtin._REMEMBER_EXAMPLES,
            *builtin._GOODBYE_EXAMPLES,
            *builtin._SET_TIMER_EXAMPLES,
            *builtin._SET_REMINDER_EXAMPLES,
            *builtin._TIME_LEFT_EXAMPLES,
            *builtin._CANCEL_TIMER_EXAMPLES,
            *NEEDS_NO_TOOL,
            *(text for examples in KNOWN_EXAMPLES.values() for text in examples),
        )
    }
    labelled = [_words(r.words) for r in (*LABELLED_REQUESTS, *HELD_OUT_REQUESTS)]
    assert len(LABELLED_REQUESTS) >= 100
    assert not fitted & set(labelled)
    assert len(set(labelled)) == len(labelled), "a request is labelled twice"


def test_every_request_kind_has_a_label_of_known_tools() -> None:
    known = {"current_date_and_time", "get_current_time", "convert_time", "search_memory"}
    known |= {"remember", "end_conversation"}
    known |= {"set_timer", "set_reminder", "timers_left", "cancel_timer"}
    for request in (*LABELLED_REQUESTS, *HELD_OUT_REQUESTS):
        assert request.tools <= known, request
        assert bool(request.tools) == (request.kind not in {"general", "contains a tool's word"})
