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

where BATCH is the product of the batch dimensions (1 when B is 2-D: the
rows of A's leading dimensions are then one GEMM's M), WEIGHT is 1 when B is a
constant (an initializer, a Constant node or an Identity of one:
the weight case) and 0 when it
is computed (the attention case), NODES the number of nodes with that shape
and GFLOP their total.  Exit status 1 when a counted node's shapes could
not be inferred (named on stderr).
"""

import collections
import sys

import numpy as np
import onnx
import onnx.numpy_helper
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


# ---------------------------------------------------------------------------
# Folding the shape computations.  PyTorch exports shape arithmetic (Shape ->
# Gather -> Concat -> Reshape/Pad ...) that onnx's shape inference does not
# always see through even with data propagation (e.g. torchvision's Swin pads
# with computed amounts).  Every node whose inputs are all known constants
# (initializers, Constant nodes, Shape of a fully static tensor) and whose
# result is small is evaluated with numpy, its outputs become initializers,
# and inference runs again, until nothing more folds.
# ---------------------------------------------------------------------------

ONNX_NP = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16, 6: np.int32, 7: np.int64,
           9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}


def _axes(node, ins, k):
	"""axes of Unsqueeze/Squeeze/Reduce: attribute before opset 13, input k after."""
	if len(ins) > k and ins[k] is not None:
		return [int(a) for a in ins[k]]
	return list(attr(node, "axes", []))


def _int_div(a, b):
	if np.issubdtype(a.dtype, np.integer):
		return (np.trunc(a / b)).astype(a.dtype)
	return a / b


def _slice(node, ins):
	x, starts, ends = ins[0], ins[1], ins[2]
	axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(starts))
	steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
	idx = [slice(None)] * x.ndim
	for s, e, a, st in zip(starts, ends, axes, steps):
		a = int(a) % x.ndim
		n = x.shape[a]
		s, e, st = int(s), int(e), int(st)
		s = max(-n - 1, min(s, n)) if st < 0 else max(-n, min(s, n))
		e = max(-n - 1, min(e, n))
		idx[a] = slice(s, None if (st < 0 and e < -n) else e, st)
	return x[tuple(idx)]


def _reshape(x, shape):
	shape = [int(d) if d != 0 else x.shape[i] for i, d in enumerate(shape)]
	return x.reshape(shape)


def _scatter_nd(data, idx, upd):
	out = data.copy()
	for i in np.ndindex(idx.shape[:-1]):
		out[tuple(idx[i])] = upd[i]
	return out


EVAL = {
	"Identity": lambda n, i: i[0],
	"Cast": lambda n, i: i[0].astype(ONNX_NP[attr(n, "to", 1)]),
	"Unsqueeze": lambda n, i: np.expand_dims(i[0], sorted(
		a % (i[0].ndim + len(_axes(n, i, 1))) for a in _axes(n, i, 1))),
	"Squeeze": lambda n, i: np.squeeze(i[0], tuple(_axes(n, i, 1))) if _axes(n, i, 1) else np.squeeze(i[0]),
	"Concat": lambda n, i: np.concatenate(i, axis=attr(n, "axis", 0)),
	"Gather": lambda n, i: np.take(i[0], i[1], axis=attr(n, "axis", 0)),
	"Slice": _slice,
	"Add": lambda n, i: i[0] + i[1],
	"Sub": lambda n, i: i[0] - i[1],
	"Mul": lambda n, i: i[0] * i[1],
	"Div": lambda n, i: _int_div(i[0], i[1]),
	"Mod": lambda n, i: np.fmod(i[0], i[1]) if attr(n, "fmod", 0) else np.mod(i[0], i[1]),
	"Equal": lambda n, i: np.equal(i[0], i[1]),
	"Less": lambda n, i: np.less(i[0], i[1]),
	"Greater": lambda n, i: np.greater(i[0], i[1]),
	"Not": lambda n, i: np.logical_not(i[0]),
	"Where": lambda n, i: np.where(i[0], i[1], i[2]),
	"Min": lambda n, i: np.minimum.reduce(i),
	"Max": lambda n, i: np.maximum.reduce(i),
	"Neg": lambda n, i: -i[0],
	"Floor": lambda n, i: np.floor(i[0]),
	"Ceil": lambda n, i: np.ceil(i[0]),
	"Range": lambda n, i: np.arange(i[0], i[1], i[2]).astype(i[0].dtype),
	"Reshape": lambda n, i: _reshape(i[0], i[1]),
	"Transpose": lambda n, i: np.transpose(i[0], attr(n, "perm", None)),
	"Expand": lambda n, i: np.broadcast_to(i[0], np.broadcast_shapes(i[0].shape, tuple(int(d) for d in i[1]))).copy(),
	"ConstantOfShape": lambda n, i: np.full(tuple(int(d) for d in i[0]),
	                                        onnx.numpy_helper.to_array(attr(n, "value", None))[0]
	                                        if attr(n, "value", None) is not None else np.float32(0)),
	"ScatterND": lambda n, i: _scatter_nd(i[0], i[1], i[2]),
}


def einsum_shape(node, shapes):
	"""Output shape of an explicit ('->') Einsum without ellipsis, or None."""
	eq = attr(node, "equation", b"").decode().replace(" ", "")
	if "->" not in eq or "." in eq or not known(*shapes):
		return None
	lhs, rhs = eq.split("->")
	size = {}
	for term, sh in zip(lhs.split(","), shapes):
		if len(term) != len(sh):
			return None
		for ch, d in zip(term, sh):
			size[ch] = d
	return [size[ch] for ch in rhs] if all(ch in size for ch in rhs) else None


def fold_shapes(model, max_rounds=20):
	"""Returns the model with every small constant-input node folded into an
	initializer and shapes inferred (onnx data propagation) after each round."""
	extra = {}    # Einsum output shapes computed here (onnx infers only the rank)
	for _ in range(max_rounds):
		model.graph.value_info.extend(extra.values())
		model = onnx.shape_inference.infer_shapes(model, data_prop=True)
		sh = shapes_of(model)
		grew = False
		for n in model.graph.node:
			if n.op_type == "Einsum" and n.output[0] not in extra and not known(sh.get(n.output[0])):
				d = einsum_shape(n, [sh.get(x) for x in n.input])
				if d is not None:
					extra[n.output[0]] = onnx.helper.make_tensor_value_info(n.output[0], 0, d)
					grew = True
		vals = {}
		for init in model.graph.initializer:
			if np.prod(init.dims) <= (1 << 16):
				vals[init.name] = onnx.numpy_helper.to_array(init)
		keep, folded = [], []
		for n in model.graph.node:
			out = None
			try:
				if n.op_type == "Constant" and attr(n, "value", None) is not None:
					out = [onnx.numpy_helper.to_array(attr(n, "value", None))]
				elif n.op_type == "Shape" and known(sh.get(n.input[0])):
					out = [np.array(sh[n.input[0]], dtype=np.int64)]
				elif n.op_type in EVAL and all(x == "" or x in vals for x in n.input):
					ins = [vals[x] if x else None for x in n.input]
					r = EVAL[n.op_type](n, ins)
					out = [np.asarray(r)] if np.asarray(r).size <= (1 << 20) else None
			except Exception:
				out = None
			if out is None:
				keep.append(n)
				continue
			for name, v in zip(n.output, out):
				vals[name] = v
				folded.append(onnx.numpy_helper.from_array(np.array(v, order="C"), name))
		if not grew and not [f for f in folded if f.name not in {i.name for i in model.graph.initializer}]:
			return model
		del model.graph.node[:]
		model.graph.node.extend(keep)
		model.graph.initializer.extend(folded)
		del model.graph.value_info[:]     # inferred afresh in the next round
	return onnx.shape_inference.infer_shapes(model, data_prop=True)


def main(argv):
	if not argv or argv[0].startswith("-"):
		sys.exit("usage: graph_stats.py MODEL.onnx [--gemm]")
	path, want_gemm = argv[0], "--gemm" in argv[1:]
	model = onnx.load(path)
	consts = {i.name for i in model.graph.initializer}
	# Only shapes matter here: large initializers become graph inputs of the
	# same type and shape, so that each inference round serialises a small
	# model.
	big = [i for i in model.graph.initializer if np.prod(i.dims) > (1 << 16)]
	for i in big:
		model.graph.input.append(onnx.helper.make_tensor_value_info(i.name, i.data_type, list(i.dims)))
		model.graph.initializer.remove(i)
	model = fold_shapes(model)
	sh = shapes_of(model)
	consts |= {i.name for i in model.graph.initializer}   # folded: computed from constants
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
			if len(b) == 2 and len(a) >= 2:   # [.., K] x [K, N]: one GEMM, rows flattened
				shape = (prod(a[:-1]), K, b[-1], 1)
			elif len(a) >= 2 and len(b) >= 2:
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
