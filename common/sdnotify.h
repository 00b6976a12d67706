/*
 * The systemd notification protocol (sd_notify(3)) without libsystemd: one
 * datagram "KEY=VALUE\n..." to the AF_UNIX socket named in $NOTIFY_SOCKET.
 * Type=notify units learn READY=1 / STOPPING=1 from it, and WatchdogSec=
 * units expect WATCHDOG=1 at least every $WATCHDOG_USEC (we ping at half).
 */
#ifndef BACKUPD_COMMON_SDNOTIFY_H
#define BACKUPD_COMMON_SDNOTIFY_H

#include <time.h>

typedef struct sdnotify sdnotify;

/*
 * Reads (and removes, so that child processes do not talk to systemd in our
 * name) NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.  Returns NULL when
 * there is no socket: every other call accepts NULL and does nothing.
 * Call before starting threads (it changes the environment).
 */
sdnotify *sdnotify_new(void);
void sdnotify_free(sdnotify *n);

/* Sends state ("READY=1", "STOPPING=1", "STATUS=..."); a lost datagram is only logged. */
void sdnotify_send(sdnotify *n, const char *state);

/*
 * Sends WATCHDOG=1 when half the watchdog interval has passed since the last
 * ping; returns the latest wall-clock second the caller may sleep until
 * (wake, or earlier when the next ping is due first).
 */
time_t sdnotify_watchdog(sdnotify *n, time_t wake);

#endif
