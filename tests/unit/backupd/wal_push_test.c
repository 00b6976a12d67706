#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archive/wal.h"
#include "backupd/wal_push.h"
#include "common/mem.h"
#include "tests/unit/testutil.h"

#define SEG (1024u * 1024)

static void write_segment(const char *path, uint64_t sysid, uint64_t pageaddr)
{
	unsigned char *b = xcalloc(1, SEG);
	uint16_t magic = 0xD110, info = 0x0002;
	uint32_t tli = 1, seg = SEG, blck = 8192;
	memcpy(b + 0, &magic, 2);
	memcpy(b + 2, &info, 2);
	memcpy(b + 4, &tli, 4);
	memcpy(b + 8, &pageaddr, 8);
	memcpy(b + 24, &sysid, 8);
	memcpy(b + 32, &seg, 4);
	memcpy(b + 36, &blck, 4);
	memset(b + 8192, 'w', 4096);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, SEG, f), SEG);
	assert_int_equal(fclose(f), 0);
	free(b);
}

typedef struct fixture {
	char dir[64];
	char *repo_dir;
	char *wal_dir;
	repo *r;
} fixture;

static int setup(void **state)
{
	fixture *f = xcalloc(1, sizeof *f);
	bderr err;
	bderr_init(&err);
	strcpy(f->dir, "/tmp/bd-walpush-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->repo_dir = xasprintf("%s/repo", f->dir);
	f->wal_dir = xasprintf("%s/pg_wal", f->dir);
	if (mkdir(f->wal_dir, 0700) < 0 || repo_open(f->repo_dir, NULL, 1, &f->r, &err) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	repo_free(f->r);
	test_rm_rf(f->dir);
	free(f->repo_dir);
	free(f->wal_dir);
	free(f);
	return 0;
}

static void test_sysid_mismatch_names_both(void **state)
{
	fixture *f = *state;
	wal_push_options o = { .source = "db", .level = 1 };
	char *a = xasprintf("%s/000000010000000000000001", f->wal_dir);
	char *b = xasprintf("%s/000000010000000000000002", f->wal_dir);
	write_segment(a, 1111, 1 * (uint64_t)SEG);
	write_segment(b, 2222, 2 * (uint64_t)SEG);
	bderr err;
	bderr_init(&err);
	int already;
	assert_int_equal(wal_push_file(f->r, &o, a, &already, &err), 0);
	assert_int_equal(wal_push_file(f->r, &o, a, &already, &err), 0);
	assert_int_equal(already, 1);
	assert_int_equal(wal_push_file(f->r, &o, b, &already, &err), -1);
	assert_non_null(strstr(err.msg, "1111"));
	assert_non_null(strstr(err.msg, "2222"));
	free(a);
	free(b);
}

static void test_not_a_segment(void **state)
{
	fixture *f = *state;
	wal_push_options o = { .source = "db", .level = 1 };
	char *a = xasprintf("%s/000000010000000000000001", f->wal_dir);
	FILE *fp = fopen(a, "w");
	fputs("hello", fp);
	fclose(fp);
	bderr err;
	bderr_init(&err);
	int already;
	assert_int_equal(wal_push_file(f->r, &o, a, &already, &err), -1);
	free(a);
	char *bad = xasprintf("%s/RECOVERYXLOG", f->wal_dir);
	bderr_init(&err);
	assert_int_equal(wal_push_file(f->r, &o, bad, &already, &err), -1);
	free(bad);
}

/* Several archivers (processes) pushing the same segment at once all succeed; one object stays. */
static void test_concurrent_processes(void **state)
{
	fixture *f = *state;
	char *a = xasprintf("%s/000000010000000000000003", f->wal_dir);
	write_segment(a, 3333, 3 * (uint64_t)SEG);
	enum { N = 6 };
	pid_t pids[N];
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			repo *r = NULL;
			bderr err;
			bderr_init(&err);
			wal_push_options o = { .source = "db", .level = 1 };
			int already, rc = repo_open(f->repo_dir, NULL, 0, &r, &err);
			if (rc == 0)
				rc = wal_push_file(r, &o, a, &already, &err);
			repo_free(r);
			_exit(rc == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < N; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	bderr err;
	bderr_init(&err);
	wal_object_list *l = NULL;
	assert_int_equal(wal_list(f->r, "db", &l, &err), 0);
	assert_int_equal(l->n, 1);
	wal_object_list_free(l);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sysid_mismatch_names_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_processes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
