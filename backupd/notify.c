#include "backupd/notify.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "archive/manifest.h"
#include "common/lazylib.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/secret.h"
#include "common/version.h"

static const char *const type_names[] = { "webhook", "slack", "teams", "discord", "email",
					   "healthchecks" };

static int type_parse(const char *s, notify_type *out)
{
	for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
		if (s && strcmp(s, type_names[i]) == 0) {
			*out = (notify_type)i;
			return 0;
		}
	return -1;
}

static void target_free(notify_target *t)
{
	free(t->name);
	free(t->url);
	free(t->from);
	free(t->to);
	free(t->username);
	free(t->password_file);
}

void notify_set_free(notify_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		target_free(&s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* smtp://host[:port] or smtps://...: only a host, no credentials in it */
static int smtp_url_check(const char *url)
{
	const char *a = NULL;
	if (strncasecmp(url, "smtp://", 7) == 0)
		a = url + 7;
	else if (strncasecmp(url, "smtps://", 8) == 0)
		a = url + 8;
	return a && *a && *a != '/' && strchr(a, '@') == NULL && strpbrk(url, " \t\r\n") == NULL
		       ? 0
		       : -1;
}

/* One [notify:NAME] section into t; errors name FILE:LINE and the key. */
static int target_from_section(const config *cfg, const config_section *s, notify_target *t,
			       bderr *err)
{
	memset(t, 0, sizeof *t);
	const char *type = config_get(s, "type");
	if (type == NULL)
		return config_error(cfg, s, "type", err,
				    "missing in [notify:%s]: webhook, slack, teams, discord, email or healthchecks",
				    s->name);
	if (type_parse(type, &t->type) < 0)
		return config_error(cfg, s, "type", err,
				    "must be webhook, slack, teams, discord, email or healthchecks, got '%s'",
				    type);
	const char *on = config_get(s, "on");
	t->on = WEBHOOK_ON_ALWAYS;
	if (on && webhook_on_parse(on, &t->on) < 0)
		return config_error(cfg, s, "on", err, "must be failure, success or always, got '%s'", on);
	const char *url = config_get(s, "url");
	if (url == NULL)
		return config_error(cfg, s, "url", err, "missing in [notify:%s]", s->name);
	bderr e;
	bderr_init(&e);
	if (t->type == NOTIFY_EMAIL) {
		if (smtp_url_check(url) < 0)
			return config_error(cfg, s, "url", err,
					    "must be smtp://HOST[:PORT] or smtps://HOST[:PORT] (credentials go in username and password-file)");
		const char *from = config_get(s, "from"), *to = config_get(s, "to");
		if (from == NULL)
			return config_error(cfg, s, "from", err, "missing in [notify:%s] (type = email)", s->name);
		if (to == NULL)
			return config_error(cfg, s, "to", err, "missing in [notify:%s] (type = email)", s->name);
		int starttls = 1;
		if (config_get_bool(cfg, s, "starttls", 1, &starttls, err) < 0)
			return -1;
		if (config_get(s, "password-file") && config_get(s, "username") == NULL)
			return config_error(cfg, s, "username", err, "missing: password-file needs a username");
		t->from = xstrdup(from);
		t->to = xstrdup(to);
		t->username = config_get(s, "username") ? xstrdup(config_get(s, "username")) : NULL;
		t->password_file = config_get(s, "password-file") ? xstrdup(config_get(s, "password-file")) : NULL;
		t->starttls = starttls;
	} else {
		if (webhook_url_check(url, &e) < 0)
			return config_error(cfg, s, "url", err, "%s", e.msg);
		static const char *email_only[] = { "from", "to", "username", "password-file", "starttls" };
		for (size_t i = 0; i < sizeof email_only / sizeof *email_only; i++)
			if (config_get(s, email_only[i]))
				return config_error(cfg, s, email_only[i], err, "only applies to type = email");
	}
	t->url = xstrdup(url);
	t->name = xstrdup(s->name);
	return 0;
}

int notify_check_config(const config *cfg, bderr *err)
{
	for (size_t i = 0; cfg && i < cfg->n_sections; i++) {
		const config_section *s = &cfg->sections[i];
		if (strcmp(s->type, "notify") != 0)
			continue;
		notify_target t;
		int rc = target_from_section(cfg, s, &t, err);
		target_free(&t);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static void push(notify_set *out, const notify_target *t)
{
	out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
	out->v[out->n++] = *t;
}

int notify_set_for_job(const config *cfg, const config_section *js, const char *legacy_url,
		       webhook_on legacy_on, notify_set *out, bderr *err)
{
	memset(out, 0, sizeof *out);
	const char *list = config_get(js, "notify");
	if (list) {
		char *copy = xstrdup(list), *save = NULL;
		for (char *w = strtok_r(copy, " ,\t", &save); w; w = strtok_r(NULL, " ,\t", &save)) {
			const config_section *s = config_find(cfg, "notify", w);
			notify_target t;
			if (s == NULL) {
				config_error(cfg, js, "notify", err, "no [notify:%s] in the configuration", w);
				free(copy);
				notify_set_free(out);
				return -1;
			}
			if (target_from_section(cfg, s, &t, err) < 0) {
				target_free(&t);
				free(copy);
				notify_set_free(out);
				return -1;
			}
			push(out, &t);
		}
		free(copy);
	} else {
		for (size_t i = 0; cfg && i < cfg->n_sections; i++) {
			const config_section *s = &cfg->sections[i];
			if (strcmp(s->type, "notify") != 0)
				continue;
			notify_target t;
			if (target_from_section(cfg, s, &t, err) < 0) {
				target_free(&t);
				notify_set_free(out);
				return -1;
			}
			push(out, &t);
		}
	}
	if (legacy_url) {
		notify_target t = { .name = xstrdup("webhook-url"), .type = NOTIFY_WEBHOOK,
				    .on = legacy_on, .url = xstrdup(legacy_url) };
		push(out, &t);
	}
	return 0;
}

int notify_set_for_run(const config *cfg, const config_section *js, notify_set *out, bderr *err)
{
	const config_section *g = config_find(cfg, "global", NULL);
	const config_section *us = config_get(js, "webhook-url") ? js : g;
	const config_section *os = config_get(js, "webhook-on") ? js : g;
	const char *url = config_get(us, "webhook-url"), *on = config_get(os, "webhook-on");
	webhook_on w = WEBHOOK_ON_ALWAYS;
	bderr e;
	bderr_init(&e);
	if (url && webhook_url_check(url, &e) < 0)
		return config_error(cfg, us, "webhook-url", err, "%s", e.msg);
	if (on && webhook_on_parse(on, &w) < 0)
		return config_error(cfg, os, "webhook-on", err,
				    "must be failure, success or always, got '%s'", on);
	if (notify_check_config(cfg, err) < 0)
		return -1;
	return notify_set_for_job(cfg, js, url && *url ? url : NULL, w, out, err);
}

static int wants(const notify_target *t, int start, int ok)
{
	if (start)
		return t->type == NOTIFY_HEALTHCHECKS;
	/* a healthchecks check expects its success pings: on only limits the others */
	if (t->type == NOTIFY_HEALTHCHECKS)
		return 1;
	return (t->on & (ok ? WEBHOOK_ON_SUCCESS : WEBHOOK_ON_FAILURE)) != 0;
}

int notify_wanted(const notify_set *s, int start, int ok)
{
	for (size_t i = 0; i < s->n; i++)
		if (wants(&s->v[i], start, ok))
			return 1;
	return 0;
}

char *notify_text(const webhook_run *r)
{
	long duration = (long)(r->finished > r->started ? r->finished - r->started : 0);
	if (r->ok)
		return xasprintf("backupd job %s on %s: success, backup %s, %" PRIu64
				 " bytes stored, %" PRIu64 " rows, in %lds (attempt %ld)",
				 r->job, r->hostname ? r->hostname : "?",
				 r->backup_id ? r->backup_id : "-", r->bytes, r->rows, duration,
				 r->attempt);
	return xasprintf("backupd job %s on %s: FAILED after %lds (attempt %ld): %s", r->job,
			 r->hostname ? r->hostname : "?", duration, r->attempt,
			 r->error ? r->error : "unknown error");
}

/* Chat formats: what each service's incoming webhook shows as a message. */
static char *chat_body(notify_type type, const webhook_run *r)
{
	char *text = notify_text(r);
	json_t *o = NULL;
	if (type == NOTIFY_SLACK) {
		o = json_pack("{s:s}", "text", text);
	} else if (type == NOTIFY_DISCORD) {
		o = json_pack("{s:s, s:s}", "username", "backupd", "content", text);
	} else { /* teams: an Office 365 connector card */
		char *title = xasprintf("backupd job %s: %s", r->job, r->ok ? "success" : "failure");
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "@type", "MessageCard", "@context",
			      "https://schema.org/extensions", "summary", title, "themeColor",
			      r->ok ? "2EB886" : "D50000", "title", title, "text", text);
		free(title);
	}
	char *body = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(o);
	free(text);
	return body ? body : xstrdup("{}");
}

typedef struct mail_reader {
	const char *data;
	size_t len, pos;
} mail_reader;

static size_t mail_read(char *buf, size_t size, size_t n, void *ctx)
{
	mail_reader *m = ctx;
	size_t room = size * n, left = m->len - m->pos;
	size_t k = left < room ? left : room;
	memcpy(buf, m->data + m->pos, k);
	m->pos += k;
	return k;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static int send_email(const notify_target *t, const webhook_run *r, bderr *err)
{
	if (lazy_curl_load(err) < 0)
		return bderr_prefix(err, "[notify:%s]", t->name);
	char *password = NULL;
	if (t->password_file && secret_read_file(t->password_file, &password, err) < 0)
		return -1;
	char *text = notify_text(r);
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	char *msg = xasprintf("Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: [backupd] job %s: %s\r\n"
			      "Content-Type: text/plain; charset=utf-8\r\n"
			      "X-Mailer: backupd/" BACKUPD_VERSION "\r\n\r\n%s\r\n",
			      date, t->from, t->to, r->job, r->ok ? "success" : "FAILED", text);
	free(text);
	struct curl_slist *rcpt = NULL;
	char *to = xstrdup(t->to), *save = NULL;
	for (char *w = strtok_r(to, " ,\t", &save); w; w = strtok_r(NULL, " ,\t", &save))
		rcpt = curl_slist_append(rcpt, w);
	free(to);
	int rc = -1;
	CURL *h = curl_easy_init();
	if (h == NULL) {
		bderr_set(err, "[notify:%s]: cannot initialise libcurl", t->name);
		goto out;
	}
	mail_reader m = { msg, strlen(msg), 0 };
	curl_easy_setopt(h, CURLOPT_URL, t->url);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, t->from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, mail_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &m);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	/* smtp://: STARTTLS is required unless starttls = no; smtps:// is TLS from the start */
	if (t->starttls)
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (t->username)
		curl_easy_setopt(h, CURLOPT_USERNAME, t->username);
	if (password)
		curl_easy_setopt(h, CURLOPT_PASSWORD, password);
	CURLcode c = curl_easy_perform(h);
	if (c != CURLE_OK)
		bderr_set(err, "[notify:%s]: email not sent: %s", t->name, curl_easy_strerror(c));
	else
		rc = 0;
	curl_easy_cleanup(h);
out:
	curl_slist_free_all(rcpt);
	free(msg);
	secret_free(password);
	return rc;
}

static int send_one(const notify_target *t, const webhook_run *r, int start, bderr *err)
{
	webhook_delivery d = WEBHOOK_DELIVERY_DEFAULT;
	char *body = NULL, *url = NULL;
	int rc;
	switch (t->type) {
	case NOTIFY_EMAIL:
		return send_email(t, r, err);
	case NOTIFY_HEALTHCHECKS: {
		/* https://hc-ping.com/UUID[/start|/fail]: the body is the log excerpt hc shows */
		size_t len = strlen(t->url);
		const char *slash = len && t->url[len - 1] == '/' ? "" : "/";
		url = start ? xasprintf("%s%sstart", t->url, slash)
			    : r->ok ? xstrdup(t->url) : xasprintf("%s%sfail", t->url, slash);
		body = start ? xasprintf("backupd job %s: started", r->job) : notify_text(r);
		break;
	}
	case NOTIFY_WEBHOOK:
		body = webhook_payload(r);
		break;
	default:
		body = chat_body(t->type, r);
		break;
	}
	rc = webhook_post(url ? url : t->url, body, &d, err);
	/* the legacy webhook-url keeps its messages: "job J: gave up after 3 attempts: webhook ..." */
	if (rc < 0 && strcmp(t->name, "webhook-url") != 0)
		bderr_prefix(err, "[notify:%s]", t->name);
	free(url);
	free(body);
	return rc;
}

int notify_send(const notify_set *s, const webhook_run *run, int start)
{
	int failed = 0;
	for (size_t i = 0; i < s->n; i++) {
		const notify_target *t = &s->v[i];
		if (!wants(t, start, run->ok))
			continue;
		bderr err;
		bderr_init(&err);
		if (send_one(t, run, start, &err) < 0) {
			log_warn("job %s: %s (the run itself is not affected)", run->job, err.msg);
			failed++;
		} else {
			log_debug("job %s: [notify:%s] (%s) delivered", run->job, t->name,
				  type_names[t->type]);
		}
	}
	return failed;
}
