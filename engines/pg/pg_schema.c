#include "engines/pg/pg_schema.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "engines/pg/pgconn.h"
#include "common/secret.h"
#include "common/subprocess.h"

int pg_schema_dump(const pg_tool *pg_dump, const char *url, const char *password,
		   const char *snapshot, const char *section, object_writer *ow, bderr *err)
{
	return pg_schema_dump_ex(pg_dump, url, password, NULL, snapshot, section, NULL, 0, ow, err);
}

int pg_schema_dump_ex(const pg_tool *pg_dump, const char *url, const char *password,
		      const char *dbname, const char *snapshot, const char *section,
		      const char *const *extra, size_t n_extra, object_writer *ow, bderr *err)
{
	char *conninfo = NULL;
	char *pwenv = NULL;
	if (pg_child_conninfo(url, password, dbname, &conninfo, &pwenv, err) != 0)
		return -1;
	char *snap_arg = xasprintf("--snapshot=%s", snapshot);
	char *section_arg = xasprintf("--section=%s", section);
	/*
	 * Not --schema-only: pre-data then also carries large-object creation
	 * and post-data the materialized-view refreshes in dependency order.
	 * Table data is not in either section.
	 */
	const char *fixed[] = { pg_dump->path, "--no-password", snap_arg, section_arg,
				"--format=plain", "--dbname", conninfo };
	size_t n_fixed = sizeof fixed / sizeof *fixed;
	const char **argv = xcalloc(n_fixed + n_extra + 1, sizeof *argv);
	memcpy(argv, fixed, sizeof fixed);
	for (size_t i = 0; i < n_extra; i++)
		argv[n_fixed + i] = extra[i];
	const char *env[] = { pwenv, NULL };

	subprocess *p = NULL;
	int rc = subprocess_start(argv, env, SUBPROCESS_PIPE_STDOUT, &p, err);
	if (rc == 0) {
		char buf[65536];
		for (;;) {
			ssize_t n = read(p->fd, buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				rc = bderr_sys(err, errno, "cannot read the output of pg_dump");
				break;
			}
			if (n == 0)
				break;
			if (object_writer_write(ow, buf, (size_t)n, err) != 0) {
				rc = -1;
				break;
			}
		}
		if (rc == 0)
			rc = subprocess_finish(p, err);
		if (rc != 0 && bderr_isset(err))
			bderr_prefix(err, "schema (%s) dump failed", section);
	}
	subprocess_free(p);
	free(argv);
	secret_free(pwenv);
	free(conninfo);
	free(snap_arg);
	free(section_arg);
	return rc;
}
