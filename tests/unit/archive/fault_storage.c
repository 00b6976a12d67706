#include "fault_storage.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

typedef struct fault_storage {
	storage base;
	storage *inner;
	fault_plan plan;
	char *only_path;
	atomic_uint writes;
} fault_storage;

static int applies(const fault_storage *fs, const char *path)
{
	return fs->only_path == NULL || strstr(path, fs->only_path) != NULL;
}

static int or_eio(int e)
{
	return e ? e : EIO;
}

typedef struct fault_writer {
	writer base;
	writer *inner;
	fault_storage *fs;
	char *path;
	int active;
} fault_writer;

static int fw_write(writer *w, const void *buf, size_t len, bderr *err)
{
	fault_writer *fw = (fault_writer *)w;
	if (fw->active) {
		unsigned n = atomic_fetch_add(&fw->fs->writes, 1) + 1;
		if (n == fw->fs->plan.fail_write_at) {
			size_t part = fw->fs->plan.short_write_bytes;
			if (part > len)
				part = len;
			if (part > 0 && writer_write(fw->inner, buf, part, err) < 0)
				return -1;
			return bderr_sys(err, or_eio(fw->fs->plan.write_errno), "cannot write '%s'",
					 fw->path);
		}
	}
	return writer_write(fw->inner, buf, len, err);
}

static int fw_close(writer *w, bderr *err)
{
	fault_writer *fw = (fault_writer *)w;
	if (fw->active && fw->fs->plan.fail_close)
		return bderr_sys(err, or_eio(fw->fs->plan.close_errno), "cannot rename temp file to '%s'",
				 fw->path);
	return writer_close(fw->inner, err);
}

static void fw_free(writer *w)
{
	fault_writer *fw = (fault_writer *)w;
	writer_free(fw->inner);
	free(fw->path);
	free(fw);
}

static const writer_ops fault_writer_ops = { fw_write, fw_close, fw_free };

typedef struct fault_reader {
	reader base;
	reader *inner;
	fault_storage *fs;
	char *path;
	int active;
	uint64_t pos;
} fault_reader;

static int fr_read(reader *r, void *buf, size_t cap, size_t *got, bderr *err)
{
	fault_reader *fr = (fault_reader *)r;
	const fault_plan *p = &fr->fs->plan;
	if (fr->active && p->fail_reads) {
		if (fr->pos >= p->read_fail_after)
			return bderr_sys(err, or_eio(p->read_errno), "cannot read '%s'", fr->path);
		if (cap > p->read_fail_after - fr->pos)
			cap = (size_t)(p->read_fail_after - fr->pos);
	}
	if (reader_read(fr->inner, buf, cap, got, err) < 0)
		return -1;
	if (fr->active && p->corrupt_reads && p->corrupt_offset >= fr->pos &&
	    p->corrupt_offset < fr->pos + *got)
		((unsigned char *)buf)[p->corrupt_offset - fr->pos] ^= 0x10;
	fr->pos += *got;
	return 0;
}

static void fr_free(reader *r)
{
	fault_reader *fr = (fault_reader *)r;
	reader_free(fr->inner);
	free(fr->path);
	free(fr);
}

static const reader_ops fault_reader_ops = { fr_read, fr_free };

static int fs_open_read(storage *s, const char *path, reader **out, bderr *err)
{
	fault_storage *fs = (fault_storage *)s;
	int active = applies(fs, path);
	reader *inner;
	if (active && fs->plan.fail_open_read)
		return bderr_sys(err, or_eio(fs->plan.read_errno), "cannot open '%s'", path);
	if (storage_open_read(fs->inner, path, &inner, err) < 0)
		return -1;
	fault_reader *fr = xcalloc(1, sizeof *fr);
	fr->base.ops = &fault_reader_ops;
	fr->inner = inner;
	fr->fs = fs;
	fr->path = xstrdup(path);
	fr->active = active;
	*out = &fr->base;
	return 0;
}

static int fs_open_write(storage *s, const char *path, writer **out, bderr *err)
{
	fault_storage *fs = (fault_storage *)s;
	int active = applies(fs, path);
	writer *inner;
	if (active && fs->plan.fail_open_write)
		return bderr_sys(err, or_eio(fs->plan.write_errno), "cannot create '%s'", path);
	if (storage_open_write(fs->inner, path, &inner, err) < 0)
		return -1;
	fault_writer *fw = xcalloc(1, sizeof *fw);
	fw->base.ops = &fault_writer_ops;
	fw->inner = inner;
	fw->fs = fs;
	fw->path = xstrdup(path);
	fw->active = active;
	*out = &fw->base;
	return 0;
}

static int fs_list(storage *s, const char *prefix, storage_list_cb cb, void *ctx, bderr *err)
{
	return storage_list(((fault_storage *)s)->inner, prefix, cb, ctx, err);
}

static int fs_remove(storage *s, const char *path, bderr *err)
{
	return storage_remove(((fault_storage *)s)->inner, path, err);
}

static int fs_info(storage *s, const char *path, storage_info *out, bderr *err)
{
	return storage_info_get(((fault_storage *)s)->inner, path, out, err);
}

static int fs_put_new(storage *s, const char *path, const void *data, size_t len, bderr *err)
{
	return storage_put_new(((fault_storage *)s)->inner, path, data, len, err);
}

static int fs_sweep(storage *s, const char *prefix, time_t older_than, size_t *removed,
		    bderr *err)
{
	return storage_sweep(((fault_storage *)s)->inner, prefix, older_than, removed, err);
}

static void fs_free(storage *s)
{
	fault_storage *fs = (fault_storage *)s;
	storage_free(fs->inner);
	free(fs->only_path);
	free(fs->base.url);
	free(fs);
}

static const storage_driver fault_driver = {
	.name = "fault",
	.open_read = fs_open_read,
	.open_write = fs_open_write,
	.list = fs_list,
	.remove = fs_remove,
	.info = fs_info,
	.put_new = fs_put_new,
	.sweep = fs_sweep,
	.free = fs_free,
};

storage *fault_storage_new(storage *inner, const fault_plan *plan)
{
	fault_storage *fs = xcalloc(1, sizeof *fs);
	fs->base.driver = &fault_driver;
	fs->base.url = xstrdup(inner->url);
	fs->inner = inner;
	if (plan)
		fs->plan = *plan;
	fs->only_path = fs->plan.only_path ? xstrdup(fs->plan.only_path) : NULL;
	fs->plan.only_path = NULL;
	atomic_init(&fs->writes, 0);
	return &fs->base;
}

unsigned fault_storage_writes(storage *s)
{
	return atomic_load(&((fault_storage *)s)->writes);
}
