/*
 * Typed reads of a manifest's info object for the engines' format parsers
 * (engines/pg/pg_format.c, engines/mysql/mysql_format.c): each names the
 * field it rejects by its path ("info.tables[2].chunks[0] must be a string"),
 * so a damaged manifest is reported with where it is damaged.
 */
#ifndef BACKUPD_ENGINES_JSONFIELD_H
#define BACKUPD_ENGINES_JSONFIELD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "engines/engine.h"

/*
 * obj[key] into *out.  Absent (or JSON null): an error when required,
 * else *out untouched.  where is the path of obj ("info").
 */
int jf_string(const json_t *obj, const char *key, int required, char **out, const char *where,
	      bderr *err);
int jf_int(const json_t *obj, const char *key, int required, int64_t min, int64_t max,
	   int64_t *out, const char *where, bderr *err);
int jf_bool(const json_t *obj, const char *key, int required, int *out, const char *where,
	    bderr *err);
/* An array of strings; *out NULL-terminated (free with jf_strings_free). */
int jf_strings(const json_t *obj, const char *key, int required, char ***out, size_t *n,
	       const char *where, bderr *err);
void jf_strings_free(char **v, size_t n);

/* obj[key] when it is an array (*n its size), NULL when absent; an error when it is something else. */
int jf_array(const json_t *obj, const char *key, int required, const json_t **out, size_t *n,
	     const char *where, bderr *err);
/* obj[key] when it is an object, NULL when absent; an error when it is something else. */
int jf_object(const json_t *obj, const char *key, int required, const json_t **out,
	      const char *where, bderr *err);

/*
 * An array of objects into a new array of n elements of elem_size bytes,
 * each filled by parse(element, "where.key[i]", &out[i]); absent: *out NULL,
 * *n 0.  On failure *n counts the elements parse was called for (the one that
 * failed included), so the caller's clear frees what they hold.
 */
typedef int (*jf_parse_fn)(const json_t *v, const char *where, void *elem, bderr *err);
int jf_objects(const json_t *obj, const char *key, int required, size_t elem_size,
	       jf_parse_fn parse, void **out, size_t *n, const char *where, bderr *err);

/* info.options (engines/engine.h) as JSON, and back (absent: left zero). */
json_t *jf_options_json(const engine_options_info *oi);
int jf_options(const json_t *info, engine_options_info *oi, bderr *err);

/* An array of strings as JSON. */
json_t *jf_strings_json(char *const *v, size_t n);

#endif
