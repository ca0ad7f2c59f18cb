/* bench/gemm/dnnl_gemm.c — times oneDNN's dnnl_sgemm, the GEMM anchor.
 *
 *     cc -O2 -o dnnl_gemm bench/gemm/dnnl_gemm.c -ldnnl
 *     OMP_NUM_THREADS=1 ./dnnl_gemm M K N [SECONDS]
 *
 * C[M,N] = A[M,K] * B[K,N], row-major f32, alpha 1, beta 0, no transposes,
 * the same product as a one-MatMul ONNX model.  A and B hold pseudo-random
 * values in [-1, 1).  One untimed warm-up call, then calls timed one by one
 * (monotonic clock) until SECONDS (default 1) have passed, at least 5 and at
 * most 1000 calls.  Debian's libdnnl runs on OpenMP: OMP_NUM_THREADS sets
 * its thread count (the bench uses 1).
 * Last line, the format of `onnxcc-run --repeat` plus the rates:
 *     {"median_ms": M, "min_ms": m, "runs": N, "gflops_median": G, "gflops_best": B}
 * Exit status: 0 ok, 1 usage, 2 oneDNN or allocation failure.
 */
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static long parse_dim(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	return *s && !*end && v >= 1 && v <= 65536 ? v : -1;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: dnnl_gemm M K N [SECONDS]\n");
		return 1;
	}
	long M = parse_dim(argv[1]), K = parse_dim(argv[2]), N = parse_dim(argv[3]);
	double budget = argc == 5 ? atof(argv[4]) : 1.0;
	if (M < 0 || K < 0 || N < 0 || !(budget > 0 && budget <= 600)) {
		fprintf(stderr, "dnnl_gemm: M, K, N must be integers in [1, 65536], SECONDS in (0, 600]\n");
		return 1;
	}
	float *A = malloc((size_t)(M * K) * sizeof *A);
	float *B = malloc((size_t)(K * N) * sizeof *B);
	float *C = malloc((size_t)(M * N) * sizeof *C);
	enum { MAXRUNS = 1000 };
	double *t = malloc(MAXRUNS * sizeof *t);
	if (!A || !B || !C || !t) {
		fprintf(stderr, "dnnl_gemm: out of memory\n");
		return 2;
	}
	unsigned s = 12345;
	for (long i = 0; i < M * K; i++)
		A[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / (float)(1u << 23) - 1.0f;
	for (long i = 0; i < K * N; i++)
		B[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / (float)(1u << 23) - 1.0f;

	dnnl_status_t st = dnnl_sgemm('N', 'N', M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
	if (st != dnnl_success) {
		fprintf(stderr, "dnnl_gemm: dnnl_sgemm failed with status %d\n", (int)st);
		return 2;
	}
	int n = 0;
	double start = now_ms();
	while (n < MAXRUNS && (n < 5 || now_ms() - start < budget * 1e3)) {
		double t0 = now_ms();
		dnnl_sgemm('N', 'N', M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
		t[n++] = now_ms() - t0;
	}
	qsort(t, (size_t)n, sizeof *t, cmp_double);
	double med = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
	double flop = 2.0 * (double)M * (double)N * (double)K;
	printf("{\"median_ms\": %.6g, \"min_ms\": %.6g, \"runs\": %d, \"gflops_median\": %.1f, "
	       "\"gflops_best\": %.1f, \"check\": %g}\n",
	       med, t[0], n, flop / med * 1e-6, flop / t[0] * 1e-6, (double)C[(M * N) / 2]);
	free(A);
	free(B);
	free(C);
	free(t);
	return 0;
}
