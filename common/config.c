#include "common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/lazylib.h"
#include "common/mem.h"
#include "common/progress.h"
#include "engines/engine.h"

/* A config file is a few dozen lines; anything this big is the wrong file. */
#define CONFIG_MAX_BYTES (1024 * 1024)

typedef enum key_type {
	KEY_STRING,
	KEY_INT,
	KEY_BOOL,
	KEY_LOG_LEVEL,
	KEY_JOB_KIND,
	KEY_SOURCE_URL,
	KEY_DATABASES,
	KEY_PATH,      /* a file or directory: absolute */
	KEY_REPO_URL   /* s3://..., file:///PATH or an absolute PATH; the last: see config_key_at */
} key_type;

typedef struct key_spec {
	const char *name;
	key_type type;
	long min, max; /* KEY_INT only */
} key_spec;

typedef struct section_spec {
	const char *type;
	int named; /* 1: [type:NAME], 0: [type] */
	const key_spec *keys;
} section_spec;

/*
 * Only what is cheap and certain is checked here: integers, booleans and
 * enumerations whose meaning is fixed by the design.  Keys whose syntax
 * belongs to their consumer (schedule, retention, compress, durations) are
 * checked where they are used.
 */
static const key_spec global_keys[] = {
	{ "state-dir", KEY_PATH, 0, 0 },
	{ "max-parallel-jobs", KEY_INT, 1, 1024 },
	{ "log-level", KEY_LOG_LEVEL, 0, 0 },
	{ "time-zone", KEY_STRING, 0, 0 },
	{ "http-listen", KEY_STRING, 0, 0 },
	{ "run-missed", KEY_STRING, 0, 0 },
	{ "shutdown-grace", KEY_STRING, 0, 0 },
	{ "webhook-url", KEY_STRING, 0, 0 },
	{ "webhook-on", KEY_STRING, 0, 0 },
	{ "catalog", KEY_STRING, 0, 0 },
	{ "catalog-password-file", KEY_PATH, 0, 0 },
	{ "catalog-lease", KEY_STRING, 0, 0 },
	{ "daemon-id", KEY_STRING, 0, 0 },
	{ "tags", KEY_STRING, 0, 0 },
	{ "max-parallel-per-repo", KEY_INT, 0, 100000 },
	{ "max-parallel-per-source", KEY_INT, 0, 100000 },
	{ "progress-interval", KEY_INT, 1, PROGRESS_INTERVAL_MAX },
	{ NULL, KEY_STRING, 0, 0 },
};

static const key_spec repo_keys[] = {
	{ "url", KEY_REPO_URL, 0, 0 },
	{ "access-key-id", KEY_STRING, 0, 0 },
	{ "access-key-id-file", KEY_PATH, 0, 0 },
	{ "secret-access-key-file", KEY_PATH, 0, 0 },
	{ "session-token-file", KEY_PATH, 0, 0 },
	{ "region", KEY_STRING, 0, 0 },
	{ "endpoint", KEY_STRING, 0, 0 },
	{ "upload-concurrency", KEY_INT, 1, 64 },
	{ "retry-max-time", KEY_INT, 0, 86400 },
	{ "sse", KEY_STRING, 0, 0 },
	{ "sse-kms-key-id", KEY_STRING, 0, 0 },
	{ "storage-class", KEY_STRING, 0, 0 },
	{ "ca-file", KEY_PATH, 0, 0 },
	{ "tls-verify", KEY_BOOL, 0, 0 },
	{ "encryption-key-file", KEY_PATH, 0, 0 },
	{ "compress", KEY_STRING, 0, 0 },
	{ NULL, KEY_STRING, 0, 0 },
};

static const key_spec source_keys[] = {
	{ "url", KEY_SOURCE_URL, 0, 0 },
	{ "password-file", KEY_PATH, 0, 0 },
	{ "name", KEY_STRING, 0, 0 },
	{ "databases", KEY_DATABASES, 0, 0 },
	{ NULL, KEY_STRING, 0, 0 },
};

static const key_spec job_keys[] = {
	{ "source", KEY_STRING, 0, 0 },
	{ "repo", KEY_STRING, 0, 0 },
	{ "kind", KEY_JOB_KIND, 0, 0 },
	{ "schedule", KEY_STRING, 0, 0 },
	{ "jobs", KEY_INT, ENGINE_JOBS_MIN, ENGINE_JOBS_MAX },
	{ "chunk-size", KEY_STRING, 0, 0 },
	{ "consistency", KEY_STRING, 0, 0 },
	{ "copy-format", KEY_STRING, 0, 0 },
	{ "include-table", KEY_STRING, 0, 0 },
	{ "exclude-table", KEY_STRING, 0, 0 },
	{ "exclude-table-data", KEY_STRING, 0, 0 },
	{ "role-passwords", KEY_BOOL, 0, 0 },
	{ "retention", KEY_STRING, 0, 0 },
	{ "compress", KEY_STRING, 0, 0 },
	{ "retries", KEY_INT, 0, 1000 },
	{ "retry-delay", KEY_STRING, 0, 0 },
	{ "timeout", KEY_STRING, 0, 0 },
	{ "run-missed", KEY_STRING, 0, 0 },
	{ "name", KEY_STRING, 0, 0 },
	{ "webhook-url", KEY_STRING, 0, 0 },
	{ "webhook-on", KEY_STRING, 0, 0 },
	{ "enabled", KEY_BOOL, 0, 0 },
	{ "run-on", KEY_STRING, 0, 0 },
	{ "incremental", KEY_INT, 0, 1000 },
	{ "notify", KEY_STRING, 0, 0 },
	{ NULL, KEY_STRING, 0, 0 },
};

/* Checked in detail by backupd/notify.c (types, URLs, email keys). */
static const key_spec notify_keys[] = {
	{ "type", KEY_STRING, 0, 0 },
	{ "on", KEY_STRING, 0, 0 },
	{ "url", KEY_STRING, 0, 0 },
	{ "from", KEY_STRING, 0, 0 },
	{ "to", KEY_STRING, 0, 0 },
	{ "username", KEY_STRING, 0, 0 },
	{ "password-file", KEY_PATH, 0, 0 },
	{ "starttls", KEY_BOOL, 0, 0 },
	{ NULL, KEY_STRING, 0, 0 },
};

static const section_spec section_specs[] = {
	{ "global", 0, global_keys },
	{ "repo", 1, repo_keys },
	{ "source", 1, source_keys },
	{ "job", 1, job_keys },
	{ "notify", 1, notify_keys },
	{ NULL, 0, NULL },
};

static const section_spec *section_spec_find(const char *type)
{
	for (const section_spec *s = section_specs; s->type; s++)
		if (strcmp(s->type, type) == 0)
			return s;
	return NULL;
}

static const key_spec *key_spec_find(const section_spec *ss, const char *key)
{
	for (const key_spec *k = ss->keys; k->name; k++)
		if (strcmp(k->name, key) == 0)
			return k;
	return NULL;
}

int config_key_at(size_t i, config_key_info *out)
{
	/* one per key_type, in its order */
	static const char *kinds[] = { "string", "integer", "boolean", "log level", "job kind",
				       "database URI", "all", "absolute path",
				       "s3:// URL or absolute path" };
	_Static_assert(sizeof kinds / sizeof kinds[0] == KEY_REPO_URL + 1,
		       "one kind name per key_type");
	for (const section_spec *ss = section_specs; ss->type; ss++) {
		for (const key_spec *k = ss->keys; k->name; k++) {
			if (i-- > 0)
				continue;
			out->section = ss->type;
			out->named = ss->named;
			out->key = k->name;
			out->kind = kinds[k->type];
			out->min = k->min;
			out->max = k->max;
			out->help = config_key_help(ss->type, k->name);
			return 0;
		}
	}
	return -1;
}

/* ---- lookups ------------------------------------------------------------ */

const config_section *config_find(const config *c, const char *type, const char *name)
{
	if (c == NULL || type == NULL)
		return NULL;
	int global = strcmp(type, "global") == 0;
	for (size_t i = 0; i < c->n_sections; i++) {
		const config_section *s = &c->sections[i];
		if (strcmp(s->type, type) != 0)
			continue;
		if (global || (name && s->name && strcmp(s->name, name) == 0))
			return s;
	}
	return NULL;
}

static const config_entry *entry_find(const config_section *s, const char *key)
{
	if (s == NULL || key == NULL)
		return NULL;
	for (size_t i = 0; i < s->n_entries; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return &s->entries[i];
	return NULL;
}

const char *config_get(const config_section *s, const char *key)
{
	const config_entry *e = entry_find(s, key);
	return e ? e->value : NULL;
}

void config_set_global(config *c, const char *key, const char *value)
{
	config_section *g = (config_section *)config_find(c, "global", NULL);
	if (g == NULL) {
		c->sections = xrealloc(c->sections, (c->n_sections + 1) * sizeof *c->sections);
		g = &c->sections[c->n_sections++];
		memset(g, 0, sizeof *g);
		g->type = xstrdup("global");
	}
	for (size_t i = 0; i < g->n_entries; i++)
		if (strcmp(g->entries[i].key, key) == 0) {
			free(g->entries[i].value);
			g->entries[i].value = xstrdup(value);
			return;
		}
	g->entries = xrealloc(g->entries, (g->n_entries + 1) * sizeof *g->entries);
	config_entry *e = &g->entries[g->n_entries++];
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	e->line = 0;
}

int config_line(const config_section *s, const char *key)
{
	const config_entry *e = entry_find(s, key);
	if (e)
		return e->line;
	return s ? s->line : 0;
}

/* "FILE:LINE: " or "FILE: " when no line is known. */
static void location(char *buf, size_t len, const char *path, int line)
{
	int n;
	if (line > 0)
		n = snprintf(buf, len, "%s:%d: ", path, line);
	else
		n = snprintf(buf, len, "%s: ", path);
	if (n < 0 || (size_t)n >= len)
		buf[len - 1] = '\0'; /* an absurd path is cut, not overflowed */
}

static int error_va(bderr *err, const char *path, int line, const char *key, const char *fmt,
		    va_list ap)
{
	char where[512];
	char msg[BDERR_MSG_MAX];
	location(where, sizeof where, path ? path : "(config)", line);
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (key)
		return bderr_usage(err, "%skey '%s': %s", where, key, msg);
	return bderr_usage(err, "%s%s", where, msg);
}

int config_error(const config *c, const config_section *s, const char *key, bderr *err,
		 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_va(err, c ? c->path : NULL, config_line(s, key), key, fmt, ap);
	va_end(ap);
	return -1;
}

int config_key_error(const config *c, const config_section *s, const char *key, bderr *err)
{
	char why[BDERR_MSG_MAX]; /* err is both the message and where it goes */
	snprintf(why, sizeof why, "%s", err->msg);
	return config_error(c, s, key, err, "%s", why);
}

static int parse_long(const char *v, long *out)
{
	if (v == NULL || *v == '\0')
		return -1;
	/* strtol would accept leading blanks; a value is exactly the digits */
	if (!(*v == '-' || *v == '+' || (*v >= '0' && *v <= '9')))
		return -1;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v)
		return -1;
	*out = n;
	return 0;
}

int config_get_long(const config *c, const config_section *s, const char *key, long def,
		    long min, long max, long *out, bderr *err)
{
	const char *v = config_get(s, key);
	if (v == NULL) {
		*out = def;
		return 0;
	}
	long n;
	if (parse_long(v, &n) < 0 || n < min || n > max)
		return config_error(c, s, key, err, "must be an integer between %ld and %ld, got '%s'",
				    min, max, v);
	*out = n;
	return 0;
}

int config_parse_bool(const char *v, int *out)
{
	static const char *yes[] = { "yes", "true", "on", "1", NULL };
	static const char *no[] = { "no", "false", "off", "0", NULL };
	if (v == NULL)
		return -1;
	for (int i = 0; yes[i]; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int config_get_bool(const config *c, const config_section *s, const char *key, int def, int *out,
		    bderr *err)
{
	const char *v = config_get(s, key);
	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (config_parse_bool(v, out) < 0)
		return config_error(c, s, key, err, "must be yes or no (true/false, on/off, 1/0), got '%s'",
				    v);
	return 0;
}

/* ---- freeing ------------------------------------------------------------ */

static void section_clear(config_section *s)
{
	for (size_t i = 0; i < s->n_entries; i++) {
		free(s->entries[i].key);
		free(s->entries[i].value);
	}
	free(s->entries);
	free(s->type);
	free(s->name);
}

void config_free(config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_sections; i++)
		section_clear(&c->sections[i]);
	free(c->sections);
	free(c->path);
	free(c);
}

/* ---- parsing ------------------------------------------------------------ */

/*
 * inih gives no line numbers to the handler in Debian's build, so we feed it
 * through our own reader: the reader counts lines, and inih calls the handler
 * for a line right after reading it, so ctx->lineno is the handler's line.
 *
 * The reader also does three things inih cannot be configured to do without
 * touching its process-wide globals:
 *  - it strips leading blanks, so an indented "key = value" is a key and not
 *    a continuation of the previous value (inih's multi-line mode);
 *  - it notices "[section]" lines itself, so an empty section and a repeated
 *    header are seen (inih only reports sections through their keys);
 *  - it passes lines longer than inih's fixed buffer as "key=" and keeps the
 *    value aside, so a long URL does not get cut in two.
 */
typedef struct parse_ctx {
	config *cfg;
	bderr *err;
	const char *text;
	size_t pos;
	size_t len;
	int lineno;
	int failed;
	int failed_line;     /* line of our first error */
	config_section *cur; /* NULL before the first header */
	char *long_value;    /* value of the current line when it was too long for inih */
	bderr_list *all;     /* collect every error and go on; NULL: stop at the first */
	int skip_section;    /* collecting: the current header was refused, ignore its keys */
} parse_ctx;

static int ctx_error(parse_ctx *ctx, int line, const char *key, const char *fmt, ...)
	BD_PRINTF(4, 5);

static int ctx_error(parse_ctx *ctx, int line, const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_va(ctx->err, ctx->cfg->path, line, key, fmt, ap);
	va_end(ap);
	if (ctx->all) {
		bderr_list_add(ctx->all, ctx->err);
		return -1;
	}
	ctx->failed = 1;
	ctx->failed_line = line;
	return -1;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Same rule as inih: an inline ';' comment must follow whitespace. */
static const char *find_or_comment(const char *s, const char *end, const char *chars)
{
	int was_space = 0;
	while (s < end && (chars == NULL || !strchr(chars, *s)) && !(was_space && *s == ';')) {
		was_space = is_blank(*s);
		s++;
	}
	return s;
}

static int name_ok(const char *name)
{
	if (*name == '\0')
		return 0;
	for (const char *p = name; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Called by the reader for a "[...]" line; returns -1 after setting the error. */
static int section_begin(parse_ctx *ctx, const char *hdr, size_t hdrlen)
{
	/* trim blanks inside the brackets: "[ repo:x ]" means "[repo:x]" */
	while (hdrlen && is_blank(*hdr)) {
		hdr++;
		hdrlen--;
	}
	while (hdrlen && is_blank(hdr[hdrlen - 1]))
		hdrlen--;
	char *full = xstrndup(hdr, hdrlen);
	char *colon = strchr(full, ':');
	char *type = colon ? xstrndup(full, (size_t)(colon - full)) : xstrdup(full);
	char *name = colon ? xstrdup(colon + 1) : NULL;
	const section_spec *ss = section_spec_find(type);
	int rc = -1;

	if (ss == NULL) {
		ctx_error(ctx, ctx->lineno, NULL,
			  "unknown section [%s]: use [global], [repo:NAME], [source:NAME], [job:NAME] or [notify:NAME]",
			  full);
		goto out;
	}
	if (!ss->named && name) {
		ctx_error(ctx, ctx->lineno, NULL, "section [%s] takes no name: write [%s]", full, type);
		goto out;
	}
	if (ss->named && !name) {
		ctx_error(ctx, ctx->lineno, NULL, "section [%s] needs a name: write [%s:NAME]", full,
			  type);
		goto out;
	}
	if (name && !name_ok(name)) {
		ctx_error(ctx, ctx->lineno, NULL,
			  "section name '%s' in [%s]: use letters, digits, '.', '_' and '-'", name,
			  full);
		goto out;
	}
	const config_section *dup = config_find(ctx->cfg, type, name);
	if (dup) {
		ctx_error(ctx, ctx->lineno, NULL, "duplicate section [%s] (first on line %d)", full,
			  dup->line);
		goto out;
	}

	config *c = ctx->cfg;
	c->sections = xrealloc(c->sections, (c->n_sections + 1) * sizeof *c->sections);
	config_section *s = &c->sections[c->n_sections++];
	s->type = type;
	s->name = name;
	s->line = ctx->lineno;
	s->entries = NULL;
	s->n_entries = 0;
	ctx->cur = s;
	type = name = NULL; /* now owned by the section */
	rc = 0;
out:
	free(full);
	free(type);
	free(name);
	return rc;
}

/* inih's value rule for the long-line path: lskip, cut at " ;", rstrip. */
static char *value_from_raw(const char *v, const char *end)
{
	while (v < end && is_blank(*v))
		v++;
	const char *stop = find_or_comment(v, end, NULL);
	while (stop > v && is_blank(stop[-1]))
		stop--;
	return xstrndup(v, (size_t)(stop - v));
}

static char *config_reader(char *buf, int num, void *stream)
{
	parse_ctx *ctx = stream;
	free(ctx->long_value);
	ctx->long_value = NULL;
	/* stop inih at our first error: later lines would only add noise */
	if (ctx->failed || ctx->pos >= ctx->len)
		return NULL;
	if (num < 8) { /* cannot happen with any inih build; do not loop or overflow */
		ctx_error(ctx, ctx->lineno, NULL, "inih line buffer too small (%d bytes)", num);
		return NULL;
	}

	const char *line = ctx->text + ctx->pos;
	const char *nl = memchr(line, '\n', ctx->len - ctx->pos);
	size_t linelen = nl ? (size_t)(nl - line) : ctx->len - ctx->pos;
	ctx->pos += linelen + (nl ? 1 : 0);
	ctx->lineno++;

	const char *end = line + linelen;
	/* drop a UTF-8 BOM here, or the first "[section]" would go unnoticed */
	if (ctx->lineno == 1 && linelen >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3;
	while (end > line && is_blank(end[-1]))
		end--;
	while (line < end && is_blank(*line))
		line++;
	size_t n = (size_t)(end - line);

	if (n > 0 && *line == '[') {
		const char *close = find_or_comment(line + 1, end, "]");
		/* without ']' inih reports the syntax error itself */
		if (close < end && *close == ']') {
			ctx->skip_section = 0;
			if (section_begin(ctx, line + 1, (size_t)(close - line - 1)) < 0) {
				if (ctx->all == NULL)
					return NULL;
				/* collecting: report the header once, not each of its keys */
				ctx->skip_section = 1;
				ctx->cur = NULL;
			}
		}
	}

	size_t room = (size_t)num - 2; /* "\n" and NUL */
	if (n <= room) {
		memcpy(buf, line, n);
		buf[n] = '\n';
		buf[n + 1] = '\0';
		return buf;
	}
	if (*line == ';' || *line == '#') {
		memcpy(buf, ";\n", 3);
		return buf;
	}
	const char *sep = find_or_comment(line, end, "=:");
	size_t keylen = (size_t)(sep - line);
	if (*line == '[' || sep >= end || *sep == ';' || keylen + 1 > room) {
		ctx_error(ctx, ctx->lineno, NULL, "line too long");
		return NULL;
	}
	memcpy(buf, line, keylen + 1);
	buf[keylen + 1] = '\n';
	buf[keylen + 2] = '\0';
	ctx->long_value = value_from_raw(sep + 1, end);
	return buf;
}

static int check_value(parse_ctx *ctx, const key_spec *ks, const char *key, const char *value)
{
	int line = ctx->lineno;
	long n;
	int b;
	log_level lv;

	switch (ks->type) {
	case KEY_STRING:
		return 0;
	case KEY_INT:
		if (parse_long(value, &n) < 0 || n < ks->min || n > ks->max)
			return ctx_error(ctx, line, key,
					 "must be an integer between %ld and %ld, got '%s'", ks->min,
					 ks->max, value);
		return 0;
	case KEY_BOOL:
		if (config_parse_bool(value, &b) < 0)
			return ctx_error(ctx, line, key,
					 "must be yes or no (true/false, on/off, 1/0), got '%s'",
					 value);
		return 0;
	case KEY_LOG_LEVEL:
		if (log_level_parse(value, &lv) < 0)
			return ctx_error(ctx, line, key,
					 "must be error, warn, info or debug, got '%s'", value);
		return 0;
	case KEY_JOB_KIND:
		if (strcmp(value, "dump") != 0 && strcmp(value, "basebackup") != 0)
			return ctx_error(ctx, line, key, "must be dump or basebackup, got '%s'",
					 value);
		return 0;
	case KEY_DATABASES:
		if (strcmp(value, "all") != 0)
			return ctx_error(ctx, line, key,
					 "must be 'all' (every database of the server), got '%s': name single databases in the url",
					 value);
		return 0;
	case KEY_SOURCE_URL:
		/* the value is not echoed: a URL may carry a password */
		if (engine_for_uri(value) == NULL)
			return ctx_error(ctx, line, key, "must be a %s URI", engine_schemes_text());
		return 0;
	/*
	 * A relative path would be taken from whichever directory each command
	 * runs in: the daemon's (/ under systemd), the operator's shell, the
	 * data directory a server runs restore_command in.
	 */
	case KEY_PATH:
		if (value[0] != '/')
			return ctx_error(ctx, line, key, "must be an absolute path, got '%s'", value);
		return 0;
	case KEY_REPO_URL:
		if (value[0] != '/' && strstr(value, "://") == NULL)
			return ctx_error(ctx, line, key,
					 "must be s3://BUCKET/PREFIX, file:///PATH or an absolute path, "
					 "got '%s'",
					 value);
		return 0;
	}
	return 0;
}

static int handle_key(void *user, const char *section, const char *key, const char *value)
{
	parse_ctx *ctx = user;
	(void)section; /* tracked by the reader, which also sees empty sections */
	if (ctx->failed || ctx->skip_section)
		return 0;
	if (ctx->long_value)
		value = ctx->long_value;
	config_section *s = ctx->cur;
	if (s == NULL) {
		ctx_error(ctx, ctx->lineno, key,
			  "outside of any section: put it under [global], [repo:NAME], [source:NAME] or [job:NAME]");
		return 0;
	}

	const section_spec *ss = section_spec_find(s->type);
	const key_spec *ks = key_spec_find(ss, key);
	if (ks == NULL) {
		/*
		 * A secret typed inline ends up in backups of /etc, in ps output of
		 * editors and in bug reports; where a KEY-file form exists, say so.
		 */
		char file_key[128];
		int fn = snprintf(file_key, sizeof file_key, "%s-file", key);
		if (fn > 0 && (size_t)fn < sizeof file_key && key_spec_find(ss, file_key))
			ctx_error(ctx, ctx->lineno, key,
				  "secrets are not accepted inline: put it in a file only its owner can read (chmod 600) and use '%s = PATH'",
				  file_key);
		else if (s->name)
			ctx_error(ctx, ctx->lineno, key, "unknown key in [%s:%s]", s->type, s->name);
		else
			ctx_error(ctx, ctx->lineno, key, "unknown key in [%s]", s->type);
		return 0;
	}
	const config_entry *dup = entry_find(s, key);
	if (dup) {
		ctx_error(ctx, ctx->lineno, key, "duplicate key (first set on line %d)", dup->line);
		return 0;
	}
	/* an empty value is almost always an unfinished edit: do not guess a default */
	if (*value == '\0') {
		ctx_error(ctx, ctx->lineno, key, "empty value");
		return 0;
	}
	if (check_value(ctx, ks, key, value) < 0)
		return 0;
	if (strcmp(s->type, "repo") == 0 &&
	    ((strcmp(key, "access-key-id") == 0 && entry_find(s, "access-key-id-file")) ||
	     (strcmp(key, "access-key-id-file") == 0 && entry_find(s, "access-key-id")))) {
		ctx_error(ctx, ctx->lineno, key,
			  "access-key-id and access-key-id-file are exclusive: keep one");
		return 0;
	}

	s->entries = xrealloc(s->entries, (s->n_entries + 1) * sizeof *s->entries);
	config_entry *e = &s->entries[s->n_entries++];
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	e->line = ctx->lineno;
	return 1;
}

/* An error found while collecting: keep it and go on; else stop. */
static int keep_or_stop(bderr_list *all, bderr *err)
{
	if (all == NULL)
		return -1;
	bderr_list_add(all, err);
	return 0;
}

/*
 * While collecting, a refused key is already reported: telling inih it failed
 * would make it report the same line again as a syntax error.
 */
static int config_handler(void *user, const char *section, const char *key, const char *value)
{
	parse_ctx *ctx = user;
	int ok = handle_key(user, section, key, value);
	return ctx->all ? 1 : ok;
}

/* Checks that need the whole file: required keys and references between sections. */
static int config_validate(const config *c, bderr_list *all, bderr *err)
{
	for (size_t i = 0; i < c->n_sections; i++) {
		const config_section *s = &c->sections[i];
		if (strcmp(s->type, "repo") == 0) {
			if (!config_get(s, "url") &&
			    config_error(c, s, "url", err, "missing in [repo:%s]", s->name) < 0 &&
			    keep_or_stop(all, err) < 0)
				return -1;
		} else if (strcmp(s->type, "source") == 0) {
			if (!config_get(s, "url") &&
			    config_error(c, s, "url", err, "missing in [source:%s]", s->name) < 0 &&
			    keep_or_stop(all, err) < 0)
				return -1;
		} else if (strcmp(s->type, "job") == 0) {
			static const char *refs[] = { "source", "repo" };
			for (size_t r = 0; r < 2; r++) {
				const char *v = config_get(s, refs[r]);
				int bad = 0;
				if (v == NULL)
					bad = config_error(c, s, refs[r], err, "missing in [job:%s]",
							   s->name);
				else if (!config_find(c, refs[r], v))
					bad = config_error(c, s, refs[r], err,
							   "no [%s:%s] in this file", refs[r], v);
				if (bad < 0 && keep_or_stop(all, err) < 0)
					return -1;
			}
		}
	}
	return 0;
}

static int load_string(const char *text, const char *path, config **out, bderr_list *all,
		       bderr *err)
{
	*out = NULL;
	config *c = xcalloc(1, sizeof *c);
	c->path = xstrdup(path ? path : "(config)");
	parse_ctx ctx = {
		.cfg = c, .err = err, .text = text, .pos = 0, .len = strlen(text), .all = all,
	};

	/* a missing libinih is one line naming its package */
	if (lazy_inih_load(err) < 0) {
		config_free(c);
		return -1;
	}
	int rc = ini_parse_stream(config_reader, &ctx, config_handler, &ctx);
	free(ctx.long_value);
	/*
	 * inih goes on after a syntax error, so one of ours may come from a
	 * later line: report whichever line comes first.
	 */
	if (rc > 0 && (!ctx.failed || rc < ctx.failed_line))
		ctx_error(&ctx, rc, NULL, "syntax error");
	else if (!ctx.failed && rc != 0)
		ctx_error(&ctx, 0, NULL, "cannot parse (inih error %d)", rc);
	if (ctx.failed || config_validate(c, all, err) < 0) {
		config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int config_load_string(const char *text, const char *path, config **out, bderr *err)
{
	return load_string(text, path, out, NULL, err);
}

static int read_error(bderr *err, const char *path, int errnum)
{
	bderr_usage(err, "cannot read config '%s': %s", path, strerror(errnum));
	err->sys_errno = errnum;
	return -1;
}

static int load_file(const char *path, config **out, bderr_list *all, bderr *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return read_error(err, path, errno);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return read_error(err, path, e);
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return read_error(err, path, EISDIR);
	}

	strbuf b;
	strbuf_init(&b);
	char chunk[8192];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			strbuf_free(&b);
			return read_error(err, path, e);
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > CONFIG_MAX_BYTES) {
			close(fd);
			strbuf_free(&b);
			return bderr_usage(err, "cannot read config '%s': larger than %d bytes", path,
					   CONFIG_MAX_BYTES);
		}
		strbuf_append(&b, chunk, (size_t)n);
	}
	close(fd);

	const char *text = b.data ? b.data : "";
	/* a NUL would silently end the text early: this is not a config file */
	if (memchr(text, '\0', b.len)) {
		strbuf_free(&b);
		return bderr_usage(err, "cannot read config '%s': contains a NUL byte (not a text file)",
				   path);
	}
	int rc = load_string(text, path, out, all, err);
	strbuf_free(&b);
	return rc;
}

int config_load(const char *path, config **out, bderr *err)
{
	return load_file(path, out, NULL, err);
}

int config_load_all(const char *path, config **out, bderr_list *errors, bderr *err)
{
	return load_file(path, out, errors, err);
}
