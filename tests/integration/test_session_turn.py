"""A spoken turn through the live pipeline, in process, with the real models."""

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parley.audio.frames import AudioReady
from parley.audio.pcm import decode_file
from parley.audio.virtual_devices import (
    CollectingSink,
    RealtimePlaybackSink,
    frames_from_samples,
    frames_then_over_the_reply,
)
from parley.bench.prompts import cough, knock
from parley.config.settings import Settings
from parley.memory.sqlite_store import SqliteStore
from parley.models.loaded import Backends
from parley.pipeline.events import (
    FinalTranscript,
    PartialTranscript,
    ReplyInterrupted,
    SentenceReady,
    SpeechEnded,
    SpeechStarted,
    TextDelta,
    TurnDone,
)
from parley.pipeline.session import Session
from tests.conftest import sounds_like


def question_in_two(speech: Callable[..., Path]) -> tuple[np.ndarray, np.ndarray]:
    """ "What is the capital" and "of France?", without espeak's own silence between them."""
    first = decode_file(speech("What is the capital"))
    first = first[: np.flatnonzero(np.abs(first) > 300)[-1] + 1]
    second = decode_file(speech("of France?"))
    second = second[np.flatnonzero(np.abs(second) > 300)[0] :]
    return first, second


def timeline(events: list[Any]) -> list[str]:
    """What happened, in order and in brief, for an assertion's message: the events a person
    would notice (speech, words heard, sentences said, interruptions), not each audio chunk."""
    shown = []
    for event in events:
        match event:
            case SpeechStarted(start_sample=start):
                shown.append(f"speech from {start / 16_000:.2f} s")
            case SpeechEnded(last_voiced_sample=end):
                shown.append(f"speech ended at {end / 16_000:.2f} s")
            case FinalTranscript(text=text):
                shown.append(f"heard {text!r}")
            case SentenceReady(turn_id=turn_id, text=text):
                shown.append(f"turn {turn_id} says {text!r}")
            case ReplyInterrupted(turn_id=turn_id, reason=reason):
                shown.append(f"turn {turn_id} interrupted ({reason})")
            case TurnDone(turn_id=turn_id, was_cancelled=was_cancelled, heard_text=heard):
                shown.append(f"turn {turn_id} done, cancelled={was_cancelled}, heard {heard!r}")
    return shown


async def speak_to(session: Session, audio: np.ndarray, *, is_realtime: bool) -> None:
    """``audio`` as a microphone sends it (then silence while Parley is busy), to the end of
    every reply it starts."""
    frames = frames_from_samples(
        audio,
        frame_ms=20,
        is_realtime=is_realtime,
        trailing_silence_ms=800,
        keep_going=lambda: session.is_busy,
    )
    await session.listen(frames)
    await session.wait_for_replies()


def session_for(backends: Backends, settings: Settings, sink: Any, events: list[Any]) -> Session:
    store = SqliteStore(settings.database_path)
    return Session(backends, store=store, sink=sink, observer=events.append)


async def test_a_spoken_question_gets_a_spoken_answer_in_streaming_order(
    backends: Backends,
    settings: Settings,
    piper_speech: Callable[..., Path],
    whisper_check: Callable[[np.ndarray, int], str],
) -> None:
    events: list[Any] = []
    sink = CollectingSink()
    session = session_for(backends, settings, sink, events)
    # Piper's voice: espeak's says "capital of France" so that Whisper tiny hears "friends".
    question = decode_file(piper_speech("What is the capital of France?"))
    await speak_to(session, question, is_realtime=False)

    kinds = [type(e).__name__ for e in events if not isinstance(e, PartialTranscript)]
    assert kinds[:3] == ["SpeechStarted", "SpeechEnded", "FinalTranscript"]
    assert kinds[-1] == "TurnDone"
    first_text = kinds.index("TextDelta")
    first_sentence = kinds.index("SentenceReady")
    first_audio = kinds.index("AudioReady")
    assert first_text < first_sentence < first_audio
    # Streaming: the first piece goes to speech before the LLM has finished writing. The reply
    # is a sentence longer than the first piece, so there is a second piece to wait for.
    reply_words = session.results[0].reply_text.split()
    assert len(reply_words) > settings.tts.first_piece_max_words, reply_words
    last_text = len(kinds) - 1 - kinds[::-1].index("TextDelta")
    assert first_sentence < last_text
    assert kinds.count("SentenceReady") >= 2

    final = next(e for e in events if isinstance(e, FinalTranscript))
    assert "capital of france" in final.text.lower()
    result = session.results[0]
    assert "paris" in result.reply_text.lower()
    heard_back = await asyncio.to_thread(
        whisper_check, sink.audio(), settings.audio.output_sample_rate_hz
    )
    assert sounds_like("paris", heard_back)

    metrics = result.figures.as_json()
    for name in ("stt_ms", "llm_ttft_ms", "tts_first_audio_ms", "voice_to_voice_ms", "endpoint_ms"):
        assert metrics[name] is not None and metrics[name] > 0, name
    assert metrics["voice_to_voice_ms"] > metrics["endpoint_ms"]
    # The turn model heard the voice at the first quiet frame, and the pause took its answer:
    # a finished question sounds finished.
    assert metrics["turn_complete_probability"] is not None
    assert metrics["turn_complete_probability"] >= settings.vad.turn_complete_threshold

    stored = SqliteStore(settings.database_path).messages(session.conversation_id)
    assert [(m.role, m.content) for m in stored] == [
        ("user", final.text),
        ("assistant", result.reply_text),
    ]
    assert (
        stored[1].metrics is not None
        and stored[1].metrics["voice_to_voice_ms"] == metrics["voice_to_voice_ms"]
    )


async def test_audio_with_no_speech_starts_no_turn(backends: Backends, settings: Settings) -> None:
    events: list[Any] = []
    session = session_for(backends, settings, CollectingSink(), events)
    rng = np.random.default_rng(7)
    hiss = (rng.normal(0, 60, 16_000 * 3)).astype(np.int16)  # 3 s of faint noise
    await session.listen(
        frames_from_samples(hiss, frame_ms=20, is_realtime=False, trailing_silence_ms=500)
    )
    await session.wait_for_replies()
    assert not [e for e in events if isinstance(e, SpeechStarted)]
    assert session.results == []


@pytest.mark.slow
async def test_cancelling_a_reply_mid_speech_stops_tokens_and_audio_and_keeps_what_was_heard_with_fake_loudspeaker(
    backends: Backends, settings: Settings
) -> None:
    events: list[Any] = []
    first_audio = asyncio.Event()

    def observe(event: Any) -> None:
        events.append(event)
        if isinstance(event, AudioReady):
            first_audio.set()

    sink = RealtimePlaybackSink(settings.audio.output_sample_rate_hz)
    session = Session(
        backends, store=SqliteStore(settings.database_path), sink=sink, observer=observe
    )
    reply = session.respond(
        "Tell me a long story about a dragon who learns to bake bread, in many sentences."
    )
    # Wait until the user has heard about a second of the reply, then talk over it.
    await first_audio.wait()
    await asyncio.sleep(1.0)
    session.interrupt()
    events_at_cancel = len(events)
    result = await reply
    await asyncio.sleep(0.3)  # anything still in flight would show up now

    late = [
        e
        for e in events[events_at_cancel:]
        if isinstance(e, TextDelta | AudioReady | SentenceReady)
    ]
    assert late == [], f"work continued after cancellation: {late[:3]}"
    assert isinstance(events[-1], TurnDone) and events[-1].was_cancelled
    assert result.was_cancelled
    assert result.heard_text, "about a second of speech was played, so some words were heard"
    assert len(result.heard_text) < len(result.reply_text)
    assert result.reply_text.startswith(result.heard_text.split()[0])

    stored = SqliteStore(settings.database_path).messages(session.conversation_id)
    assert stored[-1].role == "assistant"
    assert stored[-1].content == result.heard_text
    assert stored[-1].is_interrupted

    # The conversation goes on: the next turn replies normally.
    follow_up = await session.respond("What is the capital of France?")
    assert not follow_up.was_cancelled and "paris" in follow_up.reply_text.lower()


@pytest.mark.slow
async def test_speaking_over_a_reply_cancels_it_and_answers_the_new_question_with_fake_microphone(
    backends: Backends,
    settings: Settings,
    speech: Callable[..., Path],
    piper_speech: Callable[..., Path],
) -> None:
    events: list[Any] = []
    sink = RealtimePlaybackSink(settings.audio.output_sample_rate_hz)
    session = session_for(backends, settings, sink, events)
    story = decode_file(speech("Tell me a long story about a brave knight."))
    question = decode_file(piper_speech("What is the capital of France?"))  # see above
    pause = np.zeros(16_000 * 3, dtype=np.int16)  # the reply is playing during this pause
    audio = np.concatenate([story, pause, question])
    await speak_to(session, audio, is_realtime=True)

    starts = [i for i, e in enumerate(events) if isinstance(e, SpeechStarted)]
    assert len(starts) == 2
    assert [type(e).__name__ for e in events].count("SpeechEnded") == 2
    assert len(session.results) == 2
    first, second = session.results
    assert first.was_cancelled and not second.was_cancelled
    # The new question was heard and answered. Its last word is not checked: Whisper tiny.en's
    # live decode hears this Piper "France" as "friends" at some alignments of the audio to its
    # frames (a fresh-clone run got "The capital of friends is New York."; issue 29, item 5).
    assert "what is the capital of" in second.user_text.lower()
    assert second.reply_text.strip()
    # Decided once, announced once: the first reply stopped because the user spoke.
    interrupted = [e for e in events if isinstance(e, ReplyInterrupted)]
    assert [(e.turn_id, e.reason) for e in interrupted] == [(first.turn_id, "turn_detected")]
    assert first.heard_text == interrupted[0].heard_text
    # Nothing of the first reply was produced once the barge-in was decided.
    after_barge_in = events[events.index(interrupted[0]) + 1 :]
    assert not [
        e for e in after_barge_in if isinstance(e, AudioReady) and e.turn_id == first.turn_id
    ]
    assert any(isinstance(e, SpeechEnded) for e in events[starts[1] + 1 :])


@pytest.mark.slow
async def test_uh_huh_a_cough_and_a_knock_over_a_reply_let_it_play_on_and_wait_stop_stops_it(
    backends: Backends, settings: Settings, speech: Callable[..., Path]
) -> None:
    events: list[Any] = []
    sink = RealtimePlaybackSink(settings.audio.output_sample_rate_hz)
    # How much of the story had played as each later sound began (the loudspeaker's count).
    played_at_onsets: list[int] = []

    def observe(event: Any) -> None:
        events.append(event)
        if isinstance(event, SpeechStarted) and session.results == []:
            played_at_onsets.append(sink.played_samples(1))

    session = Session(
        backends, store=SqliteStore(settings.database_path), sink=sink, observer=observe
    )
    story = decode_file(speech("Tell me a long story about a brave knight."))

    def silence(seconds: float) -> np.ndarray:
        return np.zeros(int(16_000 * seconds), dtype=np.int16)

    over_the_story = np.concatenate(
        [
            silence(1),
            decode_file(speech("Uh-huh.")),
            silence(1.5),
            cough(),
            silence(1),
            knock(),
            silence(1.5),
            decode_file(speech("Wait, stop.")),
        ]
    )

    # The request, then the sounds over the story once it sounds from the loudspeaker,
    # however long this machine takes to begin it.
    await session.listen(
        frames_then_over_the_reply(
            story,
            over_the_story,
            is_reply_heard=lambda: sink.played_samples(1) > 0,
            keep_going=lambda: session.is_busy,
        )
    )
    await session.wait_for_replies()

    finals = [e.text.lower() for e in events if isinstance(e, FinalTranscript)]
    assert len(finals) == 3 and "uh" in finals[1] and "stop" in finals[2], finals
    interrupted = [e for e in events if isinstance(e, ReplyInterrupted)]
    story_reply = session.results[0]
    # One interruption, by "wait, stop", after the story had played on through the rest.
    assert [e.turn_id for e in interrupted] == [story_reply.turn_id], timeline(events)
    last_onset = [i for i, e in enumerate(events) if isinstance(e, SpeechStarted)][-1]
    assert events.index(interrupted[0]) > last_onset
    # Stopped where the user was: cancelled while still being written or, written whole
    # (a short story, or a fast machine), cut at the loudspeaker.
    assert story_reply.was_cancelled == interrupted[0].was_generating, timeline(events)
    # It was playing when "wait, stop" began, and only that stopped it (the interruption came
    # after the last onset). How much was written by then is the machine's speed: the user's
    # audio comes in real time, so no count of words heard is asserted.
    assert played_at_onsets[-1] > 0 and story_reply.heard_text, played_at_onsets
    # The acknowledgement was not a turn: the story and the stop are the user's only words
    # after the question.
    stored = SqliteStore(settings.database_path).messages(session.conversation_id)
    assert [m.role for m in stored][:3] == ["user", "assistant", "user"]
    assert "stop" in stored[2].content.lower()


@pytest.mark.slow
async def test_a_mid_sentence_pause_drops_the_speculative_reply_and_answers_the_whole_utterance(
    backends: Backends, settings: Settings, speech: Callable[..., Path]
) -> None:
    events: list[Any] = []
    sink = CollectingSink()
    session = session_for(backends, settings, sink, events)
    first, second = question_in_two(speech)
    # Silence alone decides here: the subject is the speculation dropped when the user goes on.
    session.options = dataclasses.replace(
        session.options, end_silence_ms=2_500, is_using_turn_model=False
    )
    # 1.5 s: ample time for a speculative reply to start, short of the end of the turn.
    pause = np.zeros(16_000 * 3 // 2, dtype=np.int16)
    await speak_to(session, np.concatenate([first, pause, second]), is_realtime=True)

    assert [type(e).__name__ for e in events].count("SpeechEnded") == 1
    assert [type(e).__name__ for e in events].count("TurnStarted") == 1
    assert len(session.results) == 1
    heard = session.results[0].user_text.lower()
    # One turn holds both halves (Whisper tiny may mishear the second after a long gap).
    assert "capital" in heard and len(heard.split()) > 4, heard
    # The first turn id went to the speculative reply that was dropped when the user went on.
    assert session.results[0].turn_id == 2
    stored = SqliteStore(settings.database_path).messages(session.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[0].content.lower() == heard


@pytest.mark.slow
async def test_with_barge_in_off_a_pause_in_speech_over_a_reply_does_not_cut_it(
    backends: Backends, settings: Settings, speech: Callable[..., Path]
) -> None:
    events: list[Any] = []
    sink = CollectingSink()
    session = session_for(backends, settings, sink, events)
    session.options = dataclasses.replace(
        session.options, is_barge_in_enabled=False, end_silence_ms=1_500, is_using_turn_model=False
    )
    story = decode_file(speech("Tell me a long story about a brave knight."))
    first, second = question_in_two(speech)
    # The question starts while the story is being written, and pauses long enough (0.8 s)
    # for a speculative reply to start, short of the end of its turn.
    gap, pause = np.zeros(16_000, dtype=np.int16), np.zeros(16_000 * 4 // 5, dtype=np.int16)
    await speak_to(session, np.concatenate([story, gap, first, pause, second]), is_realtime=True)

    assert not [e for e in events if isinstance(e, ReplyInterrupted)]
    assert len(session.results) == 2, [r.user_text for r in session.results]
    story_reply, answer = session.results
    assert not story_reply.was_cancelled and len(story_reply.reply_text.split()) > 20
    assert "capital" in answer.user_text.lower() and not answer.was_cancelled
