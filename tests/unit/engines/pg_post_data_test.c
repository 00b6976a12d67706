#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "engines/pg/pg_post_data.h"

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

/* Shaped like the regression database's post-data: comments on post-data objects. */
static const char with_comments[] =
	"--\n-- Name: t t_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres\n--\n\n"
	"ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n\n"
	"--\n-- Name: CONSTRAINT t_pkey ON t; Type: COMMENT; Schema: public; Owner: postgres\n--\n\n"
	"COMMENT ON CONSTRAINT t_pkey ON public.t IS 'pk';\n\n"
	"--\n-- Name: Odd Idx; Type: INDEX; Schema: public; Owner: postgres\n--\n\n"
	"CREATE INDEX \"Odd Idx\" ON public.t (v);\n\n"
	"--\n-- Name: INDEX \"Odd Idx\"; Type: COMMENT; Schema: public; Owner: postgres\n--\n\n"
	"COMMENT ON INDEX public.\"Odd Idx\" IS 'idx';\n\n"
	"--\n-- Name: CONSTRAINT \"U fk\" ON \"U t\"; Type: COMMENT; Schema: public; Owner: postgres\n--\n\n"
	"COMMENT ON CONSTRAINT \"U fk\" ON public.\"U t\" IS 'fk';\n\n"
	"--\n-- Name: CONSTRAINT u_fk ON u; Type: COMMENT; Schema: other; Owner: postgres\n--\n\n"
	"COMMENT ON CONSTRAINT u_fk ON other.u IS 'other schema';\n\n"
	"--\n-- Name: TRIGGER trg ON t; Type: COMMENT; Schema: public; Owner: postgres\n--\n\n"
	"COMMENT ON TRIGGER trg ON public.t IS 'before its trigger in the text';\n\n"
	"--\n-- Name: t trg; Type: TRIGGER; Schema: public; Owner: postgres\n--\n\n"
	"CREATE TRIGGER trg AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();\n\n"
	"--\n-- Name: U t U fk; Type: FK CONSTRAINT; Schema: public; Owner: postgres\n--\n\n"
	"ALTER TABLE ONLY public.\"U t\" ADD CONSTRAINT \"U fk\" FOREIGN KEY (x) REFERENCES public.t(id);\n\n"
	"--\n-- Name: u u_fk; Type: FK CONSTRAINT; Schema: other; Owner: postgres\n--\n\n"
	"ALTER TABLE ONLY other.u ADD CONSTRAINT u_fk FOREIGN KEY (x) REFERENCES public.t(id);\n\n";

static void test_dependents_follow_what_they_name(void **state)
{
	(void)state;
	post_data *p = post_data_parse(with_comments, strlen(with_comments));
	assert_int_equal(p->n_entries, 10);
	assert_string_equal(p->entries[1].schema, "public");
	/* on a constraint or index built in parallel: the serial phase after it */
	assert_int_equal(p->entries[0].phase, POST_DATA_PARALLEL);
	assert_int_equal(p->entries[1].phase, POST_DATA_SERIAL);
	assert_int_equal(p->entries[2].phase, POST_DATA_PARALLEL);
	assert_int_equal(p->entries[3].phase, POST_DATA_SERIAL);
	/* on a foreign key (quoted names too): after the foreign keys */
	assert_int_equal(p->entries[4].phase, POST_DATA_LATE);
	assert_int_equal(p->entries[5].phase, POST_DATA_LATE);
	/* on a serial entry that comes later in the text: moved behind it */
	assert_int_equal(p->entries[7].phase, POST_DATA_SERIAL);
	assert_int_equal(p->entries[6].phase, POST_DATA_LATE);
	assert_int_equal(p->entries[8].phase, POST_DATA_FOREIGN_KEYS);
	assert_int_equal(p->entries[9].phase, POST_DATA_FOREIGN_KEYS);
	post_data_free(p);
}

static void test_comment_on_unknown_object_stays_serial(void **state)
{
	(void)state;
	const char *text = "-- Name: CONSTRAINT fk ON t; Type: COMMENT; Schema: public; Owner: x\n"
			   "COMMENT ON CONSTRAINT fk ON public.t IS 'a';\n"
			   "-- Name: t fk; Type: FK CONSTRAINT; Schema: elsewhere; Owner: x\nSELECT 1;\n"
			   "-- Name: \"unterminated; Type: COMMENT; Schema: public; Owner: x\nSELECT 2;\n"
			   "-- Name: a b c d e f g h i j ON k; Type: COMMENT; Schema: public; Owner: x\nSELECT 3;\n";
	post_data *p = post_data_parse(text, strlen(text));
	assert_int_equal(p->n_entries, 4);
	assert_int_equal(p->entries[0].phase, POST_DATA_SERIAL);
	assert_int_equal(p->entries[2].phase, POST_DATA_SERIAL);
	assert_int_equal(p->entries[3].phase, POST_DATA_SERIAL);
	post_data_free(p);
}

static void expect_tables(const post_data_entry *e, const char *on_schema, const char *on_name,
			  const char *ref_schema, const char *ref_name)
{
	post_data_rel on, ref;
	assert_int_equal(post_data_entry_tables(e, &on, &ref), 0);
	assert_string_equal(on.schema, on_schema);
	assert_string_equal(on.name, on_name);
	if (ref_name) {
		assert_string_equal(ref.schema, ref_schema);
		assert_string_equal(ref.name, ref_name);
	} else {
		assert_null(ref.name);
	}
	post_data_rel_clear(&on);
	post_data_rel_clear(&ref);
}

/* The restore starts a table's indexes once its data is in: which table each entry is on. */
static void test_entry_tables(void **state)
{
	(void)state;
	post_data *p = post_data_parse(sample, strlen(sample));
	expect_tables(&p->entries[0], "public", "a", NULL, NULL);
	expect_tables(&p->entries[1], "public", "a", NULL, NULL);
	expect_tables(&p->entries[2], "public", "p", NULL, NULL); /* ON ONLY */
	expect_tables(&p->entries[5], "public", "b", "public", "a");
	post_data_rel on, ref;
	assert_int_equal(post_data_entry_tables(&p->entries[3], &on, &ref), -1); /* INDEX ATTACH */
	assert_null(on.name);
	post_data_free(p);

	static const char odd[] =
		"SET default_tablespace = '';\n"
		"-- Name: \"Odd \"\"T\"\" x\"; Type: FK CONSTRAINT; Schema: S p; Owner: o\n"
		"ALTER TABLE ONLY \"S p\".\"Odd \"\"T\"\"\"\n"
		"    ADD CONSTRAINT \"REFERENCES x\" FOREIGN KEY (\"references\") REFERENCES \"S p\".\"Ref.T\"(id) DEFERRABLE;\n"
		"-- Name: UIdx; Type: INDEX; Schema: public; Owner: o\n"
		"CREATE UNIQUE INDEX \"UIdx\" ON public.\"MixedCase\" USING btree (a);\n"
		"-- Name: t ex; Type: CONSTRAINT; Schema: public; Owner: o\n"
		"ALTER TABLE ONLY public.t\n    ADD CONSTRAINT ex EXCLUDE USING gist (r WITH &&);\n"
		"-- Name: t fk2; Type: FK CONSTRAINT; Schema: public; Owner: o\n"
		"ALTER TABLE public.t\n    ADD CONSTRAINT fk2 FOREIGN KEY (a) REFERENCES\n";
	p = post_data_parse(odd, strlen(odd));
	assert_int_equal(p->n_entries, 4);
	expect_tables(&p->entries[0], "S p", "Odd \"T\"", "S p", "Ref.T");
	expect_tables(&p->entries[1], "public", "MixedCase", NULL, NULL);
	expect_tables(&p->entries[2], "public", "t", NULL, NULL);
	assert_int_equal(post_data_entry_tables(&p->entries[3], &on, &ref), -1); /* no referenced table */
	assert_null(on.name);
	post_data_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splits_entries_with_types_and_phases),
		cmocka_unit_test(test_entry_tables),
		cmocka_unit_test(test_each_entry_carries_the_settings_in_force),
		cmocka_unit_test(test_prelude_keeps_sets_and_drops_meta_commands),
		cmocka_unit_test(test_odd_input_does_not_crash),
		cmocka_unit_test(test_empty_section_has_no_entries),
		cmocka_unit_test(test_dependents_follow_what_they_name),
		cmocka_unit_test(test_comment_on_unknown_object_stays_serial),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
