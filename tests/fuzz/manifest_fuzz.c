/*
 * libFuzzer target: manifest.json (archive/manifest.c).  Whatever parses must
 * survive parse -> write -> parse with an equal result, and writing that
 * again must give the same text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/manifest.h"
#include "common/version.h"

#define TOOL "backupd " BACKUPD_VERSION

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "manifest round trip: %s differs\n", what);
		abort();
	}
}

static void check_equal(const manifest *a, const manifest *b)
{
	must(a->format == b->format, "format");
	must(str_eq(a->id, b->id), "id");
	must(str_eq(a->name, b->name), "name");
	must(str_eq(a->engine, b->engine), "engine");
	must(str_eq(a->kind, b->kind), "kind");
	must(str_eq(a->server_version, b->server_version), "server_version");
	/* NULL means "this backupd", which is what gets written */
	must(str_eq(a->tool_version ? a->tool_version : TOOL, b->tool_version ? b->tool_version : TOOL),
	     "tool_version");
	must(a->started == b->started, "started");
	must(a->finished == b->finished, "finished");
	must(json_equal(a->info, b->info), "info");
	must(a->n_objects == b->n_objects, "number of objects");
	for (size_t i = 0; i < a->n_objects; i++) {
		const manifest_object *x = &a->objects[i], *y = &b->objects[i];
		must(strcmp(x->name, y->name) == 0, "object name");
		must(x->meta.size == y->meta.size, "object size");
		must(x->meta.stored_size == y->meta.stored_size, "object stored_size");
		must(strcmp(x->meta.sha256, y->meta.sha256) == 0, "object sha256");
		must(x->meta.sha256_stored == y->meta.sha256_stored, "object sha256_of");
		must(x->compressed == y->compressed, "object compressed");
		must(x->rows == y->rows, "object rows");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	manifest *m1 = NULL, *m2 = NULL, *m3 = NULL;
	char *t1 = NULL, *t2 = NULL;
	bderr err;
	bderr_init(&err);
	if (manifest_parse((const char *)data, size, &m1, &err) < 0)
		return 0;
	if (manifest_to_json(m1, &t1, &err) < 0) {
		fprintf(stderr, "manifest parsed but cannot be written: %s\n", err.msg);
		abort();
	}
	if (manifest_parse(t1, strlen(t1), &m2, &err) < 0) {
		fprintf(stderr, "manifest written cannot be parsed again: %s\n%s\n", err.msg, t1);
		abort();
	}
	check_equal(m1, m2);
	if (manifest_to_json(m2, &t2, &err) < 0 || strcmp(t1, t2) != 0 ||
	    manifest_parse(t2, strlen(t2), &m3, &err) < 0) {
		fprintf(stderr, "manifest written twice differs\n");
		abort();
	}
	check_equal(m2, m3);
	manifest_free(m1);
	manifest_free(m2);
	manifest_free(m3);
	free(t1);
	free(t2);
	return 0;
}
