"""The machine's own microphone and loudspeaker, through PortAudio (``sounddevice``).

The microphone's frames go to the session as any transport's do; none is ever dropped here
(PortAudio's thread hands each block to the event loop, and the session applies
back-pressure). The loudspeaker is an ``AudioSink``: it counts what it has really played (for
the heard-text ledger), goes silent at once on ``duck``, and hands every block it plays to the
echo canceller as its reference.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from parley.audio.echo import EchoCanceller
from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, AudioFrame, AudioReady, Int16Array
from parley.audio.sink import PlaybackTracks
from parley.errors import DeviceError

if TYPE_CHECKING:
    import sounddevice

log = logging.getLogger(__name__)

_AHEAD_S = 0.4  # reply audio queued ahead of the loudspeaker, like a device buffer
# Sound still in the device's buffer and the room after the queue runs dry.
_ECHO_TAIL_S = 0.3

DeviceSpec = str | int | None


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as error:  # the Python package is there, PortAudio is not
        raise DeviceError(
            "PortAudio is not installed: install Debian's libportaudio2 (make install does)."
        ) from error
    return sounddevice


@dataclass(frozen=True, slots=True)
class Device:
    index: int
    name: str
    inputs: int
    outputs: int
    default_rate_hz: float
    is_default_input: bool
    is_default_output: bool


def list_devices() -> list[Device]:
    sd = _sounddevice()
    default_in, default_out = sd.default.device
    return [
        Device(
            int(info["index"]),
            str(info["name"]),
            int(info["max_input_channels"]),
            int(info["max_output_channels"]),
            float(info["default_samplerate"]),
            info["index"] == default_in,
            info["index"] == default_out,
        )
        for info in sd.query_devices()
    ]


def resolve_device(spec: DeviceSpec, kind: Literal["input", "output"]) -> int | None:
    """The index of the device ``spec`` names (an index, or a name or part of one)."""
    if spec is None:
        return None
    devices = [d for d in list_devices() if (d.inputs if kind == "input" else d.outputs) > 0]
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        index = int(spec)
        if any(d.index == index for d in devices):
            return index
    else:
        named = [d for d in devices if spec.lower() in d.name.lower()]
        exact = [d for d in named if d.name.lower() == spec.lower()]
        if len(exact) == 1 or len(named) == 1:
            return (exact or named)[0].index
    names = ", ".join(f"{d.index}: {d.name}" for d in devices) or "none"
    raise DeviceError(
        f"No single {kind} device matches {spec!r}. The {kind} devices are: {names} "
        "(see `parley devices`)."
    )


def _opened(open_stream: Callable[[], sounddevice.Stream], what: str) -> sounddevice.Stream:
    sd = _sounddevice()
    try:
        stream = open_stream()
        stream.start()
    except sd.PortAudioError as error:
        raise DeviceError(
            f"The {what} could not be opened ({error}): is it busy, or unplugged? "
            "`parley devices` lists what there is."
        ) from error
    return stream


CUE_TURN_ID = -1  # what a cue is queued under: no reply's turn


class Loudspeaker:
    """Plays reply audio on an output device (an ``AudioSink``)."""

    def __init__(
        self,
        *,
        sample_rate_hz: int,
        device: DeviceSpec = None,
        echo: EchoCanceller | None = None,
        on_sentence_heard: Callable[[int, int], None] = lambda _turn, _sentence: None,
    ) -> None:
        self.tracks = PlaybackTracks()  # touched on the event loop only
        self.can_resume_held_playback = True
        self._sample_rate_hz = sample_rate_hz
        self._device = device
        self._echo = echo
        self._on_sentence_heard = on_sentence_heard
        self._lock = threading.Lock()
        self._queue: deque[tuple[int, int, Int16Array]] = deque()  # turn, sentence, samples
        self._queued_samples = 0
        self._played: dict[int, int] = {}
        self._started_sentences: set[tuple[int, int]] = set()
        self._is_ducked = False
        self._last_sounded_s = float("-inf")  # monotonic time of the last block with reply audio
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: sounddevice.Stream | None = None
        self._played_more = asyncio.Event()
        self.underflows = 0  # blocks the device wanted before Parley gave them

    def open(self) -> None:
        sd = _sounddevice()
        self.attach()
        self._stream = _opened(
            lambda: sd.OutputStream(
                samplerate=self._sample_rate_hz,
                channels=1,
                dtype="int16",
                blocksize=self._sample_rate_hz // 50,  # 20 ms
                device=resolve_device(self._device, "output"),
                latency="low",
                callback=self._fill,
            ),
            "loudspeaker",
        )

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self.underflows:
            log.warning("the loudspeaker underflowed %d times (it played gaps)", self.underflows)

    @property
    def is_held_silent(self) -> bool:
        """Whether reply audio is waiting while the loudspeaker is held silent (a possible
        barge-in being judged)."""
        with self._lock:
            return self._queued_samples > 0 and self._is_ducked

    @property
    def is_sounding(self) -> bool:
        """Whether reply audio is playing, or played so recently that its echo may linger."""
        with self._lock:
            is_playing = self._queued_samples > 0 and not self._is_ducked
            return is_playing or time.monotonic() - self._last_sounded_s < _ECHO_TAIL_S

    def _fill(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: the next block, from the queue or silence."""
        if status.output_underflow:
            self.underflows += 1
        outdata[:, 0] = self.next_block(
            frames, output_delay_s=time_info.outputBufferDacTime - time_info.currentTime
        )

    def attach(self) -> None:
        """Report to this event loop; alone (without ``open``), be clocked by ``next_block``
        calls instead of by a device (a simulated room)."""
        self._loop = asyncio.get_running_loop()

    def next_block(self, frames: int, *, output_delay_s: float = 0.0) -> Int16Array:
        """The next ``frames`` samples the loudspeaker plays (silence when nothing is queued or
        it is held silent), handed to the echo canceller as they go out."""
        block = np.zeros(frames, dtype=np.int16)
        reference = block  # what the echo canceller is told is playing: no cue
        heard: list[tuple[int, int]] = []
        with self._lock:
            filled = 0
            while not self._is_ducked and filled < frames and self._queue:
                turn_id, sentence, samples = self._queue[0]
                if (turn_id, sentence) not in self._started_sentences:
                    self._started_sentences.add((turn_id, sentence))
                    heard.append((turn_id, sentence))
                taken = min(frames - filled, samples.size)
                block[filled : filled + taken] = samples[:taken]
                if turn_id == CUE_TURN_ID:
                    # Told of a chime, the canceller suppresses the user's first words said
                    # over it ("Okay Nabu, tell me…" came out "I'm…"); a tone's own echo is not
                    # speech to the VAD.
                    if reference is block:
                        reference = block.copy()
                    reference[filled : filled + taken] = 0
                filled += taken
                self._played[turn_id] = self._played.get(turn_id, 0) + taken
                self._queued_samples -= taken
                if taken == samples.size:
                    self._queue.popleft()
                else:
                    self._queue[0] = (turn_id, sentence, samples[taken:])
            if filled:
                self._last_sounded_s = time.monotonic()
        if self._echo is not None:
            self._echo.render(reference, output_delay_s=output_delay_s)
        if self._loop is not None:
            for turn_id, sentence in heard:
                self._loop.call_soon_threadsafe(self._on_sentence_heard, turn_id, sentence)
            self._loop.call_soon_threadsafe(self._played_more.set)
        return block

    async def play(self, chunk: AudioReady) -> None:
        if not self.tracks.admits(chunk.turn_id):
            return  # stale audio from a cancelled turn
        with self._lock:
            self._queue.append((chunk.turn_id, chunk.sentence_index, chunk.samples))
            self._queued_samples += chunk.samples.size
        while self._queued_ahead_s() > _AHEAD_S and self.tracks.has_floor(chunk.turn_id):
            await self._next_block()

    async def _next_block(self) -> None:
        """Until the device has taken its next block (every 20 ms, sound or silence)."""
        self._played_more.clear()
        await self._played_more.wait()

    def _queued_ahead_s(self) -> float:
        with self._lock:
            return self._queued_samples / self._sample_rate_hz

    def cue(self, samples: Int16Array) -> None:
        """Play a sound that is no reply's (a chime), after whatever is queued."""
        with self._lock:
            self._queue.append((CUE_TURN_ID, 0, samples))
            self._queued_samples += samples.size

    def clear(self, turn_id: int) -> None:
        with self._lock:
            # Only that turn's audio goes: a reply still playing under it plays on.
            self._queue = deque(entry for entry in self._queue if entry[0] != turn_id)
            self._queued_samples = sum(entry[2].size for entry in self._queue)
            self.tracks.clear(turn_id, played_samples=self._played.get(turn_id, 0))
            if self.tracks.has_floor(turn_id):
                self._is_ducked = False

    def duck(self, is_ducked: bool) -> None:
        with self._lock:
            self._is_ducked = is_ducked

    def played_samples(self, turn_id: int) -> int:
        with self._lock:
            return self._played.get(turn_id, 0)

    async def drain(self) -> None:
        while self._queued_ahead_s() > 0:
            await self._next_block()


class Microphone:
    """Records from an input device in frames of ``frame_ms``, echo removed when it can be."""

    def __init__(
        self,
        *,
        frame_ms: int,
        device: DeviceSpec = None,
        echo: EchoCanceller | None = None,
        is_muted: Callable[[], bool] = lambda: False,
    ) -> None:
        self._frame_samples = INPUT_SAMPLE_RATE_HZ * frame_ms // 1000
        self._device = device
        self._echo = echo
        self._is_muted = is_muted  # half-duplex: Parley does not listen while it speaks
        self.overflows = 0  # blocks PortAudio itself lost before Parley saw them
        self._stream: sounddevice.Stream | None = None

    def open(self) -> None:
        """Start recording (in the running event loop); raises DeviceError if it cannot."""
        sd = _sounddevice()
        loop = asyncio.get_running_loop()
        # Unbounded on purpose: what the user said is never dropped between the audio thread
        # and the session (which blocks its source when it falls behind).
        self._blocks: asyncio.Queue[Int16Array] = asyncio.Queue()

        def record(indata: np.ndarray, _frames: int, time_info: Any, status: Any) -> None:
            if status.input_overflow:
                self.overflows += 1
            samples = indata[:, 0].copy()
            if self._echo is not None:
                samples = self._echo.capture(
                    samples, input_delay_s=time_info.currentTime - time_info.inputBufferAdcTime
                )
            if self._is_muted():
                samples = np.zeros_like(samples)
            loop.call_soon_threadsafe(self._blocks.put_nowait, samples)

        self._stream = _opened(
            lambda: sd.InputStream(
                samplerate=INPUT_SAMPLE_RATE_HZ,
                channels=1,
                dtype="int16",
                blocksize=self._frame_samples,
                device=resolve_device(self._device, "input"),
                latency="low",
                callback=record,
            ),
            "microphone",
        )

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self.overflows:
            log.warning("the microphone overflowed %d times (PortAudio lost audio)", self.overflows)

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """What the microphone records, from ``open`` on, until it is closed."""
        position = 0
        while self._stream is not None:
            samples = await self._blocks.get()
            yield AudioFrame(samples=samples, start_sample=position, t_ns=time.perf_counter_ns())
            position += samples.size
