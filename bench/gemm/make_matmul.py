#!/usr/bin/python3
"""bench/gemm/make_matmul.py — a one-MatMul ONNX model for the GEMM bench.

    /usr/bin/python3 bench/gemm/make_matmul.py OUT_DIR M K N weight|attn

Writes OUT_DIR/model.onnx (opset 13), OUT_DIR/inputs/*.npy and
OUT_DIR/manifest.txt (zoo format: opset / input / output lines):

    weight   Y[M,N] = MatMul(A, B): A an input [M,K], B a constant
             initializer [K,N] (a Linear layer's weight)
    attn     Y[M,N] = MatMul(A, B): A [M,K] and B [K,N] both inputs
             (attention's Q.K^T and P.V, whose operands are computed)

Values are uniform in [-1, 1) from a seed fixed by the shape.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(argv):
	if len(argv) != 5 or argv[4] not in ("weight", "attn"):
		sys.exit("usage: make_matmul.py OUT_DIR M K N weight|attn")
	out = argv[0]
	M, K, N = (int(x) for x in argv[1:4])
	kind = argv[4]
	rng = np.random.default_rng(M * 1000003 + K * 1009 + N)
	a = rng.uniform(-1, 1, (M, K)).astype(np.float32)
	b = rng.uniform(-1, 1, (K, N)).astype(np.float32)
	inputs = [helper.make_tensor_value_info("A", TensorProto.FLOAT, [M, K])]
	inits = []
	if kind == "weight":
		inits.append(numpy_helper.from_array(b, "B"))
	else:
		inputs.append(helper.make_tensor_value_info("B", TensorProto.FLOAT, [K, N]))
	node = helper.make_node("MatMul", ["A", "B"], ["Y"], name="gemm")
	graph = helper.make_graph([node], "gemm_%dx%dx%d_%s" % (M, K, N, kind), inputs,
	                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [M, N])], inits)
	model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
	                          producer_name="onnxcc-bench")
	onnx.checker.check_model(model)
	os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
	onnx.save(model, os.path.join(out, "model.onnx"))
	np.save(os.path.join(out, "inputs", "A.npy"), a)
	if kind == "attn":
		np.save(os.path.join(out, "inputs", "B.npy"), b)
	with open(os.path.join(out, "manifest.txt"), "w") as f:
		f.write("opset 13\ninput A\n%soutput Y\n" % ("input B\n" if kind == "attn" else ""))


if __name__ == "__main__":
	main(sys.argv[1:])
