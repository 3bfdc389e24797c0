"""Parley's own REST API under /api: conversations and per-user preferences."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParameter
from pydantic import BaseModel, ConfigDict, Field

from parley.config.settings import Settings
from parley.memory.facts import third_person
from parley.memory.recall import MemoryRecall
from parley.memory.store import LOCAL_USER, ConversationStore
from parley.models.loaded import Backends
from parley.models.voices import offline_voices
from parley.server.state import BackendsDep, StoreDep

# A row id: SQLite's integers are 64-bit, and a larger one is simply not a memory.
MemoryId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]

router = APIRouter(prefix="/api")


class Preferences(BaseModel):
    """What the browser client lets a person change; applied from the next turn."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["hands_free", "push_to_talk"] = "hands_free"
    transport: Literal["webrtc", "websocket"] = Field(
        "webrtc", description="how the page reaches Parley: a WebRTC call or the realtime socket"
    )
    speed: float = Field(1.0, ge=0.5, le=2.0)
    vad_threshold: float = Field(0.5, ge=0.1, le=0.95)
    end_silence_ms: int = Field(500, ge=200, le=2000)
    instructions: str = Field("", max_length=4000)
    input_device_id: str = ""
    voice: str = Field(
        "", max_length=64, description="an offline voice's name; empty: the configured one"
    )


@router.get("/conversations")
async def list_conversations(store: StoreDep) -> dict[str, Any]:
    return {"data": await asyncio.to_thread(store.conversations)}


@router.get("/conversations/{conversation_id}")
async def get_conversation(conversation_id: str, store: StoreDep) -> dict[str, Any]:
    store = store
    if not await asyncio.to_thread(store.has_conversation, conversation_id):
        raise HTTPException(404, f"No conversation {conversation_id}.")
    messages = await asyncio.to_thread(store.messages, conversation_id)
    return {
        "id": conversation_id,
        "messages": [
            {
                "role": m.role,
                "content": m.content,
                "is_interrupted": m.is_interrupted,
                "metrics": m.metrics,
                "created_at": m.created_at,
            }
            for m in messages
        ],
    }


@router.delete("/conversations/{conversation_id}")
async def delete_conversation(conversation_id: str, store: StoreDep) -> dict[str, Any]:
    if not await asyncio.to_thread(store.delete_conversation, conversation_id):
        raise HTTPException(404, f"No conversation {conversation_id}.")
    return {"id": conversation_id, "deleted": True}


@router.get("/preferences")
async def get_preferences(store: StoreDep) -> Preferences:
    stored = await asyncio.to_thread(store.preferences, LOCAL_USER)
    return Preferences(**{k: v for k, v in stored.items() if k in Preferences.model_fields})


@router.put("/preferences")
async def put_preferences(
    preferences: Preferences, store: StoreDep, backends: BackendsDep
) -> Preferences:
    # The loaded models' settings: the voices are where those models are.
    if preferences.voice and preferences.voice not in _voice_names(backends.settings):
        raise HTTPException(
            400, f"There is no voice {preferences.voice!r} here: GET /api/voices lists them."
        )
    await asyncio.to_thread(store.save_preferences, LOCAL_USER, preferences.model_dump())
    return preferences


def _voice_names(settings: Settings) -> set[str]:
    return {settings.tts.voice_name, *(v.name for v in offline_voices(settings.models_dir))}


@router.get("/voices")
async def list_voices(backends: BackendsDep) -> dict[str, Any]:
    """The offline voices this machine has; ``default`` is the configured one."""
    settings = backends.settings
    voices = await asyncio.to_thread(offline_voices, settings.models_dir)
    return {"default": settings.tts.voice_name, "data": [voice.as_dict() for voice in voices]}


class MemoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        min_length=1, max_length=1000, description="about the user, e.g. 'I am vegetarian'"
    )


def _recall(store: ConversationStore, backends: Backends) -> MemoryRecall:
    return MemoryRecall(store, backends.embedder)


@router.get("/memory")
async def list_memory(
    store: StoreDep, backends: BackendsDep, q: str | None = None
) -> dict[str, Any]:
    if q:
        found = await asyncio.to_thread(_recall(store, backends).search, LOCAL_USER, q, limit=10)
        return {"data": [{"id": r.item.id, "text": r.item.text, "score": r.score} for r in found]}
    items = await asyncio.to_thread(store.memories, LOCAL_USER)
    return {
        "data": [
            {"id": i.id, "text": i.text, "source": i.source, "created_at": i.created_at}
            for i in items
        ]
    }


@router.post("/memory")
async def add_memory(body: MemoryIn, store: StoreDep, backends: BackendsDep) -> dict[str, Any]:
    fact = third_person(body.text)
    item_id = await asyncio.to_thread(
        _recall(store, backends).remember, LOCAL_USER, fact, source="manual"
    )
    return {"id": item_id, "text": fact, "is_new": item_id is not None}


@router.delete("/memory/{memory_id}")
async def delete_memory(memory_id: MemoryId, store: StoreDep) -> dict[str, Any]:
    if not await asyncio.to_thread(store.delete_memory, LOCAL_USER, memory_id):
        raise HTTPException(404, f"No memory {memory_id}.")
    return {"id": memory_id, "deleted": True}
