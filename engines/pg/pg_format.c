#include "engines/pg/pg_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/jsonfield.h"

char *pg_chunk_object(const char *table_oid, int chunk, int compressed)
{
	return xasprintf("data/%s.%d%s", table_oid, chunk, compressed ? ".copy.zst" : ".copy");
}

char *pg_schema_object(const char *section, int compressed)
{
	return xasprintf("schema/%s.sql%s", section, compressed ? ".zst" : "");
}

const char *pg_large_objects_object(int compressed)
{
	return compressed ? "large-objects.zst" : "large-objects";
}

static void set_string(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

void pg_dump_info_to_json(const pg_dump_info *i, json_t *o)
{
	set_string(o, "database", i->database);
	set_string(o, "encoding", i->encoding);
	set_string(o, "snapshot", i->snapshot);
	json_object_set_new(o, "server_version_num", json_integer(i->server_version_num));
	set_string(o, "pg_dump_version", i->pg_dump_version);
	if (i->database_properties)
		json_object_set(o, "database_properties", i->database_properties);
	json_object_set_new(o, "schema", json_pack("{s:s?, s:s?}", "pre-data", i->pre_data,
						   "post-data", i->post_data));
	json_t *seqs = json_array();
	for (size_t k = 0; k < i->n_sequences; k++) {
		const pg_dump_sequence *s = &i->sequences[k];
		json_array_append_new(seqs, json_pack("{s:s, s:s, s:s, s:b}", "schema", s->schema,
						      "name", s->name, "last_value", s->last_value,
						      "is_called", s->is_called));
	}
	json_object_set_new(o, "sequences", seqs);
	if (i->large_objects)
		json_object_set_new(o, "large_objects",
				    json_pack("{s:s, s:I, s:s*}", "object", i->large_objects, "count",
					      (json_int_t)i->large_objects_count, "metadata",
					      i->large_objects_meta));
	json_t *tables = json_array();
	for (size_t k = 0; k < i->n_tables; k++) {
		const pg_dump_table *t = &i->tables[k];
		json_t *jt = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I}", "oid", t->oid, "schema",
				       t->schema, "name", t->name, "columns",
				       jf_strings_json(t->columns, t->n_columns), "chunks",
				       jf_strings_json(t->chunks, t->n_chunks), "rows",
				       (json_int_t)t->rows, "bytes", (json_int_t)t->bytes);
		/* absent: text, so dumps written before binary COPY read as they always did */
		if (t->binary)
			json_object_set_new(jt, "format", json_string("binary"));
		/* binary data only loads into the same types: a restore checks them first (pg_typecheck.h) */
		if (t->binary && t->n_types > 0)
			json_object_set_new(jt, "types", jf_strings_json(t->types, t->n_types));
		json_array_append_new(tables, jt);
	}
	json_object_set_new(o, "tables", tables);
	json_object_set_new(o, "options", jf_options_json(&i->options));
	if (i->digest)
		json_object_set_new(o, "digest", digest_set_to_json(i->digest));
}

static int parse_table(const json_t *v, const char *where, void *elem, bderr *err)
{
	pg_dump_table *t = elem;
	char *format = NULL;
	if (jf_string(v, "format", 0, &format, where, err) != 0)
		return -1;
	int frc = digest_format_parse(format, &t->binary);
	free(format);
	if (frc != 0)
		return bderr_set(err, "%s.format must be \"text\" or \"binary\"", where);
	if (jf_string(v, "oid", 0, &t->oid, where, err) != 0 ||
	    jf_string(v, "schema", 1, &t->schema, where, err) != 0 ||
	    jf_string(v, "name", 1, &t->name, where, err) != 0 ||
	    jf_strings(v, "columns", 1, &t->columns, &t->n_columns, where, err) != 0 ||
	    jf_strings(v, "chunks", 1, &t->chunks, &t->n_chunks, where, err) != 0 ||
	    jf_int(v, "rows", 0, 0, INT64_MAX, &t->rows, where, err) != 0 ||
	    jf_int(v, "bytes", 0, 0, INT64_MAX, &t->bytes, where, err) != 0 ||
	    jf_strings(v, "types", 0, &t->types, &t->n_types, where, err) != 0)
		return -1;
	if (t->n_types > 0 && t->n_types != t->n_columns)
		return bderr_set(err, "%s.types has %zu entries for %zu columns", where, t->n_types,
				 t->n_columns);
	return 0;
}

static int parse_sequence(const json_t *v, const char *where, void *elem, bderr *err)
{
	pg_dump_sequence *s = elem;
	if (jf_string(v, "schema", 1, &s->schema, where, err) != 0 ||
	    jf_string(v, "name", 1, &s->name, where, err) != 0 ||
	    jf_string(v, "last_value", 1, &s->last_value, where, err) != 0 ||
	    jf_bool(v, "is_called", 0, &s->is_called, where, err) != 0)
		return -1;
	/* it becomes a bound int8 parameter: digits only, as the server printed it */
	const char *p = s->last_value + (s->last_value[0] == '-');
	if (*p == '\0' || strspn(p, "0123456789") != strlen(p))
		return bderr_set(err, "%s.last_value must be an integer", where);
	return 0;
}

static int parse_all(const json_t *info, pg_dump_info *i, bderr *err)
{
	const json_t *schema, *lo;
	if (!json_is_object(info))
		return bderr_set(err, "info must be an object");
	if (jf_string(info, "database", 0, &i->database, "info", err) != 0 ||
	    jf_string(info, "encoding", 1, &i->encoding, "info", err) != 0 ||
	    jf_string(info, "snapshot", 0, &i->snapshot, "info", err) != 0 ||
	    jf_string(info, "pg_dump_version", 0, &i->pg_dump_version, "info", err) != 0 ||
	    jf_int(info, "server_version_num", 0, 0, INT32_MAX, &i->server_version_num, "info", err) != 0)
		return -1;
	if (jf_object(info, "schema", 1, &schema, "info", err) != 0 ||
	    jf_string(schema, "pre-data", 1, &i->pre_data, "info.schema", err) != 0 ||
	    jf_string(schema, "post-data", 1, &i->post_data, "info.schema", err) != 0)
		return -1;
	if (jf_objects(info, "tables", 0, sizeof *i->tables, parse_table, (void **)&i->tables,
		       &i->n_tables, "info", err) != 0 ||
	    jf_objects(info, "sequences", 0, sizeof *i->sequences, parse_sequence,
		       (void **)&i->sequences, &i->n_sequences, "info", err) != 0)
		return -1;
	if (jf_object(info, "large_objects", 0, &lo, "info", err) != 0)
		return -1;
	if (lo && (jf_string(lo, "object", 1, &i->large_objects, "info.large_objects", err) != 0 ||
		   jf_int(lo, "count", 0, 0, INT64_MAX, &i->large_objects_count, "info.large_objects",
			  err) != 0 ||
		   jf_string(lo, "metadata", 0, &i->large_objects_meta, "info.large_objects", err) != 0))
		return -1;
	if (jf_options(info, &i->options, err) != 0)
		return -1;
	const json_t *dg = json_object_get(info, "digest");
	if (dg && !json_is_null(dg) && digest_set_parse(dg, "info.digest", &i->digest, err) != 0)
		return -1;
	const json_t *props = json_object_get(info, "database_properties");
	if (props && !json_is_null(props)) {
		if (pg_db_props_parse(props, &i->props, err) != 0)
			return -2; /* says "invalid manifest" itself */
		i->database_properties = json_incref((json_t *)props);
	}
	return 0;
}

int pg_dump_info_parse(const json_t *info, pg_dump_info *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	int rc = parse_all(info, out, err);
	if (rc != 0) {
		if (rc == -1)
			bderr_prefix(err, "invalid manifest");
		pg_dump_info_clear(out);
		return -1;
	}
	return 0;
}

void pg_dump_info_clear(pg_dump_info *i)
{
	if (i == NULL)
		return;
	free(i->database);
	free(i->encoding);
	free(i->snapshot);
	free(i->pg_dump_version);
	free(i->pre_data);
	free(i->post_data);
	for (size_t k = 0; k < i->n_tables; k++) {
		pg_dump_table *t = &i->tables[k];
		free(t->oid);
		free(t->schema);
		free(t->name);
		jf_strings_free(t->columns, t->n_columns);
		jf_strings_free(t->chunks, t->n_chunks);
		jf_strings_free(t->types, t->n_types);
	}
	free(i->tables);
	for (size_t k = 0; k < i->n_sequences; k++) {
		free(i->sequences[k].schema);
		free(i->sequences[k].name);
		free(i->sequences[k].last_value);
	}
	free(i->sequences);
	free(i->large_objects);
	free(i->large_objects_meta);
	json_decref(i->database_properties);
	pg_db_props_free(i->props);
	engine_options_info_clear(&i->options);
	digest_set_free(i->digest);
	memset(i, 0, sizeof *i);
}
