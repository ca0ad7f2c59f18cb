#!/usr/bin/python3
"""scripts/fit_mathf32.py — polynomial coefficients of codegen/mathfn.c's
float-arithmetic f32 erf, erfc, tanh and GELU.

    /usr/bin/python3 scripts/fit_mathf32.py

Prints the C tables (coefficients highest degree first, rounded to float)
and the fit error of each with the rounded coefficients.  Needs numpy and
mpmath.  Reference values come from mpmath at 40 digits; the fit is a
near-minimax polynomial obtained by Lawson's iteratively reweighted least
squares (absolute error) on a Chebyshev grid.

  erfc_s      S(t) ~ ((1+2x) exp(x^2) erfc(x) - 1)/(1+t),  t = (x-3)/(x+3),
              x in [0, 10.06] (t in [-1, 0.541]); the form is
              M. M. Shepherd and J. G. Laframboise, "Chebyshev approximation
              of (1+2x)exp(x^2)erfc x in 0 <= x < infinity", Math. Comp. 36
              (1981) 249-253, with our own fit for f32 accuracy:
              erfc(x) = exp(-x^2) (1 + (1+t) S(t)) / (1+2x)
              (P = (1+t) S vanishes at x = 0, so its rounding error does
              too: 1 + P is not rounded at all, see mathfn.c)
  erf_tab     erf in 8 pieces chosen by k = floor(2|x|), |x| < 3.92:
              k = 0: Q(z) ~ erf(x)/x - 1, z = x^2 (|x| < 0.5), erf = x + x Q;
              k = 1..7: P_k(u) ~ erf(u + mid_k), u = |x| - mid_k on
              [k/2, (k+1)/2) (the last up to 3.92), mid_k a float near the
              middle whose erf rounds to float with almost no error (the
              constant term's rounding cannot be absorbed by the fit);
              all pieces padded with leading zeros to 8 coefficients, so
              that one Horner loop with per-lane coefficients serves all
  gelu_tab    GELU's h(a) = Phi(-a) = erfc(a/sqrt2)/2, a = |x| in [0, 6), in
              8 pieces of width 0.75 chosen by k = floor(a * 4/3): P_k(u) ~
              h(u + mid_k), u = a - mid_k, mid_k a float near the middle
              whose h rounds to float with almost no error, degree 7,
              fitted for absolute error (GELU(x) = x Phi(x), Phi = 1 - h
              for x >= 0, h below; h < 1e-9 from 6 on, where it is 0)
  gelu16_tab  the same h for AVX-512 code in 16 pieces of degree 5, one
              vpermps of a 16-lane register per coefficient: t = a S + 2
              (S = 0.96875), piece (bits(t) >> 20) mod 16 = the exponent
              and top 3 mantissa bits of t: 8 pieces of width 0.25/S on
              [0, 2/S), 8 of width 0.5/S on [2/S, 6/S); P_k(u) ~ h(u +
              mid_k), u = a - mid_k, mid_k as gelu_tab's (each fit a little
              beyond its piece on both sides: t rounds)
  tanh_small  R(z) ~ (tanh(x)/x - 1)/z,   z = x^2, |x| <= 0.55:
              tanh(x) = x + x*(z*R(z))
"""
import numpy as np
import mpmath as mp

mp.mp.dps = 40


def lawson(f, a, b, deg, n=2000, iters=40):
	"""Near-minimax polynomial (numpy order, highest first) of f on [a,b]
	with float coefficients, and its max error.  The coefficients are
	rounded to float one at a time from the constant term up, the higher
	ones refitted after each rounding (so they absorb its error)."""
	k = np.arange(n)
	xs = (a + b) / 2 + (b - a) / 2 * np.cos(np.pi * (k + 0.5) / n)
	xs = np.concatenate([xs, [a, b]])
	ys = np.array([float(f(mp.mpf(float(x)))) for x in xs])
	V = np.vander(xs, deg + 1)
	fixed = np.zeros(deg + 1)
	nfix = 0   # the last nfix coefficients (lowest degrees) are fixed
	while True:
		free = deg + 1 - nfix
		Vf = V[:, :free]
		rhs = ys - V[:, free:] @ fixed[free:]
		w = np.ones(len(xs)) / len(xs)
		for _ in range(iters):
			sw = np.sqrt(w)
			c, *_ = np.linalg.lstsq(Vf * sw[:, None], rhs * sw, rcond=None)
			e = np.abs(Vf @ c - rhs)
			w = w * (e + 1e-300)
			w /= w.sum()
		if free == 0:
			break
		fixed[free - 1] = float(np.float32(c[free - 1]))
		nfix += 1
	err = np.max(np.abs(V @ fixed - ys))
	return fixed, err


def emit(name, comment, c, err, scale):
	print("/* %s; max fit error %.3g (%.4f ulp of the result) */" % (comment, err, err / scale))
	print("static const float %s[%d] = {" % (name, len(c)))
	line = "\t"
	for v in c:
		s = "%.9gf, " % v
		if len(line) + len(s) > 78:
			print(line.rstrip())
			line = "\t"
		line += s
	print(line.rstrip())
	print("};")


def erf_q(z):
	if z == 0:
		return 2 / mp.sqrt(mp.pi) - 1
	x = mp.sqrt(z)
	return mp.erf(x) / x - 1


def erfc_p(t, K=3):
	x = K * (1 + t) / (1 - t)
	return (1 + 2 * x) * mp.exp(x * x) * mp.erfc(x) - 1


def erfc_s(t, K=3):
	if t == -1:   # P'(-1) = (d/dx)P(0) * dx/dt(-1) = (2 - 2/sqrt(pi)) * K/2
		return (2 - 2 / mp.sqrt(mp.pi)) * K / 2
	return erfc_p(t, K) / (1 + t)


def tanh_r(z):
	if z == 0:
		return mp.mpf(-1) / 3
	x = mp.sqrt(z)
	return (mp.tanh(x) / x - 1) / z


ERF_ONE = 3.92   # float erf(x) rounds to 1 from here on (mathfn.c ERF_F32_ONE)


def erf_mid(lo, hi):
	"""A float near (lo+hi)/2 whose erf is closest to a float (relative to
	the ulp 2^-24), within Sterbenz's range (x - mid exact on [lo, hi))."""
	cen = (lo + hi) / 2
	best = None
	for i in range(-4000, 4001):
		m = float(np.float32(cen + i * 1e-5))
		if not (hi / 2 <= m <= 2 * lo):
			continue
		r = mp.erf(m)
		score = float(abs(mp.mpf(float(np.float32(float(r)))) - r) / 2.0 ** -24) + abs(m - cen)
		if best is None or score < best[0]:
			best = (score, m)
	return best[1]


def gelu_h(a):
	return mp.erfc(a / mp.sqrt(2)) / 2


def gelu_mid(lo, hi):
	"""A float near (lo+hi)/2 whose h rounds to float with almost no error
	(as erf_mid; x - mid exact on [lo, hi) for lo > 0)."""
	cen = (lo + hi) / 2
	best = None
	for i in range(-4000, 4001):
		m = float(np.float32(cen + i * 1e-5))
		if lo > 0 and not (hi / 2 <= m <= 2 * lo):
			continue
		r = gelu_h(m)
		ulp = 2.0 ** (int(mp.floor(mp.log(r, 2))) - 23)
		score = float(abs(mp.mpf(float(np.float32(float(r)))) - r) / ulp) + abs(m - cen)
		if best is None or score < best[0]:
			best = (score, m)
	return best[1]


def gelu_pieces(title, decl, pieces, deg, hi_pad, iters):
	"""Fits h(u + mid_k) of degree deg on each piece [lo, hi) (widened by
	1e-6 below and hi_pad above) and prints the table `decl`: one row per
	coefficient, highest first, then the row of the mid_k."""
	gp = []
	for lo, hi in pieces:
		mid = gelu_mid(lo, hi)
		c, e = lawson(lambda u, mid=mid: gelu_h(u + mid),
			lo - mid - 1e-6, hi - mid + hi_pad, deg, n=800, iters=iters)
		gp.append((list(c), mid, e))
	print("/* %s: fit errors (absolute) %s */" % (title, ", ".join("%.3g" % p[2] for p in gp)))
	print("static const double " + decl)
	for i in range(deg + 1):
		print("\t{" + ", ".join("%.9g" % p[0][i] for p in gp) + "},")
	print("\t{" + ", ".join("%.9g" % p[1] for p in gp) + "},")
	print("};")


def main():
	# x beyond which float erfc(x) rounds to +0 (erfc < 2^-150)
	lo, hi = mp.mpf(9), mp.mpf(11)
	for _ in range(200):
		mid = (lo + hi) / 2
		if mp.erfc(mid) < mp.mpf(2) ** -150:
			hi = mid
		else:
			lo = mid
	print("/* erfc(x) < 2^-150 (rounds to +0 in float) for x > %.9g */" % lo)
	tmax = (10.06 - 3) / (10.06 + 3)
	c, e = lawson(erfc_s, -1.0, tmax, 9, n=1500, iters=30)
	# P = (1+t) S with 1+t <= 1.55; the ulp of 1 + P is 2^-23
	emit("erfc_s_f32", "((1+2x) exp(x^2) erfc(x) - 1)/(1+t) in t = (x-3)/(x+3), x in [0, 10.06]",
		c, e * 1.55, 2.0 ** -23)
	# erf in 8 pieces by k = floor(2|x|) (mathfn.c erf_f32); erf ~ 0.52-1
	# above 0.5, ulp 2^-24.  Exhaustively checked in float (every x in
	# [-4.5, 4.5], with and without FMA) against double erf: test_mathfn
	# test_erf_pieces, max 0.649 ulp with FMA, 0.779 without.
	c, e = lawson(erf_q, 0.0, 0.25, 4)
	# piece 0: Q; the ulp of erf(x)/x ~ 1.1 is 2^-23
	pieces = [([0.0] * 3 + list(c), 0.0, e / 2.0 ** -23)]
	for k in range(1, 8):
		lo, hi = k / 2, min((k + 1) / 2, ERF_ONE)
		mid = erf_mid(lo, hi)
		c, e = lawson(lambda u, mid=mid: mp.erf(u + mid), lo - mid, hi - mid, 7, n=800, iters=25)
		pieces.append((list(c), mid, e / 2.0 ** -24))
	print("/* erf pieces k = floor(2|x|): fit errors (ulp) %s */" % ", ".join("%.3f" % p[2] for p in pieces))
	print("static const double erf_tab_f32[9][8] = {   /* [coefficient, highest first][piece]; row 8: mid_k */")
	for i in range(8):
		print("\t{" + ", ".join("%.9g" % p[0][i] for p in pieces) + "},")
	print("\t{" + ", ".join("%.9g" % p[1] for p in pieces) + "},")
	print("};")
	# GELU (mathfn.c gelu_f32): absolute error of h; the ulp of Phi in
	# [0.5, 1] is 2^-24 (h's own rounding comes on top)
	# a little beyond each piece: k = floor(a * 4/3) in float can round
	# a just below a boundary into the next piece
	gelu_pieces("GELU h pieces k = floor(4|x|/3)",
		"gelu_tab_f32[9][8] = {   /* [coefficient, highest first][piece]; row 8: mid_k */",
		[(0.75 * k, 0.75 * (k + 1)) for k in range(8)], 7, 0.0, 25)
	# GELU in 16 pieces (mathfn.c gelu16_f32), degree 5
	S = 0.96875
	gelu_pieces("GELU h in 16 pieces",
		"gelu16_tab_f32[7][16] = {   /* rows 0..5: coefficients; row 6: mid_k */",
		[(0.25 * k / S, 0.25 * (k + 1) / S) if k < 8 else
		 ((2 + 0.5 * (k - 8)) / S, (2.5 + 0.5 * (k - 8)) / S) for k in range(16)], 5, 1e-6, 40)
	c, e = lawson(tanh_r, 0.0, 0.55 ** 2, 5)
	# the term z*R is at most 0.1 of tanh(x)/x ~ 1
	emit("tanh_small_f32", "(tanh(x)/x - 1)/x^2 in z = x^2, |x| <= 0.55", c, e, 2.0 ** -23 / 0.3025)


if __name__ == "__main__":
	main()
