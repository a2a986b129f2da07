"""The candidate models: fp32, O3-fused, dynamic int8 per ISA, and static (calibrated) int8.

Why dynamic int8 is quantized from the fp32 export and not from O3: ORTQuantizer cannot read the O3 graph
(it fails with `Unable to find data type for weight_name`); onnxruntime fuses the int8 graph at load anyway.
per_channel=True is the setting that keeps int8 within the gate (per-tensor: cosine min ~0.87).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_build.errors import BuildError

# Smooth only the LayerNorm outputs (inputs of Q/K/V and FFN-up: the outlier channels SmoothQuant is for).
# Smoothing the FFN-down and attention-output inputs too measured no better (MiniLM: cos min 0.9914 vs 0.9909)
# and costs a Mul over the 1536-wide FFN activation per layer.
SMOOTH_AFTER = frozenset({"LayerNormalization", "SkipLayerNormalization"})
SMOOTH_ALPHA = 0.5  # SmoothQuant's migration strength; 0.5 is the paper's default and measured best-or-equal here
# int8-hybrid: with one calibrated scale per LayerNorm output (no per-row range to absorb outliers), more of the
# activation's range moves into the weights. MiniLM against fp32 ONNX (96 texts): cos min 0.9957 at alpha 0.5,
# 0.9984 at 0.7 (int8-rowwise 0.9983). Gate run, tune/held-out cos min: 0.9932/0.9929 at 0.7, 0.9926/0.9926 at
# 0.85. The stand-in reranker's top-1 fails at both (v2 stand-in: tune 92%, two near-tied queries flip; v3, with
# a top-1 margin floor: tune 96%, held-out 84%), so it ships rowwise.
HYBRID_ALPHA = 0.7
MIXED_EXCLUDE = 6  # int8-dynamic-mixed leaves this many of the most sensitive MatMuls in fp32
STATIC_CALIBRATION_LIMIT = 128
ARM64_VARIANT = "int8-arm64"  # the variant an aarch64 machine loads (manifest arch_variants)


@dataclass
class VariantInputs:
    """What a variant builder may use: the fp32 export folder and calibration feeds."""

    export_dir: Path  # model.onnx + config.json + tokenizer.json from export_fp32
    kind: str  # the model family (edge_build.families)
    input_names: list[str]
    max_seq_length: int
    calibration_texts: list[str]

    @property
    def fp32_model(self) -> Path:
        return self.export_dir / "model.onnx"

    def calibration_feeds(self) -> Iterator[dict[str, np.ndarray]]:
        """One feed per calibration input (as the model family reads it), tokenized by the runtime."""
        from edge_build.families import get_family
        from edge_encoders.text_tokenizer import TextTokenizer

        tokenizer = TextTokenizer(self.export_dir / "tokenizer.json", self.max_seq_length)
        texts = self.calibration_texts[:STATIC_CALIBRATION_LIMIT]
        for encoding in get_family(self.kind).calibration_encodings(tokenizer, texts):
            yield tokenizer.pad([encoding]).feeds(self.input_names)


Builder = Callable[[VariantInputs, Path], None]


def _copy_fp32(inputs: VariantInputs, out: Path) -> None:
    shutil.copyfile(inputs.fp32_model, out)


def _optimize_o3(inputs: VariantInputs, out: Path) -> None:
    """optimum's O3 fusions with the exact GELU.

    Plain AutoOptimizationConfig.O3() also swaps GELU for its tanh approximation; measured on MiniLM that moved
    embeddings by up to 5.6e-4 (abs) and the stand-in reranker's per-query Spearman down to 0.997, for no CPU
    speed gain (onnxruntime fuses GELU at load anyway). The exact-GELU O3 keeps fp32 parity (<= 1e-5).
    """
    from optimum.onnxruntime import ORTOptimizer
    from optimum.onnxruntime.configuration import AutoOptimizationConfig

    config = AutoOptimizationConfig.O3()
    config.enable_gelu_approximation = False
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        optimizer = ORTOptimizer.from_pretrained(str(inputs.export_dir), file_names=["model.onnx"])
        optimizer.optimize(config, save_dir=tmp)
        shutil.move(str(Path(tmp) / "model_optimized.onnx"), out)


def dynamic_int8(isa: str, *, per_channel: bool = True) -> Builder:
    """A builder for optimum's dynamic int8 config for one ISA (avx2, avx512_vnni, arm64)."""

    def build(inputs: VariantInputs, out: Path) -> None:
        from optimum.onnxruntime import ORTQuantizer
        from optimum.onnxruntime.configuration import AutoQuantizationConfig

        config = getattr(AutoQuantizationConfig, isa)(is_static=False, per_channel=per_channel)
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            quantizer = ORTQuantizer.from_pretrained(str(inputs.export_dir), file_name="model.onnx")
            quantizer.quantize(save_dir=tmp, quantization_config=config)
            shutil.move(str(Path(tmp) / "model_quantized.onnx"), out)

    return build


# ops whose output feeds an FFN down-projection: post-activation values with outliers
_ACTIVATION_OPS = {"Mul", "Gelu", "FastGelu", "BiasGelu", "Relu", "Erf", "Tanh", "Sigmoid"}


def static_matmuls(model_path: Path) -> list[str]:
    """Weight MatMuls to quantize statically: all but those fed by an activation (the FFN down-projection).

    Why: one fixed per-tensor range cannot cover the post-GELU outliers of BERT-like FFNs; measured on
    MiniLM, quantizing them drops cosine mean from ~0.99 to ~0.93. Attention-score MatMuls (no weight) are
    left in float too.
    """
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    weights = {i.name for i in graph.initializer}
    producer = {out: node.op_type for node in graph.node for out in node.output}
    chosen = []
    for node in graph.node:
        if node.op_type != "MatMul" or not any(i in weights for i in node.input):
            continue
        activation = next((i for i in node.input if i not in weights), None)
        if activation is not None and producer.get(activation) in _ACTIVATION_OPS:
            continue
        chosen.append(node.name)
    return chosen


def _static_int8(inputs: VariantInputs, out: Path) -> None:
    """QDQ, per-channel int8 weights, uint8 activations with ranges fixed by calibration (MinMax).

    Fixed activation ranges are what make the output independent of the other rows of the batch.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not inputs.calibration_texts:
        raise BuildError("int8-static needs calibration text (data/calibration.txt is empty or missing)")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = inputs.calibration_feeds()

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(inputs.fp32_model), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(out),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=static_matmuls(prepared),
            calibrate_method=CalibrationMethod.MinMax,
        )


def rowwise_int8(alpha: float | None, *, static_layernorm: bool = False) -> Builder:
    """Per-row (per-token) activation scales, optionally after SmoothQuant: batch-invariant (see rowquant).

    static_layernorm (int8-hybrid): LayerNorm outputs (inputs of Q/K/V and FFN-up) get one calibrated scale
    instead of one per row: two nodes instead of seven per activation and the bias inside the GEMM (MiniLM, one
    thread: 10-15% less CPU time, same cosine); the attention-context and GELU outputs keep their per-row scale.
    On the stand-in reranker it flips too many top-1s (v3 stand-in: held-out 84% < 95%), so int8-rowwise stays
    for that.
    """

    def build(inputs: VariantInputs, out: Path) -> None:
        from edge_build.rowquant import RowQuantPlan, build_rowwise

        if alpha is not None and not inputs.calibration_texts:
            raise BuildError("int8-rowwise needs calibration text (data/calibration.txt is empty or missing)")
        static = SMOOTH_AFTER if static_layernorm else None
        plan = RowQuantPlan(alpha=alpha, smooth_only_after=SMOOTH_AFTER, static_after=static)
        build_rowwise(inputs.fp32_model, out, inputs.calibration_feeds(), plan)

    return build


def fused(base: Builder) -> Builder:
    """base, then hybridfuse's rewrites (GELU row range without Abs, blocked QuantizeLinear, q/k scale in the Q GEMM).

    Same quantization grid as base (the row ranges only differ for a GELU row whose largest value is under
    0.17), fewer passes over the activations and fewer nodes per call. Used on int8-hybrid and int8-rowwise.
    """

    def build(inputs: VariantInputs, out: Path) -> None:
        import onnx

        from edge_build.hybridfuse import fuse

        base(inputs, out)
        model = onnx.load(str(out))
        fuse(model)
        onnx.save(model, str(out))

    return build


def cls_tail(base_name: str) -> Builder:
    """base_name's graph, then clsonly: the last encoder layer for token 0 only, when the head reads just that.

    Its K and V still run for every token; Q, the attention output, both LayerNorms and the FFN for position 0
    only: the same outputs as base_name up to float rounding (measured on the stand-in reranker: scores within
    5e-4). Reuses base_name's file when the variants stage built it already. On a model whose head reads more
    than token 0 (the embedder's mean pooling) cls_only refuses and the file is base_name's byte for byte, so
    the build validates it once (pipeline: same_bytes_as).
    """

    def build(inputs: VariantInputs, out: Path) -> None:
        import onnx

        from edge_build.clsonly import cls_only

        built = out.parent / f"{base_name}.onnx"
        if built.is_file():
            shutil.copyfile(built, out)
        else:
            BUILDERS[base_name](inputs, out)
        model = onnx.load(str(out))
        if not cls_only(model).refused:
            onnx.save(model, str(out))

    return build


def folded(base: Builder) -> Builder:
    """base, then shapefold: the attention's Reshapes get constant targets (exact: the same outputs bit for bit).

    torch computes each head split/merge shape at run time (about 60 tiny nodes per call that onnxruntime keeps,
    the batch and length being dynamic); used on int8-hybrid-fused, which ships for the embedder.
    """

    def build(inputs: VariantInputs, out: Path) -> None:
        import onnx

        from edge_build.shapefold import fold_reshape_shapes

        base(inputs, out)
        model = onnx.load(str(out))
        fold_reshape_shapes(model)
        onnx.save(model, str(out))

    return build


def attention_int8(base: Builder) -> Builder:
    """base, then attnquant: q @ k^T and softmax @ v as u8 x s8 GEMMs with constant (calibrated) scales."""

    def build(inputs: VariantInputs, out: Path) -> None:
        import onnx

        from edge_build.attnquant import quantize_attention

        if not inputs.calibration_texts:
            raise BuildError("int8 attention needs calibration text (data/calibration.txt is empty or missing)")
        base(inputs, out)
        model = onnx.load(str(out))
        quantize_attention(model, inputs.calibration_feeds())
        onnx.save(model, str(out))

    return build


def _nbits8(inputs: VariantInputs, out: Path) -> None:
    from edge_build.nbits import build_nbits8

    build_nbits8(inputs.fp32_model, out, block_size=32, accuracy_level=4)


def ort_dynamic(*, weight_type: str = "QInt8", exclude_sensitive: int = 0) -> Builder:
    """onnxruntime's own quantize_dynamic, per-channel; optionally the most sensitive MatMuls left in fp32.

    Sensitivity of a MatMul = relative output error of per-tensor-int8 activations x per-channel-int8 weights
    on the calibration activations (rowquant.matmul_sensitivity), so the exclusion costs no extra model runs.
    """

    def build(inputs: VariantInputs, out: Path) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        exclude: list[str] = []
        if exclude_sensitive:
            from edge_build.rowquant import matmul_sensitivity

            ranked = matmul_sensitivity(inputs.fp32_model, inputs.calibration_feeds())
            exclude = [name for name, _ in ranked[:exclude_sensitive]]
        quantize_dynamic(
            str(inputs.fp32_model),
            str(out),
            weight_type=getattr(QuantType, weight_type),
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=exclude,
        )

    return build


@dataclass(frozen=True)
class Variant:
    """One candidate model file: how it is built and which gate family (precision) judges it."""

    name: str
    build: Builder
    precision: str  # "exact" (fp32 weights: the tight gate) or "int8" (quantized: the quality-level gate)


# THE list of variants, in the order they are tried and reported: config, the CLI, the gate and the report all
# read it. Adding a variant is one line here.
VARIANTS: tuple[Variant, ...] = (
    Variant("fp32", _copy_fp32, "exact"),
    Variant("O3", _optimize_o3, "exact"),
    Variant("int8-rowwise", rowwise_int8(SMOOTH_ALPHA), "int8"),
    Variant("int8-hybrid", rowwise_int8(HYBRID_ALPHA, static_layernorm=True), "int8"),
    Variant("int8-hybrid-fused", folded(fused(rowwise_int8(HYBRID_ALPHA, static_layernorm=True))), "int8"),
    # int8-hybrid-fused with both attention products in int8 (constant scales): about 2% less CPU, but the
    # probabilities' fixed 1/255 grid costs fidelity (MiniLM tune cos min 0.982 < 0.985). Kept to show it.
    Variant(
        "int8-hybrid-attn8",
        attention_int8(folded(fused(rowwise_int8(HYBRID_ALPHA, static_layernorm=True)))),
        "int8",
    ),
    # int8-rowwise's grid (its fidelity up to float rounding) with the same cheaper chains: it has more per-row
    # chains than int8-hybrid (the LayerNorm outputs too), so the blocked QuantizeLinear replaces more of them.
    Variant("int8-rowwise-fused", fused(rowwise_int8(SMOOTH_ALPHA)), "int8"),
    # int8-rowwise-fused with the last layer for token 0 only (an exact rewrite): for models whose head reads the
    # first token (cross-encoders); byte-identical to int8-rowwise-fused on the others.
    Variant("int8-rowwise-cls", cls_tail("int8-rowwise-fused"), "int8"),
    Variant("int8-rowwise-plain", rowwise_int8(None), "int8"),
    Variant("int8-nbits8", _nbits8, "int8"),
    Variant("int8-dynamic", ort_dynamic(), "int8"),
    Variant("int8-dynamic-mixed", ort_dynamic(exclude_sensitive=MIXED_EXCLUDE), "int8"),
    Variant("int8-avx2", dynamic_int8("avx2"), "int8"),
    Variant("int8-avx512_vnni", dynamic_int8("avx512_vnni"), "int8"),
    # The aarch64 file: the batch-invariant graph. Its int8 GEMM is exact integer arithmetic on any ISA, so the
    # x86 fidelity figures carry over up to float rounding; its speed on Graviton is not measured here.
    Variant(ARM64_VARIANT, rowwise_int8(SMOOTH_ALPHA), "int8"),
    Variant("int8-static", _static_int8, "int8"),
)
VARIANT_NAMES: tuple[str, ...] = tuple(v.name for v in VARIANTS)
BUILDERS: dict[str, Builder] = {v.name: v.build for v in VARIANTS}
_BY_NAME: dict[str, Variant] = {v.name: v for v in VARIANTS}


def precision(variant: str) -> str:
    """The gate family of a variant: 'exact' for fp32-weight variants (tight gate), 'int8' for quantized ones."""
    if variant not in _BY_NAME:
        raise BuildError(f"unknown variant {variant!r}; known: {', '.join(VARIANT_NAMES)}")
    return _BY_NAME[variant].precision


def build_variant(
    name: str, inputs: VariantInputs, out_dir: Path, builders: Mapping[str, Builder] | None = None
) -> Path:
    """Write out_dir/<name>.onnx (reused when already there) and return its path."""
    table = BUILDERS if builders is None else builders
    if name not in table:
        raise BuildError(f"unknown variant {name!r}; known: {', '.join(table)}")
    out = out_dir / f"{name}.onnx"
    if out.is_file():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f"{name}.onnx.partial"
    try:
        table[name](inputs, partial)
    except BuildError:
        raise
    except Exception as exc:
        partial.unlink(missing_ok=True)
        raise BuildError(f"building variant {name} failed: {type(exc).__name__}: {exc}") from None
    partial.replace(out)
    return out
