#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/gen3/k8s.h"

static void test_names(void **state)
{
	static const struct { const char *name; int ok; } cases[] = {
		{ "fence-dbcreds", 1 }, { "a", 1 }, { "metadata.v2-dbcreds", 1 }, { "0x", 1 },
		{ "", 0 }, { "Fence-dbcreds", 0 }, { "fence_dbcreds", 0 }, { "-a", 0 },
		{ "a-", 0 }, { ".a", 0 }, { "a/b", 0 }, { "a b", 0 }, { "a%2F", 0 },
		{ "..", 0 },
	};
	char long_name[300];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(g3_k8s_name_ok(cases[i].name), cases[i].ok);
	memset(long_name, 'a', 253);
	long_name[253] = '\0';
	assert_int_equal(g3_k8s_name_ok(long_name), 1);
	long_name[253] = 'a';
	long_name[254] = '\0';
	assert_int_equal(g3_k8s_name_ok(long_name), 0);
}

static void test_status_bodies(void **state)
{
	const char *forbidden =
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
		"\"message\":\"secrets \\\"x\\\" is forbidden\",\"reason\":\"Forbidden\","
		"\"details\":{\"name\":\"x\",\"kind\":\"secrets\"},\"code\":403}";
	char msg[64], reason[16];
	long code;

	(void)state;
	assert_int_equal(g3_k8s_parse_status(forbidden, strlen(forbidden), msg, sizeof(msg),
					     reason, sizeof(reason), &code), 1);
	assert_string_equal(msg, "secrets \"x\" is forbidden");
	assert_string_equal(reason, "Forbidden");
	assert_int_equal(code, 403);
	/* truncated to the buffers */
	assert_int_equal(g3_k8s_parse_status(forbidden, strlen(forbidden), msg, 8,
					     reason, 4, &code), 1);
	assert_string_equal(msg, "secrets");
	assert_string_equal(reason, "For");
	/* not a Status: a Secret, HTML from a proxy, a cut body, nothing */
	{
		static const char *other[] = {
			"{\"kind\":\"Secret\",\"message\":\"m\"}", "<html>502</html>",
			"{\"kind\":\"Status\",\"message\":\"cut", "", "[1,2]",
			"{\"kind\":7}",
		};

		for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
			assert_int_equal(g3_k8s_parse_status(other[i], strlen(other[i]), msg,
							     sizeof(msg), reason, sizeof(reason),
							     &code), 0);
			assert_string_equal(msg, "");
			assert_string_equal(reason, "");
		}
	}
	/* a Status with fields missing or of other types */
	{
		const char *partial = "{\"kind\":\"Status\",\"code\":\"x\"}";

		assert_int_equal(g3_k8s_parse_status(partial, strlen(partial), msg, sizeof(msg),
						     reason, sizeof(reason), &code), 1);
	}
	assert_string_equal(msg, "");
	assert_int_equal(code, 0);
}

static void test_client_init_outside_a_pod(void **state)
{
	g3_k8s_client c;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	unsetenv("GEN3DB_K8S_API");
	unsetenv("KUBERNETES_SERVICE_HOST");
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(g3_k8s_in_cluster(), 0);
	assert_int_equal(g3_k8s_client_init(&c, &err), G3_USAGE);
	assert_string_equal(err.msg, "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST "
			    "and KUBERNETES_SERVICE_PORT are not set)");
	g3_k8s_client_release(&c);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("GEN3DB_K8S_SA_DIR", "/nonexistent-sa", 1);
	assert_int_equal(g3_k8s_in_cluster(), 1);
	assert_int_equal(g3_k8s_client_init(&c, &err), G3_USAGE);
	assert_string_equal(c.api, "https://[fd00::1]:443");
	assert_string_equal(err.msg, "could not open the service account's namespace "
			    "\"/nonexistent-sa/namespace\": No such file or directory");
	g3_k8s_client_release(&c);
	assert_null(c.api);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_status_bodies),
		cmocka_unit_test(test_client_init_outside_a_pod),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
