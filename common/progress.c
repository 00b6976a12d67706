#include "common/progress.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/log.h"
#include "common/mem.h"

/* The reporter wakes this often; a terminal line is redrawn at each wake. */
#define TICK_MS 500
/* Snapshots for the publish callback (status files) at most this often. */
#define PUBLISH_EVERY_MS 2000
/* The rate is measured over about this many seconds of samples. */
#define RATE_WINDOW 20

struct progress {
	char what[32];
	progress_options o;
	_Atomic uint64_t bytes_done, bytes_total, objects_done, objects_total;
	atomic_int estimated;
	struct timespec t0;
	time_t started;

	pthread_mutex_t lock; /* phase, the rate samples, stopping */
	pthread_cond_t wake;
	char phase[48];
	int stopping;
	int thread_ok;
	pthread_t thread;
	int tty;
	int drawn; /* a terminal line is up */

	/* ring of (elapsed, bytes_done) samples, one per tick, for the rate */
	double sample_t[RATE_WINDOW * 1000 / TICK_MS];
	uint64_t sample_b[RATE_WINDOW * 1000 / TICK_MS];
	size_t n_samples, next_sample;
};

#define N_SAMPLES (RATE_WINDOW * 1000 / TICK_MS)

void progress_options_init(progress_options *o)
{
	memset(o, 0, sizeof *o);
	o->interval = PROGRESS_INTERVAL_DEFAULT;
	o->tty = -1;
}

int progress_options_from_args(const cli_args *a, progress_options *o, bderr *err)
{
	o->quiet = a->quiet;
	return cli_get_int(a, "progress-interval", PROGRESS_INTERVAL_DEFAULT, 1,
			   PROGRESS_INTERVAL_MAX, &o->interval, err);
}

static double elapsed_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- formatting --------------------------------------------------------------- */

void progress_format_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return;
	}
	double v = (double)bytes / 1024.0;
	size_t u = 0;
	while (v >= 1024.0 && u + 1 < sizeof units / sizeof *units) {
		v /= 1024.0;
		u++;
	}
	/* three significant digits: 1.23 GiB, 12.3 MiB, 123 KiB (as they round) */
	if (v < 9.995)
		snprintf(buf, len, "%.2f %s", v, units[u]);
	else if (v < 99.95)
		snprintf(buf, len, "%.1f %s", v, units[u]);
	else
		snprintf(buf, len, "%.0f %s", v, units[u]);
}

void progress_format_duration(double seconds, char *buf, size_t len)
{
	if (!(seconds >= 0) || seconds > 1e9) {
		snprintf(buf, len, "?");
		return;
	}
	unsigned long long s = (unsigned long long)(seconds + 0.5);
	if (s < 60)
		snprintf(buf, len, "%llus", s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, len, "%llud%02lluh", s / 86400, (s % 86400) / 3600);
}

/* Percent of done in total, below 100 until the work says it is all done. */
static int percent(uint64_t done, uint64_t total)
{
	if (done >= total)
		return 99;
	return (int)((double)done * 100.0 / (double)total);
}

void progress_format_line(const progress_snapshot *s, char *buf, size_t len)
{
	char done[32], total[32];
	size_t n = 0;
#define PUT(...)                                                                      \
	do {                                                                          \
		if (n < len) {                                                        \
			int w_ = snprintf(buf + n, len - n, __VA_ARGS__);             \
			n += w_ > 0 ? (size_t)w_ : 0;                                 \
		}                                                                     \
	} while (0)
	if (len == 0)
		return;
	buf[0] = '\0';
	int has_bytes = s->bytes_total > 0 || s->bytes_done > 0 ||
			(s->objects_total == 0 && s->objects_done == 0);
	int has_objects = s->objects_total > 0 || s->objects_done > 0;
	/* the percent and the time left follow the bytes when their total is known */
	int pct = -1;
	double left = -1;
	if (s->bytes_total > 0) {
		pct = percent(s->bytes_done, s->bytes_total);
		if (s->rate > 0 && s->bytes_done < s->bytes_total)
			left = (double)(s->bytes_total - s->bytes_done) / s->rate;
	} else if (s->objects_total > 0) {
		pct = percent(s->objects_done, s->objects_total);
		/* no byte total: extrapolate from the objects' pace so far */
		if (s->objects_done > 0 && s->objects_done < s->objects_total && s->elapsed > 0)
			left = s->elapsed * (double)(s->objects_total - s->objects_done) /
			       (double)s->objects_done;
	}
	PUT("%s: ", s->what);
	if (has_bytes) {
		progress_format_bytes(s->bytes_done, done, sizeof done);
		if (s->bytes_total > 0) {
			/* an estimate that the work outgrew shows what is known: at least done */
			uint64_t t = s->estimated && s->bytes_done > s->bytes_total ? s->bytes_done
										   : s->bytes_total;
			progress_format_bytes(t, total, sizeof total);
			PUT("%s of %s%s (%d%%)", done, s->estimated ? "~" : "", total, pct);
		} else {
			PUT("%s", done);
		}
	}
	if (has_objects) {
		PUT("%s", has_bytes ? ", " : "");
		if (s->objects_total > 0)
			PUT("%" PRIu64 "/%" PRIu64 " objects", s->objects_done,
			    /* an object read twice must not print "5/4" */
			    s->objects_done > s->objects_total ? s->objects_done : s->objects_total);
		else
			PUT("%" PRIu64 " objects", s->objects_done);
		if (s->bytes_total == 0 && pct >= 0)
			PUT(" (%d%%)", pct);
	}
	if (s->rate > 0) {
		char r[32];
		progress_format_bytes((uint64_t)s->rate, r, sizeof r);
		PUT(", %s/s", r);
	}
	/* under a second left says nothing (the server may still be busy with it) */
	if (left >= 1) {
		char eta[32];
		progress_format_duration(left, eta, sizeof eta);
		PUT(", ETA %s", eta);
	}
	if (s->phase[0])
		PUT(", %s", s->phase);
#undef PUT
}

/* ---- counters ------------------------------------------------------------------- */

void progress_set_total(progress *p, uint64_t bytes, uint64_t objects)
{
	if (p == NULL)
		return;
	atomic_store_explicit(&p->bytes_total, bytes, memory_order_relaxed);
	atomic_store_explicit(&p->objects_total, objects, memory_order_relaxed);
}

void progress_add_total(progress *p, uint64_t bytes, uint64_t objects)
{
	if (p == NULL)
		return;
	atomic_fetch_add_explicit(&p->bytes_total, bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->objects_total, objects, memory_order_relaxed);
}

void progress_correct_total(progress *p, uint64_t estimated, uint64_t actual)
{
	if (p == NULL || estimated == actual)
		return;
	/* modular arithmetic: adding (actual - estimated) also subtracts */
	atomic_fetch_add_explicit(&p->bytes_total, actual - estimated, memory_order_relaxed);
}

void progress_set_estimated(progress *p, int estimated)
{
	if (p)
		atomic_store_explicit(&p->estimated, estimated != 0, memory_order_relaxed);
}

void progress_add(progress *p, uint64_t bytes, uint64_t objects)
{
	if (p == NULL)
		return;
	if (bytes)
		atomic_fetch_add_explicit(&p->bytes_done, bytes, memory_order_relaxed);
	if (objects)
		atomic_fetch_add_explicit(&p->objects_done, objects, memory_order_relaxed);
}

void progress_set_done(progress *p, uint64_t bytes, uint64_t objects)
{
	if (p == NULL)
		return;
	atomic_store_explicit(&p->bytes_done, bytes, memory_order_relaxed);
	atomic_store_explicit(&p->objects_done, objects, memory_order_relaxed);
}

void progress_phase(progress *p, const char *phase)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	snprintf(p->phase, sizeof p->phase, "%s", phase ? phase : "");
	pthread_mutex_unlock(&p->lock);
}

/* Caller holds the lock. */
static double rate_locked(const progress *p, double now, uint64_t bytes)
{
	if (p->n_samples == 0)
		return 0;
	/* the oldest sample of the ring */
	size_t oldest = p->n_samples < N_SAMPLES ? 0 : p->next_sample;
	double dt = now - p->sample_t[oldest];
	if (dt < 0.9 || bytes < p->sample_b[oldest])
		return 0;
	return (double)(bytes - p->sample_b[oldest]) / dt;
}

static void snapshot_locked(progress *p, progress_snapshot *s)
{
	memset(s, 0, sizeof *s);
	snprintf(s->what, sizeof s->what, "%s", p->what);
	snprintf(s->phase, sizeof s->phase, "%s", p->phase);
	s->bytes_done = atomic_load_explicit(&p->bytes_done, memory_order_relaxed);
	s->objects_done = atomic_load_explicit(&p->objects_done, memory_order_relaxed);
	s->bytes_total = atomic_load_explicit(&p->bytes_total, memory_order_relaxed);
	s->objects_total = atomic_load_explicit(&p->objects_total, memory_order_relaxed);
	s->estimated = atomic_load_explicit(&p->estimated, memory_order_relaxed);
	s->elapsed = elapsed_since(&p->t0);
	s->rate = rate_locked(p, s->elapsed, s->bytes_done);
	s->started = p->started;
}

void progress_get(progress *p, progress_snapshot *s)
{
	if (p == NULL) {
		memset(s, 0, sizeof *s);
		return;
	}
	pthread_mutex_lock(&p->lock);
	snapshot_locked(p, s);
	pthread_mutex_unlock(&p->lock);
}

/* ---- the reporter ------------------------------------------------------------------ */

static void sample_locked(progress *p)
{
	p->sample_t[p->next_sample] = elapsed_since(&p->t0);
	p->sample_b[p->next_sample] = atomic_load_explicit(&p->bytes_done, memory_order_relaxed);
	p->next_sample = (p->next_sample + 1) % N_SAMPLES;
	if (p->n_samples < N_SAMPLES)
		p->n_samples++;
}

static void *reporter(void *arg)
{
	progress *p = arg;
	double last_line = 0, last_publish = -1e9;
	pthread_mutex_lock(&p->lock);
	sample_locked(p);
	while (!p->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TICK_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		int rc = 0;
		while (!p->stopping && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&p->wake, &p->lock, &until);
		if (p->stopping)
			break;
		sample_locked(p);
		progress_snapshot s;
		snapshot_locked(p, &s);
		int line = 0;
		if (!p->o.quiet) {
			if (p->tty)
				line = 1;
			else if (s.elapsed - last_line >= (double)p->o.interval - 0.25)
				line = 1;
		}
		int publish = p->o.publish && s.elapsed - last_publish >= PUBLISH_EVERY_MS / 1000.0;
		/* output without the lock: workers' phase changes must not wait on stderr */
		pthread_mutex_unlock(&p->lock);
		if (line) {
			char buf[512];
			progress_format_line(&s, buf, sizeof buf);
			if (p->tty) {
				log_status_line(buf);
				p->drawn = 1;
			} else {
				log_info("progress: %s", buf);
			}
			last_line = s.elapsed;
		}
		if (publish) {
			p->o.publish(p->o.publish_ctx, &s, 0);
			last_publish = s.elapsed;
		}
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

progress *progress_new(const char *what, const progress_options *o)
{
	progress *p = xcalloc(1, sizeof *p);
	snprintf(p->what, sizeof p->what, "%s", what);
	if (o)
		p->o = *o;
	else
		progress_options_init(&p->o);
	if (p->o.interval <= 0)
		p->o.interval = PROGRESS_INTERVAL_DEFAULT;
	p->tty = p->o.tty >= 0 ? p->o.tty : isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	p->started = time(NULL);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	/* quiet and nothing to publish: the counters alone, no thread */
	if (!p->o.quiet || p->o.publish)
		p->thread_ok = pthread_create(&p->thread, NULL, reporter, p) == 0;
	if (!p->thread_ok && (!p->o.quiet || p->o.publish))
		log_debug("%s: no progress reports: cannot start the reporter thread", what);
	return p;
}

void progress_free(progress *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	if (p->thread_ok)
		pthread_join(p->thread, NULL);
	if (p->drawn)
		log_status_line(NULL);
	if (p->o.publish) {
		progress_snapshot s;
		progress_get(p, &s);
		p->o.publish(p->o.publish_ctx, &s, 1);
	}
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
