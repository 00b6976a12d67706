/*
 * AWS Signature Version 4, as pure functions so the published test vectors
 * can pin every step.  Nothing here does I/O or reads the clock: the caller
 * passes the request time.  Strings returned are malloc'ed; caller frees.
 */
#ifndef BACKUPD_ARCHIVE_S3_SIGV4_H
#define BACKUPD_ARCHIVE_S3_SIGV4_H

#include <stddef.h>
#include <time.h>
#include "common/mem.h"

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string, the payload hash of a body-less request */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct sigv4_pair {
	const char *name;  /* header name (any case) or query key, unencoded */
	const char *value; /* unencoded; NULL counts as "" */
} sigv4_pair;

typedef struct sigv4_request {
	const char *method;
	const char *path; /* unencoded, starting with '/'; encoded per segment, '/' kept */
	const sigv4_pair *query;
	size_t nquery;
	/* every header to sign, including host and x-amz-date (and x-amz-security-token) */
	const sigv4_pair *headers;
	size_t nheaders;
	const char *payload_hash; /* lowercase hex SHA-256, or SIGV4_UNSIGNED_PAYLOAD */
} sigv4_request;

typedef struct sigv4_scope {
	const char *access_key_id;
	const char *secret_access_key;
	const char *region;
	const char *service;
	const char *amz_date; /* YYYYMMDDTHHMMSSZ */
} sigv4_scope;

/* RFC 3986 unreserved characters stay, everything else is %XX (uppercase). */
void sigv4_uri_encode(strbuf *out, const char *s, int keep_slash);

/* "a=1&b=2": keys and values encoded, sorted by encoded key then value. */
char *sigv4_canonical_query(const sigv4_pair *query, size_t n);

/* The canonical request; *signed_headers receives "host;x-amz-date". */
char *sigv4_canonical_request(const sigv4_request *r, char **signed_headers);

char *sigv4_string_to_sign(const sigv4_scope *sc, const char *canonical_request);

void sigv4_signing_key(const sigv4_scope *sc, unsigned char key[32]);

/* Lowercase hex signature of string_to_sign, into out[65]. */
void sigv4_signature(const sigv4_scope *sc, const char *string_to_sign, char out[65]);

/* The full Authorization header value ("AWS4-HMAC-SHA256 Credential=..."). */
char *sigv4_authorization(const sigv4_request *r, const sigv4_scope *sc);

/* t as YYYYMMDDTHHMMSSZ (UTC) into out[17]. */
void sigv4_amz_date(time_t t, char out[17]);

#endif
