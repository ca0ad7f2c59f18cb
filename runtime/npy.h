/* runtime/npy.h — NumPy .npy files and element helpers for the runtime.
 *
 * Plain C11, no dependency: used by onnxcc-run, the conformance runner and
 * anyone feeding a compiled model from Python.  Element types are named by
 * ONNX TensorProto.DataType codes, the same numbers as OnnxccTensorInfo.dtype
 * (1 = float, 7 = int64, 9 = bool, 10 = float16, ...).
 *
 * Supported files: format versions 1.0, 2.0 and 3.0; descr '<f4' '<f8' '<f2'
 * '<i8' '<i4' '<i2' '|i1' '|u1' '<u2' '<u4' '<u8' '|b1' (big-endian '>'
 * variants are read and byte-swapped); fortran_order False; any shape
 * including scalars `()` and empty dims.  Files are written as version 1.0
 * in host byte order ('<' on every supported host), data 64-byte aligned.
 *
 * Files are opened non-blocking and read only when they are regular files
 * (a FIFO or device is an error, never a hang); POSIX is assumed.
 *
 * Errors: every function that can fail returns false and writes a one-line
 * message "FILE: what is wrong" into err (errlen bytes, always
 * NUL-terminated when errlen > 0).  Nothing is printed.
 */
#ifndef ONNXCC_NPY_H
#define ONNXCC_NPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* NumPy's own limit on the number of dimensions. */
#define ONNXCC_NPY_MAX_RANK 32

/* An array read from a .npy file.  data is 64-byte aligned, owned by the
 * struct (free with onnxcc_npy_free), and never NULL after a successful
 * read, even for zero elements. */
typedef struct OnnxccNpy {
	int32_t dtype;                       /* ONNX code */
	int32_t rank;
	int64_t shape[ONNXCC_NPY_MAX_RANK];
	uint64_t numel;
	uint64_t nbytes;                     /* numel * element size */
	void *data;
} OnnxccNpy;

/* Reads path into *out.  On failure *out is left empty (data NULL). */
bool onnxcc_npy_read(const char *path, OnnxccNpy *out, char *err, size_t errlen);

/* Parses a whole .npy image held in memory; name is used in messages. */
bool onnxcc_npy_parse(const void *buf, size_t len, const char *name,
                      OnnxccNpy *out, char *err, size_t errlen);

/* Writes an array to path.  The data goes to a fresh "path.tmp-PID-N" first and is
 * renamed into place, so a failed write leaves no partial file.  data may
 * be NULL only when the array has no elements. */
bool onnxcc_npy_write(const char *path, int32_t dtype, int32_t rank,
                      const int64_t *shape, const void *data,
                      char *err, size_t errlen);

/* Releases out->data and empties the struct; safe on an empty struct. */
void onnxcc_npy_free(OnnxccNpy *a);

/* NumPy descr written for an ONNX dtype ("<f4"), or NULL if .npy cannot
 * hold it (bfloat16, strings, complex). */
const char *onnxcc_npy_descr(int32_t dtype);

/* ONNX dtype of a descr such as "<f4", "|b1", ">i8", "=u2"; 0 if not
 * supported.  *swap is set when the data is big-endian (may be NULL). */
int32_t onnxcc_npy_dtype(const char *descr, bool *swap);

/* ---- element helpers --------------------------------------------------- */

/* Short name: "f32", "i64", "bool", "f16", ...; "?" if unknown. */
const char *onnxcc_dtype_name(int32_t dtype);
/* Bytes per element; 0 for strings, complex and unknown codes. */
size_t onnxcc_dtype_size(int32_t dtype);
bool onnxcc_dtype_is_float(int32_t dtype);

/* IEEE binary16 and bfloat16 bits to float (exact). */
float onnxcc_f16_to_f32(uint16_t h);
float onnxcc_bf16_to_f32(uint16_t h);
/* Element i of a buffer of the given dtype, as double (int64/uint64 values
 * beyond 2^53 are rounded; bool is 0 or 1). */
double onnxcc_elem_f64(int32_t dtype, const void *data, uint64_t i);
/* Element i as int64 (uint64 reinterpreted); for exact integer compares. */
int64_t onnxcc_elem_i64(int32_t dtype, const void *data, uint64_t i);

/* Summary of a buffer: min, max, mean over all elements as doubles.  A NaN
 * anywhere makes all three NaN (as NumPy's min/max/mean do).  n == 0 gives
 * three NaNs. */
typedef struct OnnxccStats {
	double min, max, mean;
} OnnxccStats;
OnnxccStats onnxcc_stats(int32_t dtype, const void *data, uint64_t n);

/* "[1,3,224,224]" ("[]" for a scalar) into buf; returns buf. */
const char *onnxcc_shape_str(int32_t rank, const int64_t *shape, char *buf, size_t n);

#endif
