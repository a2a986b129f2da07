"""Small validation data sets and configs for build tests (a few dozen texts: seconds, not minutes)."""

from __future__ import annotations

import json
from pathlib import Path

from edge_build.config import BuildConfig, ModelSpec

TEXTS = [
    "hello world",
    "A cat sat on the mat.",
    "",
    "!!! ??? ...",
    "def add(a, b):\n    return a + b",
    "Ünïcödé, 日本語のテキスト, русский текст 🙂🚀",
    "long " * 200,
] + [f"sentence {i} about topic {i % 5} and some more words" for i in range(20)]


def write_small_data(directory: Path) -> Path:
    """data/validation/{embed_texts,rerank}.json and data/calibration.txt, small."""
    data = directory / "data"
    (data / "validation").mkdir(parents=True, exist_ok=True)
    (data / "validation" / "embed_texts.json").write_text(json.dumps(TEXTS), encoding="utf-8")
    rerank = [
        {"query": f"what about topic {q}?", "passages": [f"sentence {i} about topic {i % 5}" for i in range(10)]}
        for q in range(4)
    ]
    (data / "validation" / "rerank.json").write_text(json.dumps(rerank), encoding="utf-8")
    lines = [f"calibration line {i}: the quick brown fox {i} jumps" for i in range(24)]
    (data / "calibration.txt").write_text("\n".join(TEXTS[:6] + lines), encoding="utf-8")
    return data


def tiny_config(embed: Path, rerank: Path, out: Path, variants: list[str]) -> BuildConfig:
    return BuildConfig(
        models={"embed": ModelSpec(str(embed)), "rerank": ModelSpec(str(rerank))},
        output_dir=out,
        work_dir=out / ".work",
        variants=variants,
        gates={},
        prompts={},
    )
