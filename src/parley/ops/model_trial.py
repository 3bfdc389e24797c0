"""`parley doctor --measure`: a short trial of this machine's loaded models, giving the figures
the advice rules judge. The LLM decodes once alone and once while Whisper transcribes beside it
(as when a speculative reply generates while the turn's final transcript is decoded), with
llm.n_threads as configured and with one fewer; Whisper's real-time factor is taken on a
packaged clip."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from importlib import resources
from pathlib import Path

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array
from parley.audio.pcm import decode_file
from parley.config.settings import LlamaCppConfig
from parley.models.contracts import ChatMessage, LanguageModel
from parley.models.factory import make_llm
from parley.models.loaded import Backends
from parley.ops.advice import MeasuredFigures

_PROMPT = [
    ChatMessage("system", "You are a storyteller."),
    ChatMessage(
        "user", "Tell me a story about a lighthouse keeper and a storm, in a few sentences."
    ),
]
# Tokens past the first that each decode is timed over (enough to steady the rate).
_TIMED_TOKENS = 48


def _clip() -> Path:
    return Path(str(resources.files("parley.samples").joinpath("capital-of-france.wav")))


async def _decode_tokens_per_s(llm: LanguageModel) -> float:
    first_s: float | None = None
    count = 0
    stream = llm.stream(_PROMPT)
    try:
        async for _delta in stream:
            if first_s is None:
                first_s = time.perf_counter()
                continue
            count += 1
            if count >= _TIMED_TOKENS:
                break
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    if first_s is None or count == 0:
        return 0.0
    return round(count / (time.perf_counter() - first_s), 1)


async def _alone_and_beside_stt(backends: Backends, audio: Int16Array) -> tuple[float, float]:
    alone = await _decode_tokens_per_s(backends.llm)
    is_done = threading.Event()

    def transcribe_until_done() -> None:
        # Its own loop in its own thread, as the listener's decodes run beside a reply.
        async def loop() -> None:
            while not is_done.is_set():
                await backends.stt.transcribe(audio)

        asyncio.run(loop())

    worker = threading.Thread(target=transcribe_until_done, daemon=True)
    worker.start()
    try:
        beside = await _decode_tokens_per_s(backends.llm)
    finally:
        is_done.set()
        await asyncio.to_thread(worker.join, 30)
    return alone, beside


async def measure(backends: Backends) -> MeasuredFigures:
    settings = backends.settings
    audio = decode_file(_clip())
    audio_s = len(audio) / INPUT_SAMPLE_RATE_HZ
    await backends.stt.transcribe(audio)  # warm
    started = time.perf_counter()
    await backends.stt.transcribe(audio)
    stt_rtf = round((time.perf_counter() - started) / audio_s, 3)
    alone, beside = await _alone_and_beside_stt(backends, audio)
    llm = settings.llm
    fewer_alone = fewer_beside = None
    if isinstance(llm, LlamaCppConfig) and llm.n_threads >= 2:
        fewer = llm.model_copy(update={"n_threads": llm.n_threads - 1})
        trial = replace(
            backends, llm=await asyncio.to_thread(make_llm, fewer, models_dir=settings.models_dir)
        )
        fewer_alone, fewer_beside = await _alone_and_beside_stt(trial, audio)
    return MeasuredFigures.of(
        settings,
        llm_tokens_per_s=alone,
        stt_rtf=stt_rtf,
        llm_tokens_per_s_alone=alone,
        llm_tokens_per_s_beside_stt=beside,
        fewer_threads_tokens_per_s_alone=fewer_alone,
        fewer_threads_tokens_per_s_beside_stt=fewer_beside,
    )
