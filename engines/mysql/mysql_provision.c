#include "engines/mysql/mysql_provision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <openssl/evp.h>

#include "common/log.h"
#include "common/mem.h"
#include "engines/mysql/myconn.h"
#include "common/provision.h"
#include "common/secret.h"
#include "archive/filter.h"

struct mysql_provision {
	char *account; /* 'user'@'%' */
	char *db;
	char *env_path;
	char *server; /* the record's (my_uri_where) */
	char fp[SHA256_HEX_LEN + 1]; /* the record's fingerprint of the created user's credential */
	int created;
	int pending; /* the record (FILE.pending) is ours to remove */
	env_file *env;
};

void mysql_native_hash(const char *password, char *out)
{
	unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
	unsigned int la = 0, lb = 0;
	EVP_Digest(password, strlen(password), a, &la, EVP_sha1(), NULL);
	EVP_Digest(a, la, b, &lb, EVP_sha1(), NULL);
	out[0] = '*';
	for (unsigned int i = 0; i < lb && i < 20; i++)
		snprintf(out + 1 + 2 * i, 3, "%02X", b[i]);
	memset(a, 0, sizeof a);
}

static int count(MYSQL *c, const char *sql, long *n, bderr *err)
{
	char *v = NULL;
	if (my_query_value(c, sql, "cannot inspect the target server", &v, err) != 0)
		return -1;
	*n = v ? atol(v) : 0;
	free(v);
	return 0;
}

/*
 * Where the application reaches the server, as the admin connection did:
 * its peer's address, so a Unix socket stays a socket (with the socket's
 * path: "localhost" alone means the client library's default socket to some
 * drivers and TCP port 3306 to others) and a TCP port is the one in use
 * even when --to left it to the default.  Without a peer address: --to's
 * socket or the server's @@socket, or --to's port.  *socket and *port_s:
 * caller frees.
 */
static void app_address(MYSQL *admin, const my_uri *uri, char **socket, char **port_s)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;
	memset(&sa, 0, sizeof sa);
	*socket = NULL;
	*port_s = NULL;
	int fd = (int)mysql_get_socket(admin);
	int unix_socket = uri->host == NULL || strcmp(uri->host, "localhost") == 0;
	if (fd >= 0 && getpeername(fd, (struct sockaddr *)&sa, &len) == 0) {
		unix_socket = sa.ss_family == AF_UNIX;
		const struct sockaddr_un *un = (const struct sockaddr_un *)&sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		if (unix_socket && len > off && un->sun_path[0] != '\0')
			*socket = xasprintf("%.*s", (int)strnlen(un->sun_path, len - off), un->sun_path);
		else if (sa.ss_family == AF_INET)
			*port_s = xasprintf("%u", (unsigned)ntohs(((const struct sockaddr_in *)&sa)->sin_port));
		else if (sa.ss_family == AF_INET6)
			*port_s = xasprintf("%u", (unsigned)ntohs(((const struct sockaddr_in6 *)&sa)->sin6_port));
		if (*socket || *port_s)
			return;
	}
	if (!unix_socket) {
		*port_s = xasprintf("%u", uri->port ? uri->port : 3306);
		return;
	}
	bderr ignored;
	bderr_init(&ignored);
	if (uri->socket)
		*socket = xstrdup(uri->socket);
	else if (my_query_value(admin, "SELECT @@socket", "cannot read the server's socket", socket, &ignored) != 0 ||
		 *socket == NULL)
		*socket = xstrdup("/run/mysqld/mysqld.sock"); /* the client library's default */
}

/* The pending record's fingerprint of the stored credential (mysql_provision.h). */
static void credential_fingerprint(const char *stored, char out[SHA256_HEX_LEN + 1])
{
	sha256_hex(stored, strlen(stored), out);
}

/* The stored credential of ACCOUNT ('user'@'%'), or NULL when the server shows none. */
static int stored_credential(MYSQL *c, const char *luser, char **out, bderr *err)
{
	char *sql = xasprintf("SELECT authentication_string FROM mysql.user WHERE User = %s AND Host = '%%'", luser);
	int rc = my_query_value(c, sql, "cannot inspect the target server", out, err);
	free(sql);
	return rc;
}

/*
 * DB exists and the record beside the env file says a run of this
 * provisioning (this server, DB, user, the user's credential) was killed
 * once DB was complete and before the env file (mysql_provision.h).  The
 * caller holds DB's restore claim, so that run is not live, and the claim
 * has already dropped a DB still marked in progress: this one is complete.
 * The user gets a new password (the killed run's was only in its memory) by
 * ALTER USER, which keeps its grant; the record first gets the new
 * credential's fingerprint beside the old, so that a kill on either side of
 * the ALTER leaves a record the user's credential still matches.  Then the
 * env file, then the record goes.  An env file that already holds the
 * user's password (old_fp is the fingerprint of the credential the server
 * stores now) was written by a run that then failed to remove the record:
 * only the record goes, the password and the file stay, so an application
 * that read the file keeps its login.
 */
static int complete_interrupted(MYSQL *admin, const provision_request *o, const my_uri *uri, const char *server,
				const char *account, const char *old_fp, bderr *err)
{
	char *held = NULL;
	if (provision_env_password(o->env_file, "mysql", o->owner, &held, err) != 0)
		return -1;
	if (held) {
		char hash[42], fp_held[SHA256_HEX_LEN + 1];
		mysql_native_hash(held, hash);
		credential_fingerprint(hash, fp_held);
		memset(hash, 0, sizeof hash);
		secret_free(held);
		if (strcmp(fp_held, old_fp) == 0) {
			bderr e;
			bderr_init(&e);
			if (provision_pending_remove(o->env_file, &e) != 0)
				log_warn("%s (the env file is in place: remove the record)", e.msg);
			log_info("completed an interrupted provisioning of '%s': the database was complete and '%s' already "
				 "holds the password of user %s (left unchanged)", o->db, o->env_file, account);
			return 0;
		}
	}
	char password[PROVISION_PASSWORD_LEN + 1] = "";
	if (provision_password(password, err) != 0)
		return -1;
	char *socket = NULL, *port_s = NULL;
	app_address(admin, uri, &socket, &port_s);
	char *line = provision_env_line("mysql", o->owner, password, socket ? "localhost" : uri->host, port_s, o->db,
					"socket", socket);
	free(socket);
	free(port_s);
	env_file *env = NULL;
	int rc = env_file_prepare(o->env_file, line, &env, err);
	secret_free(line);
	char hash[42];
	mysql_native_hash(password, hash);
	memset(password, 0, sizeof password);
	char fp[SHA256_HEX_LEN + 1];
	credential_fingerprint(hash, fp);
	if (rc == 0)
		rc = provision_pending_write_complete(o->env_file, server, o->db, account, old_fp, fp, err);
	if (rc == 0) {
		char *sql = xasprintf("ALTER USER %s IDENTIFIED WITH mysql_native_password AS '%s'", account, hash);
		rc = my_exec(admin, sql, "cannot set the user's new password", err);
		secret_free(sql);
	}
	memset(hash, 0, sizeof hash);
	if (rc == 0)
		rc = env_file_commit(env, err);
	env_file_abort(env);
	if (rc == 0) {
		bderr e;
		bderr_init(&e);
		if (provision_pending_remove(o->env_file, &e) != 0)
			log_warn("%s (the env file is in place: remove the record)", e.msg);
		log_info("completed an interrupted provisioning of '%s': the database was complete, user %s has a new "
			 "password, written to '%s'", o->db, account, o->env_file);
	}
	return rc;
}

int mysql_provision_prepare(MYSQL *admin, const provision_request *o, const my_uri *uri, mysql_provision **out,
			    int *completed, bderr *err)
{
	*out = NULL;
	*completed = 0;
	char *ldb = my_quote_literal(admin, o->db);
	char *luser = my_quote_literal(admin, o->owner);
	char *q1 = xasprintf("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", ldb);
	char *q2 = xasprintf("SELECT COUNT(*) FROM mysql.user WHERE User = %s AND Host = '%%'", luser);
	long db_there = 0, user_there = 0;
	int rc = count(admin, q1, &db_there, err);
	if (rc == 0)
		rc = count(admin, q2, &user_there, err);
	free(q1);
	free(q2);
	free(ldb);
	char server[300];
	my_uri_where(uri, server, sizeof server);
	char *account = xasprintf("%s@'%%'", luser);
	mysql_provision *p = NULL;
	/* a user the record says a killed run of this provisioning created (mysql_provision.h) */
	provision_pending_state pending = PROVISION_PENDING_NONE;
	char *other = NULL;
	char fp_now[SHA256_HEX_LEN + 1] = "";
	if (rc == 0) {
		char *stored = NULL;
		if (user_there)
			rc = stored_credential(admin, luser, &stored, err);
		if (rc == 0 && stored)
			credential_fingerprint(stored, fp_now);
		if (rc == 0)
			rc = provision_pending_check(o->env_file, server, o->db, account, stored ? fp_now : NULL,
						     &pending, &other, err);
		free(stored);
	}
	if (rc == 0 && db_there && user_there && pending == PROVISION_PENDING_COMPLETE && !o->no_resume) {
		rc = complete_interrupted(admin, o, uri, server, account, fp_now, err);
		if (rc == 0)
			*completed = 1;
		free(other);
		free(luser);
		free(account);
		return rc;
	}
	/*
	 * The record lives beside the env file on this host: a rerun elsewhere,
	 * or with another --env-file, cannot see it, and is refused as for a
	 * DB or user made by hand.  Said plainly, since the fix is to rerun it
	 * right.
	 */
	if (rc == 0 && db_there)
		rc = bderr_set(err, "database '%s' already exists: --provision creates the database, and leaves an existing one untouched "
				    "(a run of this provisioning killed before writing its env file is completed only by running it "
				    "again on the same host with the same --env-file: its record would be '%s.pending')",
			       o->db, o->env_file);
	int left = user_there && (pending == PROVISION_PENDING_OURS || pending == PROVISION_PENDING_COMPLETE);
	if (rc == 0 && user_there && !left && !o->reuse)
		rc = bderr_set(err, "user '%s'@'%%' already exists: pass --reuse-role to grant it the database (its password is not changed); "
				    "a user left by a killed run of this provisioning is recognised only on the same host with the same "
				    "--env-file, by its record '%s.pending'",
			       o->owner, o->env_file);
	int create = !user_there || left;
	if (rc == 0 && create && pending == PROVISION_PENDING_OTHER) {
		char *path = provision_pending_path(o->env_file);
		rc = bderr_set(err, "'%s' records another provisioning in progress (%s): run that one again to finish it, "
				    "or remove the file", path, other);
		free(path);
	}
	free(other);
	char password[PROVISION_PASSWORD_LEN + 1] = "";
	if (rc == 0 && create)
		rc = provision_password(password, err);
	if (rc == 0) {
		p = xcalloc(1, sizeof *p);
		p->account = account;
		account = NULL;
		p->db = xstrdup(o->db);
		p->env_path = xstrdup(o->env_file);
		char *socket = NULL, *port_s = NULL;
		app_address(admin, uri, &socket, &port_s);
		char *line = provision_env_line("mysql", o->owner, create ? password : NULL,
						socket ? "localhost" : uri->host, port_s, o->db, "socket", socket);
		free(socket);
		free(port_s);
		rc = env_file_prepare(o->env_file, line, &p->env, err);
		secret_free(line);
	}
	if (rc == 0 && left) {
		log_info("user %s was left by an interrupted provisioning of '%s' (recorded in '%s.pending'): "
			 "recreating it with a new password", p->account, o->db, o->env_file);
		char *sql = xasprintf("DROP USER %s", p->account);
		rc = my_exec(admin, sql, "cannot drop the user an interrupted provisioning left", err);
		free(sql);
	}
	if (rc == 0 && create) {
		char hash[42];
		mysql_native_hash(password, hash);
		/* recorded first: a run killed right after the CREATE USER leaves the record */
		char fp[SHA256_HEX_LEN + 1];
		credential_fingerprint(hash, fp);
		rc = provision_pending_write(o->env_file, server, o->db, p->account, fp, err);
		if (rc == 0) {
			p->pending = 1;
			memcpy(p->fp, fp, sizeof p->fp);
			p->server = xstrdup(server);
		}
		char *sql = xasprintf("CREATE USER %s IDENTIFIED WITH mysql_native_password AS '%s'", p->account, hash);
		if (rc == 0)
			rc = my_exec(admin, sql, "cannot create the user", err);
		secret_free(sql);
		memset(hash, 0, sizeof hash);
		if (rc == 0) {
			p->created = 1;
			log_info("created user %s (generated password in '%s')", p->account, o->env_file);
		}
	}
	memset(password, 0, sizeof password);
	free(luser);
	free(account);
	if (rc != 0) {
		mysql_provision_abort(p, admin);
		return -1;
	}
	*out = p;
	return 0;
}

int mysql_provision_grant(mysql_provision *p, MYSQL *admin, bderr *err)
{
	char *q = my_quote_ident(p->db);
	char *sql = xasprintf("GRANT ALL ON %s.* TO %s", q, p->account);
	int rc = my_exec(admin, sql, "cannot grant the user its database", err);
	free(sql);
	free(q);
	return rc;
}

int mysql_provision_database_complete(mysql_provision *p, bderr *err)
{
	if (!p->pending)
		return 0;
	return provision_pending_write_complete(p->env_path, p->server, p->db, p->account, p->fp, NULL, err);
}

int mysql_provision_commit(mysql_provision *p, bderr *err)
{
	if (env_file_commit(p->env, err) != 0)
		return -1;
	/* the env file holds the password now: the record has done its work */
	bderr e;
	bderr_init(&e);
	if (p->pending && provision_pending_remove(p->env_path, &e) != 0)
		log_warn("%s (the env file is in place: remove the record)", e.msg);
	p->pending = 0;
	return 0;
}

void mysql_provision_abort(mysql_provision *p, MYSQL *admin)
{
	if (p == NULL)
		return;
	int dropped = !p->created;
	if (p->created) {
		char *sql = xasprintf("DROP USER %s", p->account);
		bderr e;
		bderr_init(&e);
		if (admin == NULL)
			bderr_set(&e, "cannot drop the user created for the restore: no connection to the server");
		if (admin == NULL ||
		    my_exec(admin, sql, "cannot drop the user created for the restore", &e) != 0) {
			log_warn("%s: run the same provisioning again (its record '%s.pending' lets it recreate the user), "
				 "or drop user %s by hand", e.msg, p->env_path, p->account);
		} else {
			dropped = 1;
			log_info("dropped user %s, created for the failed restore", p->account);
		}
		free(sql);
	}
	/* the record stays while the user it describes does */
	bderr e;
	bderr_init(&e);
	if (p->pending && dropped && provision_pending_remove(p->env_path, &e) != 0)
		log_warn("%s", e.msg);
	mysql_provision_free(p);
}

void mysql_provision_free(mysql_provision *p)
{
	if (p == NULL)
		return;
	env_file_abort(p->env);
	free(p->account);
	free(p->db);
	free(p->env_path);
	free(p->server);
	free(p);
}
