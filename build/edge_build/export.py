"""fp32 ONNX export with optimum, for the task the model's family names (token embeddings, logits, ...).

Why library "transformers" and not "sentence_transformers": we export the Hugging Face model underneath
(last_hidden_state), and the runtime pools in numpy from the manifest, so the graph stays the plain encoder
that ORTOptimizer and ORTQuantizer know how to fuse and quantize.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from edge_build.errors import BuildError
from edge_build.model_facts import ModelFacts

DONE_MARKER = ".export-done"


def export_fp32(facts: ModelFacts, st_model: Any, out_dir: Path, *, task: str, trust_remote_code: bool = False) -> Path:
    """Export facts.transformer_dir to out_dir/model.onnx (+ tokenizer.json as sentence-transformers loads it).

    Reuses a finished export in out_dir. The tokenizer is saved from the loaded sentence-transformers model,
    so settings it applies on load (do_lower_case) are carried in tokenizer.json.
    """
    model_path = out_dir / "model.onnx"
    if (out_dir / DONE_MARKER).is_file() and model_path.is_file():
        return model_path
    from optimum.exporters.onnx import main_export

    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    try:
        main_export(
            str(facts.transformer_dir),
            str(out_dir),
            task=task,
            library_name="transformers",
            do_validation=False,
            trust_remote_code=trust_remote_code,
        )
    except Exception as exc:
        raise BuildError(f"ONNX export of {facts.transformer_dir} failed: {exc}") from None
    if not model_path.is_file():
        raise BuildError(f"ONNX export of {facts.transformer_dir} wrote no model.onnx")
    st_model.tokenizer.save_pretrained(str(out_dir))
    if not (out_dir / "tokenizer.json").is_file():
        raise BuildError(f"{facts.transformer_dir}: the tokenizer cannot be saved as tokenizer.json (not a fast one)")
    (out_dir / DONE_MARKER).write_text("ok\n")
    return model_path


def graph_io(model_path: Path) -> tuple[list[str], list[str]]:
    """Input and output names of an ONNX graph, in graph order."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in initializers]
    return inputs, [o.name for o in graph.output]
