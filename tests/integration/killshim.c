/*
 * LD_PRELOAD shim for restore_kill_sweep_test.sh: SIGKILLs its process right
 * after the Nth successful send(2)/sendto(2)/sendmsg(2) of the process
 * (KILLSHIM_AT=N), so a sweep over N kills a command after each statement it
 * sends to its server, which the server goes on executing alone.
 * KILLSHIM_COUNT=FILE: the number of sends is written there at exit (the
 * uninterrupted run that sizes the sweep).  KILLSHIM_FAIL_ON=TEXT: instead,
 * the first send whose bytes contain TEXT (a statement, in a server protocol
 * without TLS) sends nothing and fails with ECONNRESET, as a connection lost
 * at that statement: a failure injected at one step (mysql_test.sh).
 * KILLSHIM_KILL_AFTER=TEXT: SIGKILL right after the first send whose bytes
 * contain TEXT, which the server goes on executing alone (a provisioning
 * killed after its CREATE ROLE: pg_roles_test.sh, mysql_test.sh).  A test
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
static const char *kill_after;
static atomic_int failed;

/*
 * 1 (errno set) when buf holds KILLSHIM_FAIL_ON and no send failed yet.  The
 * socket is shut down too, as a lost connection's is: a client that waits
 * for the server's reply after a failed send (libpq) reads the end of it
 * instead of waiting for a reply to a statement the server never got.
 */
static int must_fail(int fd, const void *buf, size_t len)
{
	if (fail_on == NULL || *fail_on == '\0' || atomic_load(&failed) ||
	    memmem(buf, len, fail_on, strlen(fail_on)) == NULL || atomic_exchange(&failed, 1))
		return 0;
	shutdown(fd, SHUT_RDWR);
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
	kill_after = getenv("KILLSHIM_KILL_AFTER");
	atexit(write_count);
	/*
	 * The shim is for the command under test, not for what it starts: a
	 * migrate's pg_dump would inherit it, and with an ASan build's runtime
	 * preloaded first (shim_build), LeakSanitizer would fail that pg_dump
	 * (exit 99) on its own leaks, as it did in CI's ASan phase.
	 */
	unsetenv("LD_PRELOAD");
}

static ssize_t counted(ssize_t r)
{
	if (r >= 0 && atomic_fetch_add(&sends, 1) + 1 == kill_at)
		kill(getpid(), SIGKILL);
	return r;
}

/* SIGKILL once buf, just sent, holds KILLSHIM_KILL_AFTER */
static ssize_t killed_after(ssize_t r, const void *buf, size_t len)
{
	if (r > 0 && kill_after && *kill_after && memmem(buf, len, kill_after, strlen(kill_after)))
		kill(getpid(), SIGKILL);
	return r;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	ssize_t (*real)(int, const void *, size_t, int) = dlsym(RTLD_NEXT, "send");
	if (must_fail(fd, buf, len))
		return -1;
	return killed_after(counted(real(fd, buf, len, flags)), buf, len);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
	       socklen_t tolen)
{
	ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t) =
		dlsym(RTLD_NEXT, "sendto");
	if (must_fail(fd, buf, len))
		return -1;
	return killed_after(counted(real(fd, buf, len, flags, to, tolen)), buf, len);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t (*real)(int, const struct msghdr *, int) = dlsym(RTLD_NEXT, "sendmsg");
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		if (must_fail(fd, msg->msg_iov[i].iov_base, msg->msg_iov[i].iov_len))
			return -1;
	ssize_t r = counted(real(fd, msg, flags));
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		killed_after(r, msg->msg_iov[i].iov_base, msg->msg_iov[i].iov_len);
	return r;
}
