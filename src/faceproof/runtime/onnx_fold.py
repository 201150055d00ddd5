"""Load-time preparation of the installed ONNX files for runtimes that cannot read their
block-quantised weights as they are.

The OpenCV Zoo files (YuNet, SFace) store their weights as int8 blocks with a
``DequantizeLinear`` per tensor, in a form ONNX Runtime refuses (a per-tensor bias with a
``block_size``) and OpenVINO would recompute on every call. :func:`fold_constant_weights`
computes each such dequantisation once, ``(q - zero_point) * scale`` in float32 with each
block's scale (what OpenCV computes when it loads the file: YuNet's outputs are
bit-identical with and without the folding), together with a ``Reshape`` of a constant
that follows it, and drops graph inputs nothing reads any more. Nothing is written to disk.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["dequantize", "fold_constant_weights"]


def fold_constant_weights(data: bytes) -> Any:
    """The ``onnx.ModelProto`` of ``data`` (an installed, SHA-checked ONNX file) with its
    constant weight dequantisation folded into float32 initializers."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(data)
    graph = model.graph
    consts: dict[str, np.ndarray] = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    kept = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(name in consts for name in node.input):
            consts[node.output[0]] = dequantize(node, consts)
        elif node.op_type == "Reshape" and all(name in consts for name in node.input):
            consts[node.output[0]] = consts[node.input[0]].reshape(consts[node.input[1]])
        else:
            kept.append(node)
    used = {name for node in kept for name in node.input}
    initializers = [numpy_helper.from_array(value, name) for name, value in consts.items() if name in used]
    inputs = [vi for vi in graph.input if vi.name not in consts and vi.name in used]
    folded = helper.make_graph(kept, graph.name, inputs, list(graph.output), initializers)
    out = helper.make_model(folded, opset_imports=list(model.opset_import))
    out.ir_version = model.ir_version
    return out


def dequantize(node: Any, consts: dict[str, np.ndarray]) -> np.ndarray:
    """One constant ``DequantizeLinear`` (per tensor, per axis or per block) in float32."""
    from onnx import helper

    q = consts[node.input[0]]
    scale = consts[node.input[1]].astype(np.float32)
    zero = consts[node.input[2]] if len(node.input) > 2 else np.zeros(scale.shape, q.dtype)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    block = int(attrs.get("block_size", 0))
    if block and scale.ndim == q.ndim and scale.size > 1:
        axis = int(attrs.get("axis", 1)) % q.ndim
        take = [slice(None)] * q.ndim
        take[axis] = slice(0, q.shape[axis])
        scale = np.repeat(scale, block, axis=axis)[tuple(take)]
        zero = np.repeat(zero, block, axis=axis)[tuple(take)]
    elif scale.ndim == 1 and scale.size > 1 and q.ndim > 1:  # per-axis
        axis = int(attrs.get("axis", 1)) % q.ndim
        shape = [1] * q.ndim
        shape[axis] = scale.size
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    diff = (q.astype(np.int32) - zero.astype(np.int32)).astype(np.float32)
    return (diff * scale).astype(np.float32)
