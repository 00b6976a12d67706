/*
 * The XML answers of S3 and STS, parsed with expat.  One function per kind
 * of answer: a buffer in, a struct out, no I/O, so the fuzz targets and unit
 * tests call exactly what the driver calls.  Element names are matched by
 * their local name (any namespace) and position; unknown elements are
 * skipped.  A document with a DTD is refused (no entity expansion at all).
 * Every function returns 0 or -1 with err set ("malformed XML: ..."); on
 * success the caller frees the struct with the matching *_clear.
 */
#ifndef BACKUPD_ARCHIVE_S3_XML_H
#define BACKUPD_ARCHIVE_S3_XML_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/mem.h"

/* <Error><Code/><Message/></Error>, the error document of S3 (and STS's
 * <ErrorResponse><Error>...).  Fields are NULL when absent; an answer that is
 * not an error document parses to all NULL. */
typedef struct s3_xml_error {
	char *code;
	char *message;
} s3_xml_error;
int s3_xml_parse_error(const char *buf, size_t len, s3_xml_error *out, bderr *err);
void s3_xml_error_clear(s3_xml_error *e);

/* ListObjectsV2: the <Contents> entries, IsTruncated, NextContinuationToken. */
typedef struct s3_xml_object {
	char *key;
	uint64_t size;
} s3_xml_object;
typedef struct s3_xml_list {
	s3_xml_object *objects;
	size_t n;
	int truncated;
	char *next_token; /* NULL when absent */
} s3_xml_list;
int s3_xml_parse_list(const char *buf, size_t len, s3_xml_list *out, bderr *err);
void s3_xml_list_clear(s3_xml_list *l);

/* CreateMultipartUpload: the UploadId (malloc'ed; an answer without one is an error). */
int s3_xml_parse_upload_id(const char *buf, size_t len, char **upload_id, bderr *err);

/* DeleteObjects (quiet): how many <Error> entries, and the first one's key, code, message. */
typedef struct s3_xml_delete {
	size_t nerrors;
	char *key;
	char *code;
	char *message;
} s3_xml_delete;
int s3_xml_parse_delete(const char *buf, size_t len, s3_xml_delete *out, bderr *err);
void s3_xml_delete_clear(s3_xml_delete *d);

/* STS AssumeRoleWithWebIdentity and AssumeRole: the <Credentials> (all four required). */
typedef struct sts_xml_credentials {
	char *access_key_id;
	char *secret_access_key; /* secret */
	char *session_token;     /* secret */
	char *expiration;        /* ISO 8601 */
} sts_xml_credentials;
int sts_xml_parse_credentials(const char *buf, size_t len, sts_xml_credentials *out, bderr *err);
/* Wipes the secrets before freeing. */
void sts_xml_credentials_clear(sts_xml_credentials *c);

/* Appends s to out as XML text (for the bodies backupd sends). */
void s3_xml_escape(strbuf *out, const char *s);

#endif
