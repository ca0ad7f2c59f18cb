/* tests/unit/test_passfiles.c — pass tests as files.
 *
 * Every tests/passes/NAME.in is a graph in ir_dump's text form (read by
 * ir_parse, all constant data written out) whose first line names what to
 * run:
 *
 *   ; pass: fuse-layernorm dce         passes in order (pass_names)
 *   ; expect: unchanged                optional: the graph must come out as
 *                                      it went in (near-miss tests)
 *
 * The graph is verified before and after; the dump after the passes must
 * equal NAME.expected (or, with "expect: unchanged", the dump of the input).
 * ONNXCC_UPDATE_EXPECTED=1 rewrites the .expected files (review the diff!).
 *
 * Also: for every model of the zoo (tests/models/NAME/model.onnx), the
 * op counts with the fusion passes and without, printed as a table, and the
 * rule that after the pipeline no model keeps an Erf, a Pow or a Sqrt
 * (their only sources in the zoo are GELU and LayerNorm chains).
 */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx.h"
#include "passes/pipeline.h"

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	char chunk[4096];
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (!buf)
		buf = calloc(1, 1);
	buf[len] = 0;
	return buf;
}

static char *dump_str(Graph *g)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	ir_dump(g, f);
	fclose(f);
	return buf;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of dir ending in suffix (suffix kept off). */
static char **list_dir(const char *dir, const char *suffix, int *n)
{
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	char **names = NULL;
	int cnt = 0;
	size_t sl = strlen(suffix);
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
			continue;
		names = realloc(names, sizeof *names * (size_t)(cnt + 1));
		names[cnt++] = strndup(e->d_name, l - sl);
	}
	closedir(dp);
	qsort(names, (size_t)cnt, sizeof *names, cmp_str);
	*n = cnt;
	return names;
}

/* Runs one NAME.in; returns a malloc'd failure message or NULL. */
static char *run_case(const char *dir, const char *name)
{
	char path[4096], msg[8192];
	snprintf(path, sizeof path, "%s/%s.in", dir, name);
	char *text = read_all(path);
	if (!text)
		return strdup("cannot read the .in file");
	char passes[512] = "";
	bool unchanged = strstr(text, "\n; expect: unchanged\n") != NULL;
	if (sscanf(text, "; pass: %511[^\n]", passes) != 1) {
		free(text);
		return strdup("first line must be '; pass: NAME...'");
	}
	Diag d;
	diag_init(&d, path, false);
	Graph *g = ir_parse(text, path, 0, &d);
	char *fail = NULL, *before = NULL, *got = NULL;
	if (!g) {
		snprintf(msg, sizeof msg, "parse: %s", d.buf);
		fail = strdup(msg);
		goto out;
	}
	if (!ir_verify(g, &d)) {
		snprintf(msg, sizeof msg, "input does not verify: %s", d.buf);
		fail = strdup(msg);
		goto out;
	}
	before = dump_str(g);
	for (char *tok = strtok(passes, " "); tok; tok = strtok(NULL, " ")) {
		if (!pass_run_named(g, tok, &d) || !ir_verify(g, &d)) {
			snprintf(msg, sizeof msg, "pass %s: %s", tok, d.buf ? d.buf : "");
			fail = strdup(msg);
			goto out;
		}
	}
	got = dump_str(g);
	if (unchanged) {
		if (strcmp(got, before) != 0) {
			snprintf(msg, sizeof msg, "near miss changed the graph:\n--- in\n%s--- out\n%s", before, got);
			fail = strdup(msg);
		}
		goto out;
	}
	snprintf(path, sizeof path, "%s/%s.expected", dir, name);
	const char *upd = getenv("ONNXCC_UPDATE_EXPECTED");
	if (upd && !strcmp(upd, "1")) {
		tu_write_file(path, got, strlen(got));
		goto out;
	}
	char *want = read_all(path);
	if (!want) {
		snprintf(msg, sizeof msg, "missing %s; got:\n%s", path, got);
		fail = strdup(msg);
	} else if (strcmp(want, got) != 0) {
		snprintf(msg, sizeof msg, "differs from %s\n--- expected\n%s--- got\n%s", path, want, got);
		fail = strdup(msg);
	} else if (strcmp(got, before) == 0) {
		fail = strdup("the passes changed nothing: mark it '; expect: unchanged' if that is the point");
	}
	free(want);
out:
	free(before);
	free(got);
	graph_free(g);
	diag_free(&d);
	free(text);
	return fail;
}

static void test_pass_files(void **state)
{
	(void)state;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/tests/passes", ONNXCC_SOURCE_DIR);
	int n;
	char **names = list_dir(dir, ".in", &n);
	int failed = 0;
	for (int i = 0; i < n; i++) {
		char *f = run_case(dir, names[i]);
		if (f) {
			fprintf(stderr, "FAIL %s: %s\n", names[i], f);
			failed++;
		}
		free(f);
		free(names[i]);
	}
	free(names);
	fprintf(stderr, "pass files: %d cases, %d failed\n", n, failed);
	assert_true(n >= 20);
	assert_int_equal(failed, 0);
}

/* ---- the zoo after the pipeline ------------------------------------------------ */

static void count_ops(Graph *g, int *cnt)
{
	memset(cnt, 0, sizeof(int) * OP__COUNT);
	for (int i = 0; i < g->nnodes; i++)
		if (!g->nodes[i].dead)
			cnt[g->nodes[i].op]++;
}

static int total(const int *cnt)
{
	int t = 0;
	for (int i = 0; i < OP__COUNT; i++)
		t += cnt[i];
	return t;
}

static void test_zoo_fused(void **state)
{
	(void)state;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/tests/models", ONNXCC_SOURCE_DIR);
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	char **names = NULL;
	int nm = 0;
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		char p[4600];
		snprintf(p, sizeof p, "%s/%s/model.onnx", dir, e->d_name);
		FILE *f = e->d_name[0] != '.' ? fopen(p, "rb") : NULL;
		if (!f)
			continue;
		fclose(f);
		names = realloc(names, sizeof *names * (size_t)(nm + 1));
		names[nm++] = strdup(e->d_name);
	}
	closedir(dp);
	qsort(names, (size_t)nm, sizeof *names, cmp_str);
	assert_true(nm >= 10);
	static const char *const unfused[] = {"bind-dims", "infer", "aliases", "dce"};
	fprintf(stderr, "%-24s %14s %6s %6s %10s %6s\n", "model", "nodes", "Erf", "Pow", "LayerNorm", "Gelu");
	for (int i = 0; i < nm; i++) {
		char p[4600];
		snprintf(p, sizeof p, "%s/%s/model.onnx", dir, names[i]);
		int before[OP__COUNT], after[OP__COUNT];
		Diag d;
		diag_init(&d, p, false);
		Graph *g = onnx_load(p, &d);
		assert_non_null(g);
		for (size_t k = 0; k < sizeof unfused / sizeof unfused[0]; k++)
			if (!pass_run_named(g, unfused[k], &d))
				fail_msg("%s: %s", names[i], d.buf);
		count_ops(g, before);
		graph_free(g);
		g = onnx_load(p, &d);
		assert_non_null(g);
		PipelineOptions o = {.verify_each = true};
		if (!pass_pipeline(g, &o, &d))
			fail_msg("%s: %s", names[i], d.buf);
		count_ops(g, after);
		graph_free(g);
		diag_free(&d);
		fprintf(stderr, "%-24s %6d -> %4d %2d->%-3d %2d->%-3d %3d->%-6d %2d->%d\n", names[i],
		        total(before), total(after), before[OP_Erf], after[OP_Erf], before[OP_Pow],
		        after[OP_Pow], before[OP_LayerNormalization], after[OP_LayerNormalization],
		        before[OP_Gelu], after[OP_Gelu]);
		if (after[OP_Erf] || after[OP_Pow] || after[OP_Sqrt])
			fail_msg("%s keeps %d Erf, %d Pow, %d Sqrt after the pipeline", names[i],
			         after[OP_Erf], after[OP_Pow], after[OP_Sqrt]);
		/* each fused LayerNorm chain had 2 ReduceMeans; each GELU one Erf */
		assert_int_equal(before[OP_ReduceMean] - after[OP_ReduceMean],
		                 2 * (after[OP_LayerNormalization] - before[OP_LayerNormalization]));
		assert_int_equal(before[OP_Erf], after[OP_Gelu] - before[OP_Gelu]);
		free(names[i]);
	}
	free(names);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_files),
		cmocka_unit_test(test_zoo_fused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
