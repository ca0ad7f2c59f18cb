#!/usr/bin/python3
"""bench/floor/make.py: writes the 'floor' benchmark model (model.onnx,
inputs/x.npy, manifest.txt): one Identity node on a float32[1] tensor.

Its time is the fixed cost of one inference call of each runtime (for ONNX
Runtime that includes the Node.js binding: tensor wrapping, the promise),
which dominates the smaller zoo models.  Run with /usr/bin/python3 (onnx and
numpy); the outputs are committed, so run.sh does not need Python.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))
node = helper.make_node("Identity", ["x"], ["y"], name="identity")
graph = helper.make_graph(
	[node], "floor",
	[helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
	[helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
	producer_name="onnxcc-bench")
model.ir_version = 7  # ONNX 1.8+: every ONNX Runtime release reads it
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "model.onnx"))
os.makedirs(os.path.join(here, "inputs"), exist_ok=True)
np.save(os.path.join(here, "inputs", "x.npy"), np.array([1.5], dtype=np.float32))
with open(os.path.join(here, "manifest.txt"), "w") as f:
	f.write("opset 13\ninput x\noutput y\n")
