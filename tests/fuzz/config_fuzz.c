/*
 * libFuzzer target: the INI configuration (common/config.c), then every
 * typed accessor on every key it accepted, and the policy parsers on the
 * values of schedule and retention keys.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/mem.h"
#include "policies/cron.h"
#include "policies/retention.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	config *c = NULL;
	bderr err;
	bderr_init(&err);
	if (config_load_string(text, "fuzz.conf", &c, &err) == 0) {
		for (size_t i = 0; i < c->n_sections; i++) {
			const config_section *s = &c->sections[i];
			if (config_find(c, s->type, s->name) == NULL)
				abort(); /* a section it loaded must be found again */
			for (size_t j = 0; j < s->n_entries; j++) {
				const char *k = s->entries[j].key;
				long l;
				int b;
				bderr e2;
				bderr_init(&e2);
				(void)config_get_long(c, s, k, 0, -1000000, 1000000, &l, &e2);
				(void)config_get_bool(c, s, k, 0, &b, &e2);
				(void)config_line(s, k);
				const char *v = config_get(s, k);
				if (v == NULL)
					abort();
				if (strcmp(k, "schedule") == 0) {
					cron_schedule *cs = NULL;
					if (cron_parse(v, &cs, &e2) == 0)
						cron_free(cs);
				} else if (strcmp(k, "retention") == 0) {
					retention_policy rp;
					(void)retention_parse(v, &rp, &e2);
				}
			}
		}
		config_free(c);
	}
	free(text);
	return 0;
}
