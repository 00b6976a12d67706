/*
 * libFuzzer target: partial restores of pg_dump scripts read from a
 * repository (engines/pg/pg_subset.c).  The first byte picks a filter; the
 * rest is the script.  The filter may only remove text (what is left is the
 * script with whole ranges cut out, in order), leaves the script as it was
 * when it drops nothing, and the foreign-key check never fails on anything
 * but a usage error.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/tablefilter.h"
#include "engines/pg/pg_subset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static table_filter *pick(uint8_t b)
{
	static const struct {
		table_filter_list list;
		const char *pattern;
	} pats[] = { { TF_INCLUDE_TABLE, "public.orders" }, { TF_INCLUDE_TABLE, "*" },
		     { TF_INCLUDE_SCHEMA, "sales" },        { TF_EXCLUDE_TABLE, "o*" },
		     { TF_EXCLUDE_SCHEMA, "public" },       { TF_INCLUDE_TABLE, "[a-c]?" } };
	table_filter *f = table_filter_new();
	bderr err;
	bderr_init(&err);
	for (size_t i = 0; i < sizeof pats / sizeof *pats; i++)
		if (b & (1u << i))
			table_filter_add(f, pats[i].list, pats[i].pattern, &err);
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	table_filter *f = pick(data[0]);
	size_t len = size - 1;
	const char *in = (const char *)data + 1;
	char *sql = xmalloc(len + 1);
	memcpy(sql, in, len);
	sql[len] = '\0';
	bderr err;
	bderr_init(&err);
	if (pg_subset_check_keys(f, sql, len, &err) != 0 && err.exit_code != EXIT_USAGE)
		abort();
	size_t out = len;
	size_t dropped = pg_subset_filter(f, sql, &out);
	if (out > len || (dropped == 0 && (out != len || memcmp(sql, in, len) != 0)))
		abort();
	/* a subsequence of the input */
	size_t j = 0;
	for (size_t i = 0; i < out; i++) {
		while (j < len && in[j] != sql[i])
			j++;
		if (j == len) {
			fprintf(stderr, "output byte %zu is not from the input\n", i);
			abort();
		}
		j++;
	}
	free(sql);
	table_filter_free(f);
	return 0;
}
