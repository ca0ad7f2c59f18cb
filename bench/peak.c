/* bench/peak.c — measured fp32 FMA peak of one core.
 *
 *     cc -O2 -o peak bench/peak.c && ./peak [SECONDS]
 *
 * Runs a loop of independent fused multiply-adds on the widest vector unit
 * the CPU has: 16 accumulators of 16 floats in zmm registers (AVX-512F)
 * when __builtin_cpu_supports("avx512f"), else 12 accumulators of 8 floats
 * in ymm registers (AVX2 + FMA).  16 (12) independent chains cover the FMA
 * latency times the number of FMA pipes of current x86 cores (4 cycles x 2
 * pipes), so the loop is bound by FMA throughput alone.  Each FMA counts as
 * 2 FLOP per lane.  The kernels carry target attributes instead of global
 * -mavx512f/-mfma flags, so the binary also runs (and falls back) on a CPU
 * without AVX-512.
 *
 * The machine is shared, so the loop runs as many short repetitions of
 * about 2 ms (SECONDS in all, default 1): a short repetition often runs
 * within one scheduler time slice, undisturbed.  The best repetition is
 * reported, by wall clock and by this thread's CPU time (which excludes
 * time spent descheduled); the peak is the CPU-time figure when it is
 * within 10% of the wall-clock one, else the wall-clock figure.
 * Output: human-readable lines, then one last line
 *     peak_gflops G isa NAME
 * Exit status: 0 ok, 1 no AVX2+FMA (nothing to measure), 2 usage.
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: excludes time spent descheduled by other jobs. */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs iters iterations of 16 independent zmm FMAs; returns a value that
 * depends on every accumulator (so the loop is not dead code). */
__attribute__((target("avx512f"), noinline)) static float fma_avx512(long iters)
{
	__m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
	__m512 a0 = _mm512_set1_ps(0.1f), a1 = _mm512_set1_ps(0.2f), a2 = _mm512_set1_ps(0.3f),
	       a3 = _mm512_set1_ps(0.4f), a4 = _mm512_set1_ps(0.5f), a5 = _mm512_set1_ps(0.6f),
	       a6 = _mm512_set1_ps(0.7f), a7 = _mm512_set1_ps(0.8f), a8 = _mm512_set1_ps(0.9f),
	       a9 = _mm512_set1_ps(1.0f), a10 = _mm512_set1_ps(1.1f), a11 = _mm512_set1_ps(1.2f),
	       a12 = _mm512_set1_ps(1.3f), a13 = _mm512_set1_ps(1.4f), a14 = _mm512_set1_ps(1.5f),
	       a15 = _mm512_set1_ps(1.6f);
	for (long i = 0; i < iters; i++) {
		a0 = _mm512_fmadd_ps(a0, b, c);
		a1 = _mm512_fmadd_ps(a1, b, c);
		a2 = _mm512_fmadd_ps(a2, b, c);
		a3 = _mm512_fmadd_ps(a3, b, c);
		a4 = _mm512_fmadd_ps(a4, b, c);
		a5 = _mm512_fmadd_ps(a5, b, c);
		a6 = _mm512_fmadd_ps(a6, b, c);
		a7 = _mm512_fmadd_ps(a7, b, c);
		a8 = _mm512_fmadd_ps(a8, b, c);
		a9 = _mm512_fmadd_ps(a9, b, c);
		a10 = _mm512_fmadd_ps(a10, b, c);
		a11 = _mm512_fmadd_ps(a11, b, c);
		a12 = _mm512_fmadd_ps(a12, b, c);
		a13 = _mm512_fmadd_ps(a13, b, c);
		a14 = _mm512_fmadd_ps(a14, b, c);
		a15 = _mm512_fmadd_ps(a15, b, c);
	}
	__m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
	                         _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
	s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)),
	                                   _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15))));
	return _mm512_reduce_add_ps(s);
}

/* The same with 12 independent ymm FMAs (AVX2 + FMA). */
__attribute__((target("avx2,fma"), noinline)) static float fma_avx2(long iters)
{
	__m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
	__m256 a0 = _mm256_set1_ps(0.1f), a1 = _mm256_set1_ps(0.2f), a2 = _mm256_set1_ps(0.3f),
	       a3 = _mm256_set1_ps(0.4f), a4 = _mm256_set1_ps(0.5f), a5 = _mm256_set1_ps(0.6f),
	       a6 = _mm256_set1_ps(0.7f), a7 = _mm256_set1_ps(0.8f), a8 = _mm256_set1_ps(0.9f),
	       a9 = _mm256_set1_ps(1.0f), a10 = _mm256_set1_ps(1.1f), a11 = _mm256_set1_ps(1.2f);
	for (long i = 0; i < iters; i++) {
		a0 = _mm256_fmadd_ps(a0, b, c);
		a1 = _mm256_fmadd_ps(a1, b, c);
		a2 = _mm256_fmadd_ps(a2, b, c);
		a3 = _mm256_fmadd_ps(a3, b, c);
		a4 = _mm256_fmadd_ps(a4, b, c);
		a5 = _mm256_fmadd_ps(a5, b, c);
		a6 = _mm256_fmadd_ps(a6, b, c);
		a7 = _mm256_fmadd_ps(a7, b, c);
		a8 = _mm256_fmadd_ps(a8, b, c);
		a9 = _mm256_fmadd_ps(a9, b, c);
		a10 = _mm256_fmadd_ps(a10, b, c);
		a11 = _mm256_fmadd_ps(a11, b, c);
	}
	__m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
	                         _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
	s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
	float v[8];
	_mm256_storeu_ps(v, s);
	return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

int main(int argc, char **argv)
{
	double seconds = 1.0;
	if (argc > 2 || (argc == 2 && ((seconds = atof(argv[1])) <= 0 || seconds > 60))) {
		fprintf(stderr, "usage: peak [SECONDS]   (0 < SECONDS <= 60, default 1)\n");
		return 2;
	}
	__builtin_cpu_init();
	float (*kernel)(long);
	const char *isa;
	int acc, lanes;
	if (__builtin_cpu_supports("avx512f")) {
		kernel = fma_avx512;
		isa = "avx512f";
		acc = 16;
		lanes = 16;
	} else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		kernel = fma_avx2;
		isa = "avx2+fma";
		acc = 12;
		lanes = 8;
	} else {
		fprintf(stderr, "peak: this CPU has neither AVX-512F nor AVX2+FMA\n");
		return 1;
	}
	double flop_per_iter = 2.0 * acc * lanes;
	/* Calibrate the iteration count to about REP_S per repetition. */
	const double REP_S = 0.002;
	long iters = 1 << 10;
	volatile float sink = 0;
	for (;;) {
		double t0 = now_s();
		sink += kernel(iters);
		double dt = now_s() - t0;
		if (dt >= 0.01 || iters > (1L << 40)) {
			iters = (long)((double)iters * REP_S / (dt > 0 ? dt : 1e-9)) + 1;
			break;
		}
		iters *= 2;
	}
	int reps = (int)(seconds / REP_S);
	double best_wall = 0, best_cpu = 0, t_end = now_s() + 3 * seconds;
	for (int r = 0; r < reps && now_s() < t_end; r++) {
		double w0 = now_s(), c0 = cpu_s();
		sink += kernel(iters);
		double w = now_s() - w0, c = cpu_s() - c0;
		double flop = (double)iters * flop_per_iter;
		if (w > 0 && flop / w > best_wall)
			best_wall = flop / w;
		if (c > 0 && flop / c > best_cpu)
			best_cpu = flop / c;
	}
	best_wall *= 1e-9;
	best_cpu *= 1e-9;
	/* Thread CPU time has a tick granularity on some kernels: trust it only
	 * when it is within 10% of the wall-clock figure of a quiet repetition. */
	double peak = best_cpu > 0 && best_cpu < best_wall * 1.1 ? best_cpu : best_wall;
	printf("fp32 FMA loop, one core, %s: %d accumulators x %d lanes, %d repetitions of %.1f ms\n",
	       isa, acc, lanes, reps, REP_S * 1e3);
	printf("best repetition: %.1f GFLOP/s by wall clock, %.1f GFLOP/s by thread CPU time\n",
	       best_wall, best_cpu);
	printf("peak_gflops %.1f isa %s\n", peak, isa);
	return sink == -1.0f; /* never: keeps the results alive */
}
