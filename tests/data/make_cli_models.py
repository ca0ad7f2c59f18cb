"""Generates the small hand-written ONNX files the CLI tests use.
Run with Debian's python3-onnx: /usr/bin/python3 tests/data/make_cli_models.py"""
import os
import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))

# dynamic_batch.onnx: y = relu(x @ W + b), x: [batch, 4] with a symbolic batch
W = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3) / 10.0, "W")
b = numpy_helper.from_array(np.array([0.5, -1.0, 0.25], dtype=np.float32), "b")
g = helper.make_graph(
    [helper.make_node("MatMul", ["x", "W"], ["xw"], name="mm"),
     helper.make_node("Add", ["xw", "b"], ["pre"], name="add"),
     helper.make_node("Relu", ["pre"], ["y"], name="relu")],
    "dynamic_batch",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
    [W, b])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
onnx.checker.check_model(m)
onnx.save(m, os.path.join(here, "dynamic_batch.onnx"))

# unsupported_op.onnx: a node onnxcc does not know
g = helper.make_graph(
    [helper.make_node("Relu", ["x"], ["r"], name="relu"),
     helper.make_node("FancyOp", ["r"], ["y"], name="fancy", domain="com.example")],
    "unsupported_op",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
onnx.save(m, os.path.join(here, "unsupported_op.onnx"))

# shared_block.onnx: one block y = tanh(x @ W + b) applied three times
# with the same initializers (a recursion, as SReT or an ODE scheme exports
# it): --stats reports its node functions emitted once, called three times
W = numpy_helper.from_array(((np.arange(16, dtype=np.float32).reshape(4, 4) % 5) - 2) / 4.0, "W")
b = numpy_helper.from_array(np.array([0.5, -1.0, 0.25, 0.0], dtype=np.float32), "b")
nodes = []
h = "x"
for i in range(3):
    nodes += [helper.make_node("MatMul", [h, "W"], [f"xw{i}"], name=f"mm{i}"),
              helper.make_node("Add", [f"xw{i}", "b"], [f"pre{i}"], name=f"add{i}"),
              helper.make_node("Tanh", [f"pre{i}"], [f"h{i}" if i < 2 else "y"], name=f"tanh{i}")]
    h = f"h{i}"
g = helper.make_graph(
    nodes, "shared_block",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
    [W, b])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
onnx.checker.check_model(m)
onnx.save(m, os.path.join(here, "shared_block.onnx"))
