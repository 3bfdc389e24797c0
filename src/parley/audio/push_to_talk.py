"""Push to talk in a terminal: the microphone is open while a key is held down.

A terminal reports key presses, never releases. While a key is held, its auto-repeat sends it
again and again (after a first delay of up to ~0.6 s, then every ~30–50 ms); the key counts as
released once the repeats stop.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from parley.errors import DeviceError

# The longest a terminal waits before it starts repeating a held key, and between repeats.
_FIRST_REPEAT_S = 0.65
_REPEAT_S = 0.15


class HeldKey:
    """Whether a key is held, from the times it was reported (a clock in seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first_press_s: float | None = None
        self._last_press_s = float("-inf")
        self._presses_in_hold = 0

    def press(self, now_s: float) -> None:
        with self._lock:
            if not self._is_held(now_s):
                self._first_press_s, self._presses_in_hold = now_s, 0
            self._last_press_s = now_s
            self._presses_in_hold += 1

    def is_held(self, now_s: float) -> bool:
        with self._lock:
            return self._is_held(now_s)

    def _is_held(self, now_s: float) -> bool:
        since_last_s = now_s - self._last_press_s
        wait_s = _FIRST_REPEAT_S if self._presses_in_hold <= 1 else _REPEAT_S
        return since_last_s < wait_s


@contextmanager
def key_held_in_terminal() -> Iterator[HeldKey]:
    """Read the terminal's keys (unbuffered, not echoed) while the block runs."""
    import termios
    import tty

    if not sys.stdin.isatty():
        raise DeviceError("--push-to-talk reads a held key from a terminal; stdin is not one.")
    descriptor = sys.stdin.fileno()
    saved = termios.tcgetattr(descriptor)
    key = HeldKey()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            if os.read(descriptor, 1):
                key.press(time.monotonic())

    tty.setcbreak(descriptor)
    threading.Thread(target=read, name="push-to-talk", daemon=True).start()
    try:
        yield key
    finally:
        stop.set()
        termios.tcsetattr(descriptor, termios.TCSADRAIN, saved)
