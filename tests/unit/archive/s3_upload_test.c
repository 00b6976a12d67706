/*
 * The S3 driver against a tiny HTTP server in a thread (plain sockets on
 * 127.0.0.1): a multipart upload whose second part keeps losing its
 * connection midway must fail with an error naming the object, after the
 * driver's retries, and abort the upload; DeleteObjects goes out in batches
 * of 1000 keys with a correct Content-MD5 and escaped keys, and a per-key
 * <Error> in the answer fails the call naming that key.
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
#include <unistd.h>

#include <openssl/evp.h>

#include "archive/s3/s3.h"
#include "archive/storage.h"

#define PART1 ((size_t)16 << 20) /* the driver's first part size */
#define PART2 ((size_t)1 << 20)
#define DROP_AFTER 65536          /* bytes of part 2 read before hanging up */
#define ATTEMPTS 6                /* the driver's attempts per request */

typedef struct server {
	int lfd;
	int port;
	pthread_t thread;
	pthread_mutex_t mu;
	/* counters, read after the client is done */
	int initiates, part1, part2, completes, aborts, deletes, others;
	size_t delete_keys;
	int md5_ok;         /* every DeleteObjects carried a matching Content-MD5 */
	int saw_escaped;    /* a key arrived as "a&amp;b" */
	int fail_key;       /* answer DeleteObjects with a per-key <Error> */
} server;

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

/* One connection: requests until the peer closes or we hang up on purpose. */
static void serve_conn(server *sv, int fd)
{
	size_t cap = PART1 + PART2 + 65536;
	char *buf = malloc(cap);
	size_t have = 0;
	for (;;) {
		char *end;
		while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
			ssize_t k = have < cap ? recv(fd, buf + have, cap - have, 0) : -1;
			if (k <= 0)
				goto out;
			have += (size_t)k;
		}
		size_t hlen = (size_t)(end - buf) + 4;
		char *head = strndup(buf, hlen);
		const char *cl = header_value(head, "Content-Length");
		size_t blen = cl ? strtoull(cl, NULL, 10) : 0;
		int part2 = strncmp(head, "PUT ", 4) == 0 && strstr(head, "partNumber=2") != NULL;
		size_t want = part2 ? (blen < DROP_AFTER ? blen : DROP_AFTER) : blen;
		while (have - hlen < want) {
			ssize_t k = have < cap ? recv(fd, buf + have, cap - have, 0) : -1;
			if (k <= 0) {
				free(head);
				goto out;
			}
			have += (size_t)k;
		}
		const char *body = buf + hlen;
		pthread_mutex_lock(&sv->mu);
		if (part2) {
			sv->part2++;
			pthread_mutex_unlock(&sv->mu);
			free(head);
			goto out; /* hang up in the middle of the body */
		}
		if (strncmp(head, "POST ", 5) == 0 && strstr(head, "?uploads") != NULL) {
			sv->initiates++;
			respond(fd, "200 OK", NULL,
				"<InitiateMultipartUploadResult><UploadId>UP1</UploadId>"
				"</InitiateMultipartUploadResult>");
		} else if (strncmp(head, "PUT ", 4) == 0 && strstr(head, "partNumber=1") != NULL) {
			sv->part1++;
			respond(fd, "200 OK", "ETag: \"etag1\"\r\n", NULL);
		} else if (strncmp(head, "DELETE ", 7) == 0 && strstr(head, "uploadId=UP1") != NULL) {
			sv->aborts++;
			respond(fd, "204 No Content", NULL, NULL);
		} else if (strncmp(head, "POST ", 5) == 0 && strstr(head, "?delete") != NULL) {
			sv->deletes++;
			sv->delete_keys += count(body, blen, "<Key>");
			if (!md5_matches(body, blen, header_value(head, "Content-MD5")))
				sv->md5_ok = 0;
			if (count(body, blen, "<Key>pre/a&amp;b</Key>"))
				sv->saw_escaped = 1;
			if (sv->fail_key)
				respond(fd, "200 OK", NULL,
					"<DeleteResult><Error><Key>pre/k0007</Key><Code>AccessDenied</Code>"
					"<Message>Access Denied</Message></Error></DeleteResult>");
			else
				respond(fd, "200 OK", NULL, "<DeleteResult></DeleteResult>");
		} else {
			sv->others++;
			respond(fd, "400 Bad Request", NULL, NULL);
		}
		pthread_mutex_unlock(&sv->mu);
		free(head);
		memmove(buf, buf + hlen + blen, have - hlen - blen);
		have -= hlen + blen;
	}
out:
	close(fd);
	free(buf);
}

static void *serve(void *arg)
{
	server *sv = arg;
	for (;;) {
		int fd = accept(sv->lfd, NULL, NULL);
		if (fd < 0)
			return NULL; /* shut down */
		serve_conn(sv, fd);
	}
}

static void server_start(server *sv)
{
	memset(sv, 0, sizeof *sv);
	sv->md5_ok = 1;
	pthread_mutex_init(&sv->mu, NULL);
	sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(sv->lfd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(sv->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(sv->lfd, 8), 0);
	socklen_t al = sizeof a;
	assert_int_equal(getsockname(sv->lfd, (struct sockaddr *)&a, &al), 0);
	sv->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&sv->thread, NULL, serve, sv), 0);
}

static void server_stop(server *sv)
{
	shutdown(sv->lfd, SHUT_RDWR);
	pthread_join(sv->thread, NULL);
	close(sv->lfd);
	pthread_mutex_destroy(&sv->mu);
}

static storage *open_s3(const server *sv)
{
	char url[128];
	snprintf(url, sizeof url, "s3://bkt/pre?endpoint=http://127.0.0.1:%d&style=path", sv->port);
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

static void upload_part_dropped(void **state)
{
	(void)state;
	server sv;
	server_start(&sv);
	storage *s = open_s3(&sv);
	writer *w = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(storage_open_write(s, "obj", &w, &err), 0);
	char *data = calloc(1, PART1 + PART2);
	assert_int_equal(writer_write(w, data, PART1 + PART2, &err), 0); /* part 1 goes out */
	assert_int_equal(writer_close(w, &err), -1);                  /* part 2 keeps failing */
	writer_free(w);                                                /* aborts the upload */
	free(data);
	storage_free(s);
	server_stop(&sv);

	assert_non_null(strstr(err.msg, "bkt/pre/obj"));
	assert_non_null(strstr(err.msg, "after 6 attempts"));
	assert_int_equal(sv.initiates, 1);
	assert_int_equal(sv.part1, 1);
	/*
	 * The driver makes ATTEMPTS tries (the message says so); libcurl may
	 * itself re-send a request once when a reused connection turns out dead,
	 * so the server can see a few more, never fewer.
	 */
	assert_true(sv.part2 >= ATTEMPTS && sv.part2 <= 2 * ATTEMPTS);
	assert_int_equal(sv.completes, 0);
	assert_int_equal(sv.aborts, 1);
	assert_int_equal(sv.others, 0);
}

static void delete_in_batches(void **state)
{
	(void)state;
	server sv;
	server_start(&sv);
	storage *s = open_s3(&sv);
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
	assert_int_equal(sv.deletes, 3);
	assert_int_equal(sv.delete_keys, N);
	assert_true(sv.md5_ok);
	assert_true(sv.saw_escaped);

	sv.fail_key = 1;
	assert_int_equal(storage_remove_many(s, (const char *const *)paths, 10, &err), -1);
	assert_non_null(strstr(err.msg, "bkt/pre/k0007"));
	assert_non_null(strstr(err.msg, "AccessDenied"));

	/* an invalid path is refused before anything is sent */
	int before = sv.deletes;
	const char *bad[] = { "ok", "../x" };
	assert_int_equal(storage_remove_many(s, bad, 2, &err), -1);
	assert_int_equal(sv.deletes, before);
	assert_int_equal(storage_remove_many(s, bad, 0, &err), 0);

	for (int i = 0; i < N; i++)
		free(paths[i]);
	free(paths);
	storage_free(s);
	server_stop(&sv);
	assert_int_equal(sv.others, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(upload_part_dropped),
		cmocka_unit_test(delete_in_batches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
