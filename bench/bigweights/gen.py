"""bench/bigweights/gen.py OUTDIR [GIB] — a model of more than 2 GiB of
weights stored as external data, for bench/bigweights/run.sh.

y = x @ W0 @ W1 @ W2 @ W3 with x f32[1, K] and four K x K f32 weights in
OUTDIR/weights.bin (one external-data file, written in slices so that this
script never holds a whole weight), K chosen so that the four weights total
GIB GiB (default 2.1).  Weight values are a cheap pattern of multiples of
1/256 (exact in f32); the model is for measuring the compiler, not numerics.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

out = sys.argv[1]
gib = float(sys.argv[2]) if len(sys.argv) > 2 else 2.1
nmat = 4
k = int((gib * (1 << 30) / (4 * nmat)) ** 0.5)
os.makedirs(out, exist_ok=True)
inits = []
offset = 0
rows = max(1, (64 << 20) // (4 * k))   # 64 MiB slices
with open(os.path.join(out, "weights.bin"), "wb") as f:
    for i in range(nmat):
        for r0 in range(0, k, rows):
            r = np.arange(r0, min(k, r0 + rows), dtype=np.int64)[:, None]
            c = np.arange(k, dtype=np.int64)[None, :]
            w = (((r * 7 + c * 13 + i * 5) % 17) - 8).astype(np.float32) / 256.0
            f.write(w.tobytes())
        t = TensorProto()
        t.name = "W%d" % i
        t.data_type = TensorProto.FLOAT
        t.dims.extend([k, k])
        t.data_location = TensorProto.EXTERNAL
        for key, val in (("location", "weights.bin"), ("offset", str(offset)), ("length", str(4 * k * k))):
            e = t.external_data.add()
            e.key, e.value = key, val
        offset += 4 * k * k
        inits.append(t)
nodes = []
prev = "x"
for i in range(nmat):
    nxt = "y" if i == nmat - 1 else "h%d" % i
    nodes.append(helper.make_node("MatMul", [prev, "W%d" % i], [nxt], name="mm%d" % i))
    prev = nxt
g = helper.make_graph(nodes, "bigweights",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, k])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
onnx.save(m, os.path.join(out, "model.onnx"))
print("K=%d, %d weights, %.2f GiB in %s/weights.bin" % (k, nmat, offset / (1 << 30), out))
