/*
 * The storage interface's list contract through the wrapping drivers: the
 * encrypting storage (archive/repo_crypt.c) and the tests' fault-injecting
 * one (fault_storage.c), alone and stacked as the repository and the tests
 * stack them.  A callback's STORAGE_LIST_STOP ends the listing at once (the
 * inner walk too, or the next entry would reach the callback) and the
 * listing returns 0, never STORAGE_LIST_STOP itself nor an error; a
 * negative return still fails it with the callback's error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "archive/posix/posix.h"
#include "archive/repo.h"
#include "archive/repo_crypt.h"
#include "common/mem.h"
#include "fault_storage.h"
#include "tests/unit/testutil.h"

static const unsigned char KEY[CRYPT_KEY_LEN] = "0123456789abcdef0123456789abcdef";

typedef enum stack_kind { FAULT, CRYPT, CRYPT_OVER_FAULT, FAULT_OVER_CRYPT } stack_kind;

/*
 * A fresh stack over dir: each listing below goes through a new one, as
 * another process would, so the encrypting storage reads its source name
 * records while it lists.  The fault plan fails every read and write of a
 * backup's objects: a listing reads none (only those name records).
 */
static storage *stack_open(const char *dir, stack_kind kind, int faulty)
{
	storage *s;
	bderr err;
	bderr_init(&err);
	assert_int_equal(posix_storage_new(dir, &s, &err), 0);
	fault_plan plan = { .only_path = "backups/", .fail_open_read = faulty,
			    .fail_open_write = faulty };
	switch (kind) {
	case FAULT:
		return fault_storage_new(s, &plan);
	case CRYPT:
		return crypt_storage_new(s, KEY);
	case CRYPT_OVER_FAULT: /* a fault plan under an encrypted repository (repo_open_storage_key) */
		return crypt_storage_new(fault_storage_new(s, &plan), KEY);
	case FAULT_OVER_CRYPT:
		return fault_storage_new(crypt_storage_new(s, KEY), &plan);
	}
	return NULL;
}

/* Objects in two sources, at several levels, and the marker (which the encrypting storage passes through). */
static const char *const OBJECTS[] = {
	REPO_MARKER,
	"s/backups/1/manifest.json",
	"s/backups/1/data/t1",
	"s/wal/0000000100000000/000000010000000000000001-x.zst",
	"u/backups/2/manifest.json",
};
#define N_OBJECTS (sizeof OBJECTS / sizeof *OBJECTS)

typedef struct lister {
	int calls;
	int stop_after; /* returns STORAGE_LIST_STOP (or fails) on this call; 0: never */
	int fail;       /* fail instead of stopping */
	const char *prefix;
	char first[256];
} lister;

static int list_cb(void *ctx, const char *path, uint64_t size, bderr *err)
{
	lister *l = ctx;
	(void)size;
	/* what a wrapper hands on is a logical path under the prefix, never a stored name */
	assert_int_equal(strncmp(path, l->prefix, strlen(l->prefix)), 0);
	if (++l->calls == 1)
		snprintf(l->first, sizeof l->first, "%s", path);
	if (l->calls != l->stop_after)
		return 0;
	return l->fail ? bderr_set(err, "stopped at '%s'", path) : STORAGE_LIST_STOP;
}

static int list(const char *dir, stack_kind kind, const char *prefix, lister *l, bderr *err)
{
	storage *s = stack_open(dir, kind, 1);
	l->prefix = prefix;
	int rc = storage_list(s, prefix, list_cb, l, err);
	storage_free(s);
	return rc;
}

static void check_stack(stack_kind kind)
{
	char dir[] = "/tmp/storage_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	bderr err;
	bderr_init(&err);
	storage *s = stack_open(dir, kind, 0);
	for (size_t i = 0; i < N_OBJECTS; i++)
		assert_int_equal(storage_put(s, OBJECTS[i], "x", 1, &err), 0);
	storage_free(s);

	static const struct {
		const char *prefix;
		int n; /* objects under it */
	} cases[] = { { "", (int)N_OBJECTS }, { "s/", 3 }, { "s/backups/", 2 }, { "u/", 1 } };
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		const char *prefix = cases[c].prefix;
		/* without a stop every object is listed once: the stops below cut something short */
		lister all = { 0 };
		assert_int_equal(list(dir, kind, prefix, &all, &err), 0);
		assert_int_equal(all.calls, cases[c].n);

		/* a stop after the first entry: no second call, and success (0, not STORAGE_LIST_STOP) */
		lister first = { .stop_after = 1 };
		assert_int_equal(list(dir, kind, prefix, &first, &err), 0);
		assert_int_equal(first.calls, 1);
		assert_false(bderr_isset(&err));

		/* a stop later on ends it there too */
		if (cases[c].n > 2) {
			lister second = { .stop_after = 2 };
			assert_int_equal(list(dir, kind, prefix, &second, &err), 0);
			assert_int_equal(second.calls, 2);
			assert_false(bderr_isset(&err));
		}

		/* a failing callback still fails the listing, with its own error */
		lister failing = { .stop_after = 1, .fail = 1 };
		assert_int_equal(list(dir, kind, prefix, &failing, &err), -1);
		assert_int_equal(failing.calls, 1);
		char *want = xasprintf("stopped at '%s'", failing.first);
		assert_string_equal(err.msg, want);
		free(want);
		bderr_init(&err);
	}
	test_rm_rf(dir);
}

static void test_list_stop_fault(void **state)
{
	(void)state;
	check_stack(FAULT);
}

static void test_list_stop_crypt(void **state)
{
	(void)state;
	check_stack(CRYPT);
}

static void test_list_stop_crypt_over_fault(void **state)
{
	(void)state;
	check_stack(CRYPT_OVER_FAULT);
}

static void test_list_stop_fault_over_crypt(void **state)
{
	(void)state;
	check_stack(FAULT_OVER_CRYPT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_stop_fault),
		cmocka_unit_test(test_list_stop_crypt),
		cmocka_unit_test(test_list_stop_crypt_over_fault),
		cmocka_unit_test(test_list_stop_fault_over_crypt),
	};
	return cmocka_run_group_tests_name("storage", tests, NULL, NULL);
}
