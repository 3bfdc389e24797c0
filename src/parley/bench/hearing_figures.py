"""How well and how fast Parley heard: the live transcripts (decoded at the pause through the
clip-length window) against Whisper's own decode of each whole utterance through its 30 s
windows, and the decode's real-time factor."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from parley.audio.frames import Int16Array
from parley.audio.pcm import decode_file
from parley.bench.figures import word_errors
from parley.bench.prompts import Prompt
from parley.models.contracts import SpeechToText, Transcript
from parley.models.loaded import Backends
from parley.ops.spread import spread
from parley.pipeline.events import FinalTranscript, PartialTranscript


class DecodeRecorder:
    """The bench's STT: the backend's own, which also keeps the audio each transcript was
    decoded from, so that the whole-utterance reference decodes exactly what Parley heard (a
    few milliseconds more or less of an utterance's edges change what Whisper hears, so the
    prompt's file is not the same utterance)."""

    def __init__(self, stt: SpeechToText) -> None:
        self.stt = stt
        self._audio_by_text: dict[str, Int16Array] = {}

    async def transcribe(self, audio: Int16Array, *, is_partial: bool = False) -> Transcript:
        transcript = await self.stt.transcribe(audio, is_partial=is_partial)
        self._audio_by_text[transcript.text] = audio
        return transcript

    def audio_of(self, text: str) -> Int16Array | None:
        """The audio the latest transcript with these words was decoded from."""
        return self._audio_by_text.get(text)


class HeardTurn(Protocol):
    @property
    def prompt(self) -> str: ...
    @property
    def transcript(self) -> str: ...
    @property
    def word_errors(self) -> int: ...
    @property
    def reference_words(self) -> int: ...
    @property
    def audio_path(self) -> Path | None: ...
    @property
    def heard_audio(self) -> Sequence[Int16Array]: ...


async def decode_whole_utterances(
    backends: Backends, sets: Mapping[str, Sequence[HeardTurn]]
) -> dict[str, list[str]]:
    """Whisper's own decode of each set's utterances, whole, when the STT backend has one:
    of the audio each final transcript came from, else of the prompt's file."""
    stt = backends.stt.stt if isinstance(backends.stt, DecodeRecorder) else backends.stt
    decode_whole = getattr(stt, "transcribe_whole", None)
    if decode_whole is None:
        return {}
    decoded: dict[str, list[str]] = {}
    for name, turns in sets.items():
        texts = []
        for turn in turns:
            pieces = list(turn.heard_audio)
            if not pieces and turn.audio_path is not None:
                pieces = [decode_file(turn.audio_path)]  # no live audio kept: the prompt's file
            heard = [(await asyncio.to_thread(decode_whole, audio)).text for audio in pieces]
            texts.append(" ".join(heard))
        decoded[name] = texts
    return decoded


def transcript_accuracy(
    sets: Mapping[str, Sequence[HeardTurn]], whole_decodes: dict[str, list[str]]
) -> dict[str, Any]:
    """Word error rates of the live transcripts and of the whole-utterance decodes, per set,
    with the utterances the live path heard worse."""
    accuracy: dict[str, Any] = {}
    for name, turns in sets.items():
        whole = whole_decodes.get(name)
        words = sum(t.reference_words for t in turns)
        if not turns or whole is None or not words:
            continue
        whole_errors = [
            word_errors(t.prompt, text)[0] for t, text in zip(turns, whole, strict=True)
        ]
        accuracy[name] = {
            "utterances": len(turns),
            "live_wer": round(sum(t.word_errors for t in turns) / words, 4),
            "whole_decode_wer": round(sum(whole_errors) / words, 4),
            "heard_worse": [
                {"prompt": t.prompt, "live": t.transcript, "whole_decode": text}
                for t, text, errors in zip(turns, whole, whole_errors, strict=True)
                if t.word_errors > errors
            ],
        }
    return accuracy


async def measure_stt_rtf(backends: Backends, prompts: list[Prompt]) -> list[float]:
    ratios = []
    for prompt in prompts:
        audio = decode_file(prompt.path)
        transcript = await backends.stt.transcribe(audio)
        ratios.append(round(transcript.decode_ms / max(1, transcript.audio_ms), 3))
    return ratios


@dataclass
class TranscriptsHeard:
    """Observes one turn's transcripts as a session emits them: what each partial decode cost,
    and whether the end of the turn took a partial that had heard every word (then no Whisper
    call waited there)."""

    partial_decodes_ms: list[float] = field(default_factory=list)
    finals: list[FinalTranscript] = field(default_factory=list)

    def observe(self, event: object) -> None:
        if isinstance(event, PartialTranscript) and event.decode_ms is not None:
            self.partial_decodes_ms.append(round(event.decode_ms, 1))
        elif isinstance(event, FinalTranscript):
            self.finals.append(event)

    def metrics(self) -> dict[str, Any]:
        return {
            "partial_decodes_ms": self.partial_decodes_ms,
            "is_transcript_from_partial": bool(self.finals) and self.finals[-1].is_from_partial,
        }


def partial_figures(metrics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the partial transcripts cost (Whisper's time each, and how many a turn), and in how
    many turns the end of the turn needed no decode of its own."""
    turns = [m for m in metrics if "partial_decodes_ms" in m]
    return {
        "decode_ms": spread([ms for m in turns for ms in m["partial_decodes_ms"]]),
        "per_turn": spread([len(m["partial_decodes_ms"]) for m in turns]),
        "turns": len(turns),
        "ends_taking_a_partial": sum(bool(m["is_transcript_from_partial"]) for m in turns),
    }
