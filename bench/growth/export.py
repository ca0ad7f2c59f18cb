#!/usr/bin/python3
"""bench/growth/export.py — the models of the compile-time growth benchmark.

    /usr/bin/python3 bench/growth/export.py OUT_DIR

Writes OUT_DIR/<name>/model.onnx for
  encoder_L<n>   nn.TransformerEncoder (d 64, 4 heads, ff 128, 16 tokens,
                 padding mask) of n = 2, 4, 8, 16, 32 layers: the graph
                 grows with n, each layer its own weights;
  cascade_W<w>   the zoo's PVT cascade (tests/models/export.py) with stage
                 widths (32, 64, 96) x w and depths (1, 2, 1), w = 1, 2, 4,
                 8: the same graph, weights growing as w^2.
Only the ONNX files (no reference outputs: this measures the compiler).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "models"))

import torch  # noqa: E402
from export import Encoder, Pvt  # noqa: E402

LAYERS = (2, 4, 8, 16, 32)
WIDTHS = (1, 2, 4, 8)


def save(module, inputs, names, outs, path):
	os.makedirs(os.path.dirname(path), exist_ok=True)
	module.eval()
	# nn.TransformerEncoder deep-copies one layer: distinct random weights
	# per layer, or the exporter would share the identical initializers
	with torch.no_grad():
		for p in module.parameters():
			p.normal_(0.0, 0.05)
	torch.onnx.export(module, inputs, path, opset_version=17, do_constant_folding=True,
	                  input_names=names, output_names=outs)


def main():
	out = sys.argv[1]
	torch.manual_seed(0)
	for n in LAYERS:
		src = torch.randn(1, 16, 64)
		mask = torch.zeros(1, 16)
		save(Encoder(d=64, heads=4, ff=128, layers=n), (src, mask), ["src", "padding_mask"],
		     ["hidden"], os.path.join(out, "encoder_L%d" % n, "model.onnx"))
	for w in WIDTHS:
		dims = tuple(c * w for c in (32, 64, 96))
		save(Pvt(dims=dims), (torch.randn(1, 3, 32, 32),), ["image"], ["logits"],
		     os.path.join(out, "cascade_W%d" % w, "model.onnx"))


if __name__ == "__main__":
	main()
