/*
 * S3's XML answers, read apart from the HTTP code: each function takes a body
 * as received (not NUL-terminated, possibly hostile) and returns what the
 * driver needs.  Kept separate so that the parsing can be fuzzed
 * (tests/fuzz/s3_xml_fuzz.c) and its implementation replaced by a real XML
 * parser without touching the driver.
 */
#ifndef BACKUPD_ARCHIVE_S3_S3_XML_H
#define BACKUPD_ARCHIVE_S3_S3_XML_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Text of the first <tag>...</tag>, entities decoded (caller frees); NULL when absent. */
char *s3_xml_text(const char *xml, size_t len, const char *tag);

/* 1 when the body holds an <Error> element (a failure reported inside a 200 answer). */
int s3_xml_is_error(const char *xml, size_t len);

/* An <Error> of an error document or of a DeleteObjects answer. */
typedef struct s3_xml_error {
	char *key;     /* NULL when absent, as every field */
	char *code;
	char *message;
	size_t count;  /* DeleteObjects: how many <Error> elements (0: every key deleted) */
} s3_xml_error;

/* An error document: Code and Message (count stays 0). */
void s3_xml_error_parse(const char *xml, size_t len, s3_xml_error *out);
/* A DeleteObjects answer: Key, Code and Message of its first <Error>, and how many there are. */
void s3_xml_delete_result_parse(const char *xml, size_t len, s3_xml_error *out);
void s3_xml_error_free(s3_xml_error *e);

typedef struct s3_list_entry {
	char *key;
	uint64_t size;
} s3_list_entry;

/* One ListObjectsV2 page. */
typedef struct s3_list_page {
	s3_list_entry *items;
	size_t n;
	int truncated;    /* IsTruncated is "true": next_token is then set */
	char *next_token;
} s3_list_page;

/*
 * Parses a page; -1 with err set ("malformed answer", "truncated without a
 * continuation token") when it is not one.  out is filled either way and must
 * be freed.
 */
int s3_xml_list_parse(const char *xml, size_t len, s3_list_page *out, bderr *err);
void s3_list_page_free(s3_list_page *p);

#endif
