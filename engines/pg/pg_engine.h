/*
 * The PostgreSQL engine's table of operations (engines/engine.h).  Only the
 * registry (engines/engine.c) names it.
 */
#ifndef BACKUPD_ENGINES_PG_ENGINE_H
#define BACKUPD_ENGINES_PG_ENGINE_H

#include "engines/engine.h"

extern const engine_ops pg_engine;

#endif
