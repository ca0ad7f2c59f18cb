/* tests/oom/every.c — allocation failure at every N, in one compile.
 *
 * The onnxcc command line itself (tools/onnxcc.c, included below with its
 * main renamed) runs one full compile.  Before each allocation through
 * xmalloc & co (xalloc_fault_hook, ir/xalloc.c) the process forks, and in
 * the child that allocation fails: the child is the process that
 * `ONNXCC_FAIL_ALLOC=N onnxcc ARGS` is when its N-th allocation fails, and
 * it goes on from there exactly as that one would (xmalloc's out-of-memory
 * path).  The parent waits for it and checks:
 *   - the child exited with status 2 (a crash, an abort, a sanitizer
 *     report or another status is a failure);
 *   - its stderr holds "onnxcc: out of memory";
 *   - OUTDIR is empty (no output, header or temporary file left).
 * Then the parent's own files (its temporaries, which the child removed)
 * are put back — they were hard-linked into OUTDIR.keep before the fork —
 * and the compile goes on to the next allocation.  At the end the compile
 * itself must have succeeded.  One fork per N instead of one compile from
 * the start per N: every N of a zoo model fits in CI (tests/oom/run.sh
 * does the latter, as separate processes, for a sample of N).
 *
 * usage: oom_every OUTDIR ONNXCC-ARGS...
 *   OUTDIR must exist, be empty, and hold the -o output (and its header).
 * Exit status 0 when every child failed cleanly and the compile succeeded.
 */
int onnxcc_cli_main(int argc, char **argv);
#define main onnxcc_cli_main
#include "../../tools/onnxcc.c"
#undef main

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *outdir;
static char keepdir[4096], errfile[4096];
static unsigned long long checked, bad;

/* Calls f(name) for every entry of dir but . and ..; returns how many. */
static int each_entry(const char *dir, void (*f)(const char *name))
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "oom_every: %s: %s\n", dir, strerror(errno));
		exit(2);
	}
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		if (f)
			f(e->d_name);
	}
	closedir(d);
	return n;
}

static void path2(char *buf, size_t n, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n) {
		fprintf(stderr, "oom_every: path too long\n");
		exit(2);
	}
}

/* OUTDIR/name -> OUTDIR.keep/name (a second link to the same file). */
static void keep(const char *name)
{
	char a[8192], b[8192];
	path2(a, sizeof a, outdir, name);
	path2(b, sizeof b, keepdir, name);
	if (link(a, b) != 0) {
		fprintf(stderr, "oom_every: link %s %s: %s\n", a, b, strerror(errno));
		exit(2);
	}
}

/* OUTDIR.keep/name back to OUTDIR/name (unless the child left it there). */
static void restore(const char *name)
{
	char a[8192], b[8192];
	path2(a, sizeof a, outdir, name);
	path2(b, sizeof b, keepdir, name);
	if (access(a, F_OK) != 0 && link(b, a) != 0) {
		fprintf(stderr, "oom_every: link %s %s: %s\n", b, a, strerror(errno));
		exit(2);
	}
	unlink(b);
}

static char left[1024];

static void note_left(const char *name)
{
	size_t n = strlen(left);
	snprintf(left + n, sizeof left - n, " %s", name);
}

/* The child's stderr (at most its first 4 KiB), NUL-terminated. */
static void read_err(char *buf, size_t n)
{
	buf[0] = 0;
	int fd = open(errfile, O_RDONLY);
	if (fd < 0)
		return;
	ssize_t r = read(fd, buf, n - 1);
	close(fd);
	buf[r > 0 ? r : 0] = 0;
}

static bool fork_and_fail(unsigned long long n)
{
	each_entry(outdir, keep);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "oom_every: fork: %s\n", strerror(errno));
		exit(2);
	}
	if (pid == 0) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(99);
		close(fd);
		return true;   /* this allocation fails, in the child only */
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "oom_every: waitpid: %s\n", strerror(errno));
			exit(2);
		}
	checked++;
	char why[1200] = "", err[4096];
	read_err(err, sizeof err);
	left[0] = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 2) {
		if (WIFSIGNALED(st))
			snprintf(why, sizeof why, "killed by signal %d, expected exit status 2", WTERMSIG(st));
		else
			snprintf(why, sizeof why, "exit status %d, expected 2", WEXITSTATUS(st));
	} else if (!strstr(err, "onnxcc: out of memory")) {
		snprintf(why, sizeof why, "stderr lacks 'onnxcc: out of memory'");
	} else if (each_entry(outdir, note_left)) {
		snprintf(why, sizeof why, "left behind:%s", left);
	}
	if (why[0]) {
		if (++bad <= 20) {
			printf("FAIL allocation %llu: %s\n", n, why);
			printf("    %.*s\n", 400, err);
		}
	}
	each_entry(keepdir, restore);
	return false;   /* the parent's allocation goes ahead */
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: oom_every OUTDIR ONNXCC-ARGS...\n");
		return 2;
	}
	outdir = argv[1];
	if ((size_t)snprintf(keepdir, sizeof keepdir, "%s.keep", outdir) >= sizeof keepdir ||
	    (size_t)snprintf(errfile, sizeof errfile, "%s.stderr", outdir) >= sizeof errfile)
		return 2;
	if (mkdir(keepdir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "oom_every: %s: %s\n", keepdir, strerror(errno));
		return 2;
	}
	if (each_entry(outdir, NULL) || each_entry(keepdir, NULL)) {
		fprintf(stderr, "oom_every: %s and %s must be empty\n", outdir, keepdir);
		return 2;
	}
	argv[1] = argv[0];
	xalloc_fault_hook = fork_and_fail;
	int rc = onnxcc_cli_main(argc - 1, argv + 1);
	xalloc_fault_hook = NULL;
	printf("allocation failure at every N: %llu allocations, each failed in a child: %llu clean, %llu not; "
	       "the compile itself: exit %d\n", checked, checked - bad, bad, rc);
	fflush(stdout);
	return rc == 0 && bad == 0 && checked > 0 ? 0 : 1;
}
