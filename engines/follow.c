#include "engines/follow.h"

#include <string.h>
#include <time.h>

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

void follow_sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&t, &t) != 0)
		;
}
