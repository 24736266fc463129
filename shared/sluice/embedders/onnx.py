"""The ONNX sentence embedders of the catalogue (all-MiniLM-L6-v2, its int8 build, e5-small-v2):
ONNX Runtime and `tokenizers`, no torch.

A model's directory (`<embedder.models_dir>/<name>`) is built once by `make model MODEL=<name>`
(`tools/model/build.py`; docs/models.md) and holds:

- `model.onnx`: a BERT encoder, inputs `input_ids`, `attention_mask` and (if the graph has it)
  `token_type_ids` (int64, shape batch x sequence; the types all zero), output
  `last_hidden_state` (float32, batch x sequence x dim);
- `tokenizer.json`: the model's WordPiece tokenizer; whatever padding and truncation it ships
  with are replaced at load by sentence-transformers' settings: truncate at the card's
  `max_tokens` (256 for MiniLM, 512 for e5), pad to the longest text of the batch with the
  tokenizer's own padding token (`[PAD]` when it names none);
- `manifest.json`: name, dim, max_tokens, version and the files' SHA-256; it must describe the
  build the card names (identity and token limit), else the folder is refused.

Texts get the card's query or passage prefix (e5: `query: ` / `passage: `). A vector is the mean
of the last hidden states over the attention mask, L2-normalised (the cards' pooling), as
sentence-transformers computes it (tests/shared/test_onnx_embedders.py). A text's vector never
depends on the batch it comes in, so the caller may batch freely: fp32 models run the batch at
once (padding changes nothing); int8 models quantise their activations per tensor at run time
(the manifest's `batch_invariant: false`), which would let the other texts of a batch change a
vector, so they run one text at a time (no slower on CPU: no padding is computed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from tokenizers import Tokenizer

from sluice.embedders.catalogue import ModelCard, TextKind
from sluice.embedders.identity import EmbedderIdentity
from sluice.embedders.manifest import how_to_build, load_manifest
from sluice.errors import ConfigError

MODEL_FILES = ("manifest.json", "tokenizer.json", "model.onnx")
_REQUIRED_INPUTS = ("input_ids", "attention_mask")
_OPTIONAL_INPUTS = ("token_type_ids",)  # fed as zeros when the graph takes it
_OUTPUT = "last_hidden_state"


def default_threads() -> int:
    """The CPUs this process may run on (its affinity mask, else os.cpu_count())."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _load_tokenizer(path: Path, max_tokens: int) -> Tokenizer:
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception for unreadable files
        raise ConfigError(
            f"embedder.models_dir: {path} cannot be loaded ({error}); " + how_to_build(path.parent)
        ) from error
    shipped = tokenizer.padding or {}
    pad_token = str(shipped.get("pad_token") or "[PAD]")
    pad_id = tokenizer.token_to_id(pad_token)
    if pad_id is None:
        raise ConfigError(f"embedder.models_dir: {path} has no padding token {pad_token!r}")
    tokenizer.no_padding()
    tokenizer.no_truncation()
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)  # no length: pad to longest
    return tokenizer


class OnnxEmbedder:
    """A catalogue model on ONNX Runtime (CPU): mean-pooled, L2-normalised vectors; the folder
    must hold the build the card names."""

    def __init__(self, card: ModelCard, model_dir: Path, threads: int = 0) -> None:
        model_dir = Path(model_dir)
        missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
        if missing:
            where = (
                f"{model_dir} does not exist"
                if not model_dir.is_dir()
                else f"{model_dir} lacks {', '.join(missing)}"
            )
            raise ConfigError(
                f"embedder.models_dir: the {card.name} model is missing ({where}); "
                + how_to_build(model_dir)
            )
        if card.runtime != "onnx" or card.pooling != "mean":
            raise ConfigError(f"embedder: {card.name} is not a mean-pooled ONNX model")
        manifest = load_manifest(model_dir)
        self.model_dir = model_dir
        self.max_tokens: int = card.max_tokens
        self.card = card
        self.identity = EmbedderIdentity(
            name=manifest["name"], dim=manifest["dim"], version=manifest["version"]
        )
        if self.identity != card.identity:
            raise ConfigError(
                f"embedder: {model_dir} holds {self.identity.key}, not {card.identity.key}; "
                + how_to_build(model_dir)
            )
        if manifest["max_tokens"] != card.max_tokens:
            raise ConfigError(
                f"embedder: {model_dir} was built for {manifest['max_tokens']} tokens, the "
                f"{card.name} card says {card.max_tokens}; " + how_to_build(model_dir)
            )
        self.batch_invariant: bool = manifest["batch_invariant"]
        self._inputs: tuple[str, ...] = ()
        self._tokenizer = _load_tokenizer(model_dir / "tokenizer.json", self.max_tokens)

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads if threads > 0 else default_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep instead of spinning: workers and functions share the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._options = options
        self._session: ort.InferenceSession | None = None
        self._session_pid = 0

    def warm(self) -> None:
        """Load the model into this process, once (readiness probes call it; `embed` does).

        The session is made in the process that uses it, never before: servers such as gunicorn
        build the app, embedder included, before forking their workers, and onnxruntime's
        thread pools do not survive fork() (a worker may hang creating a session, or run on
        one thread with the parent's)."""
        if self._session is not None and self._session_pid == os.getpid():
            return
        model = self.model_dir / "model.onnx"
        try:
            session = ort.InferenceSession(
                str(model), self._options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own unexported exception types
            raise ConfigError(
                f"embedder.models_dir: {model} cannot be loaded ({error}); "
                + how_to_build(self.model_dir)
            ) from error
        inputs = {i.name for i in session.get_inputs()}
        unknown = inputs - set(_REQUIRED_INPUTS) - set(_OPTIONAL_INPUTS)
        if not set(_REQUIRED_INPUTS) <= inputs or unknown:
            raise ConfigError(
                f"embedder.models_dir: {model} has inputs {sorted(inputs)}, expected "
                f"{list(_REQUIRED_INPUTS)} and optionally {list(_OPTIONAL_INPUTS)}"
            )
        outputs = {o.name: o for o in session.get_outputs()}
        if _OUTPUT not in outputs:
            raise ConfigError(
                f"embedder.models_dir: {model} has outputs {sorted(outputs)}, expected {_OUTPUT!r}"
            )
        width = outputs[_OUTPUT].shape[-1]
        if isinstance(width, int) and width != self.identity.dim:
            raise ConfigError(
                f"embedder.models_dir: model.onnx gives {width}-d vectors, "
                f"the manifest says {self.identity.dim}"
            )
        self._inputs = tuple(name for name in _OPTIONAL_INPUTS if name in inputs)
        self._session, self._session_pid = session, os.getpid()

    def embed(self, texts: list[str], kind: TextKind = "passage") -> list[list[float]]:
        """One unit vector (float32 values) per text, in order; the batch is run as given, or
        one text at a time for a model that is not batch-invariant."""
        self.warm()
        if not texts:
            return []
        prefixed = self.card.prefixed(texts, kind)
        if self.batch_invariant or len(prefixed) == 1:
            return self._run(prefixed)
        return [vector for text in prefixed for vector in self._run([text])]

    def _run(self, texts: list[str]) -> list[list[float]]:
        """The texts' vectors from one run of the model (padded to the longest)."""
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        for name in self._inputs:  # token_type_ids: one segment
            feed[name] = np.zeros_like(ids)
        assert self._session is not None  # warm() made it
        (hidden,) = self._session.run([_OUTPUT], feed)
        vectors: list[list[float]] = mean_pool_normalise(np.asarray(hidden), mask).tolist()
        return vectors


def mean_pool_normalise(hidden: NDArray[Any], mask: NDArray[Any]) -> NDArray[np.float32]:
    """Mean over the unmasked tokens (batch x sequence x dim -> batch x dim), L2-normalised."""
    weights = mask.astype(np.float32)
    summed = np.matmul(weights[:, None, :], hidden.astype(np.float32, copy=False))[:, 0, :]
    pooled = summed / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    unit: NDArray[np.float32] = (pooled / norms).astype(np.float32, copy=False)
    return unit
