/* frontend/onnx_tensor.c — TensorProto -> Tensor, external data, .pb files.
 *
 * Where a tensor's bytes can come from (ONNX IR spec, TensorProto):
 *   - raw_data: dtype_size*numel little-endian bytes.  With an owner the
 *     Tensor points at the unpacked message's buffer (no copy);
 *   - the typed field for the data type: float_data (f32), int32_data
 *     (i32, i16, i8, u16, u8, bool, and f16/bf16 as their 16 bits),
 *     int64_data (i64), double_data (f64), uint64_data (u32, u64).  These
 *     are converted once into the arena;
 *   - data_location == EXTERNAL: external_data keys "location" (relative
 *     to the model's folder), "offset" and "length".  With an owner the
 *     file is mmapped once (shared by all tensors in it) and the Tensor
 *     points into the mapping.  The file is opened beneath the model's
 *     folder (openat2 RESOLVE_BENEATH, or component by component with
 *     O_NOFOLLOW), non-blocking, and must be a regular file: absolute
 *     paths, '..' and symbolic links leading out of the folder are
 *     diagnostics.  (A NUL inside the location is caught before unpacking
 *     by onnx_wire_check.)
 * Everything else — missing or unknown data types, negative dims, a rank
 * over IR_MAX_RANK, a byte count that does not match the shape, external
 * paths leaving the model's folder — is a diagnostic.
 */
#include "onnx_priv.h"
#include "onnx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

/* See onnx_priv.h. */
DType onnx_dtype(int64_t v)
{
	return v > 0 && v < DT__COUNT ? (DType)v : DT_UNDEF;
}

/* See onnx_priv.h. */
const char *onnx_dirname(Arena *a, const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;
	if (!slash)
		return ".";
	if (slash == path)
		return "/";
	return arena_strndup(a, path, (size_t)(slash - path));
}

/* See onnx_priv.h.  Nested graphs first: they point into the model. */
void onnx_owner_free(void *p)
{
	OnnxOwner *o = p;
	if (!o)
		return;
	for (int i = 0; i < o->nsubs; i++)
		graph_free(o->subs[i]);
	free(o->subs);
	for (int i = 0; i < o->nmaps; i++) {
		if (o->maps[i].base)
			munmap(o->maps[i].base, o->maps[i].len);
		free(o->maps[i].path);
	}
	free(o->maps);
	if (o->model)
		onnx__model_proto__free_unpacked(o->model, NULL);
	if (o->model_map.base)
		munmap(o->model_map.base, o->model_map.len);
	free(o->raw_refs);
	free(o->copies);
	free(o);
}

/* See onnx_priv.h. */
void onnx_release_mapped(const void *p, size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	if (pg <= 0)
		return;
	uintptr_t lo = ((uintptr_t)p + (uintptr_t)pg - 1) & ~(uintptr_t)(pg - 1);
	uintptr_t hi = ((uintptr_t)p + n) & ~(uintptr_t)(pg - 1);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* ---- external data -------------------------------------------------- */

/* Parses a non-negative decimal integer; false if s is not one. */
static bool parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return false;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* True if location is absolute or has a ".." component. */
static bool path_escapes(const char *loc)
{
	if (loc[0] == '/')
		return true;
	for (const char *p = loc; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		if (*p == '/')
			p++;
	}
	return false;
}

/* Opens loc beneath the folder dir: no component may lead outside it.
 * With openat2(RESOLVE_BENEATH) symbolic links that stay inside the folder
 * are followed and every other one fails with EXDEV; where openat2 is not
 * available each component is opened with O_NOFOLLOW, so any symbolic link
 * fails (ELOOP / ENOTDIR).  The final open is O_NONBLOCK (a FIFO must not
 * block).  Returns the descriptor, or -1 with errno set. */
static int open_beneath(const char *dir, const char *loc)
{
#ifdef SYS_openat2
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	int fd = (int)syscall(SYS_openat2, dfd, loc, &how, sizeof how);
	int e = errno;
	close(dfd);
	errno = e;
	if (fd >= 0 || (e != ENOSYS && e != EPERM))
		return fd;
#endif
	return onnx_open_beneath_nofollow(dir, loc);
}

/* See onnx_priv.h. */
int onnx_open_beneath_nofollow(const char *dir, const char *loc)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	int fd = -1;
	const char *p = loc;
	for (;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char comp[256];
		if (n >= sizeof comp) {
			close(dfd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = 0;
		if (!e) {
			fd = openat(dfd, comp, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
			int err = errno;
			close(dfd);
			errno = err;
			return fd;
		}
		if (n && strcmp(comp, ".")) {
			int nd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int err = errno;
			close(dfd);
			if (nd < 0) {
				errno = err;
				return -1;
			}
			dfd = nd;
		}
		p = e + 1;
	}
}

/* Maps the whole file loc (beneath dir, read-only).  On failure reports
 * the problem mentioning `what` and the location, and returns false. */
static bool map_file(Diag *d, const char *what, const char *loc, const char *dir,
                     void **base, size_t *len)
{
	char msg[1200];
	snprintf(msg, sizeof msg, "%s: external data '%s'", what, loc);
	int fd = open_beneath(dir, loc);
	if (fd < 0) {
		if (errno == EXDEV || errno == ELOOP || errno == ENOTDIR) {
			diag_error(d, "%s: leads outside the model's folder through a symbolic link "
			           "(external data must be regular files inside the folder)", msg);
			return false;
		}
		diag_syserr(d, msg);
		return false;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		diag_syserr(d, msg);
		close(fd);
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		diag_error(d, "%s: not a regular file", msg);
		return false;
	}
	*len = (size_t)st.st_size;
	*base = NULL;
	if (*len) {
		void *m = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			diag_syserr(d, msg);
			close(fd);
			return false;
		}
		*base = m;
	}
	close(fd);
	return true;
}

static bool load_external(OnnxTensorCtx *c, const Onnx__TensorProto *tp, const char *what,
                          size_t nbytes, Tensor *t)
{
	const char *loc = NULL;
	uint64_t off = 0, len = nbytes;
	bool has_len = false;
	for (size_t i = 0; i < tp->n_external_data; i++) {
		const Onnx__StringStringEntryProto *e = tp->external_data[i];
		const char *k = e->key ? e->key : "", *v = e->value ? e->value : "";
		if (!strcmp(k, "location")) {
			loc = v;
		} else if (!strcmp(k, "offset")) {
			if (!parse_u64(v, &off)) {
				diag_error(c->d, "%s: external data offset '%s' is not a number", what, v);
				return false;
			}
		} else if (!strcmp(k, "length")) {
			if (!parse_u64(v, &len)) {
				diag_error(c->d, "%s: external data length '%s' is not a number", what, v);
				return false;
			}
			has_len = true;
		}
	}
	if (!loc || !*loc) {
		diag_error(c->d, "%s: external data has no location", what);
		return false;
	}
	if (path_escapes(loc)) {
		diag_error(c->d, "%s: external data location '%s' escapes the model's folder "
		           "(absolute or with '..')", what, loc);
		return false;
	}
	if (has_len && len != nbytes) {
		diag_error(c->d, "%s: external data length %llu does not match the shape "
		           "(%zu bytes)", what, (unsigned long long)len, nbytes);
		return false;
	}
	size_t flen = strlen(c->dir) + 1 + strlen(loc) + 1;
	char *full = xmalloc(flen);
	snprintf(full, flen, "%s/%s", c->dir, loc);

	OnnxMap tmp = {0}, *m = NULL;
	if (c->owner) {
		for (int i = 0; i < c->owner->nmaps; i++)
			if (!strcmp(c->owner->maps[i].path, full))
				m = &c->owner->maps[i];
	}
	if (!m) {
		if (!map_file(c->d, what, loc, c->dir, &tmp.base, &tmp.len)) {
			free(full);
			return false;
		}
		tmp.path = full;
		full = NULL;
		if (c->owner) {
			OnnxOwner *o = c->owner;
			if (o->nmaps == o->cap_maps) {
				o->cap_maps = o->cap_maps ? 2 * o->cap_maps : 4;
				o->maps = xrealloc(o->maps, sizeof(OnnxMap) * (size_t)o->cap_maps);
			}
			o->maps[o->nmaps] = tmp;
			m = &o->maps[o->nmaps++];
		} else {
			m = &tmp;
		}
	}
	free(full);

	bool ok = off <= m->len && nbytes <= m->len - off;
	if (!ok) {
		diag_error(c->d, "%s: external data '%s': bytes [%llu, %llu) lie beyond its end "
		           "(%zu bytes)", what, loc, (unsigned long long)off,
		           (unsigned long long)(off + nbytes), m->len);
	} else {
		const unsigned char *p = nbytes ? (const unsigned char *)m->base + off : NULL;
		size_t al = dtype_size(t->dtype);
		/* Point into the mapping unless copying was asked for or the
		 * offset leaves the elements misaligned. */
		if (!c->owner || !p || (uintptr_t)p % al) {
			t->data = nbytes ? arena_dup(c->arena, p, nbytes) : arena_alloc(c->arena, 1);
			if (p && c->owner)
				onnx_release_mapped(p, nbytes);
		} else
			t->data = p;
	}
	if (m == &tmp) {
		if (tmp.base)
			munmap(tmp.base, tmp.len);
		free(tmp.path);
	}
	return ok;
}

/* ---- typed fields ----------------------------------------------------- */

/* The typed field ONNX stores dtype's elements in, and its length. */
static const char *typed_field(const Onnx__TensorProto *tp, DType dt, size_t *have)
{
	switch (dt) {
	case DT_F32: *have = tp->n_float_data; return "float_data";
	case DT_F64: *have = tp->n_double_data; return "double_data";
	case DT_I64: *have = tp->n_int64_data; return "int64_data";
	case DT_U32: case DT_U64: *have = tp->n_uint64_data; return "uint64_data";
	case DT_I32: case DT_I16: case DT_U16: case DT_F16: case DT_BF16:
	case DT_I8: case DT_U8: case DT_BOOL:
		*have = tp->n_int32_data;
		return "int32_data";
	default:
		IR_UNREACHABLE("typed_field: dtype filtered by the caller");
	}
}

/* Converts the typed field for t->dtype into a fresh arena buffer; the
 * element count is checked before anything is allocated. */
static bool load_typed(OnnxTensorCtx *c, const Onnx__TensorProto *tp, const char *what,
                       size_t numel, Tensor *t)
{
	size_t have;
	const char *field = typed_field(tp, t->dtype, &have);
	if (have != numel) {
		diag_error(c->d, "%s: %s has %zu values, expected %zu", what, field, have, numel);
		return false;
	}
	size_t nbytes = numel * dtype_size(t->dtype);
	unsigned char *out = arena_alloc(c->arena, nbytes ? nbytes : 1);
	t->data = out;
	if (!nbytes)
		return true;
	switch (t->dtype) {
	case DT_F32:
		memcpy(out, tp->float_data, nbytes);
		break;
	case DT_F64:
		memcpy(out, tp->double_data, nbytes);
		break;
	case DT_I64:
		memcpy(out, tp->int64_data, nbytes);
		break;
	case DT_I32:
		memcpy(out, tp->int32_data, nbytes);
		break;
	case DT_U64:
		memcpy(out, tp->uint64_data, nbytes);
		break;
	case DT_U32:
		for (size_t i = 0; i < numel; i++) {
			uint32_t v = (uint32_t)tp->uint64_data[i];
			memcpy(out + 4 * i, &v, 4);
		}
		break;
	case DT_I16: case DT_U16: case DT_F16: case DT_BF16:
		for (size_t i = 0; i < numel; i++) {
			uint16_t v = (uint16_t)(uint32_t)tp->int32_data[i];
			memcpy(out + 2 * i, &v, 2);
		}
		break;
	case DT_I8: case DT_U8:
		for (size_t i = 0; i < numel; i++)
			out[i] = (unsigned char)(uint32_t)tp->int32_data[i];
		break;
	case DT_BOOL:
		for (size_t i = 0; i < numel; i++)
			out[i] = tp->int32_data[i] != 0;
		break;
	default:
		IR_UNREACHABLE("load_typed: dtype filtered by the caller");
	}
	return true;
}

/* See onnx_priv.h. */
bool onnx_tensor_convert(OnnxTensorCtx *c, const Onnx__TensorProto *tp, const char *what,
                         Tensor *t)
{
	memset(t, 0, sizeof *t);
	t->shape.rank = -1;
	if (!tp->has_data_type || tp->data_type == 0) {
		diag_error(c->d, "%s: tensor has no data type", what);
		return false;
	}
	DType dt = onnx_dtype(tp->data_type);
	if (dt == DT_UNDEF) {
		diag_error(c->d, "%s: unknown tensor data type %d", what, (int)tp->data_type);
		return false;
	}
	if (dt == DT_STRING) {
		diag_error(c->d, "%s: string tensors not supported", what);
		return false;
	}
	if (dtype_size(dt) == 0) {
		diag_error(c->d, "%s: tensors of type %s not supported", what, dtype_name(dt));
		return false;
	}
	if (tp->n_dims > IR_MAX_RANK) {
		diag_error(c->d, "%s: rank %zu exceeds the supported maximum %d", what,
		           tp->n_dims, IR_MAX_RANK);
		return false;
	}
	t->dtype = dt;
	t->shape.rank = (int)tp->n_dims;
	size_t esize = dtype_size(dt);
	/* numel saturates at the limit; a zero dimension makes it 0 anyway. */
	const uint64_t limit = (uint64_t)INT64_MAX / 16;
	uint64_t numel = 1;
	bool huge = false, empty = false;
	for (size_t i = 0; i < tp->n_dims; i++) {
		int64_t dim = tp->dims[i];
		if (dim < 0) {
			diag_error(c->d, "%s: dimension %zu is negative (%lld)", what, i, (long long)dim);
			return false;
		}
		t->shape.dims[i] = dim;
		if (dim == 0)
			empty = true;
		else if (numel > limit / (uint64_t)dim)
			huge = true;
		else
			numel *= (uint64_t)dim;
	}
	if (empty) {
		numel = 0;
	} else if (huge) {
		diag_error(c->d, "%s: tensor is too large", what);
		return false;
	}
	if (tp->segment) {
		diag_error(c->d, "%s: segmented tensors not supported", what);
		return false;
	}
	size_t nbytes = (size_t)numel * esize;
	t->nbytes = nbytes;

	if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
		return load_external(c, tp, what, nbytes, t);
	if (tp->has_data_location && tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT) {
		diag_error(c->d, "%s: unknown data_location %d", what, (int)tp->data_location);
		return false;
	}
	if (tp->has_onnxcc_raw_ref) {
		/* raw_data left in the model's mapping by onnx_wire_strip */
		if (!c->owner || tp->onnxcc_raw_ref >= c->owner->nraw_refs || tp->has_raw_data) {
			diag_error(c->d, "%s: unknown field %d in the tensor", what,
			           (int)ONNX_RAW_REF_FIELD);
			return false;
		}
		const OnnxRawRef *r = &c->owner->raw_refs[tp->onnxcc_raw_ref];
		if (r->len != nbytes) {
			diag_error(c->d, "%s: raw_data has %zu bytes, expected %zu (%llu elements of %s)",
			           what, r->len, nbytes, (unsigned long long)numel, dtype_name(dt));
			return false;
		}
		if ((uintptr_t)r->data % esize == 0) {
			t->data = r->data;
		} else {
			/* protobuf does not align: a misaligned tensor is copied, and
			 * its pages of the read-only file mapping handed back */
			void *cp = arena_dup(c->arena, r->data, nbytes);
			t->data = cp;
			onnx_release_mapped(r->data, nbytes);
			OnnxOwner *o = c->owner;
			if (nbytes >= ONNX_EVICT_MIN_BYTES) {
				if (o->ncopies == o->cap_copies) {
					o->cap_copies = o->cap_copies ? 2 * o->cap_copies : 64;
					o->copies = xrealloc(o->copies, o->cap_copies * sizeof *o->copies);
				}
				o->copies[o->ncopies++] = (OnnxCopy){cp, r->data, nbytes};
			}
		}
		return true;
	}
	if (tp->has_raw_data) {
		if (tp->raw_data.len != nbytes) {
			diag_error(c->d, "%s: raw_data has %zu bytes, expected %zu (%llu elements of %s)",
			           what, tp->raw_data.len, nbytes, (unsigned long long)numel,
			           dtype_name(dt));
			return false;
		}
		if (!nbytes)
			t->data = arena_alloc(c->arena, 1);
		else if (c->owner)
			t->data = tp->raw_data.data;   /* malloc'd by protobuf-c: aligned */
		else
			t->data = arena_dup(c->arena, tp->raw_data.data, nbytes);
		return true;
	}
	return load_typed(c, tp, what, (size_t)numel, t);
}

/* ---- TensorProto files ------------------------------------------------ */

/* See onnx.h.  Data is always copied into a (the message is freed). */
bool onnx_tensor_from_memory(const void *buf, size_t len, const char *path, Arena *a,
                             Tensor *t, const char **name, Diag *d)
{
	const char *saved = d->path;
	d->path = path ? path : "<memory>";
	bool ok = false;
	char why[512];
	Onnx__TensorProto *tp = NULL;
	if (!onnx_wire_check(&onnx__tensor_proto__descriptor, buf, len, ONNX_MAX_MESSAGE_DEPTH,
	                     why, sizeof why)) {
		diag_error(d, "not a valid ONNX tensor (%s)", why);
		memset(t, 0, sizeof *t);
		t->shape.rank = -1;
		goto out;
	}
	tp = onnx__tensor_proto__unpack(NULL, len, buf);
	if (!tp) {
		diag_error(d, "not a valid ONNX tensor (protobuf parse failed)");
		memset(t, 0, sizeof *t);
		t->shape.rank = -1;
		goto out;
	}
	char what[300];
	snprintf(what, sizeof what, "tensor '%.200s'", tp->name ? tp->name : "");
	Arena scratch = {0};
	OnnxTensorCtx c = {d, onnx_dirname(&scratch, path), a, NULL};
	ok = onnx_tensor_convert(&c, tp, what, t);
	arena_free(&scratch);
	if (ok && name)
		*name = arena_strdup(a, tp->name ? tp->name : "");
	onnx__tensor_proto__free_unpacked(tp, NULL);
out:
	d->path = saved;
	return ok;
}

/* See onnx_priv.h. */
bool onnx_map_input(const char *path, void **base, size_t *len, Diag *d)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		diag_syserr(d, "cannot open");
		return false;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		diag_syserr(d, "cannot stat");
		close(fd);
		return false;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		diag_syserr(d, "cannot read");
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		diag_error(d, "not a regular file (a FIFO, device or socket is not read)");
		return false;
	}
	if ((uint64_t)st.st_size > (uint64_t)INT32_MAX) {
		close(fd);
		diag_error(d, "file is larger than 2 GB (protobuf's limit): "
		           "store the weights as external data");
		return false;
	}
	*len = (size_t)st.st_size;
	*base = NULL;
	if (*len) {
		void *m = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			diag_syserr(d, "cannot mmap");
			close(fd);
			return false;
		}
		*base = m;
	}
	close(fd);
	return true;
}

/* See onnx.h. */
bool onnx_load_tensor_file(const char *path, Arena *a, Tensor *t, const char **name, Diag *d)
{
	const char *saved = d->path;
	d->path = path;
	void *base;
	size_t len;
	bool ok = onnx_map_input(path, &base, &len, d);
	d->path = saved;
	if (!ok) {
		memset(t, 0, sizeof *t);
		t->shape.rank = -1;
		return false;
	}
	ok = onnx_tensor_from_memory(base ? base : "", len, path, a, t, name, d);
	if (base)
		munmap(base, len);
	return ok;
}

/* The bytes [lo, hi) of a constant that a live node or a graph output
 * reads (read_ranges appends those of one graph). */
typedef struct Range {
	uintptr_t lo, hi;
} Range;

static int range_cmp(const void *a, const void *b)
{
	uintptr_t x = ((const Range *)a)->lo, y = ((const Range *)b)->lo;
	return (x > y) - (x < y);
}

static void read_ranges(Graph *g, Range **r, size_t *n, size_t *cap)
{
	char *used = xcalloc((size_t)g->nvalues + 1, 1);
	for (int i = 0; i < g->nnodes; i++)
		for (int k = 0; !g->nodes[i].dead && k < g->nodes[i].nin; k++)
			if (g->nodes[i].in[k] != IR_NONE)
				used[g->nodes[i].in[k]] = 1;
	for (int k = 0; k < g->noutputs; k++)
		used[g->outputs[k]] = 1;
	for (ValueId v = 0; v < g->nvalues; v++) {
		const Value *x = gval(g, v);
		if (!used[v] || x->kind != VK_CONST || !x->data || !x->nbytes)
			continue;
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 256;
			*r = xrealloc(*r, *cap * sizeof **r);
		}
		(*r)[(*n)++] = (Range){(uintptr_t)x->data, (uintptr_t)x->data + x->nbytes};
	}
	free(used);
}

static OnnxOwner *owner_of(Graph *g)
{
	return g && g->owner_free == onnx_owner_free ? g->owner : NULL;
}

/* See onnx.h. */
void onnx_weights_evict(Graph *g)
{
	OnnxOwner *o = owner_of(g);
	long pg = sysconf(_SC_PAGESIZE);
	for (size_t i = 0; o && pg > 0 && i < o->ncopies; i++) {
		uintptr_t p = (uintptr_t)o->copies[i].copy;
		uintptr_t lo = (p + (uintptr_t)pg - 1) & ~(uintptr_t)(pg - 1);
		uintptr_t hi = (p + o->copies[i].len) & ~(uintptr_t)(pg - 1);
		if (hi > lo)
			madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
}

/* See onnx.h. */
void onnx_weights_restore(Graph *g)
{
	OnnxOwner *o = owner_of(g);
	if (!o || !o->ncopies)
		return;
	Range *r = NULL;
	size_t n = 0, cap = 0;
	read_ranges(g, &r, &n, &cap);
	for (int k = 0; k < o->nsubs; k++)
		read_ranges(o->subs[k], &r, &n, &cap);
	if (n)
		qsort(r, n, sizeof *r, range_cmp);
	/* prefix maxima of hi: does any range starting before x end after it? */
	for (size_t i = 1; i < n; i++)
		if (r[i].hi < r[i - 1].hi)
			r[i].hi = r[i - 1].hi;
	for (size_t i = 0; i < o->ncopies; i++) {
		OnnxCopy *c = &o->copies[i];
		uintptr_t lo = (uintptr_t)c->copy, hi = lo + c->len;
		/* the last range starting before hi: read unless it ends by lo */
		size_t a = 0, b = n;
		while (a < b) {
			size_t m = (a + b) / 2;
			if (r[m].lo < hi)
				a = m + 1;
			else
				b = m;
		}
		if (a == 0 || r[a - 1].hi <= lo)
			continue; /* no constant that is read lies here (a fusion replaced it) */
		memcpy(c->copy, c->src, c->len);
		onnx_release_mapped(c->src, c->len);
	}
	free(r);
}
