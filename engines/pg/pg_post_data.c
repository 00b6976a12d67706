#include "engines/pg/pg_post_data.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "engines/pg/pg_sql_filter.h"

typedef struct parse_state {
	post_data *p;
	strbuf prelude;
	strbuf body;
	char *tablespace_set; /* the latest "SET default_tablespace ..." line */
	char *tableam_set;
	char *cur_type;
	char *cur_name;
	char *cur_schema;
	char *cur_settings;
	size_t cap;
} parse_state;

static int starts_with(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(s, prefix, n) == 0;
}

static post_data_phase phase_of(const char *type)
{
	if (strcmp(type, "INDEX") == 0 || strcmp(type, "CONSTRAINT") == 0)
		return POST_DATA_PARALLEL;
	if (strcmp(type, "FK CONSTRAINT") == 0)
		return POST_DATA_FOREIGN_KEYS;
	return POST_DATA_SERIAL;
}

static char *settings_now(const parse_state *s)
{
	return xasprintf("%s%s%s%s", s->tablespace_set ? s->tablespace_set : "",
			 s->tablespace_set ? "\n" : "", s->tableam_set ? s->tableam_set : "",
			 s->tableam_set ? "\n" : "");
}

static void flush_entry(parse_state *s)
{
	if (s->cur_type == NULL)
		return;
	if (s->p->n_entries == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->p->entries = xrealloc(s->p->entries, s->cap * sizeof *s->p->entries);
	}
	post_data_entry *e = &s->p->entries[s->p->n_entries++];
	e->type = s->cur_type;
	e->name = s->cur_name;
	e->schema = s->cur_schema ? s->cur_schema : xstrdup("-");
	e->phase = phase_of(e->type);
	e->done = 0;
	e->sql = xasprintf("%s%s", s->cur_settings, s->body.data ? s->body.data : "");
	free(s->cur_settings);
	s->cur_type = NULL;
	s->cur_name = NULL;
	s->cur_schema = NULL;
	s->cur_settings = NULL;
	strbuf_reset(&s->body);
}

/* "-- Name: foo bar; Type: INDEX; Schema: public; Owner: x" */
static void start_entry(parse_state *s, const char *line, size_t len)
{
	flush_entry(s);
	const char *name = line + strlen("-- Name: ");
	const char *end = line + len;
	const char *type = NULL;
	for (const char *q = name; q + 8 <= end; q++)
		if (memcmp(q, "; Type: ", 8) == 0) {
			type = q;
			break;
		}
	if (type == NULL) {
		s->cur_name = xstrndup(name, (size_t)(end - name));
		s->cur_type = xstrdup("UNKNOWN");
	} else {
		s->cur_name = xstrndup(name, (size_t)(type - name));
		const char *t = type + 8;
		const char *tend = t;
		while (tend < end && *tend != ';')
			tend++;
		s->cur_type = xstrndup(t, (size_t)(tend - t));
		static const char sk[] = "; Schema: ";
		size_t skl = sizeof sk - 1;
		for (const char *q = tend; q + skl <= end; q++)
			if (memcmp(q, sk, skl) == 0) {
				const char *v = q + skl;
				const char *vend = v;
				while (vend < end && *vend != ';')
					vend++;
				s->cur_schema = xstrndup(v, (size_t)(vend - v));
				break;
			}
	}
	s->cur_settings = settings_now(s);
}

/* ---- dependencies between entries ---- */

/*
 * Splits pg_dump's tag of a dependent entry ("CONSTRAINT fk ON t",
 * "INDEX \"Odd idx\"") into tokens; identifiers there are quoted as SQL
 * quotes them, while a creating entry's tag ("t fk") holds them raw.
 * Returns the number of tokens (at most max), each dequoted into a malloc'ed
 * string; quoted[i] says whether token i was quoted.
 */
static size_t tag_tokens(const char *tag, char **tok, int *quoted, size_t max)
{
	size_t n = 0;
	const char *p = tag;
	while (*p) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (n == max)
			return max + 1; /* too many: not a tag we understand */
		strbuf b;
		strbuf_init(&b);
		quoted[n] = *p == '"';
		if (*p == '"') {
			for (p++; *p; p++) {
				if (*p == '"' && p[1] == '"') {
					strbuf_append(&b, "\"", 1);
					p++;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					strbuf_append(&b, p, 1);
				}
			}
		} else {
			const char *w = p;
			while (*p && *p != ' ')
				p++;
			strbuf_append(&b, w, (size_t)(p - w));
		}
		tok[n++] = b.data ? strbuf_detach(&b) : xstrdup("");
	}
	return n;
}

#define TAG_MAX_TOKENS 8

/*
 * The tag of the entry that creates what a dependent tag names: "KIND X ON
 * T" names "T X", "KIND X" names "X"; *kind gets KIND's last word.  NULL
 * when the tag has neither shape.
 */
static char *target_of(const char *tag, char **kind)
{
	char *tok[TAG_MAX_TOKENS + 1];
	int quoted[TAG_MAX_TOKENS + 1];
	size_t n = tag_tokens(tag, tok, quoted, TAG_MAX_TOKENS);
	char *target = NULL;
	*kind = NULL;
	if (n <= TAG_MAX_TOKENS) {
		if (n >= 4 && !quoted[n - 2] && strcmp(tok[n - 2], "ON") == 0 && !quoted[n - 4]) {
			target = xasprintf("%s %s", tok[n - 1], tok[n - 3]);
			*kind = xstrdup(tok[n - 4]);
		} else if (n >= 2 && !quoted[n - 2]) {
			target = xstrdup(tok[n - 1]);
			*kind = xstrdup(tok[n - 2]);
		}
	}
	for (size_t i = 0; i < n && i < TAG_MAX_TOKENS; i++)
		free(tok[i]);
	return target;
}

/* Whether an entry of this type creates an object of this kind ("CONSTRAINT": "FK CONSTRAINT"). */
static int type_creates(const char *type, const char *kind)
{
	size_t tl = strlen(type), kl = strlen(kind);
	return tl >= kl && strcmp(type + tl - kl, kind) == 0 && (tl == kl || type[tl - kl - 1] == ' ');
}

static int is_serial(post_data_phase p)
{
	return p == POST_DATA_SERIAL || p == POST_DATA_LATE;
}

/* The earliest phase for an entry that must follow d (at index di) when it stands at ei. */
static post_data_phase phase_after(const post_data_entry *d, size_t di, size_t ei)
{
	if (is_serial(d->phase) && di < ei)
		return d->phase;
	return d->phase == POST_DATA_PARALLEL ? POST_DATA_SERIAL : POST_DATA_LATE;
}

/* Entries sorted by (schema, name), to look creators up. */
static int by_tag(const void *a, const void *b)
{
	const post_data_entry *x = *(post_data_entry *const *)a, *y = *(post_data_entry *const *)b;
	int c = strcmp(x->schema, y->schema);
	return c ? c : strcmp(x->name, y->name);
}

static void order_by_dependencies(post_data *p)
{
	size_t n = p->n_entries;
	if (n == 0)
		return;
	post_data_entry **sorted = xcalloc(n, sizeof *sorted);
	for (size_t i = 0; i < n; i++)
		sorted[i] = &p->entries[i];
	qsort(sorted, n, sizeof *sorted, by_tag);
	/* deps[i]: index of the entry that entry i depends on, or n */
	size_t *deps = xcalloc(n, sizeof *deps);
	for (size_t i = 0; i < n; i++) {
		post_data_entry *e = &p->entries[i];
		deps[i] = n;
		char *kind = NULL;
		char *target = target_of(e->name, &kind);
		if (target != NULL) {
			post_data_entry key = { .schema = e->schema, .name = target };
			post_data_entry *kp = &key;
			post_data_entry **hit = bsearch(&kp, sorted, n, sizeof *sorted, by_tag);
			if (hit != NULL) {
				/* equal tags sit side by side: find one of the right kind */
				while (hit > sorted && by_tag(hit - 1, &kp) == 0)
					hit--;
				for (; hit < sorted + n && by_tag(hit, &kp) == 0; hit++)
					if (*hit != e && type_creates((*hit)->type, kind)) {
						deps[i] = (size_t)(*hit - p->entries);
						break;
					}
			}
		}
		free(target);
		free(kind);
	}
	/* chains are short (a comment on a constraint): settle in a few rounds */
	for (int changed = 1, round = 0; changed && round < 8; round++) {
		changed = 0;
		for (size_t i = 0; i < n; i++) {
			if (deps[i] == n)
				continue;
			post_data_entry *e = &p->entries[i];
			post_data_phase need = phase_after(&p->entries[deps[i]], deps[i], i);
			if (need <= e->phase)
				continue;
			/* only foreign keys run in their phase; anything else later goes last */
			if (need == POST_DATA_FOREIGN_KEYS && strcmp(e->type, "FK CONSTRAINT") != 0)
				need = POST_DATA_LATE;
			e->phase = need;
			changed = 1;
		}
	}
	free(deps);
	free(sorted);
}

post_data *post_data_parse(const char *text, size_t len)
{
	parse_state s;
	memset(&s, 0, sizeof s);
	s.p = xcalloc(1, sizeof *s.p);
	strbuf_init(&s.prelude);
	strbuf_init(&s.body);

	const char *p = text;
	const char *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *next = nl ? nl + 1 : end;

		if (starts_with(p, ll, "\\")) {
			/* pg_dump's \restrict lines: the restore refused any other meta-command */
		} else if (starts_with(p, ll, "-- Name: ")) {
			start_entry(&s, p, ll);
		} else if (starts_with(p, ll, "SET default_tablespace ")) {
			free(s.tablespace_set);
			s.tablespace_set = xstrndup(p, ll);
		} else if (starts_with(p, ll, "SET default_table_access_method ")) {
			free(s.tableam_set);
			s.tableam_set = xstrndup(p, ll);
		} else if (s.cur_type == NULL) {
			strbuf_append(&s.prelude, p, ll);
			strbuf_append(&s.prelude, "\n", 1);
		} else {
			strbuf_append(&s.body, p, ll);
			strbuf_append(&s.body, "\n", 1);
		}
		p = next;
	}
	flush_entry(&s);
	order_by_dependencies(s.p);
	s.p->prelude = strbuf_detach(&s.prelude);
	strbuf_free(&s.body);
	free(s.tablespace_set);
	free(s.tableam_set);
	return s.p;
}

void post_data_free(post_data *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_entries; i++) {
		free(p->entries[i].type);
		free(p->entries[i].name);
		free(p->entries[i].schema);
		free(p->entries[i].sql);
	}
	free(p->entries);
	free(p->prelude);
	free(p);
}

/* ---- the tables an entry's statement names ---- */

typedef struct sql_lexer {
	const char *p;
	const char *end;
} sql_lexer;

static int ident_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '$' || (unsigned char)ch >= 0x80;
}

static void skip_blank(sql_lexer *lx)
{
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\n' || *lx->p == '\t' || *lx->p == '\r'))
		lx->p++;
}

/*
 * The next token: an identifier or keyword (unquoted: folded to lower case,
 * as the server folds it; quoted: dequoted, *quoted set), or one other
 * character.  NULL at the end or at an unterminated quote.
 */
static char *next_token(sql_lexer *lx, int *quoted)
{
	skip_blank(lx);
	*quoted = 0;
	if (lx->p >= lx->end)
		return NULL;
	strbuf b;
	strbuf_init(&b);
	if (*lx->p == '"') {
		*quoted = 1;
		for (lx->p++;; lx->p++) {
			if (lx->p >= lx->end) {
				strbuf_free(&b);
				return NULL;
			}
			if (*lx->p == '"' && lx->p + 1 < lx->end && lx->p[1] == '"') {
				strbuf_append(&b, "\"", 1);
				lx->p++;
			} else if (*lx->p == '"') {
				lx->p++;
				break;
			} else {
				strbuf_append(&b, lx->p, 1);
			}
		}
	} else if (ident_char(*lx->p)) {
		for (; lx->p < lx->end && ident_char(*lx->p); lx->p++) {
			char ch = *lx->p >= 'A' && *lx->p <= 'Z' ? (char)(*lx->p - 'A' + 'a') : *lx->p;
			strbuf_append(&b, &ch, 1);
		}
	} else {
		strbuf_append(&b, lx->p++, 1);
	}
	return b.data ? strbuf_detach(&b) : xstrdup("");
}

/* Consumes the keyword kw (lower case) when it comes next. */
static int accept_keyword(sql_lexer *lx, const char *kw)
{
	sql_lexer save = *lx;
	int quoted;
	char *t = next_token(lx, &quoted);
	int ok = t != NULL && !quoted && strcmp(t, kw) == 0;
	free(t);
	if (!ok)
		*lx = save;
	return ok;
}

static int is_name(const char *t, int quoted)
{
	return t != NULL && (quoted || ident_char(*t));
}

/* "schema.name" (pg_dump qualifies every table it names). */
static int qualified_name(sql_lexer *lx, post_data_rel *out)
{
	int q1, q2, qd;
	char *schema = next_token(lx, &q1);
	char *dot = is_name(schema, q1) ? next_token(lx, &qd) : NULL;
	char *name = dot && !qd && strcmp(dot, ".") == 0 ? next_token(lx, &q2) : NULL;
	free(dot);
	if (!is_name(name, name ? q2 : 0)) {
		free(schema);
		free(name);
		return -1;
	}
	out->schema = schema;
	out->name = name;
	return 0;
}

/* The entry's statement (past its SETs and comments). */
static int entry_statement(const char *sql, sql_lexer *lx)
{
	pg_sql_iter it;
	pg_sql_piece pc;
	size_t len = strlen(sql);
	pg_sql_iter_init(&it, sql, len);
	while (pg_sql_iter_next(&it, &pc)) {
		if (pc.kind != PG_SQL_STATEMENT)
			continue;
		lx->p = sql + pc.start;
		lx->end = sql + pc.end;
		sql_lexer probe = *lx;
		if (accept_keyword(&probe, "set"))
			continue;
		return 0;
	}
	return -1;
}

void post_data_rel_clear(post_data_rel *r)
{
	free(r->schema);
	free(r->name);
	r->schema = r->name = NULL;
}

int post_data_entry_tables(const post_data_entry *e, post_data_rel *on, post_data_rel *ref)
{
	memset(on, 0, sizeof *on);
	memset(ref, 0, sizeof *ref);
	sql_lexer lx;
	if (entry_statement(e->sql, &lx) != 0)
		return -1;
	int q;
	if (strcmp(e->type, "INDEX") == 0) {
		if (!accept_keyword(&lx, "create"))
			return -1;
		accept_keyword(&lx, "unique");
		if (!accept_keyword(&lx, "index"))
			return -1;
		char *idx = next_token(&lx, &q);
		int ok = is_name(idx, q) && accept_keyword(&lx, "on");
		free(idx);
		if (!ok)
			return -1;
		accept_keyword(&lx, "only");
		return qualified_name(&lx, on);
	}
	int fk = strcmp(e->type, "FK CONSTRAINT") == 0;
	if (!fk && strcmp(e->type, "CONSTRAINT") != 0)
		return -1;
	if (!accept_keyword(&lx, "alter") || !accept_keyword(&lx, "table"))
		return -1;
	accept_keyword(&lx, "only");
	if (qualified_name(&lx, on) != 0)
		return -1;
	if (!fk)
		return 0;
	/* ADD CONSTRAINT c FOREIGN KEY (cols) REFERENCES s.r(cols) ... */
	for (;;) {
		char *t = next_token(&lx, &q);
		if (t == NULL)
			break;
		int hit = !q && strcmp(t, "references") == 0;
		free(t);
		if (hit)
			return qualified_name(&lx, ref) == 0 ? 0 : (post_data_rel_clear(on), -1);
	}
	post_data_rel_clear(on);
	return -1;
}
