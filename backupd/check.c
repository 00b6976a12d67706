/*
 * Every item is checked even after a failure: an operator fixing a config
 * wants the whole list of what is wrong, not one problem per run.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "archive/repo.h"
#include "backupd/check.h"
#include "backupd/metrics_http.h"
#include "common/log.h"
#include "common/resolve.h"

static int check_repo(const config *cfg, const char *name, bderr *err)
{
	repo_spec spec;
	if (resolve_repo(cfg, name, &spec, err) != 0)
		return -1;
	repo *r = NULL;
	int rc = repo_open(spec.url, &spec.opts, 0, &r, err);
	backup_list *l = NULL;
	if (rc == 0)
		rc = repo_backup_list(r, NULL, &l, err);
	backup_list_free(l);
	repo_free(r);
	repo_spec_free(&spec);
	return rc;
}

static int check_source(const config *cfg, const char *name, bderr *err)
{
	source_spec src;
	if (resolve_source(cfg, name, &src, err) != 0)
		return -1;
	int rc = src.engine->check(src.url, src.password, NULL, 0, err);
	source_spec_free(&src);
	return rc;
}

static int check_state_dir(const config *cfg, bderr *err)
{
	const config_section *g = config_find(cfg, "global", NULL);
	const char *dir = g ? config_get(g, "state-dir") : NULL;
	if (dir == NULL)
		return 1; /* not configured: nothing to check */
	if (access(dir, W_OK | X_OK) != 0)
		return bderr_sys(err, errno, "state-dir '%s' is not writable", dir);
	return 0;
}

/* An endpoint open beyond this host is allowed, but said (not a failure). */
static void check_http_listen(const config *cfg)
{
	const config_section *g = config_find(cfg, "global", NULL);
	const char *listen = g ? config_get(g, "http-listen") : NULL;
	char warning[512];
	if (listen && metrics_listen_warning(listen, warning, sizeof warning))
		printf("WARNING %s\n", warning);
}

static void report(const char *what, const char *name, int rc, const bderr *e, int *failed)
{
	if (rc < 0) {
		printf("FAILED %s %s: %s\n", what, name, e->msg);
		*failed = 1;
	} else if (rc == 0) {
		printf("ok     %s %s\n", what, name);
	}
}

int check_command(program *p, bderr *err)
{
	if (p->cfg == NULL)
		return bderr_usage(err, "check needs a config file (-c FILE or $BACKUPD_CONFIG)");
	int failed = 0;
	bderr e;
	bderr_init(&e);
	int rc = check_state_dir(p->cfg, &e);
	report("state-dir", "", rc, &e, &failed);
	check_http_listen(p->cfg);
	for (size_t i = 0; i < p->cfg->n_sections; i++) {
		const config_section *s = &p->cfg->sections[i];
		bderr_init(&e);
		if (strcmp(s->type, "repo") == 0)
			report("repo", s->name, check_repo(p->cfg, s->name, &e), &e, &failed);
		else if (strcmp(s->type, "source") == 0)
			report("source", s->name, check_source(p->cfg, s->name, &e), &e, &failed);
	}
	fflush(stdout);
	if (failed)
		return bderr_set(err, "check failed: see the lines marked FAILED above");
	return 0;
}
