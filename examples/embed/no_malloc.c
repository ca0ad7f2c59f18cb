/* examples/embed/no_malloc.c — linked into the embed example by its test
 * (-DEMBED_NO_MALLOC=ON, or `make NO_MALLOC=1`): every allocation function
 * aborts, so a passing run proves that nothing on the path from input to
 * output allocates memory. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *fn)
{
	(void)!write(2, "embed: ", 7);
	(void)!write(2, fn, strlen(fn));
	(void)!write(2, " called: the embedded path must not allocate\n", 45);
	abort();
}

void *malloc(size_t n) { (void)n; die("malloc"); return NULL; }
void *calloc(size_t a, size_t b) { (void)a; (void)b; die("calloc"); return NULL; }
void *realloc(void *p, size_t n) { (void)p; (void)n; die("realloc"); return NULL; }
void *aligned_alloc(size_t a, size_t n) { (void)a; (void)n; die("aligned_alloc"); return NULL; }
int posix_memalign(void **p, size_t a, size_t n) { (void)p; (void)a; (void)n; die("posix_memalign"); return 12; }
void free(void *p) { if (p) die("free"); }
