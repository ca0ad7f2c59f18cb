/* codegen/weights.c — deferred weights written into the ELF object (see
 * weights.h).  ELF: the System V gABI, "Sections" (section header table
 * at e_shoff, e_shnum entries of e_shentsize bytes, names in the section
 * e_shstrndx; e_shnum 0 and e_shstrndx SHN_XINDEX mean the real values are
 * in section 0's sh_size and sh_link). */
#include "weights.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../ir/ir.h"

int cg_weights_add(CgWeights *w, size_t n, const void *data, CgFillFn fill, const void *arg,
                   size_t arg_size)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->v = xrealloc(w->v, sizeof *w->v * (size_t)w->cap);
	}
	void *a = NULL;
	if (fill) {
		a = xmalloc(arg_size ? arg_size : 1);
		memcpy(a, arg, arg_size);
	}
	w->v[w->n] = (CgWeight){fill ? NULL : data, fill, a, n, false};
	return w->n++;
}

void cg_weights_free(CgWeights *w)
{
	for (int i = 0; i < w->n; i++)
		free(w->v[i].arg);
	free(w->v);
	w->v = NULL;
	w->n = w->cap = 0;
}

/* One section header, whichever the class. */
typedef struct Shdr {
	uint32_t name, type;
	uint64_t offset, size, link;
} Shdr;

static bool read_at(int fd, void *buf, size_t n, uint64_t off)
{
	unsigned char *p = buf;
	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0)
				errno = EIO;
			return false;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return true;
}

static bool write_at(int fd, const void *buf, size_t n, uint64_t off)
{
	const unsigned char *p = buf;
	while (n) {
		size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
		ssize_t r = pwrite(fd, p, chunk, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return true;
}

static bool read_shdr(int fd, bool is64, uint64_t shoff, uint64_t entsize, uint64_t i, Shdr *s)
{
	if (is64) {
		Elf64_Shdr h;
		if (!read_at(fd, &h, sizeof h, shoff + i * entsize))
			return false;
		*s = (Shdr){h.sh_name, h.sh_type, h.sh_offset, h.sh_size, h.sh_link};
	} else {
		Elf32_Shdr h;
		if (!read_at(fd, &h, sizeof h, shoff + i * entsize))
			return false;
		*s = (Shdr){h.sh_name, h.sh_type, h.sh_offset, h.sh_size, h.sh_link};
	}
	return true;
}

void cg_release_pages(const void *data, size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	if (pg <= 0)
		return;
	uintptr_t lo = ((uintptr_t)data + (uintptr_t)pg - 1) & ~(uintptr_t)(pg - 1);
	uintptr_t hi = ((uintptr_t)data + n) & ~(uintptr_t)(pg - 1);
#ifdef MADV_PAGEOUT
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_PAGEOUT);
#else
	(void)lo, (void)hi;
#endif
}

bool cg_weights_write(CgWeights *w, const char *path, Diag *d)
{
	if (w->n == 0)
		return true;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		diag_syserr(d, path);
		return false;
	}
	bool ok = false;
	char *names = NULL;
	void *fillbuf = NULL;
	size_t cap = 0;
	unsigned char id[EI_NIDENT];
	if (!read_at(fd, id, sizeof id, 0))
		goto sys;
	if (memcmp(id, ELFMAG, SELFMAG) || id[EI_DATA] != ELFDATA2LSB ||
	    (id[EI_CLASS] != ELFCLASS32 && id[EI_CLASS] != ELFCLASS64)) {
		diag_error(d, "internal error: '%s' is not a little-endian ELF object", path);
		goto out;
	}
	bool is64 = id[EI_CLASS] == ELFCLASS64;
	uint64_t shoff, entsize, shnum, shstrndx;
	if (is64) {
		Elf64_Ehdr e;
		if (!read_at(fd, &e, sizeof e, 0))
			goto sys;
		shoff = e.e_shoff, entsize = e.e_shentsize, shnum = e.e_shnum, shstrndx = e.e_shstrndx;
	} else {
		Elf32_Ehdr e;
		if (!read_at(fd, &e, sizeof e, 0))
			goto sys;
		shoff = e.e_shoff, entsize = e.e_shentsize, shnum = e.e_shnum, shstrndx = e.e_shstrndx;
	}
	if (entsize < (is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr)) || shoff == 0) {
		diag_error(d, "internal error: '%s' has no section header table", path);
		goto out;
	}
	Shdr s0;
	if (!read_shdr(fd, is64, shoff, entsize, 0, &s0))
		goto sys;
	if (shnum == 0)
		shnum = s0.size;
	if (shstrndx == SHN_XINDEX)
		shstrndx = s0.link;
	Shdr strs;
	if (shstrndx >= shnum || !read_shdr(fd, is64, shoff, entsize, shstrndx, &strs))
		goto sys;
	if (strs.size > ((uint64_t)1 << 32)) {
		diag_error(d, "internal error: '%s': section name table too large", path);
		goto out;
	}
	names = xmalloc((size_t)strs.size + 1);
	if (!read_at(fd, names, (size_t)strs.size, strs.offset))
		goto sys;
	names[strs.size] = 0;
	static const char pfx[] = ".rodata.onnxcc_w";
	for (uint64_t i = 1; i < shnum; i++) {
		Shdr s;
		if (!read_shdr(fd, is64, shoff, entsize, i, &s))
			goto sys;
		if (s.name >= strs.size || strncmp(names + s.name, pfx, sizeof pfx - 1))
			continue;
		char *end;
		const char *num = names + s.name + sizeof pfx - 1;
		long k = strtol(num, &end, 10);
		if (end == num || *end || k < 0 || k >= w->n) {
			diag_error(d, "internal error: '%s': unexpected section '%s'", path, names + s.name);
			goto out;
		}
		CgWeight *cw = &w->v[k];
		if (s.type != SHT_PROGBITS || s.size != cw->n || cw->written) {
			diag_error(d, "internal error: '%s': section '%s' is not %zu bytes of data", path,
			           names + s.name, cw->n);
			goto out;
		}
		bool wrote;
		if (cw->fill) {
			/* one buffer, grown to the largest filled weight */
			if (cw->n > cap) {
				free(fillbuf);
				fillbuf = xmalloc(cw->n);
				cap = cw->n;
			}
			cw->fill(fillbuf, cw->n, cw->arg);
			wrote = write_at(fd, fillbuf, cw->n, s.offset);
		} else {
			wrote = write_at(fd, cw->data, cw->n, s.offset);
			cg_release_pages(cw->data, cw->n);
		}
		if (!wrote)
			goto sys;
		cw->written = true;
	}
	ok = true;
	goto out;
sys:
	if (errno == 0)
		errno = EIO;
	diag_syserr(d, path);
out:
	free(fillbuf);
	free(names);
	if (close(fd) != 0 && ok) {
		diag_syserr(d, path);
		ok = false;
	}
	return ok;
}
