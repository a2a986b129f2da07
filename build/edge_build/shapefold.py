"""Constant target shapes for the attention's Reshapes, so the run-time shape arithmetic goes away.

Why: torch's export computes every head split and merge shape at run time (Shape -> Gather -> Unsqueeze ->
Concat, for each of the four Reshapes of each layer), and onnxruntime does not fold them because batch and
sequence length are dynamic. Those ~60 tiny nodes run on every call; at the embedder's micro-batches of about
512 tokens that is time the GEMMs do not get back. Reshape can say the same with constants: 0 copies the input's
dimension, -1 takes what is left. Which entry is which is read from two probe runs with different batch sizes
and sequence lengths: an entry equal to the input's own dimension in both becomes 0, one that stays the same
becomes that constant, and at most one that follows neither becomes -1. Exact: the same shapes, the same data.
"""

from __future__ import annotations

import numpy as np

from edge_build.hybridfuse import _Graph, prune

PROBES = ((2, 3), (3, 5))  # (batch, sequence length) of the two probe runs: every dynamic dimension differs


def _probe(model: object, names: list[str]) -> list[dict[str, np.ndarray]]:
    """The named tensors at each PROBES size: the first dynamic dimension of every input is the batch, the others
    the sequence length; int inputs all ones, float inputs all zeros. [] when an input has another type."""
    from edge_build.graph_probe import session_with_outputs

    session = session_with_outputs(model, names)
    fills = {"tensor(int64)": (np.int64, 1), "tensor(int32)": (np.int32, 1), "tensor(float)": (np.float32, 0)}
    runs = []
    for batch, length in PROBES:
        feeds = {}
        for i in session.get_inputs():
            if i.type not in fills:
                return []
            dynamic = [k for k, d in enumerate(i.shape) if not isinstance(d, int)]
            dims = [d if isinstance(d, int) else (batch if k == dynamic[0] else length) for k, d in enumerate(i.shape)]
            dtype, value = fills[i.type]
            feeds[i.name] = np.full(dims, value, dtype)
        runs.append(dict(zip(names, session.run(names, feeds), strict=True)))
    return runs


def constant_shape(input_shapes: list[tuple[int, ...]], output_shapes: list[tuple[int, ...]]) -> np.ndarray | None:
    """One Reshape target that turns every probe's input shape into its output shape, or None when none does.

    0 where the output keeps the input's dimension at that position in every probe, the value where it never
    changes, -1 for at most one entry that does neither (Reshape infers it from the element count).
    """
    if len({len(s) for s in output_shapes}) != 1:
        return None
    out = []
    for pos in range(len(output_shapes[0])):
        values = [s[pos] for s in output_shapes]
        if all(pos < len(i) and i[pos] == v for i, v in zip(input_shapes, values, strict=True)):
            out.append(0)
        elif len(set(values)) == 1 and values[0] > 0:
            out.append(values[0])
        else:
            out.append(-1)
    if out.count(-1) > 1:
        return None
    for shape, expected in zip(input_shapes, output_shapes, strict=True):  # it must reproduce every probe exactly
        resolved = [shape[i] if v == 0 else v for i, v in enumerate(out)]
        if -1 in resolved:
            known = int(np.prod([v for v in resolved if v != -1]))
            resolved[resolved.index(-1)] = int(np.prod(shape)) // max(1, known)
        if tuple(resolved) != tuple(expected):
            return None
    return np.array(out, np.int64)


def fold_reshape_shapes(model: object) -> int:
    """Give every Reshape with a run-time-computed target a constant one (see the module docstring), in place."""
    from onnx import helper, numpy_helper

    g = _Graph(model)
    reshapes = [
        n
        for n in g.graph.node
        if n.op_type == "Reshape"
        and n.input[1] not in g.inits
        and g.op(n.input[1]) not in (None, "Constant")
        and not any(a.name == "allowzero" and helper.get_attribute_value(a) for a in n.attribute)
    ]
    if not reshapes:
        return 0
    names = sorted({t for n in reshapes for t in (n.input[0], n.output[0])})
    runs = _probe(model, names)
    if not runs:
        return 0
    count = 0
    for node in reshapes:
        target = constant_shape([r[node.input[0]].shape for r in runs], [r[node.output[0]].shape for r in runs])
        if target is None:
            continue
        name = f"{node.name}_constant_shape"
        g.graph.initializer.append(numpy_helper.from_array(target, name))
        node.input[1] = name
        count += 1
    if count:
        prune(model)
    return count
