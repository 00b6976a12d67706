#include "archive/object.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/progress.h"

struct object_writer {
	writer *head; /* size -> [zstd] -> sha256 -> size (stored) -> storage */
	writer *sha;
	writer *size;
	writer *stored;
	int sha256_stored;
};

int object_writer_open(storage *s, const char *path, int level, object_writer **out, bderr *err)
{
	writer *w;
	*out = NULL;
	if (storage_open_write(s, path, &w, err) < 0)
		return -1;
	object_writer *ow = xcalloc(1, sizeof *ow);
	ow->stored = size_writer_new(w);
	ow->sha = sha256_writer_new(ow->stored);
	/* uncompressed, the stored bytes are the content: the manifest says nothing new */
	ow->sha256_stored = level != 0;
	ow->size = size_writer_new(level != 0 ? zstd_writer_new(ow->sha, level) : ow->sha);
	ow->head = ow->size;
	*out = ow;
	return 0;
}

int object_writer_write(object_writer *ow, const void *buf, size_t len, bderr *err)
{
	return writer_write(ow->head, buf, len, err);
}

int object_writer_close(object_writer *ow, object_meta *meta, bderr *err)
{
	if (writer_close(ow->head, err) < 0)
		return -1;
	meta->size = size_writer_bytes(ow->size);
	meta->stored_size = size_writer_bytes(ow->stored);
	sha256_writer_hex(ow->sha, meta->sha256);
	meta->sha256_stored = ow->sha256_stored;
	return 0;
}

void object_writer_free(object_writer *ow)
{
	if (ow == NULL)
		return;
	writer_free(ow->head);
	free(ow);
}

struct object_reader {
	reader *head; /* storage -> sha256 -> [size (stored) -> unzstd] -> size; format 1: sha256 last */
	reader *sha;
	reader *size;
	reader *stored; /* NULL: not counted (uncompressed, or the content's hash is checked) */
	char *path;
	int verify;
	object_meta expect;
	int finished;
	struct progress *progress;
	int counted; /* the object was added to progress */
};

int object_reader_open(storage *s, const char *path, int compressed,
		       const object_meta *expect, object_reader **out, bderr *err)
{
	reader *r;
	*out = NULL;
	if (storage_open_read(s, path, &r, err) < 0)
		return -1;
	object_reader *orr = xcalloc(1, sizeof *orr);
	if (compressed && expect && !expect->sha256_stored) {
		/* compressed, written before manifest format 2: the content's hash */
		orr->size = size_reader_new(zstd_reader_new(r));
		orr->sha = sha256_reader_new(orr->size);
		orr->head = orr->sha;
	} else {
		orr->sha = sha256_reader_new(r);
		r = orr->sha;
		if (compressed) {
			orr->stored = size_reader_new(r);
			r = zstd_reader_new(orr->stored);
		}
		orr->size = size_reader_new(r);
		orr->head = orr->size;
	}
	orr->path = xstrdup(path);
	if (expect) {
		orr->verify = 1;
		orr->expect = *expect;
	}
	*out = orr;
	return 0;
}

static int corrupt(object_reader *orr, bderr *err)
{
	bderr_prefix(err, "object '%s' is corrupt", orr->path);
	err->sys_errno = EBADMSG;
	return -1;
}

void object_reader_set_progress(object_reader *orr, struct progress *p)
{
	orr->progress = p;
}

static int reader_read_verified(object_reader *orr, void *buf, size_t cap, size_t *got,
				bderr *err);

int object_reader_read(object_reader *orr, void *buf, size_t cap, size_t *got, bderr *err)
{
	int rc = reader_read_verified(orr, buf, cap, got, err);
	if (rc == 0 && orr->progress) {
		int end = *got == 0 && !orr->counted;
		progress_add(orr->progress, *got, (uint64_t)end);
		orr->counted |= end;
	}
	return rc;
}

static int reader_read_verified(object_reader *orr, void *buf, size_t cap, size_t *got,
				bderr *err)
{
	*got = 0;
	if (orr->finished)
		return 0;
	if (reader_read(orr->head, buf, cap, got, err) < 0) {
		if (err->sys_errno != EBADMSG)
			return -1;
		/* the decrypting reader names the object itself ("'P' failed ..."): name it once */
		size_t n = strlen(orr->path);
		if (err->msg[0] == '\'' && strncmp(err->msg + 1, orr->path, n) == 0 &&
		    strncmp(err->msg + 1 + n, "' ", 2) == 0)
			memmove(err->msg, err->msg + n + 3, strlen(err->msg + n + 3) + 1);
		return corrupt(orr, err);
	}
	if (!orr->verify)
		return 0;
	uint64_t n = size_reader_bytes(orr->size);
	/* fail before handing out bytes the manifest never recorded */
	if (n > orr->expect.size || (*got == 0 && n != orr->expect.size)) {
		*got = 0;
		bderr_set(err, "size mismatch (expected %" PRIu64 " bytes, got %s%" PRIu64 ")",
			  orr->expect.size, n > orr->expect.size ? "at least " : "", n);
		return corrupt(orr, err);
	}
	if (*got > 0)
		return 0;
	if (orr->stored && size_reader_bytes(orr->stored) != orr->expect.stored_size) {
		bderr_set(err, "stored size mismatch (expected %" PRIu64 " bytes, got %" PRIu64 ")",
			  orr->expect.stored_size, size_reader_bytes(orr->stored));
		return corrupt(orr, err);
	}
	char hex[SHA256_HEX_LEN + 1];
	sha256_reader_hex(orr->sha, hex);
	if (strcmp(hex, orr->expect.sha256) != 0) {
		bderr_set(err, "sha256 mismatch (expected %s, got %s)", orr->expect.sha256, hex);
		return corrupt(orr, err);
	}
	orr->finished = 1;
	return 0;
}

void object_reader_free(object_reader *orr)
{
	if (orr == NULL)
		return;
	reader_free(orr->head);
	free(orr->path);
	free(orr);
}
