/* tests/unit/testutil.c — see testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

const char *tu_node_test(const char *name)
{
	static char buf[4096];
	snprintf(buf, sizeof buf, "%s/%s/model.onnx", ONNXCC_NODE_TESTS, name);
	return buf;
}

char *tu_tmpdir(void)
{
	char tmpl[] = "/tmp/onnxcc-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

static void slurp_into(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "rb");
	size_t k = f ? fread(buf, 1, n - 1, f) : 0;
	buf[k] = 0;
	if (f)
		fclose(f);
}

int tu_run_tool(const char *const *argv, const char *dir, char *out, size_t nout, char *err, size_t nerr)
{
	char so[4200], se[4200];
	snprintf(so, sizeof so, "%s/stdout.txt", dir);
	snprintf(se, sizeof se, "%s/stderr.txt", dir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(so, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(se, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0 || chdir(dir) != 0)
			_exit(127);
		dup2(o, 1);
		dup2(e, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	slurp_into(so, out, nout);
	slurp_into(se, err, nerr);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

void tu_rmtree(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", dir);
}

void tu_write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

#include <dlfcn.h>
#include <unistd.h>

#include "codegen/module.h"
#include "codegen/target.h"
#include "codegen/kernels/kernels.h"
#include "passes/memplan.h"
#include "runtime/onnxcc_pool.h"
#include "passes/pipeline.h"
#include "runtime/onnxcc_model.h"

CgIsa tu_isa_override;

const CgIsa tu_isas[3] = {
	{4, 16, false, "sse", NULL, 1},
	{8, 16, true, "avx2", "+avx2,+fma,+f16c", 2},
	{16, 32, true, "avx512", "+avx512f,+avx512vl,+avx512bw,+avx512dq,+evex512,+avx2,+fma,+f16c", 3},
};

bool tu_host_has(const CgIsa *isa)
{
	bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
	            __builtin_cpu_supports("f16c");
	if (isa->vlen == 16)
		return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
	if (isa->vlen == 8)
		return avx2;
	return true;
}
bool tu_variants;
void (*tu_module_hook)(Cg *cg);
void (*tu_loaded_hook)(void *handle);
const OnnxccParallel *tu_parallel;
const int tu_thread_counts[TU_NTHREADS] = {1, 2, 3, 5};

void tu_threads(int n)
{
	static OnnxccPool *pool;
	static OnnxccParallel par;
	if (pool)
		onnxcc_pool_destroy(pool);
	pool = NULL;
	tu_parallel = NULL;
	if (n > 0) {
		pool = onnxcc_pool_create(n);
		assert_non_null(pool);
		par = onnxcc_pool_parallel(pool);
		tu_parallel = &par;
	}
}
bool tu_index_clamp;
int tu_expect_status;
bool tu_profile_nodes;

bool tu_run_graph(Graph *g, const void *const *inputs, void *const *outputs, Diag *d)
{
	g->shapes_known = true;
	MemPlan plan = {0};
	Cg cg = {0};
	bool ok = false;
	char *dir = tu_tmpdir();
	char so[4200];
	snprintf(so, sizeof so, "%s/graph.so", dir);
	LLVMTargetMachineRef tm = cg_target_machine(NULL, NULL, NULL, 2, d);
	LLVMTargetDataRef layout = tm ? LLVMCreateTargetDataLayout(tm) : NULL;
	if (!tm || !pass_memplan(g, &plan, d))
		goto out;
	char *triple = LLVMGetTargetMachineTriple(tm);
	CgModuleOptions mo = {.prefix = "tu", .export_alias = true, .triple = triple, .layout = layout,
	                      .index_clamp = tu_index_clamp, .profile_nodes = tu_profile_nodes};
	mo.isa = tu_isa_override.vlen ? tu_isa_override : cg_isa_of(tm);
	if (tu_variants)
		mo.nvariants = cg_isa_variants(tm, NULL, NULL, mo.variants);
	bool built = cg_build_module(&cg, g, &plan, &mo, d);
	LLVMDisposeMessage(triple);
	if (built && tu_isa_override.features)
		kern_isa_attrs(&cg, NULL);    /* the whole module for that ISA */
	if (built && tu_module_hook)
		tu_module_hook(&cg);
	if (!built || !cg_optimize(cg.mod, tm, 2, d) || !cg_emit(cg.mod, tm, CG_SO, so, d))
		goto out;
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		fprintf(stderr, "dlopen: %s\n", dlerror());
	assert_non_null(h);
	const OnnxccModel *m = dlsym(h, "onnxcc_model");
	assert_non_null(m);
	if (tu_loaded_hook)
		tu_loaded_hook(h);
	void *ws = NULL;
	if (m->workspace_size)
		assert_int_equal(posix_memalign(&ws, 64, m->workspace_size), 0);
	int rc = tu_parallel ? m->run_parallel(inputs, outputs, ws, tu_parallel) : m->run(inputs, outputs, ws);
	free(ws);
	dlclose(h);
	assert_int_equal(rc, tu_expect_status);
	ok = true;
out:
	cg_dispose(&cg);
	memplan_free(&plan);
	if (layout)
		LLVMDisposeTargetData(layout);
	if (tm)
		LLVMDisposeTargetMachine(tm);
	tu_rmtree(dir);
	free(dir);
	return ok;
}

/* ---- hand-built graphs --------------------------------------------------- */

Graph *tu_new_graph(void)
{
	Graph *g = graph_new("test.onnx");
	g->inputs = arena_alloc(&g->arena, 16 * sizeof(ValueId));
	g->outputs = arena_alloc(&g->arena, 16 * sizeof(ValueId));
	return g;
}

/* A value of static shape dims[rank] appended to list (room for 16). */
static ValueId add_listed(Graph *g, ValueId *list, int *count, const char *name, DType dt, int rank,
                          const int64_t *dims)
{
	assert_true(*count < 16);
	Shape s = shape_make(rank, dims);
	ValueId v = graph_add_value(g, name, dt, &s);
	list[(*count)++] = v;
	return v;
}

ValueId tu_add_input(Graph *g, const char *name, DType dt, int rank, const int64_t *dims)
{
	ValueId v = add_listed(g, g->inputs, &g->ninputs, name, dt, rank, dims);
	gval(g, v)->kind = VK_INPUT;
	return v;
}

ValueId tu_add_output(Graph *g, const char *name, DType dt, int rank, const int64_t *dims)
{
	ValueId v = add_listed(g, g->outputs, &g->noutputs, name, dt, rank, dims);
	gval(g, v)->is_output = true;
	return v;
}

NodeId tu_add_node(Graph *g, Op op, int opset, const ValueId *in, int nin, const ValueId *out, int nout)
{
	NodeId id = graph_add_node(g, op, op_name(op), "n0", in, nin, out, nout);
	g->nodes[id].opset = opset;
	return id;
}

void tu_set_int(Graph *g, NodeId n, const char *name, int64_t x)
{
	graph_add_attr(g, n, name, AK_INT)->i = x;
}

void tu_set_float(Graph *g, NodeId n, const char *name, float x)
{
	graph_add_attr(g, n, name, AK_FLOAT)->f = x;
}

void tu_set_ints(Graph *g, NodeId n, const char *name, int cnt, const int64_t *xs)
{
	Attr *a = graph_add_attr(g, n, name, AK_INTS);
	a->n = cnt;
	a->ints = arena_dup(&g->arena, xs, (size_t)cnt * sizeof *xs);
}

void tu_set_str(Graph *g, NodeId n, const char *name, const char *s)
{
	Attr *a = graph_add_attr(g, n, name, AK_STRING);
	a->s = arena_strdup(&g->arena, s);
	a->slen = strlen(s);
}

void tu_compile_run(Graph *g, const void *const *in, void *const *out)
{
	Diag d;
	diag_init(&d, "test.onnx", false);
	bool ok = tu_run_graph(g, in, out, &d);
	if (!ok)
		fprintf(stderr, "compile failed:\n%s\n", d.buf ? d.buf : "");
	assert_true(ok);
	diag_free(&d);
	graph_free(g);
}

void tu_compile_reject(Graph *g, const void *const *in, void *const *out, const char *needle)
{
	Diag d;
	diag_init(&d, "test.onnx", false);
	assert_false(tu_run_graph(g, in, out, &d));
	if (!diag_contains(&d, needle))
		fprintf(stderr, "diagnostics: %s\n", d.buf ? d.buf : "");
	assert_true(diag_contains(&d, needle));
	diag_free(&d);
	graph_free(g);
}

TuGraph tu_graph(void)
{
	return (TuGraph){.g = tu_new_graph(), .node = IR_NONE};
}

ValueId tu_input(TuGraph *t, const char *name, DType dt, int rank, const int64_t *dims)
{
	return tu_add_input(t->g, name, dt, rank, dims);
}

ValueId tu_output(TuGraph *t, const char *name, DType dt, int rank, const int64_t *dims)
{
	return tu_add_output(t->g, name, dt, rank, dims);
}

ValueId tu_const(TuGraph *t, const char *name, DType dt, int rank, const int64_t *dims, const void *data)
{
	Shape s = shape_make(rank, dims);
	return graph_add_const(t->g, name, dt, &s, data);
}

NodeId tu_node(TuGraph *t, Op op, int opset, const ValueId *in, int nin, const ValueId *out, int nout)
{
	t->node = tu_add_node(t->g, op, opset, in, nin, out, nout);
	return t->node;
}

void tu_attr_int(TuGraph *t, const char *name, int64_t x) { tu_set_int(t->g, t->node, name, x); }
void tu_attr_float(TuGraph *t, const char *name, float x) { tu_set_float(t->g, t->node, name, x); }
void tu_attr_ints(TuGraph *t, const char *name, int n, const int64_t *xs) { tu_set_ints(t->g, t->node, name, n, xs); }
void tu_attr_str(TuGraph *t, const char *name, const char *s) { tu_set_str(t->g, t->node, name, s); }

void tu_run(TuGraph *t, const void *const *in, void *const *out)
{
	tu_compile_run(t->g, in, out);
}

void tu_reject(TuGraph *t, const void *const *in, void *const *out, const char *needle)
{
	tu_compile_reject(t->g, in, out, needle);
}

void tu_run_passes(Graph *g, const char *const *names, int n)
{
	Diag d;
	diag_init(&d, "passes", false);
	for (int i = 0; i < n; i++)
		if (!pass_run_named(g, names[i], &d) || !ir_verify(g, &d))
			fail_msg("pass %s: %s", names[i], d.buf ? d.buf : "");
	diag_free(&d);
}

int tu_live(const Graph *g, Op op)
{
	int c = 0;
	for (int i = 0; i < g->nnodes; i++)
		c += !g->nodes[i].dead && g->nodes[i].op == op;
	return c;
}
