#!/usr/bin/python3
"""tests/models/export.py — regenerates the onnxcc end-to-end model zoo.

Every model is a small, seeded PyTorch module in eval mode, exported with
torch.onnx.export (static shapes, do_constant_folding=True).  For each model
<name> this writes, under tests/models/<name>/:

    model.onnx                 the exported graph (checked with onnx.checker)
    inputs/<input>.npy         the inputs fed to PyTorch
    outputs/<output>.npy       PyTorch's outputs: the reference
    meta.json                  name, family, opset, inputs/outputs with dtype
                               and shape, initializer statistics, op counts,
                               torch/onnx versions
    manifest.txt               the same facts in a line format the sh harness
                               reads without a JSON parser:
                                   opset N
                                   input NAME / output NAME
                                   init_unique_bytes N   (by content)
                                   shared_weights 0|1
                                   stream SEGMENTS STATE_IN STATE_OUT

The demo in examples/pvt/ is a copy of pvt_opset17 (see DEMO below).

Transformer-XL models also get stream/seg<k>/{inputs,outputs}/: 4 consecutive
segments where PyTorch's new_mems of segment k is segment k+1's mems.

Run with the Debian interpreter that has torch 1.13 and onnx 1.12:
    /usr/bin/python3 tests/models/export.py            # every model
    /usr/bin/python3 tests/models/export.py txl_opset16_b1 swin_opset14
The output is deterministic: each model seeds torch before it builds its
weights and inputs.
"""

import collections
import hashlib
import json
import math
import os
import shutil
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------
# Shared building blocks
# ---------------------------------------------------------------------------


class Mlp(nn.Module):
	def __init__(self, dim, hidden, act=nn.GELU):
		super().__init__()
		self.fc1 = nn.Linear(dim, hidden)
		self.act = act()
		self.fc2 = nn.Linear(hidden, dim)

	def forward(self, x):
		return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
	"""Plain multi-head self-attention on [B, N, C] with a packed qkv."""

	def __init__(self, dim, heads):
		super().__init__()
		self.heads = heads
		self.scale = (dim // heads) ** -0.5
		self.qkv = nn.Linear(dim, 3 * dim)
		self.proj = nn.Linear(dim, dim)

	def forward(self, x):
		B, N, C = x.shape
		qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads)
		qkv = qkv.permute(2, 0, 3, 1, 4)
		q, k, v = qkv[0], qkv[1], qkv[2]
		attn = (q @ k.transpose(-2, -1)) * self.scale
		attn = attn.softmax(dim=-1)
		x = (attn @ v).transpose(1, 2).reshape(B, N, C)
		return self.proj(x)


# ---------------------------------------------------------------------------
# 1. PVT: N-stage cascade with spatial-reduction attention
# ---------------------------------------------------------------------------


class PatchEmbed(nn.Module):
	"""Stage transition: patchify Conv (kernel == stride) -> flatten -> LN."""

	def __init__(self, cin, cout, patch):
		super().__init__()
		self.proj = nn.Conv2d(cin, cout, patch, stride=patch)
		self.norm = nn.LayerNorm(cout)

	def forward(self, x):
		x = self.proj(x)
		B, C, H, W = x.shape
		x = x.flatten(2).transpose(1, 2)
		return self.norm(x), H, W


class SRAttention(nn.Module):
	"""PVT attention: K/V from a Conv(k=s=sr)-reduced map + LayerNorm."""

	def __init__(self, dim, heads, sr):
		super().__init__()
		self.heads = heads
		self.scale = (dim // heads) ** -0.5
		self.q = nn.Linear(dim, dim)
		self.kv = nn.Linear(dim, 2 * dim)
		self.proj = nn.Linear(dim, dim)
		self.sr_ratio = sr
		if sr > 1:
			self.sr = nn.Conv2d(dim, dim, sr, stride=sr)
			self.norm = nn.LayerNorm(dim, eps=1e-5)

	def forward(self, x, H, W):
		B, N, C = x.shape
		h = self.heads
		q = self.q(x).reshape(B, N, h, C // h).permute(0, 2, 1, 3)
		if self.sr_ratio > 1:
			x_ = x.permute(0, 2, 1).reshape(B, C, H, W)
			x_ = self.sr(x_).reshape(B, C, -1).permute(0, 2, 1)
			x_ = self.norm(x_)
		else:
			x_ = x
		kv = self.kv(x_).reshape(B, -1, 2, h, C // h).permute(2, 0, 3, 1, 4)
		k, v = kv[0], kv[1]
		attn = (q @ k.transpose(-2, -1)) * self.scale
		attn = attn.softmax(dim=-1)
		x = (attn @ v).transpose(1, 2).reshape(B, N, C)
		return self.proj(x)


class PvtBlock(nn.Module):
	def __init__(self, dim, heads, sr, mlp_ratio=2):
		super().__init__()
		self.norm1 = nn.LayerNorm(dim, eps=1e-6)
		self.attn = SRAttention(dim, heads, sr)
		self.norm2 = nn.LayerNorm(dim, eps=1e-6)
		self.mlp = Mlp(dim, dim * mlp_ratio)

	def forward(self, x, H, W):
		x = x + self.attn(self.norm1(x), H, W)
		return x + self.mlp(self.norm2(x))


class Pvt(nn.Module):
	def __init__(self, dims=(32, 64, 96), patches=(4, 2, 2), srs=(2, 2, 1),
	             depths=(1, 2, 1), heads=2, classes=10):
		super().__init__()
		self.embeds = nn.ModuleList()
		self.stages = nn.ModuleList()
		cin = 3
		for d, p, sr, n in zip(dims, patches, srs, depths):
			self.embeds.append(PatchEmbed(cin, d, p))
			self.stages.append(nn.ModuleList(PvtBlock(d, heads, sr) for _ in range(n)))
			cin = d
		self.norm = nn.LayerNorm(dims[-1])
		self.head = nn.Linear(dims[-1], classes)

	def forward(self, image):
		x = image
		B = x.shape[0]
		n = len(self.stages)
		for i, (emb, blocks) in enumerate(zip(self.embeds, self.stages)):
			x, H, W = emb(x)
			for blk in blocks:
				x = blk(x, H, W)
			if i < n - 1:
				x = x.reshape(B, H, W, -1).permute(0, 3, 1, 2)
		x = self.norm(x).mean(dim=1)
		return self.head(x)


def make_pvt():
	return Pvt(), [("image", torch.randn(1, 3, 32, 32))], ["logits"]


# ---------------------------------------------------------------------------
# 1b. Swin: shifted-window attention, patch merging
# ---------------------------------------------------------------------------


def window_partition(x, ws):
	B, H, W, C = x.shape
	x = x.view(B, H // ws, ws, W // ws, ws, C)
	return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)


def window_reverse(windows, ws, H, W):
	B = int(windows.shape[0] / (H * W / ws / ws))
	x = windows.view(B, H // ws, W // ws, ws, ws, -1)
	return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(B, H, W, -1)


class WindowAttention(nn.Module):
	def __init__(self, dim, ws, heads):
		super().__init__()
		self.ws = ws
		self.heads = heads
		self.scale = (dim // heads) ** -0.5
		self.relative_position_bias_table = nn.Parameter(
			torch.randn((2 * ws - 1) * (2 * ws - 1), heads) * 0.2)
		coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij"))
		flat = torch.flatten(coords, 1)
		rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
		rel[:, :, 0] += ws - 1
		rel[:, :, 1] += ws - 1
		rel[:, :, 0] *= 2 * ws - 1
		self.register_buffer("relative_position_index", rel.sum(-1))
		self.qkv = nn.Linear(dim, 3 * dim)
		self.proj = nn.Linear(dim, dim)

	def forward(self, x, mask):
		B_, N, C = x.shape
		qkv = self.qkv(x).reshape(B_, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
		q, k, v = qkv[0], qkv[1], qkv[2]
		q = q * self.scale
		attn = q @ k.transpose(-2, -1)
		bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
		bias = bias.view(N, N, -1).permute(2, 0, 1).contiguous()
		attn = attn + bias.unsqueeze(0)
		if mask is not None:
			nW = mask.shape[0]
			attn = attn.view(B_ // nW, nW, self.heads, N, N) + mask.unsqueeze(1).unsqueeze(0)
			attn = attn.view(-1, self.heads, N, N)
		attn = attn.softmax(dim=-1)
		x = (attn @ v).transpose(1, 2).reshape(B_, N, C)
		return self.proj(x)


class SwinBlock(nn.Module):
	def __init__(self, dim, res, heads, ws, shift):
		super().__init__()
		self.res, self.ws, self.shift = res, ws, shift
		self.norm1 = nn.LayerNorm(dim)
		self.attn = WindowAttention(dim, ws, heads)
		self.norm2 = nn.LayerNorm(dim)
		self.mlp = Mlp(dim, 2 * dim)
		if shift > 0:
			H = W = res
			img = torch.zeros(1, H, W, 1)
			cnt = 0
			for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
				for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
					img[:, hs, wsl, :] = cnt
					cnt += 1
			mw = window_partition(img, ws).view(-1, ws * ws)
			mask = mw.unsqueeze(1) - mw.unsqueeze(2)
			mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
			self.register_buffer("attn_mask", mask)
		else:
			self.attn_mask = None

	def forward(self, x):
		H = W = self.res
		B, L, C = x.shape
		shortcut = x
		x = self.norm1(x).view(B, H, W, C)
		if self.shift > 0:
			x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
		xw = window_partition(x, self.ws).view(-1, self.ws * self.ws, C)
		aw = self.attn(xw, self.attn_mask).view(-1, self.ws, self.ws, C)
		x = window_reverse(aw, self.ws, H, W)
		if self.shift > 0:
			x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
		x = shortcut + x.view(B, H * W, C)
		return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
	def __init__(self, res, dim):
		super().__init__()
		self.res = res
		self.norm = nn.LayerNorm(4 * dim)
		self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

	def forward(self, x):
		H = W = self.res
		B, L, C = x.shape
		x = x.view(B, H, W, C)
		x0 = x[:, 0::2, 0::2, :]
		x1 = x[:, 1::2, 0::2, :]
		x2 = x[:, 0::2, 1::2, :]
		x3 = x[:, 1::2, 1::2, :]
		x = torch.cat([x0, x1, x2, x3], -1).view(B, -1, 4 * C)
		return self.reduction(self.norm(x))


class Swin(nn.Module):
	def __init__(self, dim=32, ws=4, heads=2, classes=10):
		super().__init__()
		self.patch = nn.Conv2d(3, dim, 2, stride=2)
		self.pnorm = nn.LayerNorm(dim)
		self.stage1 = nn.Sequential(SwinBlock(dim, 16, heads, ws, 0),
		                            SwinBlock(dim, 16, heads, ws, ws // 2))
		self.merge = PatchMerging(16, dim)
		self.stage2 = nn.Sequential(SwinBlock(2 * dim, 8, heads, ws, 0),
		                            SwinBlock(2 * dim, 8, heads, ws, ws // 2))
		self.norm = nn.LayerNorm(2 * dim)
		self.head = nn.Linear(2 * dim, classes)

	def forward(self, image):
		x = self.patch(image).flatten(2).transpose(1, 2)
		x = self.pnorm(x)
		x = self.stage2(self.merge(self.stage1(x)))
		return self.head(self.norm(x).mean(dim=1))


def make_swin():
	return Swin(), [("image", torch.randn(1, 3, 32, 32))], ["logits"]


# ---------------------------------------------------------------------------
# 2. Transformer-XL
# ---------------------------------------------------------------------------


class RelPartialAttn(nn.Module):
	"""Transformer-XL relative multi-head attention (post-norm), layout
	[len, batch, heads, d_head]."""

	def __init__(self, n_head, d_model, d_head, neg):
		super().__init__()
		self.n_head, self.d_head, self.neg = n_head, d_head, neg
		self.qkv_net = nn.Linear(d_model, 3 * n_head * d_head, bias=False)
		self.r_net = nn.Linear(d_model, n_head * d_head, bias=False)
		self.o_net = nn.Linear(n_head * d_head, d_model, bias=False)
		self.layer_norm = nn.LayerNorm(d_model)
		self.scale = 1 / (d_head ** 0.5)

	@staticmethod
	def rel_shift(x):
		zero_pad = torch.zeros((x.size(0), 1, *x.size()[2:]), dtype=x.dtype)
		x_padded = torch.cat([zero_pad, x], dim=1)
		x_padded = x_padded.view(x.size(1) + 1, x.size(0), *x.size()[2:])
		return x_padded[1:].view_as(x)

	def forward(self, w, r, r_w_bias, r_r_bias, attn_mask, mems):
		qlen, rlen, bsz = w.size(0), r.size(0), w.size(1)
		cat = torch.cat([mems, w], 0)
		w_heads = self.qkv_net(cat)
		r_head_k = self.r_net(r)
		w_head_q, w_head_k, w_head_v = torch.chunk(w_heads, 3, dim=-1)
		w_head_q = w_head_q[-qlen:]
		klen = w_head_k.size(0)
		w_head_q = w_head_q.view(qlen, bsz, self.n_head, self.d_head)
		w_head_k = w_head_k.view(klen, bsz, self.n_head, self.d_head)
		w_head_v = w_head_v.view(klen, bsz, self.n_head, self.d_head)
		r_head_k = r_head_k.view(rlen, self.n_head, self.d_head)
		AC = torch.einsum("ibnd,jbnd->ijbn", (w_head_q + r_w_bias, w_head_k))
		BD = torch.einsum("ibnd,jnd->ijbn", (w_head_q + r_r_bias, r_head_k))
		BD = self.rel_shift(BD)
		score = (AC + BD) * self.scale
		score = score.masked_fill(attn_mask[:, :, :, None], self.neg)
		prob = F.softmax(score, dim=1)
		vec = torch.einsum("ijbn,jbnd->ibnd", (prob, w_head_v))
		vec = vec.contiguous().view(qlen, bsz, self.n_head * self.d_head)
		return self.layer_norm(w + self.o_net(vec))


class PositionwiseFF(nn.Module):
	def __init__(self, d_model, d_inner):
		super().__init__()
		self.net = nn.Sequential(nn.Linear(d_model, d_inner), nn.ReLU(inplace=True),
		                         nn.Linear(d_inner, d_model))
		self.layer_norm = nn.LayerNorm(d_model)

	def forward(self, x):
		return self.layer_norm(x + self.net(x))


class TxlLayer(nn.Module):
	def __init__(self, n_head, d_model, d_head, d_inner, neg):
		super().__init__()
		self.dec_attn = RelPartialAttn(n_head, d_model, d_head, neg)
		self.pos_ff = PositionwiseFF(d_model, d_inner)

	def forward(self, w, r, rwb, rrb, mask, mems):
		return self.pos_ff(self.dec_attn(w, r, rwb, rrb, mask, mems))


class TransformerXL(nn.Module):
	def __init__(self, vocab=50, d_model=32, n_head=2, d_head=16, d_inner=64,
	             n_layer=2, qlen=4, mlen=4, use_triu=True, neg=float("-inf")):
		super().__init__()
		self.d_model, self.qlen, self.mlen, self.use_triu = d_model, qlen, mlen, use_triu
		self.word_emb = nn.Embedding(vocab, d_model)
		self.emb_scale = d_model ** 0.5
		self.r_w_bias = nn.Parameter(torch.randn(n_head, d_head) * 0.1)
		self.r_r_bias = nn.Parameter(torch.randn(n_head, d_head) * 0.1)
		self.layers = nn.ModuleList(TxlLayer(n_head, d_model, d_head, d_inner, neg)
		                            for _ in range(n_layer))
		self.out_layer = nn.Linear(d_model, vocab)
		inv_freq = 1 / (10000 ** (torch.arange(0.0, d_model, 2.0) / d_model))
		self.register_buffer("inv_freq", inv_freq)

	def forward(self, tokens, mems):
		qlen, bsz = tokens.shape
		mlen = mems.shape[1]
		klen = qlen + mlen
		word = self.word_emb(tokens) * self.emb_scale
		if self.use_triu:
			ones = torch.ones(qlen, klen)
			mask = torch.triu(ones, diagonal=1 + mlen).bool()[:, :, None]
		else:
			# Range/compare form (no Trilu before opset 14).
			kpos = torch.arange(klen)
			qpos = torch.arange(qlen) + mlen
			mask = (kpos[None, :] > qpos[:, None])[:, :, None]
		pos_seq = torch.arange(klen - 1, -1, -1.0)
		sinusoid = torch.ger(pos_seq, self.inv_freq)
		pos_emb = torch.cat([sinusoid.sin(), sinusoid.cos()], dim=-1)[:, None, :]
		hids = [word]
		core = word
		for i, layer in enumerate(self.layers):
			core = layer(core, pos_emb, self.r_w_bias, self.r_r_bias, mask, mems[i])
			hids.append(core)
		new_mems = []
		for i in range(len(self.layers)):
			cat = torch.cat([mems[i], hids[i]], dim=0)
			new_mems.append(cat[klen - self.mlen:klen])
		logits = self.out_layer(core)
		return logits, torch.stack(new_mems, 0)


def make_txl(bsz, use_triu, neg):
	def make():
		m = TransformerXL(use_triu=use_triu, neg=neg)
		tokens = torch.randint(0, 50, (m.qlen, bsz), dtype=torch.int64)
		mems = torch.randn(len(m.layers), m.mlen, bsz, m.d_model)
		return m, [("tokens", tokens), ("mems", mems)], ["logits", "new_mems"]
	return make


def txl_stream(m, inputs, nseg=4):
	"""4 segments: zero mems first, then PyTorch's own new_mems fed back."""
	tokens0 = inputs[0][1]
	mems = torch.zeros_like(inputs[1][1])
	segs = []
	for k in range(nseg):
		tokens = torch.randint(0, 50, tokens0.shape, dtype=torch.int64)
		logits, new_mems = (t.detach() for t in m(tokens, mems))
		segs.append(({"tokens": tokens, "mems": mems},
		             {"logits": logits, "new_mems": new_mems}))
		mems = new_mems
	return segs


# ---------------------------------------------------------------------------
# 3. SReT: conv stem, recursion with shared weights, group self-attention
# ---------------------------------------------------------------------------


class GroupAttention(nn.Module):
	"""Tokens permuted by a fixed permutation, split into G groups, attention
	within each group, inverse permutation."""

	def __init__(self, dim, heads, ntok, groups):
		super().__init__()
		self.groups = groups
		self.attn = Attention(dim, heads)
		perm = torch.randperm(ntok)
		self.register_buffer("perm", perm)
		self.register_buffer("inv_perm", torch.argsort(perm))

	def forward(self, x):
		B, N, C = x.shape
		G = self.groups
		x = torch.index_select(x, 1, self.perm)
		x = x.reshape(B * G, N // G, C)
		x = self.attn(x)
		x = x.reshape(B, N, C)
		return torch.index_select(x, 1, self.inv_perm)


class SretBlock(nn.Module):
	"""Transformer block with learnable residual coefficients on both
	branches of every residual."""

	def __init__(self, dim, heads, ntok, groups):
		super().__init__()
		self.norm1 = nn.LayerNorm(dim)
		self.attn = GroupAttention(dim, heads, ntok, groups)
		self.norm2 = nn.LayerNorm(dim)
		self.mlp = Mlp(dim, 2 * dim)
		self.a1 = nn.Parameter(torch.tensor(0.9))
		self.b1 = nn.Parameter(torch.tensor(1.1))
		self.a2 = nn.Parameter(torch.tensor(0.95))
		self.b2 = nn.Parameter(torch.tensor(0.8))

	def forward(self, x):
		x = x * self.a1 + self.attn(self.norm1(x)) * self.b1
		return x * self.a2 + self.mlp(self.norm2(x)) * self.b2


class NonLinearProj(nn.Module):
	def __init__(self, dim):
		super().__init__()
		self.norm = nn.LayerNorm(dim)
		self.fc = nn.Linear(dim, dim)
		self.act = nn.GELU()

	def forward(self, x):
		return self.act(self.fc(self.norm(x)))


class SretStage(nn.Module):
	def __init__(self, dim, heads, ntok, groups, recursions):
		super().__init__()
		self.block = SretBlock(dim, heads, ntok, groups)
		self.nll = NonLinearProj(dim)
		self.recursions = recursions

	def forward(self, x):
		for r in range(self.recursions):
			if r > 0:
				x = self.nll(x)
			x = self.block(x)
		return x


class Sret(nn.Module):
	def __init__(self, classes=10):
		super().__init__()
		chans = (16, 32, 64)
		layers, cin = [], 3
		for c in chans:
			layers += [nn.Conv2d(cin, c, 3, stride=2, padding=1, bias=False),
			           nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
			cin = c
		self.stem = nn.Sequential(*layers)
		self.stage1 = SretStage(64, 2, 64, 4, 3)       # 8x8 tokens, 4 groups
		self.trans = nn.Conv2d(64, 128, 3, stride=2, padding=1, groups=64)
		self.tnorm = nn.LayerNorm(128)
		self.stage2 = SretStage(128, 2, 16, 1, 2)      # 4x4 tokens, 1 group
		self.norm = nn.LayerNorm(128)
		self.head = nn.Linear(128, classes)

	def forward(self, image):
		x = self.stem(image)
		B, C, H, W = x.shape
		x = self.stage1(x.flatten(2).transpose(1, 2))
		x = x.transpose(1, 2).reshape(B, C, H, W)
		x = self.tnorm(self.trans(x).flatten(2).transpose(1, 2))
		x = self.stage2(x)
		return self.head(self.norm(x).mean(dim=1))


def make_sret():
	m = Sret()
	# Non-trivial BatchNorm statistics, so folding them matters.
	for mod in m.modules():
		if isinstance(mod, nn.BatchNorm2d):
			mod.running_mean.uniform_(-0.2, 0.2)
			mod.running_var.uniform_(0.5, 1.5)
			mod.weight.data.uniform_(0.8, 1.2)
			mod.bias.data.uniform_(-0.1, 0.1)
	return m, [("image", torch.randn(1, 3, 64, 64))], ["logits"]


# ---------------------------------------------------------------------------
# 4. Parallel-block / neural-ODE transformers, skip attention, depth LSTM
# ---------------------------------------------------------------------------


class ParallelBlock(nn.Module):
	"""f(x) = Attn(LN x) + MLP(LN x): the ODE right-hand side."""

	def __init__(self, dim, heads):
		super().__init__()
		self.norm = nn.LayerNorm(dim)
		self.attn = Attention(dim, heads)
		self.mlp = Mlp(dim, 2 * dim)

	def forward(self, x):
		y = self.norm(x)
		return self.attn(y) + self.mlp(y)


class OdeTransformer(nn.Module):
	def __init__(self, scheme, steps=2, dim=64, heads=2, classes=10, h=0.5):
		super().__init__()
		self.scheme, self.steps, self.h = scheme, steps, h
		self.f = ParallelBlock(dim, heads)
		self.norm = nn.LayerNorm(dim)
		self.head = nn.Linear(dim, classes)

	def step(self, x):
		f, h = self.f, self.h
		if self.scheme == "euler":
			return x + f(x) * h
		if self.scheme == "rk2":      # Heun
			k1 = f(x)
			k2 = f(x + k1 * h)
			return x + (k1 + k2) * (h / 2)
		k1 = f(x)                     # classic RK4
		k2 = f(x + k1 * (h / 2))
		k3 = f(x + k2 * (h / 2))
		k4 = f(x + k3 * h)
		return x + (k1 + k2 * 2.0 + k3 * 2.0 + k4) * (h / 6)

	def forward(self, embeddings):
		x = embeddings
		for _ in range(self.steps):
			x = self.step(x)
		return self.head(self.norm(x).mean(dim=1))


def make_ode(scheme):
	def make():
		return (OdeTransformer(scheme), [("embeddings", torch.randn(2, 16, 64))],
		        ["logits"])
	return make


class SkipLayer(nn.Module):
	def __init__(self, dim, heads):
		super().__init__()
		self.heads = heads
		self.scale = (dim // heads) ** -0.5
		self.norm1 = nn.LayerNorm(dim)
		self.q = nn.Linear(dim, dim)
		self.kv = nn.Linear(dim, 2 * dim)
		self.proj = nn.Linear(dim, dim)
		self.norm2 = nn.LayerNorm(dim)
		self.mlp = Mlp(dim, 2 * dim)

	def forward(self, x, prev):
		B, N, C = x.shape
		h = self.heads
		y = self.norm1(x)
		q = self.q(y).reshape(B, N, h, C // h).transpose(1, 2)
		kv = self.kv(y).reshape(B, N, 2, h, C // h).permute(2, 0, 3, 1, 4)
		k, v = kv[0], kv[1]
		kk, vv = k, v
		if prev is not None:
			kk = torch.cat([prev[0], k], dim=2)
			vv = torch.cat([prev[1], v], dim=2)
		attn = ((q @ kk.transpose(-2, -1)) * self.scale).softmax(dim=-1)
		x = x + self.proj((attn @ vv).transpose(1, 2).reshape(B, N, C))
		return x + self.mlp(self.norm2(x)), (k, v)


class SkipAttnNet(nn.Module):
	def __init__(self, dim=48, heads=2, depth=3, classes=10):
		super().__init__()
		self.layers = nn.ModuleList(SkipLayer(dim, heads) for _ in range(depth))
		self.norm = nn.LayerNorm(dim)
		self.head = nn.Linear(dim, classes)

	def forward(self, embeddings):
		x, prev = embeddings, None
		for layer in self.layers:
			x, prev = layer(x, prev)
		return self.head(self.norm(x).mean(dim=1))


def make_skip():
	return SkipAttnNet(), [("embeddings", torch.randn(1, 16, 48))], ["logits"]


class DepthLstmNet(nn.Module):
	"""Transformer layers whose outputs feed a depth-wise LSTM: each layer is
	one LSTM time step per token; the LSTM hidden state is the next layer's
	input."""

	def __init__(self, onnx_lstm, dim=48, heads=2, depth=3, classes=10):
		super().__init__()
		self.onnx_lstm = onnx_lstm
		self.layers = nn.ModuleList()
		for _ in range(depth):
			self.layers.append(nn.ModuleDict({
				"norm": nn.LayerNorm(dim), "attn": Attention(dim, heads),
				"norm2": nn.LayerNorm(dim), "mlp": Mlp(dim, 2 * dim)}))
		if onnx_lstm:
			self.lstm = nn.LSTM(dim, dim)
		else:
			self.wx = nn.Linear(dim, 4 * dim)
			self.wh = nn.Linear(dim, 4 * dim)
		self.norm = nn.LayerNorm(dim)
		self.head = nn.Linear(dim, classes)

	def cell(self, x, h, c):
		if self.onnx_lstm:
			out, (h, c) = self.lstm(x.unsqueeze(0), (h.unsqueeze(0), c.unsqueeze(0)))
			return h.squeeze(0), c.squeeze(0)
		g = self.wx(x) + self.wh(h)
		i, f, gg, o = torch.split(g, g.shape[-1] // 4, dim=-1)
		c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
		return torch.sigmoid(o) * torch.tanh(c), c

	def forward(self, embeddings):
		B, N, C = embeddings.shape
		x = embeddings
		h = x.reshape(B * N, C)
		c = torch.zeros(B * N, C)
		for L in self.layers:
			y = x + L["attn"](L["norm"](x))
			y = y + L["mlp"](L["norm2"](y))
			h, c = self.cell(y.reshape(B * N, C), h, c)
			x = h.reshape(B, N, C)
		return self.head(self.norm(x).mean(dim=1))


def make_lstm(onnx_lstm):
	def make():
		return (DepthLstmNet(onnx_lstm), [("embeddings", torch.randn(2, 8, 48))],
		        ["logits"])
	return make


# ---------------------------------------------------------------------------
# Baseline: nn.TransformerEncoder with an additive float padding mask
# ---------------------------------------------------------------------------


class Encoder(nn.Module):
	def __init__(self, d=32, heads=2, ff=64, layers=2):
		super().__init__()
		layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, batch_first=True)
		self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

	def forward(self, src, padding_mask):
		return self.enc(src, src_key_padding_mask=padding_mask)


def make_encoder():
	src = torch.randn(2, 8, 32)
	mask = torch.zeros(2, 8)
	mask[0, 6:] = float("-inf")     # sequence 0 has 6 tokens, 1 has 8
	return Encoder(), [("src", src), ("padding_mask", mask)], ["hidden"]


# ---------------------------------------------------------------------------
# torchvision's own SwinTransformer class at reduced width (the full swin_t
# runs in the bench): torch.roll shifts, padded windows, relative-position
# bias tables, PatchMerging — as torchvision writes them, not as we would
# ---------------------------------------------------------------------------


def make_swin_tv():
	from torchvision.models.swin_transformer import SwinTransformer
	m = SwinTransformer(patch_size=[4, 4], embed_dim=24, depths=[2, 2, 2],
	                    num_heads=[2, 2, 4], window_size=[4, 4],
	                    stochastic_depth_prob=0.0, num_classes=10)
	return m, [("image", torch.randn(1, 3, 64, 64))], ["logits"]


# ---------------------------------------------------------------------------
# The zoo
# ---------------------------------------------------------------------------

# name: (family, opset, factory, shared_weights, streaming)
ZOO = collections.OrderedDict([
	("pvt_opset17", ("cascade-pvt", 17, make_pvt, False, False)),
	("pvt_opset13", ("cascade-pvt", 13, make_pvt, False, False)),
	("swin_opset14", ("cascade-swin", 14, make_swin, False, False)),
	("txl_opset13_b1", ("transformer-xl", 13, make_txl(1, False, -1e30), False, True)),
	("txl_opset16_b1", ("transformer-xl", 16, make_txl(1, True, float("-inf")), False, True)),
	("txl_opset16_b2", ("transformer-xl", 16, make_txl(2, True, float("-inf")), False, True)),
	("sret_opset14", ("sret", 14, make_sret, True, False)),
	("ode_euler", ("parallel-ode", 14, make_ode("euler"), True, False)),
	("ode_rk2", ("parallel-ode", 16, make_ode("rk2"), True, False)),
	("ode_rk4", ("parallel-ode", 17, make_ode("rk4"), True, False)),
	("skip_attn", ("parallel-skip", 15, make_skip, False, False)),
	("lstm_depth_decomposed", ("parallel-lstm", 14, make_lstm(False), True, False)),
	("lstm_depth_onnx", ("parallel-lstm", 17, make_lstm(True), True, False)),
	("encoder_opset14", ("encoder", 14, make_encoder, False, False)),
	("swin_tv_mini", ("cascade-swin", 17, make_swin_tv, False, False)),
])


def seed_of(name):
	return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def tensor_info(name, arr):
	return {"name": name, "dtype": str(arr.dtype), "shape": list(arr.shape)}


def save_npys(dirpath, named):
	os.makedirs(dirpath, exist_ok=True)
	for n, t in named.items():
		np.save(os.path.join(dirpath, n + ".npy"), t.detach().numpy())


def init_stats(model):
	"""Initializer bytes: total, and unique by content (shared weights the
	exporter emits once count once either way)."""
	seen = set()
	total = unique = 0
	for init in model.graph.initializer:
		arr = onnx.numpy_helper.to_array(init)
		total += arr.nbytes
		key = (arr.dtype.str, arr.shape, hashlib.sha256(arr.tobytes()).hexdigest())
		if key not in seen:
			seen.add(key)
			unique += arr.nbytes
	return len(model.graph.initializer), total, unique


def export_one(name):
	family, opset, factory, shared, stream = ZOO[name]
	torch.manual_seed(seed_of(name))
	module, inputs, out_names = factory()
	module.eval()
	args = tuple(t for _, t in inputs)
	# Reference and export both run with autograd enabled: under no_grad
	# nn.TransformerEncoder takes its fused fast path, which has no ONNX
	# export; this way the reference is the path that was exported.
	outs = module(*args)
	if isinstance(outs, torch.Tensor):
		outs = (outs,)
	outs = tuple(o.detach() for o in outs)
	d = os.path.join(ROOT, name)
	shutil.rmtree(d, ignore_errors=True)
	os.makedirs(d)
	path = os.path.join(d, "model.onnx")
	torch.onnx.export(module, args, path, opset_version=opset,
	                  do_constant_folding=True,
	                  input_names=[n for n, _ in inputs],
	                  output_names=out_names)
	model = onnx.load(path)
	onnx.checker.check_model(model, full_check=True)
	save_npys(os.path.join(d, "inputs"), dict(inputs))
	save_npys(os.path.join(d, "outputs"), dict(zip(out_names, outs)))

	nstream = 0
	if stream:
		segs = txl_stream(module, inputs)
		nstream = len(segs)
		for k, (ins, o) in enumerate(segs):
			sd = os.path.join(d, "stream", "seg%d" % k)
			save_npys(os.path.join(sd, "inputs"), ins)
			save_npys(os.path.join(sd, "outputs"), o)

	ninit, total, unique = init_stats(model)
	ops = collections.Counter(n.op_type for n in model.graph.node)
	meta = {
		"name": name,
		"family": family,
		"opset": opset,
		"inputs": [tensor_info(n, t.numpy()) for n, t in inputs],
		"outputs": [tensor_info(n, t.detach().numpy()) for n, t in zip(out_names, outs)],
		"shared_weights": shared,
		"stream_segments": nstream,
		"initializers": ninit,
		"init_bytes": total,
		"init_unique_bytes": unique,
		"nodes": len(model.graph.node),
		"ops": dict(sorted(ops.items())),
		"torch": torch.__version__,
		"onnx": onnx.__version__,
		"seed": seed_of(name),
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
		if stream:
			f.write("stream %d mems new_mems\n" % nstream)
	size = os.path.getsize(path)
	print("%-24s opset %2d  %4d nodes  %6.0f KiB  init %d B (unique %d B)" %
	      (name, opset, len(model.graph.node), size / 1024, total, unique))
	assert size < 4 << 20, name + ": model larger than 4 MB"


# The bundled demo (examples/): a copy of one zoo model with its input and
# PyTorch's output, so `make demo` works from a fresh checkout.
DEMO = ("pvt_opset17", os.path.join(ROOT, "..", "..", "examples", "pvt"))


def copy_demo():
	name, dest = DEMO
	src = os.path.join(ROOT, name)
	shutil.rmtree(dest, ignore_errors=True)
	os.makedirs(os.path.join(dest, "inputs"))
	os.makedirs(os.path.join(dest, "expected"))
	shutil.copy(os.path.join(src, "model.onnx"), dest)
	shutil.copy(os.path.join(src, "meta.json"), dest)
	for sub, out in (("inputs", "inputs"), ("outputs", "expected")):
		for f in sorted(os.listdir(os.path.join(src, sub))):
			shutil.copy(os.path.join(src, sub, f), os.path.join(dest, out, f))
	print("demo: %s -> %s" % (name, os.path.relpath(dest, os.getcwd())))


def main(argv):
	names = argv or list(ZOO)
	for n in names:
		if n not in ZOO:
			sys.exit("export.py: unknown model '%s' (known: %s)" % (n, " ".join(ZOO)))
	torch.set_num_threads(1)
	for n in names:
		export_one(n)
	if DEMO[0] in names:
		copy_demo()


if __name__ == "__main__":
	main(sys.argv[1:])
