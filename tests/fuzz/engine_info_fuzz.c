/*
 * libFuzzer target: the typed manifest info parsers of the base backup
 * (engines/pg/pg_base_format.h) and of the recorded accounts
 * (engines/pg/pg_role_format.h, engines/mysql/mysql_user_format.h).  What
 * parses must be written and parsed again to the same JSON: the writer never
 * produces what the reader refuses, and the reader keeps every field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "engines/mysql/mysql_user_format.h"
#include "engines/pg/pg_base_format.h"
#include "engines/pg/pg_role_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "engine info round trip: %s\n", what);
		abort();
	}
}

static void base_round_trip(const json_t *info)
{
	pg_base_info a, b;
	bderr err;
	bderr_init(&err);
	if (pg_base_info_parse(info, &a, &err) != 0)
		return;
	json_t *j1 = json_object(), *j2 = json_object();
	pg_base_info_to_json(&a, j1);
	must(pg_base_info_parse(j1, &b, &err) == 0, "base backup info written cannot be parsed");
	pg_base_info_to_json(&b, j2);
	must(json_equal(j1, j2), "base backup info differs when written twice");
	pg_base_info_clear(&a);
	pg_base_info_clear(&b);
	json_decref(j1);
	json_decref(j2);
}

static void roles_round_trip(const json_t *info)
{
	pg_roles_info a, b;
	bderr err;
	bderr_init(&err);
	if (pg_roles_info_parse(info, &a, &err) != 0)
		return;
	json_t *j1 = json_pack("{s:o}", "roles", pg_roles_info_to_json(&a));
	must(pg_roles_info_parse(j1, &b, &err) == 0, "roles written cannot be parsed");
	json_t *j2 = json_pack("{s:o}", "roles", pg_roles_info_to_json(&b));
	must(json_equal(j1, j2), "roles differ when written twice");
	pg_roles_info_clear(&a);
	pg_roles_info_clear(&b);
	json_decref(j1);
	json_decref(j2);
}

static void users_round_trip(const json_t *info)
{
	my_users_info a, b;
	bderr err;
	bderr_init(&err);
	if (my_users_info_parse(info, &a, &err) != 0)
		return;
	json_t *j1 = json_pack("{s:o}", "users", my_users_info_to_json(&a));
	must(my_users_info_parse(j1, &b, &err) == 0, "users written cannot be parsed");
	json_t *j2 = json_pack("{s:o}", "users", my_users_info_to_json(&b));
	must(json_equal(j1, j2), "users differ when written twice");
	my_users_info_clear(&a);
	my_users_info_clear(&b);
	json_decref(j1);
	json_decref(j2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *info = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &je);
	if (info == NULL)
		return 0;
	base_round_trip(info);
	roles_round_trip(info);
	users_round_trip(info);
	json_decref(info);
	return 0;
}
