#include "engines/mysql/mysql_engine.h"

#include "engines/mysql/myconn.h"
#include "engines/mysql/mysql_dump.h"
#include "engines/mysql/mysql_restore.h"

static int my_check(const char *url, const char *password, char *note, size_t note_len, bderr *err)
{
	my_uri u;
	if (my_uri_parse(url, &u, err) != 0)
		return -1;
	MYSQL *c = NULL;
	const char *db = u.n_databases ? u.databases[0] : NULL;
	int rc = my_connect(&u, password, db, MY_NAMES_UTF8MB4, 0, &c, err);
	if (rc == 0)
		rc = my_exec(c, "DO 1", "test query", err);
	my_close(c);
	my_uri_clear(&u);
	if (rc == 0 && note && note_len)
		note[0] = '\0';
	return rc;
}

static const char *const my_schemes[] = { "mysql://", "mariadb://", NULL };

const engine_ops mysql_engine = {
	.name = "mysql",
	.schemes = my_schemes,
	.physical = 0,
	.check = my_check,
	.dump = mysql_dump_run,
	.restore = mysql_restore_run,
};
