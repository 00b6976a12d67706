#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/pg/pg_subset.h"

/* pg_dump's plain format, as --section=pre-data / post-data write it */
static const char script[] =
	"SET statement_timeout = 0;\n"
	"SELECT pg_catalog.set_config('search_path', '', false);\n"
	"\n--\n-- Name: sales; Type: SCHEMA; Schema: -; Owner: app\n--\n\n"
	"CREATE SCHEMA sales;\n"
	"\n--\n-- Name: SCHEMA sales; Type: COMMENT; Schema: -; Owner: app\n--\n\n"
	"COMMENT ON SCHEMA sales IS 'the shop';\n"
	"\n--\n-- Name: hstore; Type: EXTENSION; Schema: -; Owner: -\n--\n\n"
	"CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public;\n"
	"\n--\n-- Name: sku_count(); Type: FUNCTION; Schema: sales; Owner: app\n--\n\n"
	"CREATE FUNCTION sales.sku_count() RETURNS bigint LANGUAGE sql AS 'SELECT 1; SELECT 2';\n"
	"\nSET default_tablespace = ts;\n"
	"\n--\n-- Name: customers; Type: TABLE; Schema: public; Owner: app; Tablespace: ts\n--\n\n"
	"CREATE TABLE public.customers (id integer NOT NULL);\n"
	"\nSET default_tablespace = '';\n"
	"\n--\n-- Name: orders; Type: TABLE; Schema: public; Owner: app\n--\n\n"
	"CREATE TABLE public.orders (id integer NOT NULL, customer integer);\n"
	"ALTER TABLE public.orders OWNER TO app;\n"
	"\n--\n-- Name: orders_id_seq; Type: SEQUENCE; Schema: public; Owner: app\n--\n\n"
	"CREATE SEQUENCE public.orders_id_seq;\n"
	"\n--\n-- Name: orders_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: app\n--\n\n"
	"ALTER SEQUENCE public.orders_id_seq OWNED BY public.orders.id;\n"
	"\n--\n-- Name: items; Type: TABLE; Schema: sales; Owner: app\n--\n\n"
	"CREATE TABLE sales.items (id integer NOT NULL);\n"
	"\n--\n-- Name: items_id_seq; Type: SEQUENCE; Schema: sales; Owner: app\n--\n\n"
	"ALTER TABLE sales.items ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (\n"
	"    SEQUENCE NAME sales.items_id_seq);\n"
	"\n--\n-- Name: Odd Name; Type: TABLE; Schema: public; Owner: app\n--\n\n"
	"CREATE TABLE public.\"Odd Name\" (x int);\n"
	"\n--\n-- Name: Odd Name odd_pkey; Type: CONSTRAINT; Schema: public; Owner: app\n--\n\n"
	"ALTER TABLE ONLY public.\"Odd Name\"\n    ADD CONSTRAINT odd_pkey PRIMARY KEY (x);\n"
	"\n--\n-- Name: orders id; Type: DEFAULT; Schema: public; Owner: app\n--\n\n"
	"ALTER TABLE ONLY public.orders ALTER COLUMN id SET DEFAULT nextval('public.orders_id_seq');\n"
	"\n--\n-- Name: COLUMN orders.customer; Type: COMMENT; Schema: public; Owner: app\n--\n\n"
	"COMMENT ON COLUMN public.orders.customer IS 'who; really';\n"
	"\n--\n-- Name: TABLE customers; Type: ACL; Schema: public; Owner: app\n--\n\n"
	"GRANT SELECT ON TABLE public.customers TO reader;\n"
	"\n--\n-- Name: orders_customer; Type: INDEX; Schema: public; Owner: app\n--\n\n"
	"CREATE INDEX orders_customer ON public.orders USING btree (customer);\n"
	"\n--\n-- Name: items items_pkey; Type: CONSTRAINT; Schema: sales; Owner: app\n--\n\n"
	"ALTER TABLE ONLY sales.items\n    ADD CONSTRAINT items_pkey PRIMARY KEY (id);\n"
	"\n--\n-- Name: orders orders_customer_fkey; Type: FK CONSTRAINT; Schema: public; Owner: app\n--\n\n"
	"ALTER TABLE ONLY public.orders\n"
	"    ADD CONSTRAINT orders_customer_fkey FOREIGN KEY (customer) REFERENCES public.customers(id);\n";

static char *filtered(table_filter *f, size_t *dropped)
{
	size_t len = strlen(script);
	char *s = xstrdup(script);
	*dropped = pg_subset_filter(f, s, &len);
	s[len] = '\0';
	return s;
}

static table_filter *filter(table_filter_list l, const char *p1, const char *p2)
{
	bderr err;
	bderr_init(&err);
	table_filter *f = table_filter_new();
	assert_int_equal(table_filter_add(f, l, p1, &err), 0);
	if (p2)
		assert_int_equal(table_filter_add(f, l, p2, &err), 0);
	return f;
}

static void test_tables(void **state)
{
	(void)state;
	table_filter *f = filter(TF_INCLUDE_TABLE, "public.orders", "customers");
	size_t dropped;
	char *s = filtered(f, &dropped);
	assert_non_null(strstr(s, "SET statement_timeout = 0;"));
	assert_non_null(strstr(s, "CREATE TABLE public.customers"));
	assert_non_null(strstr(s, "CREATE TABLE public.orders"));
	assert_non_null(strstr(s, "OWNED BY public.orders.id"));
	assert_non_null(strstr(s, "SET DEFAULT nextval"));
	assert_non_null(strstr(s, "who; really"));
	assert_non_null(strstr(s, "GRANT SELECT ON TABLE public.customers"));
	assert_non_null(strstr(s, "CREATE INDEX orders_customer"));
	assert_non_null(strstr(s, "orders_customer_fkey"));
	/* functions, schemas and extensions stay: tables may need them */
	assert_non_null(strstr(s, "CREATE FUNCTION sales.sku_count() RETURNS bigint LANGUAGE sql AS 'SELECT 1; SELECT 2';"));
	assert_non_null(strstr(s, "CREATE SCHEMA sales;"));
	assert_non_null(strstr(s, "CREATE EXTENSION"));
	assert_null(strstr(s, "CREATE TABLE sales.items"));
	assert_null(strstr(s, "ADD GENERATED ALWAYS"));
	assert_null(strstr(s, "items_pkey"));
	assert_null(strstr(s, "odd_pkey"));
	assert_null(strstr(s, "Odd Name\" (x"));
	assert_int_equal(dropped, 5);
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_subset_check_keys(f, script, strlen(script), &err), 0);
	free(s);
	table_filter_free(f);
}

static void test_schema(void **state)
{
	(void)state;
	table_filter *f = filter(TF_INCLUDE_SCHEMA, "sales", NULL);
	size_t dropped;
	char *s = filtered(f, &dropped);
	assert_non_null(strstr(s, "CREATE SCHEMA sales;"));
	assert_non_null(strstr(s, "CREATE FUNCTION sales.sku_count()"));
	assert_non_null(strstr(s, "CREATE TABLE sales.items"));
	assert_non_null(strstr(s, "ADD GENERATED ALWAYS"));
	assert_non_null(strstr(s, "items_pkey"));
	assert_non_null(strstr(s, "CREATE EXTENSION"));
	assert_null(strstr(s, "public.orders"));
	assert_null(strstr(s, "public.customers"));
	assert_null(strstr(s, "CREATE SEQUENCE public"));
	/* settings pg_dump writes between entries stay, whatever happens to the entry before */
	assert_non_null(strstr(s, "SET default_tablespace = ts;"));
	assert_non_null(strstr(s, "SET default_tablespace = '';"));
	free(s);
	table_filter_free(f);
}

static void test_other_schema(void **state)
{
	(void)state;
	table_filter *f = filter(TF_INCLUDE_SCHEMA, "public", NULL);
	size_t dropped;
	char *s = filtered(f, &dropped);
	assert_null(strstr(s, "CREATE SCHEMA sales"));
	assert_null(strstr(s, "COMMENT ON SCHEMA sales"));
	assert_non_null(strstr(s, "CREATE TABLE public.orders"));
	free(s);
	table_filter_free(f);
}

static void test_odd_names(void **state)
{
	(void)state;
	/* headers carry names unquoted; statements quoted */
	table_filter *f = filter(TF_EXCLUDE_TABLE, "Odd?Name", NULL);
	size_t dropped;
	char *s = filtered(f, &dropped);
	assert_int_equal(dropped, 2);
	assert_null(strstr(s, "Odd Name"));
	assert_non_null(strstr(s, "CREATE TABLE public.orders"));
	free(s);
	table_filter_free(f);
}

static void test_keys(void **state)
{
	(void)state;
	table_filter *f = filter(TF_INCLUDE_TABLE, "orders", NULL);
	bderr err;
	bderr_init(&err);
	assert_int_equal(pg_subset_check_keys(f, script, strlen(script), &err), -1);
	assert_int_equal(err.exit_code, EXIT_USAGE);
	assert_non_null(strstr(err.msg, "table public.orders has a foreign key (orders_customer_fkey) to public.customers"));
	table_filter_free(f);
	/* no filter: nothing to check, nothing dropped */
	bderr_init(&err);
	assert_int_equal(pg_subset_check_keys(NULL, script, strlen(script), &err), 0);
	size_t len = strlen(script);
	char *s = xstrdup(script);
	assert_int_equal(pg_subset_filter(NULL, s, &len), 0);
	assert_int_equal(len, strlen(script));
	free(s);
}

/* Each --table / --schema pattern must match something of the backup; excludes need not. */
static void test_patterns(void **state)
{
	(void)state;
	static const struct {
		table_filter_list list;
		const char *p1, *p2, *error; /* NULL: accepted */
	} cases[] = {
		{ TF_INCLUDE_TABLE, "orders", "sales.it*", NULL },
		{ TF_INCLUDE_TABLE, "Odd Name", NULL, NULL },
		{ TF_INCLUDE_TABLE, "orders", "ordres", "--table 'ordres' matches no table of the backup" },
		{ TF_INCLUDE_TABLE, "sales.orders", NULL, "--table 'sales.orders' matches no table" },
		/* a sequence or a function is not what --table restores */
		{ TF_INCLUDE_TABLE, "orders_id_seq", NULL, "--table 'orders_id_seq' matches no table" },
		{ TF_INCLUDE_SCHEMA, "sales", "pub*", NULL },
		{ TF_INCLUDE_SCHEMA, "sales", "slaes", "--schema 'slaes' matches no schema of the backup" },
		{ TF_EXCLUDE_TABLE, "nosuch", NULL, NULL },
		{ TF_EXCLUDE_SCHEMA, "nosuch", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		table_filter *f = filter(cases[i].list, cases[i].p1, cases[i].p2);
		bderr err;
		bderr_init(&err);
		int rc = pg_subset_check_patterns(f, script, strlen(script), &err);
		if (cases[i].error == NULL && rc != 0)
			fail_msg("case %zu: refused: %s", i, err.msg);
		if (cases[i].error && (rc != -1 || strstr(err.msg, cases[i].error) == NULL))
			fail_msg("case %zu: rc %d, got \"%s\", want \"%s\"", i, rc, err.msg, cases[i].error);
		if (cases[i].error)
			assert_int_equal(err.exit_code, EXIT_USAGE);
		table_filter_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_other_schema),
		cmocka_unit_test(test_odd_names),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_patterns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
