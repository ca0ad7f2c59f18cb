#!/usr/bin/python3
"""bench/gemm/op_cost.py — throughput of single 512-bit operations, alone
and paired with FMAs or vpermps (docs/kernels.md, "The GELU epilogue's
operation count on Zen 4").

    /usr/bin/python3 bench/gemm/op_cost.py [CC]

Writes a C file with one inline-assembly loop per case (16 independent
operations per iteration, each writing its own register, sources never
written), builds it with CC (default cc) -O2 -mavx512f -mavx512dq, runs
it and prints TSC ticks per operation (the fastest of 15 runs of 8M
operations: a shared machine's time slices inflate single runs) and the
cost relative to vfmadd231ps.  Needs an AVX-512 (F, DQ) CPU.
"""

import os
import subprocess
import sys
import tempfile

OPS = {
	"fma": "vfmadd231ps %%zmm0,%%zmm1,%%zmm{d}",
	"perm": "vpermps %%zmm0,%%zmm1,%%zmm{d}",
	"pt2": "vmovaps %%zmm30,%%zmm{d}\\n vpermt2ps %%zmm0,%%zmm1,%%zmm{d}",
	"reduce": "vreduceps $24,%%zmm0,%%zmm{d}",
	"range": "vrangeps $2,%%zmm1,%%zmm0,%%zmm{d}",
	"fixup": "vfixupimmps $0,%%zmm1,%%zmm0,%%zmm{d}",
	"add": "vaddps %%zmm1,%%zmm0,%%zmm{d}",
	"mul": "vmulps %%zmm1,%%zmm0,%%zmm{d}",
	"srl": "vpsrld $20,%%zmm0,%%zmm{d}",
	"and": "vandps %%zmm1,%%zmm0,%%zmm{d}",
	"cmp": "vcmpltps %%zmm1,%%zmm0,%%k{k}",
	"getmant": "vgetmantps $0,%%zmm0,%%zmm{d}",
	"rndscale": "vrndscaleps $0,%%zmm0,%%zmm{d}",
	"cvt": "vcvtps2dq %%zmm0,%%zmm{d}",
	"ternlog": "vpternlogd $0x96,%%zmm1,%%zmm0,%%zmm{d}",
	"paddd": "vpaddd %%zmm1,%%zmm0,%%zmm{d}",
	"min": "vminps %%zmm1,%%zmm0,%%zmm{d}",
}
PAIRS = [(a, b) for a in ("fma", "perm") for b in OPS if b not in ("fma", a)]


def case(ops):
	body = "".join(OPS[ops[i % len(ops)]].format(d=2 + i, k=2 + i % 6) + "\\n" for i in range(16))
	clob = ",".join('"xmm%d"' % i for i in range(2, 18)) + ',"k2","k3","k4","k5","k6","k7"'
	return ('{ double t = 1e30; for (int rep = 0; rep < REPS; rep++) { uint64_t t0 = __rdtsc();\n'
		'  for (long i = 0; i < N / 16; i++) __asm__ volatile("%s" ::: %s);\n'
		'  double tr = (double)(__rdtsc() - t0) / N; if (tr < t) t = tr; }\n'
		'  if (!fma) fma = t;\n'
		'  printf("%%-16s %%6.3f ticks/op  %%5.2f FMA\\n", "%s", t, t / fma); }\n' % (body, clob, "+".join(ops)))


def main(argv):
	cc = argv[0] if argv else "cc"
	src = ["#include <stdint.h>", "#include <stdio.h>", "#include <x86intrin.h>", "#define N 8000000L", "#define REPS 15",
		"int main(void) {", "double fma = 0;",
		'__asm__ volatile("vpxord %%zmm0,%%zmm0,%%zmm0\\n vpxord %%zmm1,%%zmm1,%%zmm1\\n'
		' vpxord %%zmm30,%%zmm30,%%zmm30\\n" ::: "xmm0", "xmm1", "xmm30");']
	src += [case([o]) for o in OPS] + [case(list(p)) for p in PAIRS]
	src.append("return 0; }")
	with tempfile.TemporaryDirectory() as d:
		c, exe = os.path.join(d, "op_cost.c"), os.path.join(d, "op_cost")
		with open(c, "w") as f:
			f.write("\n".join(src))
		subprocess.run([cc, "-O2", "-mavx512f", "-mavx512dq", c, "-o", exe], check=True)
		print("ticks: TSC; pairs alternate the two operations (cost per operation)")
		subprocess.run([exe], check=True)


if __name__ == "__main__":
	main(sys.argv[1:])
