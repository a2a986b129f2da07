"""Read what the runtime needs from a sentence-transformers folder, by loading it with sentence-transformers.

Why load instead of parsing JSON: sentence-transformers 5.x moved the facts around (activation in
config_sentence_transformers.json or config.json, pooling_mode strings, prompts); the library itself is the
reliable reader, and the same loaded model is the torch reference the variants are checked against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_build.errors import BuildError

RUNTIME_POOLING = ("mean", "cls", "lasttoken")


@dataclass
class ModelFacts:
    """What ONNX export drops and the manifest must carry."""

    kind: str  # "embed" | "rerank"
    transformer_dir: Path  # the Hugging Face model folder inside the sentence-transformers folder
    max_seq_length: int
    dimension: int | None = None
    pooling: str | None = None
    normalize: bool = False
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    activation: str | None = None
    num_labels: int | None = None
    architecture: str | None = None

    def manifest_fields(self) -> dict[str, Any]:
        """The Manifest keyword arguments these facts fill in."""
        if self.kind == "embed":
            return {
                "dimension": self.dimension,
                "pooling": self.pooling,
                "normalize": self.normalize,
                "prompts": dict(self.prompts),
                "default_prompt_name": self.default_prompt_name,
            }
        return {"activation": self.activation, "num_labels": self.num_labels}


def _transformer_dir(folder: Path) -> Path:
    """The HF model folder: modules.json names its path ('' for most models, '0_Transformer' for old ones)."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return folder
    for module in json.loads(modules_file.read_text(encoding="utf-8")):
        if module.get("type", "").rsplit(".", 1)[-1] == "Transformer":
            return folder / module.get("path", "")
    return folder


def _max_seq_length(model: Any, fallback_config: Any) -> int:
    length = getattr(model, "max_seq_length", None)
    if not length or length > 100_000:  # tokenizers without a limit report a huge sentinel
        length = getattr(fallback_config, "max_position_embeddings", None)
    if not length:
        raise BuildError("cannot tell the model's max_seq_length (no sentence-transformers or config value)")
    return int(length)


def load_embedder(folder: Path, *, trust_remote_code: bool = False, device: str = "cpu") -> tuple[Any, ModelFacts]:
    """Load a bi-encoder with sentence-transformers and read its facts; refuse what the runtime cannot serve."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device=device, trust_remote_code=trust_remote_code)
    names = [type(m).__name__ for m in model]
    allowed = {"Transformer", "Pooling", "Normalize"}
    unsupported = [n for n in names if n not in allowed]
    if unsupported or names[:1] != ["Transformer"] or "Pooling" not in names:
        raise BuildError(
            f"{folder}: modules {names} are not supported; the runtime serves Transformer -> Pooling "
            f"[-> Normalize] bi-encoders (unsupported: {unsupported or 'missing Transformer/Pooling'})"
        )
    pooling_module = next(m for m in model if type(m).__name__ == "Pooling")
    mode = pooling_module.pooling_mode
    if mode not in RUNTIME_POOLING:
        raise BuildError(f"{folder}: pooling mode {mode!r} is not supported by the runtime {RUNTIME_POOLING}")
    if not pooling_module.include_prompt:
        raise BuildError(f"{folder}: pooling with include_prompt=False (INSTRUCTOR-style) is not supported")
    config = model[0].model.config
    dimension = model.get_sentence_embedding_dimension()
    facts = ModelFacts(
        kind="embed",
        transformer_dir=_transformer_dir(folder),
        max_seq_length=_max_seq_length(model, config),
        dimension=int(dimension) if dimension else int(config.hidden_size),
        pooling=str(mode),
        normalize="Normalize" in names,
        prompts={k: str(v) for k, v in (model.prompts or {}).items()},
        default_prompt_name=model.default_prompt_name,
        architecture=(config.architectures or [None])[0],
    )
    return model, facts


_ACTIVATIONS = {"Sigmoid": "sigmoid", "Identity": "identity"}


def load_cross_encoder(folder: Path, *, trust_remote_code: bool = False, device: str = "cpu") -> tuple[Any, ModelFacts]:
    """Load a CrossEncoder with sentence-transformers and read activation, num_labels, max length."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(folder), device=device, trust_remote_code=trust_remote_code)
    names = [type(m).__name__ for m in model]
    if names != ["Transformer"]:
        raise BuildError(
            f"{folder}: CrossEncoder modules {names} are not supported; the runtime serves a single "
            "sequence-classification Transformer"
        )
    activation_fn = model.activation_fn
    activation = _ACTIVATIONS.get(type(activation_fn).__name__) if activation_fn is not None else "identity"
    if activation is None:
        raise BuildError(
            f"{folder}: CrossEncoder activation {type(activation_fn).__name__} is not supported "
            f"(runtime: {sorted(_ACTIVATIONS.values())})"
        )
    config = model[0].model.config
    facts = ModelFacts(
        kind="rerank",
        transformer_dir=_transformer_dir(folder),
        max_seq_length=_max_seq_length(model, config),
        activation=activation,
        num_labels=int(model.num_labels),
        architecture=(config.architectures or [None])[0],
    )
    return model, facts


def load_model(
    kind: str, folder: Path, *, trust_remote_code: bool = False, device: str = "cpu"
) -> tuple[Any, ModelFacts]:
    """load_embedder or load_cross_encoder by kind, with load failures turned into a BuildError."""
    loader = load_embedder if kind == "embed" else load_cross_encoder
    try:
        return loader(folder, trust_remote_code=trust_remote_code, device=device)
    except BuildError:
        raise
    except Exception as exc:
        raise BuildError(f"cannot load {folder} as a sentence-transformers {kind} model: {exc}") from None
