"""Tiny hand-built ONNX graphs that stand in for real models where a test pins down plumbing or
decoding (the real models are tested on real media elsewhere)."""
import numpy as np
import onnx
from onnx import TensorProto, helper


def _save(nodes, name, inputs, outputs, initializers, path):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def tiny_embedder(path, size=(64, 64), dim=16, input_name="input", output_name="embedding", seed=0):
    """N x 3 x H x W -> N x dim: channel means times a fixed random matrix (so different
    colours give different vectors)."""
    weights = np.random.default_rng(seed).normal(size=(3, dim)).astype(np.float32)
    nodes = [
        helper.make_node("GlobalAveragePool", [input_name], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], [output_name]),
    ]
    return _save(
        nodes, "tiny_embedder",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", 3, *size])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", dim])],
        [helper.make_tensor("w", TensorProto.FLOAT, weights.shape, weights.ravel())], path)


def constant_output_graph(path, output, input_name="images", output_name="output0", in_shape=(1, 3, 64, 64)):
    """An ONNX file whose output is the fixed array `output` (plus 0 x mean(input), so the output
    depends on the input like a network's)."""
    output = np.asarray(output, np.float32)
    nodes = [
        helper.make_node("ReduceMean", [input_name], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["m0"]),
        helper.make_node("Add", ["pred", "m0"], [output_name]),
    ]
    return _save(
        nodes, "constant",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, list(output.shape))],
        [helper.make_tensor("pred", TensorProto.FLOAT, output.shape, output.ravel()),
         helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])], path)
