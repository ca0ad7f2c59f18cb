/* codegen/target.c — target machines, the optimisation pipeline, emission.
 *
 * Shared libraries are made by emitting a position-independent object and
 * linking it with the system compiler driver: `cc -shared -o OUT OBJ`
 * (override with $ONNXCC_CC).  Only the host triple can be linked that way;
 * cross targets get objects, assembly or IR.
 */
#include "target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>

bool cg_artifact_from_path(const char *path, CgArtifact *kind)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return false;
	if (!strcmp(dot, ".o")) *kind = CG_OBJ;
	else if (!strcmp(dot, ".so")) *kind = CG_SO;
	else if (!strcmp(dot, ".s")) *kind = CG_ASM;
	else if (!strcmp(dot, ".ll")) *kind = CG_LL;
	else return false;
	return true;
}

void cg_init_targets(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	LLVMInitializeAllTargetInfos();
	LLVMInitializeAllTargets();
	LLVMInitializeAllTargetMCs();
	LLVMInitializeAllAsmPrinters();
	LLVMInitializeAllAsmParsers();
}

bool cg_triple_is_host(const char *triple)
{
	if (!triple)
		return true;
	char *host = LLVMGetDefaultTargetTriple();
	char *norm = LLVMNormalizeTargetTriple(triple);
	bool same = !strcmp(host, norm) || !strcmp(host, triple);
	LLVMDisposeMessage(host);
	LLVMDisposeMessage(norm);
	return same;
}

LLVMTargetMachineRef cg_target_machine(const char *triple, const char *cpu,
                                       const char *features, int opt_level, Diag *d)
{
	cg_init_targets();
	bool host = cg_triple_is_host(triple);
	char *tr = triple ? LLVMNormalizeTargetTriple(triple) : LLVMGetDefaultTargetTriple();
	LLVMTargetRef target;
	char *err = NULL;
	if (LLVMGetTargetFromTriple(tr, &target, &err)) {
		diag_error(d, "unknown target triple '%s': %s", triple ? triple : tr, err ? err : "");
		LLVMDisposeMessage(err);
		LLVMDisposeMessage(tr);
		return NULL;
	}
	char *hcpu = NULL, *hfeat = NULL;
	if (!cpu && host) {
		hcpu = LLVMGetHostCPUName();
		cpu = hcpu;
		if (!features) {
			hfeat = LLVMGetHostCPUFeatures();
			features = hfeat;
		}
	}
	if (!cpu || !strcmp(cpu, "host")) {
		if (!hcpu && cpu && host) {
			hcpu = LLVMGetHostCPUName();
			cpu = hcpu;
		} else if (!host) {
			cpu = "generic";
		}
	}
	LLVMCodeGenOptLevel lvl = opt_level <= 0 ? LLVMCodeGenLevelNone
	                        : opt_level == 1 ? LLVMCodeGenLevelLess
	                        : opt_level == 2 ? LLVMCodeGenLevelDefault
	                                         : LLVMCodeGenLevelAggressive;
	LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, tr, cpu, features ? features : "",
	                                                  lvl, LLVMRelocPIC, LLVMCodeModelDefault);
	if (!tm)
		diag_error(d, "cannot create a target machine for '%s' (cpu '%s')", tr, cpu);
	LLVMDisposeMessage(tr);
	if (hcpu)
		LLVMDisposeMessage(hcpu);
	if (hfeat)
		LLVMDisposeMessage(hfeat);
	return tm;
}

static bool has_feature(const char *feats, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = feats; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n + 1 && p[0] == '+' && !strncmp(p + 1, name, n))
			return true;
		p = e ? e + 1 : p + len;
	}
	return false;
}

CgIsa cg_isa_of(LLVMTargetMachineRef tm)
{
	char *tr = LLVMGetTargetMachineTriple(tm);
	char *cpu = LLVMGetTargetMachineCPU(tm);
	char *fs = LLVMGetTargetMachineFeatureString(tm);
	CgIsa isa = {1, 16, false, "scalar"};
	if (!strncmp(tr, "x86_64", 6) || !strncmp(tr, "i686", 4) || !strncmp(tr, "i386", 4)) {
		/* A named CPU without an explicit feature list: ask LLVM's view of
		 * that CPU through the data it gives, i.e. fall back to the baseline. */
		bool x64 = !strncmp(tr, "x86_64", 6);
		if (has_feature(fs, "avx512f"))
			isa = (CgIsa){16, 32, true, "avx512"};
		else if (has_feature(fs, "avx2") && has_feature(fs, "fma"))
			isa = (CgIsa){8, x64 ? 16 : 8, true, "avx2"};
		else if (x64 || has_feature(fs, "sse2"))
			isa = (CgIsa){4, x64 ? 16 : 8, has_feature(fs, "fma"), "sse"};
	} else if (!strncmp(tr, "aarch64", 7) || !strncmp(tr, "arm64", 5)) {
		isa = (CgIsa){4, 32, true, "neon"};
	} else if (!strncmp(tr, "arm", 3) || !strncmp(tr, "thumb", 5)) {
		if (has_feature(fs, "neon"))
			isa = (CgIsa){4, 16, has_feature(fs, "vfp4"), "neon"};
	}
	(void)cpu;
	LLVMDisposeMessage(tr);
	LLVMDisposeMessage(cpu);
	LLVMDisposeMessage(fs);
	return isa;
}

bool cg_optimize(LLVMModuleRef m, LLVMTargetMachineRef tm, int opt_level, Diag *d)
{
	char *err = NULL;
	if (LLVMVerifyModule(m, LLVMReturnStatusAction, &err)) {
		diag_error(d, "internal error: generated LLVM IR does not verify: %.800s", err ? err : "");
		LLVMDisposeMessage(err);
		return false;
	}
	LLVMDisposeMessage(err);
	char pipeline[32];
	snprintf(pipeline, sizeof pipeline, "default<O%d>", opt_level < 0 ? 0 : opt_level > 3 ? 3 : opt_level);
	LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
	LLVMPassBuilderOptionsSetLoopVectorization(po, opt_level >= 2);
	LLVMPassBuilderOptionsSetSLPVectorization(po, opt_level >= 2);
	LLVMErrorRef e = LLVMRunPasses(m, pipeline, tm, po);
	LLVMDisposePassBuilderOptions(po);
	if (e) {
		char *msg = LLVMGetErrorMessage(e);
		diag_error(d, "internal error: LLVM pass pipeline failed: %s", msg);
		LLVMDisposeErrorMessage(msg);
		return false;
	}
	return true;
}

/* Runs argv, returns its exit status (or -1 with a diagnostic). */
static int run_cmd(char *const argv[], Diag *d)
{
	pid_t pid = fork();
	if (pid < 0) {
		diag_syserr(d, "fork");
		return -1;
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "onnxcc: cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			diag_syserr(d, "waitpid");
			return -1;
		}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool cg_emit(LLVMModuleRef m, LLVMTargetMachineRef tm, CgArtifact kind, const char *path, Diag *d)
{
	char *err = NULL;
	if (kind == CG_LL) {
		if (LLVMPrintModuleToFile(m, path, &err)) {
			diag_error(d, "cannot write '%s': %s", path, err ? err : "");
			LLVMDisposeMessage(err);
			return false;
		}
		return true;
	}
	if (kind == CG_OBJ || kind == CG_ASM) {
		if (LLVMTargetMachineEmitToFile(tm, m, path, kind == CG_OBJ ? LLVMObjectFile : LLVMAssemblyFile, &err)) {
			diag_error(d, "cannot emit '%s': %s", path, err ? err : "");
			LLVMDisposeMessage(err);
			return false;
		}
		return true;
	}
	/* CG_SO: object next to the output, then cc -shared. */
	size_t n = strlen(path) + 8;
	char *obj = malloc(n);
	if (!obj) {
		diag_syserr(d, "malloc");
		return false;
	}
	snprintf(obj, n, "%s.o", path);
	bool ok = false;
	if (LLVMTargetMachineEmitToFile(tm, m, obj, LLVMObjectFile, &err)) {
		diag_error(d, "cannot emit '%s': %s", obj, err ? err : "");
		LLVMDisposeMessage(err);
	} else {
		const char *cc = getenv("ONNXCC_CC");
		char *argv[] = {(char *)(cc && cc[0] ? cc : "cc"), "-shared", "-o", (char *)path, obj,
		                "-Wl,-z,noexecstack", NULL};
		int st = run_cmd(argv, d);
		if (st == 0)
			ok = true;
		else if (st > 0)
			diag_error(d, "linking the shared library with '%s -shared' failed (exit %d)", argv[0], st);
	}
	unlink(obj);
	free(obj);
	return ok;
}
