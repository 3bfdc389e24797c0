"""The cores other processes leave free, measured when a llama.cpp call starts, so that the
call takes no more threads than there are cores for them.

llama.cpp's threads meet at a barrier at every step of a token, so a call runs at the pace of
the thread that has the least of a core, and a thread waiting for one that is off its core
spins. On 2 cores beside `stress-ng --cpu 1`, the 1.5B took 508 ms a token on two threads
against 137 ms on one, and SmolLM2 314 ms against 21; idle, two threads took 74 and 12 ms (Intel
Xeon, AVX-512). ONNX Runtime (Piper, Smart Turn) sleeps at its barriers and lost little to the
same load (Piper's sentence 184 ms on two threads, 212 on one), so it keeps its threads.

No thread of its own: each call samples the system's and this process's CPU time and compares
it with a sample at least a window older. Calls come every few hundred ms while a person
speaks (the prompt read ahead), so the figure a reply starts with is a second old at most.
"""

from __future__ import annotations

import collections
import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

log = logging.getLogger(__name__)

# What is measured: the CPU other processes used over at least this long before a call.
_WINDOW_S = 1.0
# Shorter than this, the kernel's 10 ms ticks make the figure too coarse to act on.
_SHORTEST_SPAN_S = 0.2
# A core counts as taken once other processes use more than this much of it on average, and
# as free again only under the second figure, so that a load near the line does not switch
# the count at every call. Measured beside `stress-ng --cpu 1 --cpu-load N` (1.5B, ms a token,
# one thread / two): 10 % 101 / 63, 20 % 100 / 71, 35 % 101 / 85, 50 % 104 / 99, 100 % 137 / 508.
_TAKEN_ABOVE_CORES = 0.5
_FREE_BELOW_CORES = 0.4


@dataclass(frozen=True, slots=True)
class CpuSample:
    at_s: float  # monotonic
    busy_cpu_s: float  # CPU time of every process on the cores measured, since boot
    own_cpu_s: float  # this process's CPU time, every thread


def usable_cores() -> list[int]:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(psutil.cpu_count() or 1))


def read_cpu_sample(cores: list[int]) -> CpuSample:
    """The busy time of ``cores`` (psutil) and this process's own, now."""
    per_core = psutil.cpu_times(percpu=True)
    busy_s = 0.0
    for core in cores:
        if core >= len(per_core):  # taken offline since the process started
            continue
        times = per_core[core]
        # Guest time is counted in user time already; steal is time another VM had the core.
        not_busy_s = (
            times.idle
            + getattr(times, "iowait", 0.0)
            + getattr(times, "guest", 0.0)
            + getattr(times, "guest_nice", 0.0)
        )
        busy_s += sum(times) - not_busy_s
    own = os.times()
    return CpuSample(at_s=time.monotonic(), busy_cpu_s=busy_s, own_cpu_s=own.user + own.system)


class SpareCores:
    def __init__(
        self, *, read_sample: Callable[[], CpuSample] | None = None, cores: int = 0
    ) -> None:
        """By default it measures the cores this process may use; a test gives ``read_sample``
        and ``cores`` instead."""
        self._read_sample: Callable[[], CpuSample]
        if read_sample is None:
            usable = usable_cores()
            self.cores = len(usable)
            self._read_sample = functools.partial(read_cpu_sample, usable)
        else:
            self.cores, self._read_sample = cores, read_sample
        self._lock = threading.Lock()  # the reply's model and the scorer may ask at once
        self._samples: collections.deque[CpuSample] = collections.deque(
            [self._read_sample()], maxlen=256
        )
        self._spare_threads = self.cores  # until a span is measured

    def threads_for(self, wanted: int) -> int:
        """Threads for a call that would use ``wanted``: fewer when other processes keep a
        core busy."""
        now = self._read_sample()
        with self._lock:
            samples = self._samples
            samples.append(now)
            # Keep the newest sample a window old or older, and those since.
            while len(samples) > 2 and now.at_s - samples[1].at_s >= _WINDOW_S:
                samples.popleft()
            base = samples[0]
            span_s = now.at_s - base.at_s
            if span_s >= _SHORTEST_SPAN_S:
                self._update(base, now, span_s)
            return max(1, min(wanted, self._spare_threads))

    def _update(self, base: CpuSample, now: CpuSample, span_s: float) -> None:
        others_cpu_s = (now.busy_cpu_s - base.busy_cpu_s) - (now.own_cpu_s - base.own_cpu_s)
        others_cores = max(0.0, others_cpu_s / span_s)
        # A core clearly taken is given up, one clearly free taken back; in between, no change.
        at_most = self._threads_left(others_cores, _TAKEN_ABOVE_CORES)
        at_least = self._threads_left(others_cores, _FREE_BELOW_CORES)
        spare_threads = min(max(self._spare_threads, at_least), at_most)
        if spare_threads != self._spare_threads:
            log.info(
                "llama.cpp now on %d thread(s): other processes kept %.1f of %d cores busy "
                "over the last %.1f s",
                spare_threads,
                others_cores,
                self.cores,
                span_s,
            )
        self._spare_threads = spare_threads

    def _threads_left(self, others_cores: float, taken_above_cores: float) -> int:
        taken = max(0, math.ceil(others_cores - taken_above_cores))
        return max(1, self.cores - taken)
