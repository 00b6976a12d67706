#include "restore/pg_post_data.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

typedef struct parse_state {
	post_data *p;
	strbuf prelude;
	strbuf body;
	char *tablespace_set; /* the latest "SET default_tablespace ..." line */
	char *tableam_set;
	char *cur_type;
	char *cur_name;
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
	e->phase = phase_of(e->type);
	e->sql = xasprintf("%s%s", s->cur_settings, s->body.data ? s->body.data : "");
	free(s->cur_settings);
	s->cur_type = NULL;
	s->cur_name = NULL;
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
	}
	s->cur_settings = settings_now(s);
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
			/* psql meta-commands (\restrict): not SQL */
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
		free(p->entries[i].sql);
	}
	free(p->entries);
	free(p->prelude);
	free(p);
}
