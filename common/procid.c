#include "common/procid.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The first line of a small file, without its newline; "" when unreadable. */
static void read_line(const char *path, char *buf, size_t cap)
{
	buf[0] = '\0';
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return;
	if (fgets(buf, (int)cap, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/*
 * State and start time (field 22) of /proc/PID/stat.  The command name in
 * parentheses may hold spaces and ')': fields are counted after the last ')'.
 * 0 when the process does not exist or cannot be read.
 */
static int proc_stat(long pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	read_line(path, buf, sizeof buf);
	const char *p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	/* after ')': state (field 3), then fields 4..21, then starttime */
	if (sscanf(p + 1, " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
		   state, start) != 2)
		return 0;
	return 1;
}

void proc_identity_self(proc_identity *out)
{
	memset(out, 0, sizeof *out);
	if (gethostname(out->host, sizeof out->host) < 0)
		out->host[0] = '\0';
	out->host[sizeof out->host - 1] = '\0';
	read_line("/proc/sys/kernel/random/boot_id", out->boot_id, sizeof out->boot_id);
	ssize_t n = readlink("/proc/self/ns/pid", out->pid_ns, sizeof out->pid_ns - 1);
	out->pid_ns[n > 0 ? n : 0] = '\0';
	out->pid = (long)getpid();
	char state;
	if (!proc_stat(out->pid, &state, &out->start_ticks))
		out->start_ticks = 0;
}

int proc_identity_gone(const proc_identity *id)
{
	proc_identity me;
	proc_identity_self(&me);
	/* only a process we could see ourselves can be proven gone */
	if (id->pid <= 0 || id->host[0] == '\0' || id->boot_id[0] == '\0' || id->pid_ns[0] == '\0' ||
	    strcmp(id->host, me.host) != 0 || strcmp(id->boot_id, me.boot_id) != 0 ||
	    strcmp(id->pid_ns, me.pid_ns) != 0)
		return 0;
	if (kill((pid_t)id->pid, 0) < 0 && errno == ESRCH)
		return 1;
	char state;
	unsigned long long start;
	if (!proc_stat(id->pid, &state, &start))
		return 0;
	/* a zombie has exited; a different start time is another process on a reused pid */
	return state == 'Z' || (id->start_ticks != 0 && start != id->start_ticks);
}
