#include "engines/mysql/mysql_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/jsonfield.h"
#include "engines/mysql/myformat.h"

char *my_chunk_object(const char *db, const char *table, int chunk, int compressed)
{
	char *edb = my_name_encode(db);
	char *etab = my_name_encode(table);
	char *o = xasprintf("%s/data/%s.%05d.tsv%s", edb, etab, chunk, compressed ? ".zst" : "");
	free(edb);
	free(etab);
	return o;
}

static json_t *or_null(json_t *v)
{
	return v ? json_incref(v) : json_null();
}

void my_dump_info_to_json(const my_dump_info *i, json_t *out)
{
	json_t *dbs = json_array();
	for (size_t d = 0; d < i->n_dbs; d++) {
		const my_dump_db *db = &i->dbs[d];
		json_t *tables = json_array();
		for (size_t k = 0; k < db->n_tables; k++) {
			const my_dump_table *t = &db->tables[k];
			json_array_append_new(
				tables,
				json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:o}", "name", t->name, "engine",
					  t->engine ? t->engine : "", "columns",
					  jf_strings_json(t->columns, t->n_columns), "column_types",
					  jf_strings_json(t->types, t->n_types), "auto_increment",
					  t->has_auto_increment ? json_integer(t->auto_increment) : json_null(),
					  "rows", (json_int_t)t->rows, "chunks",
					  jf_strings_json(t->chunks, t->n_chunks)));
		}
		json_array_append_new(dbs, json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", db->name,
						     "charset", db->charset, "collation", db->collation,
						     "tables", tables, "views",
						     db->views ? json_incref(db->views) : json_array()));
	}
	json_t *o = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:o, s:o, s:o, s:o}",
			      "server_version", i->server_version, "flavor", i->flavor,
			      "consistency", i->consistency, "sql_mode", i->sql_mode,
			      "server_sql_mode", i->server_sql_mode, "time_zone", i->time_zone,
			      "binlog", or_null(i->binlog), "gtid_executed", or_null(i->gtid_executed),
			      "databases", dbs, "options", jf_options_json(&i->options));
	if (i->digest)
		json_object_set_new(o, "digest", digest_set_to_json(i->digest));
	json_object_update(out, o);
	json_decref(o);
}

static int parse_table(const json_t *v, const char *where, void *elem, bderr *err)
{
	my_dump_table *t = elem;
	if (jf_string(v, "name", 1, &t->name, where, err) != 0 ||
	    jf_string(v, "engine", 0, &t->engine, where, err) != 0 ||
	    jf_strings(v, "columns", 1, &t->columns, &t->n_columns, where, err) != 0 ||
	    jf_strings(v, "column_types", 0, &t->types, &t->n_types, where, err) != 0 ||
	    jf_int(v, "rows", 0, 0, INT64_MAX, &t->rows, where, err) != 0 ||
	    jf_strings(v, "chunks", 1, &t->chunks, &t->n_chunks, where, err) != 0)
		return -1;
	/* the type decides how a value is loaded: one per column */
	if (t->types && t->n_types != t->n_columns)
		return bderr_set(err, "%s.column_types has %zu entries for %zu columns", where,
				 t->n_types, t->n_columns);
	const json_t *ai = json_object_get(v, "auto_increment");
	if (ai && !json_is_null(ai)) {
		if (jf_int(v, "auto_increment", 1, 0, INT64_MAX, &t->auto_increment, where, err) != 0)
			return -1;
		t->has_auto_increment = 1;
	}
	return 0;
}

static int parse_db(const json_t *v, const char *where, void *elem, bderr *err)
{
	my_dump_db *d = elem;
	const json_t *views;
	size_t n;
	if (jf_string(v, "name", 1, &d->name, where, err) != 0 ||
	    jf_string(v, "charset", 0, &d->charset, where, err) != 0 ||
	    jf_string(v, "collation", 0, &d->collation, where, err) != 0 ||
	    jf_array(v, "views", 0, &views, &n, where, err) != 0)
		return -1;
	if (views)
		d->views = json_incref((json_t *)views);
	if (*d->name == '\0')
		return bderr_set(err, "%s.name is empty", where);
	return jf_objects(v, "tables", 1, sizeof *d->tables, parse_table, (void **)&d->tables,
			  &d->n_tables, where, err);
}

static int parse_all(const json_t *info, my_dump_info *i, bderr *err)
{
	if (!json_is_object(info))
		return bderr_set(err, "info must be an object");
	if (jf_string(info, "server_version", 0, &i->server_version, "info", err) != 0 ||
	    jf_string(info, "flavor", 0, &i->flavor, "info", err) != 0 ||
	    jf_string(info, "consistency", 0, &i->consistency, "info", err) != 0 ||
	    jf_string(info, "sql_mode", 0, &i->sql_mode, "info", err) != 0 ||
	    jf_string(info, "server_sql_mode", 0, &i->server_sql_mode, "info", err) != 0 ||
	    jf_string(info, "time_zone", 0, &i->time_zone, "info", err) != 0 ||
	    jf_objects(info, "databases", 1, sizeof *i->dbs, parse_db, (void **)&i->dbs, &i->n_dbs,
		       "info", err) != 0)
		return -1;
	if (i->n_dbs == 0)
		return bderr_set(err, "info.databases lists no database");
	const json_t *b = json_object_get(info, "binlog");
	if (b && !json_is_null(b))
		i->binlog = json_incref((json_t *)b);
	const json_t *g = json_object_get(info, "gtid_executed");
	if (g && !json_is_null(g))
		i->gtid_executed = json_incref((json_t *)g);
	if (jf_options(info, &i->options, err) != 0)
		return -1;
	const json_t *dg = json_object_get(info, "digest");
	if (dg && !json_is_null(dg) && digest_set_parse(dg, "info.digest", &i->digest, err) != 0)
		return -1;
	if (i->sql_mode == NULL)
		i->sql_mode = xstrdup(MY_SESSION_SQL_MODE);
	return 0;
}

int my_dump_info_parse(const json_t *info, my_dump_info *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	if (parse_all(info, out, err) != 0) {
		bderr_prefix(err, "invalid manifest");
		my_dump_info_clear(out);
		return -1;
	}
	return 0;
}

void my_dump_info_clear(my_dump_info *i)
{
	if (i == NULL)
		return;
	free(i->server_version);
	free(i->flavor);
	free(i->consistency);
	free(i->sql_mode);
	free(i->server_sql_mode);
	free(i->time_zone);
	json_decref(i->binlog);
	json_decref(i->gtid_executed);
	for (size_t d = 0; d < i->n_dbs; d++) {
		my_dump_db *db = &i->dbs[d];
		free(db->name);
		free(db->charset);
		free(db->collation);
		for (size_t k = 0; k < db->n_tables; k++) {
			my_dump_table *t = &db->tables[k];
			free(t->name);
			free(t->engine);
			jf_strings_free(t->columns, t->n_columns);
			jf_strings_free(t->types, t->n_types);
			jf_strings_free(t->chunks, t->n_chunks);
		}
		free(db->tables);
		json_decref(db->views);
	}
	free(i->dbs);
	engine_options_info_clear(&i->options);
	digest_set_free(i->digest);
	memset(i, 0, sizeof *i);
}
