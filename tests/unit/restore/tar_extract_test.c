/*
 * Crafted base backup archives, built in memory with libarchive's writer:
 * what extraction refuses, and how what it accepts ends up on disk.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/mem.h"
#include "restore/tar_extract.h"
#include "tests/unit/testutil.h"

typedef struct tentry {
	const char *path;
	mode_t type;          /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFIFO ... */
	mode_t perm;
	const char *data;     /* AE_IFREG; or the link target for AE_IFLNK */
	const char *hardlink; /* makes it a hard link entry */
} tentry;

#define TAR_CAP (1024 * 1024)

/* A tar of the entries (pax, as the server's are ustar-compatible); *len its size. */
static char *make_tar(const tentry *t, size_t n, size_t *len)
{
	char *buf = xmalloc(TAR_CAP);
	size_t used = 0;
	struct archive *a = archive_write_new();
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, TAR_CAP, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, t[i].path);
		archive_entry_set_filetype(e, t[i].type);
		archive_entry_set_perm(e, t[i].perm);
		archive_entry_set_mtime(e, 1795256004, 0);
		if (t[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, t[i].data);
		if (t[i].hardlink)
			archive_entry_set_hardlink(e, t[i].hardlink);
		if (t[i].type == AE_IFCHR)
			archive_entry_set_rdev(e, makedev(1, 3));
		size_t dlen = t[i].type == AE_IFREG && t[i].data && !t[i].hardlink ? strlen(t[i].data) : 0;
		archive_entry_set_size(e, (la_int64_t)dlen);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (dlen)
			assert_int_equal(archive_write_data(a, t[i].data, dlen), (la_ssize_t)dlen);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*len = used;
	return buf;
}

static const char *const OIDS[] = { "16384", NULL };

/* The entries of an ordinary base.tar, which every crafted one starts with. */
#define GOOD_ENTRIES                                                          \
	{ "./", AE_IFDIR, 0700, NULL, NULL },                                 \
	{ "PG_VERSION", AE_IFREG, 0600, "17\n", NULL },                       \
	{ "global/", AE_IFDIR, 0700, NULL, NULL },                            \
	{ "global/pg_control", AE_IFREG, 0600, "control", NULL },             \
	{ "pg_tblspc/", AE_IFDIR, 0700, NULL, NULL },                         \
	{ "pg_tblspc/16384", AE_IFLNK, 0777, "/srv/ts1", NULL }

static void expect_refused(const tentry *bad, const char *fragment)
{
	tentry t[] = { GOOD_ENTRIES, *bad };
	size_t len;
	char *tar = make_tar(t, sizeof t / sizeof *t, &len);
	bderr err;
	bderr_init(&err);
	if (tar_check_memory(tar, len, OIDS, &err) == 0)
		fail_msg("entry '%s' accepted", bad->path);
	if (strstr(err.msg, fragment) == NULL)
		fail_msg("refusal of '%s' says '%s', not '%s'", bad->path, err.msg, fragment);
	free(tar);
}

static void test_check_refuses(void **state)
{
	(void)state;
	const tentry chr = { "dev/null", AE_IFCHR, 0666, NULL, NULL };
	expect_refused(&chr, "tar entry 'dev/null': character device, refused");
	const tentry blk = { "sda", AE_IFBLK, 0660, NULL, NULL };
	expect_refused(&blk, "block device");
	const tentry fifo = { "global/fifo", AE_IFIFO, 0600, NULL, NULL };
	expect_refused(&fifo, "'global/fifo': FIFO, refused");
	const tentry link = { "postgresql.conf", AE_IFLNK, 0777, "/etc/shadow", NULL };
	expect_refused(&link, "'postgresql.conf': symbolic link, refused");
	const tentry other_ts = { "pg_tblspc/99999", AE_IFLNK, 0777, "/etc", NULL };
	expect_refused(&other_ts, "'pg_tblspc/99999': symbolic link, refused");
	const tentry hard = { "global/passwd", AE_IFREG, 0600, NULL, "/etc/passwd" };
	expect_refused(&hard, "'global/passwd': hard link, refused");
	const tentry hard_in = { "global/again", AE_IFREG, 0600, NULL, "PG_VERSION" };
	expect_refused(&hard_in, "hard link, refused");
	const tentry up = { "../escape", AE_IFREG, 0600, "x", NULL };
	expect_refused(&up, "'../escape': '..' in the path, refused");
	const tentry up2 = { "global/../../escape", AE_IFREG, 0600, "x", NULL };
	expect_refused(&up2, "'..' in the path");
	const tentry abs = { "/etc/cron.d/evil", AE_IFREG, 0644, "x", NULL };
	expect_refused(&abs, "'/etc/cron.d/evil': absolute path, refused");
	const tentry root_file = { ".", AE_IFREG, 0600, "x", NULL };
	expect_refused(&root_file, "the archive's root must be a directory");
}

static void test_check_accepts(void **state)
{
	(void)state;
	tentry t[] = { GOOD_ENTRIES,
		       { "base/1/1259", AE_IFREG, 04755, "setuid in the archive", NULL },
		       { "./pg_wal//archive_status/", AE_IFDIR, 01777, NULL, NULL } };
	size_t len;
	char *tar = make_tar(t, sizeof t / sizeof *t, &len);
	bderr err;
	bderr_init(&err);
	if (tar_check_memory(tar, len, OIDS, &err) != 0)
		fail_msg("refused: %s", err.msg);
	/* without the oid listed, its link is refused */
	assert_int_equal(tar_check_memory(tar, len, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "pg_tblspc/16384"));
	free(tar);
	/* damage is an error, never a crash */
	char junk[1024];
	memset(junk, 'x', sizeof junk);
	assert_int_equal(tar_check_memory(junk, sizeof junk, OIDS, &err), -1);
}

typedef struct dirs {
	char base[64];
	char dest[96];
	char outside[96];
} dirs;

static int setup(void **state)
{
	dirs *d = xcalloc(1, sizeof *d);
	snprintf(d->base, sizeof d->base, "/tmp/tar_extract_test.XXXXXX");
	if (mkdtemp(d->base) == NULL)
		return -1;
	snprintf(d->dest, sizeof d->dest, "%s/data", d->base);
	snprintf(d->outside, sizeof d->outside, "%s/outside", d->base);
	if (mkdir(d->dest, 0700) < 0 || mkdir(d->outside, 0700) < 0)
		return -1;
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	dirs *d = *state;
	test_rm_rf(d->base);
	free(d);
	return 0;
}

static const tar_extract_options PRIVATE = { 0700, 0600, 0, 0, 0, OIDS };

/* Extracts the entries into d->dest: tar_extract's result, err filled. */
static int extract(const dirs *d, const tentry *t, size_t n, const tar_extract_options *o,
		   bderr *err)
{
	size_t len;
	char *tar = make_tar(t, n, &len);
	struct archive *in = archive_read_new();
	archive_read_support_format_tar(in);
	assert_int_equal(archive_read_open_memory(in, tar, len), ARCHIVE_OK);
	int rc = tar_extract(in, d->dest, o, err);
	archive_read_free(in);
	free(tar);
	return rc;
}

static mode_t mode_of(const char *dir, const char *rel)
{
	char *p = xasprintf("%s/%s", dir, rel);
	struct stat st;
	int rc = lstat(p, &st);
	free(p);
	return rc < 0 ? (mode_t)-1 : st.st_mode;
}

static void test_extract_modes(void **state)
{
	dirs *d = *state;
	tentry t[] = { GOOD_ENTRIES,
		       { "base/1/1259", AE_IFREG, 06755, "setuid and setgid", NULL },
		       { "pg_wal/archive_status/", AE_IFDIR, 01777, NULL, NULL },
		       { "pg_stat/", AE_IFDIR, 0777, NULL, NULL } };
	bderr err;
	bderr_init(&err);
	if (extract(d, t, sizeof t / sizeof *t, &PRIVATE, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(mode_of(d->dest, "base/1/1259"), S_IFREG | 0600);
	assert_int_equal(mode_of(d->dest, "base/1"), S_IFDIR | 0700); /* made as a parent */
	assert_int_equal(mode_of(d->dest, "pg_wal/archive_status"), S_IFDIR | 0700);
	assert_int_equal(mode_of(d->dest, "pg_stat"), S_IFDIR | 0700);
	assert_int_equal(mode_of(d->dest, "PG_VERSION"), S_IFREG | 0600);
	/* the archive's tablespace link is not extracted: pitr makes it */
	assert_int_equal(mode_of(d->dest, "pg_tblspc/16384"), (mode_t)-1);
	char *p = xasprintf("%s/global/pg_control", d->dest);
	FILE *f = fopen(p, "r");
	char buf[32] = "";
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof buf, f));
	fclose(f);
	free(p);
	assert_string_equal(buf, "control");

	/* the link, from the checked list */
	assert_int_equal(tar_make_tablespace_link(d->dest, "16384", "/srv/ts1", &PRIVATE, &err), 0);
	char target[64] = "";
	p = xasprintf("%s/pg_tblspc/16384", d->dest);
	assert_int_equal(readlink(p, target, sizeof target - 1), 8);
	assert_string_equal(target, "/srv/ts1");
	free(p);
	assert_int_equal(tar_make_tablespace_link(d->dest, "16384", "/srv/ts1", &PRIVATE, &err), -1);
}

static void test_extract_group_and_owner(void **state)
{
	dirs *d = *state;
	tentry t[] = { { "global/", AE_IFDIR, 0700, NULL, NULL },
		       { "global/pg_control", AE_IFREG, 0600, "x", NULL } };
	tar_extract_options o = { 0750, 0640, 0, 0, 0, NULL };
	int root = geteuid() == 0;
	if (root) {
		o.set_owner = 1;
		o.uid = 4321;
		o.gid = 4322;
	}
	bderr err;
	bderr_init(&err);
	if (extract(d, t, 2, &o, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(mode_of(d->dest, "global"), S_IFDIR | 0750);
	assert_int_equal(mode_of(d->dest, "global/pg_control"), S_IFREG | 0640);
	if (root) {
		char *p = xasprintf("%s/global/pg_control", d->dest);
		struct stat st;
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_uid, 4321);
		assert_int_equal(st.st_gid, 4322);
		free(p);
	}
}

static int dir_empty(const char *dir)
{
	char *cmd = xasprintf("test -z \"$(ls -A '%s')\"", dir);
	int rc = system(cmd);
	free(cmd);
	return rc == 0;
}

/* Each refused archive leaves nothing behind it outside dest, and no special file anywhere. */
static void test_extract_refuses(void **state)
{
	dirs *d = *state;
	bderr err;
	const tentry bad[] = {
		{ "dev/null", AE_IFCHR, 0666, NULL, NULL },
		{ "fifo", AE_IFIFO, 0600, NULL, NULL },
		{ "conf", AE_IFLNK, 0777, "../outside", NULL },
		{ "hard", AE_IFREG, 0600, NULL, "PG_VERSION" },
		{ "../outside/escape", AE_IFREG, 0600, "x", NULL },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		tentry t[] = { { "PG_VERSION", AE_IFREG, 0600, "17\n", NULL }, bad[i] };
		bderr_init(&err);
		assert_int_equal(extract(d, t, 2, &PRIVATE, &err), -1);
		assert_non_null(strstr(err.msg, "refused"));
		assert_int_equal(mode_of(d->dest, bad[i].path), (mode_t)-1);
		assert_true(dir_empty(d->outside));
		char *pv = xasprintf("%s/PG_VERSION", d->dest);
		unlink(pv);
		free(pv);
	}

	/* a symbolic link already under dest is never followed */
	char *link = xasprintf("%s/evil", d->dest);
	assert_int_equal(symlink(d->outside, link), 0);
	tentry through[] = { { "evil/escape", AE_IFREG, 0600, "x", NULL } };
	bderr_init(&err);
	assert_int_equal(extract(d, through, 1, &PRIVATE, &err), -1);
	assert_non_null(strstr(err.msg, "'evil' exists and is not a directory"));
	tentry onto[] = { { "evil", AE_IFREG, 0600, "x", NULL } };
	assert_int_equal(extract(d, onto, 1, &PRIVATE, &err), -1);
	tentry dir_onto[] = { { "evil/", AE_IFDIR, 0700, NULL, NULL } };
	assert_int_equal(extract(d, dir_onto, 1, &PRIVATE, &err), -1);
	assert_true(dir_empty(d->outside));
	unlink(link);
	free(link);

	/* a file where a directory is needed, and the same file twice */
	tentry file_dir[] = { { "a", AE_IFREG, 0600, "x", NULL }, { "a/b", AE_IFREG, 0600, "y", NULL } };
	assert_int_equal(extract(d, file_dir, 2, &PRIVATE, &err), -1);
	assert_non_null(strstr(err.msg, "'a' exists and is not a directory"));
	tentry twice[] = { { "c", AE_IFREG, 0600, "x", NULL }, { "c", AE_IFREG, 0600, "y", NULL } };
	assert_int_equal(extract(d, twice, 2, &PRIVATE, &err), -1);
	assert_non_null(strstr(err.msg, "'c' appears twice in the archive"));
	/* the listed tablespace link's place taken by a directory: the link is refused */
	tentry ts_dir[] = { { "pg_tblspc/16384/", AE_IFDIR, 0700, NULL, NULL } };
	assert_int_equal(extract(d, ts_dir, 1, &PRIVATE, &err), 0);
	assert_int_equal(tar_make_tablespace_link(d->dest, "16384", d->outside, &PRIVATE, &err), -1);
	assert_true(dir_empty(d->outside));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_refuses),
		cmocka_unit_test(test_check_accepts),
		cmocka_unit_test_setup_teardown(test_extract_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extract_group_and_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extract_refuses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
