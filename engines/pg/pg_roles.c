#include "engines/pg/pg_roles.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/pg/pgconn.h"

void pg_role_map_init(pg_role_map *m)
{
	memset(m, 0, sizeof *m);
}

void pg_role_map_clear(pg_role_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->from[i]);
		free(m->to[i]);
	}
	free(m->from);
	free(m->to);
	free(m->owner);
	pg_role_map_init(m);
}

static ssize_t find_from(const pg_role_map *m, const char *role)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->from[i], role) == 0)
			return (ssize_t)i;
	return -1;
}

static void push(pg_role_map *m, const char *from, size_t from_len, const char *to)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 8;
		m->from = xrealloc(m->from, m->cap * sizeof *m->from);
		m->to = xrealloc(m->to, m->cap * sizeof *m->to);
	}
	m->from[m->n] = xstrndup(from, from_len);
	m->to[m->n] = xstrdup(to);
	m->n++;
}

int pg_role_map_add(pg_role_map *m, const char *spec, bderr *err)
{
	const char *eq = strchr(spec, '=');
	if (eq == NULL || eq == spec || eq[1] == '\0' || strlen(eq + 1) > 63 || (size_t)(eq - spec) > 63)
		return bderr_usage(err, "--role-map takes OLD=NEW, two role names, got '%s'", spec);
	char *from = xstrndup(spec, (size_t)(eq - spec));
	int dup = find_from(m, from) >= 0;
	free(from);
	if (dup)
		return bderr_usage(err, "--role-map names role '%.*s' twice", (int)(eq - spec), spec);
	push(m, spec, (size_t)(eq - spec), eq + 1);
	return 0;
}

const char *pg_role_map_unknown(const pg_role_map *m, const pg_roles_info *roles, const char *const *also,
				size_t n)
{
	for (size_t i = 0; i < m->n; i++) {
		int known = 0;
		for (size_t k = 0; k < roles->n && !known; k++)
			known = strcmp(roles->roles[k].name, m->from[i]) == 0;
		for (size_t k = 0; k < n && !known; k++)
			known = also[k] && strcmp(also[k], m->from[i]) == 0;
		if (!known)
			return m->from[i];
	}
	return NULL;
}

void pg_role_map_add_owners(pg_role_map *m, const pg_roles_info *roles)
{
	if (m->owner == NULL)
		return;
	for (size_t i = 0; i < roles->n; i++) {
		const char *name = roles->roles[i].name;
		if ((roles->roles[i].uses & PG_ROLE_OWNER) && find_from(m, name) < 0)
			push(m, name, strlen(name), m->owner);
	}
}

const char *pg_role_map_name(const pg_role_map *m, const char *role)
{
	ssize_t i = find_from(m, role);
	return i >= 0 ? m->to[i] : role;
}

const char *pg_role_map_owner(const pg_role_map *m, const char *role)
{
	return m->owner ? m->owner : pg_role_map_name(m, role);
}

int pg_role_map_empty(const pg_role_map *m)
{
	return m->owner == NULL && m->n == 0;
}

/* ---- statements ---- */

typedef enum { TK_WORD, TK_QIDENT, TK_OTHER } tk_kind;

typedef struct token {
	tk_kind kind;
	size_t start, end;
	int depth; /* parentheses around it */
} token;

/* Splits a statement into words, quoted identifiers and everything else. */
static token *tokenize(const char *s, size_t n, size_t *count)
{
	size_t cap = 32, k = 0, i = 0;
	int depth = 0;
	token *t = xcalloc(cap, sizeof *t);
	while (i < n) {
		char ch = s[i];
		size_t st = i;
		tk_kind kind = TK_OTHER;
		if (isspace((unsigned char)ch)) {
			i++;
			continue;
		} else if (ch == '-' && i + 1 < n && s[i + 1] == '-') {
			while (i < n && s[i] != '\n')
				i++;
			continue;
		} else if (ch == '"') {
			for (i++; i < n; i++) {
				if (s[i] == '"' && i + 1 < n && s[i + 1] == '"')
					i++;
				else if (s[i] == '"')
					break;
			}
			i++;
			kind = TK_QIDENT;
		} else if (ch == '\'') {
			for (i++; i < n; i++) {
				if (s[i] == '\'' && i + 1 < n && s[i + 1] == '\'')
					i++;
				else if (s[i] == '\'')
					break;
			}
			i++;
		} else if (ch == '$') {
			/* a dollar quote: skip to its closing tag */
			size_t e = i + 1;
			while (e < n && (isalnum((unsigned char)s[e]) || s[e] == '_'))
				e++;
			if (e < n && s[e] == '$') {
				size_t tag = e + 1 - i;
				const char *close = NULL;
				for (size_t p = e + 1; p + tag <= n; p++)
					if (memcmp(s + p, s + i, tag) == 0) {
						close = s + p;
						break;
					}
				i = close ? (size_t)(close - s) + tag : n;
			} else {
				i++;
			}
		} else if (isalpha((unsigned char)ch) || ch == '_' || (unsigned char)ch >= 0x80) {
			while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '$' ||
					 (unsigned char)s[i] >= 0x80))
				i++;
			kind = TK_WORD;
		} else {
			if (ch == '(' || ch == '[')
				depth++;
			else if ((ch == ')' || ch == ']') && depth > 0)
				depth--;
			i++;
		}
		if (i > n)
			i = n;
		if (k == cap) {
			cap *= 2;
			t = xrealloc(t, cap * sizeof *t);
		}
		t[k++] = (token){ kind, st, i, depth };
	}
	*count = k;
	return t;
}

static int is_word(const char *s, const token *t, const char *w)
{
	size_t l = strlen(w);
	return t->kind == TK_WORD && t->end - t->start == l && strncasecmp(s + t->start, w, l) == 0;
}

/* The role a WORD or QIDENT names (malloc'ed), or NULL for PUBLIC & co. */
static char *role_name(const char *s, const token *t)
{
	if (t->kind == TK_QIDENT) {
		strbuf b;
		strbuf_init(&b);
		for (size_t i = t->start + 1; i + 1 < t->end; i++) {
			strbuf_append(&b, s + i, 1);
			if (s[i] == '"')
				i++;
		}
		return strbuf_detach(&b);
	}
	static const char *const special[] = { "public", "current_user", "session_user", "current_role", NULL };
	for (int i = 0; special[i]; i++)
		if (is_word(s, t, special[i]))
			return NULL;
	char *r = xstrndup(s + t->start, t->end - t->start);
	for (char *p = r; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

typedef struct rewrite {
	const pg_role_map *m;
	const char *s;
	token *t;
	size_t n;
	char **repl; /* per token: its replacement, or NULL */
	int changed;
} rewrite;

static void map_token(rewrite *w, size_t i, int as_owner)
{
	if (i >= w->n || (w->t[i].kind != TK_WORD && w->t[i].kind != TK_QIDENT))
		return;
	char *name = role_name(w->s, &w->t[i]);
	if (name == NULL)
		return;
	const char *to = as_owner ? pg_role_map_owner(w->m, name) : pg_role_map_name(w->m, name);
	if (strcmp(to, name) != 0) {
		strbuf b;
		strbuf_init(&b);
		strbuf_appends(&b, "\"");
		for (const char *p = to; *p; p++)
			strbuf_appends(&b, *p == '"' ? "\"\"" : (char[]){ *p, 0 });
		strbuf_appends(&b, "\"");
		free(w->repl[i]);
		w->repl[i] = strbuf_detach(&b);
		w->changed = 1;
	}
	free(name);
}

/* A role list from token i: NAME [, NAME ...] (GROUP allowed before a name). */
static void map_list(rewrite *w, size_t i)
{
	while (i < w->n) {
		if (is_word(w->s, &w->t[i], "group") && i + 1 < w->n &&
		    (w->t[i + 1].kind == TK_WORD || w->t[i + 1].kind == TK_QIDENT))
			i++;
		map_token(w, i, 0);
		if (i + 1 < w->n && w->t[i + 1].kind == TK_OTHER && w->s[w->t[i + 1].start] == ',')
			i += 2;
		else
			break;
	}
}

/* The last top-level keyword kw at or after from; n when none. */
static size_t last_top(const rewrite *w, size_t from, const char *kw)
{
	size_t at = w->n;
	for (size_t i = from; i < w->n; i++)
		if (w->t[i].depth == 0 && is_word(w->s, &w->t[i], kw))
			at = i;
	return at;
}

static size_t first_top(const rewrite *w, size_t from, const char *kw)
{
	for (size_t i = from; i < w->n; i++)
		if (w->t[i].depth == 0 && is_word(w->s, &w->t[i], kw))
			return i;
	return w->n;
}

static void map_grant_or_revoke(rewrite *w, size_t at)
{
	if (is_word(w->s, &w->t[at], "grant")) {
		size_t to = last_top(w, at, "to");
		if (to < w->n)
			map_list(w, to + 1);
	} else {
		size_t from = last_top(w, at, "from");
		if (from < w->n)
			map_list(w, from + 1);
	}
	/* GRANTED BY role */
	size_t by = last_top(w, at, "granted");
	if (by + 2 < w->n && is_word(w->s, &w->t[by + 1], "by"))
		map_token(w, by + 2, 0);
}

char *pg_role_map_statement(const pg_role_map *m, const char *s, size_t n)
{
	if (pg_role_map_empty(m))
		return NULL;
	rewrite w = { .m = m, .s = s };
	w.t = tokenize(s, n, &w.n);
	w.repl = xcalloc(w.n + 1, sizeof *w.repl);
	const token *t = w.t;
	if (w.n >= 4 && is_word(s, &t[0], "alter")) {
		/* ALTER ... OWNER TO role ; */
		size_t end = w.n;
		if (end > 0 && t[end - 1].kind == TK_OTHER && s[t[end - 1].start] == ';')
			end--;
		if (end >= 3 && is_word(s, &t[end - 3], "owner") && is_word(s, &t[end - 2], "to") &&
		    t[end - 3].depth == 0)
			map_token(&w, end - 1, 1);
		else if (is_word(s, &t[1], "default") && is_word(s, &t[2], "privileges")) {
			size_t i = 3;
			if (is_word(s, &t[i], "for") && i + 2 < w.n &&
			    (is_word(s, &t[i + 1], "role") || is_word(s, &t[i + 1], "user")))
				map_list(&w, i + 2);
			size_t g = first_top(&w, 3, "grant");
			if (g == w.n)
				g = first_top(&w, 3, "revoke");
			if (g < w.n)
				map_grant_or_revoke(&w, g);
		} else if (is_word(s, &t[1], "policy")) {
			size_t to = first_top(&w, 2, "to");
			if (to < w.n)
				map_list(&w, to + 1);
		}
	} else if (w.n >= 2 && (is_word(s, &t[0], "grant") || is_word(s, &t[0], "revoke"))) {
		map_grant_or_revoke(&w, 0);
	} else if (w.n >= 3 && is_word(s, &t[0], "create") && is_word(s, &t[1], "policy")) {
		size_t to = first_top(&w, 2, "to");
		size_t using = first_top(&w, 2, "using");
		size_t with = first_top(&w, 2, "with");
		if (to < w.n && to < using && to < with)
			map_list(&w, to + 1);
	}
	char *out = NULL;
	if (w.changed) {
		strbuf b;
		strbuf_init(&b);
		size_t pos = 0;
		for (size_t i = 0; i < w.n; i++) {
			if (w.repl[i] == NULL)
				continue;
			strbuf_append(&b, s + pos, t[i].start - pos);
			strbuf_appends(&b, w.repl[i]);
			pos = t[i].end;
		}
		strbuf_append(&b, s + pos, n - pos);
		out = strbuf_detach(&b);
	}
	for (size_t i = 0; i < w.n; i++)
		free(w.repl[i]);
	free(w.repl);
	free(w.t);
	return out;
}

/* ---- the target's roles ---- */

static int role_exists(PGconn *c, const char *name, int *exists, bderr *err)
{
	return pg_query_exists(c, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", name,
			       "cannot look up the target's roles", exists, err);
}

static int create_role(PGconn *c, const char *name, const pg_role_info *src, bderr *err)
{
	char *q = pg_quote_ident(c, name);
	char *sql = xasprintf("CREATE ROLE %s WITH %sLOGIN %sINHERIT %sCREATEDB %sCREATEROLE CONNECTION LIMIT %lld",
			      q, src->login ? "" : "NO", src->inherit ? "" : "NO",
			      src->createdb ? "" : "NO", src->createrole ? "" : "NO",
			      (long long)src->connection_limit);
	char *what = xasprintf("cannot create role %s", q);
	int rc = pg_exec(c, sql, what, err);
	if (rc == 0) {
		log_info("created role %s (no password)", q);
		if (src->superuser || src->replication || src->bypassrls)
			log_warn("role %s was SUPERUSER, REPLICATION or BYPASSRLS on the source: created without them", q);
	}
	free(what);
	free(sql);
	free(q);
	return rc;
}

int pg_roles_prepare(PGconn *c, const pg_roles_info *roles, const pg_role_map *m, const pg_roles_check *o,
		     bderr *err)
{
	if (m->owner) {
		int ok = 0;
		if (role_exists(c, m->owner, &ok, err) != 0)
			return -1;
		if (!ok)
			return bderr_set(err, "--owner role '%s' does not exist on the target", m->owner);
	}
	strbuf missing;
	strbuf_init(&missing);
	const char **seen = xcalloc(roles->n + 1, sizeof *seen);
	size_t n_seen = 0, n_missing = 0;
	int rc = 0;
	for (size_t i = 0; i < roles->n; i++) {
		const pg_role_info *r = &roles->roles[i];
		const char *name = r->name;
		int need = (r->uses & PG_ROLE_POLICY) || ((r->uses & PG_ROLE_ACL) && !o->no_privileges) ||
			   ((r->uses & PG_ROLE_OWNER) && !o->no_owner);
		if (!need)
			continue;
		const char *to = pg_role_map_name(m, name);
		if (r->uses == PG_ROLE_OWNER)
			to = pg_role_map_owner(m, name);
		int dup = 0;
		for (size_t k = 0; k < n_seen; k++)
			dup |= strcmp(seen[k], to) == 0;
		if (dup)
			continue;
		seen[n_seen++] = to;
		int ok = 0;
		if ((rc = role_exists(c, to, &ok, err)) != 0)
			break;
		if (ok)
			continue;
		if (o->create) {
			if ((rc = create_role(c, to, r, err)) != 0)
				break;
			continue;
		}
		strbuf_appendf(&missing, "%s%s", n_missing ? ", " : "", to);
		n_missing++;
	}
	if (rc == 0 && n_missing > 0)
		rc = bderr_set(err,
			       "the target lacks %zu role%s the backup's objects, grants or policies reference: %s (pass --roles to create them, --role-map OLD=NEW or --owner ROLE to use others, or create them first)",
			       n_missing, plural_s(n_missing), missing.data);
	free(seen);
	strbuf_free(&missing);
	return rc;
}
