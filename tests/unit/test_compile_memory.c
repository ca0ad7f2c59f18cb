/* tests/unit/test_compile_memory.c — onnxcc holds a model's weights about
 * once while compiling.
 *
 * A generated chain of NMAT MatMuls by K x K f32 weights (NMAT*K*K*4 =
 * 128 MiB), stored once as external data and once inline as raw_data, is
 * compiled by build/onnxcc to an object in a child process whose peak RSS
 * (wait4's ru_maxrss; an object, so that no linker is counted) must stay
 * within that of the same chain with 64 x 64 weights (the compiler itself)
 * + 1.25 x the weights + 16 MB (+ AddressSanitizer's quarantine and shadow
 * in the Debug build).  Holding the weights
 * twice, as protobuf-c's copy plus LLVM's constant or LLVM's constant plus
 * its assembler's buffer did, needs more than 2 x 128 MiB and fails.  The
 * object is then linked into a shared library (cc -shared), run and
 * compared with the product computed here, so the weights written into the object after emission are the right ones in
 * the right place.
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "testutil.h"
#include "onnx.pb-c.h"
#include "runtime/onnxcc_model.h"

enum { KBIG = 2896, KSMALL = 64, NMAT = 4 };
/* Allowed above the same chain with 64 x 64 weights: 1.25 x the weights,
 * 16 MB, and in an AddressSanitizer build its quarantine (64 MB, as `make
 * test` sets it) and shadow (1/8 of what is allocated). */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_ALLOWANCE(w) (((size_t)64 << 20) + (w) / 8)
#else
#define ASAN_ALLOWANCE(w) ((size_t)0)
#endif
static int K;   /* of the model being written */

static float wval(int i, int64_t k, int64_t j)
{
	return (float)((int)((k * 7 + j * 13 + i * 5) % 17) - 8) / 256.0f;
}

static float xval(int64_t k)
{
	return (float)((int)(k * 3 % 11) - 5) / 8.0f;
}

static void fill_weight(int i, float *w)
{
	for (int64_t k = 0; k < K; k++)
		for (int64_t j = 0; j < K; j++)
			w[k * K + j] = wval(i, k, j);
}

static Onnx__TypeProto *vec_type(Onnx__TypeProto *tp, Onnx__TypeProto__Tensor *tt,
                                 Onnx__TensorShapeProto *sh, Onnx__TensorShapeProto__Dimension *d,
                                 Onnx__TensorShapeProto__Dimension **dp)
{
	onnx__type_proto__init(tp);
	onnx__type_proto__tensor__init(tt);
	onnx__tensor_shape_proto__init(sh);
	for (int i = 0; i < 2; i++) {
		onnx__tensor_shape_proto__dimension__init(&d[i]);
		d[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
		d[i].dim_value = i == 0 ? 1 : K;
		dp[i] = &d[i];
	}
	sh->n_dim = 2;
	sh->dim = dp;
	tt->has_elem_type = 1;
	tt->elem_type = 1;
	tt->shape = sh;
	tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp->tensor_type = tt;
	return tp;
}

/* Writes dir/model.onnx (and with external, dir/weights.bin). */
static void write_model(const char *dir, bool external)
{
	char path[4200];
	size_t wbytes = (size_t)NMAT * K * K * sizeof(float);
	float *w = malloc(wbytes);
	assert_non_null(w);
	for (int i = 0; i < NMAT; i++)
		fill_weight(i, w + (size_t)i * K * K);
	if (external) {
		snprintf(path, sizeof path, "%s/weights.bin", dir);
		tu_write_file(path, w, wbytes);
	}

	Onnx__ModelProto m;
	onnx__model_proto__init(&m);
	m.has_ir_version = 1;
	m.ir_version = 8;
	Onnx__OperatorSetIdProto os, *osp = &os;
	onnx__operator_set_id_proto__init(&os);
	os.domain = "";
	os.has_version = 1;
	os.version = 17;
	m.n_opset_import = 1;
	m.opset_import = &osp;
	Onnx__GraphProto g;
	onnx__graph_proto__init(&g);
	g.name = "chain";
	m.graph = &g;

	Onnx__TypeProto tp[2];
	Onnx__TypeProto__Tensor tt[2];
	Onnx__TensorShapeProto sh[2];
	Onnx__TensorShapeProto__Dimension dims[2][2], *dp[2][2];
	Onnx__ValueInfoProto vin, vout, *vinp = &vin, *voutp = &vout;
	onnx__value_info_proto__init(&vin);
	onnx__value_info_proto__init(&vout);
	vin.name = "x";
	vin.type = vec_type(&tp[0], &tt[0], &sh[0], dims[0], dp[0]);
	vout.name = "y";
	vout.type = vec_type(&tp[1], &tt[1], &sh[1], dims[1], dp[1]);
	g.n_input = 1;
	g.input = &vinp;
	g.n_output = 1;
	g.output = &voutp;

	Onnx__TensorProto init[NMAT], *initp[NMAT];
	Onnx__NodeProto node[NMAT], *nodep[NMAT];
	char names[NMAT][3][16];
	char *ins[NMAT][2], *outs[NMAT][1];
	int64_t wdims[2] = {K, K};
	Onnx__StringStringEntryProto ext[NMAT][3], *extp[NMAT][3];
	char offs[NMAT][32], lens[NMAT][32];
	for (int i = 0; i < NMAT; i++) {
		snprintf(names[i][0], 16, "w%d", i);
		snprintf(names[i][1], 16, i ? "h%d" : "x", i - 1);
		snprintf(names[i][2], 16, i == NMAT - 1 ? "y" : "h%d", i);
		Onnx__TensorProto *t = &init[i];
		onnx__tensor_proto__init(t);
		t->name = names[i][0];
		t->has_data_type = 1;
		t->data_type = 1;
		t->n_dims = 2;
		t->dims = wdims;
		size_t nb = (size_t)K * K * sizeof(float);
		if (external) {
			const char *keys[3] = {"location", "offset", "length"};
			snprintf(offs[i], 32, "%zu", (size_t)i * nb);
			snprintf(lens[i], 32, "%zu", nb);
			const char *vals[3] = {"weights.bin", offs[i], lens[i]};
			for (int k = 0; k < 3; k++) {
				onnx__string_string_entry_proto__init(&ext[i][k]);
				ext[i][k].key = (char *)keys[k];
				ext[i][k].value = (char *)vals[k];
				extp[i][k] = &ext[i][k];
			}
			t->n_external_data = 3;
			t->external_data = extp[i];
			t->has_data_location = 1;
			t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
		} else {
			t->has_raw_data = 1;
			t->raw_data.len = nb;
			t->raw_data.data = (uint8_t *)(w + (size_t)i * K * K);
		}
		initp[i] = t;
		onnx__node_proto__init(&node[i]);
		node[i].op_type = "MatMul";
		node[i].name = names[i][2];
		ins[i][0] = names[i][1];
		ins[i][1] = names[i][0];
		outs[i][0] = names[i][2];
		node[i].n_input = 2;
		node[i].input = ins[i];
		node[i].n_output = 1;
		node[i].output = outs[i];
		nodep[i] = &node[i];
	}
	g.n_initializer = NMAT;
	g.initializer = initp;
	g.n_node = NMAT;
	g.node = nodep;

	size_t len = onnx__model_proto__get_packed_size(&m);
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	assert_int_equal(onnx__model_proto__pack(&m, buf), len);
	free(w);
	snprintf(path, sizeof path, "%s/model.onnx", dir);
	tu_write_file(path, buf, len);
	free(buf);
}

/* Runs argv in a child; returns its peak RSS (bytes).  fork, not
 * posix_spawn: a vfork-style child shares this process's memory until it
 * execs, and Linux then counts this process's own peak (the weights this
 * test built) as the child's. */
static size_t run_rss(char **argv)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	struct rusage ru;
	pid_t r;
	do
		r = wait4(pid, &st, 0, &ru);
	while (r < 0 && errno == EINTR);
	assert_int_equal(r, pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	return (size_t)ru.ru_maxrss * 1024;
}

/* y = x W0 W1 ... in double, then compared with the library's output. */
static void check_library(const char *so)
{
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		fprintf(stderr, "dlopen: %s\n", dlerror());
	assert_non_null(h);
	const OnnxccModel *md = dlsym(h, "m_model");
	assert_non_null(md);
	float *x = malloc(K * sizeof *x), *y = malloc(K * sizeof *y);
	double *a = malloc(K * sizeof *a), *b = malloc(K * sizeof *b);
	void *ws = NULL;
	assert_int_equal(posix_memalign(&ws, 64, md->workspace_size + 64), 0);
	for (int k = 0; k < K; k++)
		a[k] = x[k] = xval(k);
	const void *in[1] = {x};
	void *out[1] = {y};
	assert_int_equal(md->run(in, out, ws), 0);
	for (int i = 0; i < NMAT; i++) {
		for (int64_t j = 0; j < K; j++)
			b[j] = 0;
		for (int64_t k = 0; k < K; k++)
			for (int64_t j = 0; j < K; j++)
				b[j] += a[k] * wval(i, k, j);
		memcpy(a, b, K * sizeof *a);
	}
	double maxref = 0, maxerr = 0;
	for (int j = 0; j < K; j++) {
		maxref = fmax(maxref, fabs(a[j]));
		maxerr = fmax(maxerr, fabs(a[j] - y[j]));
	}
	assert_true(maxref > 0);
	if (maxerr > 1e-4 * maxref)
		fprintf(stderr, "max |y - ref| = %g, max |ref| = %g\n", maxerr, maxref);
	assert_true(maxerr <= 1e-4 * maxref);
	free(x);
	free(y);
	free(a);
	free(b);
	free(ws);
	dlclose(h);
}

/* Writes the chain with k x k weights into a fresh folder, compiles it to
 * an object; returns the compiler's peak RSS and the folder. */
static size_t compile_chain(int k, bool external, char **dirp)
{
	K = k;
	char *dir = tu_tmpdir();
	write_model(dir, external);
	char model[4200], obj[4200], bin[4200];
	snprintf(model, sizeof model, "%s/model.onnx", dir);
	snprintf(obj, sizeof obj, "%s/m.o", dir);
	snprintf(bin, sizeof bin, "%s/onnxcc", ONNXCC_BINARY_DIR);
	char *cc[] = {bin, model, "-o", obj, NULL};
	size_t rss = run_rss(cc);
	*dirp = dir;
	return rss;
}

static void run_case(bool external)
{
	char *small, *dir;
	size_t base = compile_chain(KSMALL, external, &small);
	tu_rmtree(small);
	free(small);
	size_t rss = compile_chain(KBIG, external, &dir);
	size_t wbytes = (size_t)NMAT * KBIG * KBIG * sizeof(float);
	size_t limit = base + wbytes + wbytes / 4 + ((size_t)16 << 20) + ASAN_ALLOWANCE(wbytes);
	fprintf(stderr, "%s weights %zu MiB: peak RSS %zu MiB, %zu MiB with 64 x 64 weights "
	        "(limit %zu MiB)\n", external ? "external" : "inline", wbytes >> 20, rss >> 20,
	        base >> 20, limit >> 20);
	assert_true(rss <= limit);
	char obj[4200], so[4200];
	snprintf(obj, sizeof obj, "%s/m.o", dir);
	snprintf(so, sizeof so, "%s/m.so", dir);
	char *ld[] = {"cc", "-shared", "-o", so, obj, NULL};
	run_rss(ld);
	check_library(so);
	tu_rmtree(dir);
	free(dir);
}

static void test_external_weights_held_once(void **state)
{
	(void)state;
	run_case(true);
}

static void test_inline_weights_held_once(void **state)
{
	(void)state;
	run_case(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_external_weights_held_once),
		cmocka_unit_test(test_inline_weights_held_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
