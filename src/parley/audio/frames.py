"""Audio as it crosses Parley: the sample types, the input side's one rate, a microphone frame
and a chunk of reply audio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Int16Array: TypeAlias = npt.NDArray[np.int16]

# The one rate of Parley's input side: microphone frames, VAD, endpointing and Whisper.
INPUT_SAMPLE_RATE_HZ = 16_000


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """A frame of microphone audio, 16 kHz mono int16, as it arrived."""

    samples: Int16Array
    start_sample: int
    t_ns: int


@dataclass(frozen=True, slots=True)
class AudioReady:
    """Reply audio for one sentence (or part of one), at the output sample rate."""

    turn_id: int
    sentence_index: int
    samples: Int16Array
    sample_rate_hz: int
    t_ns: int
