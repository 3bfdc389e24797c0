"""A transcript decoded in a task of its own, which never fails the TaskGroup it runs in."""

from __future__ import annotations

import asyncio
import logging
from typing import TypeAlias

from parley.audio.frames import Int16Array
from parley.models.contracts import SpeechToText, Transcript

log = logging.getLogger(__name__)

# A transcript task's result: None when the decode failed (logged), so that a failed decode
# never fails the TaskGroup it runs in; the turn then decodes again or goes on without it.
TranscriptTask: TypeAlias = asyncio.Task[Transcript | None]


def words_of(task: asyncio.Task[Transcript | None]) -> Transcript | None:
    """A finished transcript task's words; None when it was cancelled or failed."""
    return None if task.cancelled() else task.result()


def final_words_of(task: asyncio.Task[Transcript | None]) -> Transcript | None:
    """A finished transcript task's words, if they may stand for a turn's final words (not a
    partial's rough decode)."""
    transcript = words_of(task)
    return None if transcript is None or transcript.is_rough else transcript


async def transcribe_or_none(
    stt: SpeechToText, audio: Int16Array, *, is_partial: bool = False
) -> Transcript | None:
    try:
        return await stt.transcribe(audio, is_partial=is_partial)
    except Exception as error:
        log.warning("a transcript failed (%s); it is decoded again or done without", error)
        return None
