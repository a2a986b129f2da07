"""The benchmark's pure helpers: statistics, FLOP counting, padding, GEMM graphs, table formatting.

No timing is asserted anywhere: these check that the numbers the bench reports are computed correctly.
"""

from __future__ import annotations

import xml.dom.minidom
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bench import report
from bench.flops import (
    ModelFlops,
    count_model_flops,
    edge_batches,
    padding_ratio,
    single_batches,
)
from bench.gemm import gemm_input, matmul_model
from bench.layouts import fastembed_folder, st_onnx_folder
from bench.stats import latency_summary, percentile, ratio
from bench.texts import generate_texts, load_text_set
from edge_encoders.batching import BatchPolicy


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 99, 100])
def test_percentile_matches_numpy(q: float) -> None:
    samples = list(np.random.default_rng(3).exponential(size=37))
    assert percentile(samples, q) == pytest.approx(float(np.percentile(samples, q)))


def test_percentile_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary_is_in_milliseconds() -> None:
    summary = latency_summary([0.001, 0.002, 0.003])
    assert summary["p50_ms"] == pytest.approx(2.0)
    assert summary["n"] == 3


def test_ratio_handles_missing_values() -> None:
    assert ratio(6.0, 2.0) == 3.0
    assert ratio(None, 2.0) is None
    assert ratio(1.0, 0.0) is None


@pytest.mark.parametrize("int8", [False, True], ids=["fp32", "int8"])
def test_gemm_graphs_compute_the_product(int8: bool) -> None:
    import onnxruntime as ort

    model = matmul_model(8, 16, 4, int8=int8)
    weight = numpy_helper.to_array(model.graph.initializer[0])
    a = gemm_input(8, 16, int8=int8)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"A": a})
    expected = a.astype(np.int64) @ weight.astype(np.int64) if int8 else a @ weight
    assert model.graph.node[0].op_type == ("MatMulInteger" if int8 else "MatMul")
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-4)


def _tiny_encoder(path: Path) -> None:
    """One 'layer': a dense weight [4, 8], then two activation x activation MatMuls (QK^T and AV)."""
    w = numpy_helper.from_array(np.ones((4, 8), np.float32), name="W")
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["H"]),
        helper.make_node("Transpose", ["H"], ["HT"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["H", "HT"], ["S"]),
        helper.make_node("MatMul", ["S", "H"], ["Y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["b", "t", 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["b", "t", 8])],
        initializer=[w],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_flops_are_counted_from_the_graph(tmp_path: Path) -> None:
    _tiny_encoder(tmp_path / "m.onnx")
    flops = count_model_flops(tmp_path / "m.onnx", hidden=8)
    assert flops.dense_per_token == 2 * 4 * 8
    assert flops.layers == 1
    # 2 rows of width 3: 6 tokens x 64 + 1 layer x 4 x 2 x 9 x 8
    assert flops.batch_flops(2, 3) == 6 * 64 + 4 * 2 * 9 * 8
    assert flops.useful_flops([3, 1]) == flops.batch_flops(1, 3) + flops.batch_flops(1, 1)


def test_minilm_like_flops_are_plausible() -> None:
    minilm = ModelFlops(dense_per_token=6 * 2 * (4 * 384 * 384 + 2 * 384 * 1536), layers=6, hidden=384)
    assert minilm.dense_per_token == pytest.approx(21.2e6, rel=0.01)
    assert minilm.batch_flops(1, 128) > 128 * minilm.dense_per_token


def test_padding_of_micro_batches() -> None:
    lengths = [10, 200, 12, 11]
    # one call of 4 padded to 200 -> 800 padded tokens for 233 real ones
    assert single_batches(lengths, 4) == [(4, 200)]
    assert padding_ratio(single_batches(lengths, 4), lengths) == pytest.approx(800 / 233)
    # a small token budget splits the long text off: 200 + 3 x 12
    small = edge_batches(lengths, 4, BatchPolicy(token_budget=210, max_batch_size=64))
    assert sorted(small) == [(1, 200), (3, 12)]
    assert padding_ratio(small, lengths) == pytest.approx(236 / 233)
    assert padding_ratio(single_batches(lengths, 1), lengths) == 1.0


def test_texts_are_deterministic_and_mixed() -> None:
    a, b = generate_texts(50, seed=1), generate_texts(50, seed=1)
    assert a == b
    words = [len(t.split()) for t in a]
    assert min(words) <= 12 and max(words) >= 80


def test_text_set_tops_up_with_generated_texts(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "calibration.txt").write_text("one line\nanother line\n", encoding="utf-8")
    ts = load_text_set(tmp_path, 20)
    assert len(ts.texts) == 20 and "one line" in ts.texts
    assert len(ts.passages) == 50 and ts.query
    assert "calibration.txt (2)" in ts.source and "generated" in ts.source


def test_baseline_folders_point_at_the_same_file(tmp_path: Path) -> None:
    model_dir = tmp_path / "minilm"
    model_dir.mkdir()
    for name in ("config.json", "tokenizer.json", "special_tokens_map.json", "vocab.txt", "modules.json"):
        (model_dir / name).write_text("{}", encoding="utf-8")
    (model_dir / "tokenizer_config.json").write_text('{"model_max_length": 512}', encoding="utf-8")
    (model_dir / "model.safetensors").write_bytes(b"weights")
    onnx_file = tmp_path / "model.onnx"
    onnx_file.write_bytes(b"graph")
    st_dir, name = st_onnx_folder(model_dir, onnx_file, tmp_path / "st")
    assert (st_dir / name).resolve() == onnx_file.resolve()
    assert not (st_dir / "model.safetensors").exists()  # the ONNX backend must not fall back to torch weights
    fe = fastembed_folder(model_dir, onnx_file, tmp_path / "fe", max_length=256)
    assert (fe / "model.onnx").resolve() == onnx_file.resolve()
    assert '"model_max_length": 256' in (fe / "tokenizer_config.json").read_text(encoding="utf-8")
    assert '"model_max_length": 512' in (model_dir / "tokenizer_config.json").read_text(encoding="utf-8")


def test_tables_and_targets() -> None:
    systems = {
        "st-torch": {
            "task": "embed",
            "label": "torch",
            "throughput": {"32": {"texts_per_s": 50.0}},
            "single": {"p50_ms": 10.0},
        },
        "edge-int8": {
            "task": "embed",
            "label": "edge",
            "throughput": {"32": {"texts_per_s": 150.0}},
            "single": {"p50_ms": 2.0},
        },
    }
    table = report.embed_table(systems)
    assert "150 (3.00x)" in table and "2.0 (5.00x)" in table
    assert table.count("\n") == 3  # header, rule, two rows
    targets = report.evaluate_targets({"b32_vs_torch": {"int8": 3.0}, "rss_both_mb": {"int8": 320.0}})
    reached = {t["key"]: t["reached"] for t in targets}
    assert reached["b32_vs_torch"] is True
    assert reached["rss_both_mb"] is False
    assert reached["cold_start_s"] is None
    assert "not measured" in report.targets_table(targets)


def test_svg_chart_is_well_formed() -> None:
    svg = report.bar_chart_svg([("a <b>", 10.0), ("c", 0.0)], "title & more", "texts/s")
    xml.dom.minidom.parseString(svg)


def test_rounds_merge_to_medians_and_max_rss() -> None:
    from bench.merge import merge_gemm, merge_rounds

    def one(seconds: float, p50: float, rss: float) -> dict[str, object]:
        return {
            "load_s": 1.0,
            "peak_rss_mb": rss,
            "throughput": {"32": {"texts": 64, "seconds": [seconds], "texts_per_s": 64 / seconds}},
            "single": {"n": 10.0, "p50_ms": p50, "p99_ms": 2 * p50},
        }

    merged = merge_rounds([one(1.0, 1.0, 100.0), one(4.0, 3.0, 300.0), one(2.0, 2.0, 200.0)])
    assert merged["throughput"]["32"]["texts_per_s"] == pytest.approx(32.0)  # 64 texts / median 2 s
    assert merged["single"]["p50_ms"] == 2.0 and merged["single"]["n"] == 30.0
    assert merged["peak_rss_mb"] == 300.0 and merged["rounds"] == 3
    assert merge_rounds([one(1.0, 1.0, 1.0), {"error": "boom"}])["error"] == "boom"
    gemm = merge_gemm([{"threads": 2, "fp32_gflops": g, "int8_gops": 4 * g, "runs": []} for g in (100, 300, 200)])
    assert gemm["fp32_gflops"] == 200 and gemm["int8_gops"] == 800


@pytest.mark.parametrize(
    ("load", "warned"),
    [
        (None, False),  # no load average on this platform: nothing to say
        ([1.0, 1.0, 1.0], False),  # within half the CPUs plus the bench's own threads
        ([9.0, 7.0, 4.0], True),  # other processes competed for the cores
    ],
)
def test_a_busy_machine_is_named_in_the_report(load: list[float] | None, warned: bool) -> None:
    from bench.summary import contention_warning

    meta = {"threads": 2, "load_average": {"start": load, "end": load}}
    lines = contention_warning(meta, {"affinity": 2, "cpus": 2})
    assert bool(lines) is warned
    assert not lines or "busy" in lines[0]


def test_bench_reports_name_bundles_inside_the_repository_relatively(tmp_path: Path) -> None:
    from bench.bundles import rel
    from bench.measure import ROOT

    assert rel(ROOT / "artifacts" / "embed") == "artifacts/embed"
    assert rel(tmp_path) == str(tmp_path.resolve())


def test_rerank_targets_compare_each_settings_pair_of_its_own() -> None:
    """The server-settings ratio uses the spinning-on pair, the Lambda-settings ratio the spinning-off pair."""
    from bench.results import target_values

    def rerank(p50: float) -> dict[str, Any]:
        return {"rerank": {"p50_ms": p50}}

    systems = {
        "edge-rerank": rerank(200.0),
        "edge-rerank-fp32": rerank(440.0),
        "edge-rerank-lambda": rerank(150.0),
        "edge-rerank-fp32-lambda": rerank(450.0),
    }
    values = target_values(systems, {})
    assert values["rerank_vs_fp32"]["int8"] == pytest.approx(2.2)
    assert values["rerank_vs_fp32_lambda"]["int8"] == pytest.approx(3.0)
    assert target_values({"edge-rerank": rerank(200.0)}, {})["rerank_vs_fp32_lambda"]["int8"] is None


def test_the_lambda_settings_rerank_systems_turn_spinning_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench.systems.EdgeRerank hands the spec's spinning to the session: the Lambda rows really run spinning off."""
    import edge_encoders
    from bench.systems import EdgeRerank

    seen: list[Any] = []
    monkeypatch.setattr(edge_encoders.Reranker, "from_bundle", lambda bundle, **kw: seen.append(kw["session_config"]))
    EdgeRerank({"type": "edge-rerank", "bundle": "b", "spinning": False}, 2).load()
    EdgeRerank({"type": "edge-rerank", "bundle": "b"}, 2).load()
    assert [c.allow_spinning for c in seen] == [False, True]
    assert all(c.intra_op_threads == 2 and c.run_mode == "auto" for c in seen)


def test_embed_modes_bench_compares_both_modes_per_call_size(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from helpers.toy_bundles import make_toy_embed_bundle

    from bench import embedmodes

    folder = make_toy_embed_bundle(tmp_path / "e")[0]
    assert embedmodes.main(["--rounds", "2", "--batches", "3,9", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("batch")] == [
        "batch 3 (identical vectors in both modes)",
        "batch 9 (identical vectors in both modes)",
    ]
    assert sum(str(folder) in line and "sequential p50" in line and "concurrent p50" in line for line in lines) == 2
