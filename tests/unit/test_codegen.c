/* tests/unit/test_codegen.c — codegen driver pieces: identifiers, artifact
 * kinds, target machines, and whole-graph compilation through the run
 * function and descriptor. */
#include "testutil.h"

#include <string.h>

#include "codegen/header.h"
#include "codegen/target.h"

static void test_c_ident(void **state)
{
	char buf[64];
	cg_c_ident("input.1", buf, sizeof buf);
	assert_string_equal(buf, "input_1");
	cg_c_ident("onnx::MatMul_12", buf, sizeof buf);
	assert_string_equal(buf, "onnx__MatMul_12");
	cg_c_ident("3d", buf, sizeof buf);
	assert_string_equal(buf, "_3d");
	cg_c_ident("float", buf, sizeof buf);
	assert_string_equal(buf, "float_");
	cg_c_ident("", buf, sizeof buf);
	assert_string_equal(buf, "_");
}

static void test_artifact_kind(void **state)
{
	CgArtifact k;
	assert_true(cg_artifact_from_path("a/b.o", &k));
	assert_int_equal(k, CG_OBJ);
	assert_true(cg_artifact_from_path("x.so", &k));
	assert_int_equal(k, CG_SO);
	assert_true(cg_artifact_from_path("x.s", &k));
	assert_int_equal(k, CG_ASM);
	assert_true(cg_artifact_from_path("x.ll", &k));
	assert_int_equal(k, CG_LL);
	assert_false(cg_artifact_from_path("x.exe", &k));
	assert_false(cg_artifact_from_path("dir.d/noext", &k));
}

static void test_targets(void **state)
{
	const char *triples[] = {"x86_64-linux-gnu", "aarch64-linux-gnu", "armv7a-linux-gnueabihf",
	                         "thumbv7em-none-eabi"};
	for (size_t i = 0; i < sizeof triples / sizeof *triples; i++) {
		Diag d;
		diag_init(&d, "", false);
		LLVMTargetMachineRef tm = cg_target_machine(triples[i], NULL, NULL, 3, &d);
		assert_non_null(tm);
		assert_int_equal(d.nerrors, 0);
		LLVMDisposeTargetMachine(tm);
		diag_free(&d);
	}
	Diag d;
	diag_init(&d, "", false);
	assert_null(cg_target_machine("nonsense-cpu-none", NULL, NULL, 3, &d));
	assert_true(diag_contains(&d, "unknown target triple 'nonsense-cpu-none'"));
	diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_c_ident),
		cmocka_unit_test(test_artifact_kind),
		cmocka_unit_test(test_targets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
