"""Fidelity figures of a variant against the torch reference: pure numpy/scipy, no model code."""

from __future__ import annotations

import numpy as np
from scipy import stats


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of each row of a with the same row of b."""
    return np.sum(_unit(a.astype(np.float64)) * _unit(b.astype(np.float64)), axis=1)


def cosine_summary(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    cos = row_cosines(a, b)
    return {"cos_mean": float(cos.mean()), "cos_min": float(cos.min()), "cos_p5": float(np.percentile(cos, 5))}


def ndcg_at_k(truth_scores: np.ndarray, candidate_scores: np.ndarray, k: int = 10) -> float:
    """nDCG@k of the candidate's ranking, with graded relevance taken from the truth ranking.

    The truth's top-k get gains k, k-1, ..., 1 (the rest 0): a variant that keeps torch's order scores 1.0,
    one that swaps neighbours near the top loses a little, one that scrambles the top loses a lot.
    """
    n = len(truth_scores)
    k = min(k, n)
    gains = np.zeros(n)
    truth_order = np.argsort(-truth_scores, kind="stable")
    gains[truth_order[:k]] = np.arange(k, 0, -1)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = float(np.sum(gains[truth_order[:k]] * discounts))
    got = float(np.sum(gains[np.argsort(-candidate_scores, kind="stable")[:k]] * discounts))
    return got / ideal if ideal > 0 else 1.0


def retrieval_ndcg(
    query_ref: np.ndarray, passage_ref: list[np.ndarray], query_var: np.ndarray, passage_var: list[np.ndarray]
) -> dict[str, float]:
    """Per query: rank its passages by cosine under torch (truth) and under the variant; mean/min nDCG@10."""
    values = []
    for i, (p_ref, p_var) in enumerate(zip(passage_ref, passage_var, strict=True)):
        truth = _unit(p_ref) @ _unit(query_ref[i : i + 1]).T
        cand = _unit(p_var) @ _unit(query_var[i : i + 1]).T
        values.append(ndcg_at_k(truth[:, 0], cand[:, 0]))
    arr = np.array(values) if values else np.ones(1)
    return {"ndcg10_mean": float(arr.mean()), "ndcg10_min": float(arr.min())}


def _rank_corr(fn: object, a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2:
        return 1.0
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 1.0 if np.array_equal(np.argsort(a), np.argsort(b)) else 0.0
    value = fn(a, b).statistic  # type: ignore[operator]
    return float(value) if np.isfinite(value) else 0.0


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation; tied values share their average rank (scipy), constant input as _rank_corr."""
    return _rank_corr(stats.spearmanr, np.asarray(a), np.asarray(b))


def ranking_summary(reference: list[np.ndarray], candidate: list[np.ndarray]) -> dict[str, float]:
    """Per-query rank agreement of reranker scores: Spearman, Kendall, top-1 and top-5 overlap, max abs diff."""
    spearman, kendall, top1, top5, diffs = [], [], [], [], []
    for ref, cand in zip(reference, candidate, strict=True):
        spearman.append(_rank_corr(stats.spearmanr, ref, cand))
        kendall.append(_rank_corr(stats.kendalltau, ref, cand))
        ref_order = np.argsort(-ref, kind="stable")
        cand_order = np.argsort(-cand, kind="stable")
        top1.append(float(ref_order[0] == cand_order[0]))
        k = min(5, len(ref))
        top5.append(len(set(ref_order[:k].tolist()) & set(cand_order[:k].tolist())) / k)
        diffs.append(float(np.max(np.abs(ref - cand))))
    return {
        "max_abs_diff": float(max(diffs)),
        "spearman_mean": float(np.mean(spearman)),
        "spearman_min": float(np.min(spearman)),
        "kendall_mean": float(np.mean(kendall)),
        "kendall_min": float(np.min(kendall)),
        "top1_agreement": float(np.mean(top1)),
        "top5_agreement": float(np.mean(top5)),
    }
