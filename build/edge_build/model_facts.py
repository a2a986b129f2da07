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


@dataclass
class ModelFacts:
    """What ONNX export drops and the manifest must carry (each family fills in its own fields)."""

    kind: str  # the family name (edge_build.families), written as the manifest's kind
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


def transformer_dir(folder: Path) -> Path:
    """The HF model folder: modules.json names its path ('' for most models, '0_Transformer' for old ones)."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return folder
    for module in json.loads(modules_file.read_text(encoding="utf-8")):
        if module.get("type", "").rsplit(".", 1)[-1] == "Transformer":
            return folder / module.get("path", "")
    return folder


def max_seq_length(model: Any, fallback_config: Any) -> int:
    length = getattr(model, "max_seq_length", None)
    if not length or length > 100_000:  # tokenizers without a limit report a huge sentinel
        length = getattr(fallback_config, "max_position_embeddings", None)
    if not length:
        raise BuildError("cannot tell the model's max_seq_length (no sentence-transformers or config value)")
    return int(length)
