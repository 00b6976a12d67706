#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "restore/pg_post_data.h"

/* Shaped like pg_dump 15's plain post-data output. */
static const char sample[] =
	"--\n-- PostgreSQL database dump\n--\n\n"
	"\\restrict abc123\n\n"
	"SET statement_timeout = 0;\n"
	"SELECT pg_catalog.set_config('search_path', '', false);\n"
	"SET row_security = off;\n\n"
	"SET default_tablespace = '';\n\n"
	"--\n-- Name: a a_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres\n--\n\n"
	"ALTER TABLE ONLY public.a\n    ADD CONSTRAINT a_pkey PRIMARY KEY (id);\n\n\n"
	"--\n-- Name: a_g_idx; Type: INDEX; Schema: public; Owner: postgres\n--\n\n"
	"CREATE INDEX a_g_idx ON public.a USING btree (g);\n\n\n"
	"SET default_tablespace = fast;\n\n"
	"--\n-- Name: p_idx; Type: INDEX; Schema: public; Owner: postgres\n--\n\n"
	"CREATE INDEX p_idx ON ONLY public.p USING btree (x);\n\n\n"
	"--\n-- Name: c_idx; Type: INDEX ATTACH; Schema: public; Owner: -\n--\n\n"
	"ALTER INDEX public.p_idx ATTACH PARTITION public.c_idx;\n\n\n"
	"--\n-- Name: mv; Type: MATERIALIZED VIEW DATA; Schema: public; Owner: postgres\n--\n\n"
	"REFRESH MATERIALIZED VIEW public.mv;\n\n\n"
	"--\n-- Name: b b_x_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres\n--\n\n"
	"ALTER TABLE ONLY public.b\n    ADD CONSTRAINT b_x_fkey FOREIGN KEY (x) REFERENCES public.a(id);\n\n\n"
	"--\n-- PostgreSQL database dump complete\n--\n\n"
	"\\unrestrict abc123\n\n";

static void test_splits_entries_with_types_and_phases(void **state)
{
	(void)state;
	post_data *p = post_data_parse(sample, strlen(sample));
	assert_int_equal(p->n_entries, 6);
	assert_string_equal(p->entries[0].type, "CONSTRAINT");
	assert_string_equal(p->entries[0].name, "a a_pkey");
	assert_int_equal(p->entries[0].phase, POST_DATA_PARALLEL);
	assert_string_equal(p->entries[1].type, "INDEX");
	assert_int_equal(p->entries[1].phase, POST_DATA_PARALLEL);
	assert_string_equal(p->entries[3].type, "INDEX ATTACH");
	assert_int_equal(p->entries[3].phase, POST_DATA_SERIAL);
	assert_string_equal(p->entries[4].type, "MATERIALIZED VIEW DATA");
	assert_int_equal(p->entries[4].phase, POST_DATA_SERIAL);
	assert_string_equal(p->entries[5].type, "FK CONSTRAINT");
	assert_int_equal(p->entries[5].phase, POST_DATA_FOREIGN_KEYS);
	assert_non_null(strstr(p->entries[5].sql, "FOREIGN KEY (x) REFERENCES public.a(id);"));
	post_data_free(p);
}

static void test_each_entry_carries_the_settings_in_force(void **state)
{
	(void)state;
	post_data *p = post_data_parse(sample, strlen(sample));
	assert_non_null(strstr(p->entries[0].sql, "SET default_tablespace = '';"));
	assert_non_null(strstr(p->entries[1].sql, "SET default_tablespace = '';"));
	assert_non_null(strstr(p->entries[2].sql, "SET default_tablespace = fast;"));
	assert_null(strstr(p->entries[2].sql, "default_tablespace = '';"));
	post_data_free(p);
}

static void test_prelude_keeps_sets_and_drops_meta_commands(void **state)
{
	(void)state;
	post_data *p = post_data_parse(sample, strlen(sample));
	assert_non_null(strstr(p->prelude, "SET statement_timeout = 0;"));
	assert_non_null(strstr(p->prelude, "set_config('search_path', '', false)"));
	assert_null(strstr(p->prelude, "\\restrict"));
	for (size_t i = 0; i < p->n_entries; i++)
		assert_null(strstr(p->entries[i].sql, "\\unrestrict"));
	post_data_free(p);
}

static void test_odd_input_does_not_crash(void **state)
{
	(void)state;
	const char *inputs[] = { "", "-- Name: x", "-- Name: x; Type: INDEX",
				 "-- Name: ; Type: ;\nSELECT 1;", "no newline at all",
				 "SET default_tablespace = x", "\\" };
	for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
		post_data *p = post_data_parse(inputs[i], strlen(inputs[i]));
		assert_non_null(p);
		assert_non_null(p->prelude);
		post_data_free(p);
	}
	post_data *p = post_data_parse("-- Name: x; Type: INDEX", 23);
	assert_int_equal(p->n_entries, 1);
	assert_string_equal(p->entries[0].type, "INDEX");
	post_data_free(p);
}

static void test_empty_section_has_no_entries(void **state)
{
	(void)state;
	const char *text = "--\n-- PostgreSQL database dump\n--\nSET x = 1;\n";
	post_data *p = post_data_parse(text, strlen(text));
	assert_int_equal(p->n_entries, 0);
	post_data_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splits_entries_with_types_and_phases),
		cmocka_unit_test(test_each_entry_carries_the_settings_in_force),
		cmocka_unit_test(test_prelude_keeps_sets_and_drops_meta_commands),
		cmocka_unit_test(test_odd_input_does_not_crash),
		cmocka_unit_test(test_empty_section_has_no_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
