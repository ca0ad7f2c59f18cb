/* driver/phase.c — phase times and the progress indicator (see phase.h). */
#include "phase.h"

#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time (user + system) of the whole process, every thread, and of
 * its waited-for children (the linker). */
static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	struct rusage ru;
	double ch = 0;
	if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
		ch = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6 + ch;
}

/* The indicator: every 200 ms, the current phase once it is older than
 * 500 ms.  Writes with write(2) so stdio buffers are not shared. */
static void *ticker(void *arg)
{
	Phases *P = arg;
	bool shown = false;
	while (!atomic_load(&P->stop)) {
		struct timespec nap = {0, 200 * 1000 * 1000};
		nanosleep(&nap, NULL);
		const char *name = atomic_load(&P->cur);
		double el = (wall_ms() - P->cur_wall) / 1e3;
		char line[160];
		int n;
		if (!name || el < 0.5) {
			if (shown) {
				n = snprintf(line, sizeof line, "\r\033[K");
				(void)!write(2, line, (size_t)n);
				shown = false;
			}
			continue;
		}
		int total = atomic_load(&P->total), done = atomic_load(&P->done);
		if (total > 0)
			n = snprintf(line, sizeof line, "\r\033[Konnxcc: %s %d/%d (%d%%), %.1f s", name, done,
			             total, (int)(100.0 * done / total), el);
		else
			n = snprintf(line, sizeof line, "\r\033[Konnxcc: %s, %.1f s", name, el);
		(void)!write(2, line, (size_t)n);
		shown = true;
	}
	if (shown)
		(void)!write(2, "\r\033[K", 4);
	return NULL;
}

void phases_init(Phases *P, bool verbose, bool progress)
{
	memset(P, 0, sizeof *P);
	P->verbose = verbose;
	P->progress = progress;
	P->t0_wall = wall_ms();
	P->t0_cpu = cpu_ms();
	atomic_store(&P->cur, NULL);
	if (progress)
		P->has_thread = pthread_create(&P->thread, NULL, ticker, P) == 0;
}

void phase_begin(Phases *P, const char *name, int total)
{
	P->cur_wall = wall_ms();
	P->cur_cpu = cpu_ms();
	atomic_store(&P->done, 0);
	atomic_store(&P->total, total);
	atomic_store(&P->cur, name);
}

void phase_tick(Phases *P)
{
	atomic_fetch_add(&P->done, 1);
}

void phase_end(Phases *P)
{
	const char *name = atomic_load(&P->cur);
	if (!name)
		return;
	atomic_store(&P->cur, NULL);
	double w = wall_ms() - P->cur_wall, c = cpu_ms() - P->cur_cpu;
	if (P->n < PHASE_MAX)
		P->t[P->n++] = (PhaseTime){name, w, c};
	if (P->verbose) {
		if (P->progress)
			fputs("\r\033[K", stderr);
		struct rusage ru;
		long peak = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024 : -1;
		fprintf(stderr, "onnxcc: %-12s %9.1f ms (cpu %.1f ms), peak RSS %ld MB\n", name, w, c, peak);
	}
}

void phases_finish(Phases *P)
{
	if (P->has_thread) {
		atomic_store(&P->stop, true);
		pthread_join(P->thread, NULL);
		P->has_thread = false;
	}
}

void phases_print(const Phases *P, FILE *f)
{
	fprintf(f, "onnxcc: time per phase       wall ms      cpu ms\n");
	for (int i = 0; i < P->n; i++)
		fprintf(f, "  %-20s %11.1f %11.1f\n", P->t[i].name, P->t[i].wall_ms, P->t[i].cpu_ms);
	fprintf(f, "  %-20s %11.1f %11.1f\n", "total", wall_ms() - P->t0_wall, cpu_ms() - P->t0_cpu);
}
