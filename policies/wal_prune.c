#include "policies/wal_prune.h"

#include <string.h>

#include "archive/wal.h"

long wal_prune_decide(const char *const *files, size_t n, const char *oldest_start, int *remove,
		      bderr *err)
{
	for (size_t i = 0; i < n; i++)
		remove[i] = 0;
	if (oldest_start == NULL)
		return 0;
	wal_name start;
	if (wal_name_parse(oldest_start, &start, err) < 0 || start.kind != WAL_KIND_SEGMENT)
		return bderr_set(err, "oldest backup start '%s' is not a WAL segment name", oldest_start);
	long count = 0;
	for (size_t i = 0; i < n; i++) {
		wal_name w;
		bderr ignored;
		bderr_init(&ignored);
		if (wal_name_parse(files[i], &w, &ignored) < 0 || w.kind == WAL_KIND_HISTORY)
			continue;
		/* positions are fixed-width upper-case hex: text order is numeric order */
		if (strcmp(w.pos, start.pos) < 0) {
			remove[i] = 1;
			count++;
		}
	}
	return count;
}
