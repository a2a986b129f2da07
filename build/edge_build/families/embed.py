"""The embed family: sentence-transformers bi-encoders (Transformer -> Pooling [-> Normalize]).

Export: the Hugging Face encoder underneath (last_hidden_state); the runtime pools in numpy from the manifest.
Reference: SentenceTransformer.encode(). Figures: cosine with the reference (the worse of all texts in one call
and each text alone), nDCG@10 of the validation queries' passages, batch invariance.
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
    from edge_build.report import Progress
    from edge_build.validation import ValidationSet

RUNTIME_POOLING = ("mean", "cls", "lasttoken")
CALIBRATION_FILE = "calibration.npy"
CALIBRATION_LIMIT = 2000
REFERENCE_BATCH = 32
# the probe's calls (validation texts, mixed lengths): an API request's batch and a bulk worker's; one hint
# serves both, so concurrent ships only when it wins on each
RUN_PROBE_TEXTS = (32, 256)


@dataclass
class EmbedReference:
    vectors: np.ndarray  # (len(all_embed_texts), dim), sentence-transformers encode()


class EmbedFamily(Family):
    name = "embed"
    title = "embedder"
    export_task = "feature-extraction"
    output_name = "last_hidden_state"
    speed_metric = "texts_per_s"
    fidelity_metric = "cos_min"
    mean_metric = "cos_mean"
    batch_invariance_metric = "batch_invariance_cos_min"
    uses_prompts = True
    gates = (
        GateSpec("embed_fp_min_cos", "exact", "cos_min", 0.9999),
        GateSpec("embed_int8_mean_cos", "int8", "cos_mean", 0.995),
        GateSpec("embed_int8_min_cos", "int8", "cos_min", 0.985),
    )
    columns: ClassVar[list[Column]] = [
        ("size MB", lambda v: f"{v['size'] / 1e6:.1f}"),
        ("cos mean/min tune", lambda v: part(v, "tune", "cos_mean", "cos_min")),
        ("cos mean/min held-out", lambda v: part(v, "heldout", "cos_mean", "cos_min")),
        ("nDCG@10", lambda v: fmt(v["metrics"].get("ndcg10_mean"), 4)),
        ("batch-inv cos", lambda v: fmt(v["metrics"].get("batch_invariance_cos_min"), 6)),
        ("texts/s", lambda v: fmt(v["metrics"].get("texts_per_s"), 0)),
        ("pareto", lambda v: "*" if v.get("pareto") else ""),
    ]

    def architecture_problem(self, architectures: list[str]) -> str | None:
        heads = [a for a in architectures if a.endswith("ForSequenceClassification")]
        if not heads:
            return None
        return (
            f"is a {', '.join(heads)}: a cross-encoder (it scores pairs of texts), not a bi-encoder. A "
            "cross-encoder belongs in --rerank; for --embed use a sentence-transformers bi-encoder such as "
            "sentence-transformers/all-MiniLM-L6-v2."
        )

    def load(self, folder: Path, *, trust_remote_code: bool, device: str) -> tuple[Any, ModelFacts]:
        """Load a bi-encoder with sentence-transformers and read its facts; refuse what the runtime cannot serve."""
        if not (folder / "modules.json").is_file():
            # sentence-transformers would load it with a guessed mean pooling: vectors the model was not trained for
            raise BuildError(
                f"{folder} has no modules.json: it is a plain transformers model, not a sentence-transformers one, "
                f"so how it pools token vectors into one is unknown (sentence-transformers would guess mean "
                f"pooling). Save it as a SentenceTransformer with the pooling it was trained with "
                f"(SentenceTransformer(modules=[Transformer(folder), Pooling(dim, 'mean' or 'cls')]).save(out)) "
                f"and point --embed at that folder."
            )
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(folder), device=device, trust_remote_code=trust_remote_code)
        names = [type(m).__name__ for m in model]
        allowed = {"Transformer", "Pooling", "Normalize"}
        unsupported = [n for n in names if n not in allowed]
        if unsupported or names[:1] != ["Transformer"] or "Pooling" not in names:
            raise BuildError(
                f"{folder}: modules {names} are not supported; the runtime serves Transformer -> Pooling "
                f"[-> Normalize] bi-encoders (unsupported: {unsupported or 'missing Transformer/Pooling'})"
            )
        pooling_module = next(m for m in model if type(m).__name__ == "Pooling")
        mode = pooling_module.pooling_mode
        if mode not in RUNTIME_POOLING:
            raise BuildError(f"{folder}: pooling mode {mode!r} is not supported by the runtime {RUNTIME_POOLING}")
        if not pooling_module.include_prompt:
            raise BuildError(f"{folder}: pooling with include_prompt=False (INSTRUCTOR-style) is not supported")
        config = model[0].model.config
        dimension = model.get_sentence_embedding_dimension()
        facts = ModelFacts(
            kind=self.name,
            transformer_dir=transformer_dir(folder),
            max_seq_length=max_seq_length(model, config),
            dimension=int(dimension) if dimension else int(config.hidden_size),
            pooling=str(mode),
            normalize="Normalize" in names,
            prompts={k: str(v) for k, v in (model.prompts or {}).items()},
            default_prompt_name=model.default_prompt_name,
            architecture=(config.architectures or [None])[0],
        )
        return model, facts

    def manifest_fields(self, facts: ModelFacts, extra_prompts: dict[str, str], files: set[str]) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "dimension": facts.dimension,
            "pooling": facts.pooling,
            "normalize": facts.normalize,
            "prompts": {**facts.prompts, **extra_prompts},
            "default_prompt_name": facts.default_prompt_name,
        }
        if CALIBRATION_FILE in files:
            fields["calibration_file"] = CALIBRATION_FILE
        return fields

    def reference_count(self, vset: ValidationSet) -> int:
        return len(vset.all_embed_texts())

    def reference(self, model: Any, vset: ValidationSet) -> EmbedReference:
        """sentence-transformers' own encode() (its pooling, normalization and default prompt)."""
        vectors = model.encode(
            vset.all_embed_texts(), batch_size=REFERENCE_BATCH, convert_to_numpy=True, show_progress_bar=False
        )
        return EmbedReference(np.asarray(vectors, dtype=np.float32))

    def validate(self, staged: Path, vset: ValidationSet, ref: Any) -> dict[str, Any]:
        """Fidelity (cosine, nDCG@10) and batch invariance of one staged embed bundle."""
        from edge_build import metrics
        from edge_encoders import Embedder

        embedder = Embedder.from_bundle(staged)
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

    def speed_run(self, bundle: Path, vset: ValidationSet, limit: int) -> tuple[Callable[[], object], int]:
        from edge_encoders import Embedder

        embedder = Embedder.from_bundle(bundle, verify=False, session_config=speed_session())
        texts = vset.all_embed_texts()[:limit]
        embedder.embed(texts[:4])
        return (lambda: embedder.embed(texts)), len(texts)

    def run_hints(self, staged: Path, vset: ValidationSet, variant: str) -> dict[str, Any]:
        """Both run modes timed on an API-sized and a bulk-sized call of validation texts (RUN_PROBE_TEXTS)."""
        from edge_build.run_mode_probe import probe_calls
        from edge_encoders import Embedder
        from edge_encoders.session import SessionConfig

        texts = vset.all_embed_texts()

        def opener(count: int) -> Callable[[SessionConfig], Callable[[], object]]:
            call = [texts[i % len(texts)] for i in range(count)]

            def open_call(config: SessionConfig) -> Callable[[], object]:
                embedder = Embedder.from_bundle(staged, verify=False, session_config=config)
                return lambda: embedder.embed(call)

            return open_call

        return probe_calls(variant, {f"{count} texts": opener(count) for count in RUN_PROBE_TEXTS})

    def extra_files(self, staged: Path, vset: ValidationSet, work: Path, progress: Progress) -> dict[str, Path]:
        """calibration.npy: pooled, un-normalized embeddings of the calibration text, computed by the runtime
        with the shipped model (the runtime derives int8/binary output ranges from it)."""
        from edge_build.report import step
        from edge_encoders import Embedder

        texts = vset.calibration[:CALIBRATION_LIMIT] or vset.embed_texts
        with step(
            progress, f"[{self.name}] calibration embeddings ({min(len(vset.calibration), CALIBRATION_LIMIT)} texts)"
        ):
            vectors = Embedder.from_bundle(staged).embed(texts, normalize=False)
            path = work / CALIBRATION_FILE
            np.save(path, vectors.astype(np.float32))
        return {CALIBRATION_FILE: path}


def _embed_figures(
    vset: ValidationSet, ref: np.ndarray, vectors: np.ndarray, alone: np.ndarray, rows: np.ndarray, queries: np.ndarray
) -> dict[str, Any]:
    """Cosine figures on the chosen rows (the worse of batched and alone) and nDCG@10 of the chosen queries."""
    from edge_build import metrics

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


EMBED = EmbedFamily()
