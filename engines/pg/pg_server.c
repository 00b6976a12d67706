#include "engines/pg/pg_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/jsonfield.h"
#include "engines/pg/pg_globals.h"
#include "engines/pg/pg_restore.h"
#include "engines/pg/pgconn.h"

void pg_server_info_to_json(json_t *globals, json_t *databases, const engine_dump_options *o,
			    json_t *out)
{
	engine_options_info oi;
	memset(&oi, 0, sizeof oi);
	engine_options_info_set(&oi, o, NULL);
	json_object_set_new(out, "server", json_true());
	json_object_set(out, "globals", globals);
	json_object_set(out, "databases", databases);
	json_object_set_new(out, "options", jf_options_json(&oi));
	engine_options_info_clear(&oi);
}

int pg_server_info_is(const json_t *info)
{
	return json_is_true(json_object_get(info, "server"));
}

typedef struct server_db {
	const char *name;
	const json_t *info;
} server_db;

/* info.databases checked: names, their folders ("db/N/") and each one's info an object. */
static int parse_databases(const manifest *m, server_db **out, size_t *n, bderr *err)
{
	const json_t *arr = NULL;
	if (jf_array(m->info, "databases", 1, &arr, n, "info", err) != 0)
		return -1;
	if (*n == 0)
		return bderr_set(err, "info.databases lists no database");
	*out = xcalloc(*n + 1, sizeof **out);
	for (size_t i = 0; i < *n; i++) {
		const json_t *d = json_array_get(arr, i);
		const char *name = json_string_value(json_object_get(d, "name"));
		const char *prefix = json_string_value(json_object_get(d, "prefix"));
		const json_t *info = json_object_get(d, "info");
		char want[32];
		snprintf(want, sizeof want, "db/%zu/", i + 1);
		if (name == NULL || *name == '\0' || strlen(name) > 63)
			return bderr_set(err, "info.databases[%zu].name must be a database name", i);
		if (prefix == NULL || strcmp(prefix, want) != 0)
			return bderr_set(err, "info.databases[%zu].prefix must be \"%s\"", i, want);
		if (!json_is_object(info))
			return bderr_set(err, "info.databases[%zu].info must be an object", i);
		(*out)[i].name = name;
		(*out)[i].info = info;
	}
	return 0;
}

/* The manifest as a one-database dump of d: same objects, d's info. */
static manifest one_database(const manifest *m, const server_db *d)
{
	manifest sub = *m;
	sub.info = (json_t *)d->info;
	return sub;
}

/* The database a URI names itself (not libpq's default, the user's name), or NULL. */
static char *named_database(const char *uri)
{
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(uri, &errmsg);
	PQfreemem(errmsg);
	char *db = NULL;
	for (PQconninfoOption *k = opts; k && k->keyword; k++)
		if (strcmp(k->keyword, "dbname") == 0 && k->val && *k->val)
			db = xstrdup(k->val);
	PQconninfoFree(opts);
	return db;
}

/* d into target (--provision's database wins, as for any dump). */
static int restore_one(repo *r, const manifest *m, const server_db *d, const char *target,
		       const engine_restore_options *o, bderr *err)
{
	manifest sub = one_database(m, d);
	engine_restore_options so = *o;
	so.database = target;
	return pg_restore_run(r, &sub, &so, err);
}

static int restore_all(repo *r, const manifest *m, const server_db *dbs, size_t n,
		       const engine_restore_options *o, bderr *err)
{
	if (o->provision_db)
		return bderr_usage(err, "--provision restores one database: choose it with --database NAME");
	/* the globals through a maintenance connection: the URI's database, else "postgres" */
	char *db = named_database(o->to_url);
	PGconn *c = NULL;
	int rc = pg_connect(o->to_url, o->password, db ? NULL : "postgres", "dbrestore", &c, err);
	free(db);
	json_t *globals = json_object_get(m->info, "globals");
	if (rc == 0 && !json_is_object(globals))
		rc = bderr_set(err, "backup %s is damaged: info.globals must be an object", m->id);
	if (rc == 0)
		rc = pg_globals_restore(c, globals, err);
	if (rc != 0) {
		PQfinish(c);
		return bderr_prefix(err, "backup %s: the server's roles and tablespaces", m->id);
	}
	log_info("restoring %s of '%s': the globals are in, now %zu databases", m->id, m->name, n);
	for (size_t i = 0; i < n && rc == 0; i++) {
		int exists = 0;
		rc = pg_query_exists(c, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", dbs[i].name,
				     "cannot look up the target's databases", &exists, err);
		engine_restore_options so = *o;
		/* a new server's own "postgres" is there already, empty: restored into */
		so.create = !exists;
		so.server_part = 1;
		/* each under its own name, whatever database --to names */
		if (rc == 0)
			rc = restore_one(r, m, &dbs[i], dbs[i].name, &so, err);
		if (rc != 0)
			bderr_prefix(err, "database '%s' (%zu of %zu; %zu restored before it)", dbs[i].name,
				     i + 1, n, i);
	}
	PQfinish(c);
	return rc;
}

int pg_server_restore_run(repo *r, const manifest *m, const engine_restore_options *o, bderr *err)
{
	if (!pg_server_info_is(m->info)) {
		const char *one = json_string_value(json_object_get(m->info, "database"));
		if (o->database && (one == NULL || strcmp(one, o->database) != 0))
			return bderr_usage(err,
					   "backup %s is a dump of database '%s', not of a whole server: --database %s does not name it",
					   m->id, one ? one : "?", o->database);
		engine_restore_options so = *o;
		so.database = NULL; /* the database --to names, as always */
		return pg_restore_run(r, m, &so, err);
	}
	if (strcmp(m->kind, "dump") != 0)
		return bderr_usage(err, "backup %s is a %s, not a dump", m->id, m->kind);
	server_db *dbs = NULL;
	size_t n = 0;
	int rc = parse_databases(m, &dbs, &n, err);
	if (rc != 0) {
		free(dbs);
		return bderr_prefix(err, "backup %s is damaged", m->id);
	}
	if (o->database) {
		const server_db *d = NULL;
		strbuf names;
		strbuf_init(&names);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(dbs[i].name, o->database) == 0)
				d = &dbs[i];
			strbuf_appendf(&names, "%s%s", i ? ", " : "", dbs[i].name);
		}
		if (d == NULL)
			rc = bderr_usage(err, "backup %s holds no database '%s' (it holds: %s)", m->id,
					 o->database, names.data);
		else {
			/* into the database --to names, else one of its own name */
			char *target = named_database(o->to_url);
			rc = restore_one(r, m, d, target ? target : d->name, o, err);
			free(target);
		}
		strbuf_free(&names);
	} else {
		rc = restore_all(r, m, dbs, n, o, err);
	}
	free(dbs);
	return rc;
}
