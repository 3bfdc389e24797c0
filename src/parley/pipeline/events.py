"""Every typed event that flows between Parley's stages.

Events are small, frozen and flat; a union names each edge of the pipeline. Times are
``time.perf_counter_ns()`` stamps; sample indices count 16 kHz input samples from the start
of the session's audio stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from parley.audio.frames import AudioReady
from parley.pipeline.turn_figures import TurnFigures


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    start_sample: int
    # Wall-clock stamp of the moment the first voiced sample entered the pipeline; detection
    # (t_ns) comes min_speech_ms later.
    onset_t_ns: int
    t_ns: int


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    start_sample: int
    last_voiced_sample: int
    # Wall-clock stamp of the moment the last voiced sample entered the pipeline.
    last_voiced_t_ns: int
    t_ns: int


@dataclass(frozen=True, slots=True)
class PartialTranscript:
    text: str
    audio_ms: int
    t_ns: int
    decode_ms: float | None = None  # Whisper's own time for it


@dataclass(frozen=True, slots=True)
class FinalTranscript:
    text: str
    speech: SpeechEnded
    stt_ms: float  # from the end of the turn to this transcript (0 when decoded at a pause)
    t_ns: int
    decode_ms: float | None = None  # Whisper's own time for it, wherever it was decoded
    audio_ms: int | None = None  # the audio it decoded
    is_from_partial: bool = False  # a partial decoded while the user spoke heard every word
    is_unclear: bool = False  # not made out (Transcript.is_unclear): asked again, not answered


ListenerEvent: TypeAlias = SpeechStarted | PartialTranscript | SpeechEnded | FinalTranscript


@dataclass(frozen=True, slots=True)
class TurnStarted:
    turn_id: int
    user_text: str
    t_ns: int
    # "function_call": the reply is a call of a client's function, not words (realtime tools);
    # "announcement": Parley speaks first (a timer or reminder gone off).
    kind: str = "message"


@dataclass(frozen=True, slots=True)
class FunctionCallRequested:
    turn_id: int
    call_id: str
    name: str
    arguments_json: str
    t_ns: int


@dataclass(frozen=True, slots=True)
class TextDelta:
    turn_id: int
    text: str
    t_ns: int


@dataclass(frozen=True, slots=True)
class SentenceReady:
    turn_id: int
    index: int
    text: str
    t_ns: int


@dataclass(frozen=True, slots=True)
class ReplyInterrupted:
    """A reply was stopped: the user spoke over it ("turn_detected") or the client cancelled it
    ("client_cancelled"). The conversation keeps ``heard_text``, what the user heard of it.

    ``was_generating``: the reply was still being written (its TurnDone follows, cancelled);
    otherwise it had been written whole and was cut while playing, at ``audio_end_ms``.
    """

    turn_id: int
    reason: str
    was_generating: bool
    heard_text: str
    audio_end_ms: int
    figures: TurnFigures
    t_ns: int


@dataclass(frozen=True, slots=True)
class TurnDone:
    turn_id: int
    was_cancelled: bool
    heard_text: str
    figures: TurnFigures
    t_ns: int


TurnEvent: TypeAlias = (
    TurnStarted
    | TextDelta
    | SentenceReady
    | AudioReady
    | TurnDone
    | FunctionCallRequested
    | ReplyInterrupted
)

# Who hears a session's events: a transport's translator, the terminal, a test.
SessionObserver: TypeAlias = Callable[[ListenerEvent | TurnEvent], None]
