#include "archive/wal.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
/* ZSTD_initStaticCCtx and the workspace estimate: see compressor_level and part_ready */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "common/fsutil.h"
#include "common/mem.h"

#define INFO_MAX (64 * 1024)
#define SUFFIX_ZST ".zst"
/* Largest object wal_object_read accepts: PostgreSQL's segment size limit is 1 GB. */
#define WAL_FILE_MAX ((size_t)1024 * 1024 * 1024)

/* XLogPageHeaderData / XLogLongPageHeaderData field offsets (PostgreSQL 9.x..17). */
#define XLP_MAGIC_OFF 0
#define XLP_INFO_OFF 2
#define XLP_TLI_OFF 4
#define XLP_PAGEADDR_OFF 8
#define XLP_SYSID_OFF 24
#define XLP_SEG_SIZE_OFF 32
#define XLP_BLCKSZ_OFF 36
#define XLP_LONG_HEADER 0x0002

/* --- names --------------------------------------------------------------- */

static int is_upper_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static int is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static uint32_t hex32(const char *s)
{
	uint32_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v * 16 + (uint32_t)(s[i] <= '9' ? s[i] - '0' : s[i] - 'A' + 10);
	return v;
}

/* Parses exactly n chars of file; 0 ok, -1 not a WAL name. */
static int parse_name(const char *file, size_t n, wal_name *out)
{
	memset(out, 0, sizeof *out);
	if (n >= sizeof out->file)
		return -1;
	if (n == 8 + 8 && memcmp(file + 8, ".history", 8) == 0 && is_upper_hex(file, 8)) {
		out->kind = WAL_KIND_HISTORY;
	} else if (n >= WAL_SEGMENT_NAME_LEN && is_upper_hex(file, WAL_SEGMENT_NAME_LEN)) {
		const char *rest = file + WAL_SEGMENT_NAME_LEN;
		size_t rn = n - WAL_SEGMENT_NAME_LEN;
		if (rn == 0)
			out->kind = WAL_KIND_SEGMENT;
		else if (rn == 8 && memcmp(rest, ".partial", 8) == 0)
			out->kind = WAL_KIND_PARTIAL;
		else if (rn == 1 + 8 + 7 && rest[0] == '.' && is_upper_hex(rest + 1, 8) &&
			 memcmp(rest + 9, ".backup", 7) == 0)
			out->kind = WAL_KIND_BACKUP;
		else
			return -1;
		memcpy(out->pos, file + 8, 16);
		out->pos[16] = '\0';
	} else {
		return -1;
	}
	out->tli = hex32(file);
	if (out->tli == 0) /* timelines start at 1 */
		return -1;
	memcpy(out->file, file, n);
	out->file[n] = '\0';
	return 0;
}

int wal_name_parse(const char *file, wal_name *out, bderr *err)
{
	if (file == NULL || parse_name(file, strlen(file), out) < 0)
		return bderr_usage(err, "'%s' is not a WAL file name (segment, .partial, .backup or .history)",
				   file ? file : "");
	return 0;
}

char *wal_dir_path(const char *source)
{
	return xasprintf("%s/wal/", source);
}

/* Directory part under <source>/wal/ ("" for history files, else "<16 chars>/"). */
static void name_dir(const wal_name *n, char out[18])
{
	if (n->kind == WAL_KIND_HISTORY) {
		out[0] = '\0';
		return;
	}
	memcpy(out, n->file, 16);
	out[16] = '/';
	out[17] = '\0';
}

char *wal_object_path(const char *source, const char *file, const char *sha256hex)
{
	wal_name n;
	char dir[18];
	if (parse_name(file, strlen(file), &n) < 0)
		return NULL;
	name_dir(&n, dir);
	return xasprintf("%s/wal/%s%s-%s%s", source, dir, file, sha256hex, SUFFIX_ZST);
}

int wal_object_parse(const char *base, wal_name *out, char sha256hex[65])
{
	size_t len = strlen(base);
	size_t sfx = strlen(SUFFIX_ZST);
	if (len < 1 + SHA256_HEX_LEN + sfx + 1 || strcmp(base + len - sfx, SUFFIX_ZST) != 0)
		return -1;
	const char *hex = base + len - sfx - SHA256_HEX_LEN;
	if (hex[-1] != '-' || !is_lower_hex(hex, SHA256_HEX_LEN))
		return -1;
	if (parse_name(base, (size_t)(hex - 1 - base), out) < 0)
		return -1;
	memcpy(sha256hex, hex, SHA256_HEX_LEN);
	sha256hex[SHA256_HEX_LEN] = '\0';
	return 0;
}

void wal_segment_name(uint32_t tli, uint64_t lsn, uint32_t seg_size, char out[25])
{
	uint64_t segno = lsn / seg_size;
	uint64_t per_log = UINT64_C(0x100000000) / seg_size;
	snprintf(out, 25, "%08" PRIX32 "%08" PRIX32 "%08" PRIX32, tli, (uint32_t)(segno / per_log),
		 (uint32_t)(segno % per_log));
}

int wal_segment_next(const char *name, uint32_t seg_size, char out[25])
{
	wal_name n;
	if (seg_size == 0 || parse_name(name, strlen(name), &n) < 0 || n.kind != WAL_KIND_SEGMENT)
		return -1;
	uint64_t per_log = UINT64_C(0x100000000) / seg_size;
	uint64_t log = hex32(n.pos), seg = hex32(n.pos + 8);
	/* the last segment of the 64-bit WAL address space has no successor */
	if (seg >= per_log || (log == UINT32_MAX && seg + 1 == per_log))
		return -1;
	uint64_t segno = log * per_log + seg + 1;
	wal_segment_name(n.tli, segno * seg_size, seg_size, out);
	return 0;
}

/* --- segment header ------------------------------------------------------ */

static uint16_t get16(const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof v);
	return v;
}
static uint32_t get32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}
static uint64_t get64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static int pow2_between(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

int wal_segment_header_parse(const void *buf, size_t len, wal_segment_header *out, bderr *err)
{
	const unsigned char *p = buf;
	memset(out, 0, sizeof *out);
	if (len < WAL_LONG_HEADER_LEN)
		return bderr_set(err, "too short for a WAL segment (%zu bytes)", len);
	out->magic = get16(p + XLP_MAGIC_OFF);
	uint16_t info = get16(p + XLP_INFO_OFF);
	out->tli = get32(p + XLP_TLI_OFF);
	out->system_identifier = get64(p + XLP_SYSID_OFF);
	out->seg_size = get32(p + XLP_SEG_SIZE_OFF);
	out->xlog_blcksz = get32(p + XLP_BLCKSZ_OFF);
	/* every PostgreSQL WAL magic so far is 0xD0xx or 0xD1xx (9.0 .. 17) */
	if ((out->magic & 0xFE00) != 0xD000)
		return bderr_set(err, "not a WAL segment: bad page magic 0x%04X", out->magic);
	if (!(info & XLP_LONG_HEADER))
		return bderr_set(err, "not a WAL segment: first page has no long header");
	if (!pow2_between(out->seg_size, 1024 * 1024, 1024u * 1024 * 1024) ||
	    !pow2_between(out->xlog_blcksz, 1024, 65536))
		return bderr_set(err, "not a WAL segment: bad segment size %" PRIu32 " or block size %" PRIu32,
				 out->seg_size, out->xlog_blcksz);
	return 0;
}

int wal_segment_check(const wal_name *n, const void *buf, size_t len, wal_segment_header *out,
		      bderr *err)
{
	return wal_segment_check_head(n, buf, len, len, out, err);
}

int wal_segment_check_head(const wal_name *n, const void *head, size_t head_len, size_t len,
			   wal_segment_header *out, bderr *err)
{
	if (wal_segment_header_parse(head, head_len, out, err) < 0)
		return bderr_prefix(err, "'%s'", n->file);
	if (len != out->seg_size)
		return bderr_set(err, "'%s' is %zu bytes, its header says segments are %" PRIu32 " bytes",
				 n->file, len, out->seg_size);
	/* the name must match the contents: catches renamed or recycled files */
	uint64_t per_log = UINT64_C(0x100000000) / out->seg_size;
	uint64_t segno = (uint64_t)hex32(n->pos) * per_log + hex32(n->pos + 8);
	uint64_t addr = get64((const unsigned char *)head + XLP_PAGEADDR_OFF);
	if (hex32(n->pos + 8) >= per_log || addr != segno * out->seg_size)
		return bderr_set(err, "'%s' holds WAL of address %" PRIX64 "/%08" PRIX64 ", not of its name",
				 n->file, addr >> 32, addr & 0xFFFFFFFF);
	return 0;
}

int wal_pg_version_from_magic(uint16_t magic)
{
	static const struct {
		uint16_t magic;
		int version;
	} known[] = {
		{ 0xD097, 10 }, { 0xD098, 11 }, { 0xD101, 12 }, { 0xD106, 13 },
		{ 0xD10D, 14 }, { 0xD110, 15 }, { 0xD113, 16 }, { 0xD116, 17 },
		{ 0xD118, 18 },
	};
	for (size_t i = 0; i < sizeof known / sizeof *known; i++)
		if (known[i].magic == magic)
			return known[i].version;
	return 0;
}

/* --- listing and lookup ---------------------------------------------------- */

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

typedef struct find_ctx {
	const char *file;
	char *path;
	char sha[65];
	int count;
	char *other; /* a second object, for the error */
} find_ctx;

static int find_cb(void *vctx, const char *path, uint64_t size, bderr *err)
{
	find_ctx *c = vctx;
	wal_name n;
	char sha[65];
	(void)size;
	(void)err;
	if (wal_object_parse(basename_of(path), &n, sha) < 0 || strcmp(n.file, c->file) != 0)
		return 0;
	if (c->count++ == 0) {
		c->path = xstrdup(path);
		memcpy(c->sha, sha, sizeof sha);
	} else if (c->other == NULL) {
		c->other = xstrdup(path);
	}
	return 0;
}

int wal_find(repo *r, const char *source, const char *file, char **object_path,
	     char sha256hex[65], bderr *err)
{
	wal_name n;
	char dir[18];
	*object_path = NULL;
	if (wal_name_parse(file, &n, err) < 0)
		return -1;
	name_dir(&n, dir);
	char *prefix = xasprintf("%s/wal/%s%s-", source, dir, file);
	find_ctx c = { .file = file };
	int rc = storage_list(repo_storage(r), prefix, find_cb, &c, err);
	free(prefix);
	if (rc < 0) {
		bderr_prefix(err, "cannot look up '%s' in the WAL archive", file);
		rc = -1;
	} else if (c.count > 1) {
		rc = bderr_set(err, "'%s' is archived more than once with different contents: '%s' and '%s'",
			       file, c.path, c.other);
	} else if (c.count == 0) {
		rc = 1;
	} else {
		*object_path = c.path;
		c.path = NULL;
		memcpy(sha256hex, c.sha, sizeof c.sha);
		rc = 0;
	}
	free(c.path);
	free(c.other);
	return rc;
}

typedef struct list_ctx {
	size_t dir_len; /* strlen("<source>/wal/") */
	wal_object_list *l;
	size_t cap;
} list_ctx;

static int list_cb(void *vctx, const char *path, uint64_t size, bderr *err)
{
	list_ctx *c = vctx;
	wal_object o;
	char dir[18];
	(void)err;
	memset(&o, 0, sizeof o);
	if (wal_object_parse(basename_of(path), &o.name, o.sha256) < 0)
		return 0;
	/* only objects where wal_object_path puts them */
	name_dir(&o.name, dir);
	const char *rel = path + c->dir_len;
	if (strncmp(rel, dir, strlen(dir)) != 0 || strchr(rel + strlen(dir), '/') != NULL)
		return 0;
	if (c->l->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->l->items = xrealloc(c->l->items, c->cap * sizeof *c->l->items);
	}
	o.path = xstrdup(path);
	o.stored_size = size;
	c->l->items[c->l->n++] = o;
	return 0;
}

static int object_cmp(const void *a, const void *b)
{
	const wal_object *x = a, *y = b;
	int c = strcmp(x->name.file, y->name.file);
	return c ? c : strcmp(x->path, y->path);
}

int wal_list(repo *r, const char *source, wal_object_list **out, bderr *err)
{
	char *prefix = wal_dir_path(source);
	wal_object_list *l = xcalloc(1, sizeof *l);
	list_ctx c = { strlen(prefix), l, 0 };
	*out = NULL;
	int rc = storage_list(repo_storage(r), prefix, list_cb, &c, err);
	free(prefix);
	if (rc < 0) {
		wal_object_list_free(l);
		return bderr_prefix(err, "cannot list the WAL archive of '%s'", source);
	}
	if (l->n > 1)
		qsort(l->items, l->n, sizeof *l->items, object_cmp);
	*out = l;
	return 0;
}

void wal_object_list_free(wal_object_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i].path);
	free(l->items);
	free(l);
}

/* --- archive.info ---------------------------------------------------------- */

static char *info_path(const char *source)
{
	return xasprintf("%s/wal/" WAL_ARCHIVE_INFO, source);
}

int wal_archive_info_read(repo *r, const char *source, wal_archive_info *out, bderr *err)
{
	char *path = info_path(source);
	char *data = NULL;
	size_t len = 0;
	memset(out, 0, sizeof *out);
	if (storage_get(repo_storage(r), path, &data, &len, INFO_MAX, err) < 0) {
		int absent = err->sys_errno == ENOENT;
		free(path);
		if (absent) {
			bderr_init(err);
			return 1;
		}
		return -1;
	}
	json_error_t je;
	json_t *j = json_loadb(data, len, 0, &je);
	free(data);
	const char *sysid = NULL;
	json_int_t segsz = 0, ver = 0;
	int rc = -1;
	if (j == NULL || json_unpack_ex(j, &je, 0, "{s:s, s:I, s?I}", "system_identifier", &sysid,
					"wal_segment_size", &segsz, "pg_version", &ver) < 0) {
		bderr_set(err, "'%s' in '%s' is damaged: %s", path, repo_url(r), je.text);
	} else {
		char *end = NULL;
		errno = 0;
		unsigned long long v = strtoull(sysid, &end, 10);
		if (errno || *end || end == sysid || segsz <= 0 || segsz > UINT32_MAX) {
			bderr_set(err, "'%s' in '%s' is damaged: bad system_identifier or wal_segment_size",
				  path, repo_url(r));
		} else {
			out->system_identifier = v;
			out->wal_segment_size = (uint32_t)segsz;
			out->pg_version = (int)ver;
			rc = 0;
		}
	}
	json_decref(j);
	free(path);
	return rc;
}

static int info_write(repo *r, const char *source, uint64_t sysid, uint32_t seg_size,
		      int pg_version, bderr *err)
{
	char id[24];
	snprintf(id, sizeof id, "%" PRIu64, sysid);
	json_t *j = json_pack("{s:s, s:I}", "system_identifier", id, "wal_segment_size",
			      (json_int_t)seg_size);
	if (pg_version > 0)
		json_object_set_new(j, "pg_version", json_integer(pg_version));
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	char *path = info_path(source);
	strbuf b;
	strbuf_init(&b);
	strbuf_appendf(&b, "%s\n", text);
	int rc = storage_put(repo_storage(r), path, b.data, b.len, err);
	strbuf_free(&b);
	free(text);
	free(path);
	return rc;
}

int wal_archive_info_check(repo *r, const char *source, uint64_t system_identifier,
			   uint32_t wal_segment_size, int pg_version, bderr *err)
{
	wal_archive_info info;
	int rc = wal_archive_info_read(r, source, &info, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return info_write(r, source, system_identifier, wal_segment_size, pg_version, err);
	if (info.system_identifier != system_identifier)
		return bderr_set(err,
				 "the WAL archive of '%s' belongs to database system %" PRIu64
				 ", not to this one (%" PRIu64 "): use another --name",
				 source, info.system_identifier, system_identifier);
	if (info.wal_segment_size != wal_segment_size)
		return bderr_set(err,
				 "the WAL archive of '%s' has %" PRIu32 "-byte segments, this server %" PRIu32,
				 source, info.wal_segment_size, wal_segment_size);
	return 0;
}

/* --- storing and reading ----------------------------------------------------- */

/*
 * The compressor's memory comes from mmap with MADV_HUGEPAGE (2 MB pages
 * where the kernel allows transparent huge pages for madvised ranges, the
 * Debian default), not malloc: an archive_command process touches its
 * zstd workspace (~1.4 MB at level 1), its read buffer and its output for
 * the first time, and on a VM every first touch of a 4 kB page is a fault
 * the hypervisor sees too (measured here: ~18 us each, 340 of them, 6 ms of
 * a 30 ms call); a handful of 2 MB faults cost a fraction of that.  Where
 * huge pages are off, the same memory faults in 4 kB pages as malloc's would.
 */
typedef struct wal_mem {
	void *base; /* as mapped */
	size_t mapped;
	unsigned char *p; /* 2 MB aligned within */
} wal_mem;

#define HUGE_ALIGN ((size_t)2 * 1024 * 1024)

static int wal_mem_map(wal_mem *m, size_t len)
{
	memset(m, 0, sizeof *m);
	/* whole huge pages: the kernel uses one only where all of its 2 MB has the advice */
	len = (len + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
	size_t mapped = len + HUGE_ALIGN;
	void *b = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return -1;
	m->base = b;
	m->mapped = mapped;
	m->p = (unsigned char *)(((uintptr_t)b + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
	/* advice only: without it (THP off, an old kernel) the memory is still there */
	(void)madvise(m->p, len, MADV_HUGEPAGE);
	return 0;
}

static void wal_mem_unmap(wal_mem *m)
{
	if (m->base)
		munmap(m->base, m->mapped);
	memset(m, 0, sizeof *m);
}

/* How much input the compressor reads or hands zstd at a time: one zstd block. */
#define COMPRESS_STEP ((size_t)128 * 1024)

/*
 * One part's compression: a static zstd context, its read buffer, its
 * output, in one mapping.  The first 2 MB page holds the ~1.5 MB of the
 * first two and the first ~0.5 MB of output, which is all a typical half
 * segment compresses to: one huge page zeroed and faulted in per part.  The
 * rest of the output's room (ZSTD_compressBound) is faulted in only if used.
 */
typedef struct wal_part {
	wal_mem mem;
	ZSTD_CCtx *cctx;      /* at mem.p, or NULL before the first file */
	unsigned char *inbuf; /* COMPRESS_STEP bytes after the workspace */
	unsigned char *out;   /* cap bytes after inbuf */
	size_t cap;
} wal_part;

/*
 * A file of WAL_SPLIT_MIN bytes or more is stored as two zstd frames, one
 * per half (a .zst of concatenated frames, which zstd reads as one stream),
 * compressed by two threads: on 2 cores that halves the ~10 ms a 16 MB
 * segment's compression costs an archive_command call.  The bytes depend
 * only on the file and the level, never on the threads: a compressor made
 * with one thread writes the same object, the second half after the first.
 */
#define WAL_SPLIT_MIN ((size_t)4 * 1024 * 1024)

struct wal_compressor {
	int threads; /* 2: the second half in a thread of its own */
	int level;   /* the level the contexts were sized for */
	size_t ws;   /* their workspace's size */
	wal_part part[2];
};

wal_compressor *wal_compressor_new(int threads)
{
	wal_compressor *z = xcalloc(1, sizeof(wal_compressor));
	z->threads = threads > 1 ? 2 : 1;
	return z;
}

void wal_compressor_free(wal_compressor *z)
{
	if (z == NULL)
		return;
	for (int i = 0; i < 2; i++)
		wal_mem_unmap(&z->part[i].mem);
	free(z);
}

/* Part p set up for z->level and z->ws, with room for the output of len bytes. */
static int part_ready(wal_compressor *z, wal_part *p, size_t len, bderr *err)
{
	size_t need = ZSTD_compressBound(len);
	if (p->cctx != NULL && p->cap >= need)
		return 0;
	wal_mem_unmap(&p->mem);
	p->cctx = NULL;
	if (ZSTD_isError(need) || wal_mem_map(&p->mem, z->ws + COMPRESS_STEP + need) < 0)
		return bderr_set(err, "zstd compression failed: out of memory");
	p->cctx = ZSTD_initStaticCCtx(p->mem.p, z->ws);
	if (p->cctx == NULL) {
		wal_mem_unmap(&p->mem);
		return bderr_set(err, "zstd compression failed: cannot set up a level %d context", z->level);
	}
	p->inbuf = p->mem.p + z->ws;
	p->out = p->inbuf + COMPRESS_STEP;
	p->cap = need;
	return 0;
}

/* The workspace a context needs for level, for a stream of any length; contexts of another level go. */
static int compressor_level(wal_compressor *z, int level, bderr *err)
{
	if (z->ws != 0 && z->level == level)
		return 0;
	for (int i = 0; i < 2; i++) {
		wal_mem_unmap(&z->part[i].mem);
		memset(&z->part[i], 0, sizeof z->part[i]);
	}
	ZSTD_CCtx_params *params = ZSTD_createCCtxParams();
	size_t ws = 0;
	if (params && !ZSTD_isError(ZSTD_CCtxParams_init(params, level)) &&
	    !ZSTD_isError(ZSTD_CCtxParams_setParameter(params, ZSTD_c_checksumFlag, 1)))
		ws = ZSTD_estimateCStreamSize_usingCCtxParams(params);
	ZSTD_freeCCtxParams(params);
	z->ws = ZSTD_isError(ws) ? 0 : (ws + 63) & ~(size_t)63; /* the read buffer after it, aligned */
	z->level = level;
	if (z->ws == 0)
		return bderr_set(err, "zstd compression failed: cannot size a level %d context", level);
	return 0;
}

/*
 * Where the file to store is: in memory (buf), or in the file fd, read in
 * COMPRESS_STEP pieces into the part's buffer.  Reading beats mapping the
 * file: the kernel copies from the page cache through its own mapping,
 * while a process's first touch of each of a mapped segment's 4096 pages
 * costs a fault, which on a VM the hypervisor takes too (~10 ms a segment
 * measured here, more than compressing it).
 */
typedef struct wal_input {
	const unsigned char *buf; /* NULL: read from fd */
	int fd;
	size_t len;
	const char *file; /* for errors */
} wal_input;

/* The piece of in at off, up to end (at most COMPRESS_STEP bytes), read into slot from a file; or -1. */
static int input_piece(const wal_input *in, unsigned char *slot, size_t off, size_t end,
		       const unsigned char **piece, size_t *n, bderr *err)
{
	size_t want = end - off < COMPRESS_STEP ? end - off : COMPRESS_STEP;
	*n = want;
	if (in->buf) {
		*piece = in->buf + off;
		return 0;
	}
	size_t got = 0;
	if (fd_pread_full(in->fd, slot, want, (off_t)off, &got, in->file, err) < 0)
		return -1;
	/* a WAL file does not shrink while it waits to be archived: say so, store nothing */
	if (got < want)
		return bderr_set(err, "'%s' ended after %zu of its %zu bytes while it was read", in->file,
				 off + got, in->len);
	*piece = slot;
	return 0;
}

/*
 * Bytes [from, to) of in as one zstd frame into p->out (*out_len bytes), a
 * piece at a time: each piece is checksummed and compressed while it is in
 * cache.  The frame records its content size and an XXH64 content checksum,
 * which ZSTD_decompress verifies: the uncompressed bytes are protected
 * without a second pass.
 */
static int compress_range(wal_part *p, int level, const wal_input *in, size_t from, size_t to, size_t *out_len,
			  bderr *err)
{
	ZSTD_CCtx *c = p->cctx;
	ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
	size_t rc = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setPledgedSrcSize(c, to - from);
	ZSTD_outBuffer out = { p->out, p->cap, 0 };
	size_t off = from;
	while (!ZSTD_isError(rc)) {
		const unsigned char *piece = NULL;
		size_t n = 0;
		if (input_piece(in, p->inbuf, off, to, &piece, &n, err) < 0)
			return -1;
		off += n;
		ZSTD_EndDirective mode = off == to ? ZSTD_e_end : ZSTD_e_continue;
		ZSTD_inBuffer ib = { piece, n, 0 };
		/* the output holds the bound: each call takes all of the piece, and the end flushes at once */
		rc = ZSTD_compressStream2(c, &out, &ib, mode);
		if (!ZSTD_isError(rc) && (ib.pos != n || (mode == ZSTD_e_end && rc != 0)))
			return bderr_set(err, "zstd compression stopped short of the end of the input");
		if (mode == ZSTD_e_end)
			break;
	}
	if (ZSTD_isError(rc))
		return bderr_set(err, "zstd compression failed: %s", ZSTD_getErrorName(rc));
	*out_len = out.pos;
	return 0;
}

/* The second half, in a thread of its own. */
typedef struct half_job {
	wal_part *p;
	int level;
	const wal_input *in;
	size_t from, to;
	size_t out_len;
	int rc;
	bderr err;
} half_job;

static void *half_main(void *arg)
{
	half_job *j = arg;
	bderr_init(&j->err);
	j->rc = compress_range(j->p, j->level, j->in, j->from, j->to, &j->out_len, &j->err);
	return NULL;
}

/*
 * The second half's thread goes on another of the CPUs this process may use.
 * Left to the scheduler, a new thread starts on its creator's CPU and waits
 * there for a balancing pass to move it to the idle one: measured on the
 * 2-vCPU VMs here, it started 1 to 3.5 ms after pthread_create (a 16 MB
 * segment's half compresses in ~4.5 ms), and 0.5 to 0.7 ms when pinned away.
 * With one CPU allowed, no pinning.
 */
static void away_from_this_cpu(pthread_attr_t *at)
{
	cpu_set_t allowed;
	int me = sched_getcpu();
	if (me < 0 || me >= CPU_SETSIZE || sched_getaffinity(0, sizeof allowed, &allowed) != 0)
		return;
	CPU_CLR(me, &allowed);
	if (CPU_COUNT(&allowed) > 0)
		(void)pthread_attr_setaffinity_np(at, sizeof allowed, &allowed);
}

/*
 * Compresses in into part 0's output (*out, *out_len bytes): one frame, or
 * for WAL_SPLIT_MIN bytes and more, two (see WAL_SPLIT_MIN), the second
 * moved in after the first.
 */
static int compress_input(wal_compressor *z, const wal_input *in, int level, const unsigned char **out,
			  size_t *out_len, bderr *err)
{
	/* split at a piece boundary: where depends on the length alone */
	size_t split = in->len >= WAL_SPLIT_MIN ? (in->len / 2) & ~(COMPRESS_STEP - 1) : in->len;
	if (compressor_level(z, level, err) < 0 || part_ready(z, &z->part[0], in->len, err) < 0 ||
	    (split < in->len && part_ready(z, &z->part[1], in->len - split, err) < 0))
		return -1;
	*out = z->part[0].out;
	if (split == in->len)
		return compress_range(&z->part[0], level, in, 0, in->len, out_len, err);
	half_job j = { &z->part[1], level, in, split, in->len, 0, 0, { 0 } };
	pthread_t th;
	int threaded = 0;
	if (z->threads == 2) {
		pthread_attr_t at;
		pthread_attr_init(&at);
		away_from_this_cpu(&at);
		threaded = pthread_create(&th, &at, half_main, &j) == 0;
		pthread_attr_destroy(&at);
	}
	size_t first = 0;
	int rc = compress_range(&z->part[0], level, in, 0, split, &first, err);
	if (threaded)
		pthread_join(th, NULL);
	else if (rc == 0)
		half_main(&j);
	if (rc == 0 && j.rc < 0) {
		*err = j.err;
		rc = -1;
	}
	if (rc < 0)
		return -1;
	/* part 0's room is the bound of the whole file: both frames fit */
	memcpy(z->part[0].out + first, z->part[1].out, j.out_len);
	*out_len = first + j.out_len;
	return 0;
}

int wal_checksum(const void *buf, size_t len, char sha256hex[65], bderr *err)
{
	(void)err; /* kept for its callers: SHA-256 cannot fail */
	sha256_hex(buf, len, sha256hex);
	return 0;
}

/*
 * An object with another hash is archived under file's name: the same
 * contents compressed differently (another level or zstd version) is success,
 * anything else a conflict.
 */
static int same_contents(wal_compressor *z, repo *r, const wal_input *in, const char *have_path,
			 const char *have_sha, const char *want_sha, int *already, bderr *err)
{
	char *old = NULL;
	size_t old_len = 0;
	if (wal_object_read(r, have_path, have_sha, 0, &old, &old_len, err) < 0)
		return bderr_prefix(err, "cannot compare '%s' with its archived copy", in->file);
	int same = old_len == in->len;
	for (size_t off = 0; same && off < in->len;) {
		const unsigned char *piece = NULL;
		size_t n = 0;
		if (input_piece(in, z->part[0].inbuf, off, in->len, &piece, &n, err) < 0) {
			free(old);
			return -1;
		}
		same = memcmp(old + off, piece, n) == 0;
		off += n;
	}
	free(old);
	*already = same;
	if (same)
		return 0;
	return bderr_set(err,
			 "'%s' is already archived with different contents (archived object sha256 %s, "
			 "this file's object sha256 %s): refusing to overwrite",
			 in->file, have_sha, want_sha);
}

int wal_store(repo *r, const char *source, const char *file, const void *buf, size_t len,
	      int level, int *already, bderr *err)
{
	wal_compressor *z = wal_compressor_new(1);
	int rc = wal_store_using(z, r, source, file, buf, len, level, already, err);
	wal_compressor_free(z);
	return rc;
}

static int store_input(wal_compressor *zc, repo *r, const char *source, const wal_input *in, int level,
		       int *already, bderr *err)
{
	const char *file = in->file;
	wal_name n;
	*already = 0;
	if (wal_name_parse(file, &n, err) < 0)
		return -1;
	size_t zlen = 0;
	char sha[65];
	/* "none" still writes a zstd frame (at the fastest level): one object format */
	const unsigned char *z = NULL;
	if (compress_input(zc, in, level != 0 ? level : ZSTD_minCLevel(), &z, &zlen, err) < 0)
		return -1;
	/* the name carries the hash of the stored bytes: a small pass, not one over the segment */
	sha256_hex(z, zlen, sha);

	char *have = NULL;
	char have_sha[65];
	int rc = wal_find(r, source, file, &have, have_sha, err);
	if (rc == 0) {
		/* zstd is deterministic: equal hashes mean equal objects */
		if (strcmp(have_sha, sha) == 0)
			*already = 1;
		else
			rc = same_contents(zc, r, in, have, have_sha, sha, already, err);
		free(have);
		return rc;
	}
	if (rc < 0)
		return -1;
	char *path = wal_object_path(source, file, sha);
	rc = storage_put(repo_storage(r), path, z, zlen, err);
	free(path);
	if (rc < 0)
		return bderr_prefix(err, "cannot archive '%s'", file);
	/* a concurrent push of other contents under the same name must not pass silently */
	rc = wal_find(r, source, file, &have, have_sha, err);
	free(have);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return bderr_set(err, "'%s' vanished from the WAL archive right after it was written", file);
	return 0;
}

int wal_store_using(wal_compressor *zc, repo *r, const char *source, const char *file,
		    const void *buf, size_t len, int level, int *already, bderr *err)
{
	wal_input in = { buf ? buf : (const void *)"", -1, len, file };
	return store_input(zc, r, source, &in, level, already, err);
}

int wal_store_fd(wal_compressor *zc, repo *r, const char *source, const char *file, int fd, size_t len,
		 int level, int *already, bderr *err)
{
	wal_input in = { NULL, fd, len, file };
	return store_input(zc, r, source, &in, level, already, err);
}

/* Content_Checksum_flag of the frame header descriptor (RFC 8878, 3.1.1.1.1). */
static int frame_has_checksum(const unsigned char *p, size_t len)
{
	if (len < 5)
		return 0;
	uint32_t magic = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	if (magic != ZSTD_MAGICNUMBER)
		return 0;
	return (p[4] >> 2) & 1;
}

const char *wal_object_frames_check(const void *obj, size_t len, uint64_t *content)
{
	const unsigned char *p = obj;
	uint64_t total = 0;
	*content = 0;
	if (len == 0)
		return "empty";
	/* one frame, or (files of WAL_SPLIT_MIN and more) several: each sized and checksummed */
	for (size_t off = 0; off < len;) {
		size_t flen = ZSTD_findFrameCompressedSize(p + off, len - off);
		if (ZSTD_isError(flen) || flen == 0)
			return "not a sequence of zstd frames";
		unsigned long long size = ZSTD_getFrameContentSize(p + off, flen);
		if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
			return "a zstd frame without a size";
		if (!frame_has_checksum(p + off, flen))
			return "a zstd frame without a content checksum";
		if (size > WAL_FILE_MAX - total)
			return "larger than any WAL file";
		total += size;
		off += flen;
	}
	*content = total;
	return NULL;
}

int wal_object_read(repo *r, const char *path, const char *sha256hex, uint64_t expect_size,
		    char **out, size_t *out_len, bderr *err)
{
	char *z = NULL;
	size_t zlen = 0;
	*out = NULL;
	*out_len = 0;
	if (storage_get(repo_storage(r), path, &z, &zlen, WAL_FILE_MAX, err) < 0)
		return -1;
	char hex[65];
	const char *why = NULL;
	uint64_t content = 0;
	sha256_hex(z, zlen, hex);
	if (strcmp(hex, sha256hex) != 0)
		why = "sha256 mismatch";
	else if ((why = wal_object_frames_check(z, zlen, &content)) != NULL)
		;
	else if (expect_size && content != expect_size)
		why = "wrong size";
	char *buf = NULL;
	size_t got = 0;
	if (why == NULL) {
		size_t size = (size_t)content;
		buf = xmalloc(size ? size : 1);
		/* one frame after the other, verifying each one's XXH64 of its uncompressed contents */
		got = ZSTD_decompress(buf, size, z, zlen);
		if (ZSTD_isError(got))
			why = ZSTD_getErrorName(got);
		else if (got != size)
			why = "truncated";
	}
	free(z);
	if (why) {
		free(buf);
		bderr_set(err, "WAL object '%s' in '%s' is corrupt: %s", path, repo_url(r), why);
		err->sys_errno = EBADMSG;
		return -1;
	}
	*out = buf;
	*out_len = got;
	return 0;
}

static double now_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int wal_wait(repo *r, const char *source, const char *file, int timeout, bderr *err)
{
	double deadline = now_monotonic() + timeout;
	for (;;) {
		char *path = NULL;
		char sha[65];
		int found = wal_find(r, source, file, &path, sha, err);
		free(path);
		if (found <= 0)
			return found;
		if (now_monotonic() >= deadline)
			return 1;
		struct timespec pause = { 0, 200 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
}
