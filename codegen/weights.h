/* codegen/weights.h — large constants written into the object file after
 * LLVM has emitted it, instead of being copied into the LLVM module.
 *
 * LLVM copies every constant's bytes twice on the way to an object file
 * (the ConstantDataArray, uniqued and hashed in the context, then the
 * MC fragment the assembler fills), so a model's weights were held three
 * times while compiling.  A deferred weight is instead a read-only global
 * of n zero bytes, marked externally_initialized (the optimiser may not
 * read its zeros: no load from it is folded, no two are merged) and
 * placed alone in the section ".rodata.onnxcc_w<K>".  LLVM writes the
 * zeros as a fill (no buffer); cg_weights_write() then finds each such
 * section in the ELF object and writes the real bytes at its file offset,
 * straight from where they are (the model's mapping), or, for a weight
 * made by a fill function (a packed GEMM weight), into a buffer filled
 * just then and freed once written: one such weight is in memory at a
 * time.  Pages of a borrowed weight are handed back to the kernel once
 * written (madvise MADV_PAGEOUT: non-destructive, the pages are re-read
 * if touched again).  A section LLVM dropped (a global the optimiser
 * found dead, such as a raw weight that only its packed copy uses) is
 * skipped.
 *
 * Only ELF objects (every target onnxcc supports) are written this way;
 * .s and .ll keep the bytes in the module.
 */
#ifndef ONNXCC_WEIGHTS_H
#define ONNXCC_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>

#include "../ir/diag.h"

#include "cg.h"   /* CgFillFn */

typedef struct CgWeight {
	const void *data;   /* n bytes, borrowed; or NULL and: */
	CgFillFn fill;      /* fills a buffer of n bytes from arg */
	void *arg;          /* owned copy */
	size_t n;
	bool written;
} CgWeight;

typedef struct CgWeights {
	size_t min_bytes;   /* constants of at least this size are deferred */
	CgWeight *v;
	int n, cap;
} CgWeights;

/* Records a weight of n bytes: data (borrowed: it must stay valid until
 * cg_weights_write), or fill(dst, n, arg) with a copy of the arg_size
 * bytes at arg.  Returns its index K (its section is
 * ".rodata.onnxcc_w<K>"). */
int cg_weights_add(CgWeights *w, size_t n, const void *data, CgFillFn fill, const void *arg,
                   size_t arg_size);

/* Hands the whole pages inside [p, p+n) back to the kernel if they are
 * not needed soon (non-destructive: MADV_PAGEOUT). */
void cg_release_pages(const void *p, size_t n);

/* Writes every recorded weight into the ELF object at path (see the top
 * of the file).  A section of the wrong size or type, or an object that is
 * not a little-endian ELF file, is an internal error; I/O failures are
 * system errors. */
bool cg_weights_write(CgWeights *w, const char *path, Diag *d);

/* Frees the list and the fill arguments. */
void cg_weights_free(CgWeights *w);

#endif
