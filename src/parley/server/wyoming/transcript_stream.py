"""A transcript streamed to a Wyoming client: ``transcript-start``, then the words as partial
decodes settle them (``transcript-chunk``, each adding to the ones before), then the whole
``transcript`` (what Home Assistant reads) and ``transcript-stop``.

A chunk cannot be taken back, so a partial's last word (perhaps cut off mid-word) is held back,
and a partial that disagrees with words already sent adds nothing: the final transcript, which
is authoritative, says what was heard.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from wyoming.asr import Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.event import Event

_NOT_A_WORD = re.compile(r"[^\w']+")


def _word_key(word: str) -> str:
    return _NOT_A_WORD.sub("", word.lower())


class TranscriptStream:
    def __init__(self, write: Callable[[Event], Awaitable[None]], *, language: str | None) -> None:
        self._write = write
        self._language = language
        self._sent: list[str] = []
        self._is_started = False
        self._is_done = False
        self._lock = asyncio.Lock()  # a partial's words never land after the final
        self.is_answered = False  # the final has been asked for

    async def partial(self, text: str) -> None:
        async with self._lock:
            if not self._is_done:
                await self._send_new_words(text.split()[:-1])

    async def final(self, text: str) -> None:
        async with self._lock:
            if self._is_done:
                return
            await self._send_new_words(text.split())
            self._is_done = True
            if not self._is_started:
                await self._write(TranscriptStart(language=self._language).event())
            await self._write(Transcript(text.strip(), language=self._language).event())
            await self._write(TranscriptStop().event())

    async def _send_new_words(self, words: list[str]) -> None:
        sent = self._sent
        if [_word_key(w) for w in words[: len(sent)]] != [_word_key(w) for w in sent]:
            return
        new = words[len(sent) :]
        if not new:
            return
        if not self._is_started:
            self._is_started = True
            await self._write(TranscriptStart(language=self._language).event())
        await self._write(TranscriptChunk((" " if sent else "") + " ".join(new)).event())
        sent.extend(new)
