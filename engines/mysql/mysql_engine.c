#include "engines/mysql/mysql_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#include "engines/mysql/myconn.h"
#include "engines/mysql/mysql_dump.h"
#include "engines/mysql/my_digest.h"
#include "engines/mysql/mysql_follow.h"
#include "engines/mysql/mysql_migrate.h"
#include "engines/mysql/mysql_restore.h"

/* The privileges a dump needs, and for which it needs them. */
static const struct {
	const char *priv;
	const char *why;
} my_needed[] = {
	{ "SELECT", "read the tables" },
	{ "SHOW VIEW", "dump views" },
	{ "TRIGGER", "dump triggers" },
	{ "EVENT", "dump events" },
	{ "RELOAD", "FLUSH TABLES WITH READ LOCK (or dump with --consistency no-lock)" },
};

static const char my_grantee[] = "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), "
				 "'''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')";

/* Is priv held globally, or (db not NULL) on database db? */
static int my_has_privilege(MYSQL *c, const char *priv, const char *db, int *held, bderr *err)
{
	char *sql = xasprintf("SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES "
			      "WHERE GRANTEE = %s AND PRIVILEGE_TYPE = '%s'",
			      my_grantee, priv);
	if (db) {
		char *q = my_quote_literal(c, db);
		char *both = xasprintf("SELECT (%s) + (SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES "
				       "WHERE GRANTEE = %s AND PRIVILEGE_TYPE = '%s' AND %s LIKE TABLE_SCHEMA)",
				       sql, my_grantee, priv, q);
		free(q);
		free(sql);
		sql = both;
	}
	char *v = NULL;
	int rc = my_query_value(c, sql, "cannot read the account's privileges", &v, err);
	free(sql);
	*held = rc == 0 && v && atol(v) > 0;
	free(v);
	return rc;
}

/*
 * The privileges missing on a database the source names (globally when it
 * names none: then it dumps them all), as "SELECT (to ...), ...".
 */
static int my_missing_privileges(MYSQL *c, const my_uri *u, char *missing, size_t len,
				 bderr *err)
{
	missing[0] = '\0';
	for (size_t i = 0; i < sizeof my_needed / sizeof *my_needed; i++) {
		/* RELOAD exists only globally */
		int global = strcmp(my_needed[i].priv, "RELOAD") == 0 || u->n_databases == 0;
		size_t n = global ? 1 : u->n_databases;
		int held = 1;
		for (size_t d = 0; d < n && held; d++)
			if (my_has_privilege(c, my_needed[i].priv, global ? NULL : u->databases[d], &held,
					     err) != 0)
				return -1;
		if (!held) {
			size_t used = strlen(missing);
			snprintf(missing + used, len - used, "%s%s (to %s)", used ? ", " : "",
				 my_needed[i].priv, my_needed[i].why);
		}
	}
	return 0;
}

static int my_url_check(const char *url, bderr *err)
{
	my_uri u;
	if (my_uri_parse(url, &u, err) != 0)
		return -1;
	my_uri_clear(&u);
	return 0;
}

static int my_check(const char *url, const char *password, char *note, size_t note_len, bderr *err)
{
	my_uri u;
	if (my_uri_parse(url, &u, err) != 0)
		return -1;
	MYSQL *c = NULL;
	char missing[768];
	/* no default database: lacking rights on it is what we are here to report */
	int rc = my_connect(&u, password, NULL, MY_NAMES_UTF8MB4, 0, &c, err);
	if (rc == 0)
		rc = my_missing_privileges(c, &u, missing, sizeof missing, err);
	if (rc == 0 && missing[0])
		rc = bderr_set(err, "the account cannot dump: it lacks %s", missing);
	else if (rc == 0)
		snprintf(note, note_len, "can dump: SELECT, SHOW VIEW, TRIGGER, EVENT and RELOAD held");
	my_close(c);
	my_uri_clear(&u);
	return rc;
}

static int my_restore_options_check(const engine_restore_options *o, bderr *err)
{
	if (o->role_map)
		return bderr_usage(err, "--role-map applies to PostgreSQL targets only");
	if (o->no_owner)
		return bderr_usage(err, "--no-owner applies to PostgreSQL targets only");
	if (o->no_privileges)
		return bderr_usage(err, "--no-privileges applies to PostgreSQL targets only");
	if (o->owner && !o->provision_db)
		return bderr_usage(err, "--owner on a MySQL/MariaDB target goes with --provision (objects have no owners there)");
	if (o->database)
		return bderr_usage(err, "--database is for PostgreSQL whole-server dumps: on a MySQL/MariaDB target name the databases to restore in --to (mysql://HOST/DB)");
	if (o->filter)
		return bderr_usage(err, "--table, --schema and --exclude-* restore subsets of PostgreSQL dumps only: filter a MySQL/MariaDB dump when it is taken (dump --include-table, --exclude-table)");
	return 0;
}

static int my_dump_options_check(const engine_dump_options *o, bderr *err)
{
	/* given at all, not only when it differs from the default: it does nothing here */
	if (o->role_passwords || (o->given & ENGINE_GIVEN_ROLE_PASSWORDS))
		return bderr_usage(err, "--role-passwords applies to PostgreSQL sources only");
	if (o->copy_text || (o->given & ENGINE_GIVEN_COPY_FORMAT))
		return bderr_usage(err, "option '--copy-format' applies to PostgreSQL sources only");
	return 0;
}

static const char *const my_schemes[] = { "mysql://", "mariadb://", NULL };

const engine_ops mysql_engine = {
	.name = "mysql",
	.schemes = my_schemes,
	.physical = 0,
	.check = my_check,
	.url_check = my_url_check,
	.dump_options_check = my_dump_options_check,
	.reach = mysql_dump_reach,
	.dump = mysql_dump_run,
	.restore_options_check = my_restore_options_check,
	.verify = my_digest_verify_run,
	.restore = mysql_restore_run,
	.migrate_open = mysql_migrate_open,
	.migrate_dump = mysql_migrate_dump,
	.migrate_units = mysql_migrate_units,
	.migrate_units_free = mysql_migrate_units_free,
	.migrate_worker_open = mysql_migrate_worker_open,
	.migrate_worker_close = mysql_migrate_worker_close,
	.migrate_copy = mysql_migrate_copy,
	.migrate_run = mysql_migrate_run,
	.migrate_post = mysql_migrate_post,
	.migrate_verify = mysql_migrate_verify,
	.migrate_close = mysql_migrate_close,
	.migrate_thread_hooks = &my_thread_hooks,
	.follow = &mysql_follow_ops,
};
