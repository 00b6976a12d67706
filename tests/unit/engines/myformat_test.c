#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/mysql/myformat.h"

/* Every byte value, escaped and unescaped, comes back unchanged and never
 * leaves a raw tab or newline that would split fields or rows. */
static void test_tsv_round_trip_all_bytes(void **state)
{
	(void)state;
	char src[512];
	for (int i = 0; i < 512; i++)
		src[i] = (char)(i % 256);
	char esc[1024], back[512];
	size_t n = tsv_escape(esc, src, sizeof src);
	assert_true(n <= sizeof esc);
	assert_null(memchr(esc, '\t', n));
	assert_null(memchr(esc, '\n', n));
	assert_null(memchr(esc, '\0', n));
	size_t blen = 0;
	assert_int_equal(tsv_unescape(esc, n, back, &blen), 0);
	assert_int_equal(blen, sizeof src);
	assert_memory_equal(back, src, sizeof src);
}

/* The word-at-a-time path agrees with escaping byte by byte, at every length
 * and alignment, for text with escapes sprinkled in and for plain text. */
static void test_tsv_escape_matches_bytewise(void **state)
{
	(void)state;
	static const char special[] = { '\0', '\b', '\n', '\r', '\t', 0x1a, '\\' };
	unsigned char src[300];
	unsigned x = 12345;
	for (int round = 0; round < 4; round++) {
		for (size_t i = 0; i < sizeof src; i++) {
			x = x * 1103515245u + 12345u;
			unsigned r = (x >> 16) & 0xff;
			if (round == 0)
				src[i] = (unsigned char)('a' + r % 26);
			else if (round == 1)
				src[i] = r % 17 == 0 ? (unsigned char)special[r % 7] : (unsigned char)('a' + r % 26);
			else
				src[i] = (unsigned char)r; /* every byte value, high bytes included */
		}
		for (size_t off = 0; off < 9; off++) {
			for (size_t n = 0; off + n <= sizeof src; n += 1 + n / 8) {
				char got[600], want[600];
				size_t w = 0;
				for (size_t i = 0; i < n; i++) {
					unsigned char c = src[off + i];
					const char *p = memchr(special, (char)c, sizeof special);
					static const char second[] = { '0', 'b', 'n', 'r', 't', 'Z', '\\' };
					if (p) {
						want[w++] = '\\';
						want[w++] = second[p - special];
					} else {
						want[w++] = (char)c;
					}
				}
				size_t g = tsv_escape(got, (const char *)src + off, n);
				assert_int_equal(g, w);
				assert_memory_equal(got, want, w);
			}
		}
	}
}

static void test_tsv_escapes_are_load_data_sequences(void **state)
{
	(void)state;
	const char src[] = { 'a', '\0', '\b', '\n', '\r', '\t', 0x1a, '\\', 'z' };
	char esc[32];
	size_t n = tsv_escape(esc, src, sizeof src);
	assert_int_equal(n, 16);
	assert_memory_equal(esc, "a\\0\\b\\n\\r\\t\\Z\\\\z", 16);
}

static void test_tsv_null_versus_backslash_n_string(void **state)
{
	(void)state;
	char out[8];
	size_t len = 99;
	/* \N is NULL */
	assert_int_equal(tsv_unescape("\\N", 2, out, &len), 1);
	/* the two-character string "\N" is escaped to \\N and is not NULL */
	char esc[8];
	size_t n = tsv_escape(esc, "\\N", 2);
	assert_int_equal(n, 3);
	assert_memory_equal(esc, "\\\\N", 3);
	assert_int_equal(tsv_unescape(esc, n, out, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(out, "\\N", 2);
	/* empty string is not NULL */
	assert_int_equal(tsv_unescape("", 0, out, &len), 0);
	assert_int_equal(len, 0);
	/* the string "N" */
	assert_int_equal(tsv_unescape("N", 1, out, &len), 0);
	assert_int_equal(len, 1);
}

/* A row: fields escaped and tab-separated, NULL as \N, a newline at the end, within the bound. */
static void test_tsv_row(void **state)
{
	(void)state;
	char f0[] = { 'a', '\t', 'b' };
	char f2[] = { '\0', '\\', 'N' };
	char *row[] = { f0, NULL, f2, (char *)"" };
	unsigned long len[] = { sizeof f0, 0, sizeof f2, 0 };
	size_t bound = tsv_row_size(row, len, 4);
	char *buf = malloc(bound);
	size_t n = tsv_row(buf, row, len, 4);
	static const char want[] = "a\\tb\t\\N\t\\0\\\\N\t\n";
	assert_true(n <= bound);
	assert_int_equal(n, sizeof want - 1);
	assert_memory_equal(buf, want, n);
	assert_int_equal(tsv_row(buf, row, len, 0), 1); /* no fields: an empty line */
	free(buf);
}

static void test_name_encoding(void **state)
{
	(void)state;
	char *s = my_name_encode("app_1.x-y");
	assert_string_equal(s, "app_1.x-y");
	free(s);
	s = my_name_encode("a b/c%\\é");
	assert_string_equal(s, "a%20b%2Fc%25%5C%C3%A9");
	free(s);
	s = my_name_encode("..");
	assert_string_equal(s, "%2E%2E");
	free(s);
	s = my_name_encode(".");
	assert_string_equal(s, "%2E");
	free(s);
	s = my_object_name("my db", "tables.sql", 1);
	assert_string_equal(s, "my%20db/tables.sql.zst");
	free(s);
	s = my_object_name("d", "tables.sql", 0);
	assert_string_equal(s, "d/tables.sql");
	free(s);
}

static void test_strip_definer(void **state)
{
	(void)state;
	char *s = my_strip_definer("CREATE DEFINER=`root`@`localhost` PROCEDURE `p`() BEGIN END");
	assert_string_equal(s, "CREATE PROCEDURE `p`() BEGIN END");
	free(s);
	s = my_strip_definer("CREATE ALGORITHM=UNDEFINED DEFINER=`a``b`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1");
	assert_string_equal(s, "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1");
	free(s);
	s = my_strip_definer("CREATE DEFINER=root@localhost TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a = 'DEFINER=1'");
	assert_string_equal(s, "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a = 'DEFINER=1'");
	free(s);
	s = my_strip_definer("CREATE TABLE t (a int)");
	assert_string_equal(s, "CREATE TABLE t (a int)");
	free(s);
}

static void test_statement_files(void **state)
{
	(void)state;
	const char text[] =
		"-- statement\n-- sql_mode: STRICT_ALL_TABLES\n-- time_zone: SYSTEM\n"
		"CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  -- comment\nEND;\n"
		"-- statement\nCREATE VIEW v AS select 1;\n";
	my_statements *s = my_statements_parse(text, strlen(text));
	assert_int_equal(s->n, 2);
	assert_string_equal(s->items[0].sql_mode, "STRICT_ALL_TABLES");
	assert_string_equal(s->items[0].time_zone, "SYSTEM");
	assert_string_equal(s->items[0].text, "CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  -- comment\nEND");
	assert_null(s->items[1].sql_mode);
	assert_string_equal(s->items[1].text, "CREATE VIEW v AS select 1");
	my_statements_free(s);

	const char tables[] = "-- table: a\nCREATE TABLE `a` (\n  `x` int\n);\n-- table: b%20c\nCREATE TABLE `b c` (y int);\n";
	s = my_statements_parse(tables, strlen(tables));
	assert_int_equal(s->n, 2);
	assert_string_equal(s->items[0].table, "a");
	assert_string_equal(s->items[0].text, "CREATE TABLE `a` (\n  `x` int\n)");
	assert_string_equal(s->items[1].table, "b%20c");
	my_statements_free(s);

	s = my_statements_parse("", 0);
	assert_int_equal(s->n, 0);
	my_statements_free(s);

	/* with "-- length:", lines in the body that look like separators or headers stay in it */
	const char body[] = "CREATE PROCEDURE p()\nBEGIN\n-- statement\n-- table: t\n-- length: 3\nSELECT 1;\nEND";
	char *framed = NULL;
	size_t blen = strlen(body);
	char head[64];
	snprintf(head, sizeof head, "-- statement\n-- sql_mode: ANSI\n-- length: %zu\n", blen);
	size_t hlen = strlen(head);
	framed = malloc(hlen + blen + 64);
	memcpy(framed, head, hlen);
	memcpy(framed + hlen, body, blen);
	strcpy(framed + hlen + blen, ";\n-- table: z\n-- length: 1\nX;\n-- statement\nold style;\n");
	s = my_statements_parse(framed, strlen(framed));
	assert_int_equal(s->n, 3);
	assert_string_equal(s->items[0].sql_mode, "ANSI");
	assert_string_equal(s->items[0].text, body);
	assert_string_equal(s->items[1].table, "z");
	assert_string_equal(s->items[1].text, "X");
	assert_string_equal(s->items[2].text, "old style");
	my_statements_free(s);
	free(framed);

	/* creation-context headers; a header this parser does not know is skipped */
	const char ctx[] = "-- statement\n-- sql_mode: \n-- character_set_client: latin1\n"
			   "-- collation_connection: latin1_swedish_ci\n-- database_collation: utf8mb4_bin\n"
			   "-- some_future_key: x\n-- length: 8\nSELECT 1;\n"
			   "-- statement\n-- character_set_client: utf8mb3\nSELECT 2;\n";
	s = my_statements_parse(ctx, strlen(ctx));
	assert_int_equal(s->n, 2);
	assert_string_equal(s->items[0].sql_mode, "");
	assert_string_equal(s->items[0].character_set_client, "latin1");
	assert_string_equal(s->items[0].collation_connection, "latin1_swedish_ci");
	assert_string_equal(s->items[0].database_collation, "utf8mb4_bin");
	assert_string_equal(s->items[0].text, "SELECT 1");
	assert_string_equal(s->items[1].character_set_client, "utf8mb3");
	assert_null(s->items[1].collation_connection);
	assert_null(s->items[1].database_collation);
	assert_string_equal(s->items[1].text, "SELECT 2");
	my_statements_free(s);

	/* a length past the end of the file is not trusted: the old splitting applies */
	const char bad[] = "-- statement\n-- length: 999\nSELECT 1;\n-- statement\nSELECT 2;\n";
	s = my_statements_parse(bad, strlen(bad));
	assert_int_equal(s->n, 2);
	assert_string_equal(s->items[0].text, "SELECT 1");
	my_statements_free(s);
}

static void test_generated_columns(void **state)
{
	(void)state;
	assert_true(my_extra_is_generated("VIRTUAL GENERATED"));
	assert_true(my_extra_is_generated("STORED GENERATED"));
	assert_true(my_extra_is_generated("PERSISTENT GENERATED")); /* MariaDB's word for STORED */
	assert_false(my_extra_is_generated("auto_increment"));
	assert_false(my_extra_is_generated("DEFAULT_GENERATED on update CURRENT_TIMESTAMP"));
	assert_false(my_extra_is_generated(""));
	assert_false(my_extra_is_generated(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tsv_round_trip_all_bytes),
		cmocka_unit_test(test_tsv_escape_matches_bytewise),
		cmocka_unit_test(test_tsv_escapes_are_load_data_sequences),
		cmocka_unit_test(test_tsv_null_versus_backslash_n_string),
		cmocka_unit_test(test_tsv_row),
		cmocka_unit_test(test_name_encoding),
		cmocka_unit_test(test_strip_definer),
		cmocka_unit_test(test_statement_files),
		cmocka_unit_test(test_generated_columns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
