"""The stand-in's training recipe and what it says about itself: every field is part of its cache key."""

from __future__ import annotations

from dataclasses import dataclass

STANDIN_VERSION = 3  # bump when the training recipe changes: it is part of the cache key
STANDIN_NOTE = (
    "Stand-in reranker: NOT a trained MS MARCO cross-encoder. No cross-encoder weights can be had offline, so "
    "the build fine-tuned a CrossEncoder score head on the packaged all-MiniLM-L6-v2 for about two minutes "
    "on CPU, on the query/passage pairs in data/standin/, with the MiniLM bi-encoder's cosine similarity as the "
    "teacher label and a margin loss asking the teacher's top passage to lead the others by 2 logits. It "
    "ranks roughly like that bi-encoder. For real reranking quality, build with a real cross-encoder "
    "(e.g. --rerank hub:cross-encoder/ms-marco-MiniLM-L6-v2 or a local CrossEncoder folder)."
)


@dataclass(frozen=True)
class StandinParams:
    """The training recipe; every field is part of the cache key."""

    steps: int = 100
    queries_per_step: int = 4  # each query brings passages_per_query passages: batch = 4 x 5 = 20 pairs
    # The teacher's top-1, 2nd and 3rd (always together: the near-ties the floor below must separate), one of its
    # 4th-10th, one of its 11th-40th, a random one.
    passages_per_query: int = 6
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
    # Top-1 margin floor: the teacher's top-1 passage must lead every other sampled passage of its query by at
    # least top1_floor logits, however small the teacher's own gap. The gap-scaled margin above asks almost
    # nothing where the teacher's top two are near-tied, and so left stand-ins whose top-1 was decided by a few
    # hundredths of a logit: any rounding flipped it. A fixture for "does int8 keep this model's ranking" needs
    # a model with a decided top-1.
    floor_weight: float = 1.0
    top1_floor: float = 2.0  # 1.0 left rowwise int8 flipping 2 of 25 tune top-1s; 2.0 none (weight 3 at 1.0: 2)
    holdout_every: int = 5  # every 5th query is held out of training and used to report agreement
    eval_candidates: int = 20  # per held-out query: teacher's top 10 + 10 others
    seed: int = 1234
