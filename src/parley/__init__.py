"""Parley: a fully local, real-time voice assistant."""

import os

# numpy's OpenBLAS keeps a worker thread per core that busy-waits for ~0.1 s after every matrix
# product (the mel filters of Whisper's and the turn model's features, the memory embedder).
# On two cores that spinning thread took one core from the LLM's prompt at the pause: 8 tokens
# read in ~110 ms instead of ~55 (bench median 419 -> 381 ms without it). Parley's own matrix
# products are small, so one thread is as fast. Set before numpy is first imported, which
# importing any part of Parley does after this; a value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
