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
    """How closely the stand-in ranks like its teacher on queries it never trained on."""
    spearmans: list[float] = []
    top1 = top3 = 0
    half = params.eval_candidates // 2
    for qi in query_ids:
        ranked = [int(i) for i in cosines[qi].argsort(descending=True)]
        others = ranked[half:]
        candidates = ranked[:half] + rng.sample(others, min(len(others), params.eval_candidates - half))
        scores = model.predict([(queries[qi], passages[p]) for p in candidates], batch_size=32, show_progress_bar=False)
        teacher = [float(cosines[qi, p]) for p in candidates]
        spearmans.append(spearman(np.asarray(scores, dtype=np.float64), np.asarray(teacher, dtype=np.float64)))
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
    }
