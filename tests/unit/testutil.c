/* tests/unit/testutil.c — see testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tu_node_test(const char *name)
{
	static char buf[4096];
	snprintf(buf, sizeof buf, "%s/%s/model.onnx", ONNXCC_NODE_TESTS, name);
	return buf;
}

char *tu_tmpdir(void)
{
	char tmpl[] = "/tmp/onnxcc-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

void tu_rmtree(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", dir);
}

void tu_write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}
