#include "engines/follow.h"

#include <string.h>
#include <time.h>

#include "common/log.h"

int follow_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	return n > 0 && n <= 40 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

const char *follow_get(const follow_state *s, const char *key)
{
	const json_t *v = json_object_get(s->data, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

void follow_set(follow_state *s, const char *key, const char *value)
{
	if (value)
		json_object_set_new(s->data, key, json_string(value));
	else
		json_object_del(s->data, key);
}

int64_t follow_get_int(const follow_state *s, const char *key, int64_t def)
{
	const json_t *v = json_object_get(s->data, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

void follow_set_int(follow_state *s, const char *key, int64_t v)
{
	json_object_set_new(s->data, key, json_integer((json_int_t)v));
}

int follow_save(follow_state *s, bderr *err)
{
	return s->save ? s->save(s->data, s->arg, err) : 0;
}

int follow_cutover_phase(const follow_state *s, const char *name, bderr *err)
{
	const char *phase = follow_get(s, "phase");
	if (phase && strcmp(phase, "done") == 0)
		return 1;
	if (phase && strcmp(phase, "verifying") == 0)
		return bderr_set(err, "migration %s was switched over; its verification did not finish: "
				      "compare the databases yourself", name);
	if (phase == NULL || (strcmp(phase, "following") != 0 && strcmp(phase, "cutover") != 0))
		return bderr_usage(err, "migration %s is %s: only a following migration can be cut over",
				   name, phase ? phase : "unknown");
	return 0;
}

void follow_record_differs(follow_state *s, bderr *err)
{
	bderr_prefix(err, "after the switch (the source still holds the data as it was, read-only)");
	follow_set(s, "phase", "differs");
	follow_set(s, "note", err->msg);
	bderr e2;
	bderr_init(&e2);
	if (follow_save(s, &e2) != 0)
		log_error("%s", e2.msg);
}

void follow_sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&t, &t) != 0)
		;
}
