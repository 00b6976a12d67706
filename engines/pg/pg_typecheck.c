#include "engines/pg/pg_typecheck.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/pg/pgconn.h"

/* Each [schema, name] of the JSON parameter (its 1-based position first): the target's columns and types. */
#define TARGET_TYPES_SQL                                                                          \
	"SELECT e.i, a.attname, pg_catalog.format_type(a.atttypid, NULL) "                        \
	"FROM pg_catalog.jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(t, i) "             \
	"JOIN pg_catalog.pg_namespace n ON n.nspname = e.t ->> 0 "                                \
	"JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = e.t ->> 1 "         \
	"JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped " \
	"ORDER BY e.i, a.attnum"

static int column_index(const pg_dump_table *t, const char *name)
{
	for (size_t k = 0; k < t->n_columns; k++)
		if (strcmp(t->columns[k], name) == 0)
			return (int)k;
	return -1;
}

int pg_check_binary_types(PGconn *c, const pg_dump_info *inf, const table_filter *f, bderr *err)
{
	const pg_dump_table **checked = xcalloc(inf->n_tables + 1, sizeof *checked);
	json_t *names = json_array();
	size_t n = 0, unrecorded = 0;
	for (size_t i = 0; i < inf->n_tables; i++) {
		const pg_dump_table *t = &inf->tables[i];
		if (!t->binary || !table_filter_selects(f, t->schema, t->name))
			continue;
		if (t->n_types == 0) {
			/* a table of no columns records no types and has none to check */
			if (t->n_columns > 0)
				unrecorded++;
			continue;
		}
		checked[n++] = t;
		json_array_append_new(names, json_pack("[s, s]", t->schema, t->name));
	}
	if (unrecorded > 0)
		log_warn("%zu table%s of binary COPY data: the backup records no column types (made by "
			 "an older version), so the target's cannot be checked before loading",
			 unrecorded, plural_s(unrecorded));
	int rcode = 0;
	if (n > 0) {
		char *param = json_dumps(names, JSON_COMPACT);
		const char *values[1] = { param };
		PGresult *r = NULL;
		rcode = pg_query_params(c, TARGET_TYPES_SQL, 1, values,
					"cannot read the target's column types", &r, err);
		free(param);
		for (int row = 0; rcode == 0 && row < PQntuples(r); row++) {
			const pg_dump_table *t = checked[atoi(PQgetvalue(r, row, 0)) - 1];
			int k = column_index(t, PQgetvalue(r, row, 1));
			const char *target = PQgetvalue(r, row, 2);
			/* a column the dump has not: COPY leaves it to its default */
			if (k < 0 || strcmp(t->types[k], target) == 0)
				continue;
			rcode = bderr_set(err,
					  "table %s.%s column %s: the backup holds its data as binary COPY of type "
					  "%s, the target column is %s: restore into a table of the dumped types "
					  "(or dump with --copy-format text)",
					  t->schema, t->name, t->columns[k], t->types[k], target);
		}
		PQclear(r);
	}
	json_decref(names);
	free(checked);
	return rcode;
}
