"""The CLS-only last layer (clsonly), an exact rewrite for cross-encoders, on a tiny BERT cross-encoder built here.

The rewritten graph must give the unrewritten graph's scores (up to float rounding) on padded batches, in fp32
and in the int8-rowwise-fused form the reranker ships; a graph whose sequence output is read by anything but
the position-0 Gather (mean pooling, token outputs) must come back unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("optimum")

from edge_build import hybridfuse, rowquant  # noqa: E402
from edge_build.clsonly import cls_only  # noqa: E402
from helpers.tiny_models import make_tiny_cross_encoder, make_tiny_embedder  # noqa: E402


def _export(folder: Path, out: Path, task: str) -> Path:
    from optimum.exporters.onnx import main_export

    main_export(str(folder), str(out), task=task, library_name="transformers", do_validation=False)
    return out / "model.onnx"


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny cross-encoder with random (non-zero) biases: BERT initializes them to 0, which would hide a
    bias the rewrite lost (and the exporter shares the equal zero tensors)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    tmp = tmp_path_factory.mktemp("clsonly")
    folder = make_tiny_cross_encoder(tmp)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    torch.manual_seed(3)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0.0, 0.5)
    model.save_pretrained(folder)
    return _export(folder, tmp / "onnx", "text-classification")


def _feeds(rng: np.random.Generator, batch: int, length: int) -> dict[str, np.ndarray]:
    """Random ids, query/passage segments, and rows padded to different lengths (the mask matters)."""
    mask = np.ones((batch, length), np.int64)
    for row in range(1, batch):
        mask[row, max(2, length - 3 * row) :] = 0
    types = np.zeros((batch, length), np.int64)
    types[:, length // 3 :] = 1
    ids = rng.integers(1000, 5000, size=(batch, length)).astype(np.int64) * mask
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _run(model: object, feeds: dict[str, np.ndarray]) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    return session.run(None, feeds)[0]


def _assert_same_scores(before: object, after: object, atol: float) -> None:
    rng = np.random.default_rng(1)
    for batch, length in ((1, 5), (4, 19), (3, 33)):
        feeds = _feeds(rng, batch, length)
        want, got = _run(before, feeds), _run(after, feeds)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=atol, rtol=0)
        if batch > 1:
            assert np.ptp(want) > 10 * atol  # the scores differ between rows: the comparison can fail


def _int8_fused(fp32: Path, tmp_path: Path) -> object:
    """The tiny cross-encoder as int8-rowwise-fused: SmoothQuant + per-row scales, then hybridfuse."""
    rng = np.random.default_rng(0)
    calibration = [_feeds(rng, 1, int(n)) for n in rng.integers(6, 30, size=16)]
    plan = rowquant.RowQuantPlan(alpha=0.5, smooth_only_after=frozenset({"LayerNormalization"}))
    out = tmp_path / "rowwise.onnx"
    rowquant.build_rowwise(fp32, out, iter(calibration), plan)
    model = onnx.load(str(out))
    hybridfuse.fuse(model)
    return model


def test_cls_only_fp32_keeps_scores_and_drops_the_last_layers_token_work(cross_encoder: Path) -> None:
    before = onnx.load(str(cross_encoder))
    after = onnx.load(str(cross_encoder))
    report = cls_only(after)
    assert report.refused == ""
    assert report.sliced_nodes > 10
    onnx.checker.check_model(after)
    # the last layer's FFN now runs on (batch, 1, ...) only: its MatMuls are in the sliced region
    assert any("layer.1/intermediate/dense/MatMul" in name for name in report.names)
    assert not any("layer.0/" in name for name in report.names)  # the earlier layer keeps every token
    _assert_same_scores(before, after, atol=1e-5)


def test_int8_rowwise_fused_with_cls_only_keeps_scores(cross_encoder: Path, tmp_path: Path) -> None:
    before = _int8_fused(cross_encoder, tmp_path)
    after = onnx.ModelProto()
    after.CopyFrom(before)
    report = cls_only(after)
    assert report.refused == ""
    assert any(n.op_type == "MatMulIntegerToFloat" for n in after.graph.node if n.name in report.names)
    onnx.checker.check_model(after)
    _assert_same_scores(before, after, atol=1e-4)
    # still batch-invariant: a pair scores the same alone and in a padded batch
    rng = np.random.default_rng(2)
    feeds = _feeds(rng, 4, 21)
    batched = _run(after, feeds)
    alone = _run(after, {k: v[2:3, : int(feeds["attention_mask"][2].sum())] for k, v in feeds.items()})
    np.testing.assert_allclose(alone[0], batched[2], atol=1e-5, rtol=0)


def test_mean_pooled_sequence_is_left_alone(cross_encoder: Path) -> None:
    """Position 0 goes to the head AND the whole sequence is mean-pooled into a second output: refused."""
    from onnx import helper

    model = onnx.load(str(cross_encoder))
    gather = next(n for n in model.graph.node if n.op_type == "Gather" and "pooler" in n.name)
    axes = helper.make_tensor("mean_axes", onnx.TensorProto.INT64, [1], [1])
    model.graph.initializer.append(axes)
    model.graph.node.append(helper.make_node("ReduceMean", [gather.input[0], "mean_axes"], ["mean"], keepdims=0))
    model.graph.output.append(helper.make_tensor_value_info("mean", onnx.TensorProto.FLOAT, None))
    before = model.SerializeToString()
    report = cls_only(model)
    assert report.refused
    assert model.SerializeToString() == before


def test_token_output_model_is_left_alone(tmp_path: Path) -> None:
    """A bi-encoder export (last_hidden_state out, mean pooling downstream): no position-0 head, unchanged."""
    path = _export(make_tiny_embedder(tmp_path), tmp_path / "onnx", "feature-extraction")
    model = onnx.load(str(path))
    before = model.SerializeToString()
    assert cls_only(model).refused
    assert model.SerializeToString() == before
