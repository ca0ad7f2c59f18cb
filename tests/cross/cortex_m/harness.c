/* tests/cross/cortex_m/harness.c — runs the demo model, compiled by onnxcc
 * for thumbv7em-none-eabihf, on a bare-metal Cortex-M7 (QEMU's MPS2 AN500
 * board) and compares its output with PyTorch's.
 *
 * Everything a product's firmware would bring is here and nothing more:
 *   - the vector table (initial stack pointer, reset and fault handlers);
 *   - the reset handler: enables the FPU (CPACR CP10/CP11), copies .data
 *     from its load address, zeroes .bss, calls main;
 *   - memcpy/memset/memmove and their ARM run-time ABI names
 *     (__aeabi_memcpy*, __aeabi_memmove*, __aeabi_memset*, __aeabi_memclr*),
 *     the only functions the generated code calls;
 *   - the workspace as a static buffer (_Alignas), the input and output
 *     buffers static too; no heap, no C library.
 * The model's input and PyTorch's expected output are linked in as data
 * (blobs.S: the .npy files themselves); the harness checks their .npy
 * headers (little-endian float32, C order, the element count of the
 * generated header), runs MODEL_run() and applies the end-to-end suite's
 * rule (tests/models/e2e_cmp.h): max |got - ref| <= 1e-4 * max |ref|.
 * The result is reported through ARM semihosting (bkpt 0xab): SYS_WRITE0
 * for the text, SYS_EXIT with ADP_Stopped_ApplicationExit on success (QEMU
 * exits 0) or ADP_Stopped_RunTimeErrorUnknown on any failure, fault
 * included (QEMU exits 1), so the test's exit status is the verdict.
 *
 * Built by tests/cross/cortex_m.sh with clang-19 -ffreestanding -fno-builtin
 * (so the mem* loops below stay loops) and linked by ld.lld with
 * mps2_an500.ld; MODEL_HEADER names the generated header, MODEL_RUN/IN_COUNT/
 * OUT_COUNT/WS_SIZE its function and sizes (a one-input, one-output model). */
#include <stddef.h>
#include <stdint.h>

#include MODEL_HEADER

/* ---- semihosting --------------------------------------------------------- */

enum { SYS_WRITE0 = 0x04, SYS_EXIT = 0x18 };
enum { ADP_STOPPED_RUNTIME_ERROR = 0x20023, ADP_STOPPED_APPLICATION_EXIT = 0x20026 };

static int semihost(int op, const void *arg)
{
	register int r0 __asm__("r0") = op;
	register const void *r1 __asm__("r1") = arg;
	__asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
	return r0;
}

static void put(const char *s)
{
	semihost(SYS_WRITE0, s);
}

__attribute__((noreturn)) static void finish(int ok)
{
	/* On 32-bit ARM the reason code itself is the argument. */
	semihost(SYS_EXIT, (const void *)(uintptr_t)(ok ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUNTIME_ERROR));
	for (;;)
		;
}

/* ---- number formatting (no printf here) --------------------------------- */

/* Appends the decimal digits of u to *p. */
static void put_u32(char **p, uint32_t u)
{
	char d[10];
	int n = 0;
	do {
		d[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n)
		*(*p)++ = d[--n];
}

/* Appends x as d.dddde[+-]XX (5 significant digits), or inf/nan. */
static void put_sci(char **p, float x)
{
	if (x != x) {
		*(*p)++ = 'n', *(*p)++ = 'a', *(*p)++ = 'n';
		return;
	}
	if (x < 0)
		*(*p)++ = '-', x = -x;
	if (x > 3.4e38f) {
		*(*p)++ = 'i', *(*p)++ = 'n', *(*p)++ = 'f';
		return;
	}
	int e = 0;
	if (x != 0) {
		while (x >= 10.0f)
			x /= 10.0f, e++;
		while (x < 1.0f)
			x *= 10.0f, e--;
	}
	uint32_t m = (uint32_t)(x * 10000.0f + 0.5f);
	if (m >= 100000)
		m /= 10, e++;
	*(*p)++ = (char)('0' + m / 10000);
	*(*p)++ = '.';
	for (uint32_t div = 1000; div; div /= 10)
		*(*p)++ = (char)('0' + m / div % 10);
	*(*p)++ = 'e';
	*(*p)++ = e < 0 ? '-' : '+';
	if (e < 0)
		e = -e;
	if (e < 10)
		*(*p)++ = '0';
	put_u32(p, (uint32_t)e);
}

static void put_str(char **p, const char *s)
{
	while (*s)
		*(*p)++ = *s++;
}

/* ---- the memory functions the generated code calls ---------------------- */

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if ((((uintptr_t)d | (uintptr_t)s | n) & 3) == 0) {
		uint32_t *dw = dst;
		const uint32_t *sw = src;
		for (size_t i = 0; i < n / 4; i++)
			dw[i] = sw[i];
		return dst;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = s[i];
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d == s || n == 0)
		return dst;
	if ((uintptr_t)d - (uintptr_t)s >= n)   /* d before s, or no overlap: forwards */
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	else
		for (size_t i = n; i--;)
			d[i] = s[i];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	if ((((uintptr_t)d | n) & 3) == 0) {
		uint32_t w = (unsigned char)c * 0x01010101u;
		uint32_t *dw = dst;
		for (size_t i = 0; i < n / 4; i++)
			dw[i] = w;
		return dst;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = (unsigned char)c;
	return dst;
}

/* The ARM run-time ABI names (RTABI 4.3.4); the 4/8 variants promise
 * aligned pointers, which the plain versions do not need.  Note the
 * argument order of __aeabi_memset: (dest, n, c). */
void __aeabi_memcpy(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy4(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy8(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memmove(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove4(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove8(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memset(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memset4(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memset8(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memclr(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr4(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr8(void *d, size_t n) { memset(d, 0, n); }

/* ---- the model's data ---------------------------------------------------- */

/* The .npy files, linked in by blobs.S. */
extern const unsigned char input_npy[], input_npy_end[];
extern const unsigned char expected_npy[], expected_npy_end[];

static float input[IN_COUNT];
static float output[OUT_COUNT];
static float expected[OUT_COUNT];
_Alignas(64) static unsigned char workspace[WS_SIZE + 1];

/* Finds "needle" in the n bytes at h. */
static int contains(const unsigned char *h, size_t n, const char *needle)
{
	size_t k = 0;
	while (needle[k])
		k++;
	for (size_t i = 0; i + k <= n; i++) {
		size_t j = 0;
		while (j < k && h[i + j] == (unsigned char)needle[j])
			j++;
		if (j == k)
			return 1;
	}
	return 0;
}

/* Copies the data of a little-endian float32 C-order .npy of count elements
 * (file bytes [npy, end)) into dst; 0 when the file is not one. */
static int load_npy(const unsigned char *npy, const unsigned char *end, float *dst, size_t count)
{
	static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
	size_t size = (size_t)(end - npy);
	if (size < 10)
		return 0;
	for (int i = 0; i < 6; i++)
		if (npy[i] != magic[i])
			return 0;
	size_t pre = npy[6] == 1 ? 10 : 12;
	size_t hlen = npy[8] | (size_t)npy[9] << 8;
	if (pre == 12)
		hlen |= (size_t)npy[10] << 16 | (size_t)npy[11] << 24;
	if (size < pre || hlen > size - pre)
		return 0;
	if (!contains(npy + pre, hlen, "'descr': '<f4'") || !contains(npy + pre, hlen, "'fortran_order': False"))
		return 0;
	if (size - pre - hlen != count * sizeof(float))
		return 0;
	memcpy(dst, npy + pre + hlen, count * sizeof(float));
	return 1;
}

int main(void)
{
	static char line[256];
	char *p = line;
	if (!load_npy(input_npy, input_npy_end, input, IN_COUNT) ||
	    !load_npy(expected_npy, expected_npy_end, expected, OUT_COUNT)) {
		put("FAIL cortex-m7 run: the linked-in input or expected .npy is not float32 of the header's size\n");
		finish(0);
	}
	int status = MODEL_RUN(input, output, workspace);
	if (status != 0) {
		put_str(&p, "FAIL cortex-m7 run: the run function returned status ");
		put_u32(&p, (uint32_t)status);
		put_str(&p, "\n");
		*p = 0;
		put(line);
		finish(0);
	}
	float maxref = 0, maxerr = 0;
	int finite = 1;
	for (size_t i = 0; i < OUT_COUNT; i++) {
		float r = expected[i] < 0 ? -expected[i] : expected[i];
		float d = output[i] - expected[i];
		d = d < 0 ? -d : d;
		if (!(d == d) || d > 3.4e38f)   /* NaN or inf in the output */
			finite = 0;
		if (r > maxref)
			maxref = r;
		if (d > maxerr)
			maxerr = d;
	}
	int ok = finite && maxerr <= 1e-4f * maxref;
	put("output:");
	for (size_t i = 0; i < OUT_COUNT; i++) {
		p = line;
		*p++ = ' ';
		put_sci(&p, output[i]);
		*p = 0;
		put(line);
	}
	p = line;
	put_str(&p, ok ? "\nPASS cortex-m7 run: " : "\nFAIL cortex-m7 run: ");
	put_str(&p, "max abs error ");
	put_sci(&p, maxerr);
	put_str(&p, ", limit 1e-4 * max |PyTorch| = ");
	put_sci(&p, 1e-4f * maxref);
	put_str(&p, "\n");
	*p = 0;
	put(line);
	finish(ok);
}

/* ---- start-up ------------------------------------------------------------ */

extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];

__attribute__((noreturn)) static void fault_handler(void)
{
	put("FAIL cortex-m7 run: a fault exception (HardFault, UsageFault, ...)\n");
	finish(0);
}

/* Runs out of reset.  No FP instruction may run before the FPU is enabled,
 * so the copies below are integer loops and main is a separate call. */
__attribute__((noreturn)) void reset_handler(void)
{
	volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
	*cpacr |= 0xFu << 20;   /* CP10 and CP11: full access */
	__asm__ volatile("dsb\n\tisb" ::: "memory");
	for (uint32_t *s = _sidata, *d = _sdata; d < _edata;)
		*d++ = *s++;
	for (uint32_t *d = _sbss; d < _ebss;)
		*d++ = 0;
	main();
	finish(0);
}

/* ARMv7-M: initial SP, then reset, NMI, HardFault, MemManage, BusFault,
 * UsageFault; the rest (SVCall, PendSV, SysTick, IRQs) are never enabled. */
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
	(void (*)(void))_estack, reset_handler, fault_handler, fault_handler,
	fault_handler, fault_handler, fault_handler, 0, 0, 0, 0,
	fault_handler, fault_handler, 0, fault_handler, fault_handler,
};
