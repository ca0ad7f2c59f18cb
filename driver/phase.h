/* driver/phase.h — the compiler driver's phases: wall and CPU time of
 * each, a line per phase with -v, the --time-passes table, and a progress
 * indicator on a terminal.
 *
 *   Phases P;
 *   phases_init(&P, verbose, progress);
 *   phase_begin(&P, "codegen", total);   // total: items to count, 0: none
 *   ... phase_tick(&P) once per item ...
 *   phase_end(&P);
 *   phases_print(&P, stderr);           // the --time-passes table
 *
 * The progress indicator (only when `progress` is set, which the driver
 * does when stderr is a terminal) is one line on stderr, rewritten in
 * place by a helper thread a few times a second once a phase has run for
 * half a second, and erased when the phase ends: "onnxcc: codegen
 * 123/506 nodes, 2.1 s".  Nothing else in the compiler runs concurrently
 * with it (it only reads the phase's name, start time and counter). */
#ifndef ONNXCC_PHASE_H
#define ONNXCC_PHASE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

enum { PHASE_MAX = 16 };

typedef struct PhaseTime {
	const char *name;
	double wall_ms, cpu_ms;
} PhaseTime;

typedef struct Phases {
	PhaseTime t[PHASE_MAX];
	int n;
	bool verbose, progress;
	double t0_wall, t0_cpu;           /* of phases_init */
	double cur_wall, cur_cpu;         /* start of the current phase */
	const char *_Atomic cur;          /* current phase's name, NULL between phases */
	atomic_int done, total;           /* items of the current phase */
	atomic_bool stop;
	bool has_thread;
	pthread_t thread;
} Phases;

/* Starts the clock; with progress, the indicator thread (which prints
 * nothing until a phase has run for half a second). */
void phases_init(Phases *P, bool verbose, bool progress);
/* Starts phase `name` (a string literal) with `total` items to count (0:
 * no count). */
void phase_begin(Phases *P, const char *name, int total);
/* One more item of the current phase done (any thread). */
void phase_tick(Phases *P);
/* Ends the current phase: records its times, erases the indicator line,
 * and with verbose prints "onnxcc: NAME  W ms (cpu C ms), peak RSS R MB"
 * (the peak of the process so far). */
void phase_end(Phases *P);
/* Stops the indicator thread (call once, before returning). */
void phases_finish(Phases *P);
/* The table of phases with wall and CPU milliseconds and the total. */
void phases_print(const Phases *P, FILE *f);

#endif
