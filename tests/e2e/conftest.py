"""Fixtures of the end-to-end tests: one model server for the run (`parley serve --role models`),
whose models the small workers of the restart and cluster tests use instead of loading their
own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_data_dir
from tests.e2e.test_cli_serve import serving

MODELS_KEY = "pk-model-server-0123456789"


@pytest.fixture(scope="session")
def model_server(
    tmp_path_factory: pytest.TempPathFactory, models_dir: Path
) -> Iterator[tuple[str, Path]]:
    """The model server's URL and its log."""
    root = tmp_path_factory.mktemp("models-box")
    env = {
        **os.environ,
        "PARLEY_ENV": "testing",
        "PARLEY_DATA_DIR": str(make_data_dir(root / "data", models_dir)),
        "PARLEY_API_KEY": MODELS_KEY,
    }
    with serving(["--role", "models"], env, root / "serve.log") as (url, _process):
        yield url, root / "serve.log"


def small_worker_config(path: Path, model_server_url: str) -> Path:
    """A worker's config file that loads no model of its own: Whisper, the LLM and the voice
    are the model server's. It starts in a few seconds, where loading them takes ten."""
    models_url = model_server_url + "/v1"
    remote = f'{{url: "{models_url}", api_key: "{MODELS_KEY}"}}'
    path.write_text(
        f"stt:\n  remote: {remote}\n"
        f"tts:\n  remote: {remote}\n"
        f'llm:\n  backend: openai\n  base_url: "{models_url}"\n  model: parley\n'
        f'  api_key: "{MODELS_KEY}"\n  temperature: 0\n'
    )
    return path
