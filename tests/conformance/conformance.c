/* tests/conformance/conformance.c — the ONNX node-test conformance runner.
 *
 *   onnxcc-conformance [options] [CASE_DIR...]
 *
 * For every case (a directory holding model.onnx and test_data_set_N/
 * {input_K.pb, output_K.pb}) a forked child compiles model.onnx to a .so
 * with onnxcc_compile(), dlopens it, feeds it the inputs and compares the
 * outputs with ONNX's rule |got - exp| <= atol + rtol*|exp| (rtol 1e-3,
 * atol 1e-7; NaN matches NaN, inf matches inf of the same sign; integers
 * and bools exactly; dtype and shape must match).  Each case ends as exactly
 * one of
 *     PASS      every output matched
 *     REJECTED  the compiler refused the model with a diagnostic
 *     FAIL      wrong answer, or a broken contract (no diagnostic on a
 *               failed compile, non-zero run status, a write past an output
 *               buffer, an input modified)
 *     CRASH     the child died of a signal or a sanitizer report
 *     TIMEOUT   the child ran longer than --timeout seconds
 *
 * Child protocol (child.c): the child writes free text (details, for -v)
 * to a pipe and ends with one line "@@RESULT STATUS\tdetail".  Fatal-signal
 * handlers write that line too before dying; a child that exits without it
 * is a CRASH whose detail is the telling line of its stderr (sanitizer,
 * assertion, LLVM error).  The parent runs -j children at once, each in
 * its own process group so a timeout also kills the linker the compiler
 * spawned.
 *
 * When the compiler asks for a graph input to be a constant (Reshape's
 * shape, Slice's starts, ...), the child freezes that input to the test
 * data's value (CompileOptions.const_inputs) and compiles again; such a
 * PASS says "frozen inputs: NAME".
 *
 * Output: the per-case table "case<TAB>status<TAB>detail" (default
 * <build dir>/conformance.txt when the whole suite runs), then
 *     conformance: P passed, F failed          (F = FAIL + CRASH + TIMEOUT)
 *     rejected: R (top reasons: Op n, ...)
 * Exit status 1 iff F > 0 (2 on usage errors).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

#ifndef ONNXCC_NODE_TESTS
#define ONNXCC_NODE_TESTS "../shared/onnx-node-tests"
#endif
#ifndef ONNXCC_BINARY_DIR
#define ONNXCC_BINARY_DIR "."
#endif

const char *const status_names[ST__COUNT] = {"PASS", "REJECTED", "FAIL", "CRASH", "TIMEOUT"};

bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

typedef struct Slot {
	pid_t pid;           /* 0: free */
	int fd;
	Case *c;
	char *buf;           /* everything the child wrote */
	size_t len, cap;
	double start, deadline;
} Slot;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void slot_read(Slot *s)
{
	for (;;) {
		if (s->cap - s->len < 4096) {
			s->cap = s->cap ? s->cap * 2 : 16384;
			s->buf = realloc(s->buf, s->cap);
			if (!s->buf) {
				fputs("onnxcc-conformance: out of memory\n", stderr);
				exit(2);
			}
		}
		ssize_t k = read(s->fd, s->buf + s->len, s->cap - s->len - 1);
		if (k > 0) {
			s->len += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		break;   /* EOF or EAGAIN */
	}
	if (s->buf)
		s->buf[s->len] = 0;
}

/* The telling line of a dead child's stderr. */
static void stderr_excerpt(const char *path, char *out, size_t n)
{
	out[0] = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	static const char *keys[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
	                             "runtime error:", "Assertion", "internal error",
	                             "LLVM ERROR", "ERROR:"};
	char line[1024], last[1024] = "", best[1024] = "";
	int best_rank = 100;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		snprintf(last, sizeof last, "%s", line);
		for (int k = 0; k < (int)(sizeof keys / sizeof keys[0]); k++)
			if (k < best_rank && strstr(line, keys[k])) {
				best_rank = k;
				snprintf(best, sizeof best, "%s", line);
			}
	}
	fclose(f);
	snprintf(out, n, "%.300s", best[0] ? best : last);
}

static void slot_finish(const Options *o, Slot *s, int wst, bool timed_out,
                        const char *workdir)
{
	Case *c = s->c;
	slot_read(s);
	close(s->fd);
	c->ms = (now_s() - s->start) * 1e3;
	const char *text = s->buf ? s->buf : "";
	const char *res = NULL, *res_at;
	for (const char *p = strstr(text, "@@RESULT "); p; p = strstr(p + 1, "@@RESULT "))
		res = p;
	res_at = res;
	char errpath[4200], excerpt[512];
	snprintf(errpath, sizeof errpath, "%s/%s/stderr.txt", workdir, c->name);
	if (timed_out || (WIFSIGNALED(wst) && WTERMSIG(wst) == SIGALRM)) {
		c->status = ST_TIMEOUT;
		char d[128];
		snprintf(d, sizeof d, "no result after %d s", o->timeout_s);
		c->detail = xstrdup(d);
	} else if (res) {
		res += strlen("@@RESULT ");
		const char *tab = strchr(res, '\t');
		const char *nl = strchr(res, '\n');
		if (!nl)
			nl = res + strlen(res);
		c->status = ST_CRASH;
		for (int k = 0; k < ST__COUNT; k++)
			if (tab && (size_t)(tab - res) == strlen(status_names[k]) &&
			    strncmp(res, status_names[k], (size_t)(tab - res)) == 0)
				c->status = (Status)k;
		const char *dstart = tab && tab < nl ? tab + 1 : nl;
		char *d = malloc((size_t)(nl - dstart) + 600);
		if (!d)
			exit(2);
		snprintf(d, (size_t)(nl - dstart) + 1, "%s", dstart);
		if (c->status == ST_CRASH) {
			stderr_excerpt(errpath, excerpt, sizeof excerpt);
			if (excerpt[0])
				snprintf(d + strlen(d), 600, " | %s", excerpt);
		}
		c->detail = d;
		/* A PASS/FAIL whose process then died is still a crash. */
		if (c->status != ST_CRASH && WIFSIGNALED(wst)) {
			char *d2 = malloc(strlen(d) + 64);
			if (!d2)
				exit(2);
			sprintf(d2, "signal %d after result %s: %s", WTERMSIG(wst),
			        status_names[c->status], d);
			free(d);
			c->detail = d2;
			c->status = ST_CRASH;
		}
	} else {
		c->status = ST_CRASH;
		char d[1024];
		stderr_excerpt(errpath, excerpt, sizeof excerpt);
		if (WIFSIGNALED(wst))
			snprintf(d, sizeof d, "killed by signal %d (%s)%s%s", WTERMSIG(wst),
			         strsignal(WTERMSIG(wst)), excerpt[0] ? " | " : "", excerpt);
		else
			snprintf(d, sizeof d, "exited with status %d without a result%s%s",
			         WIFEXITED(wst) ? WEXITSTATUS(wst) : -1, excerpt[0] ? " | " : "",
			         excerpt);
		c->detail = xstrdup(d);
	}
	if (o->verbose) {
		/* the child's text without its result line */
		size_t n = res_at ? (size_t)(res_at - text) : strlen(text);
		printf("=== %s\n%.*s%s%s: %s (%.0f ms)\n", c->name, (int)n, text,
		       n && text[n - 1] != '\n' ? "\n" : "", status_names[c->status], c->detail,
		       c->ms);
		fflush(stdout);
	} else if (c->status >= ST_FAIL) {
		printf("%s %s: %s\n", status_names[c->status], c->name, c->detail);
		fflush(stdout);
	}
	free(s->buf);
	memset(s, 0, sizeof *s);
}

static void slot_start(const Options *o, Slot *s, Case *c, const char *workdir)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		perror("onnxcc-conformance: pipe");
		exit(2);
	}
	char casedir[4200];
	snprintf(casedir, sizeof casedir, "%s/%s", workdir, c->name);
	mkdir(casedir, 0777);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("onnxcc-conformance: fork");
		exit(2);
	}
	if (pid == 0) {
		setpgid(0, 0);
		close(p[0]);
		if (!o->verbose) {
			char errpath[4300];
			snprintf(errpath, sizeof errpath, "%s/stderr.txt", casedir);
			int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
		}
		child_run(o, c, workdir, p[1]);
	}
	setpgid(pid, pid);   /* also in the parent: no race with kill(-pid) */
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	s->pid = pid;
	s->fd = p[0];
	s->c = c;
	s->buf = NULL;
	s->len = s->cap = 0;
	s->start = now_s();
	s->deadline = s->start + o->timeout_s + 5;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void rmtree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void run_all(const Options *o, Case *cases, int n, const char *workdir)
{
	Slot *slots = calloc((size_t)o->jobs, sizeof *slots);
	struct pollfd *pf = calloc((size_t)o->jobs, sizeof *pf);
	if (!slots || !pf)
		exit(2);
	int next = 0, running = 0;
	while (next < n || running > 0) {
		for (int i = 0; i < o->jobs && next < n; i++) {
			if (slots[i].pid == 0) {
				slot_start(o, &slots[i], &cases[next++], workdir);
				running++;
			}
		}
		int np = 0;
		for (int i = 0; i < o->jobs; i++)
			if (slots[i].pid)
				pf[np++] = (struct pollfd){.fd = slots[i].fd, .events = POLLIN};
		poll(pf, (nfds_t)np, 20);
		double t = now_s();
		for (int i = 0; i < o->jobs; i++) {
			Slot *s = &slots[i];
			if (!s->pid)
				continue;
			slot_read(s);
			int wst = 0;
			pid_t r = waitpid(s->pid, &wst, WNOHANG);
			bool timed_out = false;
			if (r == 0 && t > s->deadline) {
				kill(-s->pid, SIGKILL);
				waitpid(s->pid, &wst, 0);
				timed_out = true;
				r = s->pid;
			}
			if (r == s->pid && WIFSIGNALED(wst) && WTERMSIG(wst) == SIGALRM)
				kill(-s->pid, SIGKILL);   /* a linker the child left behind */
			if (r == s->pid) {
				Case *c = s->c;
				slot_finish(o, s, wst, timed_out, workdir);
				running--;
				if (!o->keep) {
					char casedir[4200];
					snprintf(casedir, sizeof casedir, "%s/%s", workdir, c->name);
					rmtree(casedir);
				}
			}
		}
	}
	free(slots);
	free(pf);
}

static int cmp_case(const void *a, const void *b)
{
	return strcmp(((const Case *)a)->name, ((const Case *)b)->name);
}

typedef struct Reason {
	char key[128];
	int count;
} Reason;

/* Groups a REJECTED detail: by op type when the diagnostic names a node
 * ("node 'N' (Op): ..."), otherwise by the message with the file name and
 * quoted names removed. */
static void reason_key(const char *detail, char *key, size_t n)
{
	const char *p = strstr(detail, "node '");
	if (p) {
		const char *q = strstr(p + 6, "' (");
		if (q) {
			const char *e = strchr(q + 3, ')');
			if (e) {
				snprintf(key, n, "%.*s", (int)(e - q - 3), q + 3);
				return;
			}
		}
	}
	if (strncmp(detail, "test data: input ", 17) == 0 && strstr(detail, "the model declares")) {
		snprintf(key, n, "test data contradicts the model's input type");
		return;
	}
	/* drop "path: " prefixes ending in .onnx: / .pb: */
	const char *s = detail;
	for (const char *m; (m = strstr(s, ".onnx: ")) || (m = strstr(s, ".pb: "));)
		s = strchr(m, ' ') + 1;
	size_t k = 0;
	bool in_quote = false;
	for (; *s && k + 1 < n && k < 60; s++) {
		if (*s == '\'') {
			if (!in_quote && k + 2 < n)
				key[k++] = '*';
			in_quote = !in_quote;
			continue;
		}
		if (!in_quote)
			key[k++] = *s;
	}
	key[k] = 0;
}

static int cmp_reason(const void *a, const void *b)
{
	const Reason *x = a, *y = b;
	if (x->count != y->count)
		return y->count - x->count;
	return strcmp(x->key, y->key);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: onnxcc-conformance [options] [CASE_DIR...]\n"
	        "Compiles and runs ONNX node tests (each CASE_DIR holds model.onnx and\n"
	        "test_data_set_N/), one forked child per case.\n"
	        "  --dir DIR         node tests directory (default $ONNXCC_NODE_TESTS,\n"
	        "                    else %s)\n"
	        "  --case NAME       only this case (repeatable)\n"
	        "  --filter SUBSTR   only cases whose name contains SUBSTR (repeatable)\n"
	        "  -j N              children at once (default 2)\n"
	        "  --timeout S       per case, seconds (default 60)\n"
	        "  -O N              optimisation level passed to the compiler (default 2)\n"
	        "  --out FILE        per-case table; default %s/conformance.txt when\n"
	        "                    the whole suite runs, none for a subset\n"
	        "  -v                the child's diagnostics / every mismatch (up to 20 per\n"
	        "                    output) and stderr; sanitizer stack traces on crashes\n"
	        "  --keep            keep the work directory: model.so, inputs and expected\n"
	        "                    outputs as .npy, and an onnxcc-run command line\n"
	        "  --list-failures   after the summary, list every FAIL/CRASH/TIMEOUT\n"
	        "  --self-test       check the runner itself: children that crash, hang\n"
	        "                    or lie, and copies of test_transpose_default with\n"
	        "                    corrupted expected outputs must be classified right\n"
	        "Exit status: 1 if any case FAILed, CRASHed or TIMEd OUT; 2 on usage errors.\n",
	        ONNXCC_NODE_TESTS, ONNXCC_BINARY_DIR);
}

static bool is_case_dir(const char *dir)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/model.onnx", dir);
	return file_exists(p);
}

int main(int argc, char **argv)
{
	Options o = {ONNXCC_NODE_TESTS, NULL, 2, 60, 2, false, false, false};
	setvbuf(stdout, NULL, _IOLBF, 0);   /* progress visible in ctest logs */
	const char *env_dir = getenv("ONNXCC_NODE_TESTS");
	if (env_dir && env_dir[0])
		o.tests_dir = env_dir;
	const char **names = calloc((size_t)argc, sizeof *names);
	const char **filters = calloc((size_t)argc, sizeof *filters);
	const char **paths = calloc((size_t)argc, sizeof *paths);
	int nnames = 0, nfilters = 0, npaths = 0;
	bool out_given = false, selftest = false;
	if (!names || !filters || !paths)
		exit(2);   /* exit, not return: allocations stay reachable */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;
#define VAL() (has_val ? argv[++i] : (fprintf(stderr, "onnxcc-conformance: %s needs a value\n", a), exit(2), ""))
		if (!strcmp(a, "--dir"))
			o.tests_dir = VAL();
		else if (!strcmp(a, "--case"))
			names[nnames++] = VAL();
		else if (!strcmp(a, "--filter"))
			filters[nfilters++] = VAL();
		else if (!strcmp(a, "-j"))
			o.jobs = atoi(VAL());
		else if (!strncmp(a, "-j", 2) && a[2])
			o.jobs = atoi(a + 2);
		else if (!strcmp(a, "--timeout"))
			o.timeout_s = atoi(VAL());
		else if (!strncmp(a, "-O", 2) && a[2])
			o.opt_level = atoi(a + 2);
		else if (!strcmp(a, "-O"))
			o.opt_level = atoi(VAL());
		else if (!strcmp(a, "--out")) {
			o.out_path = VAL();
			out_given = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			o.verbose = true;
		else if (!strcmp(a, "--keep"))
			o.keep = true;
		else if (!strcmp(a, "--list-failures"))
			o.list_failures = true;
		else if (!strcmp(a, "--self-test"))
			selftest = true;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (a[0] == '-') {
			fprintf(stderr, "onnxcc-conformance: unknown option '%s'\n", a);
			usage(stderr);
			exit(2);
		} else
			paths[npaths++] = a;
#undef VAL
	}
	if (o.jobs < 1 || o.timeout_s < 1 || o.opt_level < 0 || o.opt_level > 3) {
		fprintf(stderr, "onnxcc-conformance: -j, --timeout must be >= 1 and -O 0..3\n");
		exit(2);
	}
	if (selftest) {
		free(names);
		free(filters);
		free(paths);
		return self_test(o, "test_transpose_default") ? 1 : 0;
	}

	/* Collect the cases. */
	int cap = 1024, n = 0;
	Case *cases = calloc((size_t)cap, sizeof *cases);
	if (!cases)
		exit(2);
	if (npaths > 0) {
		for (int i = 0; i < npaths; i++) {
			if (!is_case_dir(paths[i])) {
				fprintf(stderr, "onnxcc-conformance: %s: no model.onnx there\n", paths[i]);
				exit(2);
			}
			if (n == cap && !(cases = realloc(cases, (size_t)(cap *= 2) * sizeof *cases)))
				exit(2);
			char *dir = xstrdup(paths[i]);
			size_t l = strlen(dir);
			while (l > 1 && dir[l - 1] == '/')
				dir[--l] = 0;
			const char *base = strrchr(dir, '/');
			cases[n++] = (Case){.name = xstrdup(base ? base + 1 : dir), .dir = dir};
		}
	} else {
		DIR *dh = opendir(o.tests_dir);
		if (!dh) {
			fprintf(stderr, "onnxcc-conformance: %s: %s\n", o.tests_dir, strerror(errno));
			exit(2);
		}
		for (struct dirent *e; (e = readdir(dh));) {
			if (e->d_name[0] == '.')
				continue;
			bool want = nnames == 0 && nfilters == 0;
			for (int k = 0; k < nnames; k++)
				want |= strcmp(e->d_name, names[k]) == 0;
			for (int k = 0; k < nfilters; k++)
				want |= strstr(e->d_name, filters[k]) != NULL;
			if (!want)
				continue;
			char dir[4200];
			snprintf(dir, sizeof dir, "%s/%s", o.tests_dir, e->d_name);
			if (!is_case_dir(dir))
				continue;
			if (n == cap && !(cases = realloc(cases, (size_t)(cap *= 2) * sizeof *cases)))
				exit(2);
			cases[n++] = (Case){.name = xstrdup(e->d_name), .dir = xstrdup(dir)};
		}
		closedir(dh);
		for (int k = 0; k < nnames; k++) {
			bool found = false;
			for (int i = 0; i < n; i++)
				found |= strcmp(cases[i].name, names[k]) == 0;
			if (!found) {
				fprintf(stderr, "onnxcc-conformance: no case '%s' in %s\n", names[k],
				        o.tests_dir);
				exit(2);
			}
		}
	}
	if (n == 0) {
		fprintf(stderr, "onnxcc-conformance: no cases selected\n");
		exit(2);
	}
	qsort(cases, (size_t)n, sizeof *cases, cmp_case);
	bool whole_suite = npaths == 0 && nnames == 0 && nfilters == 0;
	char default_out[4200];
	if (!out_given && whole_suite) {
		snprintf(default_out, sizeof default_out, "%s/conformance.txt", ONNXCC_BINARY_DIR);
		o.out_path = default_out;
	}

	const char *tmp = getenv("TMPDIR");
	char workdir[4200];
	snprintf(workdir, sizeof workdir, "%s/onnxcc-conf-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(workdir)) {
		fprintf(stderr, "onnxcc-conformance: mkdtemp %s: %s\n", workdir, strerror(errno));
		exit(2);
	}

	double t0 = now_s();
	run_all(&o, cases, n, workdir);
	double secs = now_s() - t0;
	if (o.keep)
		printf("work directory kept: %s\n", workdir);
	else
		rmtree(workdir);

	/* Table, counts, reasons. */
	int count[ST__COUNT] = {0};
	for (int i = 0; i < n; i++)
		count[cases[i].status]++;
	if (o.out_path) {
		FILE *f = fopen(o.out_path, "w");
		if (!f) {
			fprintf(stderr, "onnxcc-conformance: %s: %s\n", o.out_path, strerror(errno));
		} else {
			fprintf(f, "# case\tstatus\tdetail\n");
			for (int i = 0; i < n; i++)
				fprintf(f, "%s\t%s\t%s\n", cases[i].name, status_names[cases[i].status],
				        cases[i].detail ? cases[i].detail : "");
			fclose(f);
		}
	}
	Reason *reasons = calloc((size_t)n, sizeof *reasons);
	int nreasons = 0;
	for (int i = 0; reasons && i < n; i++) {
		if (cases[i].status != ST_REJECTED)
			continue;
		char key[128];
		reason_key(cases[i].detail ? cases[i].detail : "", key, sizeof key);
		int r = 0;
		while (r < nreasons && strcmp(reasons[r].key, key) != 0)
			r++;
		if (r == nreasons)
			snprintf(reasons[nreasons++].key, sizeof reasons[0].key, "%s", key);
		reasons[r].count++;
	}
	if (reasons)
		qsort(reasons, (size_t)nreasons, sizeof *reasons, cmp_reason);

	int failed = count[ST_FAIL] + count[ST_CRASH] + count[ST_TIMEOUT];
	printf("conformance: %d passed, %d failed\n", count[ST_PASS], failed);
	printf("rejected: %d", count[ST_REJECTED]);
	for (int r = 0; r < nreasons && r < 12; r++)
		printf("%s%s %d", r == 0 ? " (top reasons: " : ", ", reasons[r].key, reasons[r].count);
	printf("%s\n", nreasons ? ")" : "");
	int nfrozen = 0;
	for (int i = 0; i < n; i++)
		nfrozen += cases[i].status == ST_PASS && cases[i].detail &&
		           strstr(cases[i].detail, "frozen inputs:") != NULL;
	printf("failed: %d FAIL, %d CRASH, %d TIMEOUT; %d of the passes froze graph inputs "
	       "to test data; %d cases in %.1f s%s%s\n", count[ST_FAIL], count[ST_CRASH],
	       count[ST_TIMEOUT], nfrozen, n, secs, o.out_path ? "; table: " : "",
	       o.out_path ? o.out_path : "");
	/* The slowest cases: where compile time goes. */
	int slow[5] = {-1, -1, -1, -1, -1};
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < 5; k++) {
			if (slow[k] < 0 || cases[i].ms > cases[slow[k]].ms) {
				memmove(slow + k + 1, slow + k, (size_t)(4 - k) * sizeof slow[0]);
				slow[k] = i;
				break;
			}
		}
	}
	if (n > 1) {
		printf("slowest:");
		for (int k = 0; k < 5 && slow[k] >= 0; k++)
			printf("%s %s %.1f s", k ? "," : "", cases[slow[k]].name, cases[slow[k]].ms / 1e3);
		printf("\n");
	}
	if (o.list_failures)
		for (int i = 0; i < n; i++)
			if (cases[i].status >= ST_FAIL)
				printf("%-8s %s: %s\n", status_names[cases[i].status], cases[i].name,
				       cases[i].detail);
	for (int i = 0; i < n; i++) {
		free(cases[i].name);
		free(cases[i].dir);
		free(cases[i].detail);
	}
	free(cases);
	free(reasons);
	free(names);
	free(filters);
	free(paths);
	return failed > 0 ? 1 : 0;
}
