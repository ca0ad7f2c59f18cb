/* tests/unit/test_runtime.c — runtime/npy.c: .npy round trips for every
 * dtype and shape kind, headers as NumPy writes them (versions 1.0/2.0/3.0,
 * big-endian, Python 2 longs), malformed files rejected with messages that
 * name the file and the problem, and the element helpers. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"

/* The twelve dtypes .npy can hold, with NumPy's descr. */
static const struct {
	int32_t dtype;
	const char *descr;
	size_t size;
} npy_types[] = {
	{1, "<f4", 4}, {11, "<f8", 8}, {10, "<f2", 2}, {7, "<i8", 8},
	{6, "<i4", 4}, {5, "<i2", 2}, {3, "|i1", 1}, {2, "|u1", 1},
	{4, "<u2", 2}, {12, "<u4", 4}, {13, "<u8", 8}, {9, "|b1", 1},
};
#define NTYPES (sizeof npy_types / sizeof npy_types[0])

/* Shape kinds: scalar, 1-tuple, matrix, empty, rank 5, one with a 1. */
static const struct {
	int32_t rank;
	int64_t shape[5];
} shapes[] = {
	{0, {0}}, {1, {3}}, {2, {2, 5}}, {2, {0, 4}}, {5, {2, 1, 3, 1, 2}}, {1, {1}},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static char *tmpdir;

static int setup(void **state)
{
	tmpdir = tu_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	tu_rmtree(tmpdir);
	free(tmpdir);
	return 0;
}

static const char *tmp_path(const char *name)
{
	static char buf[4096];
	snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
	return buf;
}

/* Deterministic bytes that are valid elements of any type (bools 0/1). */
static void fill(unsigned char *p, size_t n, int32_t dtype)
{
	for (size_t i = 0; i < n; i++)
		p[i] = dtype == 9 ? (unsigned char)(i % 3 == 0) : (unsigned char)(i * 37 + 11);
}

static void test_roundtrip_all_dtypes_and_shapes(void **state)
{
	for (size_t t = 0; t < NTYPES; t++) {
		for (size_t s = 0; s < NSHAPES; s++) {
			uint64_t numel = 1;
			for (int32_t d = 0; d < shapes[s].rank; d++)
				numel *= (uint64_t)shapes[s].shape[d];
			size_t nbytes = (size_t)numel * npy_types[t].size;
			unsigned char *data = malloc(nbytes + 1);
			fill(data, nbytes, npy_types[t].dtype);
			char name[64], err[512] = "";
			snprintf(name, sizeof name, "rt_%zu_%zu.npy", t, s);
			const char *path = tmp_path(name);
			assert_true(onnxcc_npy_write(path, npy_types[t].dtype, shapes[s].rank,
			                             shapes[s].shape, data, err, sizeof err));
			OnnxccNpy a;
			if (!onnxcc_npy_read(path, &a, err, sizeof err))
				fail_msg("%s %s: %s", npy_types[t].descr, name, err);
			assert_int_equal(a.dtype, npy_types[t].dtype);
			assert_int_equal(a.rank, shapes[s].rank);
			for (int32_t d = 0; d < a.rank; d++)
				assert_int_equal(a.shape[d], shapes[s].shape[d]);
			assert_int_equal(a.numel, numel);
			assert_int_equal(a.nbytes, nbytes);
			assert_non_null(a.data);
			assert_int_equal((uintptr_t)a.data % 64, 0);
			if (nbytes)
				assert_memory_equal(a.data, data, nbytes);
			onnxcc_npy_free(&a);
			assert_null(a.data);
			free(data);
		}
	}
}

/* What NumPy itself writes: the header text, padding to 64 and the '\n'. */
static void test_written_header_matches_numpy(void **state)
{
	const int64_t sh1[1] = {3}, sh2[2] = {2, 4};
	const float v1[3] = {1, 2, 3};
	const int64_t v2[8] = {0};
	char err[512];
	struct {
		const char *file;
		int32_t dtype, rank;
		const int64_t *shape;
		const void *data;
		const char *dict;
	} cases[] = {
		{"h1.npy", 1, 1, sh1, v1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"},
		{"h2.npy", 7, 2, sh2, v2, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 4), }"},
		{"h0.npy", 9, 0, NULL, "\1", "{'descr': '|b1', 'fortran_order': False, 'shape': (), }"},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const char *path = tmp_path(cases[c].file);
		assert_true(onnxcc_npy_write(path, cases[c].dtype, cases[c].rank,
		                             cases[c].shape, cases[c].data, err, sizeof err));
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		unsigned char buf[256];
		size_t n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		assert_true(n >= 64);
		assert_memory_equal(buf, "\x93NUMPY\x01\x00", 8);
		size_t hlen = buf[8] | (size_t)buf[9] << 8;
		assert_int_equal((10 + hlen) % 64, 0);
		size_t dl = strlen(cases[c].dict);
		assert_memory_equal(buf + 10, cases[c].dict, dl);
		for (size_t i = 10 + dl; i < 10 + hlen - 1; i++)
			assert_int_equal(buf[i], ' ');
		assert_int_equal(buf[10 + hlen - 1], '\n');
	}
}

/* Builds a .npy image: version major.0, the given dict padded to 64, then
 * nbytes of data.  Returns the length. */
static size_t make_npy(unsigned char *out, int major, const char *dict,
                       const void *data, size_t nbytes)
{
	size_t pre = major == 1 ? 10 : 12;
	size_t dl = strlen(dict);
	size_t hlen = (pre + dl + 1 + 63) / 64 * 64 - pre;
	memcpy(out, "\x93NUMPY", 6);
	out[6] = (unsigned char)major;
	out[7] = 0;
	for (size_t i = 0; i < pre - 8; i++)
		out[8 + i] = (unsigned char)(hlen >> (8 * i));
	memcpy(out + pre, dict, dl);
	memset(out + pre + dl, ' ', hlen - dl - 1);
	out[pre + hlen - 1] = '\n';
	memcpy(out + pre + hlen, data, nbytes);
	return pre + hlen + nbytes;
}

static void test_versions_2_and_3(void **state)
{
	const int32_t v[2] = {-7, 9};
	unsigned char img[256];
	char err[512];
	for (int major = 1; major <= 3; major++) {
		size_t n = make_npy(img, major,
		                    "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
		                    v, sizeof v);
		OnnxccNpy a;
		if (!onnxcc_npy_parse(img, n, "v.npy", &a, err, sizeof err))
			fail_msg("version %d: %s", major, err);
		assert_int_equal(a.dtype, 6);
		assert_memory_equal(a.data, v, sizeof v);
		onnxcc_npy_free(&a);

		/* and the same through the file reader */
		char name[32];
		snprintf(name, sizeof name, "v%d.npy", major);
		tu_write_file(tmp_path(name), img, n);
		assert_true(onnxcc_npy_read(tmp_path(name), &a, err, sizeof err));
		assert_int_equal(a.numel, 2);
		assert_memory_equal(a.data, v, sizeof v);
		onnxcc_npy_free(&a);
	}
}

/* Key order, double quotes, no trailing comma, Python 2 longs. */
static void test_header_variants(void **state)
{
	const double v[6] = {1, 2, 3, 4, 5, 6};
	const char *dicts[] = {
		"{'shape': (2, 3), 'fortran_order': False, 'descr': '<f8'}",
		"{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (2, 3)}",
		"{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L), }",
		"{ 'descr' : '<f8' , 'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }",
	};
	for (size_t i = 0; i < sizeof dicts / sizeof dicts[0]; i++) {
		unsigned char img[256];
		char err[512];
		size_t n = make_npy(img, 1, dicts[i], v, sizeof v);
		OnnxccNpy a;
		if (!onnxcc_npy_parse(img, n, "var.npy", &a, err, sizeof err))
			fail_msg("%s: %s", dicts[i], err);
		assert_int_equal(a.dtype, 11);
		assert_int_equal(a.rank, 2);
		assert_int_equal(a.shape[0], 2);
		assert_int_equal(a.shape[1], 3);
		assert_memory_equal(a.data, v, sizeof v);
		onnxcc_npy_free(&a);
	}
}

static void test_big_endian_is_swapped(void **state)
{
	/* >f4 1.5 = 3f c0 00 00 ; >i8 258 ; >u2 0x0102 */
	const unsigned char f[4] = {0x3f, 0xc0, 0, 0};
	const unsigned char i[8] = {0, 0, 0, 0, 0, 0, 1, 2};
	const unsigned char u[2] = {1, 2};
	unsigned char img[256];
	char err[512];
	OnnxccNpy a;
	size_t n = make_npy(img, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (), }", f, 4);
	assert_true(onnxcc_npy_parse(img, n, "be.npy", &a, err, sizeof err));
	assert_int_equal(a.dtype, 1);
	assert_true(onnxcc_elem_f64(1, a.data, 0) == 1.5);
	onnxcc_npy_free(&a);
	n = make_npy(img, 1, "{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }", i, 8);
	assert_true(onnxcc_npy_parse(img, n, "be.npy", &a, err, sizeof err));
	assert_int_equal(onnxcc_elem_i64(7, a.data, 0), 258);
	onnxcc_npy_free(&a);
	n = make_npy(img, 1, "{'descr': '>u2', 'fortran_order': False, 'shape': (1,), }", u, 2);
	assert_true(onnxcc_npy_parse(img, n, "be.npy", &a, err, sizeof err));
	assert_int_equal(onnxcc_elem_i64(4, a.data, 0), 0x0102);
	onnxcc_npy_free(&a);
}

static void test_descr_mapping(void **state)
{
	for (size_t t = 0; t < NTYPES; t++) {
		assert_string_equal(onnxcc_npy_descr(npy_types[t].dtype), npy_types[t].descr);
		bool swap = true;
		assert_int_equal(onnxcc_npy_dtype(npy_types[t].descr, &swap), npy_types[t].dtype);
		assert_false(swap);
		assert_int_equal(onnxcc_dtype_size(npy_types[t].dtype), npy_types[t].size);
	}
	assert_null(onnxcc_npy_descr(16));   /* bfloat16: no NumPy type */
	assert_null(onnxcc_npy_descr(8));    /* string */
	assert_int_equal(onnxcc_npy_dtype("<c8", NULL), 0);
	assert_int_equal(onnxcc_npy_dtype("|f4", NULL), 0);   /* '|' only for 1 byte */
	assert_int_equal(onnxcc_npy_dtype("<U5", NULL), 0);
	assert_int_equal(onnxcc_npy_dtype("<f4x", NULL), 0);
	assert_int_equal(onnxcc_npy_dtype("<i1", NULL), 3);   /* accepted spelling */
	assert_string_equal(onnxcc_dtype_name(1), "f32");
	assert_string_equal(onnxcc_dtype_name(9), "bool");
	assert_string_equal(onnxcc_dtype_name(99), "?");
}

/* Each malformed image must be rejected with a message naming the file
 * and containing the expected phrase. */
static void test_malformed_rejected(void **state)
{
	const float v[4] = {0};
	struct {
		const char *what;
		int major;
		const char *dict;
		size_t data_bytes;
		const char *expect;
	} cases[] = {
		{"fortran", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16,
		 "fortran_order True is not supported"},
		{"complex", 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16,
		 "unsupported dtype '<c8'"},
		{"unicode", 1, "{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", 12,
		 "unsupported dtype '<U3'"},
		{"struct", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4,
		 "structured (record) dtypes are not supported"},
		{"nodescr", 1, "{'fortran_order': False, 'shape': (1,), }", 4, "missing key 'descr'"},
		{"noshape", 1, "{'descr': '<f4', 'fortran_order': False, }", 4, "missing key 'shape'"},
		{"extrakey", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4,
		 "unexpected key 'x'"},
		{"negdim", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 4,
		 "negative dimension"},
		{"notuple", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", 16,
		 "is not a tuple"},
		{"shapeint", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': 4, }", 16,
		 "expected '(' starting the shape tuple"},
		{"baddict", 1, "['descr', '<f4']", 4, "expected '{' starting the header dict"},
		{"unterminated", 1, "{'descr': '<f4", 4, "unterminated string"},
		{"badbool", 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", 4,
		 "expected True or False"},
		{"overflow", 1,
		 "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }",
		 0, "shape too large"},
		{"hugedim", 1,
		 "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }",
		 0, "dimension too large"},
		{"short", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 12,
		 "truncated data: 12 bytes, expected 16"},
		{"long", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 16,
		 "trailing data"},
		{"text-after", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", 4,
		 "unexpected text after the dict"},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		unsigned char img[512];
		char err[512] = "", name[64];
		size_t n = make_npy(img, cases[c].major, cases[c].dict, v, cases[c].data_bytes);
		snprintf(name, sizeof name, "bad_%s.npy", cases[c].what);
		OnnxccNpy a;
		/* from memory */
		if (onnxcc_npy_parse(img, n, name, &a, err, sizeof err))
			fail_msg("%s: accepted", cases[c].what);
		assert_null(a.data);
		if (!strstr(err, cases[c].expect) || strncmp(err, name, strlen(name)) != 0)
			fail_msg("%s: message '%s' lacks '%s'", cases[c].what, err, cases[c].expect);
		/* and from a file */
		const char *path = tmp_path(name);
		tu_write_file(path, img, n);
		err[0] = 0;
		if (onnxcc_npy_read(path, &a, err, sizeof err))
			fail_msg("%s: file accepted", cases[c].what);
		assert_null(a.data);
		if (!strstr(err, cases[c].expect) || !strstr(err, name))
			fail_msg("%s: file message '%s' lacks '%s'", cases[c].what, err,
			         cases[c].expect);
	}
}

/* Broken preambles: magic, version, header length beyond the file. */
static void test_bad_preamble(void **state)
{
	struct {
		const char *what;
		const char *bytes;
		size_t n;
		const char *expect;
	} cases[] = {
		{"empty", "", 0, "empty file (not a .npy file)"},
		{"text", "hello world, not numpy", 22, "bad magic"},
		{"short", "\x93NUMPY\x01", 7, "truncated .npy preamble"},
		{"v4", "\x93NUMPY\x04\x00\x10\x00{}", 12, "unsupported .npy format version 4.0"},
		{"v1.1", "\x93NUMPY\x01\x01\x10\x00{}", 12, "unsupported .npy format version 1.1"},
		{"hlen", "\x93NUMPY\x01\x00\xff\xff{'descr'", 18, "truncated header"},
		{"hlen2", "\x93NUMPY\x02\x00\xff\xff\xff\x7f{'de", 16, "truncated header"},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		char err[512] = "", name[64];
		snprintf(name, sizeof name, "pre_%s.npy", cases[c].what);
		OnnxccNpy a;
		assert_false(onnxcc_npy_parse(cases[c].bytes, cases[c].n, name, &a, err, sizeof err));
		if (!strstr(err, cases[c].expect))
			fail_msg("%s: '%s' lacks '%s'", cases[c].what, err, cases[c].expect);
		const char *path = tmp_path(name);
		tu_write_file(path, cases[c].bytes, cases[c].n);
		err[0] = 0;
		assert_false(onnxcc_npy_read(path, &a, err, sizeof err));
		if (!strstr(err, cases[c].expect) || !strstr(err, name))
			fail_msg("%s (file): '%s' lacks '%s'", cases[c].what, err, cases[c].expect);
	}
}

static void test_system_errors(void **state)
{
	char err[512] = "";
	OnnxccNpy a;
	const char *missing = tmp_path("no-such-file.npy");
	assert_false(onnxcc_npy_read(missing, &a, err, sizeof err));
	assert_non_null(strstr(err, "no-such-file.npy"));
	assert_non_null(strstr(err, "No such file"));

	/* A directory is not a file. */
	err[0] = 0;
	assert_false(onnxcc_npy_read(tmpdir, &a, err, sizeof err));
	if (!strstr(err, "Is a directory"))
		fail_msg("directory: '%s'", err);

	/* A FIFO is refused at once, not waited on. */
	err[0] = 0;
	const char *fifo = tmp_path("pipe.npy");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_false(onnxcc_npy_read(fifo, &a, err, sizeof err));
	if (!strstr(err, "pipe.npy") || !strstr(err, "not a regular file"))
		fail_msg("fifo: '%s'", err);

	/* Writing into a missing directory fails and leaves nothing behind. */
	const float x = 1;
	const int64_t sh[1] = {1};
	char path[4200];
	snprintf(path, sizeof path, "%s/nodir/out.npy", tmpdir);
	assert_false(onnxcc_npy_write(path, 1, 1, sh, &x, err, sizeof err));
	assert_non_null(strstr(err, "out.npy"));
	assert_int_equal(access(path, F_OK), -1);

	/* bfloat16 has no .npy form; a negative dim is refused. */
	snprintf(path, sizeof path, "%s/bf.npy", tmpdir);
	assert_false(onnxcc_npy_write(path, 16, 1, sh, &x, err, sizeof err));
	assert_non_null(strstr(err, "bf16 cannot be stored"));
	assert_int_equal(access(path, F_OK), -1);
	const int64_t neg[1] = {-2};
	assert_false(onnxcc_npy_write(path, 1, 1, neg, &x, err, sizeof err));
	assert_non_null(strstr(err, "negative dimension"));

	/* A tiny error buffer is still NUL-terminated. */
	char small[8];
	memset(small, 'x', sizeof small);
	assert_false(onnxcc_npy_read(missing, &a, small, sizeof small));
	assert_int_equal(small[7], 0);
}

static void test_half_and_bfloat(void **state)
{
	assert_true(onnxcc_f16_to_f32(0x3c00) == 1.0f);
	assert_true(onnxcc_f16_to_f32(0xc000) == -2.0f);
	assert_true(onnxcc_f16_to_f32(0x7bff) == 65504.0f);
	assert_true(onnxcc_f16_to_f32(0x0001) == 0x1p-24f);       /* smallest subnormal */
	assert_true(onnxcc_f16_to_f32(0x03ff) == 1023 * 0x1p-24f);
	assert_true(onnxcc_f16_to_f32(0x0400) == 0x1p-14f);        /* smallest normal */
	assert_true(isinf(onnxcc_f16_to_f32(0x7c00)) && onnxcc_f16_to_f32(0x7c00) > 0);
	assert_true(isinf(onnxcc_f16_to_f32(0xfc00)) && onnxcc_f16_to_f32(0xfc00) < 0);
	assert_true(isnan(onnxcc_f16_to_f32(0x7e00)));
	assert_true(signbit(onnxcc_f16_to_f32(0x8000)));
	assert_true(onnxcc_bf16_to_f32(0x3f80) == 1.0f);
	assert_true(onnxcc_bf16_to_f32(0xc0a0) == -5.0f);
	assert_true(isnan(onnxcc_bf16_to_f32(0x7fc0)));
}

static void test_stats_and_elements(void **state)
{
	const float f[4] = {1, -3, 2.5f, 0.5f};
	OnnxccStats s = onnxcc_stats(1, f, 4);
	assert_true(s.min == -3 && s.max == 2.5 && s.mean == 0.25);
	const float fn[3] = {1, NAN, 2};
	s = onnxcc_stats(1, fn, 3);
	assert_true(isnan(s.min) && isnan(s.max) && isnan(s.mean));
	s = onnxcc_stats(1, f, 0);
	assert_true(isnan(s.mean));
	const uint8_t b[4] = {0, 1, 1, 0};
	s = onnxcc_stats(9, b, 4);
	assert_true(s.min == 0 && s.max == 1 && s.mean == 0.5);
	const int8_t i8[2] = {-128, 127};
	assert_int_equal(onnxcc_elem_i64(3, i8, 0), -128);
	assert_true(onnxcc_elem_f64(3, i8, 1) == 127);
	const uint32_t u32[1] = {4000000000u};
	assert_int_equal(onnxcc_elem_i64(12, u32, 0), 4000000000LL);
	const uint16_t h[1] = {0x3800};
	assert_true(onnxcc_elem_f64(10, h, 0) == 0.5);
	assert_true(isnan(onnxcc_elem_f64(99, h, 0)));   /* unknown dtype */
	char buf[64];
	const int64_t sh[3] = {1, 3, 224};
	assert_string_equal(onnxcc_shape_str(3, sh, buf, sizeof buf), "[1,3,224]");
	assert_string_equal(onnxcc_shape_str(0, sh, buf, sizeof buf), "[]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_all_dtypes_and_shapes),
		cmocka_unit_test(test_written_header_matches_numpy),
		cmocka_unit_test(test_versions_2_and_3),
		cmocka_unit_test(test_header_variants),
		cmocka_unit_test(test_big_endian_is_swapped),
		cmocka_unit_test(test_descr_mapping),
		cmocka_unit_test(test_malformed_rejected),
		cmocka_unit_test(test_bad_preamble),
		cmocka_unit_test(test_system_errors),
		cmocka_unit_test(test_half_and_bfloat),
		cmocka_unit_test(test_stats_and_elements),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
