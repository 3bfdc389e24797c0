import json
import logging

from parley.ops.log_format import JsonFormatter, current_session, redacted


def test_credentials_never_reach_a_log_line() -> None:
    line = redacted(
        "key pk-test-xxxxxxxxxxxxxxxxxxxx, header Bearer abc.def, code "
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsb2NhbCJ9.tRYrVYC2mUY30LDTc"
    )
    assert line == "key [redacted], header [redacted], code [redacted]"


def test_a_json_line_names_its_session() -> None:
    record = logging.LogRecord(
        "parley.session", logging.INFO, __file__, 1, "heard %r", ("hi",), None
    )
    token = current_session.set("conv-1")
    try:
        record.session = current_session.get()
        entry = json.loads(JsonFormatter().format(record))
    finally:
        current_session.reset(token)
    assert entry["message"] == "heard 'hi'" and entry["session"] == "conv-1"
    assert entry["level"] == "info" and entry["logger"] == "parley.session"
