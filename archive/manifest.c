#include "archive/manifest.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "common/mem.h"
#include "common/version.h"

manifest *manifest_new(void)
{
	manifest *m = xcalloc(1, sizeof *m);
	m->format = MANIFEST_FORMAT;
	m->info = json_object();
	if (m->info == NULL) { /* jansson is out of memory: stop like xmalloc does */
		fputs("out of memory\n", stderr);
		abort();
	}
	return m;
}

void manifest_free(manifest *m)
{
	if (m == NULL)
		return;
	free(m->id);
	free(m->name);
	free(m->engine);
	free(m->kind);
	free(m->server_version);
	free(m->tool_version);
	json_decref(m->info);
	for (size_t i = 0; i < m->n_objects; i++)
		free(m->objects[i].name);
	free(m->objects);
	free(m);
}

void manifest_add_object(manifest *m, const char *name, const object_meta *meta,
			 int compressed, int64_t rows)
{
	if (m->n_objects == m->cap_objects) {
		m->cap_objects = m->cap_objects ? m->cap_objects * 2 : 16;
		m->objects = xrealloc(m->objects, m->cap_objects * sizeof *m->objects);
	}
	manifest_object *o = &m->objects[m->n_objects++];
	o->name = xstrdup(name);
	o->meta = *meta;
	o->compressed = compressed != 0;
	o->rows = rows;
}

const manifest_object *manifest_find_object(const manifest *m, const char *name)
{
	for (size_t i = 0; i < m->n_objects; i++)
		if (strcmp(m->objects[i].name, name) == 0)
			return &m->objects[i];
	return NULL;
}

/* Sum of one size field, or UINT64_MAX once it passes MANIFEST_SIZE_MAX. */
static uint64_t bounded_total(const manifest *m, int stored)
{
	uint64_t t = 0;
	for (size_t i = 0; i < m->n_objects; i++) {
		uint64_t v = stored ? m->objects[i].meta.stored_size : m->objects[i].meta.size;
		if (v > MANIFEST_SIZE_MAX - t)
			return UINT64_MAX;
		t += v;
	}
	return t;
}

int manifest_sizes_check(const manifest *m, bderr *err)
{
	static const char *const what[] = { "size", "stored_size" };
	for (int stored = 0; stored < 2; stored++)
		if (bounded_total(m, stored) > MANIFEST_SIZE_MAX)
			return bderr_set(err, "invalid manifest: the total '%s' of the objects exceeds "
					      "%" PRIu64 " bytes",
					 what[stored], MANIFEST_SIZE_MAX);
	return 0;
}

uint64_t manifest_total_size(const manifest *m)
{
	uint64_t t = 0;
	for (size_t i = 0; i < m->n_objects; i++)
		t += m->objects[i].meta.size;
	return t;
}

uint64_t manifest_total_stored_size(const manifest *m)
{
	uint64_t t = 0;
	for (size_t i = 0; i < m->n_objects; i++)
		t += m->objects[i].meta.stored_size;
	return t;
}

/* --- time ---------------------------------------------------------------- */

/*
 * Always four year digits (strftime's %Y writes "999" for year 999, which
 * parse_rfc3339 then refuses): what parse_rfc3339 accepts comes back as
 * text it accepts again.
 */
void format_rfc3339(time_t t, char *buf, size_t len)
{
	struct tm tm;
	if (len == 0)
		return;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900 ||
	    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec) >= (int)len)
		buf[0] = '\0';
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect_char(const char **p, const char *allowed)
{
	if (**p == '\0' || strchr(allowed, **p) == NULL)
		return -1;
	(*p)++;
	return 0;
}

/*
 * Accepts what format_rfc3339 writes plus what other RFC 3339 producers
 * emit: 't'/' ' separators, fractional seconds (dropped) and numeric
 * offsets, so an operator can paste a timestamp from elsewhere.
 */
int parse_rfc3339(const char *s, time_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s;
	int year, mon, day, hour, min, sec;
	long offset = 0;
	if (digits(&p, 4, &year) < 0 || expect_char(&p, "-") < 0 || digits(&p, 2, &mon) < 0 ||
	    expect_char(&p, "-") < 0 || digits(&p, 2, &day) < 0 || expect_char(&p, "Tt ") < 0 ||
	    digits(&p, 2, &hour) < 0 || expect_char(&p, ":") < 0 || digits(&p, 2, &min) < 0 ||
	    expect_char(&p, ":") < 0 || digits(&p, 2, &sec) < 0)
		return -1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int oh, om;
		p++;
		if (digits(&p, 2, &oh) < 0 || expect_char(&p, ":") < 0 || digits(&p, 2, &om) < 0 ||
		    oh > 23 || om > 59)
			return -1;
		offset = sign * (oh * 3600L + om * 60L);
	} else {
		return -1;
	}
	if (*p != '\0' || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hour > 23 ||
	    min > 59 || sec > 60)
		return -1;
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (mon == 2 && day == 29 && !leap)
		return -1;
	struct tm tm = { 0 };
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec; /* a leap second becomes the next second, like timegm does */
	time_t t = timegm(&tm);
	if (t == (time_t)-1 && !(year == 1969 && mon == 12 && day == 31))
		return -1;
	/* an offset may carry the instant out of years 0000-9999, which cannot be written back */
	struct tm utc;
	t -= offset;
	if (gmtime_r(&t, &utc) == NULL || utc.tm_year < -1900 || utc.tm_year > 9999 - 1900)
		return -1;
	*out = t;
	return 0;
}

/* --- JSON ------------------------------------------------------------------ */

static int set_new(json_t *obj, const char *key, json_t *value)
{
	return value == NULL || json_object_set_new(obj, key, value) < 0 ? -1 : 0;
}

static int set_time(json_t *obj, const char *key, time_t t)
{
	char buf[64];
	format_rfc3339(t, buf, sizeof buf);
	return set_new(obj, key, json_string(buf));
}

static json_t *object_json(const manifest_object *o)
{
	json_t *j = json_object();
	if (j == NULL)
		return NULL;
	if (set_new(j, "name", json_string(o->name)) < 0 ||
	    set_new(j, "size", json_integer((json_int_t)o->meta.size)) < 0 ||
	    set_new(j, "stored_size", json_integer((json_int_t)o->meta.stored_size)) < 0 ||
	    set_new(j, "sha256", json_string(o->meta.sha256)) < 0 ||
	    (o->meta.sha256_stored && set_new(j, "sha256_of", json_string("stored")) < 0) ||
	    set_new(j, "compressed", json_boolean(o->compressed)) < 0 ||
	    (o->rows >= 0 && set_new(j, "rows", json_integer(o->rows)) < 0)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int manifest_to_json(const manifest *m, char **out, bderr *err)
{
	static const char *const required[] = { "id", "name", "engine", "kind" };
	const char *values[] = { m->id, m->name, m->engine, m->kind };
	*out = NULL;
	for (size_t i = 0; i < sizeof required / sizeof *required; i++)
		if (values[i] == NULL)
			return bderr_set(err, "cannot serialise manifest: '%s' is not set", required[i]);
	if (manifest_sizes_check(m, err) < 0)
		return bderr_prefix(err, "cannot serialise manifest of backup '%s'", m->id);
	json_t *root = json_object();
	json_t *objects = json_array();
	int bad = root == NULL || objects == NULL;
	bad = bad || set_new(root, "format", json_integer(m->format)) < 0;
	bad = bad || set_new(root, "id", json_string(m->id)) < 0;
	bad = bad || set_new(root, "name", json_string(m->name)) < 0;
	bad = bad || set_new(root, "engine", json_string(m->engine)) < 0;
	bad = bad || set_new(root, "kind", json_string(m->kind)) < 0;
	bad = bad || (m->server_version &&
		      set_new(root, "server_version", json_string(m->server_version)) < 0);
	bad = bad || set_new(root, "tool_version",
			     json_string(m->tool_version ? m->tool_version
							 : "backupd " BACKUPD_VERSION)) < 0;
	bad = bad || set_time(root, "started", m->started) < 0;
	bad = bad || set_time(root, "finished", m->finished) < 0;
	bad = bad || set_new(root, "size", json_integer((json_int_t)manifest_total_size(m))) < 0;
	bad = bad ||
	      set_new(root, "stored_size", json_integer((json_int_t)manifest_total_stored_size(m))) < 0;
	bad = bad || (m->info ? json_object_set(root, "info", m->info) < 0
			      : set_new(root, "info", json_object()) < 0);
	for (size_t i = 0; !bad && i < m->n_objects; i++)
		bad = json_array_append_new(objects, object_json(&m->objects[i])) < 0;
	if (!bad) {
		bad = json_object_set_new(root, "objects", objects) < 0;
		objects = NULL;
	}
	char *text = bad ? NULL : json_dumps(root, JSON_INDENT(1));
	json_decref(objects);
	json_decref(root);
	if (text == NULL)
		return bderr_set(err, "cannot serialise manifest of backup '%s': invalid UTF-8 or out of memory",
				 m->id);
	*out = text; /* jansson allocates with malloc unless told otherwise */
	return 0;
}

static int get_string(json_t *root, const char *key, int required, char **out, bderr *err)
{
	json_t *v = json_object_get(root, key);
	*out = NULL;
	if (v == NULL && !required)
		return 0;
	if (!json_is_string(v))
		return bderr_set(err, "invalid manifest: '%s' %s", key,
				 v ? "must be a string" : "is missing");
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int get_u64(json_t *obj, const char *key, const char *where, uint64_t *out, bderr *err)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bderr_set(err, "invalid manifest: %s'%s' %s", where, key,
				 v ? "must be a non-negative integer" : "is missing");
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_time(json_t *root, const char *key, time_t *out, bderr *err)
{
	json_t *v = json_object_get(root, key);
	if (!json_is_string(v) || parse_rfc3339(json_string_value(v), out) < 0)
		return bderr_set(err, "invalid manifest: '%s' %s", key,
				 v ? "must be an RFC 3339 time between years 0000 and 9999"
				   : "is missing");
	return 0;
}

static int sha256_hex_ok(const char *s)
{
	if (strlen(s) != SHA256_HEX_LEN)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f'))
			return 0;
	return 1;
}

static int parse_object(manifest *m, json_t *o, size_t index, bderr *err)
{
	char where[64];
	object_meta meta = { 0 };
	int64_t rows = -1;
	if (snprintf(where, sizeof where, "objects[%zu].", index) >= (int)sizeof where)
		where[0] = '\0';
	if (!json_is_object(o))
		return bderr_set(err, "invalid manifest: %s must be an object", where);
	json_t *name = json_object_get(o, "name");
	json_t *sha = json_object_get(o, "sha256");
	json_t *sha_of = json_object_get(o, "sha256_of");
	json_t *compressed = json_object_get(o, "compressed");
	json_t *jrows = json_object_get(o, "rows");
	/* object names become storage paths: nothing may climb out of the backup */
	if (!json_is_string(name) || !path_relative_clean(json_string_value(name)))
		return bderr_set(err, "invalid manifest: %s'name' must be a relative path", where);
	if (!json_is_string(sha) || !sha256_hex_ok(json_string_value(sha)))
		return bderr_set(err, "invalid manifest: %s'sha256' must be 64 lower-case hex digits",
				 where);
	if (sha_of != NULL && (!json_is_string(sha_of) ||
			       (strcmp(json_string_value(sha_of), "stored") != 0 &&
				strcmp(json_string_value(sha_of), "content") != 0)))
		return bderr_set(err, "invalid manifest: %s'sha256_of' must be \"stored\" or \"content\"",
				 where);
	meta.sha256_stored = sha_of != NULL && strcmp(json_string_value(sha_of), "stored") == 0;
	if (!json_is_boolean(compressed))
		return bderr_set(err, "invalid manifest: %s'compressed' must be true or false", where);
	if (jrows != NULL) {
		if (!json_is_integer(jrows) || json_integer_value(jrows) < 0)
			return bderr_set(err, "invalid manifest: %s'rows' must be a non-negative integer",
					 where);
		rows = json_integer_value(jrows);
	}
	if (get_u64(o, "size", where, &meta.size, err) < 0 ||
	    get_u64(o, "stored_size", where, &meta.stored_size, err) < 0)
		return -1;
	memcpy(meta.sha256, json_string_value(sha), SHA256_HEX_LEN + 1);
	manifest_add_object(m, json_string_value(name), &meta, json_is_true(compressed), rows);
	return 0;
}

static int parse_root(manifest *m, json_t *root, bderr *err)
{
	if (!json_is_object(root))
		return bderr_set(err, "invalid manifest: not a JSON object");
	json_t *format = json_object_get(root, "format");
	if (!json_is_integer(format) || json_integer_value(format) < 1)
		return bderr_set(err, "invalid manifest: 'format' must be a positive integer");
	if (json_integer_value(format) > MANIFEST_FORMAT)
		return bderr_set(err, "manifest format %" JSON_INTEGER_FORMAT
				 " is newer than this backupd supports (%d): upgrade backupd",
				 json_integer_value(format), MANIFEST_FORMAT);
	m->format = (int)json_integer_value(format);
	if (get_string(root, "id", 1, &m->id, err) < 0 ||
	    get_string(root, "name", 1, &m->name, err) < 0 ||
	    get_string(root, "engine", 1, &m->engine, err) < 0 ||
	    get_string(root, "kind", 1, &m->kind, err) < 0 ||
	    get_string(root, "server_version", 0, &m->server_version, err) < 0 ||
	    get_string(root, "tool_version", 0, &m->tool_version, err) < 0 ||
	    get_time(root, "started", &m->started, err) < 0 ||
	    get_time(root, "finished", &m->finished, err) < 0)
		return -1;
	json_t *info = json_object_get(root, "info");
	if (info != NULL) {
		if (!json_is_object(info))
			return bderr_set(err, "invalid manifest: 'info' must be an object");
		json_decref(m->info);
		m->info = json_incref(info);
	}
	json_t *objects = json_object_get(root, "objects");
	if (!json_is_array(objects))
		return bderr_set(err, "invalid manifest: 'objects' %s",
				 objects ? "must be an array" : "is missing");
	for (size_t i = 0; i < json_array_size(objects); i++)
		if (parse_object(m, json_array_get(objects, i), i, err) < 0)
			return -1;
	return manifest_sizes_check(m, err);
}

int manifest_parse(const char *json, size_t len, manifest **out, bderr *err)
{
	json_error_t jerr;
	*out = NULL;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return bderr_set(err, "invalid manifest: %s (line %d, column %d)", jerr.text, jerr.line,
				 jerr.column);
	manifest *m = manifest_new();
	int rc = parse_root(m, root, err);
	json_decref(root);
	if (rc < 0) {
		manifest_free(m);
		return -1;
	}
	*out = m;
	return 0;
}
