#include "archive/s3/credentials.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <ini.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "archive/filter.h"
#include "archive/s3/sigv4.h"
#include "archive/s3/xml.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/secret.h"

/* Answers of credential endpoints are a few KiB. */
#define ANSWER_MAX ((size_t)1 << 20)
/* Fetch again this long before a long-lived expiry (the SDKs' margin). */
#define REFRESH_MARGIN 300
/* A refresh that failed while the old credentials still hold is retried after this. */
#define REFRESH_RETRY 10
#define IMDS_TOKEN_TTL "21600"

typedef enum {
	SRC_CONFIG,
	SRC_ENV,
	SRC_PROFILE,
	SRC_WEB_IDENTITY,
	SRC_CONTAINER,
	SRC_IMDS,
	SRC_ASSUME_ROLE /* a profile's role_arn; the source credentials in base */
} cred_source;

struct s3_creds {
	cred_source src;
	char *label;     /* what s3_creds_source says */
	char *region;    /* for the STS endpoint; may be NULL */
	char *ca_file;   /* for https credential endpoints */
	int tls_verify;
	pthread_mutex_t mu;
	aws_creds cur;   /* under mu */
	time_t expires;  /* 0: never (long-term keys) */
	time_t refresh_at;
	char *imds_token; /* under mu; secret */
	time_t imds_token_until;
	/* SRC_ASSUME_ROLE: the profile's role and the credentials that assume it */
	s3_creds *base;
	char *role_arn, *session_name, *external_id, *duration;
};


void aws_creds_clear(aws_creds *c)
{
	free(c->access_key_id);
	secret_free(c->secret_access_key);
	secret_free(c->session_token);
	memset(c, 0, sizeof *c);
}

static void creds_copy(aws_creds *dst, const aws_creds *src)
{
	dst->access_key_id = xstrdup(src->access_key_id);
	dst->secret_access_key = xstrdup(src->secret_access_key);
	dst->session_token = src->session_token ? xstrdup(src->session_token) : NULL;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

int aws_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int n = 0;
	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
				&tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -1;
	const char *p = s + n;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	long off = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm, k = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &k) != 2 || k != 5)
			return -1;
		off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = timegm(&tm) - off;
	return 0;
}

/* --- HTTP to the credential endpoints ------------------------------------- */

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
	strbuf *b = ctx;
	size_t len = size * n;
	if (b->len + len > ANSWER_MAX)
		return 0;
	strbuf_append(b, data, len);
	return len;
}

static void answer_free(strbuf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap); /* held credentials */
	strbuf_free(b);
}

/*
 * One request, retried (attempts in all) on a transport failure or a 5xx.  headers: "Name: value"
 * lines (may carry a token: wiped here).  The answer's body goes to out
 * (reset first); the URL is named in errors, bodies and headers never are.
 */
static int http_fetch(const s3_creds *p, const char *method, const char *url,
		      const char *const *headers, const char *body, long timeout_s, int attempts,
		      strbuf *out, long *status, bderr *err)
{
	CURLcode rc = CURLE_OK;
	char errbuf[CURL_ERROR_SIZE];
	for (int attempt = 0; attempt < attempts; attempt++) {
		CURL *c = curl_easy_init();
		if (c == NULL)
			abort();
		struct curl_slist *hl = NULL;
		for (size_t i = 0; headers && headers[i]; i++)
			hl = curl_slist_append(hl, headers[i]);
		hl = curl_slist_append(hl, "Expect:");
		errbuf[0] = '\0';
		strbuf_reset(out);
		strbuf_appends(out, "");
		out->len = 0;
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout_s);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s * 3);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, p->tls_verify ? 1L : 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, p->tls_verify ? 2L : 0L);
		if (p->ca_file)
			curl_easy_setopt(c, CURLOPT_CAINFO, p->ca_file);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
		if (strcmp(method, "GET") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		if (body) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		} else if (strcmp(method, "PUT") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		}
		rc = curl_easy_perform(c);
		*status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		curl_easy_cleanup(c);
		curl_slist_free_all(hl);
		if (rc == CURLE_OK && *status < 500)
			return 0;
		if (rc == CURLE_OK && attempt + 1 == attempts)
			return 0; /* the caller judges the status */
		struct timespec ts = { 0, 200000000L * (attempt + 1) };
		nanosleep(&ts, NULL);
	}
	return bderr_set(err, "%s %s failed: %s", method, url,
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

/* --- the sources ------------------------------------------------------------ */

/* Fields of a credentials JSON document (container and instance metadata). */
static int creds_from_json(const strbuf *b, aws_creds *c, time_t *expires, const char *what,
			   bderr *err)
{
	json_error_t je;
	json_t *j = json_loadb(b->data ? b->data : "", b->len, 0, &je);
	const char *akid = NULL, *secret = NULL, *token = NULL, *exp = NULL, *code = NULL;
	if (j && json_is_object(j)) {
		akid = json_string_value(json_object_get(j, "AccessKeyId"));
		secret = json_string_value(json_object_get(j, "SecretAccessKey"));
		token = json_string_value(json_object_get(j, "Token"));
		exp = json_string_value(json_object_get(j, "Expiration"));
		code = json_string_value(json_object_get(j, "Code"));
	}
	int rc = 0;
	if (j == NULL || !json_is_object(j))
		rc = bderr_set(err, "%s: the answer is not a JSON object", what);
	else if (code && strcmp(code, "Success") != 0)
		rc = bderr_set(err, "%s: Code is '%.64s', not Success", what, code);
	else if (!akid || !*akid || !secret || !*secret || !exp)
		rc = bderr_set(err, "%s: the answer lacks AccessKeyId, SecretAccessKey or Expiration",
			       what);
	else if (aws_parse_time(exp, expires) < 0)
		rc = bderr_set(err, "%s: unreadable Expiration '%.64s'", what, exp);
	if (rc == 0) {
		c->access_key_id = xstrdup(akid);
		c->secret_access_key = xstrdup(secret);
		c->session_token = token && *token ? xstrdup(token) : NULL;
	}
	if (j) {
		/* jansson's copies of the secret */
		if (secret)
			OPENSSL_cleanse((char *)secret, strlen(secret));
		if (token)
			OPENSSL_cleanse((char *)token, strlen(token));
		json_decref(j);
	}
	return rc;
}

/* Reads a small file whole (a token: wiped by the caller); NULL with err set. */
static char *read_small_file(const char *path, const char *what, bderr *err)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		bderr_sys(err, errno, "%s: cannot open '%s'", what, path);
		return NULL;
	}
	strbuf b;
	strbuf_init(&b);
	strbuf_appends(&b, "");
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= ANSWER_MAX)
		strbuf_append(&b, chunk, n);
	int bad = ferror(f);
	fclose(f);
	OPENSSL_cleanse(chunk, sizeof chunk);
	while (b.len && isspace((unsigned char)b.data[b.len - 1]))
		b.data[--b.len] = '\0';
	if (bad || b.len == 0 || b.len > ANSWER_MAX) {
		answer_free(&b);
		bderr_set(err, "%s: '%s' is %s", what, path, bad ? "unreadable" : "empty or too large");
		return NULL;
	}
	return strbuf_detach(&b);
}

static void form_add(strbuf *b, const char *k, const char *v)
{
	strbuf_appendf(b, "%s%s=", b->len ? "&" : "", k);
	sigv4_uri_encode(b, v, 0);
}

static const char *sts_url_default(const s3_creds *p, char **own)
{
	if (env("AWS_ENDPOINT_URL_STS"))
		return env("AWS_ENDPOINT_URL_STS");
	*own = p->region ? xasprintf("https://sts.%s.amazonaws.com/", p->region)
			 : xstrdup("https://sts.amazonaws.com/");
	return *own;
}

/* STS's answer to action at url: the credentials, or STS's error code and message. */
static int sts_answer(const char *action, const char *url, long status, const strbuf *ans,
		      aws_creds *c, time_t *expires, bderr *err)
{
	int rc = 0;
	if (status < 200 || status >= 300) {
		s3_xml_error e;
		bderr ignored;
		bderr_init(&ignored);
		if (s3_xml_parse_error(ans->data, ans->len, &e, &ignored) < 0)
			memset(&e, 0, sizeof e);
		rc = bderr_set(err, "STS %s at %s failed: %ld %s%s%.300s", action, url, status,
			       e.code ? e.code : "Error", e.message ? ": " : "",
			       e.message ? e.message : "");
		s3_xml_error_clear(&e);
		return rc;
	}
	sts_xml_credentials x;
	if (sts_xml_parse_credentials(ans->data, ans->len, &x, err) < 0) {
		rc = bderr_prefix(err, "STS %s at %s", action, url);
	} else if (aws_parse_time(x.expiration, expires) < 0) {
		rc = bderr_set(err, "STS %s at %s: unreadable Expiration", action, url);
	} else {
		c->access_key_id = x.access_key_id;
		c->secret_access_key = x.secret_access_key;
		c->session_token = x.session_token;
		x.access_key_id = x.secret_access_key = x.session_token = NULL;
	}
	sts_xml_credentials_clear(&x);
	return rc;
}

static int fetch_web_identity(s3_creds *p, aws_creds *c, time_t *expires, bderr *err)
{
	const char *what = "web identity credentials (AWS_WEB_IDENTITY_TOKEN_FILE)";
	char *token = read_small_file(env("AWS_WEB_IDENTITY_TOKEN_FILE"), what, err);
	if (token == NULL)
		return -1;
	char *own = NULL;
	const char *url = sts_url_default(p, &own);
	const char *session = env("AWS_ROLE_SESSION_NAME");
	char session_buf[64];
	if (session == NULL) {
		snprintf(session_buf, sizeof session_buf, "backupd-%lld", (long long)time(NULL));
		session = session_buf;
	}
	strbuf form;
	strbuf_init(&form);
	strbuf_appends(&form, "");
	form_add(&form, "Action", "AssumeRoleWithWebIdentity");
	form_add(&form, "Version", "2011-06-15");
	form_add(&form, "RoleArn", env("AWS_ROLE_ARN"));
	form_add(&form, "RoleSessionName", session);
	form_add(&form, "WebIdentityToken", token);
	secret_free(token);
	const char *hdrs[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
	strbuf ans;
	strbuf_init(&ans);
	long status = 0;
	int rc = http_fetch(p, "POST", url, hdrs, form.data, 5, 3, &ans, &status, err);
	answer_free(&form);
	if (rc == 0)
		rc = sts_answer("AssumeRoleWithWebIdentity", url, status, &ans, c, expires, err);
	else
		bderr_prefix(err, "STS AssumeRoleWithWebIdentity");
	answer_free(&ans);
	free(own);
	return rc;
}

/*
 * STS AssumeRole, signed (SigV4, service "sts") with the base credentials:
 * a profile's role_arn with source_profile or credential_source.
 */
static int fetch_assume_role(s3_creds *p, aws_creds *c, time_t *expires, bderr *err)
{
	aws_creds bc;
	if (s3_creds_get(p->base, &bc, err) < 0)
		return bderr_prefix(err, "STS AssumeRole: the source credentials (%s)", p->base->label);
	char *own = NULL;
	const char *url = sts_url_default(p, &own);
	/* the host and path signed are the ones curl sends */
	const char *auth_start = strstr(url, "://");
	auth_start = auth_start ? auth_start + 3 : url;
	size_t hl = strcspn(auth_start, "/?#");
	char *host = xstrndup(auth_start, hl);
	const char *path = auth_start[hl] == '/' ? auth_start + hl : "/";
	char *path_only = xstrndup(path, strcspn(path, "?#"));
	strbuf form;
	strbuf_init(&form);
	strbuf_appends(&form, "");
	form_add(&form, "Action", "AssumeRole");
	form_add(&form, "Version", "2011-06-15");
	form_add(&form, "RoleArn", p->role_arn);
	form_add(&form, "RoleSessionName", p->session_name);
	if (p->external_id)
		form_add(&form, "ExternalId", p->external_id);
	if (p->duration)
		form_add(&form, "DurationSeconds", p->duration);
	char payload[SHA256_HEX_LEN + 1], date[17];
	sha256_hex(form.data, form.len, payload);
	sigv4_amz_date(time(NULL), date);
	sigv4_pair h[5];
	size_t k = 0;
	h[k++] = (sigv4_pair){ "content-type", "application/x-www-form-urlencoded" };
	h[k++] = (sigv4_pair){ "host", host };
	h[k++] = (sigv4_pair){ "x-amz-date", date };
	if (bc.session_token)
		h[k++] = (sigv4_pair){ "x-amz-security-token", bc.session_token };
	sigv4_request sr = { "POST", path_only, NULL, 0, h, k, payload };
	/* the global endpoint signs for us-east-1, as the SDKs do */
	sigv4_scope sc = { bc.access_key_id, bc.secret_access_key,
			   p->region ? p->region : "us-east-1", "sts", date };
	char *auth = sigv4_authorization(&sr, &sc);
	char *hdr_auth = xasprintf("Authorization: %s", auth);
	char *hdr_date = xasprintf("X-Amz-Date: %s", date);
	char *hdr_host = xasprintf("Host: %s", host);
	char *hdr_tok = bc.session_token ? xasprintf("X-Amz-Security-Token: %s", bc.session_token) : NULL;
	const char *hdrs[] = { "Content-Type: application/x-www-form-urlencoded", hdr_host, hdr_date,
			       hdr_auth, hdr_tok, NULL };
	strbuf ans;
	strbuf_init(&ans);
	long status = 0;
	int rc = http_fetch(p, "POST", url, hdrs, form.data, 5, 3, &ans, &status, err);
	secret_free(auth);
	secret_free(hdr_auth);
	secret_free(hdr_tok);
	free(hdr_date);
	free(hdr_host);
	free(host);
	free(path_only);
	aws_creds_clear(&bc);
	answer_free(&form);
	if (rc == 0)
		rc = sts_answer("AssumeRole", url, status, &ans, c, expires, err);
	else
		bderr_prefix(err, "STS AssumeRole");
	answer_free(&ans);
	free(own);
	return rc;
}

/* The hosts a plain-http FULL_URI may name, as the SDKs allow. */
static int container_host_ok(const char *url)
{
	if (strncmp(url, "https://", 8) == 0)
		return 1;
	if (strncmp(url, "http://", 7) != 0)
		return 0;
	const char *h = url + 7;
	static const char *const ok[] = { "127.", "localhost", "[::1]", "169.254.170.2",
					  "169.254.170.23", "[fd00:ec2::23]" };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strncmp(h, ok[i], strlen(ok[i])) == 0) {
			char next = h[strlen(ok[i])];
			if (ok[i][strlen(ok[i]) - 1] == '.' || next == '\0' || next == ':' || next == '/')
				return 1;
		}
	return 0;
}

char *aws_container_url(bderr *err)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	if (rel) {
		if (rel[0] != '/' || strpbrk(rel, " \r\n")) {
			bderr_usage(err, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting with '/'");
			return NULL;
		}
		return xasprintf("http://169.254.170.2%s", rel);
	}
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	if (full == NULL) {
		bderr_usage(err, "container credentials: neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set");
		return NULL;
	}
	if (!container_host_ok(full)) {
		bderr_usage(err, "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback or the container agent's address");
		return NULL;
	}
	return xstrdup(full);
}

static int fetch_container(s3_creds *p, aws_creds *c, time_t *expires, bderr *err)
{
	char *url = aws_container_url(err);
	if (url == NULL)
		return -1;
	char *auth = NULL, *hdr = NULL;
	if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
		auth = read_small_file(env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
				       "container credentials (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)",
				       err);
		if (auth == NULL) {
			free(url);
			return -1;
		}
	} else if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
		auth = xstrdup(env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
	}
	if (auth && strpbrk(auth, "\r\n")) {
		secret_free(auth);
		free(url);
		return bderr_usage(err, "the container authorization token holds a line break");
	}
	if (auth)
		hdr = xasprintf("Authorization: %s", auth);
	secret_free(auth);
	const char *hdrs[] = { hdr, NULL };
	strbuf ans;
	strbuf_init(&ans);
	long status = 0;
	int rc = http_fetch(p, "GET", url, hdr ? hdrs : NULL, NULL, 5, 3, &ans, &status, err);
	secret_free(hdr);
	char what[300];
	snprintf(what, sizeof what, "container credentials from %.250s", url);
	if (rc < 0)
		bderr_prefix(err, "container credentials");
	else if (status != 200)
		rc = bderr_set(err, "%s: HTTP %ld", what, status);
	else
		rc = creds_from_json(&ans, c, expires, what, err);
	answer_free(&ans);
	free(url);
	return rc;
}

static int fetch_imds(s3_creds *p, aws_creds *c, time_t *expires, bderr *err)
{
	const char *ep = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	char *base = xstrdup(ep ? ep : "http://169.254.169.254");
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		base[--bl] = '\0';
	strbuf ans;
	strbuf_init(&ans);
	long status = 0;
	int rc = 0;
	time_t now = time(NULL);
	/* IMDSv2: a session token first, reused until shortly before it lapses */
	if (p->imds_token == NULL || now >= p->imds_token_until) {
		secret_free(p->imds_token);
		p->imds_token = NULL;
		char *url = xasprintf("%s/latest/api/token", base);
		const char *hdrs[] = { "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL, NULL };
		rc = http_fetch(p, "PUT", url, hdrs, NULL, 1, 2, &ans, &status, err);
		if (rc == 0 && (status != 200 || ans.len == 0 || strpbrk(ans.data, "\r\n")))
			rc = bderr_set(err, "PUT %s: HTTP %ld", url, status);
		if (rc == 0) {
			p->imds_token = xstrdup(ans.data);
			p->imds_token_until = now + atol(IMDS_TOKEN_TTL) - 60;
		}
		free(url);
	}
	char *tokhdr = p->imds_token ? xasprintf("X-aws-ec2-metadata-token: %s", p->imds_token) : NULL;
	const char *hdrs[] = { tokhdr, NULL };
	char *role = NULL;
	if (rc == 0) {
		char *url = xasprintf("%s/latest/meta-data/iam/security-credentials/", base);
		rc = http_fetch(p, "GET", url, hdrs, NULL, 1, 2, &ans, &status, err);
		if (rc == 0 && (status != 200 || ans.len == 0))
			rc = bderr_set(err, "GET %s: HTTP %ld (no IAM role attached to the instance?)",
				       url, status);
		if (rc == 0) {
			role = xstrndup(ans.data, strcspn(ans.data, "\r\n"));
			if (*role == '\0' || strchr(role, '/'))
				rc = bderr_set(err, "GET %s: no usable role name", url);
		}
		free(url);
	}
	if (rc == 0) {
		char *url = xasprintf("%s/latest/meta-data/iam/security-credentials/%s", base, role);
		rc = http_fetch(p, "GET", url, hdrs, NULL, 1, 2, &ans, &status, err);
		if (rc == 0 && status != 200)
			rc = bderr_set(err, "GET %s: HTTP %ld", url, status);
		if (rc == 0)
			rc = creds_from_json(&ans, c, expires, url, err);
		free(url);
	}
	if (rc < 0) {
		/* a token refused later (401) is fetched anew next time */
		secret_free(p->imds_token);
		p->imds_token = NULL;
		bderr_prefix(err, "instance metadata credentials");
	}
	secret_free(tokhdr);
	free(role);
	answer_free(&ans);
	free(base);
	return rc;
}

/* --- profiles ------------------------------------------------------------------ */

typedef struct profile_read {
	const char *want;  /* the section name to read */
	int found;
	char *akid, *secret, *token, *region;
	/* a role profile */
	char *role_arn, *source_profile, *credential_source, *session_name, *external_id, *duration;
} profile_read;

static int profile_handler(void *user, const char *section, const char *name, const char *value)
{
	profile_read *r = user;
	if (strcmp(section, r->want) != 0)
		return 1;
	r->found = 1;
	char **dst = NULL;
	if (strcmp(name, "aws_access_key_id") == 0)
		dst = &r->akid;
	else if (strcmp(name, "aws_secret_access_key") == 0)
		dst = &r->secret;
	else if (strcmp(name, "aws_session_token") == 0)
		dst = &r->token;
	else if (strcmp(name, "region") == 0)
		dst = &r->region;
	else if (strcmp(name, "role_arn") == 0)
		dst = &r->role_arn;
	else if (strcmp(name, "source_profile") == 0)
		dst = &r->source_profile;
	else if (strcmp(name, "credential_source") == 0)
		dst = &r->credential_source;
	else if (strcmp(name, "role_session_name") == 0)
		dst = &r->session_name;
	else if (strcmp(name, "external_id") == 0)
		dst = &r->external_id;
	else if (strcmp(name, "duration_seconds") == 0)
		dst = &r->duration;
	if (dst && *dst == NULL && *value)
		*dst = xstrdup(value);
	return 1;
}

static void profile_read_clear(profile_read *r)
{
	free(r->akid);
	secret_free(r->secret);
	secret_free(r->token);
	free(r->region);
	free(r->role_arn);
	free(r->source_profile);
	free(r->credential_source);
	free(r->session_name);
	free(r->external_id);
	free(r->duration);
}

static char *aws_file(const char *var, const char *leaf)
{
	if (env(var))
		return xstrdup(env(var));
	const char *home = env("HOME");
	return home ? xasprintf("%s/.aws/%s", home, leaf) : NULL;
}

/*
 * The profile's settings: the credentials file's [NAME], then the config
 * file's [profile NAME] ([default] for the default profile) for what the
 * first left unset.  found says whether either file has the profile.
 */
static void profile_load(const char *name, profile_read *out)
{
	memset(out, 0, sizeof *out);
	char *cred = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	char *conf = aws_file("AWS_CONFIG_FILE", "config");
	out->want = name;
	if (cred)
		ini_parse(cred, profile_handler, out);
	char *section = strcmp(name, "default") == 0 ? xstrdup("default")
						      : xasprintf("profile %s", name);
	out->want = section;
	if (conf)
		ini_parse(conf, profile_handler, out);
	out->want = NULL;
	free(section);
	free(cred);
	free(conf);
}

char *aws_default_region(void)
{
	if (env("AWS_REGION"))
		return xstrdup(env("AWS_REGION"));
	if (env("AWS_DEFAULT_REGION"))
		return xstrdup(env("AWS_DEFAULT_REGION"));
	profile_read r;
	profile_load(env("AWS_PROFILE") ? env("AWS_PROFILE") : "default", &r);
	char *region = r.region;
	r.region = NULL;
	profile_read_clear(&r);
	return region;
}

/* --- the chain ------------------------------------------------------------------- */

static int fetch(s3_creds *p, aws_creds *c, time_t *expires, bderr *err)
{
	switch (p->src) {
	case SRC_WEB_IDENTITY: return fetch_web_identity(p, c, expires, err);
	case SRC_CONTAINER: return fetch_container(p, c, expires, err);
	case SRC_IMDS: return fetch_imds(p, c, expires, err);
	case SRC_ASSUME_ROLE: return fetch_assume_role(p, c, expires, err);
	default: return 0; /* long-term keys are set once */
	}
}

/* p->mu held (or p not shared yet). */
static int refresh(s3_creds *p, bderr *err)
{
	aws_creds c = { 0 };
	time_t expires = 0;
	if (fetch(p, &c, &expires, err) < 0) {
		aws_creds_clear(&c);
		return -1;
	}
	time_t now = time(NULL);
	if (expires <= now) {
		aws_creds_clear(&c);
		return bderr_set(err, "%s handed out credentials that have already expired",
				 p->label);
	}
	aws_creds_clear(&p->cur);
	p->cur = c;
	p->expires = expires;
	time_t life = expires - now;
	p->refresh_at = life > 2 * REFRESH_MARGIN ? expires - REFRESH_MARGIN : now + life / 2;
	log_debug("S3 credentials from %s, valid for %lld s", p->label, (long long)life);
	return 0;
}

static int metadata_disabled(void)
{
	const char *v = env("AWS_EC2_METADATA_DISABLED");
	return v && strcasecmp(v, "true") == 0;
}

/* A source of credentials inside p (same TLS settings and region), for a role to be assumed with. */
static s3_creds *creds_child(const s3_creds *p, cred_source src, const char *label)
{
	s3_creds *b = xcalloc(1, sizeof *b);
	pthread_mutex_init(&b->mu, NULL);
	b->src = src;
	b->label = xstrdup(label);
	b->region = p->region ? xstrdup(p->region) : NULL;
	b->ca_file = p->ca_file ? xstrdup(p->ca_file) : NULL;
	b->tls_verify = p->tls_verify;
	return b;
}

/*
 * A profile with role_arn: STS AssumeRole with the credentials of its
 * source_profile (which must hold keys: chains of roles are not followed)
 * or of its credential_source (Environment, Ec2InstanceMetadata,
 * EcsContainer), as the SDKs read ~/.aws/config.
 */
static int pick_role(s3_creds *p, const char *pname, const profile_read *r, bderr *err)
{
	if (!!r->source_profile == !!r->credential_source)
		return bderr_usage(err, "AWS profile '%s' has role_arn: it needs exactly one of source_profile and credential_source",
				   pname);
	if (r->duration && (strspn(r->duration, "0123456789") != strlen(r->duration) ||
			    atol(r->duration) < 900 || atol(r->duration) > 43200))
		return bderr_usage(err, "AWS profile '%s': duration_seconds must be 900 to 43200", pname);
	s3_creds *b = NULL;
	if (r->source_profile) {
		profile_read sp;
		profile_load(r->source_profile, &sp);
		int ok = sp.akid && sp.secret && !sp.role_arn;
		if (ok) {
			char *label = xasprintf("profile %s", r->source_profile);
			b = creds_child(p, SRC_PROFILE, label);
			free(label);
			b->cur.access_key_id = sp.akid;
			b->cur.secret_access_key = sp.secret;
			b->cur.session_token = sp.token;
			sp.akid = sp.secret = sp.token = NULL;
		}
		int chained = sp.role_arn != NULL;
		profile_read_clear(&sp);
		if (!ok)
			return bderr_usage(err, "AWS profile '%s': its source_profile '%s' %s", pname,
					   r->source_profile,
					   chained ? "assumes a role itself (chained roles are not supported)"
						   : "has no aws_access_key_id/aws_secret_access_key");
	} else if (strcmp(r->credential_source, "Environment") == 0) {
		if (!env("AWS_ACCESS_KEY_ID") || !env("AWS_SECRET_ACCESS_KEY"))
			return bderr_usage(err, "AWS profile '%s': credential_source = Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set",
					   pname);
		b = creds_child(p, SRC_ENV, "environment");
		b->cur.access_key_id = xstrdup(env("AWS_ACCESS_KEY_ID"));
		b->cur.secret_access_key = xstrdup(env("AWS_SECRET_ACCESS_KEY"));
		if (env("AWS_SESSION_TOKEN"))
			b->cur.session_token = xstrdup(env("AWS_SESSION_TOKEN"));
	} else if (strcmp(r->credential_source, "Ec2InstanceMetadata") == 0) {
		b = creds_child(p, SRC_IMDS, "instance metadata");
	} else if (strcmp(r->credential_source, "EcsContainer") == 0) {
		b = creds_child(p, SRC_CONTAINER, "container credentials");
	} else {
		return bderr_usage(err, "AWS profile '%s': credential_source must be Environment, Ec2InstanceMetadata or EcsContainer, not '%s'",
				   pname, r->credential_source);
	}
	p->src = SRC_ASSUME_ROLE;
	p->label = xasprintf("profile %s (role)", pname);
	p->base = b;
	p->role_arn = xstrdup(r->role_arn);
	if (r->session_name)
		p->session_name = xstrdup(r->session_name);
	else
		p->session_name = xasprintf("backupd-%lld", (long long)time(NULL));
	p->external_id = r->external_id ? xstrdup(r->external_id) : NULL;
	p->duration = r->duration ? xstrdup(r->duration) : NULL;
	/* temporary source credentials are fetched now, so their failure names them */
	if (b->src >= SRC_WEB_IDENTITY && refresh(b, err) < 0)
		return bderr_prefix(err, "AWS profile '%s': its credential_source", pname);
	return 0;
}

/* Picks the source; fills p->cur for long-term keys.  1: none configured. */
static int pick(s3_creds *p, const storage_options *opts, bderr *err)
{
	const char *akid = opts ? opts->access_key_id : NULL;
	const char *secret = opts ? opts->secret_access_key : NULL;
	if ((akid && *akid) || (secret && *secret)) {
		if (!(akid && *akid) || !(secret && *secret))
			return bderr_usage(err,
					   "incomplete S3 credentials: set both access-key-id (or access-key-id-file) and secret-access-key-file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
		p->src = SRC_CONFIG;
		p->label = xstrdup("config");
		p->cur.access_key_id = xstrdup(akid);
		p->cur.secret_access_key = xstrdup(secret);
		if (opts->session_token && *opts->session_token)
			p->cur.session_token = xstrdup(opts->session_token);
		return 0;
	}
	if (env("AWS_ACCESS_KEY_ID") || env("AWS_SECRET_ACCESS_KEY")) {
		if (!env("AWS_ACCESS_KEY_ID") || !env("AWS_SECRET_ACCESS_KEY"))
			return bderr_usage(err,
					   "incomplete S3 credentials in the environment: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
		p->src = SRC_ENV;
		p->label = xstrdup("environment");
		p->cur.access_key_id = xstrdup(env("AWS_ACCESS_KEY_ID"));
		p->cur.secret_access_key = xstrdup(env("AWS_SECRET_ACCESS_KEY"));
		if (env("AWS_SESSION_TOKEN"))
			p->cur.session_token = xstrdup(env("AWS_SESSION_TOKEN"));
		return 0;
	}
	const char *pname = env("AWS_PROFILE");
	profile_read r;
	profile_load(pname ? pname : "default", &r);
	if (r.role_arn) {
		int rc = pick_role(p, pname ? pname : "default", &r, err);
		profile_read_clear(&r);
		return rc;
	}
	if (r.akid && r.secret) {
		p->src = SRC_PROFILE;
		p->label = xasprintf("profile %s", pname ? pname : "default");
		p->cur.access_key_id = r.akid;
		p->cur.secret_access_key = r.secret;
		p->cur.session_token = r.token;
		r.akid = r.secret = r.token = NULL;
		profile_read_clear(&r);
		return 0;
	}
	int named = pname != NULL, found = r.found, partial = r.akid || r.secret;
	profile_read_clear(&r);
	if (partial)
		return bderr_usage(err, "AWS profile '%s' has only one of aws_access_key_id and aws_secret_access_key",
				   pname ? pname : "default");
	if (named && !found)
		return bderr_usage(err, "AWS_PROFILE names '%s', which neither the credentials nor the config file has",
				   pname);
	if (named)
		return bderr_usage(err,
				   "AWS profile '%s' has no aws_access_key_id/aws_secret_access_key nor role_arn (SSO and credential_process profiles are not supported)",
				   pname);
	if (env("AWS_WEB_IDENTITY_TOKEN_FILE") && env("AWS_ROLE_ARN")) {
		p->src = SRC_WEB_IDENTITY;
		p->label = xstrdup("web identity");
		return 0;
	}
	if (env("AWS_CONTAINER_CREDENTIALS_FULL_URI") ||
	    env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
		p->src = SRC_CONTAINER;
		p->label = xstrdup("container credentials");
		return 0;
	}
	if (!metadata_disabled()) {
		p->src = SRC_IMDS;
		p->label = xstrdup("instance metadata");
		return 0;
	}
	return 1;
}

#define NO_CREDENTIALS                                                                            \
	"no S3 credentials (set access-key-id and secret-access-key-file in the [repo:NAME] "     \
	"section, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, an AWS profile, web identity, "     \
	"container credentials, or run on EC2 with an instance role)"

int s3_creds_new(const storage_options *opts, const char *region, s3_creds **out, bderr *err)
{
	*out = NULL;
	s3_creds *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	p->region = region ? xstrdup(region) : NULL;
	const char *ca = opts && opts->ca_file ? opts->ca_file : env("AWS_CA_BUNDLE");
	p->ca_file = ca ? xstrdup(ca) : NULL;
	p->tls_verify = opts ? opts->tls_verify : 1;
	int rc = pick(p, opts, err);
	if (rc == 1) {
		rc = bderr_usage(err, NO_CREDENTIALS);
	} else if (rc == 0 && p->src >= SRC_WEB_IDENTITY && refresh(p, err) < 0) {
		/* instance metadata is the fallback of last resort: absent, it means no credentials */
		if (p->src == SRC_IMDS) {
			log_debug("%s", err->msg);
			rc = bderr_usage(err, NO_CREDENTIALS);
		} else {
			rc = -1;
		}
	}
	if (rc < 0) {
		s3_creds_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

int s3_creds_get(s3_creds *p, aws_creds *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&p->mu);
	int rc = 0;
	time_t now = time(NULL);
	if (p->expires && now >= p->refresh_at) {
		bderr e;
		bderr_init(&e);
		if (refresh(p, &e) < 0) {
			if (now < p->expires - 5) {
				/* the old ones still hold: keep them, try again soon */
				log_warn("cannot refresh S3 credentials yet: %s", e.msg);
				p->refresh_at = now + REFRESH_RETRY;
			} else {
				*err = e;
				rc = bderr_prefix(err, "S3 credentials expired and could not be refreshed");
			}
		}
	}
	if (rc == 0)
		creds_copy(out, &p->cur);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int s3_creds_invalidate(s3_creds *p)
{
	pthread_mutex_lock(&p->mu);
	int renewable = p->expires != 0;
	if (renewable)
		p->refresh_at = 0;
	pthread_mutex_unlock(&p->mu);
	return renewable;
}

const char *s3_creds_source(const s3_creds *p)
{
	return p->label;
}

void s3_creds_free(s3_creds *p)
{
	if (p == NULL)
		return;
	aws_creds_clear(&p->cur);
	secret_free(p->imds_token);
	s3_creds_free(p->base);
	free(p->role_arn);
	free(p->session_name);
	free(p->external_id);
	free(p->duration);
	pthread_mutex_destroy(&p->mu);
	free(p->label);
	free(p->region);
	free(p->ca_file);
	free(p);
}
