/* tests/common/bounded.c — runs a command with a bound on its time and on
 * its memory, and says how much memory it used (tests/bad/run.sh).
 *
 * usage: bounded [-t SECONDS] [-m MIB] [-a MIB] [-r FILE] COMMAND [ARG...]
 *   -t SECONDS  wall-clock limit (default 20): when it expires, the
 *               command's process group (it gets its own) is killed with
 *               SIGKILL and the exit status is 124 (as timeout(1)'s)
 *   -m MIB      bound on the command's peak resident set size, as the
 *               kernel reports it to wait4() (ru_maxrss: the command's own
 *               peak and that of the descendants it waited for); above it
 *               the exit status is 125, whatever the command's was
 *   -a MIB      also sets RLIMIT_AS to MIB before exec, so that a runaway
 *               allocation fails at once; only for an unsanitized command
 *               (ASan reserves terabytes of address space up front)
 *   -r FILE     writes the peak RSS in KiB to FILE
 * Otherwise the exit status is the command's (128 + N when signal N
 * killed it).  A line on stderr explains 124 and 125.
 *
 * This program is built without sanitizers: the command's peak RSS
 * includes what the forked copy of this process had resident before exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	kill(-child, SIGKILL);
	kill(child, SIGKILL);
}

static long number(const char *s, const char *opt)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0) {
		fprintf(stderr, "bounded: %s expects a positive number, got '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long seconds = 20, rss_mib = 0, as_mib = 0;
	const char *report = NULL;
	int i = 1;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "-t"))
			seconds = number(argv[i + 1], "-t");
		else if (!strcmp(argv[i], "-m"))
			rss_mib = number(argv[i + 1], "-m");
		else if (!strcmp(argv[i], "-a"))
			as_mib = number(argv[i + 1], "-a");
		else if (!strcmp(argv[i], "-r"))
			report = argv[i + 1];
		else
			break;
	}
	if (i >= argc || argv[i][0] == '-') {
		fprintf(stderr, "usage: bounded [-t SECONDS] [-m MIB] [-a MIB] [-r FILE] COMMAND [ARG...]\n");
		return 2;
	}
	child = fork();
	if (child < 0) {
		perror("bounded: fork");
		return 2;
	}
	if (child == 0) {
		setpgid(0, 0);
		if (as_mib) {
			struct rlimit r = {(rlim_t)as_mib << 20, (rlim_t)as_mib << 20};
			if (setrlimit(RLIMIT_AS, &r) != 0) {
				perror("bounded: setrlimit");
				_exit(2);
			}
		}
		execvp(argv[i], argv + i);
		fprintf(stderr, "bounded: %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	setpgid(child, child);   /* also here: no window before the child's own call */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)seconds);
	int st;
	struct rusage ru;
	while (wait4(child, &st, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("bounded: wait4");
			return 2;
		}
	alarm(0);
	long peak_kib = ru.ru_maxrss;
	if (report) {
		FILE *f = fopen(report, "w");
		if (!f || fprintf(f, "%ld\n", peak_kib) < 0 || fclose(f) != 0) {
			perror(report);
			return 2;
		}
	}
	if (timed_out) {
		fprintf(stderr, "bounded: %s: killed after %ld s\n", argv[i], seconds);
		return 124;
	}
	if (rss_mib && peak_kib > rss_mib * 1024) {
		fprintf(stderr, "bounded: %s: peak RSS %ld MiB exceeds the bound of %ld MiB\n", argv[i],
		        peak_kib / 1024, rss_mib);
		return 125;
	}
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}
