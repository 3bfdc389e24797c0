"""PCM audio: decoding any file to 16 kHz mono, resampling, level checks, and WAV output."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile
import soxr

from parley.errors import AudioDecodeError
from parley.events import Int16Array

INPUT_SAMPLE_RATE_HZ = 16_000
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


def decode_file(path: Path, *, sample_rate_hz: int = INPUT_SAMPLE_RATE_HZ) -> Int16Array:
    """Read wav, flac, ogg or mp3 at any rate and channel count; return mono int16 at the given rate."""
    if not path.exists():
        raise AudioDecodeError(f"Audio file {path} does not exist.")
    try:
        data, file_rate_hz = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioDecodeError(
            f"Cannot decode {path} as audio ({error}). Give a wav, flac, ogg or mp3 file."
        ) from None
    return _to_mono_int16(data, int(file_rate_hz), sample_rate_hz, source=str(path))


def decode_bytes(payload: bytes, *, sample_rate_hz: int = INPUT_SAMPLE_RATE_HZ) -> Int16Array:
    """Decode an in-memory audio file (as uploaded over HTTP)."""
    try:
        data, file_rate_hz = soundfile.read(io.BytesIO(payload), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioDecodeError(
            f"Cannot decode the uploaded audio ({error}). Send a wav, flac, ogg or mp3 file."
        ) from None
    return _to_mono_int16(data, int(file_rate_hz), sample_rate_hz, source="the uploaded audio")


def _to_mono_int16(
    data: np.ndarray, file_rate_hz: int, to_rate_hz: int, *, source: str
) -> Int16Array:
    if data.shape[0] == 0:
        raise AudioDecodeError(f"{source} holds no audio samples.")
    mono = data.mean(axis=1, dtype=np.float32)
    if file_rate_hz != to_rate_hz:
        mono = soxr.resample(mono, file_rate_hz, to_rate_hz, quality="HQ")
    return float32_to_int16(mono)


def write_wav(path: Path, samples: Int16Array, sample_rate_hz: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples, sample_rate_hz, subtype="PCM_16")


def wav_bytes(samples: Int16Array, sample_rate_hz: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate_hz, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
