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
 * host CPU (with its features) for the host triple, "generic" otherwise.
 * A triple LLVM does not know is a diagnostic. */
LLVMTargetMachineRef cg_target_machine(const char *triple, const char *cpu,
                                       const char *features, int opt_level, Diag *d);
bool cg_triple_is_host(const char *triple);

/* The vector unit of tm, read from its triple and feature string (a named
 * --cpu without --features reads as that architecture's baseline). */
CgIsa cg_isa_of(LLVMTargetMachineRef tm);

/* Verifies the module, runs the new-pass-manager pipeline default<O{n}>. */
bool cg_optimize(LLVMModuleRef m, LLVMTargetMachineRef tm, int opt_level, Diag *d);

/* Writes the artifact to `path` (callers pass a temporary name; see
 * compile.c).  CG_SO emits an object and links it with the system C
 * compiler driver (`cc -shared`). */
bool cg_emit(LLVMModuleRef m, LLVMTargetMachineRef tm, CgArtifact kind,
             const char *path, Diag *d);

#endif
