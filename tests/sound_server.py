"""A real PulseAudio server for tests, with no hardware: a null sink is the loudspeaker, and a
second null sink, whose monitor is the default source, is the microphone. What a test plays
into ``mic_feed`` is what Parley hears; what Parley plays is recorded from ``speaker.monitor``;
``module-loopback`` from the speaker's monitor into ``mic_feed`` is the echo of a room.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tests.conftest import end_process

SPEAKER_RATE_HZ = 24_000
MIC_RATE_HZ = 16_000


class SoundServer:
    def __init__(self) -> None:
        if shutil.which("pulseaudio") is None:
            raise RuntimeError("PulseAudio is not installed: `make test` installs it.")
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="parley-pulse-"))
        self._recorders: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "PULSE_RUNTIME_PATH": str(self.runtime_dir / "pulse"),
            "PULSE_STATE_PATH": str(self.runtime_dir / "state"),
        }
        subprocess.run(
            [
                "pulseaudio",
                "--daemonize",
                "--no-cpu-limit",
                "-n",
                "--exit-idle-time=-1",
                "--load=module-native-protocol-unix",
                f"--load=module-null-sink sink_name=speaker rate={SPEAKER_RATE_HZ} channels=1",
                f"--load=module-null-sink sink_name=mic_feed rate={MIC_RATE_HZ} channels=1",
            ],
            env=self.env,
            check=True,
            capture_output=True,
        )
        for _ in range(50):
            if self._run("pactl", "info", check=False).returncode == 0:
                break
            time.sleep(0.1)
        self._run("pactl", "set-default-sink", "speaker")
        self._run("pactl", "set-default-source", "mic_feed.monitor")
        self._echo_module: str | None = None

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, env=self.env, check=check, capture_output=True, text=True)

    def play_into_microphone(self, samples: np.ndarray) -> None:
        """Say ``samples`` (16 kHz) into the microphone, in real time; returns when done."""
        subprocess.run(
            [
                "pacat",
                "--playback",
                "--device=mic_feed",
                "--raw",
                f"--rate={MIC_RATE_HZ}",
                "--channels=1",
                "--format=s16le",
                "--latency-msec=20",
            ],
            input=samples.astype(np.int16).tobytes(),
            env=self.env,
            check=True,
        )

    def record_speaker(self, path: Path) -> subprocess.Popen[bytes]:
        """Record what the loudspeaker plays (24 kHz) into ``path`` until the process is
        stopped (``recorded``, or the sound server's close, whatever the test's outcome)."""
        with path.open("wb") as output:  # the child keeps its own copy of the descriptor
            recorder = self._recorder(output)
        self._recorders.append(recorder)
        return recorder

    def _recorder(self, output: BinaryIO) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                "parec",
                "--device=speaker.monitor",
                "--raw",
                f"--rate={SPEAKER_RATE_HZ}",
                "--channels=1",
                "--format=s16le",
                "--latency-msec=20",
            ],
            stdout=output,
            env=self.env,
        )

    @staticmethod
    def recorded(process: subprocess.Popen[bytes], path: Path) -> np.ndarray:
        process.terminate()
        process.wait(timeout=10)
        return np.frombuffer(path.read_bytes(), dtype=np.int16)

    def echo(self, *, gain_db: float, delay_ms: int) -> None:
        """Mix the loudspeaker back into the microphone, ``gain_db`` down, ``delay_ms`` late."""
        self.no_echo()
        self._echo_module = self._run(
            "pactl",
            "load-module",
            "module-loopback",
            "source=speaker.monitor",
            "sink=mic_feed",
            f"latency_msec={delay_ms}",
            "source_dont_move=true",
            "sink_dont_move=true",
        ).stdout.strip()
        sink_input = None
        for line in self._run("pactl", "list", "sink-inputs").stdout.splitlines():
            if line.startswith("Sink Input #"):
                sink_input = line.removeprefix("Sink Input #").strip()
            elif line.strip() == f"Owner Module: {self._echo_module}" and sink_input:
                # PulseAudio's volume is cubic: percent = 100 * 10^(dB / 60).
                percent = round(100 * 10 ** (gain_db / 60))
                self._run("pactl", "set-sink-input-volume", sink_input, f"{percent}%")

    def no_echo(self) -> None:
        if self._echo_module is not None:
            self._run("pactl", "unload-module", self._echo_module)
            self._echo_module = None

    def close(self) -> None:
        for recorder in self._recorders:
            end_process(recorder, grace_s=10)
        self._run("pulseaudio", "--kill", check=False)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
