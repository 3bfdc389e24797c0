"""numpy's OpenBLAS must not keep a spinning worker thread beside the models (it took a core
from the LLM's prompt at every pause): importing Parley first leaves numpy with one thread."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_THREADS_AFTER_NUMPY = (
    "import parley, numpy, os; "
    "numpy.ones((256, 256)) @ numpy.ones((256, 256)); "
    "print(len(os.listdir('/proc/self/task')))"
)


def _threads(environment: dict[str, str]) -> int:
    output = subprocess.run(
        [sys.executable, "-c", _THREADS_AFTER_NUMPY],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(output)


def test_importing_parley_leaves_numpy_without_worker_threads() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert _threads(environment) == 1


def test_a_thread_count_the_user_set_is_kept() -> None:
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: OpenBLAS starts no worker either way")
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    assert _threads(environment) == 2
