/* driver/compile.h — the whole compiler as one call (used by the CLI, the
 * conformance runner and the end-to-end tests). */
#ifndef ONNXCC_COMPILE_H
#define ONNXCC_COMPILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdint.h>

#include "../ir/diag.h"
#include "../passes/pipeline.h"

/* A graph input frozen to a value at compile time (--const-input). */
typedef ConstInput CompileConstInput;

typedef struct CompileOptions {
	const char *model_path;
	const char *out_path;      /* .o .so .s .ll; NULL: stop after the passes */
	const char *header_path;   /* NULL: out_path with its extension -> .h */
	const char *prefix;        /* NULL: from the output file name (the model's without one) */
	const char *triple;        /* NULL: host */
	const char *cpu;           /* NULL: the architecture's portable baseline; "native": this machine */
	const char *features;
	int opt_level;             /* 0..3 */
	const char *const *dims;   /* "SYM=N" bindings */
	int ndims;
	const CompileConstInput *const_inputs;
	int nconst_inputs;
	bool dump_ir;              /* IR after the passes, to stdout */
	const char *print_after;   /* pass name: IR after it, to stdout */
	const char *const *disabled_passes; /* --disable-pass names */
	int ndisabled_passes;
	bool no_fuse;              /* --no-fuse: none of the optional passes */
	bool time_passes;          /* per-phase wall times to stderr */
	bool stats;                /* one summary line to stderr */
	bool quiet;                /* no diagnostics echo (they stay in Diag) */
	bool verbose;              /* progress lines to stderr */
	const char *linker;        /* .so: C compiler driver to link with (NULL: see cg_find_linker) */
	bool index_clamp;          /* --index-oob=clamp (default: error status) */
	bool profile_nodes;        /* --profile-nodes: per-node hook entry and node table */
	uint64_t max_workspace;    /* --max-workspace: bytes (0: COMPILE_MAX_WORKSPACE) */
} CompileOptions;

/* Default limit on the workspace (scratch memory) a model may need: a
 * model needing more is refused (no tensor may exceed 2^48 elements, but
 * many large ones still could), unless --max-workspace raises it. */
#define COMPILE_MAX_WORKSPACE ((uint64_t)1 << 34)   /* 16 GiB */

/* Loads, checks, optimises and emits.  On failure: diagnostics in d and
 * no output file or header left behind (artifacts are written to temporary
 * names in the output's directory and renamed at the end).  Artifacts get
 * the mode a new file gets (0666, a .so 0777, less the umask). */
bool onnxcc_compile(const CompileOptions *o, Diag *d);

#endif
