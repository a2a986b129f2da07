"""The validation set, and speed measured through the REAL runtime; each family measures fidelity the same way:
run a staged bundle through the REAL runtime (edge_encoders) and measure it against the torch reference.

Why through the runtime: the bundle is only as good as the code that serves it. Tokenization, truncation,
padding, pooling, normalization and activation all come from src/edge_encoders here, so a manifest fact that
is wrong (pooling mode, normalize, activation, max_seq_length) fails the gate instead of shipping.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_build.errors import BuildError

if TYPE_CHECKING:
    from edge_build.families import Family

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


def measure_speed(family: Family, bundles: dict[str, Path], vset: ValidationSet) -> dict[str, float]:
    """Inputs per CPU-second of each bundle on the same mixed-length inputs (texts/s, pairs/s of one core).

    Which variant ships rests on this figure, so it must not depend on how busy the build box is: each
    bundle runs on ONE onnxruntime thread with spinning off (``families.base.speed_session``) and is timed
    by the process's CPU time, not the wall clock. Wall-clock throughput on a shared 2-vCPU box swung by 2x
    between two exports and reversed the order of two variants; single-thread CPU time ranks them as a quiet
    box's throughput does. Round-robin over the variants, best of SPEED_REPEATS each.
    """
    runs = {name: family.speed_run(path, vset, SPEED_TEXTS) for name, path in bundles.items()}
    best = dict.fromkeys(bundles, float("inf"))
    for _ in range(SPEED_REPEATS):
        for name, (run, _count) in runs.items():
            started = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - started)
    return {name: runs[name][1] / best[name] if best[name] > 0 else float("inf") for name in bundles}
