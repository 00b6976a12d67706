#include "common/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"

struct sdnotify {
	struct sockaddr_un addr;
	socklen_t addr_len;
	int fd;
	long long watchdog_usec; /* 0: no watchdog */
	struct timespec last_ping;
};

sdnotify *sdnotify_new(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *wd = getenv("WATCHDOG_USEC");
	const char *wd_pid = getenv("WATCHDOG_PID");
	sdnotify *n = NULL;
	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof n->addr.sun_path) {
		if (path)
			log_warn("NOTIFY_SOCKET '%s' is not a usable socket path: not notifying systemd", path);
		goto out;
	}
	n = xcalloc(1, sizeof *n);
	n->addr.sun_family = AF_UNIX;
	size_t len = strlen(path);
	memcpy(n->addr.sun_path, path, len);
	if (path[0] == '@') /* abstract namespace */
		n->addr.sun_path[0] = '\0';
	n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0) {
		log_warn("cannot create the systemd notification socket: %s", strerror(errno));
		free(n);
		n = NULL;
		goto out;
	}
	/* WATCHDOG_PID names the process systemd watches: not us when inherited */
	if (wd && (wd_pid == NULL || atol(wd_pid) == (long)getpid())) {
		char *end = NULL;
		long long usec = strtoll(wd, &end, 10);
		if (end != wd && *end == '\0' && usec > 0)
			n->watchdog_usec = usec;
	}
	clock_gettime(CLOCK_MONOTONIC, &n->last_ping);
out:
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return n;
}

void sdnotify_free(sdnotify *n)
{
	if (n == NULL)
		return;
	close(n->fd);
	free(n);
}

void sdnotify_send(sdnotify *n, const char *state)
{
	if (n == NULL)
		return;
	if (sendto(n->fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr,
		   n->addr_len) < 0)
		log_warn("cannot notify systemd (%s): %s", state, strerror(errno));
}

time_t sdnotify_watchdog(sdnotify *n, time_t wake)
{
	if (n == NULL || n->watchdog_usec == 0)
		return wake;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long half = n->watchdog_usec / 2;
	long long since = (now.tv_sec - n->last_ping.tv_sec) * 1000000LL +
			  (now.tv_nsec - n->last_ping.tv_nsec) / 1000;
	if (since >= half) {
		sdnotify_send(n, "WATCHDOG=1");
		n->last_ping = now;
		since = 0;
	}
	/* the daemon sleeps in whole wall-clock seconds: round the next ping down */
	long long left_sec = (half - since) / 1000000LL;
	time_t due = time(NULL) + (left_sec > 0 ? left_sec : 1);
	return due < wake ? due : wake;
}
