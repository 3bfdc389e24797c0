"""What a client may change about its conversation while it runs, as one frozen value.

A transport (the realtime socket's ``session.update``) builds a new value and replaces the old
one whole; the session reads it at the start of each turn and frame, so no change lands halfway
through one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parley.config.settings import VadConfig
from parley.tools.hub import ToolSpec


@dataclass(frozen=True, slots=True)
class SessionOptions:
    instructions: str | None = None  # a persona that overrides the configured system prompt
    is_replying_automatically: bool = True  # reply when a turn ends, without being asked
    is_barge_in_enabled: bool = True  # speech over a reply stops it
    is_speaking: bool = True  # False: text-only replies
    speed: float = 1.0  # speaking rate relative to the voice's configured one
    voice: str | None = None  # an offline voice by name (backends.voices); None: the configured
    # How a turn's end is found, where a client set it; None: the config's, read afresh at
    # every frame, so that a reloaded config reaches running sessions as it reaches new ones.
    vad_threshold: float | None = None
    end_silence_ms: int | None = None
    # The turn model may end a turn sooner when the voice sounds finished (semantic VAD).
    is_using_turn_model: bool | None = None
    turn_complete_threshold: float | None = None
    # Functions a realtime client offers (it runs them itself), and which of them it wants.
    client_tools: tuple[ToolSpec, ...] = field(default_factory=tuple)
    client_tool_choice: str = "auto"  # auto, none, required, or a function's name

    def turn_detection(self, vad: VadConfig) -> TurnDetection:
        """How turns end now: the client's choices over the config's."""
        return TurnDetection(
            vad_threshold=vad.threshold if self.vad_threshold is None else self.vad_threshold,
            end_silence_ms=vad.end_silence_ms
            if self.end_silence_ms is None
            else self.end_silence_ms,
            is_using_turn_model=vad.is_using_turn_model
            if self.is_using_turn_model is None
            else self.is_using_turn_model,
            turn_complete_threshold=vad.turn_complete_threshold
            if self.turn_complete_threshold is None
            else self.turn_complete_threshold,
        )


@dataclass(frozen=True, slots=True)
class TurnDetection:
    """How the end of a turn is found, as it stands for one frame."""

    vad_threshold: float
    end_silence_ms: int
    is_using_turn_model: bool
    turn_complete_threshold: float
