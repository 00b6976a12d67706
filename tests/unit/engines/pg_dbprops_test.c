#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engines/pg/pg_dbprops.h"

static const char good[] =
	"{\"owner\": \"o\", \"connection_limit\": 7, \"collate\": \"C\", \"ctype\": \"C\","
	" \"locale_provider\": \"icu\", \"locale\": \"und\", \"icu_rules\": null, \"comment\": \"c\","
	" \"acl\": [{\"grantee\": null, \"privilege\": \"CONNECT\", \"grantable\": false},"
	"           {\"grantee\": \"u\", \"privilege\": \"TEMPORARY\", \"grantable\": true}],"
	" \"settings\": [\"work_mem=8MB\", \"search_path=\\\"$user\\\", public\"],"
	" \"role_settings\": [{\"role\": \"u\", \"settings\": [\"statement_timeout=5s\"]}]}";

static int parse_text(const char *text, pg_db_props **out, bderr *err)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);
	assert_non_null(v);
	int r = pg_db_props_parse(v, out, err);
	json_decref(v);
	return r;
}

static void test_parses_every_field(void **state)
{
	(void)state;
	pg_db_props *p = NULL;
	bderr err;
	bderr_init(&err);
	assert_int_equal(parse_text(good, &p, &err), 0);
	assert_string_equal(p->owner, "o");
	assert_int_equal(p->connection_limit, 7);
	assert_string_equal(p->provider, "icu");
	assert_string_equal(p->locale, "und");
	assert_null(p->icu_rules);
	assert_string_equal(p->comment, "c");
	assert_true(p->has_acl);
	assert_int_equal(p->n_acl, 2);
	assert_null(p->acl[0].grantee);
	assert_string_equal(p->acl[1].privilege, "TEMPORARY");
	assert_true(p->acl[1].grantable);
	assert_int_equal(p->n_settings, 2);
	assert_null(p->settings[0].role);
	assert_int_equal(p->settings[0].n, 2);
	assert_string_equal(p->settings[0].items[1].name, "search_path");
	assert_string_equal(p->settings[0].items[1].value, "\"$user\", public");
	assert_string_equal(p->settings[1].role, "u");
	assert_string_equal(p->settings[1].items[0].value, "5s");
	pg_db_props_free(p);
}

static void test_absent_is_not_an_error(void **state)
{
	(void)state;
	pg_db_props *p = (pg_db_props *)1;
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_db_props_parse(NULL, &p, &err), 0);
	assert_null(p);
}

/* Each field is checked: they all end up in SQL. */
static void test_rejects_bad_fields(void **state)
{
	(void)state;
	static const struct {
		const char *from, *to, *msg;
	} cases[] = {
		{ "\"owner\": \"o\"", "\"owner\": 5", "database_properties.owner" },
		{ "\"owner\": \"o\"", "\"owner\": \"\"", "database_properties.owner" },
		{ "\"connection_limit\": 7", "\"connection_limit\": -2", "connection_limit" },
		{ "\"connection_limit\": 7", "\"connection_limit\": \"7\"", "connection_limit" },
		{ "\"locale_provider\": \"icu\"", "\"locale_provider\": \"icu; DROP\"", "locale_provider" },
		{ "\"locale\": \"und\"", "\"locale\": null", "database_properties.locale" },
		{ "\"CONNECT\"", "\"ALL; DROP DATABASE x\"", "acl[0]: 'ALL; DROP DATABASE x' is not" },
		{ "\"grantable\": false", "\"grantable\": 0", "acl[0]" },
		{ "\"work_mem=8MB\"", "\"work_mem\"", "database_properties.settings[0]" },
		{ "\"work_mem=8MB\"", "\"work mem=8MB\"", "database_properties.settings[0]" },
		{ "\"work_mem=8MB\"", "\"x;y=1\"", "database_properties.settings[0]" },
		{ "\"role\": \"u\"", "\"role\": null", "role_settings[0].role" },
		{ "\"statement_timeout=5s\"", "7", "role_settings[0].settings[0]" },
		{ "\"acl\": [", "\"acl\": {\"x\": [", "database_properties.acl" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *at = strstr(good, cases[i].from);
		assert_non_null(at);
		char *text = malloc(sizeof good + 64);
		size_t pre = (size_t)(at - good);
		memcpy(text, good, pre);
		strcpy(text + pre, cases[i].to);
		strcat(text, at + strlen(cases[i].from));
		if (strstr(cases[i].to, "{\"x\"")) /* keep the JSON well-formed */
			strcpy(strstr(text, "], \"settings\""), "]}, \"settings\": [], \"role_settings\": []}");
		pg_db_props *p = NULL;
		bderr err;
		bderr_init(&err);
		assert_int_equal(parse_text(text, &p, &err), -1);
		assert_null(p);
		if (strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
		assert_non_null(strstr(err.msg, "invalid manifest"));
		free(text);
	}
}

static void test_list_items(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t n;
		const char *items[4];
	} cases[] = {
		{ "\"$user\", public", 2, { "$user", "public" } },
		{ "a,\"B, \"\"c\"\"\" , d ", 3, { "a", "B, \"c\"", "d" } },
		{ "", 1, { "" } },
		{ "\"unterminated", 1, { "unterminated" } },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		size_t n = 0;
		char **items = pg_db_list_items(cases[i].in, &n);
		assert_int_equal(n, cases[i].n);
		for (size_t k = 0; k < n; k++) {
			assert_string_equal(items[k], cases[i].items[k]);
			free(items[k]);
		}
		assert_null(items[n]);
		free(items);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parses_every_field),
		cmocka_unit_test(test_absent_is_not_an_error),
		cmocka_unit_test(test_rejects_bad_fields),
		cmocka_unit_test(test_list_items),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
