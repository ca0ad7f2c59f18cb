#!/usr/bin/python3
"""bench/models/graph_stats.py — FLOP count and GEMM shapes of an ONNX graph.

    /usr/bin/python3 bench/models/graph_stats.py MODEL.onnx [--gemm]

Infers the shapes (onnx.shape_inference) and counts the multiply-adds of
the matrix ops, 2 FLOP each (the convention of the FMA peak in bench/peak.c):

    MatMul   2 * numel(output) * K                (K = A's last dimension)
    Gemm     2 * M * N * K
    Conv     2 * numel(output) * (C_in / group) * prod(kernel)
    Einsum   2 * prod(size of every distinct index letter)   (two operands)

Element-wise ops, normalisations, softmax and the like are not counted (a
few percent of a transformer's work).  Output: one line per op type

    flops OP COUNT GFLOP

then `gflop TOTAL` (sum over the counted ops).  With --gemm, also one line
per distinct matrix-product shape of MatMul and Gemm nodes:

    gemm M K N BATCH WEIGHT NODES GFLOP

where BATCH is the product of the batch dimensions, WEIGHT is 1 when B is a
constant (an initializer, a Constant node or an Identity of one:
the weight case) and 0 when it
is computed (the attention case), NODES the number of nodes with that shape
and GFLOP their total.  Exit status 1 when a counted node's shapes could
not be inferred (named on stderr).
"""

import collections
import sys

import onnx
import onnx.shape_inference


def shapes_of(model):
	"""name -> list of dims (ints; None when unknown)."""
	s = {}

	def put(vi):
		t = vi.type.tensor_type
		if t.HasField("shape"):
			s[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]

	g = model.graph
	for vi in list(g.value_info) + list(g.input) + list(g.output):
		put(vi)
	for init in g.initializer:
		s[init.name] = list(init.dims)
	for n in g.node:
		if n.op_type == "Constant":
			for a in n.attribute:
				if a.name == "value":
					s[n.output[0]] = list(a.t.dims)
	return s


def prod(xs):
	p = 1
	for x in xs:
		p *= x
	return p


def known(*shapes):
	return all(sh is not None and all(d is not None for d in sh) for sh in shapes)


def attr(node, name, default):
	for a in node.attribute:
		if a.name == name:
			return onnx.helper.get_attribute_value(a)
	return default


def main(argv):
	if not argv or argv[0].startswith("-"):
		sys.exit("usage: graph_stats.py MODEL.onnx [--gemm]")
	path, want_gemm = argv[0], "--gemm" in argv[1:]
	model = onnx.shape_inference.infer_shapes(onnx.load(path), data_prop=True)
	sh = shapes_of(model)
	consts = {i.name for i in model.graph.initializer}
	for n in model.graph.node:     # topological order: Identity of a constant is one
		if n.op_type == "Constant" or (n.op_type == "Identity" and n.input[0] in consts):
			consts.add(n.output[0])
	per_op = collections.OrderedDict()
	gemms = collections.OrderedDict()
	bad = []
	for n in model.graph.node:
		op = n.op_type
		if op not in ("MatMul", "Gemm", "Conv", "Einsum"):
			continue
		ins = [sh.get(x) for x in n.input]
		out = sh.get(n.output[0])
		if not known(out, *ins[:2]):
			bad.append("%s (%s)" % (n.name, op))
			continue
		a, b = ins[0], ins[1]
		shape = None
		if op == "MatMul":
			K = a[-1] if len(a) >= 1 else 1
			f = 2 * prod(out) * K
			if len(a) >= 2 and len(b) >= 2:
				shape = (a[-2], K, b[-1], prod(out[:-2]))
		elif op == "Gemm":
			M = a[1] if attr(n, "transA", 0) else a[0]
			K = a[0] if attr(n, "transA", 0) else a[1]
			N = b[0] if attr(n, "transB", 0) else b[1]
			f = 2 * M * N * K
			shape = (M, K, N, 1)
		elif op == "Conv":
			f = 2 * prod(out) * b[1] * prod(b[2:])
		else:
			eq = attr(n, "equation", b"").decode().replace(" ", "")
			lhs = eq.split("->")[0].split(",")
			size = {}
			for term, s in zip(lhs, ins):
				if "." in term or len(term) != len(s):
					size = None
					break
				for ch, d in zip(term, s):
					size[ch] = d
			if size is None:
				bad.append("%s (Einsum '%s')" % (n.name, eq))
				continue
			f = 2 * prod(size.values())
		c, tot = per_op.get(op, (0, 0))
		per_op[op] = (c + 1, tot + f)
		if shape is not None:
			key = shape + (int(n.input[1] in consts),)
			c, tot = gemms.get(key, (0, 0))
			gemms[key] = (c + 1, tot + f)
	total = 0
	for op, (c, f) in per_op.items():
		print("flops %s %d %.4f" % (op, c, f / 1e9))
		total += f
	print("gflop %.4f" % (total / 1e9))
	if want_gemm:
		for (M, K, N, batch, w), (c, f) in sorted(gemms.items(), key=lambda kv: -kv[1][1]):
			print("gemm %d %d %d %d %d %d %.4f" % (M, K, N, batch, w, c, f / 1e9))
	if bad:
		sys.stderr.write("graph_stats.py: %s: shapes not inferred for: %s\n" % (path, ", ".join(bad)))
		sys.exit(1)


if __name__ == "__main__":
	main(sys.argv[1:])
