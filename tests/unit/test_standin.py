"""The stand-in reranker: trained from a bi-encoder teacher, saved as a CrossEncoder, labelled, cached.

Runs a few steps on the tiny 2-layer model from tests/helpers (seconds); the real one-minute training on the
packaged MiniLM runs in `make export`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pytest
from edge_build.config import DATA_DIR, ModelSpec
from edge_build.sources import ResolvedSource, SourceError, resolve_source
from edge_build.standin import REPORT_NAME, StandinParams, build_standin, load_standin_texts, train
from edge_build.standin import cache as standin_cache
from helpers.tiny_models import make_tiny_embedder

from edge_encoders.hashing import sha256_file

QUERIES = [
    "how do bees make honey",
    "best time to plant tomatoes",
    "how to reset a router",
    "what is inflation",
    "how to boil an egg",
    "why is the sky blue",
]
PASSAGES = [
    "Bees turn nectar into honey by fanning it until the water evaporates.",
    "Plant tomatoes after the last frost when the soil is warm.",
    "Hold the reset button on the router for ten seconds.",
    "Inflation is the rate at which prices rise over time.",
    "Boil the egg for seven minutes, then cool it in cold water.",
    "Sunlight scatters off air molecules, and blue light scatters most.",
    "The library opens at nine on weekdays.",
    "A honeybee colony has one queen and many workers.",
]
TINY = StandinParams(
    steps=3,
    queries_per_step=2,
    passages_per_query=3,
    max_length=64,
    holdout_every=3,
    eval_candidates=4,
)


def quiet(_: str) -> None:
    """Progress sink for tests."""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> ResolvedSource:
    folder = make_tiny_embedder(tmp_path_factory.mktemp("tiny"))
    return resolve_source(ModelSpec(str(folder)), "embed", folder, quiet)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "standin-data"
    folder.mkdir()
    (folder / "queries.json").write_text(json.dumps(QUERIES), encoding="utf-8")
    (folder / "passages.json").write_text(json.dumps(PASSAGES), encoding="utf-8")
    return folder


def test_trains_saves_and_labels_a_stand_in(tmp_path: Path, base: ResolvedSource, data_dir: Path) -> None:
    from sentence_transformers import CrossEncoder

    messages: list[str] = []
    result = build_standin(tmp_path / "work", messages.append, base=base, params=TINY, data_dir=data_dir)

    info = result.info
    assert info["type"] == "standin" and info["standin"] is True
    assert "Stand-in reranker: NOT a trained MS MARCO cross-encoder" in info["note"]
    assert info["base"]["local_path"] == str(base.path)
    assert info["training"]["steps"] == 3 and info["training"]["heldout_queries"] == 2
    assert set(info["quality"]) >= {"spearman_mean", "top1_agreement", "top1_in_teacher_top3"}
    assert len(info["content_sha256"]) == 64
    assert any("step 3/3" in m and "loss" in m for m in messages)

    # a CrossEncoder folder whose config records the sigmoid activation and one label
    st_config = json.loads((result.path / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert st_config["activation_fn"].endswith("Sigmoid")
    config = json.loads((result.path / "config.json").read_text(encoding="utf-8"))
    assert config["architectures"] == ["BertForSequenceClassification"]
    readme = (result.path / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("---\n")  # the model card's YAML front matter stays first
    assert "# STAND-IN reranker" in readme
    model = CrossEncoder(str(result.path), device="cpu")
    scores = model.predict([(QUERIES[0], PASSAGES[0]), (QUERIES[0], PASSAGES[6])], show_progress_bar=False)
    assert model.num_labels == 1 and all(0.0 < float(s) < 1.0 for s in scores)
    # the build accepts it as a reranker source
    assert resolve_source(ModelSpec(str(result.path)), "rerank", tmp_path, quiet).path == result.path


def test_second_build_reuses_the_cached_folder(
    tmp_path: Path, base: ResolvedSource, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = build_standin(tmp_path, quiet, base=base, params=TINY, data_dir=data_dir)

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained again although nothing changed")

    monkeypatch.setattr(standin_cache, "train_standin", no_training)
    messages: list[str] = []
    again = build_standin(tmp_path, messages.append, base=base, params=TINY, data_dir=data_dir)
    assert again.path == first.path and again.info["cache_key"] == first.info["cache_key"]
    assert again.info["quality"] == first.info["quality"]
    assert any("reusing" in m for m in messages)
    # any changed input is a different cache entry (and here would need training)
    with pytest.raises(AssertionError, match="trained again"):
        build_standin(tmp_path, quiet, base=base, params=replace(TINY, seed=7), data_dir=data_dir)
    (data_dir / "passages.json").write_text(json.dumps([*PASSAGES, "One more passage."]), encoding="utf-8")
    with pytest.raises(AssertionError, match="trained again"):
        build_standin(tmp_path, quiet, base=base, params=TINY, data_dir=data_dir)


def test_training_is_deterministic(tmp_path: Path, base: ResolvedSource, data_dir: Path) -> None:
    one = build_standin(tmp_path / "a", quiet, base=base, params=TINY, data_dir=data_dir)
    two = build_standin(tmp_path / "b", quiet, base=base, params=TINY, data_dir=data_dir)
    assert sha256_file(one.path / "model.safetensors") == sha256_file(two.path / "model.safetensors")
    report = json.loads((one.path / REPORT_NAME).read_text(encoding="utf-8"))
    assert report["training"]["loss_last"] == two.info["training"]["loss_last"]


def test_weights_move_during_training(tmp_path: Path, base: ResolvedSource, data_dir: Path) -> None:
    short = build_standin(tmp_path, quiet, base=base, params=replace(TINY, steps=1), data_dir=data_dir)
    longer = build_standin(tmp_path, quiet, base=base, params=TINY, data_dir=data_dir)
    assert sha256_file(short.path / "model.safetensors") != sha256_file(longer.path / "model.safetensors")


def test_missing_or_bad_training_text_is_a_clear_error(tmp_path: Path, base: ResolvedSource) -> None:
    with pytest.raises(SourceError, match="cannot be read"):
        build_standin(tmp_path, quiet, base=base, params=TINY, data_dir=tmp_path / "nowhere")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "queries.json").write_text(json.dumps(["q1", ""]), encoding="utf-8")
    (bad / "passages.json").write_text(json.dumps(PASSAGES), encoding="utf-8")
    with pytest.raises(SourceError, match="non-empty strings"):
        build_standin(tmp_path, quiet, base=base, params=TINY, data_dir=bad)


def test_shipped_training_text_is_present_and_distinct_from_validation() -> None:
    queries, passages = load_standin_texts()
    assert len(queries) >= 50 and len(passages) >= 100
    validation = json.loads((DATA_DIR / "validation" / "rerank.json").read_text(encoding="utf-8"))
    held = {item["query"] for item in validation} | {p for item in validation for p in item["passages"]}
    assert not held & (set(queries) | set(passages))


def test_margin_loss_asks_the_teachers_better_passage_to_lead_by_its_gap() -> None:
    import torch

    params = StandinParams(queries_per_step=1, passages_per_query=3, margin_per_cos=10.0, margin_max=3.0)
    cosines = torch.tensor([[0.50, 0.45, 0.10]])  # gaps 0.05 -> 0.5 logits, 0.4 -> capped at 3
    pairs = [(0, 0), (0, 1), (0, 2)]
    clear = torch.tensor([4.0, 3.4, 0.0])  # every lead at least its margin
    assert float(train.margin_loss(clear, pairs, cosines, params)) == 0.0
    tied = torch.tensor([3.0, 3.0, 0.0])  # top-2 tied: the 0.5 margin is missed, the rest met
    assert float(train.margin_loss(tied, pairs, cosines, params)) == pytest.approx(0.5 / 3)
    flipped = torch.tensor([0.0, 1.0, 2.0])
    assert float(train.margin_loss(flipped, pairs, cosines, params)) > 2.0


def test_margin_floor_asks_the_teachers_top1_to_lead_every_other_passage_by_the_floor() -> None:
    import torch

    params = StandinParams(queries_per_step=2, passages_per_query=3, top1_floor=1.0)
    # query 0: passage 1 is the teacher's best by a hair (a near-tie the gap-scaled margin barely sees)
    cosines = torch.tensor([[0.500, 0.501, 0.10, 0.0], [0.9, 0.2, 0.1, 0.0]])
    pairs = [(0, 1), (0, 0), (0, 2), (1, 3), (1, 1), (1, 2)]  # query 1's top-1 (passage 0) was not sampled
    decided = torch.tensor([2.0, 1.0, -1.5, 9.0, 0.0, 5.0])  # leads 1.0 and 3.5; query 1 adds nothing
    assert float(train.margin_floor_loss(decided, pairs, cosines, params)) == 0.0
    near_tie = torch.tensor([2.0, 1.98, -1.5, 9.0, 0.0, 5.0])  # lead 0.02 misses the floor by 0.98
    assert float(train.margin_floor_loss(near_tie, pairs, cosines, params)) == pytest.approx(0.98 / 2)
    flipped = torch.tensor([1.0, 2.0, 0.0, 0.0, 0.0, 0.0])  # runner-up ahead by 1: hinge 2, other pair 0
    assert float(train.margin_floor_loss(flipped, pairs, cosines, params)) == pytest.approx(2.0 / 2)
    # the gap-scaled margin asks only 0.01 logits of the near-tie: the floor is what decides it
    assert float(train.margin_loss(near_tie[:3], pairs[:3], cosines, replace(params, queries_per_step=1))) == 0.0


def test_margin_floor_ignores_a_duplicate_of_the_top_passage() -> None:
    import torch

    params = StandinParams(queries_per_step=1, passages_per_query=3, top1_floor=1.0)
    cosines = torch.tensor([[0.9, 0.2, 0.1]])
    pairs = [(0, 0), (0, 1), (0, 0)]  # the random pick drew the top passage again
    logits = torch.tensor([3.0, 1.0, 3.0], requires_grad=True)
    assert float(train.margin_floor_loss(logits, pairs, cosines, params).detach()) == 0.0
    (train.margin_floor_loss(logits * torch.tensor([1.0, 2.5, 1.0]), pairs, cosines, params)).backward()
    assert logits.grad is not None and float(logits.grad[1]) > 0.0  # pushes the runner-up down


class _TiedModel:
    """A stand-in whose scores tie on the first two candidates: Spearman must give them one shared rank."""

    scores: ClassVar[dict[str, float]] = dict(zip(PASSAGES[:4], [1.0, 1.0, 0.5, 0.0], strict=True))

    def predict(self, pairs: list[tuple[str, str]], **_: object) -> list[float]:
        return [self.scores[passage] for _, passage in pairs]


def test_agreement_with_the_teacher_handles_tied_scores() -> None:
    import random

    import torch
    from edge_build.standin.evaluate import evaluate_against_teacher

    cosines = torch.tensor([[0.9, 0.8, 0.7, 0.6]])  # the teacher's order is the candidates' order
    params = StandinParams(eval_candidates=4)
    quality = evaluate_against_teacher(_TiedModel(), ["q"], PASSAGES[:4], cosines, [0], params, random.Random(0))
    # ranks with the tie shared: (3.5, 3.5, 2, 1) vs (4, 3, 2, 1) -> 0.9487; ranking that broke the tie by list
    # position (the earlier hand-written Spearman) put the teacher's best passage below the second: 0.8
    assert quality["spearman_mean"] == pytest.approx(0.9487, abs=1e-4)
