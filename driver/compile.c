/* driver/compile.c — the compiler driver: frontend -> pass pipeline (with
 * input freezing and the memory plan) -> LLVM module -> optimisation ->
 * artifact + header. */
#include "compile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "frontend/onnx.h"
#include "passes/pipeline.h"
#include "codegen/header.h"
#include "codegen/module.h"
#include "phase.h"
#include "codegen/target.h"
#include "codegen/weights.h"

/* "dir/my-model.onnx" -> "my_model" (used on the output path, or the
 * model path when there is no output). */
static void default_prefix(const char *path, char *out, size_t n)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	char tmp[256];
	snprintf(tmp, sizeof tmp, "%s", base);
	char *dot = strrchr(tmp, '.');
	if (dot && dot != tmp)
		*dot = 0;
	cg_c_ident(tmp, out, n);
}

static char *header_default(const char *out)
{
	size_t n = strlen(out);
	char *h = xmalloc(n + 4);
	memcpy(h, out, n + 1);
	char *dot = strrchr(h, '.');
	char *slash = strrchr(h, '/');
	if (dot && (!slash || dot > slash))
		*dot = 0;
	strcat(h, ".h");
	return h;
}

/* path with its directory resolved (realpath) and its last component
 * kept, so that "x.o" and "./x.o" compare equal; a copy of path when the
 * directory does not resolve. */
static char *canonical_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	char *real = realpath(dir, NULL);
	if (!real)
		return xstrdup(path);
	const char *base = slash ? slash + 1 : path;
	size_t n = strlen(real) + strlen(base) + 2;
	char *r = xmalloc(n);
	snprintf(r, n, "%s/%s", real, base);
	free(real);
	return r;
}

/* Mode bits a new file gets from open(2): 0666 (0777 for an executable
 * such as a shared library) less the umask.  The umask is read from
 * /proc/self/status (Linux >= 4.7), which leaves it alone for other
 * threads; elsewhere it is set and restored. */
static mode_t creation_mode(bool exec)
{
	unsigned mask = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/status", "r");
	if (f) {
		char line[256];
		while (!found && fgets(line, sizeof line, f))
			found = sscanf(line, "Umask: %o", &mask) == 1;
		fclose(f);
	}
	if (!found) {
		mode_t m = umask(0);
		umask(m);
		mask = m;
	}
	return (exec ? 0777 : 0666) & ~(mode_t)mask;
}

/* A fresh temporary file name beside `path`. */
static char *temp_beside(const char *path, Diag *d)
{
	size_t n = strlen(path) + 32;
	char *t = xmalloc(n);
	snprintf(t, n, "%s.tmp-XXXXXX", path);
	int fd = mkstemp(t);
	if (fd < 0) {
		diag_syserr(d, path);
		free(t);
		return NULL;
	}
	close(fd);
	xalloc_remove_on_oom(t);
	return t;
}

/* Constants of at least this many bytes go into the object after LLVM
 * has emitted it (codegen/weights.h); smaller ones (scalars, shapes,
 * norms' scales) stay in the module, where the optimiser may use their
 * values. */
enum { WEIGHTS_DEFER_MIN = 4096 };

/* True if triple's objects are little-endian ELF (every Linux and
 * bare-metal triple onnxcc supports; not Darwin, Windows or WebAssembly). */
static bool elf_little_endian(const char *triple, LLVMTargetDataRef layout)
{
	static const char *const not_elf[] = {"apple", "darwin", "macos", "ios", "windows", "mingw",
	                                      "cygwin", "wasm", "aix", "zos", "uefi"};
	for (size_t i = 0; i < sizeof not_elf / sizeof *not_elf; i++)
		if (strstr(triple, not_elf[i]))
			return false;
	return LLVMByteOrder(layout) == LLVMLittleEndian;
}

bool onnxcc_compile(const CompileOptions *o, Diag *d)
{
	Phases P;
	bool ok = false;
	Graph *g = NULL;
	MemPlan plan = {0};
	Cg cg = {0};
	CgSharing sharing = {0};
	LLVMTargetMachineRef tm = NULL;
	LLVMTargetDataRef layout = NULL;
	char *tmp_out = NULL, *tmp_hdr = NULL, *tmp_obj = NULL, *hdr_path = NULL;
	CgWeights weights = {.min_bytes = WEIGHTS_DEFER_MIN};
	CgArtifact kind = CG_OBJ;
	char prefix[128];

	if (o->out_path && !cg_artifact_from_path(o->out_path, &kind)) {
		diag_error(d, "output '%s': unknown extension (use .o, .so, .s or .ll)", o->out_path);
		return false;
	}
	if (o->prefix) {
		cg_c_ident(o->prefix, prefix, sizeof prefix);
		if (strcmp(prefix, o->prefix)) {
			diag_error(d, "--name '%s' is not a C identifier (try '%s')", o->prefix, prefix);
			return false;
		}
	} else {
		default_prefix(o->out_path ? o->out_path : o->model_path, prefix, sizeof prefix);
	}
	for (int i = 0; i < o->ndims; i++) {
		const char *eq = strrchr(o->dims[i], '=');
		char *end;
		errno = 0;
		long long v = eq ? strtoll(eq + 1, &end, 10) : 0;
		if (!eq || eq == o->dims[i] || !eq[1] || *end || errno || v < 1 || v > INT32_MAX) {
			diag_error(d, "--dim %s: expected SYMBOL=N with N a positive integer (1 .. %d)",
			           o->dims[i], INT32_MAX);
			return false;
		}
	}
	if (o->out_path) {
		char *h = o->header_path ? xstrdup(o->header_path) : header_default(o->out_path);
		char *co = canonical_path(o->out_path), *ch = canonical_path(h);
		bool same = !strcmp(co, ch);
		free(co);
		free(ch);
		if (same) {
			diag_error(d, "output '%s' and header '%s' are the same file; give --header another name",
			           o->out_path, h);
			free(h);
			return false;
		}
		free(h);
	}
	if (o->out_path && kind == CG_SO) {
		if (!cg_can_link(o->triple)) {
			diag_error(d, "output '%s': --target %s is bare metal, without shared libraries; "
			           "emit an object (.o) and link it into your firmware", o->out_path, o->triple);
			return false;
		}
		char *ld = cg_find_linker(o->triple, o->linker, d);   /* fail before the work */
		if (!ld)
			return false;
		free(ld);
	}
	phases_init(&P, o->verbose, !o->quiet && isatty(2));
	if (o->out_path) {
		tm = cg_target_machine(o->triple, o->cpu, o->features, o->opt_level, d);
		if (!tm)
			goto out;
		layout = LLVMCreateTargetDataLayout(tm);
	}

	if (o->verbose)
		fprintf(stderr, "onnxcc: loading %s\n", o->model_path);
	phase_begin(&P, "load", 0);
	g = onnx_load(o->model_path, d);
	phase_end(&P);
	if (!g)
		goto out;

	PipelineOptions po = {
		.const_inputs = o->const_inputs, .nconst_inputs = o->nconst_inputs, .plan = &plan,
		.dims = o->dims, .ndims = o->ndims, .print_after = o->print_after,
		.time_passes = o->time_passes, .dump_out = stdout,
		.disabled = o->disabled_passes, .ndisabled = o->ndisabled_passes, .no_fuse = o->no_fuse,
#ifndef NDEBUG
		.verify_each = true,
#endif
	};
	if (o->verbose)
		fprintf(stderr, "onnxcc: %d nodes, running passes\n", g->nnodes);
	phase_begin(&P, "passes", 0);
	bool passed = pass_pipeline(g, &po, d);
	phase_end(&P);
	if (!passed)
		goto out;
	if (o->dump_ir)
		ir_dump(g, stdout);
	uint64_t max_ws = o->max_workspace ? o->max_workspace : COMPILE_MAX_WORKSPACE;
	if ((uint64_t)plan.size > max_ws) {
		diag_error(d, "the model needs a workspace of %llu bytes, more than the limit of %llu "
		           "(--max-workspace BYTES raises it)", (unsigned long long)plan.size,
		           (unsigned long long)max_ws);
		goto out;
	}
	if (!o->out_path) {
		ok = true;
		goto out;
	}

	int live = 0;
	for (int i = 0; i < g->nnodes; i++)
		live += !g->nodes[i].dead;
	CgModuleOptions mo = {.prefix = prefix, .export_alias = kind == CG_SO, .triple = NULL,
	                      .layout = layout, .done = &P.done,
	                      .index_clamp = o->index_clamp, .profile_nodes = o->profile_nodes};
	char *triple = LLVMGetTargetMachineTriple(tm);
	mo.triple = triple;
	if ((kind == CG_OBJ || kind == CG_SO) && elf_little_endian(triple, layout))
		mo.weights = &weights;
	mo.isa = cg_isa_of(tm);
	mo.nvariants = cg_isa_variants(tm, o->cpu, o->features, mo.variants);
	if (o->verbose) {
		fprintf(stderr, "onnxcc: vector unit %s (%d f32 lanes)", mo.isa.name, mo.isa.vlen);
		for (int k = 0; k < mo.nvariants; k++)
			fprintf(stderr, "%s%s (%d)", k ? ", " : "; hot kernels also for ", mo.variants[k].name,
			        mo.variants[k].vlen);
		fprintf(stderr, "%s\n", mo.nvariants ? ", chosen at run time" : "");
	}
	phase_begin(&P, "codegen", live);
	bool built = cg_build_module(&cg, g, &plan, &mo, d);
	phase_end(&P);
	LLVMDisposeMessage(triple);
	if (!built)
		goto out;
	/* LLVM does not read the weights: their copies leave memory while it
	 * works (restored below, before they are written) */
	onnx_weights_evict(g);

	phase_begin(&P, "llvm opt", 0);
	bool optimised = cg_optimize(cg.mod, tm, o->opt_level, d);
	phase_end(&P);
	if (!optimised)
		goto out;
	if (o->stats)
		cg_node_sharing(cg.mod, prefix, &sharing);

	hdr_path = o->header_path ? xstrdup(o->header_path) : header_default(o->out_path);
	if (!(tmp_out = temp_beside(o->out_path, d)) || !(tmp_hdr = temp_beside(hdr_path, d)))
		goto out;
	if (kind == CG_SO) {
		size_t n = strlen(tmp_out) + 3;
		tmp_obj = xmalloc(n);
		snprintf(tmp_obj, n, "%s.o", tmp_out);
		xalloc_remove_on_oom(tmp_obj);
	}
	phase_begin(&P, "llvm emit", 0);
	bool emitted = cg_emit_with(cg.mod, tm, kind == CG_SO ? CG_OBJ : kind, tmp_obj ? tmp_obj : tmp_out,
	                            o->linker, d);
	phase_end(&P);
	if (!emitted)
		goto out;
	cg_dispose(&cg);   /* the module is no longer needed: free it before linking */
#ifdef __GLIBC__
	/* and give its heap back to the system before the weights' pages are
	 * read: the peak RSS is then the larger of the two, not their sum */
	malloc_trim(0);
#endif
	onnx_weights_restore(g);
	phase_begin(&P, "weights", 0);
	bool wrote = cg_weights_write(&weights, tmp_obj ? tmp_obj : tmp_out, d);
	phase_end(&P);
	cg_weights_free(&weights);
	if (!wrote)
		goto out;
	if (kind == CG_SO) {
		phase_begin(&P, "link", 0);
		bool linked = cg_link_shared(tm, tmp_obj, tmp_out, o->linker, d);
		phase_end(&P);
		if (!linked)
			goto out;
	}
	phase_begin(&P, "header", 0);
	FILE *hf = fopen(tmp_hdr, "w");
	if (!hf) {
		diag_syserr(d, tmp_hdr);
		goto out;
	}
	cg_write_header(hf, g, &plan, prefix, o->model_path, o->index_clamp, o->profile_nodes);
	if (fclose(hf) != 0) {
		diag_syserr(d, tmp_hdr);
		goto out;
	}
	/* mkstemp made them 0600 (and a linker may have replaced the file) */
	if (chmod(tmp_out, creation_mode(kind == CG_SO)) != 0 || chmod(tmp_hdr, creation_mode(false)) != 0) {
		diag_syserr(d, tmp_out);
		goto out;
	}
	if (rename(tmp_out, o->out_path) != 0) {
		diag_syserr(d, o->out_path);
		goto out;
	}
	xalloc_keep_on_oom(tmp_out);
	free(tmp_out);
	tmp_out = NULL;
	if (rename(tmp_hdr, hdr_path) != 0) {
		diag_syserr(d, hdr_path);
		unlink(o->out_path);
		goto out;
	}
	xalloc_keep_on_oom(tmp_hdr);
	free(tmp_hdr);
	tmp_hdr = NULL;
	phase_end(&P);
	ok = true;

out:
	phase_end(&P);
	phases_finish(&P);
	if (tmp_obj) {
		unlink(tmp_obj);
		xalloc_keep_on_oom(tmp_obj);
	}
	free(tmp_obj);
	if (tmp_out) {
		unlink(tmp_out);
		xalloc_keep_on_oom(tmp_out);
	}
	if (tmp_hdr) {
		unlink(tmp_hdr);
		xalloc_keep_on_oom(tmp_hdr);
	}
	free(tmp_out);
	free(tmp_hdr);
	if (ok && o->time_passes)
		phases_print(&P, stderr);
	if (ok && (o->stats || o->time_passes) && g) {
		int live = 0;
		uint64_t wbytes = 0;
		for (int i = 0; i < g->nnodes; i++)
			live += !g->nodes[i].dead;
		for (ValueId v = 0; v < g->nvalues; v++)
			if (gval(g, v)->kind == VK_CONST && graph_use_count(g, v) > 0)
				wbytes += gval(g, v)->nbytes;
		double saved = plan.naive ? 100.0 * (1.0 - (double)plan.size / (double)plan.naive) : 0;
		fprintf(stderr, "stats: %d nodes, weights %llu bytes, workspace %llu bytes "
		        "(naive %llu bytes, %.1f%% saved)\n", live, (unsigned long long)wbytes,
		        (unsigned long long)plan.size, (unsigned long long)plan.naive, saved);
		if (sharing.calls) {
			fprintf(stderr, "stats: node functions: %d calls, %d functions emitted; ", sharing.calls,
			        sharing.functions);
			if (sharing.shared)
				fprintf(stderr, "%d emitted once and called by %d nodes (identical nodes merged: "
				        "repeated or weight-shared blocks)\n", sharing.shared, sharing.shared_calls);
			else
				fprintf(stderr, "none shared\n");
			for (int i = 0; i < sharing.ntop; i++)
				fprintf(stderr, "stats:   %s called %d times\n", sharing.top[i].name, sharing.top[i].calls);
			if (sharing.shared > sharing.ntop)
				fprintf(stderr, "stats:   ... and %d more shared functions\n", sharing.shared - sharing.ntop);
		}
	}
	free(hdr_path);
	cg_dispose(&cg);
	cg_weights_free(&weights);
	memplan_free(&plan);
	graph_free(g);
	if (layout)
		LLVMDisposeTargetData(layout);
	if (tm)
		LLVMDisposeTargetMachine(tm);
	return ok;
}
