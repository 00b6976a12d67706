/*
 * libFuzzer target: a manifest's info.digest (engines/digest.c).  Whatever
 * parses must write back to JSON that parses to an equal set (compare finds
 * no difference, either way round, extras included), and writing that again
 * must give the same JSON.  Comparing the input with an empty set must name
 * differences without failing otherwise.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "engines/digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int ok, const char *what, const char *detail)
{
	if (!ok) {
		fprintf(stderr, "digest round trip: %s: %s\n", what, detail ? detail : "");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
	if (v == NULL)
		return 0;
	digest_set *a = NULL, *b = NULL, *c = NULL;
	bderr err;
	bderr_init(&err);
	if (digest_set_parse(v, "info.digest", &a, &err) != 0) {
		json_decref(v);
		return 0;
	}
	json_t *ja = digest_set_to_json(a);
	must(digest_set_parse(ja, "info.digest", &b, &err) == 0, "written digest does not parse", err.msg);
	must(digest_compare(a, b, DIGEST_COMPARE_EXTRA, &err) == 0, "parsed back differs", err.msg);
	must(digest_compare(b, a, DIGEST_COMPARE_EXTRA, &err) == 0, "parsed back differs", err.msg);
	json_t *jb = digest_set_to_json(b);
	must(json_equal(ja, jb), "written twice differs", NULL);
	c = digest_set_new();
	bderr_init(&err);
	int rc = digest_compare(a, c, DIGEST_COMPARE_EXTRA, &err);
	must(rc == 0 || bderr_isset(&err), "a difference without a message", NULL);
	json_decref(jb);
	json_decref(ja);
	json_decref(v);
	digest_set_free(a);
	digest_set_free(b);
	digest_set_free(c);
	return 0;
}
