#include "archive/s3/s3.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "archive/filter.h"
#include "archive/repo.h"
#include "archive/s3/credentials.h"
#include "archive/s3/sigv4.h"
#include "archive/s3/xml.h"
#include "common/lazylib.h"
#include "common/log.h"
#include "common/mem.h"

/* Claims of put_new are named <path><CLAIM_INFIX><random hex>. */
#define CLAIM_INFIX ".claim-"
/* Objects up to this size are one PUT; larger ones a multipart upload. */
#define PART_SIZE_MIN ((size_t)16 << 20)
/* S3's limits: 10,000 parts of at most 5 GiB each */
#define PART_SIZE_MAX ((size_t)5 << 30)
#define PARTS_MAX 10000
/* Read-ahead of a streaming GET: bounds a reader's memory. */
#define READ_BUFFER ((size_t)1 << 20)
/* Error documents and listing pages are small; anything bigger is not S3. */
#define RESPONSE_MAX ((size_t)16 << 20)
/*
 * Retries: exponential backoff from 100 ms, capped at 5 s between attempts,
 * until the failures have lasted retry-max-time (60 s unless the URL says
 * otherwise): long enough to ride out a server restart or a network blip.
 */
#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 5000
#define RETRY_MAX_TIME_DEFAULT 60
#define RETRY_MAX_TIME_MAX 86400
/* Parts of one multipart upload in flight at once, unless the URL says otherwise. */
#define UPLOAD_CONCURRENCY_DEFAULT 4
#define UPLOAD_CONCURRENCY_MAX 64
/* Idle handles (and so open connections) kept per storage, of each kind. */
#define POOL_MAX 64

typedef struct s3_storage {
	storage base;
	char *bucket;
	char *prefix;   /* "" or ending in '/' */
	char *region;
	char *origin;   /* "scheme://host[:port]" the requests go to */
	char *host;     /* the Host header, signed */
	char *bucket_path; /* "/bucket" (path style) or "" (virtual host style) */
	s3_creds *creds; /* the credential chain's pick, refreshed as it expires */
	long retry_max_ms; /* how long consecutive failures are retried */
	char *sse;            /* x-amz-server-side-encryption, or NULL */
	char *sse_kms_key_id; /* with sse = aws:kms, or NULL */
	char *storage_class;  /* x-amz-storage-class, or NULL */
	atomic_int bucket_seen; /* a listing of the bucket succeeded: see bucket_answers */
	char *ca_file;
	int tls_verify;
	int upload_concurrency; /* K: parts of one upload in flight at once */
	CURLSH *share; /* DNS cache and TLS sessions */
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	/* idle handles, each keeping its open connections: see handle_get */
	pthread_mutex_t pool_mu;
	CURL *idle_easy[POOL_MAX];
	int n_idle_easy;
	CURLM *idle_multi[POOL_MAX];
	int n_idle_multi;
} s3_storage;

/* --- one-time process init, connection sharing -------------------------- */

static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
	(void)h;
	(void)access;
	s3_storage *s = ctx;
	pthread_mutex_lock(&s->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
	(void)h;
	s3_storage *s = ctx;
	pthread_mutex_unlock(&s->locks[data]);
}

/*
 * Connection reuse across threads.  libcurl does not support sharing its
 * connection cache (CURL_LOCK_DATA_CONNECT) between concurrent threads, even
 * with lock callbacks, so the share holds only the DNS cache and TLS
 * sessions.  Connections are reused through handles instead: an easy handle
 * (for perform()) or a multi handle (for a streaming GET) keeps its own
 * connections after a transfer, and goes back to a mutex-guarded pool from
 * which the next request, on whatever thread, takes it.  A handle is only
 * ever used by one thread at a time, which libcurl does support.
 */
static CURL *handle_get(s3_storage *s)
{
	CURL *c = NULL;
	pthread_mutex_lock(&s->pool_mu);
	if (s->n_idle_easy > 0)
		c = s->idle_easy[--s->n_idle_easy];
	pthread_mutex_unlock(&s->pool_mu);
	if (c == NULL && (c = curl_easy_init()) == NULL)
		abort(); /* curl_easy_init fails only without memory */
	return c;
}

/* keep: the transfer ended cleanly, its connection is worth reusing */
static void handle_put(s3_storage *s, CURL *c, int keep)
{
	/* drops every option (pointers into the caller's stack), keeps the connections */
	curl_easy_reset(c);
	pthread_mutex_lock(&s->pool_mu);
	if (keep && s->n_idle_easy < POOL_MAX) {
		s->idle_easy[s->n_idle_easy++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&s->pool_mu);
	if (c)
		curl_easy_cleanup(c);
}

static CURLM *multi_get(s3_storage *s)
{
	CURLM *m = NULL;
	pthread_mutex_lock(&s->pool_mu);
	if (s->n_idle_multi > 0)
		m = s->idle_multi[--s->n_idle_multi];
	pthread_mutex_unlock(&s->pool_mu);
	if (m == NULL && (m = curl_multi_init()) == NULL)
		abort();
	return m;
}

/* m has no easy handle left in it */
static void multi_put(s3_storage *s, CURLM *m, int keep)
{
	pthread_mutex_lock(&s->pool_mu);
	if (keep && s->n_idle_multi < POOL_MAX) {
		s->idle_multi[s->n_idle_multi++] = m;
		m = NULL;
	}
	pthread_mutex_unlock(&s->pool_mu);
	if (m)
		curl_multi_cleanup(m);
}

/* --- requests ------------------------------------------------------------- */

typedef struct s3_req {
	const char *method;
	const char *key; /* full object key, or NULL for the bucket */
	const sigv4_pair *query;
	size_t nquery;
	const sigv4_pair *headers; /* extra headers, signed */
	size_t nheaders;
	const void *body; /* sent when has_body */
	size_t body_len;
	int has_body;
	/* when set and non-zero, the request stops (no retry): a sibling part failed */
	const atomic_int *cancel;
	/* response */
	long status;
	strbuf resp;
	char etag[128];
	int resp_overflow;
} s3_req;

static size_t collect_body(char *data, size_t size, size_t n, void *ctx)
{
	s3_req *rq = ctx;
	size_t len = size * n;
	if (rq->resp.len + len > RESPONSE_MAX) {
		rq->resp_overflow = 1;
		return 0;
	}
	strbuf_append(&rq->resp, data, len);
	return len;
}

/* Remembers the ETag; a new status line (redirect, 100) starts over. */
static size_t collect_header(char *data, size_t size, size_t n, void *ctx)
{
	char *etag = ctx;
	size_t len = size * n;
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		etag[0] = '\0';
	} else if (len > 5 && strncasecmp(data, "etag:", 5) == 0) {
		const char *v = data + 5;
		size_t vl = len - 5;
		while (vl && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl < 128) {
			memcpy(etag, v, vl);
			etag[vl] = '\0';
		}
	}
	return len;
}

static char *object_path(const s3_storage *s, const char *key)
{
	return xasprintf("%s/%s", s->bucket_path, key ? key : "");
}

/*
 * Sets up the easy handle c for rq, signed.  The URL's path and query are
 * encoded by the same functions the signature uses, so what is signed is
 * what is sent.
 */
static void prepare(s3_storage *s, CURL *c, const s3_req *rq, const aws_creds *cr,
		    struct curl_slist **hl, char *errbuf)
{
	char *path = object_path(s, rq->key);
	strbuf url;
	strbuf_init(&url);
	strbuf_appends(&url, s->origin);
	sigv4_uri_encode(&url, path, 1);
	if (rq->nquery) {
		char *q = sigv4_canonical_query(rq->query, rq->nquery);
		strbuf_appendf(&url, "?%s", q);
		free(q);
	}

	char date[17];
	sigv4_amz_date(time(NULL), date);
	char payload[65];
	if (rq->has_body)
		sha256_hex(rq->body ? rq->body : "", rq->body_len, payload);
	else
		strcpy(payload, SIGV4_EMPTY_SHA256);

	size_t nh = rq->nheaders + 4;
	sigv4_pair *h = xcalloc(nh, sizeof *h);
	size_t k = 0;
	h[k++] = (sigv4_pair){ "host", s->host };
	h[k++] = (sigv4_pair){ "x-amz-date", date };
	h[k++] = (sigv4_pair){ "x-amz-content-sha256", payload };
	if (cr->session_token)
		h[k++] = (sigv4_pair){ "x-amz-security-token", cr->session_token };
	for (size_t i = 0; i < rq->nheaders; i++)
		h[k++] = rq->headers[i];
	sigv4_request sr = { rq->method, path, rq->query, rq->nquery, h, k, payload };
	sigv4_scope sc = { cr->access_key_id, cr->secret_access_key, s->region, "s3", date };
	char *auth = sigv4_authorization(&sr, &sc);

	struct curl_slist *list = NULL;
	for (size_t i = 0; i < k; i++) {
		char *line = xasprintf("%s: %s", h[i].name, h[i].value ? h[i].value : "");
		list = curl_slist_append(list, line);
		OPENSSL_cleanse(line, strlen(line)); /* may hold the session token */
		free(line);
	}
	char *line = xasprintf("Authorization: %s", auth);
	list = curl_slist_append(list, line);
	free(line);
	free(auth);
	/* no 100-continue round trip; S3 answers errors after the body anyway */
	list = curl_slist_append(list, "Expect:");
	if (rq->has_body)
		list = curl_slist_append(list, "Content-Type: application/octet-stream");
	if (list == NULL)
		abort(); /* curl_slist_append fails only without memory */
	free(h);
	free(path);

	curl_easy_setopt(c, CURLOPT_URL, url.data);
	strbuf_free(&url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_SHARE, s->share);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	/* keys are never '.' or '..'; keep curl from rewriting what was signed */
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* a stalled connection counts as a timeout, which is retried */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, s->tls_verify ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, s->tls_verify ? 2L : 0L);
	if (s->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
	if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	if (rq->has_body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
	}
	*hl = list;
}

static int cancel_check(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load((const atomic_int *)ctx) ? 1 : 0;
}

/* Transport failures worth another attempt: the network, not the request. */
static int transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* The error document's Code and Message, when the body is one (else both NULL). */
static void error_doc(const char *body, size_t len, s3_xml_error *e)
{
	bderr ignored;
	bderr_init(&ignored);
	if (body == NULL || len == 0 || s3_xml_parse_error(body, len, e, &ignored) < 0)
		memset(e, 0, sizeof *e);
}

static int transient_status(long status, const char *body, size_t len)
{
	if (status >= 500 || status == 429)
		return 1;
	s3_xml_error e;
	error_doc(body, len, &e);
	const char *code = e.code;
	int r = code && (strcmp(code, "SlowDown") == 0 || strcmp(code, "RequestTimeout") == 0 ||
			 strcmp(code, "InternalError") == 0);
	s3_xml_error_clear(&e);
	return r;
}

/* A run of consecutive failures of one request, and its time budget. */
typedef struct retry_clock {
	struct timespec start; /* of the first failure */
	int failures;
	unsigned seed;
	int renewed; /* credentials were fetched anew after an ExpiredToken */
} retry_clock;

/*
 * S3 refused temporary credentials as expired (a clock skew, or a token
 * revoked early): they are fetched anew and the request sent again at once,
 * once per request.  Returns 1 when that is what to do.
 */
static int renew_expired(s3_storage *s, retry_clock *rc, long status, const char *body,
			 size_t len)
{
	if (rc->renewed || (status != 400 && status != 403))
		return 0;
	s3_xml_error e;
	error_doc(body, len, &e);
	int expired = e.code && (strcmp(e.code, "ExpiredToken") == 0 ||
				 strcmp(e.code, "TokenRefreshRequired") == 0);
	s3_xml_error_clear(&e);
	if (!expired || !s3_creds_invalidate(s->creds))
		return 0;
	rc->renewed = 1;
	return 1;
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void retry_init(retry_clock *rc, const void *p)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	rc->failures = 0;
	rc->renewed = 0;
	rc->seed = (unsigned)ts.tv_nsec ^ (unsigned)(uintptr_t)p ^ (unsigned)ts.tv_sec;
}

/*
 * After a transient failure: waits and returns 1 when the budget allows
 * another attempt, 0 when the failures have lasted retry-max-time.  The wait
 * doubles from BACKOFF_BASE_MS up to BACKOFF_CAP_MS, with jitter (half to all
 * of it) so parallel requests do not retry in step; the last one is cut to
 * land on the end of the budget.
 */
static int retry_wait(const s3_storage *s, retry_clock *rc, const bderr *why)
{
	if (rc->failures++ == 0) {
		clock_gettime(CLOCK_MONOTONIC, &rc->start);
		/* once per run of failures: the operator sees an outage being ridden out */
		if (s->retry_max_ms > 0)
			log_warn("%s; retrying for up to %ld s", why->msg, s->retry_max_ms / 1000);
	}
	long left = s->retry_max_ms - elapsed_ms(&rc->start);
	if (left <= 0)
		return 0;
	int shift = rc->failures - 1 < 16 ? rc->failures - 1 : 16;
	long cap = (long)BACKOFF_BASE_MS << shift;
	if (cap > BACKOFF_CAP_MS)
		cap = BACKOFF_CAP_MS;
	long ms = cap / 2 + (long)(rand_r(&rc->seed) % (unsigned)(cap / 2 + 1));
	if (ms > left)
		ms = left;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 1;
}

/* "s3 PUT 'bucket/key' failed: 403 AccessDenied: Access Denied" */
static int http_error(const s3_storage *s, const char *method, const char *key, long status,
		      const char *body, size_t len, bderr *err)
{
	s3_xml_error e;
	error_doc(body, len, &e);
	const char *code = e.code, *msg = e.message;
	const char *dflt = status == 404 ? "NotFound" : status == 403 ? "AccessDenied" : "Error";
	bderr_set(err, "s3 %s '%s/%s' failed: %ld %s%s%s", method, s->bucket, key ? key : "",
		  status, code ? code : dflt, msg ? ": " : "", msg ? msg : "");
	/* a missing bucket is a broken configuration, not an absent object */
	if (status == 404 && !(code && strcmp(code, "NoSuchBucket") == 0))
		err->sys_errno = ENOENT;
	else if (status == 403)
		err->sys_errno = EACCES;
	s3_xml_error_clear(&e);
	return -1;
}

static void note_attempts(bderr *err, const retry_clock *rc)
{
	char msg[BDERR_MSG_MAX];
	int e = err->sys_errno;
	memcpy(msg, err->msg, sizeof msg);
	bderr_set(err, "%.900s (after %d attempts over %.1f s)", msg, rc->failures,
		  (double)elapsed_ms(&rc->start) / 1000.0);
	err->sys_errno = e;
}

/*
 * Runs rq to completion with retries.  Returns 0 once S3 answered with a
 * status that is not worth retrying (the caller judges it), -1 when the
 * transport kept failing or the answer kept being transient.
 */
static int perform(s3_storage *s, s3_req *rq, bderr *err)
{
	retry_clock clock;
	retry_init(&clock, rq);
	strbuf_init(&rq->resp);
	for (;;) {
		char errbuf[CURL_ERROR_SIZE] = "";
		struct curl_slist *hl;
		strbuf_reset(&rq->resp);
		rq->etag[0] = '\0';
		rq->resp_overflow = 0;
		aws_creds cr;
		if (s3_creds_get(s->creds, &cr, err) < 0)
			return -1;
		CURL *c = handle_get(s);
		prepare(s, c, rq, &cr, &hl, errbuf);
		aws_creds_clear(&cr);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, rq);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, rq->etag);
		if (rq->cancel) {
			curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, cancel_check);
			curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)rq->cancel);
			curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		}
		CURLcode rc = curl_easy_perform(c);
		rq->status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rq->status);
		int retry;
		if (rc == CURLE_WRITE_ERROR && rq->resp_overflow) {
			handle_put(s, c, 0);
			curl_slist_free_all(hl);
			return bderr_set(err, "s3 %s '%s/%s' failed: response larger than %zu bytes",
					 rq->method, s->bucket, rq->key ? rq->key : "", RESPONSE_MAX);
		}
		if (rc != CURLE_OK) {
			retry = transient_curl(rc);
			bderr_set(err, "s3 %s '%s/%s' failed: %s", rq->method, s->bucket,
				  rq->key ? rq->key : "", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		} else {
			retry = transient_status(rq->status, rq->resp.data, rq->resp.len);
			if (retry)
				http_error(s, rq->method, rq->key, rq->status, rq->resp.data, rq->resp.len,
					   err);
			else if (renew_expired(s, &clock, rq->status, rq->resp.data, rq->resp.len))
				retry = 2; /* at once, outside the backoff budget */
		}
		if (rc == CURLE_OK && strcmp(rq->method, "HEAD") == 0 && rq->status == 200) {
			/* the caller reads size and time from the handle's info: keep them */
			curl_off_t len = -1, ft = -1;
			curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
			curl_easy_getinfo(c, CURLINFO_FILETIME_T, &ft);
			strbuf_reset(&rq->resp);
			strbuf_appendf(&rq->resp, "%" CURL_FORMAT_CURL_OFF_T " %" CURL_FORMAT_CURL_OFF_T,
				       len, ft);
		}
		handle_put(s, c, rc == CURLE_OK);
		curl_slist_free_all(hl);
		if (!retry && rc == CURLE_OK)
			return 0;
		if (rq->cancel && atomic_load(rq->cancel)) {
			bderr_set(err, "s3 %s '%s/%s' cancelled", rq->method, s->bucket,
				  rq->key ? rq->key : "");
			return -1;
		}
		if (!retry)
			return -1;
		if (retry == 1 && !retry_wait(s, &clock, err)) {
			note_attempts(err, &clock);
			return -1;
		}
	}
}

/* --- paths --------------------------------------------------------------- */

/* Same rules as the posix driver, so a repository moves between them. */
static int check_path(const s3_storage *s, const char *path, int is_prefix, bderr *err)
{
	return storage_path_check(s->base.url, path, is_prefix, err);
}

static char *full_key(const s3_storage *s, const char *path)
{
	return xasprintf("%s%s", s->prefix, path);
}

/* --- reading: a curl_multi transfer pumped from read() ---------------------- */

typedef struct s3_reader {
	reader base;
	s3_storage *s;
	char *key;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hl;
	char errbuf[CURL_ERROR_SIZE];
	char etag[128];     /* of the first response: a resumed GET must match it */
	char new_etag[128]; /* of the current response */
	char *buf;
	size_t len, off;
	uint64_t delivered; /* bytes handed to the caller and buffered */
	int paused;
	int done;
	int failed;
	int resuming; /* a Range request: only 206 is an answer */
	int clean_end; /* the whole object was read: the connection can serve another */
	CURLcode result;
	long status;
	strbuf errbody;
} s3_reader;

static int reader_status_ok(const s3_reader *r)
{
	return r->resuming ? r->status == 206 : r->status >= 200 && r->status < 300;
}

static size_t reader_body(char *data, size_t size, size_t n, void *ctx)
{
	s3_reader *r = ctx;
	size_t len = size * n;
	if (r->status == 0)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (!reader_status_ok(r)) {
		/* an error document: keep its start for the message */
		if (r->errbody.len < 65536)
			strbuf_append(&r->errbody, data, len);
		return len;
	}
	if (r->len - r->off >= READ_BUFFER) {
		r->paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	r->buf = xrealloc(r->buf, r->len + len);
	memcpy(r->buf + r->len, data, len);
	r->len += len;
	r->delivered += len;
	return len;
}

static void reader_stop(s3_reader *r)
{
	if (r->easy) {
		curl_multi_remove_handle(r->multi, r->easy);
		curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	curl_slist_free_all(r->hl);
	r->hl = NULL;
}

/* Starts (or resumes, with a Range from what was delivered) the GET. */
static int reader_start(s3_reader *r, bderr *err)
{
	aws_creds cr;
	if (s3_creds_get(r->s->creds, &cr, err) < 0)
		return -1;
	s3_req rq = { .method = "GET", .key = r->key };
	char *range = NULL;
	sigv4_pair h[2];
	if (r->delivered > 0) {
		range = xasprintf("bytes=%" PRIu64 "-", r->delivered);
		h[0] = (sigv4_pair){ "range", range };
		rq.nheaders = 1;
		/* the object must not change between the pieces */
		if (r->etag[0])
			h[rq.nheaders++] = (sigv4_pair){ "if-match", r->etag };
		rq.headers = h;
	}
	r->errbuf[0] = '\0';
	r->new_etag[0] = '\0';
	r->status = 0;
	r->done = 0;
	r->paused = 0;
	r->resuming = r->delivered > 0;
	strbuf_reset(&r->errbody);
	if ((r->easy = curl_easy_init()) == NULL)
		abort();
	prepare(r->s, r->easy, &rq, &cr, &r->hl, r->errbuf);
	aws_creds_clear(&cr);
	free(range);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, reader_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, collect_header);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r->new_etag);
	curl_multi_add_handle(r->multi, r->easy);
	return 0;
}

/* Drives the transfer until there is data to hand out or it ended. */
static void reader_pump(s3_reader *r)
{
	while (r->len == r->off && !r->done) {
		if (r->paused) {
			r->paused = 0;
			curl_easy_pause(r->easy, CURLPAUSE_CONT);
			if (r->len > r->off)
				break;
		}
		int running = 0;
		curl_multi_perform(r->multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
			if (m->msg == CURLMSG_DONE && m->easy_handle == r->easy) {
				r->done = 1;
				r->result = m->data.result;
				curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
			}
		}
		if (r->done || r->len > r->off || r->paused)
			continue;
		curl_multi_poll(r->multi, NULL, 0, 1000, NULL);
	}
}

/*
 * Runs until the first bytes arrive or the transfer ends; a transient
 * failure restarts it (resuming from what was already delivered) with
 * backoff.  Returns 0 when data or a clean end is available.
 */
static int reader_fill(s3_reader *r, bderr *err)
{
	retry_clock clock;
	retry_init(&clock, r);
	for (;;) {
		uint64_t before = r->delivered;
		reader_pump(r);
		if (r->len > r->off)
			return 0;
		/* done */
		int ok_status = reader_status_ok(r);
		if (r->result == CURLE_OK && ok_status) {
			if (r->etag[0] == '\0')
				memcpy(r->etag, r->new_etag, sizeof r->etag);
			return 0;
		}
		int retry;
		if (r->result != CURLE_OK && ok_status) {
			retry = transient_curl(r->result);
			bderr_set(err, "s3 GET '%s/%s' failed: %s", r->s->bucket, r->key,
				  r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result));
		} else if (r->result != CURLE_OK) {
			retry = transient_curl(r->result);
			bderr_set(err, "s3 GET '%s/%s' failed: %s", r->s->bucket, r->key,
				  r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result));
		} else {
			retry = transient_status(r->status, r->errbody.data, r->errbody.len);
			http_error(r->s, "GET", r->key, r->status, r->errbody.data, r->errbody.len, err);
			if (!retry &&
			    renew_expired(r->s, &clock, r->status, r->errbody.data, r->errbody.len))
				retry = 2; /* at once, outside the backoff budget */
			if (r->status == 412)
				bderr_prefix(err, "'%s/%s' changed while being read", r->s->bucket, r->key);
		}
		if (r->etag[0] == '\0' && ok_status)
			memcpy(r->etag, r->new_etag, sizeof r->etag);
		reader_stop(r);
		if (r->delivered > before)
			clock.failures = 0; /* progress: the budget is for consecutive failures */
		if (retry == 1 && !retry_wait(r->s, &clock, err)) {
			note_attempts(err, &clock);
			retry = 0;
		}
		if (!retry || reader_start(r, err) < 0) {
			r->failed = 1;
			return -1;
		}
	}
}

static int s3_read(reader *rd, void *buf, size_t cap, size_t *got, bderr *err)
{
	s3_reader *r = (s3_reader *)rd;
	*got = 0;
	if (r->failed)
		return bderr_set(err, "s3 GET '%s/%s' failed: read after an error", r->s->bucket,
				 r->key);
	if (r->len == r->off && r->easy) {
		if (reader_fill(r, err) < 0)
			return -1;
		if (r->len == r->off) {
			reader_stop(r); /* clean end */
			r->clean_end = 1;
			return 0;
		}
	}
	size_t n = r->len - r->off;
	if (n > cap)
		n = cap;
	memcpy(buf, r->buf + r->off, n);
	r->off += n;
	*got = n;
	return 0;
}

static void s3_reader_free(reader *rd)
{
	s3_reader *r = (s3_reader *)rd;
	reader_stop(r);
	/* a reader freed before the end may leave a half-read response on the connection */
	multi_put(r->s, r->multi, r->clean_end);
	free(r->buf);
	free(r->key);
	strbuf_free(&r->errbody);
	free(r);
}

static const reader_ops s3_reader_ops = { s3_read, s3_reader_free };

static int s3_open_read(storage *st, const char *path, reader **out, bderr *err)
{
	s3_storage *s = (s3_storage *)st;
	if (check_path(s, path, 0, err) < 0)
		return -1;
	s3_reader *r = xcalloc(1, sizeof *r);
	r->base.ops = &s3_reader_ops;
	r->s = s;
	r->key = full_key(s, path);
	strbuf_init(&r->errbody);
	r->multi = multi_get(s);
	/* the status arrives with the first bytes: a missing object fails here */
	if (reader_start(r, err) < 0 || reader_fill(r, err) < 0) {
		s3_reader_free(&r->base);
		return -1;
	}
	*out = &r->base;
	return 0;
}

/* --- writing: one PUT, or a multipart upload with parts in parallel ---------- */

/*
 * A multipart upload keeps the producer streaming: write() fills one part
 * buffer while up to K earlier parts upload at once (K = upload-concurrency,
 * default 4).  Each part in flight has its own thread running perform() with
 * its own curl easy handle, like every other request.  Threads rather than
 * one curl multi handle because each part's payload is SHA-256 hashed for the
 * signature, CPU work that threads spread over cores, and because perform()'s
 * retry and backoff stay the one implementation.  The threads share
 * connections, DNS and TLS sessions through the storage's CURLSH, which is
 * thread-safe through its lock callbacks (one mutex per kind of shared data).
 *
 * Memory bound per writer: the part being filled plus K parts in flight,
 * (K + 1) x part size (16 MiB parts and K = 4: 80 MiB).  A slot's buffer is
 * reused for the next part it carries.
 *
 * Failure: the first part that fails after perform()'s retries cancels the
 * others; the next write() or close() waits for them, aborts the upload
 * (AbortMultipartUpload) and returns that part's error.  Nothing becomes
 * visible before CompleteMultipartUpload, which lists every part in order
 * with its ETag.
 */

typedef enum { SLOT_IDLE, SLOT_RUNNING, SLOT_DONE } slot_state;

typedef struct s3_slot {
	struct s3_writer *w;
	pthread_t thread;
	slot_state state; /* under w->mu; DONE: the thread ended but is not joined */
	int number;       /* the part it carries */
	char *buf;
	size_t len, cap;
} s3_slot;

typedef struct s3_writer {
	writer base;
	s3_storage *s;
	char *key;
	char *buf; /* the part being filled */
	size_t len, cap;
	char *upload_id; /* set once multipart */
	int parts;       /* parts handed to a slot, numbered 1..parts */
	s3_slot *slots;  /* K of them, once multipart */
	int nslots;
	pthread_mutex_t mu;
	pthread_cond_t slot_done;
	char (*etags)[128]; /* under mu: etags[n - 1] of part n once uploaded */
	int etags_cap;
	int failed;         /* under mu: a part failed, fail_err says why */
	bderr fail_err;
	atomic_int cancel;  /* stops the requests of parts still in flight */
	int aborted;        /* AbortMultipartUpload was sent */
	int closed;
} s3_writer;

/* Part n (1-based): 16 MiB, doubling every 1,000 parts, so 10,000 reach 5 TB. */
static size_t part_size(int n)
{
	int shift = (n - 1) / 1000;
	size_t sz = PART_SIZE_MIN << (shift > 9 ? 9 : shift);
	return sz > PART_SIZE_MAX ? PART_SIZE_MAX : sz;
}

static int check_ok(s3_storage *s, s3_req *rq, const char *what, bderr *err)
{
	if (rq->status >= 200 && rq->status < 300)
		return 0;
	return http_error(s, what, rq->key, rq->status, rq->resp.data, rq->resp.len, err);
}

/*
 * The headers a new object is created with (PUT, CreateMultipartUpload):
 * server-side encryption, and the storage class except for the repository's
 * marker, which every command reads first and must never sit in a class
 * that bills (or delays) each read.
 */
static size_t object_headers(const s3_storage *s, const char *key, sigv4_pair h[3])
{
	size_t n = 0;
	if (s->sse)
		h[n++] = (sigv4_pair){ "x-amz-server-side-encryption", s->sse };
	if (s->sse_kms_key_id)
		h[n++] = (sigv4_pair){ "x-amz-server-side-encryption-aws-kms-key-id",
				       s->sse_kms_key_id };
	const char *base = strrchr(key, '/');
	base = base ? base + 1 : key;
	if (s->storage_class && strcmp(base, REPO_MARKER) != 0)
		h[n++] = (sigv4_pair){ "x-amz-storage-class", s->storage_class };
	return n;
}

static int start_multipart(s3_writer *w, bderr *err)
{
	const sigv4_pair q[] = { { "uploads", NULL } };
	sigv4_pair h[3];
	s3_req rq = { .method = "POST", .key = w->key, .query = q, .nquery = 1, .has_body = 1,
		      .headers = h, .nheaders = object_headers(w->s, w->key, h) };
	int rc = perform(w->s, &rq, err);
	if (rc == 0)
		rc = check_ok(w->s, &rq, "POST (CreateMultipartUpload)", err);
	if (rc == 0) {
		if (s3_xml_parse_upload_id(rq.resp.data, rq.resp.len, &w->upload_id, err) < 0)
			rc = bderr_prefix(err, "s3 POST (CreateMultipartUpload) '%s/%s' failed",
					  w->s->bucket, w->key);
	}
	strbuf_free(&rq.resp);
	if (rc == 0) {
		w->nslots = w->s->upload_concurrency;
		w->slots = xcalloc((size_t)w->nslots, sizeof *w->slots);
	}
	return rc;
}

/* Runs on a part's thread: only the slot, the shared upload id and key, and w under mu. */
static int put_part(s3_writer *w, const s3_slot *sl, char etag[128], bderr *err)
{
	char num[16];
	snprintf(num, sizeof num, "%d", sl->number);
	const sigv4_pair q[] = { { "partNumber", num }, { "uploadId", w->upload_id } };
	s3_req rq = { .method = "PUT", .key = w->key, .query = q, .nquery = 2, .body = sl->buf,
		      .body_len = sl->len, .has_body = 1, .cancel = &w->cancel };
	int rc = perform(w->s, &rq, err);
	if (rc == 0)
		rc = check_ok(w->s, &rq, "PUT (UploadPart)", err);
	if (rc == 0 && rq.etag[0] == '\0')
		rc = bderr_set(err, "s3 PUT '%s/%s' failed: no ETag for part %s", w->s->bucket, w->key,
			       num);
	if (rc == 0)
		memcpy(etag, rq.etag, sizeof rq.etag);
	strbuf_free(&rq.resp);
	return rc;
}

static void *part_thread(void *arg)
{
	s3_slot *sl = arg;
	s3_writer *w = sl->w;
	bderr err;
	bderr_init(&err);
	char etag[128];
	int rc = put_part(w, sl, etag, &err);
	pthread_mutex_lock(&w->mu);
	if (rc == 0) {
		memcpy(w->etags[sl->number - 1], etag, sizeof etag);
	} else if (!w->failed) {
		/* the first failure is the one reported; the others are its consequence */
		w->failed = 1;
		w->fail_err = err;
		atomic_store(&w->cancel, 1);
	}
	sl->state = SLOT_DONE;
	pthread_cond_broadcast(&w->slot_done);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Waits until sl carries nothing, joining its thread. */
static void slot_settle(s3_writer *w, s3_slot *sl)
{
	pthread_mutex_lock(&w->mu);
	while (sl->state == SLOT_RUNNING)
		pthread_cond_wait(&w->slot_done, &w->mu);
	int join = sl->state == SLOT_DONE;
	sl->state = SLOT_IDLE;
	pthread_mutex_unlock(&w->mu);
	if (join)
		pthread_join(sl->thread, NULL);
}

static void slots_drain(s3_writer *w)
{
	for (int i = 0; i < w->nslots; i++)
		slot_settle(w, &w->slots[i]);
}

/* A free slot (waiting for one if all K are busy); NULL once a part has failed. */
static s3_slot *slot_acquire(s3_writer *w)
{
	s3_slot *sl = NULL;
	pthread_mutex_lock(&w->mu);
	while (!w->failed) {
		for (int i = 0; i < w->nslots && sl == NULL; i++)
			if (w->slots[i].state != SLOT_RUNNING)
				sl = &w->slots[i];
		if (sl)
			break;
		pthread_cond_wait(&w->slot_done, &w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	if (sl)
		slot_settle(w, sl);
	return sl;
}

static void abort_upload(s3_writer *w)
{
	if (w->upload_id == NULL || w->aborted)
		return;
	/* nothing partial may stay behind (nor be billed): best effort */
	bderr ignored;
	bderr_init(&ignored);
	const sigv4_pair q[] = { { "uploadId", w->upload_id } };
	s3_req rq = { .method = "DELETE", .key = w->key, .query = q, .nquery = 1 };
	if (perform(w->s, &rq, &ignored) == 0 && rq.status != 404)
		check_ok(w->s, &rq, "DELETE (AbortMultipartUpload)", &ignored);
	if (ignored.msg[0])
		log_warn("%s", ignored.msg);
	strbuf_free(&rq.resp);
	w->aborted = 1;
}

/* After a part failed: stops the others, aborts the upload, reports the part's error. */
static int upload_failed(s3_writer *w, bderr *err)
{
	atomic_store(&w->cancel, 1);
	slots_drain(w);
	abort_upload(w);
	pthread_mutex_lock(&w->mu);
	*err = w->fail_err;
	pthread_mutex_unlock(&w->mu);
	return -1;
}

/* Hands the filled buffer to a slot's thread and takes that slot's old buffer to fill next. */
static int queue_part(s3_writer *w, bderr *err)
{
	if (w->upload_id == NULL && start_multipart(w, err) < 0)
		return -1;
	if (w->parts >= PARTS_MAX)
		return bderr_set(err, "s3 PUT '%s/%s' failed: more than %d parts", w->s->bucket, w->key,
				 PARTS_MAX);
	s3_slot *sl = slot_acquire(w);
	if (sl == NULL)
		return upload_failed(w, err);
	int n = w->parts + 1;
	pthread_mutex_lock(&w->mu);
	if (n > w->etags_cap) {
		w->etags_cap = w->etags_cap ? w->etags_cap * 2 : 64;
		w->etags = xrealloc(w->etags, (size_t)w->etags_cap * sizeof *w->etags);
	}
	w->etags[n - 1][0] = '\0';
	char *b = sl->buf;
	size_t c = sl->cap;
	sl->buf = w->buf;
	sl->cap = w->cap;
	sl->len = w->len;
	w->buf = b;
	w->cap = c;
	w->len = 0;
	sl->w = w;
	sl->number = n;
	sl->state = SLOT_RUNNING;
	int e = pthread_create(&sl->thread, NULL, part_thread, sl);
	if (e != 0) {
		sl->state = SLOT_IDLE;
		w->failed = 1;
		bderr_sys(&w->fail_err, e, "s3 PUT '%s/%s' failed: cannot start a thread for part %d",
			  w->s->bucket, w->key, n);
	}
	pthread_mutex_unlock(&w->mu);
	if (e != 0)
		return upload_failed(w, err);
	w->parts = n;
	return 0;
}

static int s3_write(writer *wr, const void *buf, size_t len, bderr *err)
{
	s3_writer *w = (s3_writer *)wr;
	const char *p = buf;
	/* a part failed since the last call: report it now */
	if (atomic_load(&w->cancel))
		return upload_failed(w, err);
	while (len > 0) {
		size_t limit = part_size(w->parts + 1);
		if (w->len == limit && queue_part(w, err) < 0)
			return -1;
		size_t n = limit - w->len;
		if (n > len)
			n = len;
		/* grow as data comes: small objects never hold a whole part */
		if (w->len + n > w->cap) {
			size_t cap = w->cap ? w->cap : 65536;
			while (cap < w->len + n)
				cap *= 2;
			if (cap > limit)
				cap = limit;
			w->buf = xrealloc(w->buf, cap);
			w->cap = cap;
		}
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int complete_multipart(s3_writer *w, bderr *err)
{
	strbuf body;
	strbuf_init(&body);
	strbuf_appends(&body, "<CompleteMultipartUpload>");
	/* every slot is settled: the ETags are no longer shared */
	for (int n = 1; n <= w->parts; n++) {
		strbuf_appendf(&body, "<Part><PartNumber>%d</PartNumber><ETag>", n);
		s3_xml_escape(&body, w->etags[n - 1]);
		strbuf_appends(&body, "</ETag></Part>");
	}
	strbuf_appends(&body, "</CompleteMultipartUpload>");
	const sigv4_pair q[] = { { "uploadId", w->upload_id } };
	s3_req rq = { .method = "POST", .key = w->key, .query = q, .nquery = 1, .body = body.data,
		      .body_len = body.len, .has_body = 1 };
	int rc = perform(w->s, &rq, err);
	if (rc == 0)
		rc = check_ok(w->s, &rq, "POST (CompleteMultipartUpload)", err);
	/* S3 may report a failed completion inside a 200 answer */
	s3_xml_error e;
	error_doc(rq.resp.data, rq.resp.len, &e);
	int failed = e.code != NULL;
	s3_xml_error_clear(&e);
	if (rc == 0 && failed)
		rc = http_error(w->s, "POST (CompleteMultipartUpload)", w->key, 500, rq.resp.data,
				rq.resp.len, err);
	strbuf_free(&rq.resp);
	strbuf_free(&body);
	return rc;
}

static int s3_close(writer *wr, bderr *err)
{
	s3_writer *w = (s3_writer *)wr;
	int rc;
	if (w->upload_id == NULL) {
		sigv4_pair h[3];
		s3_req rq = { .method = "PUT", .key = w->key, .body = w->buf, .body_len = w->len,
			      .has_body = 1, .headers = h, .nheaders = object_headers(w->s, w->key, h) };
		rc = perform(w->s, &rq, err);
		if (rc == 0)
			rc = check_ok(w->s, &rq, "PUT", err);
		strbuf_free(&rq.resp);
	} else {
		if (atomic_load(&w->cancel))
			return upload_failed(w, err);
		if (w->len > 0 && queue_part(w, err) < 0)
			return -1;
		slots_drain(w);
		if (atomic_load(&w->cancel))
			return upload_failed(w, err);
		rc = complete_multipart(w, err);
	}
	if (rc == 0)
		w->closed = 1;
	return rc;
}

static void s3_writer_free(writer *wr)
{
	s3_writer *w = (s3_writer *)wr;
	if (w->upload_id && !w->closed) {
		atomic_store(&w->cancel, 1);
		slots_drain(w);
		abort_upload(w);
	}
	for (int i = 0; i < w->nslots; i++)
		free(w->slots[i].buf);
	free(w->slots);
	free(w->etags);
	pthread_cond_destroy(&w->slot_done);
	pthread_mutex_destroy(&w->mu);
	free(w->upload_id);
	free(w->buf);
	free(w->key);
	free(w);
}

static const writer_ops s3_writer_ops = { s3_write, s3_close, s3_writer_free };

static int s3_open_write(storage *st, const char *path, writer **out, bderr *err)
{
	s3_storage *s = (s3_storage *)st;
	if (check_path(s, path, 0, err) < 0)
		return -1;
	s3_writer *w = xcalloc(1, sizeof *w);
	w->base.ops = &s3_writer_ops;
	w->s = s;
	w->key = full_key(s, path);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->slot_done, NULL);
	atomic_init(&w->cancel, 0);
	*out = &w->base;
	return 0;
}

/* --- listing, removing, info ------------------------------------------------ */

static int s3_list(storage *st, const char *prefix, storage_list_cb cb, void *ctx, bderr *err)
{
	s3_storage *s = (s3_storage *)st;
	if (check_path(s, prefix, 1, err) < 0)
		return -1;
	char *full = full_key(s, prefix);
	size_t strip = strlen(s->prefix);
	char *token = NULL;
	int rc = 0, stop = 0;
	do {
		sigv4_pair q[3] = { { "list-type", "2" }, { "prefix", full } };
		size_t nq = 2;
		if (token)
			q[nq++] = (sigv4_pair){ "continuation-token", token };
		s3_req rq = { .method = "GET", .query = q, .nquery = nq };
		rc = perform(s, &rq, err);
		if (rc == 0)
			rc = check_ok(s, &rq, "GET (ListObjectsV2)", err);
		if (rc < 0) {
			strbuf_free(&rq.resp);
			break;
		}
		s3_xml_list page;
		if (s3_xml_parse_list(rq.resp.data, rq.resp.len, &page, err) < 0) {
			rc = bderr_prefix(err, "s3 GET (ListObjectsV2) '%s/%s' failed", s->bucket, full);
			strbuf_free(&rq.resp);
			break;
		}
		for (size_t i = 0; i < page.n && rc == 0 && !stop; i++) {
			const char *key = page.objects[i].key;
			/* S3 lists only keys under the prefix; a broken server must not widen it */
			if (strlen(key) > strip && strncmp(key, full, strlen(full)) == 0) {
				int crc = cb(ctx, key + strip, page.objects[i].size, err);
				if (crc < 0)
					rc = -1;
				else if (crc == STORAGE_LIST_STOP)
					stop = 1; /* no further page is asked for */
			}
		}
		free(token);
		token = NULL;
		if (rc == 0 && !stop && page.truncated) {
			token = page.next_token;
			page.next_token = NULL;
		}
		s3_xml_list_clear(&page);
		strbuf_free(&rq.resp);
	} while (rc == 0 && token);
	free(token);
	free(full);
	return rc;
}

static int s3_remove(storage *st, const char *path, bderr *err)
{
	s3_storage *s = (s3_storage *)st;
	if (check_path(s, path, 0, err) < 0)
		return -1;
	char *key = full_key(s, path);
	s3_req rq = { .method = "DELETE", .key = key };
	int rc = perform(s, &rq, err);
	if (rc == 0 && rq.status != 404)
		rc = check_ok(s, &rq, "DELETE", err);
	strbuf_free(&rq.resp);
	free(key);
	return rc;
}

/* DeleteObjects takes at most this many keys per request. */
#define DELETE_BATCH 1000

/* The first <Error> of a DeleteObjects answer, if any: "key: Code: Message". */
static int delete_errors(s3_storage *s, const s3_req *rq, bderr *err)
{
	if (rq->resp.data == NULL || rq->resp.len == 0)
		return 0;
	s3_xml_delete d;
	if (s3_xml_parse_delete(rq->resp.data, rq->resp.len, &d, err) < 0)
		return bderr_prefix(err, "s3 POST (DeleteObjects) '%s' failed", s->bucket);
	if (d.nerrors == 0) {
		s3_xml_delete_clear(&d);
		return 0;
	}
	const char *key = d.key, *code = d.code, *msg = d.message;
	bderr_set(err, "s3 POST (DeleteObjects) '%s/%s' failed: %s%s%s%s", s->bucket, key ? key : "",
		  code ? code : "Error", msg ? ": " : "", msg ? msg : "",
		  d.nerrors > 1 ? " (and more keys)" : "");
	if (code && strcmp(code, "AccessDenied") == 0)
		err->sys_errno = EACCES;
	s3_xml_delete_clear(&d);
	return -1;
}

static int delete_batch(s3_storage *s, const char *const *paths, size_t n, bderr *err)
{
	strbuf body;
	strbuf_init(&body);
	strbuf_appends(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
			      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
	for (size_t i = 0; i < n; i++) {
		char *key = full_key(s, paths[i]);
		strbuf_appends(&body, "<Object><Key>");
		s3_xml_escape(&body, key);
		strbuf_appends(&body, "</Key></Object>");
		free(key);
	}
	strbuf_appends(&body, "</Delete>");

	/* S3 requires Content-MD5 (or a checksum header) on DeleteObjects */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char md5[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	if (EVP_Digest(body.data, body.len, md, &mdlen, EVP_md5(), NULL) != 1) {
		strbuf_free(&body);
		return bderr_set(err, "s3 POST (DeleteObjects) '%s': MD5 unavailable", s->bucket);
	}
	EVP_EncodeBlock((unsigned char *)md5, md, (int)mdlen);
	const sigv4_pair q[] = { { "delete", NULL } };
	const sigv4_pair h[] = { { "content-md5", md5 } };
	s3_req rq = { .method = "POST", .query = q, .nquery = 1, .headers = h, .nheaders = 1,
		      .body = body.data, .body_len = body.len, .has_body = 1 };
	int rc = perform(s, &rq, err);
	if (rc == 0)
		rc = check_ok(s, &rq, "POST (DeleteObjects)", err);
	if (rc == 0)
		rc = delete_errors(s, &rq, err);
	strbuf_free(&rq.resp);
	strbuf_free(&body);
	return rc;
}

static int s3_remove_many(storage *st, const char *const *paths, size_t n, bderr *err)
{
	s3_storage *s = (s3_storage *)st;
	for (size_t i = 0; i < n; i++)
		if (check_path(s, paths[i], 0, err) < 0)
			return -1;
	for (size_t i = 0; i < n; i += DELETE_BATCH) {
		size_t k = n - i < DELETE_BATCH ? n - i : DELETE_BATCH;
		if (delete_batch(s, paths + i, k, err) < 0)
			return -1;
	}
	return 0;
}

/*
 * A HEAD answer has no body, so its 404 cannot say whether the object or the
 * whole bucket is missing: a listing of key (one key at most) can, as
 * NoSuchBucket.  Asked once per storage, and only when a HEAD found nothing,
 * so that "not there yet" never stands for a bucket that does not exist
 * (backupd check would call such a repository new and fine).
 */
static int bucket_answers(s3_storage *s, const char *key, bderr *err)
{
	if (atomic_load(&s->bucket_seen))
		return 0;
	sigv4_pair q[3] = { { "list-type", "2" }, { "max-keys", "1" }, { "prefix", key } };
	s3_req rq = { .method = "GET", .query = q, .nquery = 3 };
	int rc = perform(s, &rq, err);
	if (rc == 0)
		rc = check_ok(s, &rq, "GET (ListObjectsV2)", err);
	if (rc == 0)
		atomic_store(&s->bucket_seen, 1);
	strbuf_free(&rq.resp);
	return rc;
}

static int s3_info(storage *st, const char *path, storage_info *out, bderr *err)
{
	s3_storage *s = (s3_storage *)st;
	memset(out, 0, sizeof *out);
	if (check_path(s, path, 0, err) < 0)
		return -1;
	char *key = full_key(s, path);
	s3_req rq = { .method = "HEAD", .key = key };
	int rc = perform(s, &rq, err);
	if (rc == 0 && rq.status == 404)
		rc = bucket_answers(s, key, err);
	else if (rc == 0) {
		rc = check_ok(s, &rq, "HEAD", err);
		if (rc == 0) {
			long long len = -1, ft = -1;
			if (sscanf(rq.resp.data ? rq.resp.data : "", "%lld %lld", &len, &ft) != 2 ||
			    len < 0) {
				rc = bderr_set(err, "s3 HEAD '%s/%s' failed: no Content-Length", s->bucket,
					       key);
			} else {
				out->exists = 1;
				out->size = (uint64_t)len;
				out->mtime = ft >= 0 ? (time_t)ft : 0;
			}
		}
	}
	strbuf_free(&rq.resp);
	free(key);
	return rc;
}

/* --- exclusive create --------------------------------------------------------- */

typedef struct claim_scan {
	const char *path;  /* the object being claimed */
	const char *mine;  /* our own claim */
	size_t plen;
	int taken;         /* the object, or another claim on it, exists */
} claim_scan;

static int claim_cb(void *ctx, const char *key, uint64_t size, bderr *err)
{
	claim_scan *c = ctx;
	(void)size;
	(void)err;
	if (strcmp(key, c->mine) == 0)
		return 0;
	if (strcmp(key, c->path) == 0 ||
	    strncmp(key + c->plen, CLAIM_INFIX, strlen(CLAIM_INFIX)) == 0)
		c->taken = 1;
	return 0;
}

/*
 * Many S3-compatible servers ignore If-None-Match on PUT, so the claim is
 * made with plain requests: put a claim object of our own next to path,
 * list everything starting with path, and go ahead only when neither path
 * nor another claim is there.  With read-after-write consistent listings
 * the later of two claimants always sees the earlier one's claim, so at
 * most one wins (both may lose).  Our claim goes only after path exists.
 * A claimant killed midway leaves its claim, which keeps that path taken
 * (a backup ID then lists as an incomplete backup of no writer) until the
 * sweep removes it by age (s3_sweep) or removing the prefix does.
 */
static int s3_put_new(storage *st, const char *path, const void *data, size_t len, bderr *err)
{
	if (check_path((s3_storage *)st, path, 0, err) < 0)
		return -1;
	unsigned char nonce[12];
	if (RAND_bytes(nonce, sizeof nonce) != 1)
		return bderr_set(err, "cannot create '%s': no random bytes for a claim", path);
	char hex[2 * sizeof nonce + 1];
	for (size_t i = 0; i < sizeof nonce; i++)
		snprintf(hex + 2 * i, 3, "%02x", nonce[i]);
	char *mine = xasprintf("%s" CLAIM_INFIX "%s", path, hex);
	int rc = storage_put(st, mine, "", 0, err);
	if (rc < 0) {
		free(mine);
		return -1;
	}
	claim_scan c = { path, mine, strlen(path), 0 };
	rc = s3_list(st, path, claim_cb, &c, err);
	if (rc == 0 && c.taken) {
		rc = bderr_sys(err, EEXIST, "cannot create '%s': it exists or is being created", path);
		/* both claimants may lose: a random pause keeps them from meeting again */
		struct timespec pause = { 0, (long)(nonce[0] % 50 + 1) * 1000000L };
		nanosleep(&pause, NULL);
	} else if (rc == 0) {
		rc = storage_put(st, path, data, len, err);
	}
	bderr ignored;
	bderr_init(&ignored);
	s3_remove(st, mine, &ignored);
	free(mine);
	return rc;
}

typedef struct claim_list {
	char **keys;
	size_t n, cap;
} claim_list;

static int claim_collect(void *ctx, const char *key, uint64_t size, bderr *err)
{
	claim_list *l = ctx;
	(void)size;
	(void)err;
	if (strstr(key, CLAIM_INFIX) == NULL)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->keys = xrealloc(l->keys, l->cap * sizeof *l->keys);
	}
	l->keys[l->n++] = xstrdup(key);
	return 0;
}

/*
 * What a writer that died leaves here is a claim of put_new (its objects
 * are whole PUTs or multipart uploads, never listed until complete).  A
 * live claimant holds its claim for a few requests, and nothing on S3 can
 * tell a dead one from it: a claim goes once last modified before
 * older_than (the server's clock; expire's grace is hours, far beyond any
 * skew).
 */
static int s3_sweep(storage *st, const char *prefix, time_t older_than, size_t *removed,
		    bderr *err)
{
	claim_list l = { 0 };
	*removed = 0;
	int rc = s3_list(st, prefix, claim_collect, &l, err);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		storage_info info;
		rc = s3_info(st, l.keys[i], &info, err);
		/* no Last-Modified: its age is unknown, so it stays */
		if (rc == 0 && info.exists && info.mtime > 0 && info.mtime < older_than) {
			rc = s3_remove(st, l.keys[i], err);
			if (rc == 0)
				(*removed)++;
		}
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.keys[i]);
	free(l.keys);
	return rc;
}

static void s3_free(storage *st)
{
	s3_storage *s = (s3_storage *)st;
	if (s == NULL)
		return;
	/* the handles first: they may still refer to the share */
	for (int i = 0; i < s->n_idle_easy; i++)
		curl_easy_cleanup(s->idle_easy[i]);
	for (int i = 0; i < s->n_idle_multi; i++)
		curl_multi_cleanup(s->idle_multi[i]);
	pthread_mutex_destroy(&s->pool_mu);
	if (s->share)
		curl_share_cleanup(s->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&s->locks[i]);
	free(s->bucket);
	free(s->prefix);
	free(s->region);
	free(s->origin);
	free(s->host);
	free(s->bucket_path);
	s3_creds_free(s->creds);
	free(s->sse);
	free(s->sse_kms_key_id);
	free(s->storage_class);
	free(s->ca_file);
	free(s->base.url);
	free(s);
}

static const storage_driver s3_driver = {
	.name = "s3",
	.open_read = s3_open_read,
	.open_write = s3_open_write,
	.list = s3_list,
	.remove = s3_remove,
	.remove_many = s3_remove_many,
	.info = s3_info,
	.put_new = s3_put_new,
	.sweep = s3_sweep,
	.free = s3_free,
};

/* --- URL ------------------------------------------------------------------ */

static int valid_bucket(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63)
		return 0;
	for (const char *p = b; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
		      *p == '.' || *p == '_'))
			return 0;
	return 1;
}

static int parse_url(s3_storage *s, const char *url, bderr *err)
{
	const char *p = url + 5; /* "s3://" */
	const char *q = strchr(p, '?');
	const char *pend = q ? q : p + strlen(p);
	const char *slash = memchr(p, '/', (size_t)(pend - p));
	const char *bend = slash ? slash : pend;
	char *endpoint = NULL, *style = NULL, *concurrency = NULL, *retry_max = NULL;
	s->bucket = pct_decode(p, (size_t)(bend - p));
	/* user:password@bucket: neither the URL nor the "bucket" may be echoed */
	if (strpbrk(s->bucket, "@:"))
		return bderr_usage(err, "invalid repository url: an s3:// URL carries no credentials (use access-key-id-file and secret-access-key-file in the [repo:NAME] section, or the AWS_* environment)");
	if (!valid_bucket(s->bucket))
		return bderr_usage(err, "invalid repository url '%s': bad bucket name '%s'", url,
				   s->bucket);
	/* the prefix: no leading, duplicate or trailing '/' */
	strbuf pre;
	strbuf_init(&pre);
	strbuf_appends(&pre, "");
	if (slash) {
		char *raw = pct_decode(slash + 1, (size_t)(pend - slash - 1));
		for (char *tok = raw, *save = NULL; (tok = strtok_r(tok, "/", &save)); tok = NULL) {
			if (strcmp(tok, ".") == 0 || strcmp(tok, "..") == 0) {
				free(raw);
				strbuf_free(&pre);
				return bderr_usage(err, "invalid repository url '%s': '.' and '..' are not allowed in the prefix",
						   url);
			}
			strbuf_appendf(&pre, "%s/", tok);
		}
		free(raw);
	}
	s->prefix = strbuf_detach(&pre);
	int rc = 0;
	while (q && rc == 0) {
		const char *a = q + 1;
		q = strchr(a, '&');
		const char *e = q ? q : a + strlen(a);
		const char *eq = memchr(a, '=', (size_t)(e - a));
		if (a == e)
			continue;
		if (eq == NULL) {
			rc = bderr_usage(err, "invalid repository url '%s': '%.*s' has no value", url,
					 (int)(e - a), a);
			break;
		}
		char *v = pct_decode(eq + 1, (size_t)(e - eq - 1));
		size_t kl = (size_t)(eq - a);
		char **dst = NULL;
		if (kl == 8 && strncmp(a, "endpoint", 8) == 0)
			dst = &endpoint;
		else if (kl == 6 && strncmp(a, "region", 6) == 0)
			dst = &s->region;
		else if (kl == 5 && strncmp(a, "style", 5) == 0)
			dst = &style;
		else if (kl == 18 && strncmp(a, "upload-concurrency", 18) == 0)
			dst = &concurrency;
		else if (kl == 14 && strncmp(a, "retry-max-time", 14) == 0)
			dst = &retry_max;
		else if (kl == 3 && strncmp(a, "sse", 3) == 0)
			dst = &s->sse;
		else if (kl == 14 && strncmp(a, "sse-kms-key-id", 14) == 0)
			dst = &s->sse_kms_key_id;
		else if (kl == 13 && strncmp(a, "storage-class", 13) == 0)
			dst = &s->storage_class;
		if (dst == NULL || *v == '\0') {
			rc = bderr_usage(err, dst ? "invalid repository url '%s': empty '%.*s'"
						  : "invalid repository url '%s': unknown parameter '%.*s' (use endpoint, region, style, upload-concurrency, retry-max-time, sse, sse-kms-key-id, storage-class)",
					 url, (int)kl, a);
			free(v);
			break;
		}
		free(*dst);
		*dst = v;
	}
	if (rc == 0 && style && strcmp(style, "path") != 0 && strcmp(style, "virtual") != 0)
		rc = bderr_usage(err, "invalid repository url '%s': style must be path or virtual", url);
	s->upload_concurrency = UPLOAD_CONCURRENCY_DEFAULT;
	if (rc == 0 && concurrency) {
		char *endp = NULL;
		errno = 0;
		long k = strtol(concurrency, &endp, 10);
		if (errno || endp == concurrency || *endp || k < 1 || k > UPLOAD_CONCURRENCY_MAX)
			rc = bderr_usage(err, "invalid repository url '%s': upload-concurrency must be an integer from 1 to %d",
					 url, UPLOAD_CONCURRENCY_MAX);
		else
			s->upload_concurrency = (int)k;
	}
	s->retry_max_ms = RETRY_MAX_TIME_DEFAULT * 1000L;
	if (rc == 0 && retry_max) {
		char *endp = NULL;
		errno = 0;
		long t = strtol(retry_max, &endp, 10);
		if (errno || endp == retry_max || *endp || t < 0 || t > RETRY_MAX_TIME_MAX)
			rc = bderr_usage(err, "invalid repository url '%s': retry-max-time must be a number of seconds from 0 to %d",
					 url, RETRY_MAX_TIME_MAX);
		else
			s->retry_max_ms = t * 1000L;
	}
	if (rc == 0 && s->sse && strcmp(s->sse, "AES256") != 0 && strcmp(s->sse, "aws:kms") != 0)
		rc = bderr_usage(err, "invalid repository url '%s': sse must be AES256 or aws:kms", url);
	if (rc == 0 && s->sse_kms_key_id && !(s->sse && strcmp(s->sse, "aws:kms") == 0))
		rc = bderr_usage(err, "invalid repository url '%s': sse-kms-key-id needs sse=aws:kms", url);
	if (rc == 0 && s->storage_class) {
		static const char *const classes[] = { "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA",
						       "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
						       "DEEP_ARCHIVE", "GLACIER_IR", "OUTPOSTS",
						       "EXPRESS_ONEZONE", NULL };
		int ok = 0;
		for (int i = 0; classes[i] && !ok; i++)
			ok = strcmp(s->storage_class, classes[i]) == 0;
		if (!ok)
			rc = bderr_usage(err, "invalid repository url '%s': unknown storage-class '%s' (STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER, DEEP_ARCHIVE, REDUCED_REDUNDANCY, OUTPOSTS, EXPRESS_ONEZONE)",
					 url, s->storage_class);
	}
	if (rc == 0) {
		/* no silent us-east-1 when the environment or the profile names a region */
		if (s->region == NULL)
			s->region = aws_default_region();
		if (s->region == NULL)
			s->region = xstrdup("us-east-1");
		int path_style = style ? strcmp(style, "path") == 0 : endpoint != NULL;
		char *ep = endpoint ? xstrdup(endpoint)
				    : xasprintf("https://s3.%s.amazonaws.com", s->region);
		const char *hp = NULL;
		if (strncmp(ep, "https://", 8) == 0)
			hp = ep + 8;
		else if (strncmp(ep, "http://", 7) == 0)
			hp = ep + 7;
		size_t hl = hp ? strcspn(hp, "/?#") : 0;
		if (hp == NULL || hl == 0 || (hp[hl] && strcmp(hp + hl, "/") != 0) ||
		    memchr(hp, '@', hl)) {
			rc = bderr_usage(err, "invalid repository url '%s': endpoint must be http(s)://host[:port]",
					 url);
		} else {
			char *host = xstrndup(hp, hl);
			const char *scheme = hp == ep + 8 ? "https" : "http";
			if (path_style) {
				s->host = host;
				s->bucket_path = xasprintf("/%s", s->bucket);
			} else {
				s->host = xasprintf("%s.%s", s->bucket, host);
				s->bucket_path = xstrdup("");
				free(host);
			}
			s->origin = xasprintf("%s://%s", scheme, s->host);
		}
		free(ep);
	}
	free(endpoint);
	free(style);
	free(concurrency);
	free(retry_max);
	return rc;
}

int s3_storage_new(const char *url, const storage_options *opts, storage **out, bderr *err)
{
	*out = NULL;
	/*
	 * every request is signed with HMAC-SHA256 (sigv4.c), answers are XML,
	 * AWS profile files are INI: a missing libcrypto, libexpat or libinih is
	 * said here
	 */
	if (lazy_crypto_load(err) < 0 || lazy_expat_load(err) < 0 || lazy_inih_load(err) < 0)
		return -1;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return bderr_set(err, "cannot initialise libcurl: %s", curl_easy_strerror(curl_init_rc));
	if (strncmp(url, "s3://", 5) != 0)
		return bderr_usage(err, "invalid repository url '%s': expected s3://bucket/prefix", url);
	s3_storage *s = xcalloc(1, sizeof *s);
	s->base.driver = &s3_driver;
	atomic_init(&s->bucket_seen, 0);
	s->base.url = xstrdup(url);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&s->locks[i], NULL);
	pthread_mutex_init(&s->pool_mu, NULL);
	if (parse_url(s, url, err) < 0) {
		s3_free(&s->base);
		return -1;
	}
	const char *ca = opts && opts->ca_file ? opts->ca_file : getenv("AWS_CA_BUNDLE");
	if (ca && *ca)
		s->ca_file = xstrdup(ca);
	s->tls_verify = opts ? opts->tls_verify : 1;
	if (s3_creds_new(opts, s->region, &s->creds, err) < 0) {
		bderr_prefix(err, "cannot open repository '%s'", url);
		s3_free(&s->base);
		return -1;
	}


	s->share = curl_share_init();
	if (s->share == NULL)
		abort();
	curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);
	curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*out = &s->base;
	return 0;
}
