#include "common/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"

extern char **environ;

static int stderr_tempfile(bderr *err)
{
	char path[] = "/tmp/backupd-stderr-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return bderr_sys(err, errno, "cannot create temp file '%s'", path);
	unlink(path);
	return fd;
}

static char **build_env(const char *const *extra)
{
	size_t n = 0, m = 0;
	while (environ[n])
		n++;
	while (extra && extra[m])
		m++;
	char **env = xcalloc(n + m + 1, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int overridden = 0;
		for (size_t j = 0; j < m; j++) {
			size_t kl = strcspn(extra[j], "=");
			if (strncmp(environ[i], extra[j], kl + 1) == 0)
				overridden = 1;
		}
		if (!overridden)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		env[k++] = (char *)extra[j];
	env[k] = NULL;
	return env;
}

int subprocess_start(const char *const *argv, const char *const *env_extra,
		     subprocess_pipe which, subprocess **out, bderr *err)
{
	int fds[2];
	int errfd = stderr_tempfile(err);
	if (errfd < 0)
		return -1;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		close(errfd);
		return bderr_sys(err, errno, "cannot create a pipe for '%s'", argv[0]);
	}
	char **env = build_env(env_extra);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		free(env);
		close(fds[0]);
		close(fds[1]);
		close(errfd);
		return bderr_sys(err, e, "cannot start '%s'", argv[0]);
	}
	if (pid == 0) {
		/* child: only async-signal-safe calls until exec */
		if (which == SUBPROCESS_PIPE_STDIN)
			dup2(fds[0], STDIN_FILENO);
		else
			dup2(fds[1], STDOUT_FILENO);
		dup2(errfd, STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execve(argv[0], (char *const *)argv, env);
		_exit(127);
	}
	free(env);
	subprocess *p = xcalloc(1, sizeof *p);
	p->pid = pid;
	if (which == SUBPROCESS_PIPE_STDIN) {
		close(fds[0]);
		p->fd = fds[1];
	} else {
		close(fds[1]);
		p->fd = fds[0];
	}
	p->stderr_fd = errfd;
	const char *slash = strrchr(argv[0], '/');
	p->name = xstrdup(slash ? slash + 1 : argv[0]);
	*out = p;
	return 0;
}

/* The most telling line of the child's stderr: the first ERROR/FATAL/error line. */
static void stderr_summary(subprocess *p, char *buf, size_t len)
{
	buf[0] = '\0';
	char data[8192];
	ssize_t n = pread(p->stderr_fd, data, sizeof data - 1, 0);
	if (n <= 0)
		return;
	data[n] = '\0';
	char *pick = NULL;
	for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
		if (strstr(line, "\\restrict") || *line == '\0')
			continue;
		if (pick == NULL)
			pick = line;
		if (strstr(line, "ERROR") || strstr(line, "FATAL") || strstr(line, "error")) {
			pick = line;
			break;
		}
	}
	if (pick) {
		if (snprintf(buf, len, "%s", pick) >= (int)len)
			buf[len - 1] = '\0';
		log_redact(buf);
	}
}

int subprocess_finish(subprocess *p, bderr *err)
{
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	int status = 0;
	while (waitpid(p->pid, &status, 0) < 0) {
		if (errno != EINTR)
			return bderr_sys(err, errno, "cannot wait for '%s'", p->name);
	}
	p->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	char why[1024];
	stderr_summary(p, why, sizeof why);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && why[0] == '\0')
		return bderr_set(err, "cannot run '%s'", p->name);
	if (WIFSIGNALED(status))
		return bderr_set(err, "'%s' was killed by signal %d%s%s", p->name, WTERMSIG(status),
				 why[0] ? ": " : "", why);
	return bderr_set(err, "'%s' failed (exit %d)%s%s", p->name, WEXITSTATUS(status),
			 why[0] ? ": " : "", why);
}

void subprocess_kill(subprocess *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
		p->pid = 0;
	}
}

void subprocess_free(subprocess *p)
{
	if (p == NULL)
		return;
	if (p->fd >= 0)
		close(p->fd);
	subprocess_kill(p);
	close(p->stderr_fd);
	free(p->name);
	free(p);
}

int subprocess_capture(const char *const *argv, char **out, bderr *err)
{
	subprocess *p;
	if (subprocess_start(argv, NULL, SUBPROCESS_PIPE_STDOUT, &p, err) != 0)
		return -1;
	strbuf b;
	strbuf_init(&b);
	char buf[4096];
	for (;;) {
		ssize_t n = read(p->fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (b.len < 1 << 20)
			strbuf_append(&b, buf, (size_t)n);
	}
	int rc = subprocess_finish(p, err);
	subprocess_free(p);
	if (rc != 0) {
		strbuf_free(&b);
		return -1;
	}
	*out = strbuf_detach(&b);
	return 0;
}

int subprocess_fork_detached_locked(const char *lock_path, int *lock_fd)
{
	*lock_fd = -1;
	int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return 0;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		log_debug("cannot start a background worker: fork: %s", strerror(errno));
	if (pid != 0) {
		close(fd);
		return 0;
	}
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	}
	*lock_fd = fd;
	return 1;
}
