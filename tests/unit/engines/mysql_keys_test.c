#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engines/mysql/mysql_keys.h"

static const char docs[] =
	"CREATE TABLE `docs` (\n"
	"  `id` bigint(20) NOT NULL AUTO_INCREMENT,\n"
	"  `author` varchar(40) NOT NULL,\n"
	"  `email` varchar(40) NOT NULL,\n"
	"  `body` text NOT NULL,\n"
	"  PRIMARY KEY (`id`),\n"
	"  UNIQUE KEY `u_email` (`email`),\n"
	"  KEY `k_author` (`author`,`email`),\n"
	"  KEY `k``odd` (`body`(10)) COMMENT 'x',\n"
	"  CONSTRAINT `c` CHECK (`id` > 0)\n"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

static void test_plain_keys_move(void **state)
{
	(void)state;
	char *create, *add;
	assert_int_equal(my_keys_split(docs, "docs", NULL, 0, &create, &add), 1);
	assert_string_equal(create, "CREATE TABLE `docs` (\n"
				    "  `id` bigint(20) NOT NULL AUTO_INCREMENT,\n"
				    "  `author` varchar(40) NOT NULL,\n"
				    "  `email` varchar(40) NOT NULL,\n"
				    "  `body` text NOT NULL,\n"
				    "  PRIMARY KEY (`id`),\n"
				    "  UNIQUE KEY `u_email` (`email`),\n"
				    "  CONSTRAINT `c` CHECK (`id` > 0)\n"
				    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
	assert_string_equal(add, "ADD KEY `k_author` (`author`,`email`), ADD KEY `k``odd` (`body`(10)) COMMENT 'x'");
	free(create);
	free(add);
}

/* The last body line moves: the one before it loses its comma. */
static void test_last_line_moves(void **state)
{
	(void)state;
	static const char t[] = "CREATE TABLE `t` (\n  `a` int NOT NULL,\n  `b` int,\n  PRIMARY KEY (`a`),\n"
				"  KEY `kb` (`b`)\n) ENGINE=InnoDB";
	char *create, *add;
	assert_int_equal(my_keys_split(t, "t", NULL, 0, &create, &add), 1);
	assert_string_equal(create, "CREATE TABLE `t` (\n  `a` int NOT NULL,\n  `b` int,\n  PRIMARY KEY (`a`)\n) ENGINE=InnoDB");
	assert_string_equal(add, "ADD KEY `kb` (`b`)");
	free(create);
	free(add);
}

/* What stays as it is. */
static void test_kept(void **state)
{
	(void)state;
	char *create = (char *)"x", *add = (char *)"x";
	static const char *const kept[] = {
		/* a foreign key to another database (restored maybe later, its keys maybe deferred) */
		"CREATE TABLE `o` (\n  `id` int NOT NULL,\n  `c` int,\n  PRIMARY KEY (`id`),\n  KEY `k` (`c`),\n"
		"  CONSTRAINT `fk` FOREIGN KEY (`c`) REFERENCES `db`.`p` (`id`)\n) ENGINE=InnoDB",
		/* not InnoDB */
		"CREATE TABLE `m` (\n  `id` int NOT NULL,\n  `c` int,\n  KEY `k` (`c`)\n) ENGINE=MyISAM",
		/* full-text index: keys keep their order */
		"CREATE TABLE `f` (\n  `id` int NOT NULL,\n  `c` text,\n  KEY `k` (`id`),\n  FULLTEXT KEY `ft` (`c`)\n) ENGINE=InnoDB",
		/* AUTO_INCREMENT needs its key, and it is the only one */
		"CREATE TABLE `a` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  KEY `k` (`id`)\n) ENGINE=InnoDB",
		/* a line of a shape not known here */
		"CREATE TABLE `w` (\n  `id` int NOT NULL,\n  `d` text DEFAULT 'a\nb',\n  KEY `k` (`id`)\n) ENGINE=InnoDB",
		/* no plain key */
		"CREATE TABLE `n` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB",
		"CREATE SEQUENCE `s` start with 1",
		"",
	};
	for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
		assert_int_equal(my_keys_split(kept[i], "t", NULL, 0, &create, &add), 0);
		assert_null(create);
		assert_null(add);
	}
	/* a table another one's foreign key references */
	char *refs[] = { (char *)"DOCS" };
	assert_int_equal(my_keys_split(docs, "docs", refs, 1, &create, &add), 0);
	/* a key on AUTO_INCREMENT's column stays, the others move */
	static const char a2[] = "CREATE TABLE `a` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  `b` int,\n"
				 "  KEY `k` (`id`),\n  KEY `kb` (`b`)\n) ENGINE=InnoDB";
	assert_int_equal(my_keys_split(a2, "a", NULL, 0, &create, &add), 1);
	assert_non_null(strstr(create, "  KEY `k` (`id`)\n)"));
	assert_string_equal(add, "ADD KEY `kb` (`b`)");
	free(create);
	free(add);
}

/* Foreign keys move after the keys (the keys first: InnoDB uses them, makes none of its own). */
static void test_foreign_keys_move(void **state)
{
	(void)state;
	static const char o[] =
		"CREATE TABLE `o``x` (\n  `id` bigint(20) NOT NULL,\n  `c` int(11) NOT NULL,\n  `p` bigint(20) DEFAULT NULL,\n"
		"  PRIMARY KEY (`id`),\n  KEY `k_c` (`c`),\n  KEY `k_p` (`p`),\n"
		"  CONSTRAINT `fk_c` FOREIGN KEY (`c`) REFERENCES `cust``s` (`id`) ON DELETE CASCADE ON UPDATE SET NULL,\n"
		"  CONSTRAINT `fk_p` FOREIGN KEY (`p`) REFERENCES `later` (`id`),\n"
		"  CONSTRAINT `chk` CHECK (`c` > 0)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
	char *create, *add;
	assert_int_equal(my_keys_split(o, "o`x", NULL, 0, &create, &add), 1);
	assert_string_equal(create, "CREATE TABLE `o``x` (\n  `id` bigint(20) NOT NULL,\n  `c` int(11) NOT NULL,\n"
				    "  `p` bigint(20) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n"
				    "  CONSTRAINT `chk` CHECK (`c` > 0)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
	assert_string_equal(add, "ADD KEY `k_c` (`c`), ADD KEY `k_p` (`p`), "
				 "ADD CONSTRAINT `fk_c` FOREIGN KEY (`c`) REFERENCES `cust``s` (`id`) ON DELETE CASCADE ON UPDATE SET NULL, "
				 "ADD CONSTRAINT `fk_p` FOREIGN KEY (`p`) REFERENCES `later` (`id`)");
	free(create);
	free(add);
	/* the foreign key's columns are the primary key: only the constraint moves */
	static const char pk[] = "CREATE TABLE `e` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`),\n"
				 "  CONSTRAINT `fk` FOREIGN KEY (`id`) REFERENCES `p` (`id`)\n) ENGINE=InnoDB";
	assert_int_equal(my_keys_split(pk, "e", NULL, 0, &create, &add), 1);
	assert_string_equal(create, "CREATE TABLE `e` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB");
	assert_string_equal(add, "ADD CONSTRAINT `fk` FOREIGN KEY (`id`) REFERENCES `p` (`id`)");
	free(create);
	free(add);
	/* one referencing itself (or in a cycle) is in referenced[]: all stays */
	static const char self[] = "CREATE TABLE `s` (\n  `id` int NOT NULL,\n  `up` int,\n  PRIMARY KEY (`id`),\n"
				   "  KEY `k` (`up`),\n  CONSTRAINT `fk` FOREIGN KEY (`up`) REFERENCES `s` (`id`)\n) ENGINE=InnoDB";
	char **names = NULL;
	size_t n = 0;
	my_keys_referenced(self, &names, &n);
	assert_int_equal(my_keys_split(self, "s", names, n, &create, &add), 0);
	assert_null(create);
	free(names[0]);
	free(names);
}

static void test_referenced(void **state)
{
	(void)state;
	char **names = NULL;
	size_t n = 0;
	my_keys_referenced("CREATE TABLE `o` (\n  `c` int,\n"
			   "  CONSTRAINT `fk` FOREIGN KEY (`c`) REFERENCES `p` (`id`),\n"
			   "  CONSTRAINT `fk2` FOREIGN KEY (`c`) REFERENCES `other`.`q``x` (`id`) ON DELETE CASCADE\n"
			   ") ENGINE=InnoDB",
			   &names, &n);
	my_keys_referenced(docs, &names, &n);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "p");
	assert_string_equal(names[1], "q`x");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_keys_move),
		cmocka_unit_test(test_last_line_moves),
		cmocka_unit_test(test_kept),
		cmocka_unit_test(test_foreign_keys_move),
		cmocka_unit_test(test_referenced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
