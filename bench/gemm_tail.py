#!/usr/bin/python3
"""bench/gemm_tail.py — where a profile's GEMM micro-kernel samples fall:
inside the k loop, in other loops (the GELU epilogue's loop over rows),
or in the straight code before and after them (C and residual loads,
prefetches, stores, the epilogue's arithmetic, address set-up).

    python3 bench/gemm_tail.py PERF_DATA [-v] [MIN_PCT]

PERF_DATA: `perf record -e task-clock` of an onnxcc-run.  For every
`gemm_MRxNR.N` symbol with at least MIN_PCT (default 0.3) % of the
samples it reads `perf annotate --stdio -s SYMBOL` (lines "percent :
address : instruction"), takes the address ranges of backward jumps as
loops, the one with the most samples as the k loop, and prints per
kernel the shares (of the kernel) in the k loop, other loops, before and
after; then the straight code's samples in % of the whole profile by
kind of instruction.  -v also lists the straight code's instructions
with at least 0.3 % of their kernel.
"""
import collections
import re
import subprocess
import sys


def annotate(data, sym):
    out = subprocess.run(["perf", "annotate", "-i", data, "--stdio", "-s", sym],
                         capture_output=True, text=True).stdout
    rows = []
    for ln in out.splitlines():
        m = re.match(r"\s*([0-9.]+)\s*:\s*([0-9a-f]+):\s*(.*)$", ln)
        if m:
            rows.append((float(m.group(1)), int(m.group(2), 16), m.group(3).strip()))
    return rows


def loops(rows):
    res = []
    for _, addr, ins in rows:
        m = re.match(r"j\w+\s+([0-9a-f]+)\b", ins)
        if m and int(m.group(1), 16) <= addr:
            res.append((int(m.group(1), 16), addr))
    return res


def kind(ins):
    op = ins.split()[0] if ins else "?"
    mem = "(" in ins
    if op.startswith("prefetch"):
        return "prefetch"
    if op.startswith("vmov") and mem:
        last = ins.split(",")[-1]
        return "vector store" if "(" in last else "vector load"
    if op.startswith(("vfmadd", "vbroadcast")):
        return "fma / broadcast"
    if op.startswith(("vadd", "vmul", "vmax", "vsub")):
        return "epilogue arith" + (" (memory operand)" if mem else "")
    if op.startswith("vxor"):
        return "zeroing"
    return "scalar (address set-up, spills, call)"


def main():
    args = [a for a in sys.argv[1:] if a != "-v"]
    verbose = "-v" in sys.argv[1:]
    data = args[0]
    minpct = float(args[1]) if len(args) > 1 else 0.3
    rep = subprocess.run(["perf", "report", "-i", data, "--sort", "symbol", "--stdio"],
                         capture_output=True, text=True).stdout
    syms = []
    for ln in rep.splitlines():
        m = re.match(r"\s*([0-9.]+)%\s+\[\.\]\s+(\S+gemm_\d+x\d+\.\d+)\s", ln)
        if m and float(m.group(1)) >= minpct:
            syms.append((float(m.group(1)), m.group(2)))
    tot = collections.Counter()
    kinds = collections.Counter()
    print(f"{'kernel':32s} {'% prof':>6s} {'k loop':>6s} {'loops':>6s} {'before':>6s} {'after':>6s}")
    for w, sym in syms:
        rows = annotate(data, sym)
        ls = loops(rows)
        if not ls:
            continue
        share = lambda r: sum(p for p, a, _ in rows if r[0] <= a <= r[1])
        k = max(ls, key=share)
        inside = lambda a, r: r[0] <= a <= r[1]
        others = [r for r in ls if not (r[0] >= k[0] and r[1] <= k[1])]
        sh = collections.Counter()
        for p, a, ins in rows:
            if inside(a, k):
                sh["k"] += p
            elif any(inside(a, r) for r in others):
                sh["loops"] += p
            else:
                sh["before" if a < k[0] else "after"] += p
                kinds[kind(ins)] += w * p / 100
                if verbose and p >= 0.3:
                    print(f"      {p:5.2f} {a:x} {ins}")
        for c in sh:
            tot[c] += w * sh[c] / 100
        tot["gemm"] += w
        print(f"{sym:32s} {w:6.2f} {sh['k']:6.1f} {sh['loops']:6.1f} {sh['before']:6.1f} {sh['after']:6.1f}")
    print(f"% of the profile: gemm kernels {tot['gemm']:.2f}, k loops {tot['k']:.2f}, other loops "
          f"{tot['loops']:.2f}, straight code {tot['before'] + tot['after']:.2f} "
          f"(before {tot['before']:.2f}, after {tot['after']:.2f})")
    for c, v in kinds.most_common():
        print(f"  {c:40s} {v:5.2f}")


if __name__ == "__main__":
    main()
