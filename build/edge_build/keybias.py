"""Drop the attention K projection's bias: softmax over the keys does not see it (exact rewrite).

Why: score(i, j) = q_i . (k_j + b) + m_j = q_i . k_j + m_j + q_i . b, and q_i . b is the same for every key j
of query row i, so Softmax over j (the last axis) is unchanged, the additive attention mask m_j (0 / -10000 /
the float minimum) included: adding a finite constant to a whole row cancels in softmax's normalization. The
bias Add is a pass over the (batch, seq, hidden) K activation per layer that does nothing; int8-hybrid carries
the bias inside the K GEMM instead, where it costs less but still something.

Matched, per `Softmax(Add(MatMul(q, kT), mask))` over the last axis: kT made from the K projection by
Reshape/Transpose only (each with that one reader), the K projection being `Add(x, bias)` (bias a 1-D
constant) or a MatMulIntegerToFloat with its bias input. Anything else is left alone.
"""

from __future__ import annotations

from edge_build.hybridfuse import _Graph, _rebuild


def _softmax_last_axis(node: object, rank: int = 4) -> bool:
    from onnx import helper

    axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), -1)  # type: ignore[attr-defined]
    return axis in (-1, rank - 1)


def drop_key_bias(model: object) -> int:
    """Remove the K bias of every matched attention, in place; returns how many were removed."""
    g = _Graph(model)
    remove: list[object] = []
    count = 0
    for softmax in [n for n in g.graph.node if n.op_type == "Softmax"]:
        if not _softmax_last_axis(softmax):
            continue
        add = g.producer.get(softmax.input[0])
        if add is None or add.op_type != "Add" or g.only_consumer(add.output[0]) is None:
            continue
        scores = next((g.producer[i] for i in add.input if g.op(i) == "MatMul"), None)
        if scores is None or g.only_consumer(scores.output[0]) is None:
            continue
        name = scores.input[1]
        while g.op(name) in ("Reshape", "Transpose") and g.only_consumer(name) is not None:
            name = g.producer[name].input[0]
        if g.only_consumer(name) is None:
            continue
        node = g.producer.get(name)
        if node is None:
            continue
        if node.op_type == "Add" and len(node.input) == 2:
            slot = next((i for i, t in enumerate(node.input) if t in g.inits and len(g.inits[t].dims) == 1), None)
            if slot is None:
                continue
            for reader in g.consumers.get(name, []):
                for k, t in enumerate(reader.input):  # type: ignore[attr-defined]
                    if t == name:
                        reader.input[k] = node.input[1 - slot]  # type: ignore[attr-defined]
            remove.append(node)
            count += 1
        elif node.op_type == "MatMulIntegerToFloat" and len(node.input) >= 7 and node.input[6]:
            del node.input[6]
            count += 1
    if count:
        _rebuild(model, remove, {})
    return count
