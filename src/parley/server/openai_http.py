"""OpenAI-compatible HTTP: chat completions (SSE or whole), transcriptions, speech, models."""

from __future__ import annotations

import asyncio
import json
import struct
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ
from parley.audio.pcm import decode_bytes, resample
from parley.models.contracts import ChatMessage, TokenCounter
from parley.models.voices import config_for
from parley.pipeline.prompt import count_text_tokens, count_tokens, fit_to_context
from parley.pipeline.sentences import SentenceChunker
from parley.server.state import BackendsDep

router = APIRouter(prefix="/v1")

MODEL_ID = "parley"
SPEECH_SAMPLE_RATE_HZ = 24_000  # OpenAI's pcm output is 24 kHz 16-bit mono
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # OpenAI's own limit for an audio upload
TRANSCRIPTION_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024  # and room for the multipart form


class _ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if self.content is None:
            return ""
        return " ".join(
            str(part.get("text", "")) for part in self.content if part.get("type") == "text"
        )


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = MODEL_ID
    messages: list[_ChatMessageIn] = Field(min_length=1)
    stream: bool = False


def _to_chat(messages: list[_ChatMessageIn]) -> list[ChatMessage]:
    converted: list[ChatMessage] = []
    for message in messages:
        role = {"developer": "system", "tool": "user"}.get(message.role, message.role)
        converted.append(ChatMessage(role, message.text()))  # type: ignore[arg-type]
    return converted


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatRequest, backends: BackendsDep) -> Response:
    llm = backends.llm
    messages = fit_to_context(
        _to_chat(body.messages),
        context_tokens=backends.settings.llm.context_tokens,
        reply_tokens=backends.settings.llm.max_reply_tokens,
    )
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if not body.stream:
        deltas = [delta async for delta in llm.stream(messages)]
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": body.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(deltas)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": _usage(backends.llm_capabilities.token_counter, messages, "".join(deltas)),
            }
        )

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        return f"data: {json.dumps(payload)}\n\n"

    async def events() -> AsyncIterator[str]:
        # If the client goes away, Starlette cancels this generator, which closes the LLM stream.
        yield chunk({"role": "assistant", "content": ""})
        async for delta in llm.stream(messages):
            yield chunk({"content": delta})
        yield chunk({}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@router.post(
    "/audio/transcriptions",
    response_model=None,
    # Checked while the body arrives, so a 20 GB upload is refused after 25 MB, not spooled.
    max_body_size=TRANSCRIPTION_BODY_BYTES,
)
async def transcriptions(
    backends: BackendsDep,
    file: Annotated[UploadFile, File()],
    model: Annotated[str, Form()] = "whisper-1",
    response_format: Annotated[str, Form()] = "json",
    language: Annotated[str | None, Form()] = None,
) -> Response:
    del model, language  # one local Whisper serves every request
    if response_format not in {"json", "text", "verbose_json"}:
        raise HTTPException(
            400,
            f"response_format {response_format!r} is not supported: use json, text or verbose_json.",
        )
    payload = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(payload) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, "The file is larger than 25 MB.")
    max_audio_s = backends.settings.server.max_audio_s
    # Off the event loop: even bounded, decoding minutes of audio takes a while.
    audio = await asyncio.to_thread(decode_bytes, payload, max_s=max_audio_s)
    transcript = await backends.stt.transcribe(audio)
    if response_format == "text":
        return PlainTextResponse(transcript.text)
    if response_format == "verbose_json":
        duration_s = audio.size / INPUT_SAMPLE_RATE_HZ
        # Only what Parley knows: no segments or log-probabilities it did not measure.
        language = backends.settings.stt.language or "unknown"
        return JSONResponse(
            {
                "task": "transcribe",
                "language": language,
                "duration": duration_s,
                "text": transcript.text,
            }
        )
    return JSONResponse({"text": transcript.text})


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = "tts-1"
    input: str = Field(min_length=1, max_length=4096)
    voice: str | dict[str, Any] = "joe"
    response_format: Literal["wav", "pcm"] = "wav"
    speed: float = Field(1.0, ge=0.25, le=4.0)


def _streaming_wav_header(sample_rate_hz: int) -> bytes:
    # The length is unknown while streaming; 0xFFFFFFFF is what streaming encoders write.
    unknown = 0xFFFFFFFF
    return (
        b"RIFF"
        + struct.pack("<I", unknown)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate_hz, sample_rate_hz * 2, 2, 16)
        + b"data"
        + struct.pack("<I", unknown)
    )


@router.post("/audio/speech", response_model=None)
async def speech(body: SpeechRequest, backends: BackendsDep) -> Response:
    # One of Parley's offline voices by name; OpenAI's names (alloy, …) get the configured one.
    voice = body.voice if isinstance(body.voice, str) else None
    if voice is not None and config_for(voice, backends.settings.tts) is None:
        voice = None
    tts = await asyncio.to_thread(backends.tts_for, voice)
    chunker = SentenceChunker()
    pieces = chunker.push(body.input) + chunker.flush()
    if not pieces:
        raise HTTPException(400, "The input has nothing to say.")

    async def audio() -> AsyncIterator[bytes]:
        if body.response_format == "wav":
            yield _streaming_wav_header(SPEECH_SAMPLE_RATE_HZ)
        for piece in pieces:
            async for samples in tts.synthesize(piece, speed=body.speed):
                yield (
                    resample(samples, tts.sample_rate_hz, SPEECH_SAMPLE_RATE_HZ)
                    .astype("<i2")
                    .tobytes()
                )

    media_type = "audio/wav" if body.response_format == "wav" else "audio/pcm"
    return StreamingResponse(audio(), media_type=media_type)


@router.get("/models")
async def models(backends: BackendsDep) -> dict[str, Any]:
    settings = backends.settings
    created = int(time.time())
    names = [MODEL_ID, f"whisper-{settings.stt.model}", f"tts-{settings.tts.voice_name}"]
    return {
        "object": "list",
        "data": [
            {"id": n, "object": "model", "created": created, "owned_by": "parley"} for n in names
        ],
    }


def _usage(counter: TokenCounter | None, messages: list[ChatMessage], reply: str) -> dict[str, int]:
    prompt_tokens = count_tokens(counter, messages)
    completion_tokens = count_text_tokens(counter, reply)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
