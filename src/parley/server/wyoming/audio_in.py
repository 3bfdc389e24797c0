"""A Wyoming client's audio, at whatever rate, sample width and channel count it announces,
made into Parley's input: 16 kHz mono int16, resampled once and statefully (no seam at chunk
edges). A chunk in another format than the one before it (a client that changes its rate mid
stream) is converted too: the old resampler's tail is flushed first, so nothing is lost."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array

MIN_RATE_HZ = 4_000
MAX_RATE_HZ = 192_000
MAX_CHANNELS = 8


class AudioFormatError(ValueError):
    """The client's audio cannot be read as it says it is."""


@dataclass(frozen=True, slots=True)
class AudioFormat:
    rate_hz: int
    width_bytes: int
    channels: int

    @classmethod
    def of(cls, data: dict[str, object]) -> AudioFormat:
        """The format an ``audio-start`` or ``audio-chunk`` announces, checked."""
        rate, width, channels = data.get("rate"), data.get("width"), data.get("channels")
        if not all(
            isinstance(value, int) and not isinstance(value, bool)
            for value in (rate, width, channels)
        ):
            raise AudioFormatError(
                f"Audio needs integer rate, width and channels; got rate={rate!r}, "
                f"width={width!r}, channels={channels!r}."
            )
        assert isinstance(rate, int) and isinstance(width, int) and isinstance(channels, int)
        if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
            raise AudioFormatError(f"A rate of {rate} Hz is outside {MIN_RATE_HZ}-{MAX_RATE_HZ}.")
        if width not in (1, 2, 4):
            raise AudioFormatError(f"A sample width of {width} bytes is not 1, 2 or 4.")
        if not 1 <= channels <= MAX_CHANNELS:
            raise AudioFormatError(f"{channels} channels is outside 1-{MAX_CHANNELS}.")
        return cls(rate, width, channels)

    @property
    def frame_bytes(self) -> int:
        return self.width_bytes * self.channels


class AudioIn:
    """Feed payloads in order; each ``convert`` returns the 16 kHz mono samples they make."""

    def __init__(self) -> None:
        self._format: AudioFormat | None = None
        self._resampler: soxr.ResampleStream | None = None

    def convert(self, payload: bytes, audio_format: AudioFormat) -> Int16Array:
        if len(payload) % audio_format.frame_bytes:
            raise AudioFormatError(
                f"An audio chunk of {len(payload)} bytes is not a whole number of "
                f"{audio_format.channels}-channel, {audio_format.width_bytes}-byte samples."
            )
        flushed = self._switch_to(audio_format) if audio_format != self._format else None
        samples = _mono_int16(payload, audio_format)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        return samples if flushed is None else np.concatenate([flushed, samples])

    def flush(self) -> Int16Array:
        """What the resampler still holds at the end of the stream."""
        if self._resampler is None:
            return np.zeros(0, np.int16)
        tail = self._resampler.resample_chunk(np.zeros(0, np.int16), last=True)
        self._resampler, self._format = None, None
        return np.asarray(tail, dtype=np.int16)

    def _switch_to(self, audio_format: AudioFormat) -> Int16Array | None:
        flushed = self.flush() if self._format is not None else None
        self._format = audio_format
        self._resampler = (
            None
            if audio_format.rate_hz == INPUT_SAMPLE_RATE_HZ
            else soxr.ResampleStream(audio_format.rate_hz, INPUT_SAMPLE_RATE_HZ, 1, dtype="int16")
        )
        return flushed


def _mono_int16(payload: bytes, audio_format: AudioFormat) -> Int16Array:
    width = audio_format.width_bytes
    if width == 1:  # unsigned 8-bit, as WAV stores it
        samples = (np.frombuffer(payload, np.uint8).astype(np.int32) - 128) << 8
    elif width == 2:
        samples = np.frombuffer(payload, "<i2").astype(np.int32)
    else:
        samples = np.frombuffer(payload, "<i4").astype(np.int64) >> 16
    if audio_format.channels > 1:
        samples = samples.reshape(-1, audio_format.channels).mean(axis=1)
    return np.asarray(np.clip(samples, -32768, 32767), dtype=np.int16)
