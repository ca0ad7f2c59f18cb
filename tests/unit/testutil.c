/* tests/unit/testutil.c — see testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#include "passes/memplan.h"
#include "runtime/onnxcc_model.h"

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
	CgModuleOptions mo = {.prefix = "tu", .export_alias = true, .triple = triple, .layout = layout};
	bool built = cg_build_module(&cg, g, &plan, &mo, d);
	LLVMDisposeMessage(triple);
	if (!built || !cg_optimize(cg.mod, tm, 2, d) || !cg_emit(cg.mod, tm, CG_SO, so, d))
		goto out;
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	const OnnxccModel *m = dlsym(h, "onnxcc_model");
	assert_non_null(m);
	void *ws = NULL;
	if (m->workspace_size)
		assert_int_equal(posix_memalign(&ws, 64, m->workspace_size), 0);
	int rc = m->run(inputs, outputs, ws);
	free(ws);
	dlclose(h);
	assert_int_equal(rc, 0);
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
