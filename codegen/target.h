/* codegen/target.h — target machines and artifact emission. */
#ifndef ONNXCC_TARGET_H
#define ONNXCC_TARGET_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "../ir/diag.h"
#include "cg.h"

typedef enum CgArtifact { CG_OBJ, CG_SO, CG_ASM, CG_LL } CgArtifact;

/* Artifact kind from the output file's extension; false if unknown. */
bool cg_artifact_from_path(const char *path, CgArtifact *kind);

/* Initialises every LLVM target this build has (idempotent). */
void cg_init_targets(void);

/* Creates a target machine for triple (NULL: host).  cpu NULL means the
 * portable baseline of the triple's architecture (see target.c); "native"
 * or "host" the build machine's CPU and features (host triple only).
 * features are appended to the baseline's.  A triple LLVM does not know, a
 * CPU or feature it does not know for that triple, or an impossible
 * combination is a diagnostic (never a warning or a crash). */
LLVMTargetMachineRef cg_target_machine(const char *triple, const char *cpu,
                                       const char *features, int opt_level, Diag *d);
bool cg_triple_is_host(const char *triple);
/* "native" or "host". */
bool cg_is_native_cpu(const char *cpu);
/* False for bare-metal triples (no shared libraries there). */
bool cg_can_link(const char *triple);
/* The linker command (malloc'd; may hold arguments separated by blanks)
 * for a .so of triple: `linker` if given, else $ONNXCC_CC, else `cc` for the
 * host or `<triple>-gcc` found in $PATH.  A missing program is a system
 * error (diag_syserr, ENOENT) and NULL. */
char *cg_find_linker(const char *triple, const char *linker, Diag *d);
/* The --print-targets table: each supported target, its default CPU and
 * the linker found for it. */
void cg_print_targets(FILE *f);

/* The vector unit of tm, read from its triple and feature string (a named
 * --cpu without --features reads as that architecture's baseline). */
CgIsa cg_isa_of(LLVMTargetMachineRef tm);

/* The variants a portable build of tm also carries for its hot kernels
 * (written to out[0..CG_MAX_VARIANTS), returns how many): on x86-64
 * without --cpu and --features (cpu and features NULL or empty), AVX2+FMA
 * (8 lanes) and AVX-512 (16 lanes), picked at run time by a CPU check
 * (codegen/kernels/dispatch.c); 0 elsewhere: AArch64 and ARMv7-A Linux have
 * NEON in their baseline, and a named or native CPU builds for one CPU. */
int cg_isa_variants(LLVMTargetMachineRef tm, const char *cpu, const char *features, CgIsa *out);

/* Verifies the module, runs the new-pass-manager pipeline default<O{n}>. */
bool cg_optimize(LLVMModuleRef m, LLVMTargetMachineRef tm, int opt_level, Diag *d);

/* Writes the artifact to `path` (callers pass a temporary name; see
 * driver/compile.c).  CG_SO emits an object and links it with `linker` (NULL:
 * cg_find_linker's default for tm's triple) `-shared`. */
bool cg_emit_with(LLVMModuleRef m, LLVMTargetMachineRef tm, CgArtifact kind,
                  const char *path, const char *linker, Diag *d);
/* Links the object file obj into the shared library path with `linker`
 * (NULL: cg_find_linker's default for tm's triple) `-shared`. */
bool cg_link_shared(LLVMTargetMachineRef tm, const char *obj, const char *path, const char *linker,
                    Diag *d);
/* cg_emit_with(..., NULL, d). */
bool cg_emit(LLVMModuleRef m, LLVMTargetMachineRef tm, CgArtifact kind,
             const char *path, Diag *d);

#endif
