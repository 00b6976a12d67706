/*
 * LD_PRELOAD shim for restore_kill_sweep_test.sh: SIGKILLs its process right
 * after the Nth successful send(2)/sendto(2)/sendmsg(2) of the process
 * (KILLSHIM_AT=N), so a sweep over N kills a command after each statement it
 * sends to its server, which the server goes on executing alone.
 * KILLSHIM_COUNT=FILE: the number of sends is written there at exit (the
 * uninterrupted run that sizes the sweep).  KILLSHIM_FAIL_ON=TEXT: instead,
 * the first send whose bytes contain TEXT (a statement, in a server protocol
 * without TLS) sends nothing and fails with ECONNRESET, as a connection lost
 * at that statement: a failure injected at one step (mysql_test.sh).  A test
 * tool, not part of backupd.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_long sends;
static long kill_at = -1;
static const char *fail_on;
static atomic_int failed;

/* 1 (errno set) when buf holds KILLSHIM_FAIL_ON and no send failed yet */
static int must_fail(const void *buf, size_t len)
{
	if (fail_on == NULL || *fail_on == '\0' || atomic_load(&failed) ||
	    memmem(buf, len, fail_on, strlen(fail_on)) == NULL || atomic_exchange(&failed, 1))
		return 0;
	errno = ECONNRESET;
	return 1;
}

static void write_count(void)
{
	const char *path = getenv("KILLSHIM_COUNT");
	FILE *f = path ? fopen(path, "w") : NULL;
	if (f) {
		fprintf(f, "%ld\n", atomic_load(&sends));
		fclose(f);
	}
}

__attribute__((constructor)) static void killshim_init(void)
{
	const char *at = getenv("KILLSHIM_AT");
	kill_at = at ? atol(at) : -1;
	fail_on = getenv("KILLSHIM_FAIL_ON");
	atexit(write_count);
}

static ssize_t counted(ssize_t r)
{
	if (r >= 0 && atomic_fetch_add(&sends, 1) + 1 == kill_at)
		kill(getpid(), SIGKILL);
	return r;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	ssize_t (*real)(int, const void *, size_t, int) = dlsym(RTLD_NEXT, "send");
	if (must_fail(buf, len))
		return -1;
	return counted(real(fd, buf, len, flags));
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
	       socklen_t tolen)
{
	ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t) =
		dlsym(RTLD_NEXT, "sendto");
	if (must_fail(buf, len))
		return -1;
	return counted(real(fd, buf, len, flags, to, tolen));
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t (*real)(int, const struct msghdr *, int) = dlsym(RTLD_NEXT, "sendmsg");
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		if (must_fail(msg->msg_iov[i].iov_base, msg->msg_iov[i].iov_len))
			return -1;
	return counted(real(fd, msg, flags));
}
