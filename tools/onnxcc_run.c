/* tools/onnxcc_run.c — runs a model compiled by onnxcc as a shared library.
 *
 *   onnxcc-run LIB.so [--input NAME=FILE.npy]... [--output-dir DIR]
 *                     [--repeat N] [--threads T] [--quiet] [--cpu-time]
 *                     [--profile] [--profile-json FILE]
 *
 * Finds the descriptor `onnxcc_model` (runtime/onnxcc_model.h) in LIB,
 * checks every input file against it (name, dtype, shape), runs the model
 * once, writes each output to DIR/NAME.npy and prints one summary line per
 * output; with --repeat N it then times N more runs.  The descriptor is
 * validated before use (counts, ranks, dims, nbytes == numel * element
 * size); each output goes to a temporary renamed into place, and a failed
 * write removes the outputs already written.  With --profile (a model
 * compiled with onnxcc --profile-nodes) the timed runs go through its
 * run_profiled entry with a hook that reads the clock around each node,
 * and a per-node and a per-op-type table follow.  Exit status: 0 ok,
 * 1 usage or input error, 2 the model's run function failed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "npy.h"
#include "onnxcc_model.h"
#include "onnxcc_pool.h"

#ifndef ONNXCC_VERSION
#define ONNXCC_VERSION "unknown"
#endif

enum { EXIT_USAGE = 1, EXIT_RUN = 2 };

static const char usage_text[] =
	"usage: onnxcc-run LIB.so [--input NAME=FILE.npy]... [--output-dir DIR]\n"
	"                  [--repeat N] [--threads T] [--quiet] [--cpu-time]\n"
	"                  [--profile] [--profile-json FILE]\n"
	"\n"
	"Runs a model compiled by onnxcc into a shared library (onnxcc -o LIB.so).\n"
	"\n"
	"  --input NAME=FILE.npy  value of the model input NAME; every input must be\n"
	"                         given, with the dtype and shape the model was\n"
	"                         compiled for (run with no --input to list them)\n"
	"  --output-dir DIR       where each output is written as NAME.npy (default:\n"
	"                         the current directory; created if missing).\n"
	"                         Characters other than letters, digits, '.', '-'\n"
	"                         and '_' in NAME become '_' (a numbered suffix\n"
	"                         keeps two outputs apart); bfloat16 outputs are\n"
	"                         written as float32\n"
	"  --repeat N             after the first (warm-up) run, time N more runs and\n"
	"                         print {\"median_ms\": X, \"min_ms\": Y, \"runs\": N}\n"
	"  --threads T            run on T threads (default 1): the calling thread\n"
	"                         and T-1 workers of runtime/onnxcc_pool.c, lent\n"
	"                         to the model through its run_parallel entry;\n"
	"                         results are bitwise the same for every T\n"
	"  --quiet                do not print the per-output summary lines\n"
	"  --cpu-time             time the runs (and --profile's nodes) by the\n"
	"                         calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID)\n"
	"                         instead of CLOCK_MONOTONIC: time the CPU spends on\n"
	"                         other jobs is left out (their share of the caches\n"
	"                         is not).  With --threads 1 only: the workers' time\n"
	"                         would be missing\n"
	"  --profile              time every node of the model (compiled with onnxcc\n"
	"                         --profile-nodes; an error otherwise) over the timed\n"
	"                         runs of --repeat (10 if not given) and print, after\n"
	"                         the JSON line, the nodes by time (median and mean ms\n"
	"                         per run, share of the nodes' medians, GFLOP/s where\n"
	"                         the model counts the node's FLOPs, op type, name)\n"
	"                         and the sums per op type.  The model reads no clock:\n"
	"                         onnxcc-run's hook does (CLOCK_MONOTONIC, or that of\n"
	"                         --cpu-time) on the\n"
	"                         calling thread, so with --threads T a node's time\n"
	"                         is its wall time; the JSON line then times the\n"
	"                         profiled runs\n"
	"  --profile-json FILE    the same profile (every node in schedule order, and\n"
	"                         per op type) as JSON in FILE; implies --profile\n"
	"  --help, --version\n"
	"\n"
	"For each output one line is printed: NAME: dtype[shape] min=.. max=.. mean=..\n"
	"LIB without a '/' is looked up as ./LIB, not on the library search path.\n"
	"Exit status: 0 success, 1 usage or input error, 2 the model's run failed.\n";

static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "onnxcc-run: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(onnxcc-run --help for usage)\n");
}

/* Meaning of a status code returned by a run function. */
static const char *status_str(int st)
{
	switch (st) {
	case ONNXCC_OK: return "ONNXCC_OK";
	case ONNXCC_ERR_NULL: return "ONNXCC_ERR_NULL: a required buffer pointer was NULL";
	case ONNXCC_ERR_ALIGN: return "ONNXCC_ERR_ALIGN: workspace not aligned to 16 bytes";
	default: return "unknown status code";
	}
}

static void print_tensor_info(FILE *f, const OnnxccTensorInfo *t)
{
	char sh[512];
	fprintf(f, "  %s: %s%s\n", t->name, onnxcc_dtype_name(t->dtype),
	        onnxcc_shape_str(t->rank, t->shape, sh, sizeof sh));
}

static void list_inputs(FILE *f, const OnnxccModel *m)
{
	fprintf(f, "the model's inputs are:\n");
	for (uint32_t i = 0; i < m->ninputs; i++)
		print_tensor_info(f, &m->inputs[i]);
	if (m->ninputs == 0)
		fprintf(f, "  (none)\n");
}

/* Output file name: letters, digits, '.', '-', '_' kept; others -> '_';
 * a name of only dots (or empty) gets a leading '_'. */
static void sanitize(const char *name, char *out, size_t n)
{
	size_t k = 0;
	bool only_dots = true;
	for (const char *p = name; *p && k + 1 < n; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
		out[k++] = ok ? c : '_';
		if (c != '.')
			only_dots = false;
	}
	out[k] = 0;
	if (only_dots && k + 2 < n) {
		memmove(out + 1, out, k + 1);
		out[0] = '_';
	}
}

/* The clock of the timed runs and of the profile hook: CLOCK_MONOTONIC, or
 * with --cpu-time the calling thread's CPU time. */
static clockid_t run_clock = CLOCK_MONOTONIC;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(run_clock, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static bool parse_count(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static void *aligned_buffer(uint64_t nbytes)
{
	size_t n = (size_t)((nbytes + 63) / 64 * 64);
	return aligned_alloc(64, n ? n : 64);
}

/* Bounds on what a descriptor may claim (far above any real model). */
enum { MAX_TENSORS = 1 << 16, MAX_NAME = 4096 };
#define MAX_BYTES ((uint64_t)1 << 52)

/* Checks one tensor of the descriptor before anything is sized from it:
 * a name, a known dtype, rank within .npy's limit, dims >= 0, and nbytes
 * equal to the product of the shape times the element size (no overflow).
 * Prints the problem and returns false. */
static bool check_info(const char *lib, const char *kind, uint32_t i, const OnnxccTensorInfo *t)
{
	const char *why = NULL;
	char buf[160];
	size_t es = onnxcc_dtype_size(t->dtype);
	uint64_t numel = 1;
	if (!t->name || memchr(t->name, 0, MAX_NAME) == NULL)
		why = "no name (or a name over 4096 bytes)";
	else if (es == 0)
		why = "unknown dtype";
	else if (t->rank < 0 || t->rank > ONNXCC_NPY_MAX_RANK)
		why = "rank out of range";
	else if (t->rank > 0 && !t->shape)
		why = "no shape";
	for (int32_t d = 0; !why && d < t->rank; d++) {
		if (t->shape[d] < 0)
			why = "negative dimension";
		else if (__builtin_mul_overflow(numel, (uint64_t)t->shape[d], &numel) ||
		         numel > MAX_BYTES)
			why = "shape too large";
	}
	if (!why && numel * es != t->nbytes) {
		snprintf(buf, sizeof buf, "nbytes %llu differs from shape x element size (%llu)",
		         (unsigned long long)t->nbytes, (unsigned long long)(numel * es));
		why = buf;
	}
	if (why) {
		fprintf(stderr, "onnxcc-run: %s: invalid descriptor: %s %u: %s\n", lib, kind,
		        (unsigned)i, why);
		return false;
	}
	return true;
}

/* Checks the whole descriptor (counts, arrays, every tensor, workspace). */
static bool check_model(const char *lib, const OnnxccModel *m)
{
	const char *why = NULL;
	if (m->ninputs > MAX_TENSORS || m->noutputs > MAX_TENSORS)
		why = "more than 65536 inputs or outputs";
	else if ((m->ninputs && !m->inputs) || (m->noutputs && !m->outputs))
		why = "no tensor array";
	else if (m->workspace_size > MAX_BYTES)
		why = "workspace too large";
	if (why) {
		fprintf(stderr, "onnxcc-run: %s: invalid descriptor: %s\n", lib, why);
		return false;
	}
	for (uint32_t i = 0; i < m->ninputs; i++)
		if (!check_info(lib, "input", i, &m->inputs[i]))
			return false;
	for (uint32_t i = 0; i < m->noutputs; i++)
		if (!check_info(lib, "output", i, &m->outputs[i]))
			return false;
	return true;
}

/* Removes the first n output files already written (each was complete:
 * onnxcc_npy_write renames a finished temporary into place), so that a
 * failed run leaves no partial set of outputs. */
static void remove_outputs(const char *outdir, char (*fnames)[256], uint32_t n)
{
	for (uint32_t j = 0; j < n; j++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s.npy", outdir, fnames[j]);
		unlink(path);
	}
}

typedef struct InputArg {
	const char *arg;   /* NAME=FILE as given */
	int index;         /* model input, -1 until matched */
	const char *file;
} InputArg;

/* Splits NAME=FILE: at the first '=' whose prefix names a model input
 * (names may contain '='), else at the first '='. */
static bool match_input(const OnnxccModel *m, InputArg *ia)
{
	const char *eq = strchr(ia->arg, '=');
	if (!eq)
		return false;
	for (const char *p = eq; p; p = strchr(p + 1, '=')) {
		size_t n = (size_t)(p - ia->arg);
		for (uint32_t i = 0; i < m->ninputs; i++) {
			if (strlen(m->inputs[i].name) == n &&
			    memcmp(m->inputs[i].name, ia->arg, n) == 0) {
				ia->index = (int)i;
				ia->file = p + 1;
				return true;
			}
		}
	}
	ia->index = -1;
	ia->file = eq + 1;
	return true;
}

/* ---- per-node profile (--profile) ---------------------------------------- */

enum { MAX_NODES = 1 << 24 };

/* The hook's state: the current run's row of per-node ms, the node begun. */
typedef struct Prof {
	uint32_t nnodes;
	double *row;       /* [nnodes] of the current run */
	double begin;
	uint32_t open;     /* node begun and not ended, or UINT32_MAX */
	uint32_t next;     /* node expected to begin next */
	bool bad;          /* a report out of order */
} Prof;

/* OnnxccNodeHook.call: one clock reading per report. */
static void prof_hook(void *ctx, uint32_t node, int32_t event)
{
	double t = now_ms();
	Prof *p = ctx;
	if (event == ONNXCC_NODE_BEGIN) {
		if (node != p->next || p->open != UINT32_MAX || node >= p->nnodes) {
			p->bad = true;   /* (and row[node] is never written) */
			return;
		}
		p->open = node;
		p->begin = t;
	} else if (event == ONNXCC_NODE_END && node == p->open) {
		p->row[node] += t - p->begin;
		p->open = UINT32_MAX;
		p->next = node + 1;
	} else {
		p->bad = true;
	}
}

/* Checks the node table (version 3 descriptors with --profile). */
static bool check_nodes(const char *lib, const OnnxccModel *m)
{
	if (m->abi_version < 3 || !m->run_profiled) {
		fprintf(stderr, "onnxcc-run: %s: --profile: the model was not compiled for per-node "
		        "profiling (compile it with onnxcc --profile-nodes)\n", lib);
		return false;
	}
	const char *why = NULL;
	if (m->nnodes > MAX_NODES)
		why = "more than 2^24 nodes";
	else if (m->nnodes && !m->nodes)
		why = "no node table";
	for (uint32_t i = 0; !why && i < m->nnodes; i++)
		if (!m->nodes[i].name || !m->nodes[i].op_type || !memchr(m->nodes[i].name, 0, MAX_NAME) ||
		    !memchr(m->nodes[i].op_type, 0, MAX_NAME))
			why = "a node without a name or op type (or one over 4096 bytes)";
	if (why) {
		fprintf(stderr, "onnxcc-run: %s: invalid descriptor: %s\n", lib, why);
		return false;
	}
	return true;
}

static double median_of(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct NodeStat {
	uint32_t index;
	double mean, median, min;
} NodeStat;

typedef struct TypeStat {
	const char *op_type;
	uint32_t nodes;
	double mean, median;       /* sums of the nodes' */
	uint64_t flops;
	bool all_counted;   /* every node of the type has a FLOP count */
} TypeStat;

/* Slowest first, by median (robust to a run another process slowed). */
static int cmp_node_median(const void *a, const void *b)
{
	const NodeStat *x = a, *y = b;
	return (x->median < y->median) - (x->median > y->median);
}

static int cmp_type_median(const void *a, const void *b)
{
	const TypeStat *x = a, *y = b;
	return (x->median < y->median) - (x->median > y->median);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* GFLOP/s of flops in ms (flops 0: not counted, "-"). */
static void print_gflops(uint64_t flops, double ms)
{
	if (flops && ms > 0)
		printf(" %8.1f", (double)flops / ms * 1e-6);
	else
		printf(" %8s", "-");
}

/* Prints the per-node and per-op-type tables from t[run * nnodes + node]
 * (ms) and the runs' wall times (walls, their median wall_median), and
 * writes them as JSON to json_path (NULL: none).  Returns false when the
 * JSON file cannot be written. */
static bool report_profile(const OnnxccModel *m, const double *t, const double *walls, long runs,
                           double wall_median, long threads, const char *json_path)
{
	uint32_t n = m->nnodes;
	NodeStat *ns = calloc((size_t)n + 1, sizeof *ns);
	TypeStat *ts = calloc((size_t)n + 1, sizeof *ts);
	double *col = malloc((size_t)runs * sizeof *col);
	bool ok = true;
	if (!ns || !ts || !col) {
		fprintf(stderr, "onnxcc-run: out of memory\n");
		ok = false;
		goto done;
	}
	double wall_mean = 0, nodes_mean = 0, nodes_median = 0;
	for (long r = 0; r < runs; r++)
		wall_mean += walls[r] / (double)runs;
	uint32_t nt = 0;
	for (uint32_t i = 0; i < n; i++) {
		double sum = 0;
		for (long r = 0; r < runs; r++)
			sum += col[r] = t[(size_t)r * n + i];
		ns[i].index = i;
		ns[i].mean = sum / (double)runs;
		ns[i].median = median_of(col, (size_t)runs);
		ns[i].min = col[0];   /* (median_of sorted col) */
		nodes_mean += ns[i].mean;
		nodes_median += ns[i].median;
		const OnnxccNodeInfo *ni = &m->nodes[i];
		uint32_t k = 0;
		while (k < nt && strcmp(ts[k].op_type, ni->op_type))
			k++;
		if (k == nt)
			ts[nt++] = (TypeStat){ni->op_type, 0, 0, 0, 0, true};
		ts[k].nodes++;
		ts[k].mean += ns[i].mean;
		ts[k].median += ns[i].median;
		ts[k].flops += ni->flops;
		ts[k].all_counted &= ni->flops != 0;
	}
	if (json_path) {
		FILE *f = fopen(json_path, "w");
		if (!f) {
			fprintf(stderr, "onnxcc-run: --profile-json %s: %s\n", json_path, strerror(errno));
			ok = false;
			goto done;
		}
		fprintf(f, "{\"model\": ");
		json_str(f, m->name ? m->name : "");
		fprintf(f, ", \"runs\": %ld, \"threads\": %ld, \"run_mean_ms\": %.6g, "
		        "\"run_median_ms\": %.6g, \"nodes_mean_ms\": %.6g,\n \"nodes\": [", runs,
		        threads, wall_mean, wall_median, nodes_mean);
		for (uint32_t i = 0; i < n; i++) {
			fprintf(f, "%s\n  {\"index\": %u, \"name\": ", i ? "," : "", i);
			json_str(f, m->nodes[i].name);
			fprintf(f, ", \"op_type\": ");
			json_str(f, m->nodes[i].op_type);
			fprintf(f, ", \"flops\": %llu, \"mean_ms\": %.6g, \"median_ms\": %.6g, \"min_ms\": %.6g}",
			        (unsigned long long)m->nodes[i].flops, ns[i].mean, ns[i].median, ns[i].min);
		}
		fprintf(f, "],\n \"op_types\": [");
		for (uint32_t k = 0; k < nt; k++) {
			fprintf(f, "%s\n  {\"op_type\": ", k ? "," : "");
			json_str(f, ts[k].op_type);
			fprintf(f, ", \"nodes\": %u, \"median_ms\": %.6g, \"mean_ms\": %.6g, \"flops\": %llu}",
			        ts[k].nodes, ts[k].median, ts[k].mean, (unsigned long long)ts[k].flops);
		}
		fprintf(f, "]}\n");
		if (fclose(f) != 0) {
			fprintf(stderr, "onnxcc-run: --profile-json %s: %s\n", json_path, strerror(errno));
			ok = false;
			goto done;
		}
	}
	/* Medians per run: a node's median ms and its share of the nodes'
	 * medians' sum (a run slowed by another process does not shift it);
	 * an op type's sum of its nodes' medians. */
	qsort(ns, n, sizeof *ns, cmp_node_median);
	qsort(ts, nt, sizeof *ts, cmp_type_median);
	double pc = nodes_median > 0 ? 100 / nodes_median : 0;
	printf("per-node profile: %u nodes, %ld timed runs, %ld thread%s; run median %.4g ms, "
	       "mean %.4g ms; nodes' medians sum to %.4g ms (%%)\n", n, runs, threads,
	       threads > 1 ? "s" : "", wall_median, wall_mean, nodes_median);
	printf("%10s %10s %6s %6s %8s  %-24s %s\n", "median_ms", "mean_ms", "%", "cum%", "GFLOP/s",
	       "op_type", "name");
	double cum = 0;
	for (uint32_t j = 0; j < n; j++) {
		const OnnxccNodeInfo *ni = &m->nodes[ns[j].index];
		cum += ns[j].median;
		printf("%10.4f %10.4f %6.2f %6.2f", ns[j].median, ns[j].mean, ns[j].median * pc, cum * pc);
		print_gflops(ni->flops, ns[j].median);
		printf("  %-24s %s\n", ni->op_type, *ni->name ? ni->name : "(no name)");
	}
	/* (by means, in % of the mean run: medians do not add up) */
	printf("%10s %10.4f %6.2f %6s %8s  (the run less its nodes, by means, %% of the mean run: "
	       "checks, output copies, the hook)\n", "", wall_mean - nodes_mean,
	       wall_mean > 0 ? (wall_mean - nodes_mean) * 100 / wall_mean : 0, "", "");
	printf("per-op-type summary:\n");
	printf("%10s %10s %6s %6s %8s  %s\n", "median_ms", "mean_ms", "%", "nodes", "GFLOP/s", "op_type");
	for (uint32_t k = 0; k < nt; k++) {
		printf("%10.4f %10.4f %6.2f %6u", ts[k].median, ts[k].mean, ts[k].median * pc, ts[k].nodes);
		print_gflops(ts[k].all_counted ? ts[k].flops : 0, ts[k].median);
		printf("  %s\n", ts[k].op_type);
	}
	fflush(stdout);
done:
	free(ns);
	free(ts);
	free(col);
	return ok;
}

static int run_model(const OnnxccModel *m, void **in, void **out, void *ws, const OnnxccParallel *par)
{
	if (par)
		return m->run_parallel((const void *const *)in, out, ws, par);
	return m->run((const void *const *)in, out, ws);
}

int main(int argc, char **argv)
{
	OnnxccPool *pool = NULL;
	OnnxccParallel par = {0};
	const char *lib = NULL, *outdir = ".";
	long repeat = 0, threads = 1;
	bool quiet = false, profile = false;
	const char *profile_json = NULL;
	InputArg *ins = calloc((size_t)argc, sizeof *ins);
	int nins = 0;
	int rc = EXIT_USAGE;
	if (!ins) {
		fprintf(stderr, "onnxcc-run: out of memory\n");
		return EXIT_USAGE;
	}

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		/* --opt VALUE and --opt=VALUE */
		const char *opts[] = {"--input", "--output-dir", "--repeat", "--threads", "--profile-json"};
		int opt = -1;
		for (int k = 0; k < 5; k++) {
			size_t n = strlen(opts[k]);
			if (strncmp(a, opts[k], n) == 0 && (a[n] == 0 || a[n] == '=')) {
				opt = k;
				if (a[n] == '=') {
					val = a + n + 1;
				} else if (i + 1 < argc) {
					val = argv[++i];
				} else {
					usage_error("%s needs a value", opts[k]);
					goto out;
				}
			}
		}
		if (opt == 0) {
			if (!strchr(val, '=')) {
				usage_error("--input expects NAME=FILE.npy, got '%s'", val);
				goto out;
			}
			ins[nins++] = (InputArg){val, -1, NULL};
		} else if (opt == 1) {
			outdir = val;
		} else if (opt == 2) {
			if (!parse_count(val, 1, 1000000000L, &repeat)) {
				usage_error("--repeat expects a count >= 1, got '%s'", val);
				goto out;
			}
		} else if (opt == 3) {
			if (!parse_count(val, 1, 1 << 20, &threads)) {
				usage_error("--threads expects a count >= 1, got '%s'", val);
				goto out;
			}
		} else if (opt == 4) {
			profile_json = val;
			profile = true;
		} else if (strcmp(a, "--profile") == 0) {
			profile = true;
		} else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
			quiet = true;
		} else if (strcmp(a, "--cpu-time") == 0) {
			run_clock = CLOCK_THREAD_CPUTIME_ID;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_text, stdout);
			rc = 0;
			goto out;
		} else if (strcmp(a, "--version") == 0) {
			printf("onnxcc-run %s (model ABI %u)\n", ONNXCC_VERSION, ONNXCC_ABI_VERSION);
			rc = 0;
			goto out;
		} else if (a[0] == '-' && a[1] != 0) {
			usage_error("unknown option '%s'", a);
			goto out;
		} else if (!lib) {
			lib = a;
		} else {
			usage_error("unexpected argument '%s' (one library only)", a);
			goto out;
		}
	}
	if (!lib) {
		usage_error("%s", "no model library given");
		goto out;
	}
	if (run_clock == CLOCK_THREAD_CPUTIME_ID && threads > 1) {
		usage_error("%s", "--cpu-time times the calling thread only: use it with --threads 1");
		goto out;
	}

	/* dlopen searches the library path for names without '/'; we mean a
	 * file in the current directory. */
	char libpath[4096];
	snprintf(libpath, sizeof libpath, "%s%s", strchr(lib, '/') ? "" : "./", lib);
	/* dlopen would block on a FIFO: the path must name a regular file
	 * (opened non-blocking to look, as every file onnxcc reads) */
	int lfd = open(libpath, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (lfd < 0) {
		fprintf(stderr, "onnxcc-run: cannot load %s: %s\n", libpath, strerror(errno));
		goto out;
	}
	struct stat lst;
	bool regular = fstat(lfd, &lst) == 0 && S_ISREG(lst.st_mode);
	close(lfd);
	if (!regular) {
		fprintf(stderr, "onnxcc-run: cannot load %s: not a regular file\n", libpath);
		goto out;
	}
	void *dl = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "onnxcc-run: cannot load %s: %s\n", libpath, dlerror());
		goto out;
	}
	const OnnxccModel *m = dlsym(dl, "onnxcc_model");
	if (!m) {
		fprintf(stderr, "onnxcc-run: %s: no symbol 'onnxcc_model': not a shared "
		        "library built by onnxcc\n", libpath);
		goto out;
	}
	if (m->abi_version < ONNXCC_ABI_VERSION_MIN || m->abi_version > ONNXCC_ABI_VERSION) {
		fprintf(stderr, "onnxcc-run: %s: model ABI version %u, this onnxcc-run "
		        "supports %u to %u; rebuild the model or use a matching onnxcc-run\n",
		        libpath, m->abi_version, ONNXCC_ABI_VERSION_MIN, ONNXCC_ABI_VERSION);
		goto out;
	}
	if (!m->run || (threads > 1 && !m->run_parallel)) {
		fprintf(stderr, "onnxcc-run: %s: descriptor has no run function\n", libpath);
		goto out;
	}
	if (!check_model(libpath, m) || (profile && !check_nodes(libpath, m)))
		goto out;
	if (profile && repeat == 0)
		repeat = 10;

	/* Match --input arguments to model inputs. */
	int *given_by = calloc(m->ninputs + 1, sizeof *given_by);
	OnnxccNpy *arrays = calloc(m->ninputs + 1, sizeof *arrays);
	void **inbufs = calloc(m->ninputs + 1, sizeof *inbufs);
	void **outbufs = calloc(m->noutputs + 1, sizeof *outbufs);
	void *ws = NULL;
	void **first = NULL;
	double *times = NULL, *ptimes = NULL;
	Prof prof = {0};
	OnnxccNodeHook hook = {prof_hook, &prof};
	if (!given_by || !arrays || !inbufs || !outbufs)
		goto oom;
	for (uint32_t i = 0; i < m->ninputs; i++)
		given_by[i] = -1;
	for (int k = 0; k < nins; k++) {
		match_input(m, &ins[k]);
		if (ins[k].index < 0) {
			size_t n = (size_t)(ins[k].file - 1 - ins[k].arg);
			fprintf(stderr, "onnxcc-run: --input %.*s: the model has no input named "
			        "'%.*s'; ", (int)n, ins[k].arg, (int)n, ins[k].arg);
			list_inputs(stderr, m);
			goto cleanup;
		}
		if (given_by[ins[k].index] >= 0) {
			fprintf(stderr, "onnxcc-run: input '%s' given twice\n",
			        m->inputs[ins[k].index].name);
			goto cleanup;
		}
		given_by[ins[k].index] = k;
	}
	bool missing = false;
	for (uint32_t i = 0; i < m->ninputs; i++) {
		if (given_by[i] < 0) {
			fprintf(stderr, "onnxcc-run: input '%s' not given (--input %s=FILE.npy)\n",
			        m->inputs[i].name, m->inputs[i].name);
			missing = true;
		}
	}
	if (missing) {
		list_inputs(stderr, m);
		goto cleanup;
	}

	/* Load and check each input. */
	for (uint32_t i = 0; i < m->ninputs; i++) {
		const OnnxccTensorInfo *t = &m->inputs[i];
		const char *file = ins[given_by[i]].file;
		char err[1024], want[512], got[512];
		if (!onnxcc_npy_read(file, &arrays[i], err, sizeof err)) {
			fprintf(stderr, "onnxcc-run: input '%s': %s\n", t->name, err);
			goto cleanup;
		}
		OnnxccNpy *a = &arrays[i];
		bool shape_ok = a->rank == t->rank;
		for (int32_t d = 0; shape_ok && d < t->rank; d++)
			shape_ok = a->shape[d] == t->shape[d];
		if (a->dtype != t->dtype || !shape_ok) {
			fprintf(stderr, "onnxcc-run: input '%s': %s holds %s%s, the model expects %s%s\n",
			        t->name, file, onnxcc_dtype_name(a->dtype),
			        onnxcc_shape_str(a->rank, a->shape, got, sizeof got),
			        onnxcc_dtype_name(t->dtype),
			        onnxcc_shape_str(t->rank, t->shape, want, sizeof want));
			goto cleanup;
		}
		/* The descriptor's nbytes is the buffer size the model may touch. */
		if (t->nbytes > a->nbytes) {
			inbufs[i] = aligned_buffer(t->nbytes);
			if (!inbufs[i])
				goto oom;
			memset(inbufs[i], 0, (size_t)t->nbytes);
			memcpy(inbufs[i], a->data, (size_t)a->nbytes);
		} else {
			inbufs[i] = a->data;
		}
	}
	for (uint32_t i = 0; i < m->noutputs; i++) {
		outbufs[i] = aligned_buffer(m->outputs[i].nbytes);
		if (!outbufs[i])
			goto oom;
		memset(outbufs[i], 0, (size_t)m->outputs[i].nbytes);
	}
	ws = aligned_buffer(m->workspace_size);
	if (!ws)
		goto oom;

	if (threads > 1) {
		pool = onnxcc_pool_create((int)threads);
		if (!pool) {
			fprintf(stderr, "onnxcc-run: cannot start %ld threads: %s\n", threads, strerror(errno));
			rc = EXIT_RUN;
			goto cleanup;
		}
		par = onnxcc_pool_parallel(pool);
	}
	int st = run_model(m, inbufs, outbufs, ws, pool ? &par : NULL);
	if (st != ONNXCC_OK) {
		fprintf(stderr, "onnxcc-run: %s: run failed with status %d (%s)\n", libpath,
		        st, status_str(st));
		rc = EXIT_RUN;
		goto cleanup;
	}

	/* Write the outputs; two names that sanitize alike get a suffix. */
	struct stat sb;
	if (stat(outdir, &sb) != 0) {
		if (mkdir(outdir, 0777) != 0) {
			fprintf(stderr, "onnxcc-run: cannot create output directory %s: %s\n",
			        outdir, strerror(errno));
			goto cleanup;
		}
	} else if (!S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "onnxcc-run: --output-dir %s is not a directory\n", outdir);
		goto cleanup;
	}
	char (*fnames)[256] = calloc(m->noutputs + 1, sizeof *fnames);
	if (!fnames)
		goto oom;
	for (uint32_t i = 0; i < m->noutputs; i++) {
		const OnnxccTensorInfo *t = &m->outputs[i];
		char base[200];
		sanitize(t->name, base, sizeof base);
		snprintf(fnames[i], sizeof fnames[i], "%s", base);
		for (uint32_t j = 0, n = 2; j < i; j++) {
			if (strcmp(fnames[j], fnames[i]) == 0) {
				snprintf(fnames[i], sizeof fnames[i], "%s_%u", base, n++);
				j = (uint32_t)-1;   /* re-check against all earlier names */
			}
		}
		char path[4096], err[1024];
		snprintf(path, sizeof path, "%s/%s.npy", outdir, fnames[i]);
		uint64_t numel = 1;
		for (int32_t d = 0; d < t->rank; d++)
			numel *= (uint64_t)t->shape[d];
		/* NumPy has no bfloat16: such outputs are written as float32,
		 * which holds every bfloat16 value exactly. */
		int32_t wdt = t->dtype == 16 ? 1 : t->dtype;
		float *conv = NULL;
		if (t->dtype == 16) {
			conv = malloc((size_t)numel * sizeof *conv + 1);
			if (!conv) {
				remove_outputs(outdir, fnames, i);
				free(fnames);
				goto oom;
			}
			for (uint64_t e = 0; e < numel; e++)
				conv[e] = (float)onnxcc_elem_f64(16, outbufs[i], e);
			fprintf(stderr, "onnxcc-run: note: output '%s' is bfloat16, written as "
			        "float32 (exact)\n", t->name);
		}
		bool wrote = onnxcc_npy_write(path, wdt, t->rank, t->shape,
		                              conv ? (const void *)conv : outbufs[i], err, sizeof err);
		free(conv);
		if (!wrote) {
			fprintf(stderr, "onnxcc-run: output '%s': %s\n", t->name, err);
			remove_outputs(outdir, fnames, i);
			free(fnames);
			goto cleanup;
		}
		if (!quiet) {
			char sh[512];
			printf("%s: %s%s", t->name, onnxcc_dtype_name(t->dtype),
			       onnxcc_shape_str(t->rank, t->shape, sh, sizeof sh));
			if (numel == 0) {
				printf(" (empty)\n");
			} else {
				OnnxccStats s = onnxcc_stats(t->dtype, outbufs[i], numel);
				printf(" min=%.6g max=%.6g mean=%.6g\n", s.min, s.max, s.mean);
			}
		}
	}
	free(fnames);
	fflush(stdout);

	if (repeat > 0) {
		/* Keep the first results to check that repeated runs agree. */
		first = calloc(m->noutputs + 1, sizeof *first);
		times = malloc((size_t)repeat * sizeof *times);
		if (!first || !times)
			goto oom;
		if (profile) {
			/* ms of each node in each run (zeroed: the hook adds) */
			ptimes = calloc((size_t)repeat * m->nnodes + 1, sizeof *ptimes);
			if (!ptimes)
				goto oom;
			prof.nnodes = m->nnodes;
		}
		for (uint32_t i = 0; i < m->noutputs; i++) {
			first[i] = malloc((size_t)m->outputs[i].nbytes + 1);
			if (!first[i])
				goto oom;
			memcpy(first[i], outbufs[i], (size_t)m->outputs[i].nbytes);
		}
		for (long r = 0; r < repeat; r++) {
			double t0 = now_ms();
			if (profile) {
				prof.row = ptimes + (size_t)r * m->nnodes;
				prof.open = UINT32_MAX;
				prof.next = 0;
				st = m->run_profiled((const void *const *)inbufs, outbufs, ws, pool ? &par : NULL,
				                     &hook);
			} else {
				st = run_model(m, inbufs, outbufs, ws, pool ? &par : NULL);
			}
			times[r] = now_ms() - t0;
			if (profile && (prof.bad || prof.open != UINT32_MAX || prof.next != m->nnodes)) {
				fprintf(stderr, "onnxcc-run: %s: run %ld reported its nodes out of order "
				        "(not each of the %u once, in order)\n", libpath, r + 2, m->nnodes);
				rc = EXIT_RUN;
				goto cleanup;
			}
			if (st != ONNXCC_OK) {
				fprintf(stderr, "onnxcc-run: %s: run %ld failed with status %d (%s)\n",
				        libpath, r + 2, st, status_str(st));
				rc = EXIT_RUN;
				goto cleanup;
			}
		}
		for (uint32_t i = 0; i < m->noutputs; i++)
			if (memcmp(first[i], outbufs[i], (size_t)m->outputs[i].nbytes) != 0)
				fprintf(stderr, "onnxcc-run: warning: output '%s' of a repeated run "
				        "differs from the first run\n", m->outputs[i].name);
		double med = median_of(times, (size_t)repeat);   /* sorts times */
		printf("{\"median_ms\": %.6g, \"min_ms\": %.6g, \"runs\": %ld}\n", med,
		       times[0], repeat);
		fflush(stdout);
		if (profile && !report_profile(m, ptimes, times, repeat, med, threads, profile_json))
			goto cleanup;
	}
	rc = 0;
	goto cleanup;
oom:
	fprintf(stderr, "onnxcc-run: out of memory\n");
	rc = EXIT_USAGE;
cleanup:
	for (uint32_t i = 0; arrays && inbufs && i < m->ninputs; i++) {
		if (inbufs[i] != arrays[i].data)
			free(inbufs[i]);
		onnxcc_npy_free(&arrays[i]);
	}
	for (uint32_t i = 0; outbufs && i < m->noutputs; i++) {
		free(outbufs[i]);
		if (first)
			free(first[i]);
	}
	free(first);
	free(times);
	free(ptimes);
	onnxcc_pool_destroy(pool);
	free(ws);
	free(outbufs);
	free(inbufs);
	free(arrays);
	free(given_by);
	/* The library stays loaded: its static data may still be referenced by
	 * atexit handlers of the model's runtime. */
out:
	free(ins);
	return rc;
}
