"""Short sounds Parley makes that are not words: the chime that says it is listening."""

from __future__ import annotations

import numpy as np

from parley.audio.frames import Int16Array


def listening_chime(sample_rate_hz: int) -> Int16Array:
    """Two soft rising notes, 0.22 s in all (A5 then E6), faded in and out so they do not click."""
    notes = []
    for frequency_hz, length_s in ((880.0, 0.1), (1318.5, 0.12)):
        t = np.arange(int(sample_rate_hz * length_s)) / sample_rate_hz
        fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.015)
        notes.append(0.25 * np.sin(2 * np.pi * frequency_hz * t) * fade)
    return (np.concatenate(notes) * 32767).astype(np.int16)
