"""The stand-in's folder under the work dir: trained once, reused while every input it depends on is unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edge_build.config import DATA_DIR
from edge_build.source_info import ResolvedSource, SourceError, folder_fingerprint, source_info
from edge_build.standin.recipe import STANDIN_NOTE, STANDIN_VERSION, StandinParams
from edge_build.standin.train import train_standin

STANDIN_DATA_DIR = DATA_DIR / "standin"
REPORT_NAME = "standin.json"


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_standin_texts(data_dir: Path = STANDIN_DATA_DIR) -> tuple[list[str], list[str]]:
    """Queries and passages shipped for the stand-in; a clear SourceError when they are missing or malformed."""
    out: list[list[str]] = []
    for name in ("queries.json", "passages.json"):
        path = data_dir / name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SourceError(
                f"The stand-in reranker trains on {path}, which cannot be read ({exc}). Restore data/standin/ from "
                f"the repository, or point --rerank at a real cross-encoder folder instead."
            ) from None
        if not isinstance(data, list) or len(data) < 2 or not all(isinstance(t, str) and t.strip() for t in data):
            raise SourceError(f"{path} must be a JSON list of at least two non-empty strings.")
        out.append(data)
    return out[0], out[1]


def standin_cache_key(
    base_fingerprint: str, queries: Sequence[str], passages: Sequence[str], params: StandinParams
) -> str:
    """Everything the trained weights depend on: recipe, base weights, text, library versions."""
    import sentence_transformers
    import torch
    import transformers

    payload = {
        "version": STANDIN_VERSION,
        "base": base_fingerprint,
        "queries": _sha256_bytes(json.dumps(list(queries), ensure_ascii=False).encode()),
        "passages": _sha256_bytes(json.dumps(list(passages), ensure_ascii=False).encode()),
        "params": asdict(params),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
    }
    return _sha256_bytes(json.dumps(payload, sort_keys=True).encode())


def build_standin(
    work_dir: Path,
    progress: Callable[[str], None] = print,
    *,
    base: ResolvedSource,
    params: StandinParams | None = None,
    data_dir: Path | None = None,
) -> ResolvedSource:
    """Return the stand-in reranker folder trained from ``base`` (the teacher bi-encoder), training it only when
    no cached copy matches the inputs."""
    params = params or StandinParams()
    queries, passages = load_standin_texts(data_dir or STANDIN_DATA_DIR)
    base_fp = base.info.get("content_sha256") or folder_fingerprint(base.path)
    key = standin_cache_key(base_fp, queries, passages, params)
    root = Path(work_dir) / "standin"
    final = root / key[:16]
    report_path = final / REPORT_NAME
    report: dict[str, Any] | None = None
    if report_path.is_file():
        try:
            cached = json.loads(report_path.read_text(encoding="utf-8"))
            if cached.get("cache_key") == key:
                report = cached
                progress(f"rerank: reusing the stand-in reranker trained earlier ({final})")
        except (OSError, ValueError):
            report = None
    if report is None:
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".tmp-{key[:16]}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        progress(
            f"rerank: no cross-encoder weights offline; training a STAND-IN reranker from {base.path.name} "
            f"({params.steps} steps, about two minutes on CPU)"
        )
        report = train_standin(base.path, tmp, queries, passages, params, progress)
        report["cache_key"] = key
        report["base"] = base.info
        (tmp / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    info = source_info(
        "standin",
        "standin",
        final,
        standin=True,
        note=STANDIN_NOTE,
        base=base.info,
        training=report.get("training", {}),
        quality=report.get("quality", {}),
        cache_key=key,
    )
    info["content_sha256"] = folder_fingerprint(final)
    info["name"] = f"{base.info.get('name', 'MiniLM')} cross-encoder STAND-IN (not MS MARCO-trained)"
    return ResolvedSource(path=final, info=info)
