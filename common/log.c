#include "common/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static struct {
	const char *prog;
	log_level level;
	log_format format;
	int journal; /* stderr is systemd's journal stream: priority prefixes */
	const char *job;
	pthread_mutex_t lock;
	char status[512]; /* the terminal's progress line ("": none), redrawn below each log line */
} log_sink = { "backupd", LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 0, NULL, PTHREAD_MUTEX_INITIALIZER, "" };

int log_detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	log_sink.journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
			   fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
			   (unsigned long long)st.st_ino == ino;
	return log_sink.journal;
}

void log_init(const char *prog, log_level level)
{
	log_sink.prog = prog;
	log_sink.level = level;
	log_detect_journal();
}

int log_format_parse(const char *name, log_format *out)
{
	if (strcmp(name, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(name, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

void log_set_format(log_format f)
{
	log_sink.format = f;
}

void log_set_job(const char *job)
{
	log_sink.job = job;
}

log_level log_get_level(void)
{
	return log_sink.level;
}

const char *log_prog(void)
{
	return log_sink.prog;
}

int log_level_parse(const char *name, log_level *out)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(name, names[i]) == 0) {
			*out = (log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

/* Replaces [from, to) with "***" (or nothing when too short to hold it). */
static void mask_span(char *from, char *to)
{
	size_t tail = strlen(to);
	if (to - from >= 3) {
		memcpy(from, "***", 3);
		memmove(from + 3, to, tail + 1);
	} else {
		memmove(from, to, tail + 1);
	}
}

static int is_stop(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\'' || c == '"';
}

/* [from, to) is a port: digits, at least one */
static int is_port(const char *from, const char *to)
{
	if (from >= to)
		return 0;
	for (; from < to; from++)
		if (*from < '0' || *from > '9')
			return 0;
	return 1;
}

/*
 * scheme://user:password@host: the password runs from the userinfo's first
 * ':' to the authority's last '@' (an unescaped '@' in it must not leave its
 * tail behind).  The authority ends at the first '/', '?' or '#': an '@'
 * after it (a query's value, a nested URL) is not the userinfo's, so an empty
 * password ("user:@host:port/db?x=a@b") stays empty and a host:port is not
 * taken for one.  Only when the authority has no '@' and its ':' is not
 * followed by a port can a password have run past an unescaped '/', '?' or
 * '#' ("user:pa/ss@host"): then its end is the token's last '@'.
 */
static void redact_uris(char *s)
{
	for (char *p = strstr(s, "://"); p; p = strstr(p, "://")) {
		char *auth = p + 3;
		char *end = auth;
		while (!is_stop(*end))
			end++;
		char *auth_end = auth + strcspn(auth, "/?#");
		if (auth_end > end)
			auth_end = end;
		char *at = NULL;
		for (char *q = auth; q < auth_end; q++)
			if (*q == '@')
				at = q;
		char *colon = memchr(auth, ':', (size_t)((at ? at : auth_end) - auth));
		if (at == NULL && colon && !is_port(colon + 1, auth_end))
			for (char *q = auth_end; q < end; q++)
				if (*q == '@')
					at = q;
		p = auth;
		if (at && colon && at > colon + 1)
			mask_span(colon + 1, at);
	}
}

/* key = value, key='quoted value', key=value&... in conninfo strings and URIs */
static void redact_key(char *s, const char *key)
{
	size_t kl = strlen(key);
	for (char *p = strcasestr(s, key); p; p = strcasestr(p + 1, key)) {
		char *v = p + kl;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != '=')
			continue;
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		char *end;
		if (*v == '\'') {
			v++;
			end = v;
			while (*end && *end != '\'') {
				if (*end == '\\' && end[1])
					end++;
				end++;
			}
		} else {
			end = v;
			while (!is_stop(*end) && *end != '&')
				end++;
		}
		if (end > v)
			mask_span(v, end);
	}
}

void log_redact(char *s)
{
	redact_uris(s);
	static const char *keys[] = { "password", "secret-access-key", "secret_access_key",
				      "session-token", "session_token", NULL };
	for (int k = 0; keys[k]; k++)
		redact_key(s, keys[k]);
}

static void log_emit(log_level level, const char *fmt, va_list ap)
{
	static const char *tags[] = { "error", "warning", "info", "debug" };
	static const int priorities[] = { 3, 4, 6, 7 }; /* syslog: err, warning, info, debug */
	if (level > log_sink.level)
		return;
	char msg[4096];
	vsnprintf(msg, sizeof msg, fmt, ap);
	log_redact(msg);
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	char prio[8] = "";
	if (log_sink.journal)
		snprintf(prio, sizeof prio, "<%d>", priorities[level]);
	char *line = NULL;
	if (log_sink.format == LOG_FORMAT_JSON) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "time", ts, "level", tags[level],
				      "program", log_sink.prog, "message", msg);
		if (o && log_sink.job)
			json_object_set_new(o, "job", json_string(log_sink.job));
		/* a message that is not UTF-8 cannot be a JSON string: keep the text line */
		line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
	}
	pthread_mutex_lock(&log_sink.lock);
	if (log_sink.status[0])
		fputs("\r\033[K", stderr); /* the progress line makes room, and comes back below */
	/* errors keep the contract's "backupd: what: why", behind the timestamp */
	if (line)
		fprintf(stderr, "%s%s\n", prio, line);
	else if (level == LOG_LEVEL_ERROR)
		fprintf(stderr, "%s%s %s: %s\n", prio, ts, log_sink.prog, msg);
	else
		fprintf(stderr, "%s%s %s %s: %s\n", prio, ts, log_sink.prog, tags[level], msg);
	if (log_sink.status[0])
		fputs(log_sink.status, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_sink.lock);
	free(line);
}

#define LOG_FN(name, lvl)                          \
	void name(const char *fmt, ...)            \
	{                                          \
		va_list ap;                        \
		va_start(ap, fmt);                 \
		log_emit(lvl, fmt, ap);            \
		va_end(ap);                        \
	}

LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

void log_status_line(const char *line)
{
	pthread_mutex_lock(&log_sink.lock);
	if (line == NULL || *line == '\0') {
		if (log_sink.status[0])
			fputs("\r\033[K", stderr);
		log_sink.status[0] = '\0';
	} else {
		/* one row only: a wrapped line could not be redrawn in place */
		struct winsize ws;
		size_t cols = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col
											  : 80;
		snprintf(log_sink.status, sizeof log_sink.status, "%.*s", (int)(cols - 1), line);
		log_redact(log_sink.status);
		fprintf(stderr, "\r%s\033[K", log_sink.status);
	}
	fflush(stderr);
	pthread_mutex_unlock(&log_sink.lock);
}
