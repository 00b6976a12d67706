/* lockfile: exclusion between holders, and ownership of locks root makes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/lockfile.h"

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/bd-lockfile-test.XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

static void cleanup(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_second_take_is_busy(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	char path[512];
	snprintf(path, sizeof path, "%s/locks/job-a.lock", dir);
	bderr err = { 0 };
	int fd = -1, fd2 = -1;
	long holder = 0;
	assert_int_equal(lockfile_take(path, &fd, &holder, &err), 0);
	/* flock is per open file description: a second take in-process is refused too */
	assert_int_equal(lockfile_take(path, &fd2, &holder, &err), 1);
	assert_int_equal(holder, (long)getpid());
	assert_int_equal(lockfile_busy(path, &holder), 1);
	lockfile_release(fd);
	assert_int_equal(lockfile_busy(path, &holder), 0);
	assert_int_equal(lockfile_take(path, &fd2, &holder, &err), 0);
	lockfile_release(fd2);
	cleanup(dir);
	free(dir);
}

/* root taking a lock under a state dir owned by another user gives it to that user */
static void test_root_hands_lock_to_state_owner(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	char *dir = make_tmpdir();
	assert_int_equal(chown(dir, 65534, 65534), 0);
	char path[600], locks[512];
	snprintf(locks, sizeof locks, "%s/locks", dir);
	snprintf(path, sizeof path, "%s/job-a.lock", locks);
	bderr err = { 0 };
	int fd = -1;
	long holder = 0;
	assert_int_equal(lockfile_take(path, &fd, &holder, &err), 0);
	struct stat st;
	assert_int_equal(stat(locks, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	lockfile_release(fd);
	cleanup(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_take_is_busy),
		cmocka_unit_test(test_root_hands_lock_to_state_owner),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
