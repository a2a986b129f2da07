"""How closely the trained stand-in ranks like its teacher, on queries it never trained on."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from edge_build.metrics import spearman
from edge_build.standin.recipe import StandinParams


def evaluate_against_teacher(
    model: Any,
    queries: Sequence[str],
    passages: Sequence[str],
    cosines: Any,
    query_ids: Sequence[int],
    params: StandinParams,
    rng: random.Random,
) -> dict[str, Any]:
    """How closely the stand-in ranks like its teacher on queries it never trained on, and by how many logits
    its own top-1 leads its runner-up there."""
    import torch

    spearmans: list[float] = []
    top1 = top3 = 0
    gaps: list[float] = []  # the stand-in's own top-1 lead over its runner-up: what rounding must not overturn
    half = params.eval_candidates // 2
    for qi in query_ids:
        ranked = [int(i) for i in cosines[qi].argsort(descending=True)]
        others = ranked[half:]
        candidates = ranked[:half] + rng.sample(others, min(len(others), params.eval_candidates - half))
        scores = model.predict(  # raw logits: the margins below are in the units int8 rounding moves
            [(queries[qi], passages[p]) for p in candidates],
            batch_size=32,
            show_progress_bar=False,
            activation_fn=torch.nn.Identity(),
        )
        teacher = [float(cosines[qi, p]) for p in candidates]
        spearmans.append(spearman(np.asarray(scores, dtype=np.float64), np.asarray(teacher, dtype=np.float64)))
        ordered = sorted((float(s) for s in scores), reverse=True)
        gaps.append(ordered[0] - ordered[1] if len(ordered) > 1 else float("inf"))
        best = candidates[int(max(range(len(candidates)), key=lambda i: float(scores[i])))]
        top1 += int(best == ranked[0])
        top3 += int(best in ranked[:3])
    n = max(1, len(query_ids))
    return {
        "queries": len(query_ids),
        "candidates_per_query": params.eval_candidates,
        "spearman_mean": round(sum(spearmans) / n, 4),
        "spearman_min": round(min(spearmans), 4) if spearmans else None,
        "top1_agreement": round(top1 / n, 4),
        "top1_in_teacher_top3": round(top3 / n, 4),
        "top2_gap_median": round(float(np.median(gaps)), 4) if gaps else None,
        "top2_within_0.15": sum(g < 0.15 for g in gaps),
        "top2_within_0.5": sum(g < 0.5 for g in gaps),
    }
