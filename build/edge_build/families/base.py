"""What a model family is on the build side: one object that answers every family-specific question.

The pipeline, config, CLI, gate, report and sources never compare family names; they look the family up in
the registry (edge_build.families) and ask it. A new family is one module that subclasses Family, plus one
line in the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from edge_build.model_facts import ModelFacts
    from edge_build.report import Progress
    from edge_build.validation import ValidationSet
    from edge_encoders.text_tokenizer import TextTokenizer

Column = tuple[str, Callable[[dict[str, Any]], str]]


def speed_session() -> Any:
    """How the build times a variant: ONE onnxruntime thread, spinning off, so the process's CPU time is the
    model's work alone and the figure (which decides what ships) does not move with the box's load."""
    from edge_encoders.session import SessionConfig

    return SessionConfig(intra_op_threads=1, allow_spinning=False)


@dataclass(frozen=True)
class GateSpec:
    """One threshold of a family's gate: ``metric >= default`` for variants of one precision ("exact"/"int8")."""

    key: str  # the name in config/models.toml [gates], prefixed with the family name
    precision: str
    metric: str  # a figure validate() reports per part (tune/held-out)
    default: float


class Family:
    """Build-side behaviour of one model family (subclassed once per family, registered by name)."""

    name: ClassVar[str]  # the manifest's `kind`: the runtime loads the bundle by it
    title: ClassVar[str]  # "embedder", "reranker": for messages
    export_task: ClassVar[str]  # optimum's task for the fp32 export
    output_name: ClassVar[str]  # the graph output the runtime reads
    speed_metric: ClassVar[str]  # throughput figure (per second) the choice maximizes
    fidelity_metric: ClassVar[str]  # the Pareto front's fidelity axis (tune part)
    mean_metric: ClassVar[str]  # the headline mean fidelity figure (notes)
    batch_invariance_metric: ClassVar[str]
    gates: ClassVar[tuple[GateSpec, ...]]
    columns: ClassVar[list[Column]]  # the printed table's figures
    standin: ClassVar[bool] = False  # whether the build may train a stand-in model of this family
    uses_prompts: ClassVar[bool] = False  # whether config [prompts] go into its manifest
    source_help: ClassVar[str] = "package:<module> | hub:<owner>/<name> | folder"

    # names of its settings: derived from the family name, so a new family gets them without config edits
    @property
    def cli_flag(self) -> str:
        return f"--{self.name}"

    @property
    def env_var(self) -> str:
        return f"EDGE_EXPORT_{self.name.upper()}"

    def architecture_problem(self, architectures: list[str]) -> str | None:
        """Why a model folder with these config.json architectures cannot be this family (None: it may be)."""
        return None

    def load(self, folder: Path, *, trust_remote_code: bool, device: str) -> tuple[Any, ModelFacts]:
        """Load the folder with sentence-transformers (the torch reference) and read the facts the manifest needs."""
        raise NotImplementedError

    def manifest_fields(self, facts: ModelFacts, extra_prompts: dict[str, str], files: set[str]) -> dict[str, Any]:
        """The family's own Manifest keyword arguments."""
        raise NotImplementedError

    def reference_count(self, vset: ValidationSet) -> int:
        """How many inputs the reference runs on (for the progress line)."""
        raise NotImplementedError

    def reference(self, model: Any, vset: ValidationSet) -> Any:
        """The torch outputs every variant is measured against."""
        raise NotImplementedError

    def validate(self, staged: Path, vset: ValidationSet, ref: Any) -> dict[str, Any]:
        """Fidelity figures of a staged bundle served by the runtime (with a tune and a held-out part)."""
        raise NotImplementedError

    def speed_run(self, bundle: Path, vset: ValidationSet, limit: int) -> tuple[Callable[[], object], int]:
        """A warmed-up call over at most ``limit`` validation inputs through the runtime (opened with
        ``speed_session()``: one thread, no spinning, so CPU time measures it), and its input count."""
        raise NotImplementedError

    def calibration_encodings(self, tokenizer: TextTokenizer, texts: list[str]) -> list[Any]:
        """Calibration text as this family's model input (single texts; pairs for a cross-encoder)."""
        return list(tokenizer.encode(texts, truncate=True))

    def extra_files(self, staged: Path, vset: ValidationSet, work: Path, progress: Progress) -> dict[str, Path]:
        """Extra files the published bundle carries, made with the shipped variant's staged bundle."""
        return {}

    def run_hints(self, staged: Path, vset: ValidationSet, variant: str) -> dict[str, Any]:
        """The manifest's run_hints for the shipped variant (edge_build.run_mode_probe); none by default, so
        the runtime runs its micro-batches one after another."""
        return {}
