"""The Wyoming transport's own parts, without a server: the bounded event reader, the audio
converter, the streamed transcript and Home Assistant's VAD sensitivity."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from wyoming.event import Event

from parley.server.wyoming.audio_in import AudioFormat, AudioFormatError, AudioIn
from parley.server.wyoming.framing import FrameError, read_event
from parley.server.wyoming.transcript_stream import TranscriptStream
from parley.server.wyoming.transcription import end_silence_for


def reader_of(raw: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=1024)
    reader.feed_data(raw)
    reader.feed_eof()
    return reader


async def test_an_event_with_data_and_payload_is_read_whole() -> None:
    data = json.dumps({"text": "hello"}).encode()
    raw = (
        json.dumps(
            {"type": "x", "data": {"a": 1}, "data_length": len(data), "payload_length": 3}
        ).encode()
        + b"\n"
        + data
        + b"abc"
    )
    reader = reader_of(raw)
    event = await read_event(reader, max_bytes=100)
    assert event == Event("x", {"a": 1, "text": "hello"}, b"abc")
    assert await read_event(reader, max_bytes=100) is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not json\n", "bad_json"),
        (b"[1, 2]\n", "bad_json"),
        (b'{"data": {}}\n', "missing_type"),
        (b'{"type": "x", "data": [1]}\n', "bad_data"),
        (b'{"type": "x", "payload_length": -1}\n', "bad_length"),
        (b'{"type": "x", "payload_length": "9"}\n', "bad_length"),
        (b'{"type": "x", "payload_length": 101}\n', "too_large"),
        (b'{"type": "x", "payload_length": 10}\nabc', "truncated"),
        (b'{"type": "x"', "truncated"),
        (b'{"type": "' + b"x" * 2000 + b'"}\n', "header_too_long"),
    ],
)
async def test_a_fault_in_the_bytes_says_what_it_is(raw: bytes, code: str) -> None:
    with pytest.raises(FrameError) as raised:
        await read_event(reader_of(raw), max_bytes=100)
    assert raised.value.code == code


def test_audio_of_any_width_and_channels_becomes_16_khz_mono() -> None:
    tone = (np.sin(np.arange(16_000) / 10) * 10_000).astype(np.int16)
    converter = AudioIn()
    stereo = np.repeat(tone[:, None], 2, axis=1).tobytes()
    assert np.array_equal(converter.convert(stereo, AudioFormat(16_000, 2, 2)), tone)
    eight_bit = ((tone.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes()
    heard = AudioIn().convert(eight_bit, AudioFormat(16_000, 1, 1))
    assert np.max(np.abs(heard.astype(np.int32) - tone)) <= 256
    thirty_two = (tone.astype(np.int32) << 16).tobytes()
    assert np.array_equal(AudioIn().convert(thirty_two, AudioFormat(16_000, 4, 1)), tone)


def test_a_rate_change_mid_stream_loses_no_audio() -> None:
    converter = AudioIn()
    first = np.zeros(48_000, np.int16)  # 1 s at 48 kHz
    second = np.zeros(22_050, np.int16)  # 1 s at 22,050 Hz
    out = converter.convert(first.tobytes(), AudioFormat(48_000, 2, 1))
    out = np.concatenate([out, converter.convert(second.tobytes(), AudioFormat(22_050, 2, 1))])
    out = np.concatenate([out, converter.flush()])
    assert abs(out.size - 32_000) <= 2  # two seconds, at 16 kHz


def test_audio_that_is_not_whole_samples_or_an_odd_format_is_refused() -> None:
    with pytest.raises(AudioFormatError, match="whole number"):
        AudioIn().convert(b"\x00" * 3, AudioFormat(16_000, 2, 1))
    with pytest.raises(AudioFormatError, match="width"):
        AudioFormat.of({"rate": 16_000, "width": 3, "channels": 1})
    with pytest.raises(AudioFormatError, match="rate"):
        AudioFormat.of({"rate": 1, "width": 2, "channels": 1})
    with pytest.raises(AudioFormatError, match="integer"):
        AudioFormat.of({"rate": "16000", "width": 2, "channels": 1})


async def test_streamed_words_are_never_taken_back_and_the_final_says_all() -> None:
    written: list[Event] = []

    async def write(event: Event) -> None:
        written.append(event)

    stream = TranscriptStream(write, language="en")
    await stream.partial("Turn on")  # "on" may be cut off: held back
    await stream.partial("Turn on the kitch")
    await stream.partial("Turn off the kitchen light")  # disagrees with "on": adds nothing
    await stream.final("Turn on the kitchen light.")
    await stream.partial("Turn on the kitchen light please")  # too late: ignored
    kinds = [event.type for event in written]
    assert kinds == [
        "transcript-start",
        "transcript-chunk",
        "transcript-chunk",
        "transcript-chunk",
        "transcript",
        "transcript-stop",
    ]
    chunks = [event.data["text"] for event in written if event.type == "transcript-chunk"]
    assert chunks == ["Turn", " on the", " kitchen light."]
    assert written[4].data == {"text": "Turn on the kitchen light.", "language": "en"}


def test_home_assistants_vad_sensitivity_scales_the_end_of_turn_silence() -> None:
    assert end_silence_for("relaxed", 500) == 1000
    assert end_silence_for("default", 500) == 500
    assert end_silence_for("aggressive", 500) == 300
    assert end_silence_for(None, 500) == 500
    assert end_silence_for("whatever", 500) == 500
    assert end_silence_for("aggressive", 100) == 160
