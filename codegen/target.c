/* codegen/target.c — target machines, the optimisation pipeline, emission.
 *
 * Default CPU: the portable baseline of the architecture (x86-64: cpu
 * "x86-64" without host features; AArch64: "generic"; 32-bit ARM Linux
 * hard-float: ARMv7-A with NEON/VFPv4), so an artifact runs on every
 * machine of its architecture; `--cpu native` (alias `host`) selects the
 * build machine's CPU and features.  A user-named CPU or feature list is
 * validated in a child process first (probe_subtarget), because LLVM only
 * warns about unknown names and dies on impossible ones.
 *
 * Shared libraries are made by emitting a position-independent object and
 * linking it with a C compiler driver: `LINKER -shared -o OUT OBJ`, where
 * LINKER is --linker, else $ONNXCC_CC, else `cc` for the host and the cross
 * driver `<triple>-gcc` (found in $PATH) for other Linux targets.  Bare-metal
 * targets (os "none") get objects, assembly or IR only.
 */
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/ErrorHandling.h>
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

/* "arch-vendor-os-env" -> "arch-os-env" (the vendor does not matter to us). */
static void drop_vendor(const char *norm, char *out, size_t n)
{
	const char *a = strchr(norm, '-');
	const char *b = a ? strchr(a + 1, '-') : NULL;
	if (b)
		snprintf(out, n, "%.*s%s", (int)(a - norm), norm, b);
	else
		snprintf(out, n, "%s", norm);
}

bool cg_triple_is_host(const char *triple)
{
	if (!triple)
		return true;
	char *host = LLVMGetDefaultTargetTriple();
	char *norm = LLVMNormalizeTargetTriple(triple);
	char h[256], t[256];
	drop_vendor(host, h, sizeof h);
	drop_vendor(norm, t, sizeof t);
	bool same = !strcmp(h, t);
	LLVMDisposeMessage(host);
	LLVMDisposeMessage(norm);
	return same;
}

/* The architecture (text before the first '-') of a triple. */
static void triple_arch(const char *tr, char *out, size_t n)
{
	size_t k = strcspn(tr, "-");
	snprintf(out, n, "%.*s", (int)(k < n ? k : n - 1), tr);
}

static bool is_arm32(const char *arch)
{
	return !strncmp(arch, "arm", 3) && strncmp(arch, "arm64", 5);
}

/* The normalised triple onnxcc compiles for (malloc'd): NULL is the host;
 * a bare "arm" architecture with the gnueabihf environment means ARMv7-A,
 * the baseline of Debian's armhf (LLVM would read "arm" as ARMv4T). */
static char *target_triple(const char *triple)
{
	char *tr = triple ? LLVMNormalizeTargetTriple(triple) : LLVMGetDefaultTargetTriple();
	char *r;
	if (!strncmp(tr, "arm-", 4) && strstr(tr, "-gnueabihf")) {
		size_t n = strlen(tr) + 3;
		r = xmalloc(n);
		snprintf(r, n, "armv7%s", tr + 3);
	} else {
		r = xmalloc(strlen(tr) + 1);
		strcpy(r, tr);
	}
	LLVMDisposeMessage(tr);
	return r;
}

bool cg_is_native_cpu(const char *cpu)
{
	return cpu && (!strcmp(cpu, "native") || !strcmp(cpu, "host"));
}

/* The portable default of an architecture: the CPU every machine of that
 * architecture (as the Linux distributions define it) runs, and features
 * added to it. */
static void baseline(const char *tr, const char **cpu, const char **features)
{
	char arch[32];
	triple_arch(tr, arch, sizeof arch);
	*cpu = "generic";
	*features = "";
	if (!strcmp(arch, "x86_64"))
		*cpu = "x86-64";
	else if (!strncmp(arch, "armv7", 5) && strchr("alh", arch[5]) && strstr(tr, "-linux") &&
	         strstr(tr, "eabihf"))
		*features = "+neon,+vfp4";      /* ARMv7-A with NEON (VFPv4); "armv7" "armv7a" "armv7l" */
}

/* Features that select the instruction-set mode are fixed by the triple;
 * LLVM has no diagnostic for flipping them (x86 reaches llvm_unreachable). */
static const char *mode_feature(const char *fs)
{
	static const char *const bad[] = {"64bit-mode", "32bit-mode", "16bit-mode", "64bit", "thumb-mode", NULL};
	for (const char *p = fs; p && *p;) {
		size_t len = strcspn(p, ",");
		const char *f = (*p == '+' || *p == '-') ? p + 1 : p;
		size_t flen = len - (size_t)(f - p);
		for (int i = 0; bad[i]; i++)
			if (flen == strlen(bad[i]) && !strncmp(f, bad[i], flen))
				return bad[i];
		p += len;
		if (*p == ',')
			p++;
	}
	return NULL;
}

static void probe_fatal(const char *reason)
{
	(void)!write(2, "LLVM ERROR: ", 12);
	(void)!write(2, reason, strlen(reason));
	(void)!write(2, "\n", 1);
	_exit(3);
}

/* LLVM reports an unknown --cpu or feature only as a warning on stderr
 * (and then ignores it), and an impossible combination (e.g. cpu i386 for
 * x86_64) as a fatal error that ends the process.  So a CPU or feature list
 * the user named is first tried in a child process: it creates the target
 * machine and emits an object with one function (which builds the
 * subtarget), with stderr captured.  Any output or abnormal exit is a
 * diagnostic naming the flag; returns true when the child was silent. */
static bool probe_subtarget(LLVMTargetRef target, const char *tr, const char *cpu,
                            const char *fs, Diag *d)
{
	int p[2];
	if (pipe(p) != 0) {
		diag_syserr(d, "pipe");
		return false;
	}
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		diag_syserr(d, "fork");
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 2);
		alarm(20);
		LLVMInstallFatalErrorHandler(probe_fatal);
		LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, tr, cpu, fs, LLVMCodeGenLevelDefault,
		                                                  LLVMRelocPIC, LLVMCodeModelDefault);
		if (!tm)
			_exit(4);
		LLVMContextRef ctx = LLVMContextCreate();
		LLVMModuleRef m = LLVMModuleCreateWithNameInContext("probe", ctx);
		LLVMSetTarget(m, tr);
		LLVMTypeRef f32 = LLVMFloatTypeInContext(ctx);
		LLVMTypeRef ft = LLVMFunctionType(f32, (LLVMTypeRef[]){f32, f32}, 2, 0);
		LLVMValueRef fn = LLVMAddFunction(m, "probe", ft);
		LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
		LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
		LLVMBuildRet(b, LLVMBuildFMul(b, LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), ""));
		char *err = NULL;
		LLVMMemoryBufferRef mb = NULL;
		if (LLVMTargetMachineEmitToMemoryBuffer(tm, m, LLVMObjectFile, &err, &mb)) {
			fprintf(stderr, "%s\n", err ? err : "cannot emit code");
			_exit(5);
		}
		_exit(0);
	}
	close(p[1]);
	char out[1024];
	size_t n = 0;
	for (;;) {
		char chunk[512];
		ssize_t k = read(p[0], chunk, sizeof chunk);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		size_t take = (size_t)k < sizeof out - 1 - n ? (size_t)k : sizeof out - 1 - n;
		memcpy(out + n, chunk, take);
		n += take;
	}
	out[n] = 0;
	close(p[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			diag_syserr(d, "waitpid");
			return false;
		}
	bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0 && n == 0;
	if (clean)
		return true;
	/* first line, without LLVM's "(ignoring processor)" tail */
	out[strcspn(out, "\n")] = 0;
	char *tail = strstr(out, " (ignoring");
	if (tail)
		*tail = 0;
	const char *why = strncmp(out, "LLVM ERROR: ", 12) ? out : out + 12;
	if (!*why)
		why = WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "LLVM cannot generate code for it";
	diag_error(d, "target %s, --cpu %s%s%s: not a valid combination: %s "
	           "(`llc-19 -mtriple=%s -mcpu=help` lists the CPUs and features)",
	           tr, cpu, *fs ? ", --features " : "", fs, why, tr);
	return false;
}

LLVMTargetMachineRef cg_target_machine(const char *triple, const char *cpu,
                                       const char *features, int opt_level, Diag *d)
{
	cg_init_targets();
	bool host = cg_triple_is_host(triple);
	char *tr = target_triple(triple);
	LLVMTargetMachineRef tm = NULL;
	LLVMTargetRef target;
	char *err = NULL, *hcpu = NULL, *hfeat = NULL, *fs = NULL;
	if (LLVMGetTargetFromTriple(tr, &target, &err)) {
		diag_error(d, "unknown target triple '%s': %s", triple ? triple : tr, err ? err : "");
		LLVMDisposeMessage(err);
		goto out;
	}
	const char *base_cpu, *base_fs;
	baseline(tr, &base_cpu, &base_fs);
	bool probe = false;
	if (cg_is_native_cpu(cpu)) {
		if (!host) {
			diag_error(d, "--cpu %s: only when compiling for this machine; --target %s needs "
			           "a named CPU, or none for its portable baseline", cpu, triple);
			goto out;
		}
		hcpu = LLVMGetHostCPUName();
		hfeat = LLVMGetHostCPUFeatures();
		cpu = hcpu;
		base_fs = hfeat;
	} else if (cpu) {
		probe = true;
		base_fs = "";    /* a named CPU brings its own features */
	} else {
		cpu = base_cpu;
	}
	if (features && *features) {
		const char *mode = mode_feature(features);
		if (mode) {
			diag_error(d, "--features %s: '%s' selects the instruction-set mode, which the target "
			           "triple (%s) fixes; choose another --target instead", features, mode, tr);
			goto out;
		}
		probe = true;
	}
	size_t n = strlen(base_fs) + (features ? strlen(features) : 0) + 2;
	fs = xmalloc(n);
	snprintf(fs, n, "%s%s%s", base_fs, *base_fs && features && *features ? "," : "",
	         features ? features : "");
	if (probe && !probe_subtarget(target, tr, cpu, fs, d))
		goto out;
	LLVMCodeGenOptLevel lvl = opt_level <= 0 ? LLVMCodeGenLevelNone
	                        : opt_level == 1 ? LLVMCodeGenLevelLess
	                        : opt_level == 2 ? LLVMCodeGenLevelDefault
	                                         : LLVMCodeGenLevelAggressive;
	tm = LLVMCreateTargetMachine(target, tr, cpu, fs, lvl, LLVMRelocPIC, LLVMCodeModelDefault);
	if (!tm)
		diag_error(d, "cannot create a target machine for '%s' (cpu '%s')", tr, cpu);
out:
	free(tr);
	free(fs);
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

int cg_isa_variants(LLVMTargetMachineRef tm, const char *cpu, const char *features, CgIsa *out)
{
	if ((cpu && *cpu) || (features && *features))
		return 0;
	char *tr = LLVMGetTargetMachineTriple(tm);
	char *fs = LLVMGetTargetMachineFeatureString(tm);
	int n = 0;
	/* only the portable x86-64 machine (its feature string is empty) */
	if (!strncmp(tr, "x86_64", 6) && !*fs) {
		out[n++] = (CgIsa){8, 16, true, "avx2", "+avx2,+fma,+f16c", 2};
		out[n++] = (CgIsa){16, 32, true, "avx512",
		                   "+avx512f,+avx512vl,+avx512bw,+avx512dq,+evex512,+avx2,+fma,+f16c", 3};
	}
	LLVMDisposeMessage(tr);
	LLVMDisposeMessage(fs);
	return n;
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
	/* mergefunc first: nodes of repeated blocks (layers, recursions, ODE
	 * steps) often lower to identical functions; merging them before the
	 * pipeline spares optimising and emitting each copy (an encoder of 32
	 * layers: 1008 functions left 350). */
	char pipeline[48];
	snprintf(pipeline, sizeof pipeline, "mergefunc,default<O%d>", opt_level < 0 ? 0 : opt_level > 3 ? 3 : opt_level);
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

/* Runs argv, returns its exit status; -1 with a system-error diagnostic
 * when it cannot be started (the child reports execvp's errno through a
 * close-on-exec pipe). */
static int run_cmd(char *const argv[], Diag *d)
{
	int p[2];
	if (pipe(p) != 0 || fcntl(p[1], F_SETFD, FD_CLOEXEC) != 0) {
		diag_syserr(d, "pipe");
		return -1;
	}
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		diag_syserr(d, "fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		execvp(argv[0], argv);
		int e = errno;
		(void)!write(p[1], &e, sizeof e);
		_exit(127);
	}
	close(p[1]);
	int child_errno = 0;
	ssize_t k;
	while ((k = read(p[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR)
		;
	close(p[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			diag_syserr(d, "waitpid");
			return -1;
		}
	if (k == (ssize_t)sizeof child_errno) {
		char what[600];
		snprintf(what, sizeof what, "cannot run the linker '%.500s'", argv[0]);
		errno = child_errno;
		diag_syserr(d, what);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Whether the command (a path, or a name looked up in $PATH) exists and is
 * executable; its full path goes to `full` when given. */
static bool find_program(const char *cmd, char *full, size_t n)
{
	if (strchr(cmd, '/')) {
		if (full)
			snprintf(full, n, "%s", cmd);
		return access(cmd, X_OK) == 0;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/bin:/bin";
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, ":");
		char cand[4096];
		snprintf(cand, sizeof cand, "%.*s/%s", (int)len, len ? p : ".", cmd);
		if (access(cand, X_OK) == 0) {
			if (full)
				snprintf(full, n, "%s", cand);
			return true;
		}
		p += len;
		if (*p == ':')
			p++;
	}
	return false;
}

/* The cross compiler driver names tried for a triple: "<triple>-gcc" as
 * written, without the vendor, and Debian's "arm-linux-gnueabihf" for any
 * 32-bit ARM Linux triple.  Writes up to 4 names into cand[]. */
static int linker_candidates(const char *given, const char *tr, char cand[][256])
{
	int n = 0;
	char arch[32], rest[96];
	if (given)
		snprintf(cand[n++], 256, "%.100s-gcc", given);
	triple_arch(tr, arch, sizeof arch);
	const char *p = strchr(tr, '-');
	const char *os = p ? strchr(p + 1, '-') : NULL;   /* after the vendor */
	snprintf(rest, sizeof rest, "%s", os ? os + 1 : "");
	if (*rest)
		snprintf(cand[n++], 256, "%s-%s-gcc", arch, rest);
	if (is_arm32(arch) && strstr(rest, "linux"))
		snprintf(cand[n++], 256, "arm-%s-gcc", rest);
	int m = 0;
	for (int i = 0; i < n; i++) {   /* drop repeats */
		bool dup = false;
		for (int j = 0; j < m; j++)
			dup |= !strcmp(cand[i], cand[j]);
		if (!dup && m != i)
			memcpy(cand[m], cand[i], 256);
		m += !dup;
	}
	return m;
}

bool cg_can_link(const char *triple)
{
	char *tr = target_triple(triple);
	bool ok = !strstr(tr, "-none");
	free(tr);
	return ok;
}

char *cg_find_linker(const char *triple, const char *linker, Diag *d)
{
	const char *env = getenv("ONNXCC_CC");
	const char *cmd = linker && *linker ? linker : env && *env ? env : NULL;
	char word[512];
	if (!cmd && cg_triple_is_host(triple))
		cmd = "cc";
	if (cmd) {
		size_t len = strcspn(cmd, " \t");
		snprintf(word, sizeof word, "%.*s", (int)len, cmd);
		if (!find_program(word, NULL, 0)) {
			char what[700];
			snprintf(what, sizeof what, "linker '%s'%s", word,
			         linker && *linker ? " (--linker)" : env && *env ? " ($ONNXCC_CC)" : "");
			errno = ENOENT;
			diag_syserr(d, what);
			return NULL;
		}
		return xstrdup(cmd);
	}
	char *tr = target_triple(triple);
	char cand[4][256];
	int n = linker_candidates(triple, tr, cand);
	for (int i = 0; i < n; i++)
		if (find_program(cand[i], NULL, 0)) {
			free(tr);
			return xstrdup(cand[i]);
		}
	char what[900];
	int k = snprintf(what, sizeof what, "no linker for %s (tried", tr);
	for (int i = 0; i < n && k < (int)sizeof what; i++)
		k += snprintf(what + k, sizeof what - (size_t)k, "%s %s", i ? "," : "", cand[i]);
	if (k < (int)sizeof what)
		snprintf(what + k, sizeof what - (size_t)k, "; install the cross gcc or give --linker CMD)");
	errno = ENOENT;
	diag_syserr(d, what);
	free(tr);
	return NULL;
}

void cg_print_targets(FILE *f)
{
	static const struct {
		const char *triple, *alias, *note;
	} t[] = {
		{"x86_64-linux-gnu", NULL, NULL},
		{"aarch64-linux-gnu", NULL, NULL},
		{"armv7-linux-gnueabihf", "arm-linux-gnueabihf", NULL},
		{"thumbv7em-none-eabihf", NULL, "bare metal: .o .s .ll only; give an FPU CPU, e.g. --cpu cortex-m7"},
	};
	cg_init_targets();
	fprintf(f, "targets (--target TRIPLE), default CPU, and the linker used for .so:\n");
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		char *tr = target_triple(t[i].triple);
		const char *cpu, *fs;
		baseline(tr, &cpu, &fs);
		char def[64];
		snprintf(def, sizeof def, "%s%s%s", cpu, *fs ? " " : "", fs);
		fprintf(f, "  %-24s cpu %-20s ", t[i].triple, def);
		if (!cg_can_link(t[i].triple)) {
			fprintf(f, "%s\n", t[i].note);
		} else {
			Diag d;
			diag_init(&d, "", false);
			char *ld = cg_find_linker(t[i].triple, NULL, &d);
			char full[4096] = "";
			if (ld)
				find_program(strtok(ld, " \t"), full, sizeof full);
			fprintf(f, ".o .so .s .ll  linker: %s%s%s\n", ld ? full : "not found",
			        cg_triple_is_host(t[i].triple) ? " (host)" : "",
			        ld ? "" : " (install its cross gcc, or give --linker CMD)");
			free(ld);
			diag_free(&d);
		}
		if (t[i].alias)
			fprintf(f, "  %-24s (the same)\n", t[i].alias);
		free(tr);
	}
	fprintf(f, "Any other triple LLVM knows is accepted for .o .s .ll.\n"
	        "Without --cpu/--features, x86-64 code also holds AVX2 and AVX-512 versions of its hot\n"
	        "kernels, chosen at the first call by cpuid.\n"
	        "--cpu native (or host) builds for this machine's CPU and its features, one version.\n");
}

bool cg_emit(LLVMModuleRef m, LLVMTargetMachineRef tm, CgArtifact kind, const char *path, Diag *d)
{
	return cg_emit_with(m, tm, kind, path, NULL, d);
}

bool cg_emit_with(LLVMModuleRef m, LLVMTargetMachineRef tm, CgArtifact kind, const char *path,
                  const char *linker, Diag *d)
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
	/* CG_SO: object next to the output, then LINKER -shared. */
	size_t n = strlen(path) + 8;
	char *obj = xmalloc(n);
	snprintf(obj, n, "%s.o", path);
	xalloc_remove_on_oom(obj);
	bool ok = false;
	if (LLVMTargetMachineEmitToFile(tm, m, obj, LLVMObjectFile, &err)) {
		diag_error(d, "cannot emit '%s': %s", obj, err ? err : "");
		LLVMDisposeMessage(err);
	} else {
		ok = cg_link_shared(tm, obj, path, linker, d);
	}
	unlink(obj);
	xalloc_keep_on_oom(obj);
	free(obj);
	return ok;
}

bool cg_link_shared(LLVMTargetMachineRef tm, const char *obj, const char *path, const char *linker,
                    Diag *d)
{
	char *tr = LLVMGetTargetMachineTriple(tm);
	char *ld = cg_find_linker(tr, linker, d);
	LLVMDisposeMessage(tr);
	if (!ld)
		return false;
	char *argv[40];
	int argc = 0;
	for (char *w = strtok(ld, " \t"); w && argc < 32; w = strtok(NULL, " \t"))
		argv[argc++] = w;
	const char *tail[] = {"-shared", "-o", path, obj, "-Wl,-z,noexecstack", NULL};
	for (int i = 0; tail[i]; i++)
		argv[argc++] = (char *)tail[i];
	argv[argc] = NULL;
	bool ok = false;
	int st = run_cmd(argv, d);
	if (st == 0)
		ok = true;
	else if (st > 0)
		diag_error(d, "linking the shared library with '%s -shared' failed (exit %d)", argv[0], st);
	free(ld);
	return ok;
}
