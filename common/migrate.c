/*
 * migrate - apply pending schema migrations under an advisory lock.
 */
#include "migrate.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"
#include "log.h"
#include "pg.h"

/* "gitweave" in ASCII: the advisory lock key of migrations. */
#define MIGRATE_LOCK_KEY "7451321443455403365"

const char *
migrate_default_dir(void)
{
    struct stat st;
    const char *env = getenv("GITWEAVE_MIGRATIONS_DIR");

    if (env != NULL && *env != '\0')
        return env;
    if (stat(GW_MIGRATIONS_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return GW_MIGRATIONS_DIR;
    return GW_SOURCE_MIGRATIONS_DIR;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    buf_t b;
    char tmp[8192];
    size_t n;

    if (f == NULL)
        return NULL;
    buf_init(&b);
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_append(&b, tmp, n);
    fclose(f);
    return buf_steal(&b);
}

static bool
is_migration_name(const char *name)
{
    size_t n = strlen(name);
    return n > 9 && name[0] >= '0' && name[0] <= '9' && strcmp(name + n - 4, ".sql") == 0;
}

static int
apply_one(PGconn *conn, const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    char *sql = read_file(path);
    int rc = -1;

    if (sql == NULL) {
        log_error("migrate", "could not read migration \"%s\"", path);
        goto fail;
    }
    if (db_command(conn, "begin migration", "BEGIN", 0, NULL) < 0)
        goto fail;
    /* The simple query protocol runs the file's statements in one go. */
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        char *msg = pg_message(PQresultErrorMessage(res));
        log_error("migrate", "migration \"%s\" failed: %s", name, msg);
        free(msg);
        PQclear(res);
        (void)db_command(conn, "rollback migration", "ROLLBACK", 0, NULL);
        goto fail;
    }
    PQclear(res);
    const char *params[] = {name};
    if (db_command(conn, "record migration", "INSERT INTO schema_migrations (name) VALUES ($1)", 1,
                   params) < 0 ||
        db_command(conn, "commit migration", "COMMIT", 0, NULL) < 0) {
        (void)db_command(conn, "rollback migration", "ROLLBACK", 0, NULL);
        goto fail;
    }
    log_info("migrate", "applied migration name=%s", name);
    rc = 0;
fail:
    free(sql);
    free(path);
    return rc;
}

int
migrate_run(PGconn *conn, const char *dir)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t count = 0;
    int applied = 0;
    bool locked = false;
    struct dirent *de;

    if (d == NULL) {
        log_error("migrate", "could not open migrations directory \"%s\"", dir);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (!is_migration_name(de->d_name))
            continue;
        names = xrealloc(names, (count + 1) * sizeof(*names));
        names[count++] = xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof(*names), name_cmp);

    if (db_command(conn, "take migration lock", "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0,
                   NULL) < 0)
        goto fail;
    locked = true;
    if (db_command(conn, "create schema_migrations",
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " name text PRIMARY KEY,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   0, NULL) < 0)
        goto fail;
    for (size_t i = 0; i < count; i++) {
        const char *params[] = {names[i]};
        PGresult *res = db_exec(conn, "read schema_migrations",
                                "SELECT 1 FROM schema_migrations WHERE name = $1", 1, params);
        if (res == NULL)
            goto fail;
        bool done = PQntuples(res) > 0;
        PQclear(res);
        if (done)
            continue;
        if (apply_one(conn, dir, names[i]) < 0)
            goto fail;
        applied++;
    }
    goto out;
fail:
    applied = -1;
out:
    if (locked)
        (void)db_command(conn, "release migration lock",
                         "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", 0, NULL);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return applied;
}
