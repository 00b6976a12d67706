#include "tests/unit/testutil.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/mem.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(path, 0700);
	return remove(path);
}

void test_rm_rf(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int test_state_config(char *dir, config **cfg)
{
	*cfg = NULL;
	if (mkdtemp(dir) == NULL)
		return -1;
	char *path = xasprintf("%s/backupd.conf", dir);
	FILE *c = fopen(path, "w");
	if (c == NULL) {
		free(path);
		return -1;
	}
	fprintf(c, "[global]\nstate-dir = %s/state\n", dir);
	fclose(c);
	bderr err;
	bderr_init(&err);
	int rc = config_load(path, cfg, &err);
	free(path);
	return rc;
}

int test_repo_setup(void **state)
{
	test_repo *t = calloc(1, sizeof *t);
	bderr err;
	bderr_init(&err);
	if (t == NULL)
		return -1;
	strcpy(t->dir, "/tmp/bd-unit-repo-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	if (repo_open(t->dir, NULL, 1, &t->r, &err) < 0) {
		test_rm_rf(t->dir);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

int test_repo_teardown(void **state)
{
	test_repo *t = *state;
	repo_free(t->r);
	test_rm_rf(t->dir);
	free(t);
	return 0;
}

void test_json_set_path(json_t *root, const char *path, json_t *value)
{
	json_t *parent = root;
	char *p = strdup(path);
	char *key = p, *dot;
	while ((dot = strchr(key, '.')) != NULL) {
		*dot = '\0';
		char *br = strchr(key, '[');
		if (br) {
			*br = '\0';
			parent = json_array_get(json_object_get(parent, key), (size_t)atoi(br + 1));
		} else {
			parent = json_object_get(parent, key);
		}
		key = dot + 1;
	}
	if (value)
		json_object_set_new(parent, key, value);
	else
		json_object_del(parent, key);
	free(p);
}

void test_expect_info_rejected(json_t *(*build)(void), int (*parse)(const json_t *info, bderr *err),
			       const char *path, json_t *value, const char *message)
{
	json_t *j = build();
	test_json_set_path(j, path, value);
	bderr err;
	bderr_init(&err);
	if (parse(j, &err) == 0)
		fail_msg("%s: accepted", path);
	if (strstr(err.msg, message) == NULL || strstr(err.msg, "invalid manifest") == NULL)
		fail_msg("%s: '%s' does not say '%s'", path, err.msg, message);
	json_decref(j);
}

void test_no_aws_credentials(void)
{
	static const char *const vars[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
}
