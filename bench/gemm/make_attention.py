#!/usr/bin/python3
"""bench/gemm/make_attention.py — a one-attention ONNX model (the fused
QKV layout of Swin, SReT and MaxViT) for timing onnxcc::Attention alone.

    /usr/bin/python3 bench/gemm/make_attention.py OUT_DIR B N H D

Writes OUT_DIR/model.onnx (opset 17) and OUT_DIR/inputs/x.npy:

    x [B, N, 3*H*D]  ->  Reshape [B, N, 3, H, D], Transpose (2, 0, 3, 1, 4),
    q, k, v = Gather 0/1/2, softmax(q . k^T * D^-0.5) . v,
    Transpose (0, 2, 1, 3), Reshape [B, N, H*D]

which onnxcc fuses into one Attention node reading Q, K and V in place
(perm_*, sel_*): B x H batch entries of N x N scores, head dim D.  The
shapes of the bench models: sret_t 2 392 2 32, 1 196 4 32, 8 98 2 32 (the
general path); swin_t stage 1 64 49 3 32 (the short-sequence path).
FLOPs: 4 B H N^2 D.  Time it with
`onnxcc-run OUT_DIR/m.so --input x=OUT_DIR/inputs/x.npy --repeat 300`.
x is standard normal from a fixed seed.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(argv):
	if len(argv) != 5:
		sys.exit("usage: make_attention.py OUT_DIR B N H D")
	out = argv[0]
	B, N, H, D = (int(x) for x in argv[1:5])
	C = H * D
	inits = [
		numpy_helper.from_array(np.array([B, N, 3, H, D], np.int64), "shape5"),
		numpy_helper.from_array(np.array([B, N, C], np.int64), "shape3"),
		numpy_helper.from_array(np.array(D ** -0.5, np.float32), "scale"),
	]
	for i in range(3):
		inits.append(numpy_helper.from_array(np.array(i, np.int64), "i%d" % i))
	node = helper.make_node
	nodes = [
		node("Reshape", ["x", "shape5"], ["x5"]),
		node("Transpose", ["x5"], ["qkv"], perm=[2, 0, 3, 1, 4]),
		node("Gather", ["qkv", "i0"], ["q"], axis=0),
		node("Gather", ["qkv", "i1"], ["k"], axis=0),
		node("Gather", ["qkv", "i2"], ["v"], axis=0),
		node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
		node("MatMul", ["q", "kt"], ["s"]),
		node("Mul", ["s", "scale"], ["ss"]),
		node("Softmax", ["ss"], ["p"], axis=-1),
		node("MatMul", ["p", "v"], ["o"]),
		node("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]),
		node("Reshape", ["ot", "shape3"], ["y"]),
	]
	graph = helper.make_graph(nodes, "attention",
	                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [B, N, 3 * C])],
	                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [B, N, C])], inits)
	model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
	os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
	onnx.save(model, os.path.join(out, "model.onnx"))
	x = np.random.RandomState(1).standard_normal((B, N, 3 * C)).astype(np.float32)
	np.save(os.path.join(out, "inputs", "x.npy"), x)


if __name__ == "__main__":
	main(sys.argv[1:])
