/* tests/unit/test_profile.c — per-node profiling (onnxcc --profile-nodes;
 * OnnxccNodeHook and the node table in runtime/onnxcc_model.h).
 *
 * tests/models/skip_attn (LayerNorm, MatMulEpi, Attention, ...) is
 * compiled with and without the option.  The reference schedule is read
 * from the IR of the profiled build at -O0: the node calls of
 * <prefix>_run_profiled, in order, each naming its op.  Checked:
 *   - the build without the option has descriptor version 2 and no
 *     profiling code; the profiled one version 3, PREFIX_NODE_COUNT nodes
 *     in its header and its table, op types matching the IR's calls;
 *   - a run reports BEGIN i, END i for i = 0 .. n-1, in order, once each,
 *     on the calling thread, for 1, 2, 3 and 5 threads;
 *   - NULL hook / NULL hook->call: no reports; every output bitwise equal
 *     to the build without the option (which matches the model's
 *     reference output: tests/models checks that);
 *   - a node that fails (a Gather index out of range) still gets its END,
 *     and no node after it runs;
 *   - onnxcc-run --profile / --profile-json: the tables' shape, and the
 *     error for a library built without the option;
 *   - onnxcc-run --cpu-time: the same JSON line and tables at 1 thread,
 *     a usage error (exit 1) with --threads 2.
 */
#include "testutil.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver/compile.h"
#include "npy.h"

#define MODEL_DIR ONNXCC_SOURCE_DIR "/tests/models/skip_attn"

static char *tmpdir;
static char prof_so[4200], plain_so[4200];

static bool compile(const char *out, bool profile, int opt)
{
	CompileOptions o = {.model_path = MODEL_DIR "/model.onnx", .out_path = out, .opt_level = opt,
	                    .profile_nodes = profile, .prefix = "p"};
	Diag d;
	diag_init(&d, o.model_path, true);   /* diagnostics echoed to stderr */
	bool ok = onnxcc_compile(&o, &d);
	diag_free(&d);
	return ok;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static int setup(void **state)
{
	tmpdir = tu_tmpdir();
	snprintf(prof_so, sizeof prof_so, "%s/prof/p.so", tmpdir);
	snprintf(plain_so, sizeof plain_so, "%s/plain/p.so", tmpdir);
	char cmd[9000];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/prof' '%s/plain'", tmpdir, tmpdir);
	if (system(cmd) != 0 || !compile(prof_so, true, 3) || !compile(plain_so, false, 3))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(tmpdir);
	free(tmpdir);
	return 0;
}

/* ---- the hook ------------------------------------------------------------ */

enum { MAX_EVENTS = 4096 };

typedef struct Events {
	int n;
	uint32_t node[MAX_EVENTS];
	int32_t event[MAX_EVENTS];
	bool other_thread;
	pthread_t self;
} Events;

static void record(void *ctx, uint32_t node, int32_t event)
{
	Events *e = ctx;
	if (!pthread_equal(pthread_self(), e->self))
		e->other_thread = true;
	if (e->n < MAX_EVENTS) {
		e->node[e->n] = node;
		e->event[e->n] = event;
	}
	e->n++;
}

/* Events are BEGIN i, END i for i = 0 .. n-1. */
static void check_sequence(const Events *e, uint32_t n)
{
	assert_false(e->other_thread);
	assert_int_equal(e->n, 2 * (int)n);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(e->node[2 * i], i);
		assert_int_equal(e->event[2 * i], ONNXCC_NODE_BEGIN);
		assert_int_equal(e->node[2 * i + 1], i);
		assert_int_equal(e->event[2 * i + 1], ONNXCC_NODE_END);
	}
}

/* ---- the library --------------------------------------------------------- */

typedef struct Lib {
	void *h;
	const OnnxccModel *m;
	void *ws;
	void *in[1], *out[1];
	OnnxccNpy x;
} Lib;

static void lib_open(Lib *l, const char *so)
{
	memset(l, 0, sizeof *l);
	l->h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!l->h)
		fail_msg("dlopen: %s", dlerror());
	l->m = dlsym(l->h, "onnxcc_model");
	assert_non_null(l->m);
	assert_int_equal(l->m->ninputs, 1);
	assert_int_equal(l->m->noutputs, 1);
	char err[512];
	if (!onnxcc_npy_read(MODEL_DIR "/inputs/embeddings.npy", &l->x, err, sizeof err))
		fail_msg("%s", err);
	assert_int_equal(l->x.nbytes, l->m->inputs[0].nbytes);
	l->in[0] = l->x.data;
	assert_int_equal(posix_memalign(&l->out[0], 64, l->m->outputs[0].nbytes), 0);
	assert_int_equal(posix_memalign(&l->ws, 64, l->m->workspace_size + 64), 0);
}

static void lib_close(Lib *l)
{
	free(l->ws);
	free(l->out[0]);
	onnxcc_npy_free(&l->x);
	dlclose(l->h);
}

/* ---- the reference schedule from the IR ----------------------------------- */

/* The ops of the node calls in <prefix>_run_profiled of the .ll at path,
 * in order ("p.node12.MatMulEpi.dispatch" -> "MatMulEpi"); returns their
 * number. */
static int ir_schedule(const char *path, char ops[][64], int max)
{
	char *ll = slurp(path);
	char *fn = strstr(ll, "@p_run_profiled(");
	assert_non_null(fn);
	char *end = strstr(fn, "\n}\n");
	assert_non_null(end);
	*end = 0;
	int n = 0;
	for (char *p = fn; (p = strstr(p, "call i32 @p.node")) != NULL;) {
		p += strlen("call i32 @p.node");
		while (*p >= '0' && *p <= '9')
			p++;
		assert_int_equal(*p, '.');
		p++;
		size_t k = strcspn(p, ".(");
		assert_true(n < max && k < 64);
		memcpy(ops[n], p, k);
		ops[n][k] = 0;
		n++;
	}
	free(ll);
	return n;
}

static void test_schedule_and_table(void **state)
{
	char ll[4200], ops[512][64];
	snprintf(ll, sizeof ll, "%s/prof/p.ll", tmpdir);
	assert_true(compile(ll, true, 0));
	int n = ir_schedule(ll, ops, 512);
	assert_true(n > 10);
	/* the header: node count and the profiled entry point */
	char hpath[4200];
	snprintf(hpath, sizeof hpath, "%s/prof/p.h", tmpdir);
	char *h = slurp(hpath);
	char want[64];
	snprintf(want, sizeof want, "#define P_NODE_COUNT %du\n", n);
	if (!strstr(h, want))
		fail_msg("header lacks '%s'", want);
	assert_non_null(strstr(h, "int p_run_profiled_v("));
	free(h);
	Lib l;
	lib_open(&l, prof_so);
	assert_int_equal(l.m->abi_version, 3);
	assert_non_null(l.m->run_profiled);
	assert_int_equal(l.m->nnodes, (uint32_t)n);
	int fused = 0, counted = 0;
	for (int i = 0; i < n; i++) {
		const OnnxccNodeInfo *ni = &l.m->nodes[i];
		assert_non_null(ni->name);
		const char *t = ni->op_type;
		if (!strncmp(t, "onnxcc::", 8)) {
			t += 8;
			fused++;
		}
		if (strcmp(t, ops[i]))
			fail_msg("node %d: table says %s, the IR calls %s", i, ni->op_type, ops[i]);
		counted += ni->flops != 0;
		if (!strcmp(t, "MatMulEpi") || !strcmp(t, "Attention") || !strcmp(t, "Gemm"))
			assert_true(ni->flops > 0);
		if (!strcmp(t, "LayerNormalization"))
			assert_int_equal(ni->flops, 0);
	}
	assert_true(fused > 0 && counted > 0);
	lib_close(&l);
	/* without the option: version 2, no profiling code in the module */
	snprintf(ll, sizeof ll, "%s/plain/p.ll", tmpdir);
	assert_true(compile(ll, false, 0));
	char *text = slurp(ll);
	assert_null(strstr(text, "run_profiled"));
	assert_null(strstr(text, "node_hook"));
	assert_null(strstr(text, "OnnxccNodeInfo"));
	free(text);
	snprintf(hpath, sizeof hpath, "%s/plain/p.h", tmpdir);
	h = slurp(hpath);
	assert_null(strstr(h, "NODE_COUNT"));
	assert_null(strstr(h, "run_profiled"));
	free(h);
	lib_open(&l, plain_so);
	assert_int_equal(l.m->abi_version, 2);
	lib_close(&l);
}

static void test_events_and_bits(void **state)
{
	Lib plain, prof;
	lib_open(&plain, plain_so);
	lib_open(&prof, prof_so);
	const OnnxccModel *m = prof.m;
	size_t nb = m->outputs[0].nbytes;
	assert_int_equal(plain.m->run((const void *const *)plain.in, plain.out, plain.ws), 0);
	for (int t = 0; t < TU_NTHREADS; t++) {
		int nt = tu_thread_counts[t];
		tu_threads(nt > 1 ? nt : 0);
		static Events e;
		memset(&e, 0, sizeof e);
		e.self = pthread_self();
		OnnxccNodeHook hook = {record, &e};
		memset(prof.out[0], 0xff, nb);
		assert_int_equal(m->run_profiled((const void *const *)prof.in, prof.out, prof.ws, tu_parallel, &hook), 0);
		check_sequence(&e, m->nnodes);
		assert_memory_equal(prof.out[0], plain.out[0], nb);
		/* NULL hook, NULL hook->call: no reports, the same bits */
		OnnxccNodeHook nocall = {NULL, &e};
		e.n = 0;
		memset(prof.out[0], 0xff, nb);
		assert_int_equal(m->run_profiled((const void *const *)prof.in, prof.out, prof.ws, tu_parallel, &nocall), 0);
		assert_memory_equal(prof.out[0], plain.out[0], nb);
		memset(prof.out[0], 0xff, nb);
		assert_int_equal(m->run_profiled((const void *const *)prof.in, prof.out, prof.ws, tu_parallel, NULL), 0);
		assert_memory_equal(prof.out[0], plain.out[0], nb);
		assert_int_equal(e.n, 0);
	}
	tu_threads(0);
	/* the old entries of the profiled build: the same bits */
	memset(prof.out[0], 0xff, nb);
	assert_int_equal(m->run((const void *const *)prof.in, prof.out, prof.ws), 0);
	assert_memory_equal(prof.out[0], plain.out[0], nb);
	memset(prof.out[0], 0xff, nb);
	assert_int_equal(m->run_parallel((const void *const *)prof.in, prof.out, prof.ws, NULL), 0);
	assert_memory_equal(prof.out[0], plain.out[0], nb);
	/* a NULL buffer: an error status before any node runs, no reports */
	static Events e0;
	memset(&e0, 0, sizeof e0);
	e0.self = pthread_self();
	OnnxccNodeHook hook0 = {record, &e0};
	void *nul[1] = {NULL};
	assert_int_equal(m->run_profiled((const void *const *)prof.in, nul, prof.ws, NULL, &hook0), ONNXCC_ERR_NULL);
	assert_int_equal(e0.n, 0);
	lib_close(&prof);
	lib_close(&plain);
}

/* Relu -> Gather(ids at run time) -> Relu, an id out of range: the run
 * returns the index error after Gather's END; the second Relu never runs. */
static Events fail_events;
static const void *fail_in[2];
static void *fail_out[1];

static void run_failing(void *handle)
{
	const OnnxccModel *m = dlsym(handle, "onnxcc_model");
	assert_non_null(m);
	assert_int_equal(m->abi_version, 3);
	assert_int_equal(m->nnodes, 3);
	assert_string_equal(m->nodes[1].op_type, "Gather");
	void *ws = NULL;
	assert_int_equal(posix_memalign(&ws, 64, m->workspace_size + 64), 0);
	memset(&fail_events, 0, sizeof fail_events);
	fail_events.self = pthread_self();
	OnnxccNodeHook hook = {record, &fail_events};
	assert_int_equal(m->run_profiled(fail_in, fail_out, ws, NULL, &hook), 3 /* ERR_INDEX */);
	free(ws);
	check_sequence(&fail_events, 2);
}

static void test_failing_node_ends(void **state)
{
	TuGraph t = tu_graph();
	int64_t td[2] = {4, 3}, id[1] = {2}, od[2] = {2, 3};
	ValueId x = tu_input(&t, "table", DT_F32, 2, td);
	ValueId ids = tu_input(&t, "ids", DT_I64, 1, id);
	Shape s4 = shape_make(2, td), s2 = shape_make(2, od);
	ValueId r = graph_add_value(t.g, "r", DT_F32, &s4);
	ValueId gth = graph_add_value(t.g, "g", DT_F32, &s2);
	ValueId y = tu_output(&t, "y", DT_F32, 2, od);
	tu_node(&t, OP_Relu, 13, &x, 1, &r, 1);
	ValueId gin[2] = {r, ids};
	tu_node(&t, OP_Gather, 13, gin, 2, &gth, 1);
	tu_node(&t, OP_Relu, 13, &gth, 1, &y, 1);
	float table[12] = {0};
	int64_t idv[2] = {1, 9};
	float out[6];
	fail_in[0] = table;
	fail_in[1] = idv;
	fail_out[0] = out;
	tu_profile_nodes = true;
	tu_expect_status = 3;
	tu_loaded_hook = run_failing;
	tu_run(&t, fail_in, fail_out);
	tu_loaded_hook = NULL;
	tu_expect_status = 0;
	tu_profile_nodes = false;
}

/* FLOP counts, 2 per multiply-add of the op's definition: MatMul
 * [2,5,7] x [7,3] (2*2*5*3*7 = 420), Gemm transA [7,5]^T x [7,4]
 * (2*5*4*7 = 280), Conv group 2 X [1,4,6,6] W [6,2,3,3] -> [1,6,4,4]
 * (2*96*2*9 = 3456); Relu: 0. */
static void check_flops(void *handle)
{
	const OnnxccModel *m = dlsym(handle, "onnxcc_model");
	assert_non_null(m);
	assert_int_equal(m->nnodes, 4);
	const char *types[4] = {"MatMul", "Gemm", "Conv", "Relu"};
	const uint64_t flops[4] = {420, 280, 3456, 0};
	for (int i = 0; i < 4; i++) {
		assert_string_equal(m->nodes[i].op_type, types[i]);
		assert_int_equal(m->nodes[i].flops, flops[i]);
	}
	assert_string_equal(m->nodes[0].name, "n0");
}

static void test_flops_exact(void **state)
{
	TuGraph t = tu_graph();
	int64_t a[3] = {2, 5, 7}, b[2] = {7, 3}, y[3] = {2, 5, 3};
	int64_t ga[2] = {7, 5}, gb[2] = {7, 4}, gy[2] = {5, 4};
	int64_t cx[4] = {1, 4, 6, 6}, cw[4] = {6, 2, 3, 3}, cy[4] = {1, 6, 4, 4};
	ValueId mi[2] = {tu_input(&t, "a", DT_F32, 3, a), tu_input(&t, "b", DT_F32, 2, b)};
	ValueId gi[2] = {tu_input(&t, "ga", DT_F32, 2, ga), tu_input(&t, "gb", DT_F32, 2, gb)};
	ValueId ci[2] = {tu_input(&t, "cx", DT_F32, 4, cx), tu_input(&t, "cw", DT_F32, 4, cw)};
	ValueId my = tu_output(&t, "my", DT_F32, 3, y), gy_ = tu_output(&t, "gy", DT_F32, 2, gy);
	Shape cs = shape_make(4, cy);
	ValueId c = graph_add_value(t.g, "c", DT_F32, &cs);
	ValueId ry = tu_output(&t, "ry", DT_F32, 4, cy);
	tu_node(&t, OP_MatMul, 13, mi, 2, &my, 1);
	tu_node(&t, OP_Gemm, 13, gi, 2, &gy_, 1);
	tu_attr_int(&t, "transA", 1);
	tu_node(&t, OP_Conv, 11, ci, 2, &c, 1);
	tu_attr_int(&t, "group", 2);
	tu_node(&t, OP_Relu, 13, &c, 1, &ry, 1);
	static float ins[6][256], outs[3][256];
	const void *in[6] = {ins[0], ins[1], ins[2], ins[3], ins[4], ins[5]};
	void *out[3] = {outs[0], outs[1], outs[2]};
	tu_profile_nodes = true;
	tu_loaded_hook = check_flops;
	tu_run(&t, in, out);
	tu_loaded_hook = NULL;
	tu_profile_nodes = false;
}

/* ---- onnxcc-run --profile -------------------------------------------------- */

static char out_buf[1 << 17], err_buf[1 << 14];

/* Runs onnxcc-run with args (NULL-terminated) in tmpdir; stdout/stderr
 * into out_buf/err_buf; returns the exit status. */
static int run_tool(const char *const *args)
{
	char tool[4200];
	snprintf(tool, sizeof tool, "%s/onnxcc-run", ONNXCC_BINARY_DIR);
	const char *argv[32] = {tool};
	int n = 1;
	for (; args[n - 1]; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	return tu_run_tool(argv, tmpdir, out_buf, sizeof out_buf, err_buf, sizeof err_buf);
}

static int count(const char *s, const char *needle)
{
	int n = 0;
	for (; (s = strstr(s, needle)) != NULL; s += strlen(needle))
		n++;
	return n;
}

static void test_cli_profile(void **state)
{
	Lib l;
	lib_open(&l, prof_so);
	uint32_t n = l.m->nnodes;
	lib_close(&l);
	const char *in = "embeddings=" MODEL_DIR "/inputs/embeddings.npy";
	const char *threads[] = {"1", "2"};
	for (int t = 0; t < 2; t++) {
		const char *args[] = {prof_so, "--input", in, "--output-dir", "o", "--quiet", "--repeat", "3",
		                      "--threads", threads[t], "--profile", "--profile-json", "p.json", NULL};
		if (run_tool(args) != 0)
			fail_msg("onnxcc-run failed: %s", err_buf);
		/* the JSON line first, then the tables */
		int runs;
		double med, mn;
		if (sscanf(out_buf, "{\"median_ms\": %lf, \"min_ms\": %lf, \"runs\": %d}", &med, &mn, &runs) != 3)
			fail_msg("no JSON line first: %s", out_buf);
		assert_int_equal(runs, 3);
		char want[128];
		snprintf(want, sizeof want, "per-node profile: %u nodes, 3 timed runs, %s thread", n, threads[t]);
		if (!strstr(out_buf, want))
			fail_msg("stdout lacks '%s':\n%s", want, out_buf);
		const char *table = strstr(out_buf, "median_ms    mean_ms");
		const char *summary = strstr(out_buf, "per-op-type summary:");
		assert_non_null(table);
		assert_non_null(summary);
		assert_true(table < summary);
		/* one row per node (each names its op type), then the outside row */
		int rows = 0;
		double prev = 1e300, pct = 0;
		for (const char *p = strchr(table, '\n') + 1; p < summary; p = strchr(p, '\n') + 1) {
			double mean, median, pc;
			if (strstr(p, "(the run less its nodes") && strstr(p, "(the run less its nodes") < strchr(p, '\n')) {
				assert_int_equal(sscanf(p, "%lf", &mean), 1);
				break;
			}
			assert_int_equal(sscanf(p, "%lf %lf %lf", &median, &mean, &pc), 3);
			assert_true(median <= prev && mean >= 0 && median >= 0 && pc >= 0);   /* sorted by time */
			prev = median;
			pct += pc;
			rows++;
		}
		assert_int_equal(rows, (int)n);
		/* shares of the nodes' medians, each printed to 2 decimals */
		assert_true(pct > 100 - 0.005 * n && pct < 100 + 0.005 * n);
		assert_non_null(strstr(summary, "onnxcc::MatMulEpi"));
		assert_non_null(strstr(summary, "onnxcc::Attention"));
		/* the JSON file: every node, in schedule order */
		char path[4200];
		snprintf(path, sizeof path, "%s/p.json", tmpdir);
		char *js = slurp(path);
		assert_int_equal(count(js, "{\"index\": "), (int)n);
		snprintf(want, sizeof want, "{\"index\": %u, ", n - 1);
		assert_non_null(strstr(js, want));
		assert_non_null(strstr(js, "\"op_types\": ["));
		assert_non_null(strstr(js, "\"op_type\": \"onnxcc::Attention\""));
		free(js);
	}
	/* --cpu-time: the same output, timed by the thread's CPU time; not
	 * with workers, whose time it would leave out */
	{
		const char *args[] = {prof_so, "--input", in, "--output-dir", "o", "--quiet", "--repeat", "3",
		                      "--threads", "1", "--cpu-time", "--profile", NULL};
		if (run_tool(args) != 0)
			fail_msg("onnxcc-run --cpu-time failed: %s", err_buf);
		int runs;
		double med, mn;
		if (sscanf(out_buf, "{\"median_ms\": %lf, \"min_ms\": %lf, \"runs\": %d}", &med, &mn, &runs) != 3)
			fail_msg("no JSON line first: %s", out_buf);
		assert_int_equal(runs, 3);
		assert_true(mn > 0 && mn <= med);
		assert_non_null(strstr(out_buf, "per-node profile: "));
		assert_non_null(strstr(out_buf, "per-op-type summary:"));
		const char *args2[] = {prof_so, "--input", in, "--output-dir", "o", "--quiet", "--repeat", "3",
		                       "--threads", "2", "--cpu-time", NULL};
		assert_int_equal(run_tool(args2), 1);
		assert_non_null(strstr(err_buf, "--cpu-time times the calling thread only"));
	}
	/* without --repeat: 10 timed runs */
	const char *ten[] = {prof_so, "--input", in, "--output-dir", "o", "--quiet", "--profile", NULL};
	assert_int_equal(run_tool(ten), 0);
	assert_non_null(strstr(out_buf, "\"runs\": 10}"));
	/* a library built without the option: an error, nothing run */
	const char *plain[] = {plain_so, "--input", in, "--output-dir", "o2", "--profile", NULL};
	assert_int_equal(run_tool(plain), 1);
	assert_non_null(strstr(err_buf, "not compiled for per-node profiling (compile it with onnxcc --profile-nodes)"));
	assert_null(strstr(out_buf, "per-node"));
	/* without --profile the profiled library runs as any other */
	const char *noprof[] = {prof_so, "--input", in, "--output-dir", "o3", "--quiet", "--repeat", "2", NULL};
	assert_int_equal(run_tool(noprof), 0);
	assert_null(strstr(out_buf, "per-node"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule_and_table),
		cmocka_unit_test(test_events_and_bits),
		cmocka_unit_test(test_failing_node_ends),
		cmocka_unit_test(test_flops_exact),
		cmocka_unit_test(test_cli_profile),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
