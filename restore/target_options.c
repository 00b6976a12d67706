#include "restore/target_options.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

int target_options_read(program *p, const source_spec *target, engine_restore_options *o,
			bderr *err)
{
	const char *provision = cli_get(&p->args, "provision");
	if (provision && (!cli_has(&p->args, "owner") || !cli_has(&p->args, "env-file")))
		return bderr_usage(err, "--provision DB needs --owner ROLE and --env-file FILE (where DATABASE_URL is written)");
	if (!provision && (cli_has(&p->args, "env-file") || cli_has(&p->args, "reuse-role")))
		return bderr_usage(err, "--env-file and --reuse-role go with --provision DB");
	if (provision && (*provision == '\0' || strlen(provision) > 63))
		return bderr_usage(err, "--provision takes a database name of 1 to 63 bytes");
	if (cli_int(&p->args, "jobs", &o->jobs, err) != 0)
		return -1;
	/* --role-map OLD=NEW, every one given */
	const char **maps = xcalloc((size_t)p->args.n_opts + 1, sizeof *maps);
	for (int i = 0, k = 0; i < p->args.n_opts; i++)
		if (strcmp(p->args.opts[i].name, "role-map") == 0)
			maps[k++] = p->args.opts[i].value;
	o->role_map = maps;
	o->to_url = target->url;
	o->password = target->password;
	o->create = cli_has(&p->args, "create") || provision != NULL;
	o->allow_non_empty = cli_has(&p->args, "allow-non-empty");
	o->no_owner = cli_has(&p->args, "no-owner");
	o->no_privileges = cli_has(&p->args, "no-privileges");
	o->no_binlog = cli_has(&p->args, "no-binlog");
	o->roles = cli_has(&p->args, "roles");
	o->owner = cli_get(&p->args, "owner");
	o->provision_db = provision;
	o->env_file = cli_get(&p->args, "env-file");
	o->reuse_role = cli_has(&p->args, "reuse-role");
	if (maps[0] == NULL) {
		free(maps);
		o->role_map = NULL;
	}
	return engine_restore_options_check(target->engine, o, err);
}

void target_options_clear(engine_restore_options *o)
{
	free((void *)o->role_map);
	o->role_map = NULL;
}
