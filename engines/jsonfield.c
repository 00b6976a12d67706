#include "engines/jsonfield.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/mem.h"

static const json_t *field(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	return json_is_null(v) ? NULL : v;
}

static int missing(int required, const char *key, const char *where, bderr *err)
{
	if (required)
		return bderr_set(err, "%s.%s is missing", where, key);
	return 0;
}

int jf_string(const json_t *obj, const char *key, int required, char **out, const char *where,
	      bderr *err)
{
	const json_t *v = field(obj, key);
	if (v == NULL)
		return missing(required, key, where, err);
	if (!json_is_string(v))
		return bderr_set(err, "%s.%s must be a string", where, key);
	free(*out);
	*out = xstrdup(json_string_value(v));
	return 0;
}

int jf_int(const json_t *obj, const char *key, int required, int64_t min, int64_t max,
	   int64_t *out, const char *where, bderr *err)
{
	const json_t *v = field(obj, key);
	if (v == NULL)
		return missing(required, key, where, err);
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return bderr_set(err, "%s.%s must be an integer between %lld and %lld", where, key,
				 (long long)min, (long long)max);
	*out = (int64_t)json_integer_value(v);
	return 0;
}

int jf_bool(const json_t *obj, const char *key, int required, int *out, const char *where,
	    bderr *err)
{
	const json_t *v = field(obj, key);
	if (v == NULL)
		return missing(required, key, where, err);
	if (!json_is_boolean(v))
		return bderr_set(err, "%s.%s must be true or false", where, key);
	*out = json_is_true(v);
	return 0;
}

/* obj[key] when it is of type (array, object), NULL when absent. */
static int jf_container(const json_t *obj, const char *key, int required, json_type type,
			const json_t **out, const char *where, bderr *err)
{
	const json_t *v = field(obj, key);
	*out = NULL;
	if (v == NULL)
		return missing(required, key, where, err);
	if (json_typeof(v) != type)
		return bderr_set(err, "%s.%s must be an %s", where, key,
				 type == JSON_ARRAY ? "array" : "object");
	*out = v;
	return 0;
}

int jf_array(const json_t *obj, const char *key, int required, const json_t **out, size_t *n,
	     const char *where, bderr *err)
{
	int rc = jf_container(obj, key, required, JSON_ARRAY, out, where, err);
	*n = *out ? json_array_size(*out) : 0;
	return rc;
}

int jf_object(const json_t *obj, const char *key, int required, const json_t **out,
	      const char *where, bderr *err)
{
	return jf_container(obj, key, required, JSON_OBJECT, out, where, err);
}

int jf_objects(const json_t *obj, const char *key, int required, size_t elem_size,
	       jf_parse_fn parse, void **out, size_t *n, const char *where, bderr *err)
{
	const json_t *arr;
	size_t len;
	*out = NULL;
	*n = 0;
	if (jf_array(obj, key, required, &arr, &len, where, err) != 0)
		return -1;
	if (arr == NULL)
		return 0;
	char *v = xcalloc(len + 1, elem_size);
	*out = v;
	for (size_t i = 0; i < len; i++) {
		char at[160];
		snprintf(at, sizeof at, "%s.%s[%zu]", where, key, i);
		*n = i + 1;
		const json_t *e = json_array_get(arr, i);
		if (!json_is_object(e))
			return bderr_set(err, "%s must be an object", at);
		if (parse(e, at, v + i * elem_size, err) != 0)
			return -1;
	}
	return 0;
}

int jf_strings(const json_t *obj, const char *key, int required, char ***out, size_t *n,
	       const char *where, bderr *err)
{
	const json_t *arr;
	size_t len;
	if (jf_array(obj, key, required, &arr, &len, where, err) != 0)
		return -1;
	if (arr == NULL)
		return 0;
	char **v = xcalloc(len + 1, sizeof *v);
	for (size_t i = 0; i < len; i++) {
		const json_t *s = json_array_get(arr, i);
		if (!json_is_string(s)) {
			jf_strings_free(v, i);
			return bderr_set(err, "%s.%s[%zu] must be a string", where, key, i);
		}
		v[i] = xstrdup(json_string_value(s));
	}
	jf_strings_free(*out, *n);
	*out = v;
	*n = len;
	return 0;
}

void jf_strings_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

json_t *jf_options_json(const engine_options_info *oi)
{
	return json_pack("{s:I, s:s, s:I, s:s*}", "jobs", (json_int_t)oi->jobs, "compress",
			 oi->compress ? oi->compress : "zstd", "chunk_size", (json_int_t)oi->chunk_size,
			 "consistency", oi->consistency);
}

int jf_options(const json_t *info, engine_options_info *oi, bderr *err)
{
	const json_t *o;
	if (jf_object(info, "options", 0, &o, "info", err) != 0)
		return -1;
	if (o && (jf_int(o, "jobs", 0, 0, INT32_MAX, &oi->jobs, "info.options", err) != 0 ||
		  jf_string(o, "compress", 0, &oi->compress, "info.options", err) != 0 ||
		  jf_int(o, "chunk_size", 0, 0, INT64_MAX, &oi->chunk_size, "info.options", err) != 0 ||
		  jf_string(o, "consistency", 0, &oi->consistency, "info.options", err) != 0))
		return -1;
	return 0;
}

json_t *jf_strings_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}
