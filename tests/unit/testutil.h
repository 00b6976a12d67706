/* Helpers shared by the unit tests: throwaway directories and repositories. */
#ifndef BACKUPD_TESTS_TESTUTIL_H
#define BACKUPD_TESTS_TESTUTIL_H

/*
 * Removes a directory tree, restoring write permission on the way so that
 * tests that make directories read-only still clean up.
 */
void test_rm_rf(const char *dir);

/*
 * Switches off every source of the S3 credential chain (environment,
 * profiles, web identity, container, instance metadata), so that a test
 * expecting "no S3 credentials" stays hermetic, also on a cloud host.
 */
void test_no_aws_credentials(void);

#include "common/config.h"

/*
 * A fresh directory from the mkdtemp template dir (filled in) holding a
 * backupd.conf whose [global] state-dir is dir/state, loaded into *cfg
 * (config_free): for the state-dir modules.  -1 if it cannot be made.
 */
int test_state_config(char *dir, config **cfg);

#include "archive/repo.h"

/* A local repository in a fresh directory under /tmp. */
typedef struct test_repo {
	char dir[64];
	repo *r;
} test_repo;

/* cmocka group/test setup: *state becomes a new test_repo (-1 if it cannot be made). */
int test_repo_setup(void **state);
/* Frees the test_repo in *state and removes its directory. */
int test_repo_teardown(void **state);

#include <jansson.h>

/*
 * Sets (value not NULL, reference stolen) or removes the member at path in
 * root: "schema.post-data", "tables[1].chunks".  The manifest format tests
 * damage one field of a valid info this way.
 */
void test_json_set_path(json_t *root, const char *path, json_t *value);

#include "common/error.h"

/*
 * A format test's malformed-manifest case: build() makes a valid info, the
 * member at path is set to value (NULL: removed), and parse (which frees
 * what it parsed) must refuse it with an error naming message and "invalid
 * manifest".
 */
void test_expect_info_rejected(json_t *(*build)(void), int (*parse)(const json_t *info, bderr *err),
			       const char *path, json_t *value, const char *message);

#endif
