"""A speech synthesizer run as a process per piece of text (espeak-ng, flite): its WAV output
as samples, the process killed if the reply is cancelled first."""

from __future__ import annotations

import asyncio

import numpy as np

from parley.audio.frames import Int16Array
from parley.audio.pcm import decode_bytes
from parley.errors import BackendError


async def spoken_by_process(argv: list[str], *, sample_rate_hz: int) -> Int16Array:
    """Run ``argv``, which writes one WAV file to stdout, and return it at ``sample_rate_hz``."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        wav, error_output = await process.communicate()
    except asyncio.CancelledError:
        if process.returncode is None:
            process.kill()
        raise
    if process.returncode != 0:
        name = argv[0].rsplit("/", 1)[-1]
        raise BackendError(f"{name} failed: {error_output.decode(errors='replace').strip()}")
    return np.asarray(decode_bytes(wav, sample_rate_hz=sample_rate_hz), dtype=np.int16)
