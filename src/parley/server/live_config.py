"""The config file of a running server, applied again when it changes (the file is watched;
SIGHUP also reloads it).

Keys a turn reads as it runs take effect at the next turn; keys that shape what was loaded at
start (models, the store, the address, the tool servers) need a restart, and are named in the log
and in `parley monitor` until then. A broken edit is refused with the same dotted-path error as
at start, and the running configuration stays.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from parley.config.settings import Settings
from parley.errors import ConfigError

log = logging.getLogger(__name__)

# Per section, the keys a reload applies (at the next turn; vad and barge_in at the next frame,
# in running sessions too, unless their client set that key itself). Anything not named here
# needs a restart.
RELOADABLE: dict[str, frozenset[str]] = {
    "log_level": frozenset({""}),
    "llm": frozenset(
        {"system_prompt", "max_reply_tokens", "temperature", "history_turns", "is_prefilling"}
    ),
    "vad": frozenset(
        {
            "threshold",
            "min_speech_ms",
            "end_silence_ms",
            "pre_roll_ms",
            "max_utterance_s",
            "turn_complete_threshold",
            "turn_complete_silence_ms",
            "turn_certain_threshold",
            "turn_certain_silence_ms",
            "speculative_silence_ms",
        }
    ),
    "barge_in": frozenset({"*"}),
    "memory": frozenset({"is_extracting", "recall_budget_chars"}),
    "tts": frozenset({"first_piece_max_words"}),
    "alerts": frozenset({"*"}),
}


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    settings: Settings  # what runs from now on
    applied: list[str]  # dotted paths
    needs_restart: list[str]


def _changed(running: Any, edited: Any, prefix: str) -> list[str]:
    """Dotted paths of the keys that differ, one level into each section."""
    if isinstance(running, BaseModel) and type(running) is type(edited):
        return [
            f"{prefix}.{name}" if prefix else name
            for name in type(running).model_fields
            if getattr(running, name) != getattr(edited, name)
        ]
    return [prefix] if running != edited else []


def plan_reload(running: Settings, edited: Settings) -> ReloadPlan:
    applied: list[str] = []
    needs_restart: list[str] = []
    updates: dict[str, Any] = {}
    for section in Settings.model_fields:
        old, new = getattr(running, section), getattr(edited, section)
        if old == new:
            continue
        reloadable = RELOADABLE.get(section, frozenset())
        if not isinstance(old, BaseModel):
            if "" in reloadable:
                applied.append(section)
                updates[section] = new
            else:
                needs_restart.append(section)
            continue
        if type(old) is not type(new):  # e.g. llm.backend changed
            needs_restart.append(f"{section}.backend")
            continue
        section_updates: dict[str, Any] = {}
        for path in _changed(old, new, section):
            key = path.split(".", 1)[1]
            if "*" in reloadable or key in reloadable:
                section_updates[key] = getattr(new, key)
                applied.append(path)
            else:
                needs_restart.append(path)
        if section_updates:
            updates[section] = old.model_copy(update=section_updates)
    return ReloadPlan(running.model_copy(update=updates), applied, needs_restart)


def _fingerprint(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass
class LiveConfig:
    """Reloads ``path`` through ``load`` (the same loader as at start) and hands what may change
    now to ``apply``."""

    path: Path
    load: Callable[[], Settings]
    apply: Callable[[Settings], None]
    running: Settings
    loaded_at: float = field(default_factory=time.time)
    needs_restart: list[str] = field(default_factory=list)
    last_error: str | None = None
    reloads: int = 0
    _seen: str | None = None

    def __post_init__(self) -> None:
        self._seen = _fingerprint(self.path)

    def state(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "loaded_at": self.loaded_at,
            "reloads": self.reloads,
            "needs_restart": self.needs_restart,
            "last_error": self.last_error,
        }

    def reload(self, why: str) -> ReloadPlan | None:
        self._seen = _fingerprint(self.path)
        try:
            edited = self.load()
        except ConfigError as error:
            self.last_error = str(error)
            log.error(
                "config %s not reloaded (%s); the running configuration stays: %s",
                self.path,
                why,
                error,
            )
            return None
        plan = plan_reload(self.running, edited)
        self.last_error = None
        self.running = plan.settings
        self.reloads += 1
        self.loaded_at = time.time()
        # What still differs from the file until a restart (an edit back clears it).
        self.needs_restart = plan.needs_restart
        self.apply(plan.settings)
        if plan.applied:
            log.info(
                "config reloaded (%s): %s apply from the next turn", why, ", ".join(plan.applied)
            )
        if plan.needs_restart:
            log.warning(
                "config changed (%s): %s need a restart of the server to apply",
                why,
                ", ".join(plan.needs_restart),
            )
        if not plan.applied and not plan.needs_restart:
            log.info("config reloaded (%s): nothing changed", why)
        return plan

    async def watch(self, *, poll_s: float = 1.0) -> None:
        """Until cancelled: reload when the file's content changes."""
        while True:
            await asyncio.sleep(poll_s)
            seen = await asyncio.to_thread(_fingerprint, self.path)
            if seen is not None and seen != self._seen:
                self.reload("the file changed")
