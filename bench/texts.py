"""The texts every system sees: the project's validation/calibration texts when present, else generated ones.

Why mixed lengths: real traffic mixes short queries with long passages, and padding cost (what length-sorted
micro-batching removes) only shows on such a mix. Generation is seeded, so every run sees the same texts.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

_WORD_TEXT = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there one all we their been has would when if more will can no out so said what "
    "up its about into than them only other new some could time these two may then do first any my now "
    "such like our over man me even most made after also did many before must through back years where much "
    "your way well down should because each just those people how too little state good very make world "
    "still own see men work long get here between both life being under never day same another know while "
    "last might us great old year off come since against go came right used take three model onnx runtime "
    "embedding vector search query document passage ranking latency throughput memory serverless lambda "
    "container python tokenizer batch sentence transformer encoder cosine similarity index database cloud "
    "function request response edge device network storage bucket deploy build export quantize graph kernel "
    "weather river mountain city history music science language market energy health school garden kitchen"
)
_WORDS = tuple(_WORD_TEXT.split())

_SHORT_QUERIES = (
    "what is onnx runtime",
    "how to deploy a model on aws lambda",
    "cheap sentence embeddings on cpu",
    "int8 quantization accuracy loss",
    "best pizza near the river",
    "why is the sky blue",
    "python list comprehension example",
    "symptoms of the common cold",
    "capital of australia",
    "how many cores does lambda give",
    "rerank search results with a cross encoder",
    "reduce cold start time",
    "history of the printing press",
    "vector database comparison",
    "mean pooling vs cls pooling",
    "train schedule from paris to lyon",
)


@dataclass
class TextSet:
    """Texts for throughput, short texts for latency, and one rerank request; `source` says where from."""

    texts: list[str]
    short: list[str]
    query: str
    passages: list[str]
    source: str


def _sentence(rng: random.Random, words: int) -> str:
    body = " ".join(rng.choice(_WORDS) for _ in range(words))
    return body[0].upper() + body[1:] + rng.choice([".", ".", ".", "?", "!", ";"])


def _text(rng: random.Random, words: int) -> str:
    parts: list[str] = []
    left = words
    while left > 0:
        n = min(left, rng.randint(6, 24))
        parts.append(_sentence(rng, n))
        left -= n
    return " ".join(parts)


def generate_texts(count: int, seed: int = 0) -> list[str]:
    """Deterministic mixed-length English-word texts: 30% short, 40% medium, 20% long, 10% over 256 tokens."""
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(count):
        bucket = rng.random()
        if bucket < 0.30:
            words = rng.randint(2, 12)
        elif bucket < 0.70:
            words = rng.randint(15, 70)
        elif bucket < 0.90:
            words = rng.randint(80, 180)
        else:
            words = rng.randint(220, 400)
        out.append(_text(rng, words))
    return out


def _load_json_texts(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        for key in ("texts", "sentences", "inputs", "data"):
            if key in data:
                data = data[key]
                break
    texts: list[str] = []
    if isinstance(data, list):
        for item in data:
            if isinstance(item, str):
                texts.append(item)
            elif isinstance(item, dict):
                value = item.get("text") or item.get("sentence") or item.get("input")
                if isinstance(value, str):
                    texts.append(value)
    return texts


def load_text_set(root: Path, count: int, seed: int = 0) -> TextSet:
    """`count` texts in a fixed shuffled order: the project's text files first, topped up with generated ones."""
    pool: list[str] = []
    sources: list[str] = []
    validation = root / "data" / "validation" / "embed_texts.json"
    calibration = root / "data" / "calibration.txt"
    if validation.is_file():
        try:
            got = _load_json_texts(validation)
        except (OSError, ValueError):
            got = []
        pool += got
        sources.append(f"{validation.relative_to(root)} ({len(got)})")
    if calibration.is_file():
        got = [line.strip() for line in calibration.read_text(encoding="utf-8").splitlines() if line.strip()]
        pool += got
        sources.append(f"{calibration.relative_to(root)} ({len(got)})")
    pool = [t for t in dict.fromkeys(pool) if t.strip()]
    if len(pool) < count:
        generated = generate_texts(count - len(pool), seed=seed)
        pool += generated
        sources.append(f"generated mixed-length ({len(generated)})")
    rng = random.Random(seed)
    rng.shuffle(pool)
    texts = pool[:count]
    passages_rng = random.Random(seed + 1)
    # rerank passages: realistic retrieved chunks (20-180 words), not one-word texts
    passages = [_text(passages_rng, passages_rng.randint(20, 180)) for _ in range(50)]
    return TextSet(
        texts=texts,
        short=list(_SHORT_QUERIES),
        query="how do I make sentence embeddings fast on a small cpu",
        passages=passages,
        source="; ".join(sources),
    )
