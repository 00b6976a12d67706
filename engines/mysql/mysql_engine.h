/*
 * The MySQL/MariaDB engine's table of operations (engines/engine.h).  Only
 * the registry (engines/engine.c) names it.
 */
#ifndef BACKUPD_ENGINES_MYSQL_ENGINE_H
#define BACKUPD_ENGINES_MYSQL_ENGINE_H

#include "engines/engine.h"

extern const engine_ops mysql_engine;

#endif
