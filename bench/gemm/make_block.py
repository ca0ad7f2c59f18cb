#!/usr/bin/python3
"""bench/gemm/make_block.py — one transformer-block product as an ONNX model,
to time a GEMM node class alone (docs/kernels.md, "Short-K products of
sret_t").

    /usr/bin/python3 bench/gemm/make_block.py OUT_DIR M K N KIND

KIND (X an input [M, K], W [K, N] and b [N] constants):
    plain    Y = X.W + b
    gelu     Y = GELU(X.W + b)                    (erf form, as torch exports it)
    ln       Y = LayerNorm(X + X).W + b           (the LayerNorm becomes the
                                                   GEMM's row prologue)
    ln_gelu  Y = GELU(LayerNorm(X + X).W + b)     (a pre-norm MLP's fc1)
    res      Y = X.W + b + X                      (N == K: a residual epilogue)

Writes OUT_DIR/model.onnx (opset 17) and OUT_DIR/inputs/X.npy (seed 1).
Time it with `onnxcc-run M.so --input X=OUT_DIR/inputs/X.npy --repeat
1000 --threads 1`; 2 M K N / min_ms is the node's GFLOP/s.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper, numpy_helper


def main(argv):
	kinds = ("plain", "gelu", "ln", "ln_gelu", "res")
	if len(argv) != 5 or argv[4] not in kinds:
		sys.exit("usage: make_block.py OUT_DIR M K N " + "|".join(kinds))
	out, kind = argv[0], argv[4]
	M, K, N = (int(x) for x in argv[1:4])
	if kind == "res" and N != K:
		sys.exit("make_block.py: res needs N == K")
	rng = np.random.default_rng(1)
	x = rng.standard_normal((M, K)).astype(np.float32)
	f32 = lambda a: np.asarray(a, np.float32)
	inits = [
		numpy_helper.from_array(f32(rng.standard_normal((K, N)) * 0.2), "W"),
		numpy_helper.from_array(f32(rng.standard_normal(N) * 0.1), "b"),
		numpy_helper.from_array(f32(1 + 0.1 * rng.standard_normal(K)), "g"),
		numpy_helper.from_array(f32(0.1 * rng.standard_normal(K)), "be"),
	]
	nodes, cur = [], "X"
	if kind.startswith("ln"):
		# X + X first: a LayerNorm of a graph input would be read by nothing else
		nodes.append(helper.make_node("Add", ["X", "X"], ["X2"]))
		nodes.append(helper.make_node("LayerNormalization", ["X2", "g", "be"], ["L"], axis=-1, epsilon=1e-5))
		cur = "L"
	nodes.append(helper.make_node("MatMul", [cur, "W"], ["Y0"]))
	last = "Y" if kind in ("plain", "ln") else "Y1"
	nodes.append(helper.make_node("Add", ["Y0", "b"], [last]))
	if kind.endswith("gelu"):
		inits += [numpy_helper.from_array(f32(np.sqrt(2.0)), "s2"),
		          numpy_helper.from_array(f32(1.0), "one"),
		          numpy_helper.from_array(f32(0.5), "half")]
		nodes += [helper.make_node("Div", ["Y1", "s2"], ["g1"]),
		          helper.make_node("Erf", ["g1"], ["g2"]),
		          helper.make_node("Add", ["g2", "one"], ["g3"]),
		          helper.make_node("Mul", ["Y1", "g3"], ["g4"]),
		          helper.make_node("Mul", ["g4", "half"], ["Y"])]
	elif kind == "res":
		nodes.append(helper.make_node("Add", ["Y1", "X"], ["Y"]))
	graph = helper.make_graph(nodes, "block_%dx%dx%d_%s" % (M, K, N, kind),
	                          [helper.make_tensor_value_info("X", T.FLOAT, [M, K])],
	                          [helper.make_tensor_value_info("Y", T.FLOAT, [M, N])], inits)
	model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onnxcc-bench")
	onnx.checker.check_model(model)
	os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
	onnx.save(model, os.path.join(out, "model.onnx"))
	np.save(os.path.join(out, "inputs", "X.npy"), x)


if __name__ == "__main__":
	main(sys.argv[1:])
