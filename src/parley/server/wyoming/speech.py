"""One Wyoming text-to-speech request, whole (``synthesize``) or streamed (``synthesize-start``,
``synthesize-chunk``…, ``synthesize-stop``), spoken by one of Parley's offline voices.

Text is cut into pieces by the same chunker as Parley's own replies, and each piece is
synthesized as soon as it is complete, while more text may still arrive: the first audio of a
streamed answer leaves before its last words are written. A whole request is one audio stream
(``audio-start``, its chunks, ``audio-stop``); a streamed one is one audio stream per piece,
then ``synthesize-stopped``, which is what Home Assistant and the reference servers expect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.tts import SynthesizeStopped

from parley.models.contracts import TextToSpeech
from parley.pipeline.channel import Channel
from parley.pipeline.sentences import SentenceChunker

CHUNK_SAMPLES = 1024  # as the reference Piper server sends them
SAMPLE_WIDTH_BYTES = 2

Write = Callable[[Event], Awaitable[None]]


class TextTooLong(ValueError):
    """More text than one request may carry."""


class Speech:
    """Add text as it comes, then ``finish``; audio is written meanwhile."""

    def __init__(
        self,
        tts: TextToSpeech,
        write: Write,
        *,
        is_streaming: bool,
        max_chars: int,
        on_first_audio: Callable[[float], None],
    ) -> None:
        self._tts = tts
        self._write = write
        self._is_streaming = is_streaming
        self._max_chars = max_chars
        self._on_first_audio = on_first_audio
        self._chunker = SentenceChunker()
        self._chars = 0
        # Text is small; the pieces wait here while earlier ones are spoken.
        self._pieces = Channel[str](maxsize=1024)
        self._piece_ready_ns: list[int] = []
        self._task = asyncio.create_task(self._speak())

    async def add_text(self, text: str) -> None:
        self._chars += len(text)
        if self._chars > self._max_chars:
            raise TextTooLong(
                f"The text to speak is over {self._max_chars} characters "
                "(server.max_text_chars): send it as several requests."
            )
        for piece in self._chunker.push(text):
            await self._send(piece)

    async def finish(self) -> None:
        """The text is complete: speak what is left and wait until all of it is written."""
        for piece in self._chunker.flush():
            await self._send(piece)
        self._pieces.close()
        await self._task

    def cancel(self) -> None:
        self._task.cancel()

    async def _send(self, piece: str) -> None:
        self._piece_ready_ns.append(time.perf_counter_ns())
        await self._pieces.send(piece)

    async def _speak(self) -> None:
        rate_hz = self._tts.sample_rate_hz
        audio_format = {"rate": rate_hz, "width": SAMPLE_WIDTH_BYTES, "channels": 1}
        is_started = False
        index = 0
        async for piece in self._pieces:
            if self._is_streaming or not is_started:
                await self._write(AudioStart(**audio_format).event())
                is_started = True
            async for samples in self._tts.synthesize(piece):
                if index == 0 and samples.size:
                    self._on_first_audio((time.perf_counter_ns() - self._piece_ready_ns[0]) / 1e6)
                    index = 1
                pcm = samples.astype("<i2").tobytes()
                step = CHUNK_SAMPLES * SAMPLE_WIDTH_BYTES
                for offset in range(0, len(pcm), step):
                    await self._write(
                        AudioChunk(audio=pcm[offset : offset + step], **audio_format).event()
                    )
            if self._is_streaming:
                await self._write(AudioStop().event())
        if not self._is_streaming:
            if not is_started:  # nothing speakable: still a well-formed, empty stream
                await self._write(AudioStart(**audio_format).event())
            await self._write(AudioStop().event())
        else:
            await self._write(SynthesizeStopped().event())
