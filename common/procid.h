/*
 * Who a process is, precisely enough to tell later that it is gone: the
 * host, the boot, the pid namespace, the pid and that pid's start time (so
 * a reused pid is not mistaken for the process).  Recorded in a backup's
 * backup.started, so expire can remove what a dead writer left at once
 * instead of after the 24 h grace.
 */
#ifndef BACKUPD_COMMON_PROCID_H
#define BACKUPD_COMMON_PROCID_H

typedef struct proc_identity {
	char host[256];
	char boot_id[64];                /* "" when unknown */
	char pid_ns[64];                 /* "pid:[4026531836]"; "" when unknown */
	long pid;
	unsigned long long start_ticks;  /* since boot; 0 when unknown */
} proc_identity;

/* The calling process. */
void proc_identity_self(proc_identity *out);

/*
 * 1 when id is a process of this host, boot and pid namespace that has
 * exited (or whose pid now belongs to another process); 0 when it runs or
 * nobody can tell from here (another host, an older record, a reboot).
 */
int proc_identity_gone(const proc_identity *id);

#endif
