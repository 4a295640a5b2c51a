"""Writes YuNet transposed: the same network for images turned on their diagonal (x and y
swapped), so that a portrait frame can be detected as a landscape one.

OpenCV 4.6's convolutions cost per row: YuNet on a 96x160 (portrait) copy takes ~1.6x what it
takes on a 160x96 one (docs/benchmarks.md). Swapping x and y in every convolution's kernel,
strides and padding gives a network whose feature maps are the transposes of the original's,
so on the transposed image it computes exactly what the original computes on the image. The
heads' box outputs are reordered to match: x and y offsets swapped, and the width and height
deltas swapped with the factor OpenCV's decoder applies to each (it scales the width delta by
0.1 and the height delta by 0.2), so FaceDetectorYN decodes boxes in the transposed image. Each
head is a 1x1 convolution and then a depthwise 3x3 one, channel for channel: both are reordered,
the depthwise one also scaled.

    python3 tools/transpose_yunet.py assets/face_detection_yunet_2022mar.onnx \\
        assets/face_detection_yunet_2022mar_transposed.onnx

Needs the `onnx` and `numpy` packages.
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

LOC, PER_ANCHOR = 14, 17  # per anchor: 14 box and landmark values, 2 class scores, 1 IoU


def swap_xy(values):
    return [values[1], values[0]] if len(values) == 2 else values


def head_order(channels, dtype):
    """The output channel order and scale that turn a head's box values to the transposed image."""
    assert channels % PER_ANCHOR == 0, channels
    order = np.arange(channels)
    scale = np.ones(channels, dtype=dtype)
    for a in range(channels // PER_ANCHOR):
        base = a * PER_ANCHOR
        for x in range(0, LOC, 2):  # (x, y) pairs: centre, size, five landmarks
            order[base + x], order[base + x + 1] = base + x + 1, base + x
        scale[base + 2], scale[base + 3] = 0.2 / 0.1, 0.1 / 0.2
    return order, scale


def main(src, dst):
    model = onnx.load(src)
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    # The heads: a depthwise convolution straight into a Transpose, fed by a 1x1 convolution.
    heads = [producers[n.input[0]] for n in graph.node if n.op_type == "Transpose"]
    reorder = {}  # node output -> (order, scale or None)
    for depthwise in heads:
        pointwise = producers[depthwise.input[0]]
        assert depthwise.op_type == "Conv" and pointwise.op_type == "Conv", (depthwise.name, pointwise.name)
        channels = numpy_helper.to_array(weights[depthwise.input[1]]).shape[0]
        order, scale = head_order(channels, np.float32)
        reorder[depthwise.output[0]] = (order, scale)
        reorder[pointwise.output[0]] = (order, None)
    for node in graph.node:
        if node.op_type not in ("Conv", "MaxPool"):
            continue
        for attr in node.attribute:
            if attr.name in ("kernel_shape", "strides", "dilations"):
                attr.ints[:] = swap_xy(list(attr.ints))
            elif attr.name == "pads":
                hb, wb, he, we = attr.ints
                attr.ints[:] = [wb, hb, we, he]
        if node.op_type != "Conv":
            continue
        w = weights[node.input[1]]
        kernel = numpy_helper.to_array(w).transpose(0, 1, 3, 2).copy()
        bias = numpy_helper.to_array(weights[node.input[2]]).copy() if len(node.input) > 2 else None
        if node.output[0] in reorder:
            order, scale = reorder[node.output[0]]
            kernel = kernel[order]
            bias = bias[order] if bias is not None else None
            if scale is not None:
                kernel = kernel * scale[:, None, None, None]
                bias = bias * scale if bias is not None else None
        w.CopyFrom(numpy_helper.from_array(kernel.astype(np.float32), w.name))
        if bias is not None:
            b = weights[node.input[2]]
            b.CopyFrom(numpy_helper.from_array(bias.astype(np.float32), b.name))
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value, dims[3].dim_value = dims[3].dim_value, dims[2].dim_value
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    print(f"{dst}: {len(heads)} heads reordered")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
