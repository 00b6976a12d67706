#include "engines/pg/pg_engine.h"

#include <stdio.h>

#include "engines/pg/pg_dump.h"
#include "engines/pg/pg_restore.h"
#include "engines/pg/pgconn.h"

static int pg_check(const char *url, const char *password, char *note, size_t note_len, bderr *err)
{
	PGconn *c = NULL;
	if (pg_connect(url, password, NULL, "backupd check", &c, err) != 0)
		return -1;
	PGresult *res = NULL;
	int rc = pg_query(c, "SELECT 1", "test query", &res, err);
	PQclear(res);
	PQfinish(c);
	if (rc == 0 && note && note_len)
		note[0] = '\0';
	return rc;
}

static int pg_dump_options_check(const engine_dump_options *o, bderr *err)
{
	if (o->consistency != ENGINE_CONSISTENCY_DEFAULT)
		return bderr_usage(err, "option '--consistency' only applies to MySQL/MariaDB sources");
	return 0;
}

static int pg_restore_options_check(const engine_restore_options *o, bderr *err)
{
	if (o->no_binlog)
		return bderr_usage(err, "--no-binlog applies to MySQL/MariaDB targets only");
	return 0;
}

static const char *const pg_schemes[] = { "postgresql://", "postgres://", NULL };

const engine_ops pg_engine = {
	.name = "postgresql",
	.schemes = pg_schemes,
	.physical = 1,
	.check = pg_check,
	.dump_options_check = pg_dump_options_check,
	.dump = pg_dump_run,
	.restore_options_check = pg_restore_options_check,
	.restore = pg_restore_run,
};
