"""Run a staged bundle through the REAL runtime (edge_encoders) and measure it against the torch reference.

Why through the runtime: the bundle is only as good as the code that serves it. Tokenization, truncation,
padding, pooling, normalization and activation all come from src/edge_encoders here, so a manifest fact that
is wrong (pooling mode, normalize, activation, max_seq_length) fails the gate instead of shipping.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_build import metrics
from edge_build.errors import BuildError

SPEED_TEXTS = 96  # mixed-length texts timed per variant, best of SPEED_REPEATS
SPEED_REPEATS = 3
HELDOUT_EVERY = 2  # every 2nd validation text / query is held out: no build choice looks at it


@dataclass
class ValidationSet:
    """The fixed text set shipped in data/: single texts, and queries with passages."""

    embed_texts: list[str]
    rerank: list[dict[str, Any]]  # [{"query": str, "passages": [str, ...]}]
    calibration: list[str] = field(default_factory=list)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [(item["query"], p) for item in self.rerank for p in item["passages"]]

    def all_embed_texts(self) -> list[str]:
        """embed_texts, then queries, then passages, each text once (passages repeat across queries)."""
        texts = list(self.embed_texts)
        texts += [item["query"] for item in self.rerank]
        texts += [p for item in self.rerank for p in item["passages"]]
        return list(dict.fromkeys(texts))

    def retrieval_index(self) -> tuple[list[int], list[list[int]]]:
        """Rows of all_embed_texts() holding each query, and each query's passages."""
        row = {text: i for i, text in enumerate(self.all_embed_texts())}
        queries = [row[item["query"]] for item in self.rerank]
        passages = [[row[p] for p in item["passages"]] for item in self.rerank]
        return queries, passages

    def heldout_queries(self) -> np.ndarray:
        """Which queries (of rerank) are held out: every HELDOUT_EVERY-th, from the second on."""
        return np.arange(len(self.rerank)) % HELDOUT_EVERY == HELDOUT_EVERY - 1

    def heldout_rows(self) -> np.ndarray:
        """Which rows of all_embed_texts() are held out: every HELDOUT_EVERY-th embed text, and the queries and
        passages of held-out queries (a passage shared with a tune query counts as tune)."""
        part: dict[str, bool] = {}
        for i, text in enumerate(self.embed_texts):
            part.setdefault(text, i % HELDOUT_EVERY == HELDOUT_EVERY - 1)
        held = self.heldout_queries()
        for i, item in enumerate(self.rerank):
            for text in [item["query"], *item["passages"]]:
                part[text] = part.get(text, True) and bool(held[i])
        return np.array([part[t] for t in self.all_embed_texts()], dtype=bool)

    def fingerprint(self) -> dict[str, Any]:
        return {
            "embed_texts": len(self.embed_texts),
            "distinct_embed_inputs": len(self.all_embed_texts()),
            "heldout_embed_inputs": int(self.heldout_rows().sum()),
            "queries": len(self.rerank),
            "heldout_queries": int(self.heldout_queries().sum()),
            "pairs": len(self.pairs),
            "calibration_texts": len(self.calibration),
        }


def load_validation_set(data_dir: Path) -> ValidationSet:
    """Read data/validation/embed_texts.json, data/validation/rerank.json and data/calibration.txt."""
    try:
        embed_texts = json.loads((data_dir / "validation" / "embed_texts.json").read_text(encoding="utf-8"))
        rerank = json.loads((data_dir / "validation" / "rerank.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BuildError(f"cannot read the validation set under {data_dir}/validation: {exc}") from None
    if not isinstance(embed_texts, list) or not all(isinstance(t, str) for t in embed_texts) or len(embed_texts) < 2:
        raise BuildError(
            f"{data_dir}/validation/embed_texts.json must be a list of at least 2 strings (tune and held-out parts)"
        )
    ok = (
        isinstance(rerank, list)
        and len(rerank) >= 2
        and all(
            isinstance(i, dict) and isinstance(i.get("query"), str) and len(i.get("passages") or []) >= 2
            for i in rerank
        )
    )
    if not ok:
        raise BuildError(
            f"{data_dir}/validation/rerank.json must be a list of at least 2 {{query, passages[>=2]}} objects "
            "(tune and held-out parts)"
        )
    calibration_file = data_dir / "calibration.txt"
    calibration = []
    if calibration_file.is_file():
        lines = calibration_file.read_text(encoding="utf-8").splitlines()
        calibration = [line for line in lines if line.strip()]
    return ValidationSet(embed_texts, rerank, calibration)


@dataclass
class EmbedReference:
    vectors: np.ndarray  # (len(all_embed_texts), dim), sentence-transformers encode()


def validate_embedder(bundle_dir: Path, vset: ValidationSet, ref: EmbedReference) -> dict[str, Any]:
    """Fidelity (cosine, nDCG@10), batch invariance and speed of one staged embed bundle."""
    from edge_encoders import Embedder

    embedder = Embedder.from_bundle(bundle_dir)
    texts = vset.all_embed_texts()
    vectors = embedder.embed(texts)
    # Dynamic int8 scales activations per batch, so the same text gives another vector in other company.
    # The gate takes the worse of two compositions a server really sees: all texts in one call, and each alone.
    alone = np.concatenate([embedder.embed([t]) for t in texts])
    held_rows, held_queries = vset.heldout_rows(), vset.heldout_queries()
    every_row, every_query = np.ones(len(texts), bool), np.ones(len(held_queries), bool)
    figures = _embed_figures(vset, ref.vectors, vectors, alone, every_row, every_query)
    figures["tune"] = _embed_figures(vset, ref.vectors, vectors, alone, ~held_rows, ~held_queries)
    figures["heldout"] = _embed_figures(vset, ref.vectors, vectors, alone, held_rows, held_queries)
    figures["batch_invariance_cos_min"] = float(metrics.row_cosines(alone, vectors).min())
    return figures


def _embed_figures(
    vset: ValidationSet, ref: np.ndarray, vectors: np.ndarray, alone: np.ndarray, rows: np.ndarray, queries: np.ndarray
) -> dict[str, Any]:
    """Cosine figures on the chosen rows (the worse of batched and alone) and nDCG@10 of the chosen queries."""
    r, v, a = ref[rows], vectors[rows], alone[rows]
    batched_figures = metrics.cosine_summary(v, r)
    alone_figures = metrics.cosine_summary(a, r)
    figures: dict[str, Any] = {k: min(batched_figures[k], alone_figures[k]) for k in batched_figures}
    figures["cos_mean_batched"], figures["cos_mean_alone"] = batched_figures["cos_mean"], alone_figures["cos_mean"]
    figures["cos_min_batched"], figures["cos_min_alone"] = batched_figures["cos_min"], alone_figures["cos_min"]
    figures["max_abs_diff"] = float(np.max(np.abs(v - r)))
    figures["norm_max_abs_diff"] = float(np.max(np.abs(np.linalg.norm(v, axis=1) - np.linalg.norm(r, axis=1))))
    q_rows, p_rows = vset.retrieval_index()
    chosen = [i for i in range(len(q_rows)) if queries[i]]
    if chosen:
        figures.update(
            metrics.retrieval_ndcg(
                ref[[q_rows[i] for i in chosen]],
                [ref[p_rows[i]] for i in chosen],
                vectors[[q_rows[i] for i in chosen]],
                [vectors[p_rows[i]] for i in chosen],
            )
        )
    figures["count"] = int(rows.sum())
    return figures


@dataclass
class RerankReference:
    logits: np.ndarray  # (len(pairs),) CrossEncoder.predict with identity activation
    first_query_scores: np.ndarray  # CrossEncoder.predict with the model's activation, first query only


def _split(values: np.ndarray, vset: ValidationSet) -> list[np.ndarray]:
    offsets = np.cumsum([0] + [len(item["passages"]) for item in vset.rerank])
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(vset.rerank))]


def validate_reranker(bundle_dir: Path, vset: ValidationSet, ref: RerankReference) -> dict[str, Any]:
    """Ranking agreement, batch invariance and speed of one staged rerank bundle."""
    from edge_encoders import Reranker

    reranker = Reranker.from_bundle(bundle_dir)
    pairs = vset.pairs
    logits = reranker.score(pairs, raw_scores=True)
    if logits.ndim != 1:
        logits = logits[:, 0]
    ref_lists, cand_lists = _split(ref.logits, vset), _split(logits, vset)
    figures: dict[str, Any] = metrics.ranking_summary(ref_lists, cand_lists)
    held = vset.heldout_queries()
    for part, mask in (("tune", ~held), ("heldout", held)):
        chosen = [i for i in range(len(held)) if mask[i]]
        figures[part] = metrics.ranking_summary([ref_lists[i] for i in chosen], [cand_lists[i] for i in chosen])
        figures[part]["count"] = len(chosen)
    first = vset.rerank[0]
    first_pairs = [(first["query"], p) for p in first["passages"]]
    served = reranker.score(first_pairs)
    served = served if served.ndim == 1 else served[:, 0]
    figures["served_score_max_abs_diff"] = float(np.max(np.abs(served - ref.first_query_scores)))
    alone = np.array([reranker.score([pair], raw_scores=True).reshape(-1)[0] for pair in first_pairs])
    figures["batch_invariance_max_abs_diff"] = float(np.max(np.abs(alone - logits[: len(first_pairs)])))
    return figures


def measure_speed(kind: str, bundles: dict[str, Path], vset: ValidationSet) -> dict[str, float]:
    """Throughput of each bundle on the same mixed-length inputs: texts/s (embed) or pairs/s (rerank).

    Round-robin over the variants, best of SPEED_REPEATS each, so a noisy moment (or torch's worker threads
    still spinning after the reference run) does not favour whichever variant happened to run last.
    """
    from edge_encoders import Embedder, Reranker

    runs: dict[str, Any] = {}
    for name, path in bundles.items():
        if kind == "embed":
            embedder = Embedder.from_bundle(path, verify=False)
            texts = vset.all_embed_texts()[:SPEED_TEXTS]
            embedder.embed(texts[:4])
            runs[name] = (lambda e=embedder, t=texts: e.embed(t), len(texts))
        else:
            reranker = Reranker.from_bundle(path, verify=False)
            pairs = vset.pairs[:SPEED_TEXTS]
            reranker.score(pairs[:4])
            runs[name] = (lambda r=reranker, p=pairs: r.score(p), len(pairs))
    best = dict.fromkeys(bundles, float("inf"))
    for _ in range(SPEED_REPEATS):
        for name, (run, _count) in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: runs[name][1] / best[name] if best[name] > 0 else float("inf") for name in bundles}
