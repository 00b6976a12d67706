#include "engines/engine.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "archive/filter.h"
#include "common/mem.h"
#include "engines/mysql/mysql_engine.h"
#include "engines/pg/pg_engine.h"

/* The registry: a new engine is one more line here (see ARCHITECTURE.md). */
static const engine_ops *const engines[] = { &pg_engine, &mysql_engine };

const engine_ops *engine_for_uri(const char *uri)
{
	for (size_t i = 0; uri && i < sizeof engines / sizeof *engines; i++)
		for (const char *const *s = engines[i]->schemes; *s; s++)
			if (strncasecmp(uri, *s, strlen(*s)) == 0)
				return engines[i];
	return NULL;
}

const engine_ops *engine_by_name(const char *name)
{
	for (size_t i = 0; name && i < sizeof engines / sizeof *engines; i++)
		if (strcmp(engines[i]->name, name) == 0)
			return engines[i];
	return NULL;
}

void engine_options_info_set(engine_options_info *oi, const engine_dump_options *o,
			     const char *consistency)
{
	oi->jobs = o->jobs;
	oi->compress = xstrdup(o->compress_spec ? o->compress_spec : "zstd");
	oi->chunk_size = (int64_t)o->chunk_bytes;
	oi->consistency = consistency ? xstrdup(consistency) : NULL;
}

void engine_options_info_clear(engine_options_info *oi)
{
	free(oi->compress);
	free(oi->consistency);
	memset(oi, 0, sizeof *oi);
}

int engine_reach(const engine_ops *e, const char *url, const char *password, bderr *err)
{
	return e->reach ? e->reach(url, password, err) : 0;
}

int engine_dump_options_check(const engine_ops *e, const engine_dump_options *o, bderr *err)
{
	return e->dump_options_check ? e->dump_options_check(o, err) : 0;
}

int engine_restore_options_check(const engine_ops *e, const engine_restore_options *o, bderr *err)
{
	return e->restore_options_check ? e->restore_options_check(o, err) : 0;
}

const char *engine_schemes_text(void)
{
	return "postgresql://, postgres://, mysql:// or mariadb://";
}

/* ---- dump options ---------------------------------------------------------- */

const char *const engine_dump_option_keys[] = { "compress", "chunk-size", "consistency",
						"copy-format", NULL };

void engine_dump_options_init(engine_dump_options *o)
{
	memset(o, 0, sizeof *o);
	o->jobs = ENGINE_JOBS_DEFAULT;
	/* the defaults are texts, as the help shows them: parsed like a given value */
	bderr ignored;
	bderr_init(&ignored);
	o->compress_spec = ENGINE_COMPRESS_DEFAULT;
	compress_spec_parse(ENGINE_COMPRESS_DEFAULT, &o->compress_level, &ignored);
	engine_parse_size(ENGINE_CHUNK_SIZE_DEFAULT, &o->chunk_bytes);
	o->consistency = ENGINE_CONSISTENCY_DEFAULT;
}

void engine_dump_options_clear(engine_dump_options *o)
{
	table_filter_free(o->filter);
	o->filter = NULL;
}

const char *const engine_dump_filter_keys[] = { "include-table", "exclude-table", "exclude-table-data",
						NULL };

int engine_dump_filter_add(engine_dump_options *o, const char *key, const char *value, int list,
			   bderr *err)
{
	static const table_filter_list lists[] = { TF_INCLUDE_TABLE, TF_EXCLUDE_TABLE,
						   TF_EXCLUDE_TABLE_DATA };
	for (size_t i = 0; engine_dump_filter_keys[i]; i++) {
		if (strcmp(key, engine_dump_filter_keys[i]) != 0)
			continue;
		if (o->filter == NULL)
			o->filter = table_filter_new();
		return list ? table_filter_add_list(o->filter, lists[i], value, err)
			    : table_filter_add(o->filter, lists[i], value, err);
	}
	return bderr_usage(err, "unknown dump option '%s'", key);
}

int engine_copy_format_parse(const char *value, int *copy_text, bderr *err)
{
	if (strcmp(value, "text") == 0)
		*copy_text = 1;
	else if (strcmp(value, "auto") == 0)
		*copy_text = 0;
	else
		return bderr_usage(err, "must be 'auto' or 'text', got '%s'", value);
	return 0;
}

int engine_parse_size(const char *s, uint64_t *out)
{
	char *end = NULL;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mult = 1;
	if (*end == 'k' || *end == 'K')
		mult = 1024ULL;
	else if (*end == 'm' || *end == 'M')
		mult = 1024ULL * 1024;
	else if (*end == 'g' || *end == 'G')
		mult = 1024ULL * 1024 * 1024;
	else if (*end != '\0')
		return -1;
	if (*end && end[1] && strcasecmp(end + 1, "b") != 0 && strcasecmp(end + 1, "ib") != 0)
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	*out = (uint64_t)v * mult;
	return 0;
}

int engine_dump_option_set(engine_dump_options *o, const char *key, const char *value, bderr *err)
{
	if (strcmp(key, "compress") == 0) {
		if (compress_spec_parse(value, &o->compress_level, err) != 0)
			return -1;
		o->compress_spec = value;
		return 0;
	}
	if (strcmp(key, "chunk-size") == 0) {
		if (engine_parse_size(value, &o->chunk_bytes) != 0)
			return bderr_usage(err, "must be a size like 256MB, got '%s'", value);
		return 0;
	}
	if (strcmp(key, "consistency") == 0) {
		o->given |= ENGINE_GIVEN_CONSISTENCY;
		if (strcmp(value, "no-lock") == 0)
			o->consistency = ENGINE_CONSISTENCY_NO_LOCK;
		else if (strcmp(value, "lock") == 0 || strcmp(value, "ftwrl") == 0)
			o->consistency = ENGINE_CONSISTENCY_LOCK;
		else
			return bderr_usage(err, "must be 'lock' or 'no-lock', got '%s'", value);
		return 0;
	}
	if (strcmp(key, "copy-format") == 0) {
		o->given |= ENGINE_GIVEN_COPY_FORMAT;
		return engine_copy_format_parse(value, &o->copy_text, err);
	}
	return bderr_usage(err, "unknown dump option '%s'", key);
}
