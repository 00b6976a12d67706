#include "engines/mysql/mygrant.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/mysql/myconn.h"

static char *on_clause(const char *db)
{
	char *q = my_quote_ident(db);
	char *on = xasprintf(" ON %s.", q);
	free(q);
	return on;
}

int my_grant_names_db(const char *line, const char *db)
{
	if (strncmp(line, "GRANT ", 6) != 0)
		return 0;
	char *on = on_clause(db);
	int hit = strstr(line, on) != NULL;
	free(on);
	return hit;
}

char *my_grant_rename_db(const char *line, const char *from, const char *to)
{
	char *a = on_clause(from), *b = on_clause(to);
	const char *at = strstr(line, a);
	char *out = at ? xasprintf("%.*s%s%s", (int)(at - line), line, b, at + strlen(a)) : xstrdup(line);
	free(a);
	free(b);
	return out;
}
