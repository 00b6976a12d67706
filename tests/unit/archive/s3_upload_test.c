/*
 * The S3 driver against a tiny HTTP server on 127.0.0.1 (plain sockets, one
 * thread per connection, since the driver uploads parts of one object on
 * several connections at once):
 * - a multipart upload whose second part keeps losing its connection midway
 *   fails with an error naming the object, after the driver's retries, and
 *   aborts the upload;
 * - parts upload concurrently, never more than upload-concurrency at once,
 *   each with the bytes of its own offset, and CompleteMultipartUpload lists
 *   them in order with their ETags;
 * - a part that keeps failing while its siblings are in flight makes the
 *   next write() fail, aborts the upload once, and no object appears;
 * - DeleteObjects goes out in batches of 1000 keys with a correct
 *   Content-MD5 and escaped keys, and a per-key <Error> in the answer fails
 *   the call naming that key;
 * - upload-concurrency=K in the URL takes 1 to 64 and nothing else;
 * - failures are retried for retry-max-time seconds (not a fixed number of
 *   attempts); retry-max-time=0 means one attempt.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "archive/s3/s3.h"
#include "archive/storage.h"
#include "common/mem.h"

#define PART1 ((size_t)16 << 20) /* the driver's part size (the first 1000 parts) */
#define PART2 ((size_t)1 << 20)
#define DROP_AFTER 65536          /* bytes of a dropped part read before hanging up */
/* the retry budget these tests give the driver (retry-max-time=, seconds) */
#define RETRY_S 2
#define RETRY_Q "&retry-max-time=2"
/*
 * Attempts within the 2 s budget: 4 fit in its backoff (100, 200, 400 ms...)
 * on an idle machine, but each attempt sends a 16 MB part, which takes much
 * longer on a loaded one; the tests only ask that the part was retried.
 */
#define ATTEMPTS 2
#define MAX_PARTS 16
#define MAX_CONNS 256
/* a safety net only: a correct driver never makes the server wait this long */
#define HOLD_LIMIT_S 120

typedef struct server {
	int lfd;
	int port;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t conns[MAX_CONNS];
	int nconns;
	/* behaviour, set before the client starts */
	int drop_part;      /* hang up in the middle of this part's body, every time */
	int fail_part;      /* answer this part 500 InternalError, every time */
	int barrier;        /* hold part answers until this many parts are in at once */
	int hold_for_fail;  /* N: fail_part fails once N other parts are in, which
			       are held (never answered) until the upload is aborted */
	int fail_key;       /* answer DeleteObjects with a per-key <Error> */
	/* counters, read after the client is done */
	int initiates, completes, aborts, deletes, heads, lists, others;
	int no_bucket; /* listings answer 404 NoSuchBucket */
	int part_puts[MAX_PARTS + 1];
	int answered[MAX_PARTS + 1]; /* parts answered 200 */
	int inflight, max_inflight;  /* part bodies received and not yet answered */
	int held_with_failure;       /* parts held while fail_part was failing */
	int released, hold_timed_out;
	int bad_body;                /* a part whose bytes are not those of its offset */
	int complete_ok;             /* the Complete body listed parts 1..n with their ETags */
	int completed_parts;
	size_t delete_keys;
	int md5_ok;         /* every DeleteObjects carried a matching Content-MD5 */
	int saw_escaped;    /* a key arrived as "a&amp;b" */
} server;

/* The byte at offset i of the uploaded object: differs between parts and within one. */
static unsigned char pattern(size_t i)
{
	return (unsigned char)(i ^ (i >> 8) ^ (i >> 16) ^ ((i >> 24) * 37));
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void respond(int fd, const char *status, const char *extra, const char *body)
{
	char head[512];
	size_t blen = body ? strlen(body) : 0;
	snprintf(head, sizeof head, "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n", status,
		 extra ? extra : "", blen);
	send_all(fd, head, strlen(head));
	if (blen)
		send_all(fd, body, blen);
}

static const char *header_value(const char *head, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
			const char *v = p + 3 + n;
			while (*v == ' ')
				v++;
			return v;
		}
	}
	return NULL;
}

static int md5_matches(const char *body, size_t len, const char *hdr)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char b64[64];
	if (hdr == NULL || EVP_Digest(body, len, md, &mdlen, EVP_md5(), NULL) != 1)
		return 0;
	EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
	return strncmp(hdr, b64, strlen(b64)) == 0 && hdr[strlen(b64)] == '\r';
}

static size_t count(const char *hay, size_t len, const char *needle)
{
	size_t n = 0, nl = strlen(needle);
	for (const char *p = hay; (p = memmem(p, len - (size_t)(p - hay), needle, nl)) != NULL; p += nl)
		n++;
	return n;
}

/* Waits on sv->cv (sv->mu held) until done(sv) or the safety net; 0 on the latter. */
static int wait_until(server *sv, int (*done)(const server *, int), int arg)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += HOLD_LIMIT_S;
	while (!done(sv, arg))
		if (pthread_cond_timedwait(&sv->cv, &sv->mu, &until) != 0)
			return done(sv, arg);
	return 1;
}

static int lower_parts_answered(const server *sv, int n)
{
	for (int i = 1; i < n; i++)
		if (sv->answered[i] == 0)
			return 0;
	return 1;
}

static int barrier_reached(const server *sv, int arg)
{
	(void)arg;
	return sv->released;
}

static int upload_aborted(const server *sv, int arg)
{
	(void)arg;
	return sv->aborts > 0;
}

static int siblings_in(const server *sv, int n)
{
	return sv->inflight >= n;
}

static int part_number(const char *head)
{
	const char *p = strstr(head, "partNumber=");
	return p ? atoi(p + strlen("partNumber=")) : 0;
}

/* A part PUT whose whole body arrived: check it, maybe hold it, answer it. */
static void answer_part(server *sv, int fd, int n, const char *body, size_t blen)
{
	size_t base = (size_t)(n - 1) * PART1;
	int bad = blen == 0;
	for (size_t j = 0; j < blen && !bad; j++)
		bad = (unsigned char)body[j] != pattern(base + j);
	pthread_mutex_lock(&sv->mu);
	sv->part_puts[n]++;
	if (bad)
		sv->bad_body++;
	if (n == sv->fail_part) {
		/* fail only once the siblings are in flight, so they overlap the failure */
		if (sv->hold_for_fail && !wait_until(sv, siblings_in, sv->hold_for_fail))
			sv->hold_timed_out = 1;
		pthread_cond_broadcast(&sv->cv);
		pthread_mutex_unlock(&sv->mu);
		respond(fd, "500 Internal Server Error", NULL,
			"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>");
		return;
	}
	sv->inflight++;
	if (sv->inflight > sv->max_inflight)
		sv->max_inflight = sv->inflight;
	if (sv->barrier && sv->inflight >= sv->barrier)
		sv->released = 1;
	pthread_cond_broadcast(&sv->cv);
	if (sv->barrier && !wait_until(sv, barrier_reached, 0))
		sv->hold_timed_out = 1;
	if (sv->hold_for_fail) {
		sv->held_with_failure++;
		/* only the client's cancelling lets the upload be aborted, which ends this */
		if (!wait_until(sv, upload_aborted, 0))
			sv->hold_timed_out = 1;
	}
	/* counted out before the answer: the client cannot start a new part earlier */
	sv->inflight--;
	sv->answered[n]++;
	pthread_cond_broadcast(&sv->cv);
	pthread_mutex_unlock(&sv->mu);
	char etag[64];
	snprintf(etag, sizeof etag, "ETag: \"etag%d\"\r\n", n);
	respond(fd, "200 OK", etag, NULL);
}

static void answer_complete(server *sv, int fd, const char *body, size_t blen)
{
	strbuf want;
	strbuf_init(&want);
	strbuf_appends(&want, "<CompleteMultipartUpload>");
	int n = 0;
	pthread_mutex_lock(&sv->mu);
	for (int i = 1; i <= MAX_PARTS && sv->part_puts[i]; i++, n++)
		strbuf_appendf(&want, "<Part><PartNumber>%d</PartNumber><ETag>&quot;etag%d&quot;</ETag></Part>",
			       i, i);
	strbuf_appends(&want, "</CompleteMultipartUpload>");
	sv->completes++;
	sv->completed_parts = n;
	sv->complete_ok = want.len == blen && memcmp(want.data, body, blen) == 0;
	pthread_mutex_unlock(&sv->mu);
	strbuf_free(&want);
	respond(fd, "200 OK", NULL,
		"<CompleteMultipartUploadResult><Key>pre/obj</Key><ETag>\"x-6\"</ETag>"
		"</CompleteMultipartUploadResult>");
}

/* One connection: requests until the peer closes or we hang up on purpose. */
static void serve_conn(server *sv, int fd)
{
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	size_t have = 0;
	for (;;) {
		char *end;
		while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
			if (have == cap)
				goto out;
			ssize_t k = recv(fd, buf + have, cap - have, 0);
			if (k <= 0)
				goto out;
			have += (size_t)k;
		}
		size_t hlen = (size_t)(end - buf) + 4;
		char *head = strndup(buf, hlen);
		const char *cl = header_value(head, "Content-Length");
		size_t blen = cl ? strtoull(cl, NULL, 10) : 0;
		int part = strncmp(head, "PUT ", 4) == 0 ? part_number(head) : 0;
		int drop = part && part == sv->drop_part;
		size_t want = drop ? (blen < DROP_AFTER ? blen : DROP_AFTER) : blen;
		if (hlen + want > cap) {
			cap = hlen + want;
			buf = realloc(buf, cap);
		}
		while (have - hlen < want) {
			ssize_t k = recv(fd, buf + have, cap - have, 0);
			if (k <= 0) {
				free(head);
				goto out;
			}
			have += (size_t)k;
		}
		const char *body = buf + hlen;
		if (drop) {
			pthread_mutex_lock(&sv->mu);
			/* the parts before it succeed first, whatever the scheduling */
			if (!wait_until(sv, lower_parts_answered, part))
				sv->hold_timed_out = 1;
			sv->part_puts[part]++;
			pthread_mutex_unlock(&sv->mu);
			free(head);
			goto out; /* hang up in the middle of the body */
		}
		if (part >= 1 && part <= MAX_PARTS) {
			answer_part(sv, fd, part, body, blen);
		} else if (strncmp(head, "POST ", 5) == 0 && strstr(head, "?uploads") != NULL) {
			pthread_mutex_lock(&sv->mu);
			sv->initiates++;
			pthread_mutex_unlock(&sv->mu);
			respond(fd, "200 OK", NULL,
				"<InitiateMultipartUploadResult><UploadId>UP1</UploadId>"
				"</InitiateMultipartUploadResult>");
		} else if (strncmp(head, "POST ", 5) == 0 && strstr(head, "uploadId=UP1") != NULL) {
			answer_complete(sv, fd, body, blen);
		} else if (strncmp(head, "HEAD ", 5) == 0 && strstr(head, " /bkt/pre/obj ") != NULL) {
			pthread_mutex_lock(&sv->mu);
			sv->heads++;
			int exists = sv->completes > 0;
			pthread_mutex_unlock(&sv->mu);
			/* a HEAD answer has no body but says how long the GET's would be */
			if (exists)
				respond(fd, "200 OK", NULL, NULL);
			else
				respond(fd, "404 Not Found", NULL, NULL);
		} else if (strncmp(head, "GET ", 4) == 0 && strstr(head, "list-type=2") != NULL) {
			pthread_mutex_lock(&sv->mu);
			sv->lists++;
			int no_bucket = sv->no_bucket;
			pthread_mutex_unlock(&sv->mu);
			if (no_bucket)
				respond(fd, "404 Not Found", NULL,
					"<Error><Code>NoSuchBucket</Code><Message>The specified bucket "
					"does not exist</Message></Error>");
			else
				respond(fd, "200 OK", NULL,
					"<ListBucketResult><IsTruncated>false</IsTruncated>"
					"</ListBucketResult>");
		} else if (strncmp(head, "DELETE ", 7) == 0 && strstr(head, "uploadId=UP1") != NULL) {
			pthread_mutex_lock(&sv->mu);
			sv->aborts++;
			pthread_cond_broadcast(&sv->cv);
			pthread_mutex_unlock(&sv->mu);
			respond(fd, "204 No Content", NULL, NULL);
		} else if (strncmp(head, "POST ", 5) == 0 && strstr(head, "?delete") != NULL) {
			pthread_mutex_lock(&sv->mu);
			sv->deletes++;
			sv->delete_keys += count(body, blen, "<Key>");
			if (!md5_matches(body, blen, header_value(head, "Content-MD5")))
				sv->md5_ok = 0;
			if (count(body, blen, "<Key>pre/a&amp;b</Key>"))
				sv->saw_escaped = 1;
			int fail_key = sv->fail_key;
			pthread_mutex_unlock(&sv->mu);
			if (fail_key)
				respond(fd, "200 OK", NULL,
					"<DeleteResult><Error><Key>pre/k0007</Key><Code>AccessDenied</Code>"
					"<Message>Access Denied</Message></Error></DeleteResult>");
			else
				respond(fd, "200 OK", NULL, "<DeleteResult></DeleteResult>");
		} else {
			pthread_mutex_lock(&sv->mu);
			sv->others++;
			pthread_mutex_unlock(&sv->mu);
			respond(fd, "400 Bad Request", NULL, NULL);
		}
		free(head);
		memmove(buf, buf + hlen + blen, have - hlen - blen);
		have -= hlen + blen;
	}
out:
	close(fd);
	free(buf);
}

typedef struct conn_arg {
	server *sv;
	int fd;
} conn_arg;

static void *conn_thread(void *arg)
{
	conn_arg *ca = arg;
	serve_conn(ca->sv, ca->fd);
	free(ca);
	return NULL;
}

static void *serve(void *arg)
{
	server *sv = arg;
	for (;;) {
		int fd = accept(sv->lfd, NULL, NULL);
		if (fd < 0)
			return NULL; /* shut down */
		conn_arg *ca = malloc(sizeof *ca);
		ca->sv = sv;
		ca->fd = fd;
		pthread_mutex_lock(&sv->mu);
		int ok = sv->nconns < MAX_CONNS &&
			 pthread_create(&sv->conns[sv->nconns], NULL, conn_thread, ca) == 0;
		if (ok)
			sv->nconns++;
		pthread_mutex_unlock(&sv->mu);
		if (!ok) {
			close(fd);
			free(ca);
		}
	}
}

/* Set the behaviour fields between server_init and server_start. */
static void server_init(server *sv)
{
	memset(sv, 0, sizeof *sv);
	sv->md5_ok = 1;
	pthread_mutex_init(&sv->mu, NULL);
	pthread_cond_init(&sv->cv, NULL);
}

static void server_start(server *sv)
{
	sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(sv->lfd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(sv->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(sv->lfd, 64), 0);
	socklen_t al = sizeof a;
	assert_int_equal(getsockname(sv->lfd, (struct sockaddr *)&a, &al), 0);
	sv->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&sv->thread, NULL, serve, sv), 0);
}

/* After storage_free: the client's connections are closed, so every connection thread ends. */
static void server_stop(server *sv)
{
	shutdown(sv->lfd, SHUT_RDWR);
	pthread_join(sv->thread, NULL);
	close(sv->lfd);
	for (int i = 0; i < sv->nconns; i++)
		pthread_join(sv->conns[i], NULL);
	pthread_cond_destroy(&sv->cv);
	pthread_mutex_destroy(&sv->mu);
}

static storage *open_s3(const server *sv, const char *extra_query)
{
	char url[192];
	snprintf(url, sizeof url, "s3://bkt/pre?endpoint=http://127.0.0.1:%d&style=path%s", sv->port,
		 extra_query ? extra_query : "");
	storage_options o = { .access_key_id = "AKIDTEST", .secret_access_key = "SECRETTEST",
			      .tls_verify = 1 };
	storage *s = NULL;
	bderr err;
	bderr_init(&err);
	int rc = s3_storage_new(url, &o, &s, &err);
	if (rc != 0)
		fail_msg("s3_storage_new: %s", err.msg);
	return s;
}

/* Writes bytes [from, to) of the pattern in 1 MiB pieces, as a stream would; rc of the first failure. */
static int write_pattern(writer *w, size_t from, size_t to, bderr *err)
{
	enum { PIECE = 1 << 20 };
	unsigned char *piece = malloc(PIECE);
	int rc = 0;
	for (size_t off = from; off < to && rc == 0; off += PIECE) {
		size_t n = to - off < PIECE ? to - off : PIECE;
		for (size_t j = 0; j < n; j++)
			piece[j] = pattern(off + j);
		rc = writer_write(w, piece, n, err);
	}
	free(piece);
	return rc;
}

static void upload_part_dropped(void **state)
{
	(void)state;
	server sv;
	server_init(&sv);
	sv.drop_part = 2;
	server_start(&sv);
	storage *s = open_s3(&sv, RETRY_Q);
	writer *w = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(storage_open_write(s, "obj", &w, &err), 0);
	assert_int_equal(write_pattern(w, 0, PART1 + PART2, &err), 0); /* part 1 goes out */
	time_t t0 = time(NULL);
	assert_int_equal(writer_close(w, &err), -1);                   /* part 2 keeps failing */
	/* the failures were retried for the whole budget (a lower bound only) */
	assert_true(time(NULL) - t0 >= RETRY_S - 1);
	writer_free(w);
	storage_free(s);
	server_stop(&sv);

	assert_non_null(strstr(err.msg, "bkt/pre/obj"));
	assert_non_null(strstr(err.msg, " attempts over "));
	assert_int_equal(sv.initiates, 1);
	assert_int_equal(sv.part_puts[1], 1);
	assert_int_equal(sv.bad_body, 0);
	/*
	 * The driver retries for RETRY_S seconds, backing off from 100 ms up
	 * to 5 s: at least ATTEMPTS tries, and not hundreds.
	 */
	assert_true(sv.part_puts[2] >= ATTEMPTS && sv.part_puts[2] <= 40);
	assert_int_equal(sv.completes, 0);
	assert_int_equal(sv.aborts, 1); /* by close(), not again by free() */
	assert_int_equal(sv.others, 0);
	assert_false(sv.hold_timed_out);
}

static void parts_upload_concurrently(void **state)
{
	(void)state;
	enum { K = 3, NPARTS = 6 };
	server sv;
	server_init(&sv);
	sv.barrier = K; /* no part is answered before K are in at once */
	server_start(&sv);
	storage *s = open_s3(&sv, "&upload-concurrency=3");
	writer *w = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(storage_open_write(s, "obj", &w, &err), 0);
	size_t total = (NPARTS - 1) * PART1 + 12345; /* a short last part */
	assert_int_equal(write_pattern(w, 0, total, &err), 0);
	if (writer_close(w, &err) != 0)
		fail_msg("close: %s", err.msg);
	writer_free(w);
	storage_info info;
	assert_int_equal(storage_info_get(s, "obj", &info, &err), 0);
	assert_true(info.exists);
	storage_free(s);
	server_stop(&sv);

	assert_false(sv.hold_timed_out);
	assert_int_equal(sv.max_inflight, K); /* concurrent, and bounded */
	assert_int_equal(sv.initiates, 1);
	for (int n = 1; n <= NPARTS; n++)
		assert_int_equal(sv.part_puts[n], 1);
	assert_int_equal(sv.part_puts[NPARTS + 1], 0);
	assert_int_equal(sv.bad_body, 0); /* every part holds the bytes of its own offset */
	assert_int_equal(sv.completes, 1);
	assert_int_equal(sv.completed_parts, NPARTS);
	assert_true(sv.complete_ok); /* in order, each with its ETag */
	assert_int_equal(sv.aborts, 0);
	assert_int_equal(sv.others, 0);
}

static void concurrent_part_failure_aborts(void **state)
{
	(void)state;
	server sv;
	server_init(&sv);
	sv.fail_part = 2;
	sv.hold_for_fail = 2; /* parts 1 and 3 stay in flight while part 2 fails */
	server_start(&sv);
	storage *s = open_s3(&sv, "&upload-concurrency=3" RETRY_Q);
	writer *w = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(storage_open_write(s, "obj", &w, &err), 0);
	/*
	 * Parts 1-3 take the three slots and part 4 fills; handing part 4 over
	 * waits for a slot, and the failure of part 2 ends that wait: write()
	 * reports it.  Parts 1 and 3 are never answered: the driver must cancel
	 * them before it can abort the upload.
	 */
	assert_int_equal(write_pattern(w, 0, 4 * PART1 + 1, &err), -1);
	assert_non_null(strstr(err.msg, "bkt/pre/obj"));
	assert_non_null(strstr(err.msg, "InternalError"));
	assert_non_null(strstr(err.msg, " attempts over "));
	bderr err2;
	bderr_init(&err2);
	assert_int_equal(writer_close(w, &err2), -1); /* close says it again */
	assert_string_equal(err2.msg, err.msg);
	writer_free(w);
	storage_info info;
	assert_int_equal(storage_info_get(s, "obj", &info, &err), 0);
	assert_false(info.exists); /* nothing partial became visible */
	storage_free(s);
	server_stop(&sv);

	assert_false(sv.hold_timed_out);
	assert_int_equal(sv.held_with_failure, 2);
	assert_true(sv.part_puts[2] >= ATTEMPTS && sv.part_puts[2] <= 40);
	assert_int_equal(sv.part_puts[4], 0);
	assert_int_equal(sv.bad_body, 0);
	assert_int_equal(sv.initiates, 1);
	assert_int_equal(sv.completes, 0);
	assert_int_equal(sv.aborts, 1);
	assert_int_equal(sv.heads, 1);
	assert_int_equal(sv.lists, 1); /* the HEAD's 404: is it the object or the bucket? */
	assert_int_equal(sv.others, 0);
}

/*
 * A HEAD's 404 has no body: a missing bucket must not read as a missing
 * object (backupd check called such a repository new and fine).  The bucket
 * is asked about once per storage.
 */
static void info_missing_bucket(void **state)
{
	(void)state;
	server sv;
	server_init(&sv);
	sv.no_bucket = 1;
	server_start(&sv);
	storage *s = open_s3(&sv, RETRY_Q);
	bderr err;
	bderr_init(&err);
	storage_info info;
	assert_int_equal(storage_info_get(s, "obj", &info, &err), -1);
	assert_non_null(strstr(err.msg, "NoSuchBucket"));
	pthread_mutex_lock(&sv.mu);
	sv.no_bucket = 0;
	pthread_mutex_unlock(&sv.mu);
	bderr_init(&err);
	assert_int_equal(storage_info_get(s, "obj", &info, &err), 0);
	assert_false(info.exists);
	assert_int_equal(storage_info_get(s, "obj", &info, &err), 0);
	storage_free(s);
	server_stop(&sv);
	assert_int_equal(sv.heads, 3);
	assert_int_equal(sv.lists, 2); /* not again once the bucket answered */
	assert_int_equal(sv.others, 0);
}

static void delete_in_batches(void **state)
{
	(void)state;
	server sv;
	server_init(&sv);
	server_start(&sv);
	storage *s = open_s3(&sv, NULL);
	enum { N = 2500 };
	char **paths = calloc(N, sizeof *paths);
	for (int i = 0; i < N; i++) {
		paths[i] = malloc(16);
		snprintf(paths[i], 16, "k%04d", i);
	}
	snprintf(paths[1234], 16, "a&b");
	bderr err;
	bderr_init(&err);
	assert_int_equal(storage_remove_many(s, (const char *const *)paths, N, &err), 0);
	/* the server's threads are still alive: read and write under its lock */
	pthread_mutex_lock(&sv.mu);
	int deletes = sv.deletes;
	size_t delete_keys = sv.delete_keys;
	int md5_ok = sv.md5_ok, saw_escaped = sv.saw_escaped;
	sv.fail_key = 1;
	pthread_mutex_unlock(&sv.mu);
	assert_int_equal(deletes, 3);
	assert_int_equal(delete_keys, N);
	assert_true(md5_ok);
	assert_true(saw_escaped);

	assert_int_equal(storage_remove_many(s, (const char *const *)paths, 10, &err), -1);
	assert_non_null(strstr(err.msg, "bkt/pre/k0007"));
	assert_non_null(strstr(err.msg, "AccessDenied"));

	/* an invalid path is refused before anything is sent */
	pthread_mutex_lock(&sv.mu);
	int before = sv.deletes;
	pthread_mutex_unlock(&sv.mu);
	const char *bad[] = { "ok", "../x" };
	assert_int_equal(storage_remove_many(s, bad, 2, &err), -1);
	assert_int_equal(storage_remove_many(s, bad, 0, &err), 0);

	for (int i = 0; i < N; i++)
		free(paths[i]);
	free(paths);
	storage_free(s);
	server_stop(&sv);
	assert_int_equal(sv.deletes, before);
	assert_int_equal(sv.others, 0);
}

/* s3_storage_new on s3://bkt/pre?QUERY: 0, or -1 with err filled */
static int open_url(const char *query, bderr *err)
{
	storage_options o = { .access_key_id = "AKIDTEST", .secret_access_key = "SECRETTEST",
			      .tls_verify = 1 };
	char url[160];
	snprintf(url, sizeof url, "s3://bkt/pre?%s", query);
	storage *s = NULL;
	bderr_init(err);
	int rc = s3_storage_new(url, &o, &s, err);
	if (rc < 0)
		assert_null(s);
	storage_free(s);
	return rc;
}

/* Each of good opens; each of bad is a usage error whose message names want. */
static void check_urls(const char *const *good, size_t ngood, const char *const *bad, size_t nbad,
		       const char *want)
{
	bderr err;
	for (size_t i = 0; i < ngood; i++)
		if (open_url(good[i], &err) != 0)
			fail_msg("%s: %s", good[i], err.msg);
	for (size_t i = 0; i < nbad; i++) {
		if (open_url(bad[i], &err) != -1)
			fail_msg("%s accepted", bad[i]);
		assert_int_equal(err.exit_code, EXIT_USAGE);
		if (want)
			assert_non_null(strstr(err.msg, want));
	}
}

/* upload-concurrency=K in the URL: 1 to 64, anything else is a usage error naming it */
static void upload_concurrency_in_url(void **state)
{
	(void)state;
	const char *good[] = { "upload-concurrency=1", "upload-concurrency=4", "upload-concurrency=64" };
	const char *bad[] = { "upload-concurrency=0", "upload-concurrency=65", "upload-concurrency=-1",
			      "upload-concurrency=x", "upload-concurrency=4x", "upload-concurrency=" };
	check_urls(good, 3, bad, 6, "upload-concurrency");
}

/* retry-max-time=0: a failing part is tried once, not retried */
static void no_retry_budget(void **state)
{
	(void)state;
	server sv;
	server_init(&sv);
	sv.drop_part = 2;
	server_start(&sv);
	storage *s = open_s3(&sv, "&retry-max-time=0");
	writer *w = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(storage_open_write(s, "obj", &w, &err), 0);
	assert_int_equal(write_pattern(w, 0, PART1 + PART2, &err), 0);
	assert_int_equal(writer_close(w, &err), -1);
	writer_free(w);
	storage_free(s);
	server_stop(&sv);
	assert_non_null(strstr(err.msg, "after 1 attempts"));
	/* libcurl may itself re-send once on a reused connection found dead */
	assert_true(sv.part_puts[2] >= 1 && sv.part_puts[2] <= 2);
	assert_int_equal(sv.aborts, 1);
}

/* retry-max-time, sse, sse-kms-key-id and storage-class in the URL: checked values */
static void object_options_in_url(void **state)
{
	(void)state;
	const char *good[] = { "retry-max-time=0", "retry-max-time=600", "sse=AES256",
			       "sse=aws:kms", "sse=aws:kms&sse-kms-key-id=arn:aws:kms:k",
			       "storage-class=STANDARD_IA", "storage-class=GLACIER_IR" };
	const char *bad[] = { "retry-max-time=-1", "retry-max-time=1m", "retry-max-time=86401",
			      "sse=aes256", "sse=kms", "sse-kms-key-id=k", "sse=AES256&sse-kms-key-id=k",
			      "storage-class=standard_ia", "storage-class=COLD" };
	check_urls(good, sizeof good / sizeof good[0], bad, sizeof bad / sizeof bad[0], NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(upload_part_dropped),
		cmocka_unit_test(parts_upload_concurrently),
		cmocka_unit_test(concurrent_part_failure_aborts),
		cmocka_unit_test(info_missing_bucket),
		cmocka_unit_test(delete_in_batches),
		cmocka_unit_test(upload_concurrency_in_url),
		cmocka_unit_test(no_retry_budget),
		cmocka_unit_test(object_options_in_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
