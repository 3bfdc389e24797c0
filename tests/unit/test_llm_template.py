"""What llama.cpp's chat templates are given for a tool call: its arguments as an object."""

import jinja2

from parley.models.contracts import ChatMessage, ToolCallRecord
from parley.models.llama_cpp_llm import template_message

# The part of Qwen2.5's own chat template that writes a tool call.
QWEN_TOOL_CALL = (
    '{"name": "{{ call.function.name }}", "arguments": {{ call.function.arguments | tojson }}}'
)


def test_a_tool_calls_arguments_reach_the_template_as_an_object() -> None:
    message = ChatMessage(
        "assistant", "", tool_calls=(ToolCallRecord("call_0", "get_weather", '{"city": "Paris"}'),)
    )
    shaped = template_message(message)
    written = jinja2.Environment().from_string(QWEN_TOOL_CALL).render(call=shaped["tool_calls"][0])
    assert "\\" not in written  # quoted once, as the model was trained on
    assert '"arguments": {"city": "Paris"}' in written
    # OpenAI's own shape keeps the JSON string (an OpenAI-compatible server wants that).
    assert message.as_openai()["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'
