#include "backupd/webhook.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "archive/manifest.h"
#include "common/lazylib.h"
#include "common/mem.h"
#include "common/version.h"

int webhook_on_parse(const char *s, webhook_on *out)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "failure") == 0)
		*out = WEBHOOK_ON_FAILURE;
	else if (strcmp(s, "success") == 0)
		*out = WEBHOOK_ON_SUCCESS;
	else if (strcmp(s, "always") == 0)
		*out = WEBHOOK_ON_ALWAYS;
	else
		return -1;
	return 0;
}

/* The authority of url (between "://" and the path), or NULL. */
static const char *authority(const char *url, size_t *len, size_t *scheme_len)
{
	const char *sep = strstr(url, "://");
	if (sep == NULL || sep == url)
		return NULL;
	const char *a = sep + 3;
	*scheme_len = (size_t)(sep - url);
	*len = strcspn(a, "/?#");
	return a;
}

int webhook_url_check(const char *url, bderr *err)
{
	size_t alen, slen;
	const char *a = url ? authority(url, &alen, &slen) : NULL;
	int scheme_ok = a && ((slen == 4 && strncasecmp(url, "http", 4) == 0) ||
			      (slen == 5 && strncasecmp(url, "https", 5) == 0));
	if (!scheme_ok || alen == 0 || strpbrk(url, " \t\r\n") != NULL)
		return bderr_usage(err, "must be an http:// or https:// URL with a host");
	return 0;
}

void webhook_url_for_log(const char *url, char *buf, size_t len)
{
	size_t alen, slen;
	const char *a = url ? authority(url, &alen, &slen) : NULL;
	if (a == NULL) {
		snprintf(buf, len, "(invalid url)");
		return;
	}
	/* user:token@host: keep only what follows the last '@' */
	const char *host = a;
	for (const char *p = a; p < a + alen; p++)
		if (*p == '@')
			host = p + 1;
	snprintf(buf, len, "%.*s://%.*s", (int)slen, url, (int)(a + alen - host), host);
}

static json_t *str_or_null(const char *s)
{
	if (s == NULL)
		return json_null();
	json_t *v = json_string(s);
	if (v)
		return v;
	/* not UTF-8 (an error quoting raw bytes): keep the text, mask the bytes */
	char *copy = xstrdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v ? v : json_null();
}

char *webhook_payload(const webhook_run *r)
{
	char started[32], finished[32];
	format_rfc3339(r->started, started, sizeof started);
	format_rfc3339(r->finished, finished, sizeof finished);
	json_t *o = json_object();
	json_object_set_new(o, "job", str_or_null(r->job));
	json_object_set_new(o, "kind", str_or_null(r->kind));
	json_object_set_new(o, "source", str_or_null(r->source));
	json_object_set_new(o, "repo", str_or_null(r->repo));
	json_object_set_new(o, "backup_id", str_or_null(r->backup_id));
	json_object_set_new(o, "status", json_string(r->ok ? "success" : "failure"));
	json_object_set_new(o, "started", json_string(started));
	json_object_set_new(o, "finished", json_string(finished));
	json_object_set_new(o, "duration",
			    json_integer((json_int_t)(r->finished > r->started ? r->finished - r->started : 0)));
	json_object_set_new(o, "bytes", json_integer((json_int_t)r->bytes));
	json_object_set_new(o, "rows", json_integer((json_int_t)r->rows));
	json_object_set_new(o, "error", str_or_null(r->error));
	json_object_set_new(o, "attempt", json_integer((json_int_t)r->attempt));
	json_object_set_new(o, "hostname", str_or_null(r->hostname));
	char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	return text ? text : xstrdup("{}");
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/* One POST: 0 on 2xx; -1 with *retry saying whether trying again may help. */
static int post_once(CURL *h, const char *url, const char *body, long timeout, int *retry,
		     bderr *err)
{
	char where[256];
	webhook_url_for_log(url, where, sizeof where);
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(h, CURLOPT_USERAGENT, "backupd/" BACKUPD_VERSION);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(hdr);
	*retry = 1;
	if (rc != CURLE_OK)
		/* curl_easy_strerror() names the failure, never the URL */
		return bderr_set(err, "webhook %s: %s", where, curl_easy_strerror(rc));
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300)
		return 0;
	*retry = status >= 500 || status == 408 || status == 429;
	return bderr_set(err, "webhook %s: HTTP status %ld", where, status);
}

int webhook_post(const char *url, const char *body, const webhook_delivery *d, bderr *err)
{
	if (lazy_curl_load(err) < 0)
		return bderr_prefix(err, "webhook");
	CURL *h = curl_easy_init();
	if (h == NULL)
		return bderr_set(err, "webhook: cannot initialise libcurl");
	long delay = d->retry_delay;
	int rc = -1;
	for (int i = 1; i <= d->attempts; i++) {
		int retry;
		if (post_once(h, url, body, d->timeout, &retry, err) == 0) {
			rc = 0;
			break;
		}
		if (!retry || i == d->attempts) {
			bderr_prefix(err, "gave up after %d attempt%s", i, plural_s(i));
			break;
		}
		sleep((unsigned)delay);
		delay *= 2;
	}
	curl_easy_cleanup(h);
	return rc;
}
