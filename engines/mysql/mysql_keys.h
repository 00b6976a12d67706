/*
 * Secondary indexes built after the load, as myloader does: an InnoDB table
 * loads faster into its clustered index alone, and one ALTER TABLE ... ADD
 * KEY afterwards builds each secondary index by sorting, instead of every
 * row going into every index as it arrives.  Only what is safe to move: plain
 * (non-unique) KEYs of an InnoDB table, as SHOW CREATE TABLE writes them,
 * and none that another table's foreign key could need or AUTO_INCREMENT
 * relies on.  The table's own FOREIGN KEYs move with them (after the keys in
 * the ALTER, so each finds its index): with foreign_key_checks = 0 InnoDB adds
 * them in place, without a copy of the table or a check of its rows.
 */
#ifndef BACKUPD_ENGINES_MYSQL_KEYS_H
#define BACKUPD_ENGINES_MYSQL_KEYS_H

#include <stddef.h>

/*
 * From a CREATE TABLE statement, takes out its plain KEY and FOREIGN KEY
 * lines: 1 with *create (the statement without them) and *add_keys ("ADD KEY
 * `k` (`c`), ..., ADD CONSTRAINT `fk` FOREIGN KEY ..." for an ALTER TABLE of
 * the table), both malloc'ed; 0, nothing allocated, when the statement stays
 * as it is: not InnoDB, a FOREIGN KEY to another database, a FULLTEXT or
 * SPATIAL index, a line of a shape not known here, neither plain KEY nor
 * FOREIGN KEY, or the table named in referenced[] (a foreign key, maybe its
 * own, points at it).
 */
int my_keys_split(const char *sql, const char *table, char *const *referenced, size_t n_referenced,
		  char **create, char **add_keys);

/* Appends to (*names, *n) the tables the FOREIGN KEYs of a CREATE TABLE reference. */
void my_keys_referenced(const char *sql, char ***names, size_t *n);

#endif
