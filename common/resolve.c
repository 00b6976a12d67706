#include "common/resolve.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/secret.h"

/* Longer names are legal path components but unreadable in listings. */
#define SOURCE_NAME_MAX 200

/* ---- repositories ----------------------------------------------------- */

void repo_spec_free(repo_spec *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->url);
	free(r->access_key_id);
	secret_free(r->secret_access_key);
	secret_free(r->session_token);
	free(r->ca_file);
	secret_free(r->encryption_key);
	memset(r, 0, sizeof *r);
}

static int looks_like_location(const char *arg)
{
	return strstr(arg, "://") != NULL || arg[0] == '/' || arg[0] == '.';
}

/*
 * A --repo/--source argument that is neither a URL nor a config name, as an
 * error may show it: cut to fit, key=value passwords and URI passwords
 * masked (log_redact), and "user:password@host" without a scheme too.
 */
static void shown_arg(const char *arg, char *shown, size_t len)
{
	int sn = snprintf(shown, len, "%s", arg);
	if (sn < 0 || (size_t)sn >= len)
		memcpy(shown + len - 4, "...", 4);
	log_redact(shown);
	char *at = strrchr(shown, '@');
	char *colon = at ? memchr(shown, ':', (size_t)(at - shown)) : NULL;
	if (colon && at > colon + 1 && strstr(shown, "://") == NULL) {
		memmove(colon + 4, at, strlen(at) + 1);
		memcpy(colon + 1, "***", 3);
	}
}

/* Where the message about a missing name says it looked. */
static const char *config_where(const config *cfg)
{
	return cfg ? cfg->path : "the config (none was loaded)";
}

/* Reads a *-file key of s into *out; errors are prefixed "FILE:LINE: key 'K'". */
static int read_secret_key(const config *cfg, const config_section *s, const char *key,
			   char **out, bderr *err)
{
	const char *path = config_get(s, key);
	if (path == NULL)
		return 0;
	if (secret_read_file(path, out, err) < 0)
		return bderr_prefix(err, "%s:%d: key '%s'", cfg->path, config_line(s, key), key);
	return 0;
}

static int query_has(const char *url, const char *param)
{
	const char *q = strchr(url, '?');
	size_t plen = strlen(param);
	while (q) {
		q++;
		if (strncmp(q, param, plen) == 0 && q[plen] == '=')
			return 1;
		q = strchr(q, '&');
	}
	return 0;
}

/*
 * region =, endpoint =, upload-concurrency =, retry-max-time =, sse =,
 * sse-kms-key-id = and storage-class = in [repo:X] are spelled in
 * the URL query by the S3 driver; merging them here keeps one place that
 * parses URLs.
 */
static int url_add_param(const config *cfg, const config_section *s, const char *key,
			 char **url, bderr *err)
{
	const char *v = config_get(s, key);
	if (v == NULL)
		return 0;
	if (strncasecmp(*url, "s3://", 5) != 0)
		return config_error(cfg, s, key, err, "only used with s3:// repository URLs");
	if (query_has(*url, key))
		return config_error(cfg, s, key, err, "the url already sets %s=: keep one of them",
				    key);
	char *merged = xasprintf("%s%c%s=%s", *url, strchr(*url, '?') ? '&' : '?', key, v);
	free(*url);
	*url = merged;
	return 0;
}

static int repo_from_config(const config *cfg, const config_section *s, repo_spec *out,
			    bderr *err)
{
	const char *url = config_get(s, "url");
	if (url == NULL)
		return config_error(cfg, s, "url", err, "missing in [repo:%s]", s->name);
	out->url = xstrdup(url);
	if (url_add_param(cfg, s, "endpoint", &out->url, err) < 0 ||
	    url_add_param(cfg, s, "region", &out->url, err) < 0 ||
	    url_add_param(cfg, s, "upload-concurrency", &out->url, err) < 0 ||
	    url_add_param(cfg, s, "retry-max-time", &out->url, err) < 0 ||
	    url_add_param(cfg, s, "sse", &out->url, err) < 0 ||
	    url_add_param(cfg, s, "sse-kms-key-id", &out->url, err) < 0 ||
	    url_add_param(cfg, s, "storage-class", &out->url, err) < 0)
		return -1;

	const char *akid = config_get(s, "access-key-id");
	if (akid)
		out->access_key_id = xstrdup(akid);
	else if (read_secret_key(cfg, s, "access-key-id-file", &out->access_key_id, err) < 0)
		return -1;
	if (read_secret_key(cfg, s, "secret-access-key-file", &out->secret_access_key, err) < 0 ||
	    read_secret_key(cfg, s, "session-token-file", &out->session_token, err) < 0)
		return -1;

	/* read now: a missing or unusable key file must fail, never mean plaintext */
	const char *key_file = config_get(s, "encryption-key-file");
	if (key_file && secret_read_key_file(key_file, &out->encryption_key, err) < 0)
		return bderr_prefix(err, "%s:%d: key 'encryption-key-file'", cfg->path,
				    config_line(s, "encryption-key-file"));

	const char *ca = config_get(s, "ca-file");
	if (ca)
		out->ca_file = xstrdup(ca);
	return config_get_bool(cfg, s, "tls-verify", 1, &out->tls_verify, err);
}

static void fill_from_env(char **field, const char *var)
{
	const char *v = getenv(var);
	if (*field == NULL && v && *v)
		*field = xstrdup(v);
}

int resolve_repo(const config *cfg, const char *arg, repo_spec *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	out->tls_verify = 1;
	if (arg == NULL || *arg == '\0')
		return bderr_usage(err,
				   "no repository given: use --repo NAME (a [repo:NAME] in the config) or --repo URL");

	if (looks_like_location(arg)) {
		out->url = xstrdup(arg);
	} else {
		const config_section *s = config_find(cfg, "repo", arg);
		if (s == NULL) {
			char shown[256];
			shown_arg(arg, shown, sizeof shown);
			return bderr_usage(err,
					   "unknown repository '%s': not a URL and no [repo:%s] in %s",
					   shown, shown, config_where(cfg));
		}
		out->name = xstrdup(arg);
		if (repo_from_config(cfg, s, out, err) < 0) {
			repo_spec_free(out);
			return -1;
		}
	}

	/*
	 * The SDK convention, for what the config leaves unset; the rest of the
	 * credential chain (profiles, web identity, container, instance
	 * metadata) is the S3 driver's (archive/s3/credentials.c).
	 */
	fill_from_env(&out->access_key_id, "AWS_ACCESS_KEY_ID");
	fill_from_env(&out->secret_access_key, "AWS_SECRET_ACCESS_KEY");
	fill_from_env(&out->session_token, "AWS_SESSION_TOKEN");

	out->opts.access_key_id = out->access_key_id;
	out->opts.secret_access_key = out->secret_access_key;
	out->opts.session_token = out->session_token;
	out->opts.ca_file = out->ca_file;
	out->opts.tls_verify = out->tls_verify;
	out->opts.encryption_key = out->encryption_key;
	return 0;
}

int repo_spec_set_key_file(repo_spec *r, const char *path, bderr *err)
{
	if (path == NULL)
		return 0;
	if (r->encryption_key)
		return bderr_usage(err, "--encryption-key-file: [repo:%s] already sets encryption-key-file: keep one of them",
				   r->name ? r->name : "");
	if (secret_read_key_file(path, &r->encryption_key, err) < 0)
		return -1;
	r->opts.encryption_key = r->encryption_key;
	return 0;
}

/* ---- sources ------------------------------------------------------------- */

void source_spec_free(source_spec *s)
{
	if (s == NULL)
		return;
	free(s->name);
	/* the URL may hold a password the user typed into it */
	secret_free(s->url);
	secret_free(s->password);
	memset(s, 0, sizeof *s);
}

/* Decoded value of query parameter param in [q, end), or NULL. */
static char *query_param(const char *q, const char *end, const char *param)
{
	size_t plen = strlen(param);
	while (q && q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - q) > plen && strncmp(q, param, plen) == 0 && q[plen] == '=')
			return pct_decode(q + plen + 1, (size_t)(stop - q - (ptrdiff_t)plen - 1));
		q = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/*
 * The repository name a bare URI implies: its database (what libpq and the
 * MySQL client would connect to), else the user name (libpq's default
 * database), else "default".
 */
static char *uri_source_name(const char *uri)
{
	const char *auth = strstr(uri, "://") + 3;
	size_t authlen = strcspn(auth, "/?#");
	const char *rest = auth + authlen;
	const char *query = NULL, *qend = rest + strcspn(rest, "#");
	char *name = NULL;

	if (*rest == '/') {
		size_t n = strcspn(rest + 1, "?#");
		if (n > 0)
			name = pct_decode(rest + 1, n);
	}
	const char *qm = memchr(rest, '?', (size_t)(qend - rest));
	if (qm)
		query = qm + 1;
	if (name == NULL && query)
		name = query_param(query, qend, "dbname");

	if (name == NULL) {
		/* the last '@': an unescaped '@' in a password must not cut the user */
		const char *at = NULL;
		for (const char *p = auth; p < auth + authlen; p++)
			if (*p == '@')
				at = p;
		if (at) {
			const char *colon = memchr(auth, ':', (size_t)(at - auth));
			const char *uend = colon ? colon : at;
			if (uend > auth)
				name = pct_decode(auth, (size_t)(uend - auth));
		}
	}
	if (name == NULL && query)
		name = query_param(query, qend, "user");
	if (name && *name == '\0') {
		free(name);
		name = NULL;
	}
	return name ? name : xstrdup("default");
}

/* The name becomes one path component in the repository: keep it boring. */
static int source_name_check(const char *name, bderr *err)
{
	int ok = *name != '\0' && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
	for (const char *p = name; ok && *p; p++) {
		char c = *p;
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '.' || c == '_' || c == '-';
	}
	if (!ok)
		return bderr_usage(err,
				   "source name '%s' is not usable in a repository path: use letters, digits, '.', '_' and '-'",
				   name);
	if (strlen(name) > SOURCE_NAME_MAX)
		return bderr_usage(err, "source name '%.40s...' is too long (at most %d characters)",
				   name, SOURCE_NAME_MAX);
	return 0;
}

static int source_from_config(const config *cfg, const config_section *s, source_spec *out,
			      bderr *err)
{
	const char *url = config_get(s, "url");
	if (url == NULL)
		return config_error(cfg, s, "url", err, "missing in [source:%s]", s->name);
	if ((out->engine = engine_for_uri(url)) == NULL)
		return config_error(cfg, s, "url", err, "must be a %s URI", engine_schemes_text());
	out->url = xstrdup(url);
	const char *pwfile = config_get(s, "password-file");
	if (pwfile && secret_read_file(pwfile, &out->password, err) < 0)
		return bderr_prefix(err, "%s:%d: key 'password-file'", cfg->path,
				    config_line(s, "password-file"));
	const char *name = config_get(s, "name");
	out->name = xstrdup(name ? name : s->name);
	if (source_name_check(out->name, err) < 0) {
		if (name)
			return bderr_prefix(err, "%s:%d: key 'name'", cfg->path,
					    config_line(s, "name"));
		return bderr_prefix(err, "%s:%d", cfg->path, s->line);
	}
	return 0;
}

int resolve_source_as(const config *cfg, const char *arg, const char *name, source_spec *out,
		      bderr *err)
{
	memset(out, 0, sizeof *out);
	if (arg == NULL || *arg == '\0')
		return bderr_usage(err,
				   "no source given: use --source NAME (a [source:NAME] in the config) or --source URI");

	int rc = 0;
	if ((out->engine = engine_for_uri(arg)) != NULL) {
		out->url = xstrdup(arg);
		if (name == NULL) {
			out->name = uri_source_name(arg);
			/* a database list (mysql://host/a,b) names no single source */
			if (strchr(out->name, ','))
				rc = bderr_usage(err,
						 "the source names several databases ('%s'): give the backup a name with --name",
						 out->name);
			else
				rc = source_name_check(out->name, err);
		}
	} else if (strstr(arg, "://")) {
		/* only the scheme is echoed: the rest may carry a password */
		size_t n = (size_t)(strstr(arg, "://") - arg);
		return bderr_usage(err,
				   "unsupported source URI scheme '%.*s://': use %s",
				   n > 32 ? 32 : (int)n, arg, engine_schemes_text());
	} else {
		const config_section *s = config_find(cfg, "source", arg);
		if (s == NULL) {
			/* a libpq "key=value" string could hold password=...: redact it */
			char shown[256];
			shown_arg(arg, shown, sizeof shown);
			return bderr_usage(err,
					   "unknown source '%s': not a connection URI (postgresql://, mysql://) and no [source:%s] in %s",
					   shown, shown, config_where(cfg));
		}
		rc = source_from_config(cfg, s, out, err);
	}

	if (rc == 0 && name) {
		free(out->name);
		out->name = xstrdup(name);
		rc = source_name_check(out->name, err);
	}
	if (rc < 0) {
		source_spec_free(out);
		return -1;
	}
	return 0;
}

int resolve_source(const config *cfg, const char *arg, source_spec *out, bderr *err)
{
	return resolve_source_as(cfg, arg, NULL, out, err);
}
