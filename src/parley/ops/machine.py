"""The machine that figures are measured on: CPU model, cores, and the SIMD it has.

Whisper, llama.cpp and Piper run several times faster with AVX-512 (and AMX) than with AVX2
alone, so a latency figure means little without the CPU beside it.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

# The instruction sets that move Parley's models, in the order people compare them.
_SIMD_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8")


def describe_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    model, flags = platform.processor() or platform.machine(), set[str]()
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "simd": [flag for flag in _SIMD_FLAGS if flag in flags],
    }


def cpu_line(description: dict[str, Any]) -> str:
    simd = " ".join(description["simd"]) or "no AVX"
    return f"{description['cpu']}, {description['cores']} cores, {simd}"
