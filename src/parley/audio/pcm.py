"""PCM audio: decoding any file to 16 kHz mono, resampling, level checks, and WAV output."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile
import soxr

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array
from parley.errors import AudioDecodeError

Float32Array = np.ndarray  # float32 mono in [-1, 1]


def int16_to_float32(samples: Int16Array) -> Float32Array:
    return samples.astype(np.float32) / 32768.0


def float32_to_int16(samples: Float32Array) -> Int16Array:
    return np.clip(np.rint(samples * 32767.0), -32768, 32767).astype(np.int16)


def resample(samples: Int16Array, from_rate_hz: int, to_rate_hz: int) -> Int16Array:
    """Resample int16 mono with soxr's high-quality filter; a no-op when the rates match."""
    if from_rate_hz == to_rate_hz or samples.size == 0:
        return samples
    return soxr.resample(samples, from_rate_hz, to_rate_hz, quality="HQ")  # type: ignore[no-any-return]


def rms_dbfs(samples: Int16Array) -> float:
    """Root-mean-square level relative to full scale; -inf for digital silence."""
    if samples.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(samples.astype(np.float64)))))
    return 20.0 * np.log10(rms / 32768.0) if rms > 0 else float("-inf")


# Longest audio decoded by default (a file given to `parley talk`, an upload); callers may pass
# their own. Checked from the header before decoding, and again while decoding for formats
# whose header does not say (a compressed file can expand a thousandfold).
MAX_DECODED_S = 600.0
MAX_CHANNELS = 8
_DECODE_BLOCK_FRAMES = 65_536


def decode_file(
    path: Path, *, sample_rate_hz: int = INPUT_SAMPLE_RATE_HZ, max_s: float = MAX_DECODED_S
) -> Int16Array:
    """Read wav, flac, ogg or mp3 at any rate and channel count; return mono int16 at the given rate."""
    if not path.exists():
        raise AudioDecodeError(f"Audio file {path} does not exist.")
    return _decode(str(path), sample_rate_hz, max_s, name=str(path))


def decode_bytes(
    payload: bytes, *, sample_rate_hz: int = INPUT_SAMPLE_RATE_HZ, max_s: float = MAX_DECODED_S
) -> Int16Array:
    """Decode an in-memory audio file (as uploaded over HTTP)."""
    return _decode(io.BytesIO(payload), sample_rate_hz, max_s, name="the uploaded audio")


def _decode(source: str | io.BytesIO, to_rate_hz: int, max_s: float, *, name: str) -> Int16Array:
    try:
        with soundfile.SoundFile(source) as sound:
            rate_hz, channels = int(sound.samplerate), int(sound.channels)
            if not 0 < rate_hz <= 384_000 or not 0 < channels <= MAX_CHANNELS:
                raise AudioDecodeError(
                    f"{name} has {channels} channels at {rate_hz} Hz; Parley takes 1 to "
                    f"{MAX_CHANNELS} channels at up to 384 kHz."
                )
            max_frames = int(max_s * rate_hz)
            if sound.frames > max_frames:  # the header's own count, before decoding anything
                raise AudioDecodeError(_too_long(name, sound.frames / rate_hz, max_s))
            # Decoded in blocks and mixed to mono as it goes: memory stays near the output's size.
            resampler = (
                soxr.ResampleStream(rate_hz, to_rate_hz, 1, dtype="float32", quality="HQ")
                if rate_hz != to_rate_hz
                else None
            )
            pieces: list[np.ndarray] = []
            decoded_frames = 0
            for block in sound.blocks(_DECODE_BLOCK_FRAMES, dtype="float32", always_2d=True):
                decoded_frames += block.shape[0]
                if decoded_frames > max_frames:
                    raise AudioDecodeError(_too_long(name, decoded_frames / rate_hz, max_s))
                mono = block.mean(axis=1, dtype=np.float32)
                pieces.append(mono if resampler is None else resampler.resample_chunk(mono))
            if resampler is not None:
                pieces.append(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioDecodeError(
            f"Cannot decode {name} as audio ({error}). Give a wav, flac, ogg or mp3 file."
        ) from None
    if decoded_frames == 0:
        raise AudioDecodeError(f"{name} holds no audio samples.")
    return float32_to_int16(np.concatenate(pieces))


def _too_long(name: str, seconds: float, max_s: float) -> str:
    return (
        f"{name} is longer than Parley takes ({seconds:,.0f} s or more; the limit is "
        f"{max_s:,.0f} s). Cut it into shorter pieces."
    )


def write_wav(path: Path, samples: Int16Array, sample_rate_hz: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples, sample_rate_hz, subtype="PCM_16")


def wav_bytes(samples: Int16Array, sample_rate_hz: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate_hz, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
