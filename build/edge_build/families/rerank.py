"""The rerank family: sentence-transformers CrossEncoders (one sequence-classification Transformer).

Export: the classifier's logits; the runtime applies the activation from the manifest. Reference:
CrossEncoder.predict(). Figures: per-query rank agreement (Spearman, Kendall, top-1/top-5) with the reference
logits, the served (activated) scores, batch invariance. The only family the build can train a stand-in for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_build.errors import BuildError
from edge_build.families.base import Column, Family, GateSpec, speed_session
from edge_build.model_facts import ModelFacts, max_seq_length, transformer_dir
from edge_build.report import fmt, part

if TYPE_CHECKING:
    from edge_build.validation import ValidationSet
    from edge_encoders.text_tokenizer import TextTokenizer

_ACTIVATIONS = {"Sigmoid": "sigmoid", "Identity": "identity"}
REFERENCE_BATCH = 32
RUN_PROBE_PAIRS = 50


@dataclass
class RerankReference:
    logits: np.ndarray  # (len(pairs),) CrossEncoder.predict with identity activation
    first_query_scores: np.ndarray  # CrossEncoder.predict with the model's activation, first query only


def _top1(v: dict[str, Any]) -> str:
    return f"{part(v, 'tune', 'top1_agreement', digits=3)}/{part(v, 'heldout', 'top1_agreement', digits=3)}"


def _first_column(scores: np.ndarray) -> np.ndarray:
    return scores if scores.ndim == 1 else scores[:, 0]


class RerankFamily(Family):
    name = "rerank"
    title = "reranker"
    export_task = "text-classification"
    output_name = "logits"
    speed_metric = "pairs_per_s"
    fidelity_metric = "spearman_mean"
    mean_metric = "spearman_mean"
    batch_invariance_metric = "batch_invariance_max_abs_diff"
    standin = True
    source_help = "package:<module> | hub:<owner>/<name> | folder | standin"
    gates = (
        GateSpec("rerank_fp_spearman_min", "exact", "spearman_min", 0.999),
        GateSpec("rerank_fp_top1", "exact", "top1_agreement", 1.0),
        GateSpec("rerank_int8_spearman_mean", "int8", "spearman_mean", 0.99),
        GateSpec("rerank_int8_spearman_min", "int8", "spearman_min", 0.95),
        GateSpec("rerank_int8_top1", "int8", "top1_agreement", 0.95),
    )
    columns: ClassVar[list[Column]] = [
        ("size MB", lambda v: f"{v['size'] / 1e6:.1f}"),
        ("spearman mean/min tune", lambda v: part(v, "tune", "spearman_mean", "spearman_min")),
        ("held-out", lambda v: part(v, "heldout", "spearman_mean", "spearman_min")),
        ("top1 tune/held-out", _top1),
        ("max|d|", lambda v: fmt(v["metrics"].get("max_abs_diff"), 4)),
        ("batch-inv |d|", lambda v: fmt(v["metrics"].get("batch_invariance_max_abs_diff"), 5)),
        ("pairs/s", lambda v: fmt(v["metrics"].get("pairs_per_s"), 0)),
        ("pareto", lambda v: "*" if v.get("pareto") else ""),
    ]

    def architecture_problem(self, architectures: list[str]) -> str | None:
        if not architectures or any(a.endswith("ForSequenceClassification") for a in architectures):
            return None
        return (
            f"is a {', '.join(architectures)}, not a cross-encoder (a ...ForSequenceClassification model with a "
            "score head). A bi-encoder belongs in --embed; for --rerank use a sentence-transformers CrossEncoder "
            "such as cross-encoder/ms-marco-MiniLM-L6-v2, or 'standin'."
        )

    def load(self, folder: Path, *, trust_remote_code: bool, device: str) -> tuple[Any, ModelFacts]:
        """Load a CrossEncoder with sentence-transformers and read activation, num_labels, max length."""
        from sentence_transformers import CrossEncoder

        model = CrossEncoder(str(folder), device=device, trust_remote_code=trust_remote_code)
        names = [type(m).__name__ for m in model]
        if names != ["Transformer"]:
            raise BuildError(
                f"{folder}: CrossEncoder modules {names} are not supported; the runtime serves a single "
                "sequence-classification Transformer"
            )
        activation_fn = model.activation_fn
        activation = _ACTIVATIONS.get(type(activation_fn).__name__) if activation_fn is not None else "identity"
        if activation is None:
            raise BuildError(
                f"{folder}: CrossEncoder activation {type(activation_fn).__name__} is not supported "
                f"(runtime: {sorted(_ACTIVATIONS.values())})"
            )
        config = model[0].model.config
        facts = ModelFacts(
            kind=self.name,
            transformer_dir=transformer_dir(folder),
            max_seq_length=max_seq_length(model, config),
            activation=activation,
            num_labels=int(model.num_labels),
            architecture=(config.architectures or [None])[0],
        )
        return model, facts

    def manifest_fields(self, facts: ModelFacts, extra_prompts: dict[str, str], files: set[str]) -> dict[str, Any]:
        return {"activation": facts.activation, "num_labels": facts.num_labels}

    def reference_count(self, vset: ValidationSet) -> int:
        return len(vset.pairs)

    def reference(self, model: Any, vset: ValidationSet) -> RerankReference:
        """CrossEncoder.predict(): raw logits on every pair; with the model's own activation on the first query."""
        first = vset.rerank[0]
        first_scores = _predict(model, [(first["query"], p) for p in first["passages"]], raw=False)
        logits = _predict(model, vset.pairs, raw=True)
        return RerankReference(_first_column(logits), _first_column(first_scores))

    def validate(self, staged: Path, vset: ValidationSet, ref: Any) -> dict[str, Any]:
        """Ranking agreement and batch invariance of one staged rerank bundle."""
        from edge_build import metrics
        from edge_encoders import Reranker

        reranker = Reranker.from_bundle(staged)
        pairs = vset.pairs
        logits = _first_column(reranker.score(pairs, raw_scores=True))
        ref_lists, cand_lists = _split(ref.logits, vset), _split(logits, vset)
        figures: dict[str, Any] = metrics.ranking_summary(ref_lists, cand_lists)
        held = vset.heldout_queries()
        for name, mask in (("tune", ~held), ("heldout", held)):
            chosen = [i for i in range(len(held)) if mask[i]]
            figures[name] = metrics.ranking_summary([ref_lists[i] for i in chosen], [cand_lists[i] for i in chosen])
            figures[name]["count"] = len(chosen)
        first = vset.rerank[0]
        first_pairs = [(first["query"], p) for p in first["passages"]]
        served = _first_column(reranker.score(first_pairs))
        figures["served_score_max_abs_diff"] = float(np.max(np.abs(served - ref.first_query_scores)))
        alone = np.array([reranker.score([pair], raw_scores=True).reshape(-1)[0] for pair in first_pairs])
        figures["batch_invariance_max_abs_diff"] = float(np.max(np.abs(alone - logits[: len(first_pairs)])))
        return figures

    def speed_run(self, bundle: Path, vset: ValidationSet, limit: int) -> tuple[Callable[[], object], int]:
        from edge_encoders import Reranker

        reranker = Reranker.from_bundle(bundle, verify=False, session_config=speed_session())
        pairs = vset.pairs[:limit]
        reranker.score(pairs[:4])
        return (lambda: reranker.score(pairs)), len(pairs)

    def run_hints(self, staged: Path, vset: ValidationSet, variant: str) -> dict[str, Any]:
        """Both run modes timed on a call of RUN_PROBE_PAIRS validation pairs (the bench's 1 x 50 request size)."""
        from edge_build.run_mode_probe import probe_run_modes
        from edge_encoders import Reranker
        from edge_encoders.session import SessionConfig

        pairs = vset.pairs[:RUN_PROBE_PAIRS]

        def open_call(config: SessionConfig) -> Callable[[], object]:
            reranker = Reranker.from_bundle(staged, verify=False, session_config=config)
            return lambda: reranker.score(pairs)

        return probe_run_modes(variant, open_call)

    def calibration_encodings(self, tokenizer: TextTokenizer, texts: list[str]) -> list[Any]:
        """Pairs of consecutive calibration lines: a cross-encoder's input is a pair."""
        pairs = [(texts[i], texts[(i + 1) % len(texts)]) for i in range(len(texts))]
        return list(tokenizer.encode_pairs(pairs, truncate=True))


def _predict(model: Any, pairs: list[tuple[str, str]], *, raw: bool) -> np.ndarray:
    """CrossEncoder.predict(): logits when raw, else with the model's own activation."""
    import torch

    kwargs: dict[str, Any] = {"activation_fn": torch.nn.Identity()} if raw else {}
    scores = model.predict(pairs, batch_size=REFERENCE_BATCH, convert_to_numpy=True, show_progress_bar=False, **kwargs)
    return np.asarray(scores, dtype=np.float32)


def _split(values: np.ndarray, vset: ValidationSet) -> list[np.ndarray]:
    offsets = np.cumsum([0] + [len(item["passages"]) for item in vset.rerank])
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(vset.rerank))]


RERANK = RerankFamily()
