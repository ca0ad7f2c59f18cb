#!/usr/bin/python3
"""bench/models/export_real.py — the real-size benchmark models.

Seven models at the sizes people deploy, random weights from a fixed seed,
batch 1, static shapes, exported with torch.onnx.export
(do_constant_folding=True).  Each model <name> goes to OUT/<name>/ in the
layout of the end-to-end zoo (tests/models/<name>/, see
tests/models/export.py):

    model.onnx            the exported graph (onnx.checker, full_check)
    inputs/<input>.npy    the inputs fed to PyTorch
    outputs/<output>.npy  PyTorch's outputs: the reference
    manifest.txt          opset / input / output / init_unique_bytes /
                          shared_weights lines, as the zoo's
    meta.json             family, opset, shapes, parameter count, op counts,
                          torch/onnx versions, seed

The models (family code from tests/models/export.py, scaled up):

    swin_t      torchvision swin_t at 224x224 (random init), 1000 classes
    pvt_v2_b1   PVT-v2-b1: 4 stages, dims 64,128,320,512, depths 2,2,2,2,
                SR ratios 8,4,2,1, heads 1,2,5,8, overlapping patch
                embeddings, MLP ratio 8 with a depthwise 3x3 conv, 224x224
    vit_b16     ViT-B/16 (BERT-base-size encoder): patchify conv, class
                token, 12 pre-norm layers, d=768, 12 heads, MLP 3072,
                197 tokens, 1000 classes
    txl_d512    Transformer-XL: d=512, 8 layers, 8 heads of 64, d_inner
                2048, 128-token segment with 128 mems, vocabulary 1000
    sret_t      SReT-T: conv stem to 28x28 tokens, stages of dims 64,128,256
                (heads 2,4,8), 2,5,3 unique blocks each applied twice with
                a non-linear projection after every application, group
                attention (groups 8/2, 4/1, 1/1), depthwise pooling convs,
                learnable residual coefficients, MLP ratio 3.6, 224x224
    ode_rk2_d384  parallel-block ODE transformer: 6 layers, each one Heun
                (RK2) step of its own parallel block (LN -> attention +
                MLP), d=384, 6 heads, MLP 1536, 197 tokens
    maxvit_t    torchvision maxvit_t at 224x224 (random init), 1000 classes:
                MBConv (BatchNorm, depthwise conv, squeeze-excitation) +
                block and grid attention with relative-position bias,
                written with Einsum

Run with the Debian interpreter (torch 1.13, torchvision 0.14, onnx 1.12):

    /usr/bin/python3 bench/models/export_real.py OUT_DIR [NAME...]

A model whose export fails is reported on stderr and skipped; the exit
status is 1 when any failed.  The output is deterministic (each model seeds
torch from its name before building weights and inputs).
"""

import collections
import json
import os
import shutil
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "models"))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import export as zoo  # noqa: E402  (tests/models/export.py: family code)

# ---------------------------------------------------------------------------
# swin_t (torchvision)
# ---------------------------------------------------------------------------


def make_swin_t():
	import torchvision
	m = torchvision.models.swin_t(weights=None)
	return m, [("image", torch.randn(1, 3, 224, 224))], ["logits"]


# ---------------------------------------------------------------------------
# PVT-v2-b1
# ---------------------------------------------------------------------------


class OverlapPatchEmbed(nn.Module):
	"""PVT-v2 stage transition: an overlapping strided Conv, then LN."""

	def __init__(self, cin, cout, k, stride):
		super().__init__()
		self.proj = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)
		self.norm = nn.LayerNorm(cout)

	def forward(self, x):
		x = self.proj(x)
		B, C, H, W = x.shape
		return self.norm(x.flatten(2).transpose(1, 2)), H, W


class DwMlp(nn.Module):
	"""PVT-v2 MLP: fc1 -> depthwise 3x3 conv on the token map -> GELU -> fc2."""

	def __init__(self, dim, hidden):
		super().__init__()
		self.fc1 = nn.Linear(dim, hidden)
		self.dw = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
		self.act = nn.GELU()
		self.fc2 = nn.Linear(hidden, dim)

	def forward(self, x, H, W):
		x = self.fc1(x)
		B, N, C = x.shape
		x = self.dw(x.transpose(1, 2).reshape(B, C, H, W)).flatten(2).transpose(1, 2)
		return self.fc2(self.act(x))


class PvtV2Block(nn.Module):
	def __init__(self, dim, heads, sr, mlp_ratio):
		super().__init__()
		self.norm1 = nn.LayerNorm(dim, eps=1e-6)
		self.attn = zoo.SRAttention(dim, heads, sr)
		self.norm2 = nn.LayerNorm(dim, eps=1e-6)
		self.mlp = DwMlp(dim, dim * mlp_ratio)

	def forward(self, x, H, W):
		x = x + self.attn(self.norm1(x), H, W)
		return x + self.mlp(self.norm2(x), H, W)


class PvtV2(nn.Module):
	def __init__(self, dims=(64, 128, 320, 512), depths=(2, 2, 2, 2), srs=(8, 4, 2, 1),
	             heads=(1, 2, 5, 8), mlp_ratios=(8, 8, 4, 4), classes=1000):
		super().__init__()
		self.embeds = nn.ModuleList()
		self.stages = nn.ModuleList()
		self.norms = nn.ModuleList()
		cin = 3
		for i, (d, n, sr, h, r) in enumerate(zip(dims, depths, srs, heads, mlp_ratios)):
			self.embeds.append(OverlapPatchEmbed(cin, d, 7 if i == 0 else 3, 4 if i == 0 else 2))
			self.stages.append(nn.ModuleList(PvtV2Block(d, h, sr, r) for _ in range(n)))
			self.norms.append(nn.LayerNorm(d, eps=1e-6))
			cin = d
		self.head = nn.Linear(dims[-1], classes)

	def forward(self, image):
		x = image
		B = x.shape[0]
		n = len(self.stages)
		for i in range(n):
			x, H, W = self.embeds[i](x)
			for blk in self.stages[i]:
				x = blk(x, H, W)
			x = self.norms[i](x)
			if i < n - 1:
				x = x.reshape(B, H, W, -1).permute(0, 3, 1, 2)
		return self.head(x.mean(dim=1))


def make_pvt_v2_b1():
	return PvtV2(), [("image", torch.randn(1, 3, 224, 224))], ["logits"]


# ---------------------------------------------------------------------------
# ViT-B/16
# ---------------------------------------------------------------------------


class VitBlock(nn.Module):
	def __init__(self, dim, heads, hidden):
		super().__init__()
		self.norm1 = nn.LayerNorm(dim, eps=1e-6)
		self.attn = zoo.Attention(dim, heads)
		self.norm2 = nn.LayerNorm(dim, eps=1e-6)
		self.mlp = zoo.Mlp(dim, hidden)

	def forward(self, x):
		x = x + self.attn(self.norm1(x))
		return x + self.mlp(self.norm2(x))


class Vit(nn.Module):
	def __init__(self, img=224, patch=16, dim=768, depth=12, heads=12, hidden=3072, classes=1000):
		super().__init__()
		self.patch = nn.Conv2d(3, dim, patch, stride=patch)
		ntok = (img // patch) ** 2 + 1
		self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
		self.pos_embed = nn.Parameter(torch.randn(1, ntok, dim) * 0.02)
		self.blocks = nn.Sequential(*[VitBlock(dim, heads, hidden) for _ in range(depth)])
		self.norm = nn.LayerNorm(dim, eps=1e-6)
		self.head = nn.Linear(dim, classes)

	def forward(self, image):
		x = self.patch(image).flatten(2).transpose(1, 2)
		x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
		x = self.norm(self.blocks(x))
		return self.head(x[:, 0])


def make_vit_b16():
	return Vit(), [("image", torch.randn(1, 3, 224, 224))], ["logits"]


# ---------------------------------------------------------------------------
# Transformer-XL, d=512
# ---------------------------------------------------------------------------


def make_txl_d512():
	m = zoo.TransformerXL(vocab=1000, d_model=512, n_head=8, d_head=64, d_inner=2048,
	                      n_layer=8, qlen=128, mlen=128, use_triu=True, neg=float("-inf"))
	tokens = torch.randint(0, 1000, (m.qlen, 1), dtype=torch.int64)
	# Mems of the size a trained model carries (hidden states are LayerNorm
	# outputs, roughly unit scale).
	mems = torch.randn(len(m.layers), m.mlen, 1, m.d_model)
	return m, [("tokens", tokens), ("mems", mems)], ["logits", "new_mems"]


# ---------------------------------------------------------------------------
# SReT-T
# ---------------------------------------------------------------------------


class SretGroupAttention(nn.Module):
	"""Group self-attention with the group count chosen per application: the
	first application of a block splits the tokens into g1 contiguous
	groups, the second permutes them (a fixed permutation, Gather with a
	constant index), splits into g2 groups and permutes back."""

	def __init__(self, dim, heads, ntok, g1, g2):
		super().__init__()
		self.attn = zoo.Attention(dim, heads)
		self.g1, self.g2 = g1, g2
		perm = torch.randperm(ntok)
		self.register_buffer("perm", perm)
		self.register_buffer("inv_perm", torch.argsort(perm))

	def forward(self, x, second):
		B, N, C = x.shape
		G = self.g2 if second else self.g1
		shuffle = second and G > 1
		if shuffle:
			x = torch.index_select(x, 1, self.perm)
		x = self.attn(x.reshape(B * G, N // G, C)).reshape(B, N, C)
		if shuffle:
			x = torch.index_select(x, 1, self.inv_perm)
		return x


class SretTBlock(nn.Module):
	def __init__(self, dim, heads, ntok, g1, g2, mlp_ratio):
		super().__init__()
		self.norm1 = nn.LayerNorm(dim, eps=1e-6)
		self.attn = SretGroupAttention(dim, heads, ntok, g1, g2)
		self.norm2 = nn.LayerNorm(dim, eps=1e-6)
		self.mlp = zoo.Mlp(dim, int(dim * mlp_ratio))
		self.c = nn.Parameter(torch.empty(4).uniform_(0.8, 1.2))

	def forward(self, x, second):
		x = x * self.c[0] + self.attn(self.norm1(x), second) * self.c[1]
		return x * self.c[2] + self.mlp(self.norm2(x)) * self.c[3]


class SretNonProj(nn.Module):
	"""LN -> MLP (ratio 1) with learnable coefficients on both branches."""

	def __init__(self, dim):
		super().__init__()
		self.norm = nn.LayerNorm(dim, eps=1e-6)
		self.mlp = zoo.Mlp(dim, dim)
		self.c = nn.Parameter(torch.empty(2).uniform_(0.8, 1.2))

	def forward(self, x):
		return x * self.c[0] + self.mlp(self.norm(x)) * self.c[1]


class SretTStage(nn.Module):
	def __init__(self, dim, heads, ntok, g1, g2, unique, loops, mlp_ratio):
		super().__init__()
		self.blocks = nn.ModuleList(SretTBlock(dim, heads, ntok, g1, g2, mlp_ratio)
		                            for _ in range(unique))
		self.nps = nn.ModuleList(SretNonProj(dim) for _ in range(unique * loops))
		self.loops = loops

	def forward(self, x):
		k = 0
		for blk in self.blocks:
			for r in range(self.loops):
				x = self.nps[k](blk(x, r % 2 == 1))
				k += 1
		return x


class SretT(nn.Module):
	def __init__(self, classes=1000):
		super().__init__()
		layers, cin = [], 3
		for c in (32, 64, 64):
			layers += [nn.Conv2d(cin, c, 3, stride=2, padding=1, bias=False),
			           nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
			cin = c
		self.stem = nn.Sequential(*layers)                           # 224 -> 28x28
		dims, heads, unique = (64, 128, 256), (2, 4, 8), (2, 5, 3)
		groups = ((8, 2), (4, 1), (1, 1))
		side = 28
		self.stages = nn.ModuleList()
		self.pools = nn.ModuleList()
		for i, (d, h, u, (g1, g2)) in enumerate(zip(dims, heads, unique, groups)):
			self.stages.append(SretTStage(d, h, side * side, g1, g2, u, 2, 3.6))
			if i < 2:
				self.pools.append(nn.Conv2d(d, 2 * d, 3, stride=2, padding=1, groups=d))
				side //= 2
		self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
		self.head = nn.Linear(dims[-1], classes)

	def forward(self, image):
		x = self.stem(image)
		for i, st in enumerate(self.stages):
			B, C, H, W = x.shape
			x = st(x.flatten(2).transpose(1, 2))
			x = x.transpose(1, 2).reshape(B, C, H, W)
			if i < len(self.pools):
				x = self.pools[i](x)
		x = x.flatten(2).transpose(1, 2)
		return self.head(self.norm(x).mean(dim=1))


def make_sret_t():
	m = SretT()
	for mod in m.modules():
		if isinstance(mod, nn.BatchNorm2d):
			mod.running_mean.uniform_(-0.2, 0.2)
			mod.running_var.uniform_(0.5, 1.5)
			mod.weight.data.uniform_(0.8, 1.2)
			mod.bias.data.uniform_(-0.1, 0.1)
	return m, [("image", torch.randn(1, 3, 224, 224))], ["logits"]


# ---------------------------------------------------------------------------
# Parallel-block ODE transformer, d=384
# ---------------------------------------------------------------------------


class OdeStack(nn.Module):
	"""n layers, each one Heun (RK2) step x + h/2 (f(x) + f(x + h f(x))) of
	its own parallel block f (export.py's ParallelBlock, MLP ratio 4)."""

	def __init__(self, dim=384, heads=6, layers=6, classes=1000, h=0.5):
		super().__init__()
		self.h = h
		self.fs = nn.ModuleList()
		for _ in range(layers):
			f = zoo.ParallelBlock(dim, heads)
			f.mlp = zoo.Mlp(dim, 4 * dim)
			self.fs.append(f)
		self.norm = nn.LayerNorm(dim)
		self.head = nn.Linear(dim, classes)

	def forward(self, embeddings):
		x, h = embeddings, self.h
		for f in self.fs:
			k1 = f(x)
			k2 = f(x + k1 * h)
			x = x + (k1 + k2) * (h / 2)
		return self.head(self.norm(x).mean(dim=1))


def make_ode_rk2_d384():
	return OdeStack(), [("embeddings", torch.randn(1, 197, 384))], ["logits"]


# ---------------------------------------------------------------------------
# maxvit_t (torchvision)
# ---------------------------------------------------------------------------


def make_maxvit_t():
	import torchvision
	m = torchvision.models.maxvit_t(weights=None)
	return m, [("image", torch.randn(1, 3, 224, 224))], ["logits"]


# ---------------------------------------------------------------------------

# name: (family, opset, factory, shared_weights)
MODELS = collections.OrderedDict([
	("swin_t", ("cascade-swin", 14, make_swin_t, False)),
	("pvt_v2_b1", ("cascade-pvt", 17, make_pvt_v2_b1, False)),
	("vit_b16", ("encoder", 17, make_vit_b16, False)),
	("txl_d512", ("transformer-xl", 16, make_txl_d512, False)),
	("sret_t", ("sret", 14, make_sret_t, True)),
	("ode_rk2_d384", ("parallel-ode", 16, make_ode_rk2_d384, True)),
	("maxvit_t", ("cascade-maxvit", 16, make_maxvit_t, False)),
])


def export_one(out, name):
	family, opset, factory, shared = MODELS[name]
	seed = zoo.seed_of("bench/" + name)
	torch.manual_seed(seed)
	module, inputs, out_names = factory()
	module.eval()
	args = tuple(t for _, t in inputs)
	with torch.no_grad():
		outs = module(*args)
	if isinstance(outs, torch.Tensor):
		outs = (outs,)
	outs = tuple(o.detach() for o in outs)
	d = os.path.join(out, name)
	shutil.rmtree(d, ignore_errors=True)
	os.makedirs(d)
	path = os.path.join(d, "model.onnx")
	with torch.no_grad():
		torch.onnx.export(module, args, path, opset_version=opset,
		                  do_constant_folding=True,
		                  input_names=[n for n, _ in inputs],
		                  output_names=out_names)
	onnx.checker.check_model(path, full_check=True)
	model = onnx.load(path)
	zoo.save_npys(os.path.join(d, "inputs"), dict(inputs))
	zoo.save_npys(os.path.join(d, "outputs"), dict(zip(out_names, outs)))
	ninit, total, unique = zoo.init_stats(model)
	params = sum(p.numel() for p in module.parameters())
	ops = collections.Counter(n.op_type for n in model.graph.node)
	meta = {
		"name": name,
		"family": family,
		"opset": opset,
		"inputs": [zoo.tensor_info(n, t.numpy()) for n, t in inputs],
		"outputs": [zoo.tensor_info(n, t.numpy()) for n, t in zip(out_names, outs)],
		"parameters": params,
		"shared_weights": shared,
		"initializers": ninit,
		"init_bytes": total,
		"init_unique_bytes": unique,
		"nodes": len(model.graph.node),
		"ops": dict(sorted(ops.items())),
		"torch": torch.__version__,
		"onnx": onnx.__version__,
		"seed": seed,
	}
	with open(os.path.join(d, "meta.json"), "w") as f:
		json.dump(meta, f, indent=1)
		f.write("\n")
	with open(os.path.join(d, "manifest.txt"), "w") as f:
		f.write("opset %d\n" % opset)
		for n, _ in inputs:
			f.write("input %s\n" % n)
		for n in out_names:
			f.write("output %s\n" % n)
		f.write("init_unique_bytes %d\n" % unique)
		f.write("shared_weights %d\n" % int(shared))
	print("%-14s opset %2d  %5d nodes  %7.2f M params  %8.1f MiB  max|ref| %.3g" %
	      (name, opset, len(model.graph.node), params / 1e6, os.path.getsize(path) / 2**20,
	       max(float(np.abs(o.numpy()).max()) for o in outs)), flush=True)


def main(argv):
	if not argv:
		sys.exit("usage: export_real.py OUT_DIR [NAME...] (names: %s)" % " ".join(MODELS))
	out, names = argv[0], argv[1:] or list(MODELS)
	for n in names:
		if n not in MODELS:
			sys.exit("export_real.py: unknown model '%s' (known: %s)" % (n, " ".join(MODELS)))
	torch.set_num_threads(1)
	os.makedirs(out, exist_ok=True)
	failed = []
	for n in names:
		try:
			export_one(out, n)
		except Exception:
			failed.append(n)
			shutil.rmtree(os.path.join(out, n), ignore_errors=True)
			sys.stderr.write("export_real.py: %s: export failed:\n%s" % (n, traceback.format_exc()))
	if failed:
		sys.stderr.write("export_real.py: failed: %s\n" % " ".join(failed))
		sys.exit(1)


if __name__ == "__main__":
	main(sys.argv[1:])
